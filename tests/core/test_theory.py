"""The paper's convergence results, checked on a least-squares problem through the public optimizers.

f(w) = ||A w - b||^2 / (2m) with a minimiser w* that is off the grid. With a decaying learning rate:
* BC with stochastic rounding: E[Qs(w_r)] = w_r, so grad f(Qs(w_r)) is an unbiased gradient at w_r and the
  buffer converges to w* (Corollary 1);
* SR: iterates live on the grid, so they stall at an accuracy floor that grows with Delta (Theorems 1-2);
* BC with deterministic rounding converges to the minimiser only up to a Delta-sized floor too.
"""

import keras
import numpy as np
from keras import ops

import tfquant

D, M, STEPS = 16, 64, 400


def problem(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(M, D)).astype("float32")
    w_star = rng.uniform(-0.8, 0.8, size=D).astype("float32")
    return a, a @ w_star, w_star


def solve(make_optimizer, seed=0):
    """Runs STEPS full-gradient steps; returns the final error of the point the method converges with."""
    a, b, w_star = problem(seed)
    w = keras.Variable(np.zeros(D, "float32"), name="w")
    optimizer = make_optimizer(keras.optimizers.schedules.InverseTimeDecay(0.5, decay_steps=50, decay_rate=1.0))
    optimizer.build([w])
    tail = []
    for step in range(STEPS):
        current = np.asarray(ops.convert_to_numpy(w))  # the weights the model computes with
        gradient = a.T @ (a @ current - b) / M
        optimizer.apply([ops.convert_to_tensor(gradient)], [w])
        point = optimizer.full_precision(w) if optimizer.method == "bc" else w
        if step >= STEPS // 2:
            tail.append(np.asarray(ops.convert_to_numpy(point)))
    return float(np.linalg.norm(np.mean(tail, axis=0) - w_star))  # the averaged iterate of the theorems


def test_bc_with_stochastic_rounding_converges_and_sr_stalls_at_a_floor_growing_with_delta():
    floors = {}
    for delta in (0.1, 0.4):
        grid = tfquant.Uniform(delta)
        bc = solve(lambda lr: tfquant.BCSGD(lr, quantizer=grid, quantize="all", rounding="stochastic", seed=1))
        sr = solve(lambda lr: tfquant.SRSGD(lr, quantizer=grid, quantize="all", seed=1))
        r = solve(lambda lr: tfquant.RSGD(lr, quantizer=grid, quantize="all"))
        # measured (400 steps): delta 0.1: BC 0.011, SR 0.092, R 0.45; delta 0.4: BC 0.040, SR 0.32, R 1.33
        assert bc < 0.15 * delta, (delta, bc, sr, r)
        assert sr > 4 * bc and r > 4 * bc, (delta, bc, sr, r)
        floors[delta] = sr
    assert floors[0.4] > 2 * floors[0.1], floors

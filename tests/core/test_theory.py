"""The paper's convergence results, checked on a least-squares problem through the public optimizers.

f(w) = ||A w - b||^2 / (2m) with a minimiser w* that is off the grid. With a decaying learning rate:
* BC with stochastic rounding: E[Qs(w_r)] = w_r, so grad f(Qs(w_r)) is an unbiased gradient at w_r and the
  buffer converges to w* (Corollary 1);
* SR: iterates live on the grid, so they stall at an accuracy floor that grows with Delta (Theorems 1-2);
* BC with deterministic rounding converges to the minimiser only up to a Delta-sized floor too.
"""

import json
from pathlib import Path

import keras
import numpy as np
from keras import ops

import tfquant
from training import provenance, theory_convex, theory_markov, toy

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
        bc = solve(lambda lr, grid=grid: tfquant.BCSGD(lr, quantizer=grid, quantize="all", rounding="stochastic",
                                                       seed=1))
        sr = solve(lambda lr, grid=grid: tfquant.SRSGD(lr, quantizer=grid, quantize="all", seed=1))
        r = solve(lambda lr, grid=grid: tfquant.RSGD(lr, quantizer=grid, quantize="all"))
        # measured (400 steps): delta 0.1: BC 0.011, SR 0.092, R 0.45; delta 0.4: BC 0.040, SR 0.32, R 1.33
        assert bc < 0.15 * delta, (delta, bc, sr, r)
        assert sr > 4 * bc and r > 4 * bc, (delta, bc, sr, r)
        floors[delta] = sr
    assert floors[0.4] > 2 * floors[0.1], floors


# --- Theorems 5 and 6 on Fig. 2's toy problem, exactly (training/theory_markov.py) ----------------------------


FIGURES = Path(__file__).resolve().parents[2] / "docs" / "figures"


def _published(name):
    path = FIGURES / name
    assert path.exists(), f"{path} is missing: publish it with the command in docs/REPRODUCTION.md"
    return json.loads(path.read_text())


def test_sr_transition_matrix_is_stochastic_and_keeps_the_mean_move():
    t = theory_markov.transition_matrix(0.1)
    assert np.allclose(t.sum(1), 1, atol=1e-12) and (t >= 0).all()
    # stochastic rounding is unbiased: E[w'] = E[clip(v)], and v = w - alpha f'(w) stays inside for inner states
    inner = slice(5, -5)
    drift = t @ toy.GRID - toy.GRID
    expected = -0.1 * np.asarray(toy.grad_f(toy.GRID.astype("float32")), np.float64)
    assert np.allclose(drift[inner], expected[inner], atol=1e-6)


def test_exact_stationary_law_matches_tfquant_sr_within_statistical_tolerance():
    """pi_alpha from the exact chain against tfquant's SRSGD: 200 chains, after a burn-in of 10x the mixing time."""
    alpha = 0.1
    exact = theory_markov.summary(theory_markov.stationary(theory_markov.transition_matrix(alpha)))
    sim = toy.simulate("sr", alpha, steps=6000, chains=200, seed=3, burn_in=1000)
    for key, scale in (("chain_mean_loss", 1), ("chain_basin_share", 100)):
        values = scale * sim[key]
        mean, standard_error = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
        target = exact["mean_loss" if key == "chain_mean_loss" else "basin_pct"]
        assert abs(mean - target) < 4 * standard_error + 1e-9, (key, mean, target, standard_error)


def test_theorem5_sr_limit_is_spread_over_every_state_and_reached_as_alpha_shrinks():
    limit = theory_markov.stationary(theory_markov.generator(), generator_matrix=True)
    assert (limit > 0).all()  # pi~(x) > 0 for every state: not concentrated on the minimiser
    assert theory_markov.summary(limit)["basin_pct"] < 96
    tv = [theory_markov.total_variation(theory_markov.stationary(theory_markov.transition_matrix(a)), limit)
          for a in (1.0, 0.3, 0.1)]
    assert tv[0] > tv[1] > tv[2] and tv[2] < 0.1


def test_theorem6_mixing_time_grows_like_one_over_alpha():
    times, slope = theory_markov.mixing_slope((0.03, 0.01, 0.003), eps=0.25)
    assert times[0] < times[1] < times[2]
    assert 0.9 < slope < 1.1, (times, slope)


def test_published_markov_numbers_are_what_the_command_gives():
    published = _published("theory_markov.json")
    rerun = json.loads(json.dumps(theory_markov.compute()))
    # Every entry is a probability or a total-variation distance (scale 1) from a least-squares solve, whose
    # rounding differs by ~1e-15 between machines: entries near 1e-18 are compared to that absolute floor.
    provenance.assert_same_numbers(published, rerun, rtol=1e-6, atol=1e-12)


# --- Theorems 1-4 and Corollary 1: bounds with their constants beside the measured gap ------------------------


def test_bounds_hold_for_sr_and_stochastic_bc_and_corollary_1_fails_with_deterministic_rounding():
    res = json.loads(json.dumps(theory_convex.compute(*theory_convex.QUICK)))
    provenance.assert_same_numbers(_published("theory_convex_quick.json"), res, rtol=1e-4)
    rows = res["rows"]
    for r in rows:
        if r["method"] != "bc" or r["schedule"] == "sqrt":
            assert r["gap"] <= r["bound"], r  # Theorems 1-3 and Corollary 1 (stochastic rounding) hold
    last = [r for r in rows if r["method"] == "bc" and r["schedule"] == "strong"][-1]
    assert last["theorem"] == "Corollary 1" and last["gap"] > 1.5 * last["bound"], last

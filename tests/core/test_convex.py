"""Section 4 on a quadratic, quick mode: SR's floor grows with Delta, BC with stochastic rounding converges."""

from training import convex


def test_floors_of_sr_and_bc_and_corollary_1():
    problem = convex.Problem("quadratic")
    checkpoints = [250, 4000]
    gap = {m: convex.gaps(problem, m, 0.5, checkpoints, replicas=16) for m in convex.METHODS}
    # Corollary 1: BC with stochastic rounding converges on a quadratic, like full-precision SGD.
    assert gap["bc_stochastic"][1] < gap["bc_stochastic"][0] / 5
    assert gap["bc_stochastic"][1] < 3 * gap["sgd"][1] + 1e-3
    # SR, and BC with deterministic rounding, stop at a floor far above it.
    assert gap["sr"][1] > 20 * gap["bc_stochastic"][1]
    assert gap["bc"][1] > 5 * gap["bc_stochastic"][1]
    # Theorems 1-2: SR's floor grows with Delta.
    fine, coarse = (convex.gaps(problem, "sr", d, [4000], replicas=16)[0] for d in (0.125, 1.0))
    assert coarse > 4 * fine

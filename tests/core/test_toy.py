"""Fig. 2's toy problem in quick mode: as the learning rate shrinks BC's loss keeps falling, SR's stalls."""

from training import toy


def test_bc_exploits_small_learning_rates_and_sr_does_not():
    results = toy.experiment(steps=10_000, chains=50, alphas=(0.1, 0.01, 0.001))
    bc = {a: toy.summarize(c)["mean_loss"] for a, c in results["bc"].items()}
    sr = {a: toy.summarize(c)["mean_loss"] for a, c in results["sr"].items()}
    best = float(toy.f(toy.GRID).numpy().min())  # 0.2525 at w = 4.5 and 5.0
    assert bc[0.01] < bc[0.1] - 0.1  # BC improves as alpha shrinks ...
    assert bc[0.001] < best + 0.02  # ... down to the best point of the grid
    assert sr[0.001] > sr[0.01] - 0.05  # SR gains nothing from a 10x smaller alpha ...
    assert sr[0.001] > best + 0.15  # ... and stays far from the minimum
    assert toy.summarize(results["bc"][0.001])["basin_pct"] > 99

"""Fig. 2's toy problem, quick mode (``python -m training.toy --quick``): the published quick numbers are what
the command gives, and as the learning rate shrinks BC's loss keeps falling while SR's stalls."""

import json
from pathlib import Path

from training import provenance, toy

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "figures" / "fig2_toy_quick.json"


def test_bc_exploits_small_learning_rates_and_sr_does_not(tmp_path):
    data = json.loads(json.dumps(toy.main(["--quick", "--out", str(tmp_path)])))
    assert data["provenance"]["command"] == "python -m training.toy --quick --out " + str(tmp_path)
    assert PUBLISHED.exists(), "publish it: python -m training.toy --quick --publish"
    provenance.assert_same_numbers(json.loads(PUBLISHED.read_text()), data)
    bc = {float(a): r["mean_loss"] for a, r in data["results"]["bc"].items()}
    sr = {float(a): r["mean_loss"] for a, r in data["results"]["sr"].items()}
    best = float(toy.f(toy.GRID).numpy().min())  # 0.2525 at w = 4.5 and 5.0
    assert bc[0.01] < bc[0.1] - 0.1  # BC improves as alpha shrinks ...
    assert bc[0.001] < best + 0.02  # ... down to the best point of the grid
    assert sr[0.001] > sr[0.01] - 0.05  # SR gains nothing from a 10x smaller alpha ...
    assert sr[0.001] > best + 0.15  # ... and stays far from the minimum
    assert data["results"]["bc"]["0.001"]["basin_pct"] > 99

"""Section 4 on a quadratic, quick mode (``python -m training.convex --quick``): the published quick numbers are
what the command gives; SR's floor grows with Delta; BC with stochastic rounding converges (Corollary 1)."""

import json
from pathlib import Path

from training import convex, provenance

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "figures" / "convex_quick.json"


def test_floors_of_sr_and_bc_and_corollary_1(tmp_path):
    res = json.loads(json.dumps(convex.main(["--quick", "--out", str(tmp_path)])))
    assert PUBLISHED.exists(), "publish it: python -m training.convex --quick --publish"
    provenance.assert_same_numbers(json.loads(PUBLISHED.read_text()), res, rtol=1e-4)
    gap = res["vs_T"]["quadratic"]
    # Corollary 1: BC with stochastic rounding converges on a quadratic, like full-precision SGD.
    assert gap["bc_stochastic"][1] < gap["bc_stochastic"][0] / 5
    assert gap["bc_stochastic"][1] < 3 * gap["sgd"][1] + 1e-3
    # SR, and BC with deterministic rounding, stop at a floor far above it.
    assert gap["sr"][1] > 20 * gap["bc_stochastic"][1]
    assert gap["bc"][1] > 5 * gap["bc_stochastic"][1]
    # Theorems 1-2: SR's floor grows with Delta (Delta = 0.125 and 1).
    fine, coarse = res["vs_delta"]["quadratic"]["sr"]
    assert coarse > 4 * fine

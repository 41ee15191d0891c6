"""benchmarks/larq_comparison.py and larq_step_time.py: clear errors without the legacy venv; a quick run with it.

The default suite never needs `.venv-larq`; the end-to-end run is `slow` and skips without the venv
(create it with `bash benchmarks/larq_env.sh`).
"""
import math
import os
import subprocess
import sys

import pytest

from benchmarks import larq_comparison


def test_missing_venv_names_the_script_that_makes_it(tmp_path):
    with pytest.raises(SystemExit, match="benchmarks/larq_env.sh"):
        larq_comparison.run_larq(0.125, 8, 1, 1, python=tmp_path / "no-such-python")


def test_step_time_script_refuses_keras_3():
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    done = subprocess.run([sys.executable, "-m", larq_comparison.LARQ_MODULE], env=env, capture_output=True, text=True,
                          cwd=larq_comparison.ROOT)
    assert done.returncode != 0
    assert "TF_USE_LEGACY_KERAS=1" in done.stderr and "larq_env.sh" in done.stderr


@pytest.mark.slow
@pytest.mark.skipif(not larq_comparison.LARQ_PYTHON.exists(), reason="no .venv-larq: `bash benchmarks/larq_env.sh`")
def test_quick_comparison_runs_on_the_same_net():
    """One alternation, one step each, on a narrow VGG-9: the larq copy of the net has the Keras 3 model's
    parameter count (compare() exits otherwise) and every figure is a finite positive number."""
    summary, _, versions = larq_comparison.compare(width=0.125, batch=16, alternations=1, rounds=1, steps=1)
    assert versions["larq"] == "0.14.0" and int(versions["numpy"].split(".")[0]) < 2
    for jit in larq_comparison.JITS:
        row = summary[jit]
        assert all(math.isfinite(v) and v > 0 for v in row.values())
        assert row["BC-Adam / Adam"] == pytest.approx(row["tfquant BC-Adam (ms)"] / row["Keras 3 Adam (ms)"])

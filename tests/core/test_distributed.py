"""Data parallelism: every replica holds identical quantized weights (SR included, thanks to keyed noise),
equal to a single-device run with the same global batch. Each case runs tests/core/distributed_check.py in a
fresh process, because devices must be configured before the backend starts."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = [("tensorflow", "sr"), ("tensorflow", "bc"), ("tensorflow", "bc-stochastic"), ("jax", "sr"), ("jax", "bc")]


@pytest.mark.parametrize("backend,method", CASES, ids=[f"{b}-{m}" for b, m in CASES])
def test_replicas_agree_and_match_one_device(backend, method):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "tests.core.distributed_check", method], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    report = json.loads(lines[-1][len("RESULT "):])
    assert report["replicas"] == 2
    assert report["identical"], "replicas diverged"
    assert report["on_grid"]
    assert report["mismatch"] == 0.0, f"{report['mismatch']:.2%} of quantized weights differ from one device"
    assert report["max_diff"] < 1e-5

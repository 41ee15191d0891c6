"""The backend-neutral test modules, rerun on the other Keras backends in a fresh process each."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEUTRAL = [
    "tests/core/test_quantizers.py", "tests/core/test_counter_rng.py", "tests/core/test_optimizers.py",
    "tests/core/test_saving.py", "tests/core/test_kernels.py", "tests/core/test_summary.py",
    "tests/core/test_bad_arguments.py",
]
# Keras idioms x methods x paths (the TensorFlow-only cases skip themselves): minutes per backend, so slow.
CONFORMANCE = ["tests/core/test_conformance.py"]


def run_on(backend, modules):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install -e '.[{backend}]')")
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *modules],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    assert run.returncode == 0, run.stdout[-6000:]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_suite_passes_on_backend(backend):
    run_on(backend, NEUTRAL)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_conformance_passes_on_backend(backend):
    run_on(backend, CONFORMANCE)

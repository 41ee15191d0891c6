"""Training past one process, two local processes standing in for two hosts:

* JAX multi-process data parallelism (jax.distributed + gloo CPU collectives + keras.distribution.DataParallel,
  `fit` on a tf.data.Dataset): for SR and BC the two processes' replicas come out bit-identical, equal to a
  one-process run with the same global batch, and a run resumed from the file process 0 saved after epoch 1
  ends bit-identical to the uninterrupted run;
* TensorFlow MultiWorkerMirroredStrategy with a custom training loop (its `fit` fails upstream,
  keras-team/keras#20585): the two workers' weights come out bit-identical and on the grid.

Slow (each launch imports TensorFlow and JAX): in CI's slow run, not the default one."""

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "core" / "multiprocess_check.py"
MWMS_SCRIPT = ROOT / "tests" / "core" / "multiworker_check.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def run_together(commands, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)  # one CPU device per process
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for command in commands]
    for run in runs:
        output, _ = run.communicate(timeout=900)
        assert run.returncode == 0, output[-4000:]


def launch(processes, method, out, mode):
    port = str(free_port())
    run_together([[sys.executable, str(SCRIPT), str(i), str(processes), port, method, str(out), mode]
                  for i in range(processes)], "jax")
    return [dict(np.load(out / f"{mode}-{processes}p-{i}.npz")) for i in range(processes)]


@pytest.mark.parametrize("method", ["sr", "bc"])
def test_two_processes_agree_match_one_process_and_resume_exactly(method, tmp_path):
    first, second = launch(2, method, tmp_path, "train")
    (single,) = launch(1, method, tmp_path, "train")
    resumed = launch(2, method, tmp_path, "resume")[0]
    weights = [k for k in first if "/" in k and ":" not in k]
    quantized = [k for k in weights if bool(first.get("quantized:" + k, False))]
    assert len(quantized) == 2 and int(first["devices"]) == 2
    for key in weights:
        np.testing.assert_array_equal(second[key], first[key], err_msg=f"replicas differ: {key}")
        np.testing.assert_array_equal(resumed[key], first[key], err_msg=f"resume differs: {key}")
    for key in quantized:
        assert first["on_grid:" + key].all(), key
        np.testing.assert_array_equal(first[key], single[key], err_msg=f"2 processes vs 1: {key}")
    for key in set(weights) - set(quantized):
        np.testing.assert_allclose(first[key], single[key], rtol=0, atol=1e-5, err_msg=key)


def test_multiworker_mirrored_strategy_custom_loop(tmp_path):
    ports = f"{free_port()},{free_port()}"
    run_together([[sys.executable, str(MWMS_SCRIPT), str(i), ports, "sr", str(tmp_path)] for i in range(2)],
                 "tensorflow")
    first, second = (dict(np.load(tmp_path / f"mwms-{i}.npz")) for i in range(2))
    assert int(first["iterations"]) == 8
    for key in first:
        np.testing.assert_array_equal(second[key], first[key], err_msg=key)
    on_grid = [k for k in first if k.startswith("on_grid:")]
    assert len(on_grid) == 2 and all(first[k].all() for k in on_grid)

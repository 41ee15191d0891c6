"""The training CLI on a small Fashion-MNIST subset: outputs, quantized kernels, exact resume, clear errors."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import tfquant  # noqa: F401  (registers tfquant's classes for load_model)
from tfquant import data

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
SMALL = ["--model", "small_cnn", "--dataset", "fashion_mnist", "--train-subset", "1024", "--verbose", "0"]


def _train(args, out, **kwargs):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    cmd = [sys.executable, str(ROOT / "training" / "train.py"), *SMALL, *args, "--out", str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)


def test_one_sr_epoch_writes_model_history_and_plots(tmp_path):
    result = _train(["--method", "sr", "--epochs", "1", "--seed", "3"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("model.keras", "history.json", "errors.png", "weight_changes.png"):
        assert (tmp_path / name).is_file(), name
    (row,) = json.loads((tmp_path / "history.json").read_text())
    assert 0 <= row["test_error"] < 90 and 0 <= row["train_error"] <= 100  # learnt something in one epoch
    changed = {k: v for k, v in row.items() if k.startswith("changed_since_start/")}
    assert set(changed) == {f"changed_since_start/conv{i}.kernel" for i in range(1, 8)}
    assert any(v > 0 for v in changed.values())  # SR flips some binary weights ...
    assert all(v < 50 for v in changed.values())  # ... far from all of them
    model = keras.models.load_model(tmp_path / "model.keras")
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            assert set(np.unique(np.array(layer.kernel))) == {-1.0, 1.0}


def test_interrupted_bc_run_resumes_to_the_same_weights(tmp_path):
    args = ["--method", "bc", "--epochs", "2", "--seed", "1"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert _train(args, straight).returncode == 0
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "training.train", *SMALL, *args, "--out", str(broken)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = broken / "progress.json"
    while proc.poll() is None and not (progress.exists() and json.loads(progress.read_text())["history"]):
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    assert len(json.loads(progress.read_text())["history"]) == 1, "the run finished before it was killed"
    resumed = _train(args, broken)
    assert resumed.returncode == 0 and "resuming" in resumed.stdout
    a = keras.models.load_model(straight / "model.keras")
    b = keras.models.load_model(broken / "model.keras")
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.array(va), np.array(vb), err_msg=va.path)
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (straight, broken))
    assert ha == hb  # errors, flip percentages since the start and BC gaps included


def test_bad_arguments_are_reported_clearly(tmp_path, capsys):
    from training import train

    for argv, message in [
        (["--method", "sr", "--bits", "3"], "--bits needs --quantizer uniform"),
        (["--schedule", "soon"], "--schedule must be 'proportional', 'none' or comma-separated epochs"),
        (["--method", "sr", "--rounding", "stochastic"], "--rounding applies to --method bc only"),
        (["--method", "r", "--quantizer", "scaled_binary"], "scaled_binary works with --method bc only"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            train.parse_args(argv + ["--out", str(tmp_path)])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_proportional_schedule_scales_the_paper_drops():
    from training import train

    drops = {e: train.drop_epochs(train.parse_args(["--epochs", str(e), "--out", "x"])) for e in (160, 8, 2)}
    assert drops == {160: [82, 122], 8: [4, 6], 2: [1]}
    imagenet = train.parse_args(["--dataset", "imagenet", "--out", "x"])
    assert imagenet.epochs == 90 and train.drop_epochs(imagenet) == [30, 60]

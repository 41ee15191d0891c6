"""tfquant-train on a small Fashion-MNIST subset: outputs, quantized kernels, and exact resume after a kill at
any point of an epoch's commit (tfquant.cli.run_state)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tfquant import data
from tfquant.cli import run_state, train

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
SMALL = ["--model", "small_cnn", "--dataset", "fashion_mnist", "--train-subset", "1024", "--progress", "none"]
TINY = ["--model", "small_cnn", "--dataset", "fashion_mnist", "--train-subset", "256", "--progress", "none",
        "--method", "sr", "--epochs", "2", "--seed", "5", "--schedule", "1"]


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's tfquant, whatever is installed


def _train(args, out, **kwargs):
    cmd = [sys.executable, str(ROOT / "training" / "train.py"), *SMALL, *args, "--out", str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, **kwargs)


def test_one_sr_epoch_writes_model_history_and_plots(tmp_path):
    result = _train(["--method", "sr", "--epochs", "1", "--seed", "3"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "I0000" not in result.stderr and "cpu_feature_guard" not in result.stderr  # quiet by default
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


@pytest.mark.slow
def test_interrupted_bc_run_resumes_to_the_same_weights(tmp_path):
    """A real SIGKILL, at whatever instant the first epoch's progress appears (its checkpoint may or may not
    be written yet: both resume exactly)."""
    args = ["--method", "bc", "--epochs", "2", "--seed", "1"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert _train(args, straight).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "training.train", *SMALL, *args, "--out", str(broken)],
                            cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    progress = broken / "progress.json"
    while proc.poll() is None and not (progress.exists() and json.loads(progress.read_text())["history"]):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert len(json.loads(progress.read_text())["history"]) == 1, "the run finished before it was killed"
    resumed = _train(args, broken)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_same_run(straight, broken)


def _assert_same_run(a, b):
    ma, mb = (keras.models.load_model(d / "model.keras") for d in (a, b))
    for va, vb in zip(ma.weights, mb.weights):
        np.testing.assert_array_equal(np.array(va), np.array(vb), err_msg=va.path)
    for va, vb in zip(ma.optimizer.variables, mb.optimizer.variables):
        np.testing.assert_array_equal(np.array(va), np.array(vb), err_msg=va.path)
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (a, b))
    assert ha == hb  # errors, flip percentages since the start and BC gaps included


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (atomic writes make a kill inside a write the same as before it)."""


def _kill_at(monkeypatch, point):
    """Make the run die at commit `point` = (epoch, "before progress" | "between" | "after checkpoint")."""
    epoch, where = point
    real_commit = run_state.commit

    def commit(out, config, history, model):
        if len(history) == epoch and where == "before progress":
            raise Killed
        if len(history) == epoch and where == "between":
            run_state.write_text(out / run_state.PROGRESS,
                                 json.dumps({"config": config.to_dict(), "history": history}))
            raise Killed
        real_commit(out, config, history, model)
        if len(history) == epoch and where == "after checkpoint":
            raise Killed

    monkeypatch.setattr(run_state, "commit", commit)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    assert train.main([*TINY, "--out", str(out)]) == 0
    return out


def _killed_then_resumed(point, tmp_path, monkeypatch):
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _kill_at(patch, point)
        with pytest.raises(Killed):
            train.main([*TINY, "--out", str(out)])
    assert train.main([*TINY, "--out", str(out)]) == 0
    return out


def test_a_kill_between_progress_and_checkpoint_resumes_exactly(straight_run, tmp_path, monkeypatch):
    """The issue's case: progress says epoch 2 is done, the checkpoint is still epoch 1's."""
    out = _killed_then_resumed((2, "between"), tmp_path, monkeypatch)
    _assert_same_run(straight_run, out)


@pytest.mark.slow
@pytest.mark.parametrize("point", [(1, "before progress"), (1, "between"), (1, "after checkpoint"),
                                   (2, "before progress"), (2, "after checkpoint")])
def test_a_kill_at_every_commit_point_resumes_exactly(point, straight_run, tmp_path, monkeypatch):
    out = _killed_then_resumed(point, tmp_path, monkeypatch)
    _assert_same_run(straight_run, out)


def test_a_finished_run_is_not_trained_again(straight_run, capsys):
    before = (straight_run / "checkpoint.keras").read_bytes()
    assert train.main([*TINY, "--out", str(straight_run)]) == 0
    assert (straight_run / "checkpoint.keras").read_bytes() == before
    assert "final:" in capsys.readouterr().out


def test_proportional_schedule_scales_the_paper_drops():
    drops = {e: train.parse_args(["--epochs", str(e), "--out", "x"]).drop_epochs() for e in (160, 8, 2)}
    assert drops == {160: [82, 122], 8: [4, 6], 2: [1]}
    imagenet = train.parse_args(["--dataset", "imagenet", "--out", "x"])
    assert imagenet.epochs == 90 and imagenet.drop_epochs() == [30, 60]


def test_default_output_folder_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert train.parse_args(["--model", "small_cnn", "--dataset", "fashion_mnist", "--method", "sr"]).out == \
        Path("runs/train/small_cnn-fashion_mnist-sr")

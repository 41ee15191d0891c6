"""The recipe study's driver (training/recipe_study.py) on a tiny plan: 256 real training images, 1 epoch."""

import json

import keras
import numpy as np
import pytest

from tfquant import arrays
from training import recipe_study
from training.recipe_study import ARMS, Recipe

needs_data = pytest.mark.skipif(arrays.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
TINY = {"train_subset": 256, "test_images": 200, "epochs": 1}


def test_every_arm_has_its_own_run_name_and_an_adam_partner_at_its_schedule():
    names = [r.name() for r in ARMS.values()]
    assert len(set(names)) == len(names)
    cosine = ARMS["BC-ADAM cosine+warm-up"].partner()
    assert cosine.method == "adam" and cosine.schedule == "cosine" and cosine.epochs == 5
    assert ARMS["BC-ADAM 10 epochs"].partner() == Recipe("adam", epochs=10)
    plan = recipe_study.specs(["BC-ADAM (main job)", "BC-ADAM ScaledBinary"], seeds=[0, 1])
    # each seed: the shared ADAM partner once, then the two BC arms
    assert [(r.method, r.quantizer, r.seed) for r in plan] == [
        ("adam", "binary", 0), ("bc", "binary", 0), ("bc", "scaled_binary", 0),
        ("adam", "binary", 1), ("bc", "binary", 1), ("bc", "scaled_binary", 1)]


@needs_data
def test_a_tiny_plan_trains_reads_back_and_reports(tmp_path, capsys):
    root, out = tmp_path / "runs", tmp_path / "out"
    argv = ["run", "--arms", "BC-ADAM first conv float", "--root", str(root), "--out", str(out),
            "--train-subset", "256", "--test-images", "200", "--epochs", "1"]
    assert recipe_study.main(argv) == 0
    bc = Recipe(first_conv="float", **TINY)
    results = {r: json.loads((root / r.name() / "result.json").read_text()) for r in (bc, bc.partner())}
    assert all(0 <= r["test_error"] <= 100 and len(r["train_loss"]) == 1 for r in results.values())

    model = keras.models.load_model(root / bc.name() / "model.keras", compile=False)
    kernels = {v.path.split("/")[0]: np.asarray(v) for v in model.trainable_variables if v.path.endswith("kernel")}
    assert not np.isin(kernels["conv1"], [-1.0, 1.0]).all()  # the first conv trained in full precision
    assert all(np.isin(kernels[f"conv{i}"], [-1.0, 1.0]).all() for i in range(2, 7))  # the others binary

    stamp = (root / bc.name() / "result.json").stat().st_mtime_ns
    assert recipe_study.main(argv) == 0  # finished runs are read back, not retrained
    assert (root / bc.name() / "result.json").stat().st_mtime_ns == stamp
    table = json.loads((out / "recipe_study.json").read_text())
    row, = table["rows"]
    assert row["arm"] == "BC-ADAM first conv float" and row["seeds"] == 1
    assert row["error"] == pytest.approx(results[bc]["test_error"])
    assert row["gap"] == pytest.approx(results[bc]["test_error"] - results[bc.partner()]["test_error"])
    assert table["provenance"]["command"].startswith("python -m training.recipe_study run --arms")
    assert "| BC-ADAM first conv float | 1 |" in capsys.readouterr().out


def test_an_unknown_arm_is_refused_with_the_list_of_arms(tmp_path):
    with pytest.raises(SystemExit, match="unknown arm 'BC-ADAM magic'.*BC-ADAM ScaledBinary"):
        recipe_study.main(["report", "--arms", "BC-ADAM magic", "--root", str(tmp_path)])

"""TrainConfig, the training API: the command line and a caller build the same checked settings, and a resumed
run compares them (an older progress.json, written before --recipe and --no-clip existed, still resumes)."""

import dataclasses
import json
from pathlib import Path

import pytest

from tfquant import data
from tfquant.cli import run_state, train
from tfquant.cli.common import BadInput
from tfquant.cli.train_config import ADDED_SETTINGS, TrainConfig, saved_settings

needs_data = pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
SMALL = ["--model", "small_cnn", "--dataset", "fashion_mnist", "--progress", "none"]


def test_the_command_line_and_a_caller_build_the_same_config():
    parsed = train.parse_args([*SMALL, "--method", "sr", "--epochs", "8", "--lr", "0.001", "--out", "runs/x"])
    built = TrainConfig(model="small_cnn", dataset="fashion_mnist", method="sr", epochs=8, lr=0.001, out="runs/x",
                        progress="none")
    assert parsed == built and isinstance(parsed.out, Path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.epochs = 9


def test_defaults_that_depend_on_other_settings_are_filled_once():
    config = TrainConfig(model="small_cnn", dataset="imagenet", method="bc")
    assert (config.epochs, config.schedule, config.drop_epochs()) == (90, "proportional", [30, 60])
    assert config.out == Path("runs/train/small_cnn-imagenet-bc")
    recipe = TrainConfig(model="small_cnn", dataset="fashion_mnist", recipe="binary-adam", epochs=5)
    assert (recipe.schedule, recipe.drop_epochs(), recipe.label) == ("cosine", [], "BC-ADAM")
    assert dataclasses.replace(recipe, epochs=6).epochs == 6  # replace() checks and fills again


def test_to_dict_is_what_a_resumed_run_compares():
    config = TrainConfig(model="small_cnn", dataset="fashion_mnist", out="runs/x", progress="none", verbose=True)
    settings = config.to_dict()
    assert "progress" not in settings and "verbose" not in settings  # how the run shows itself, not what it is
    assert settings["out"] == "runs/x" and settings["recipe"] is None
    assert json.loads(json.dumps(settings)) == settings
    assert set(settings) == {f.name for f in dataclasses.fields(TrainConfig)} - {"progress", "verbose"}


@pytest.mark.parametrize("changes, says", [
    ({"model": "vgg99"}, "model='vgg99' is not one of"),
    ({"method": "sgd"}, "method='sgd' is not one of"),
    ({"recipe": "fast"}, "recipe='fast' is not one of"),
    ({"epochs": 0}, "epochs=0 must be > 0"),
    ({"lr": -1.0}, "lr=-1.0 must be > 0"),
    ({"bits": 1, "quantizer": "uniform"}, "at least 2 bits"),
    ({"schedule": "soon"}, "--schedule 'soon' is not"),
    ({"schedule": "6", "epochs": 5}, "every drop must come before the last epoch"),
    ({"width": 0.5}, "--width applies to vgg9 and vgg_bc only"),
    ({"recipe": "binary-adam", "method": "adam"}, "does not take --method adam"),
    ({"recipe": "binary-adam", "rounding": "stochastic"}, "does not take --rounding stochastic"),
    ({"recipe": "binary-adam", "schedule": "proportional"}, "does not take --schedule proportional"),
    ({"method": "sr", "full_precision_l2": 1e-5}, "--full-precision-l2 applies to --method bc only"),
    ({"full_precision_l2": -1e-5}, "full_precision_l2=-1e-05 must be >= 0"),
    ({"recipe": "binary-adam", "full_precision_l2": 1e-5}, "does not take --full-precision-l2 1e-05"),
])
def test_a_caller_gets_the_command_lines_checks(changes, says):
    with pytest.raises(BadInput, match=says.replace("(", r"\(").replace("[", r"\[")):
        TrainConfig(**{"model": "small_cnn", "dataset": "fashion_mnist", **changes})


def test_train_takes_a_config_not_a_namespace():
    with pytest.raises(TypeError, match="takes a TrainConfig"):
        train.train(train.build_parser().parse_args(SMALL))


def test_an_older_progress_file_reads_with_the_settings_it_meant():
    config = TrainConfig(model="small_cnn", dataset="fashion_mnist", out="runs/x")
    older = {k: v for k, v in config.to_dict().items() if k not in ADDED_SETTINGS}
    assert saved_settings(older) == config.to_dict()


def _write_progress(out, settings):
    out.mkdir(parents=True)
    (out / run_state.PROGRESS).write_text(json.dumps({"config": settings, "history": []}))


def test_resume_accepts_an_older_progress_file_and_names_a_changed_recipe(tmp_path):
    config = TrainConfig(model="small_cnn", dataset="fashion_mnist", epochs=2, out=tmp_path / "old")
    _write_progress(config.out, {k: v for k, v in config.to_dict().items() if k not in ADDED_SETTINGS})
    assert run_state.resume(config.out, config, steps_per_epoch=2, quantized=True) == (None, [])

    recipe = TrainConfig(model="small_cnn", dataset="fashion_mnist", epochs=2, recipe="binary-adam",
                         out=tmp_path / "new")
    _write_progress(recipe.out, dataclasses.replace(recipe, recipe=None, schedule="cosine").to_dict())
    with pytest.raises(BadInput, match=r"other settings \{'recipe': \(None, 'binary-adam'\)\}"):
        run_state.resume(recipe.out, recipe, steps_per_epoch=2, quantized=True)


def test_the_optimizer_follows_the_config():
    from tfquant.cli import training

    plain = training.make_optimizer(train.parse_args([*SMALL, "--epochs", "5", "--rounding", "stochastic"]), 10)
    no_clip = training.make_optimizer(train.parse_args([*SMALL, "--epochs", "5", "--no-clip"]), 10)
    assert (plain.clip_full_precision, plain.rounding, no_clip.clip_full_precision) == (True, "stochastic", False)
    decayed = training.make_optimizer(train.parse_args([*SMALL, "--epochs", "5", "--full-precision-l2", "1e-5"]), 10)
    assert (plain.full_precision_l2, decayed.full_precision_l2) == (0.0, 1e-5)
    cosine = training.make_optimizer(train.parse_args([*SMALL, "--method", "adam", "--schedule", "cosine",
                                                       "--epochs", "5"]), 10)
    assert [float(cosine._learning_rate(s)) for s in (0, 5, 50)] == pytest.approx([0.0, 0.01, 0.0], abs=1e-9)
    with pytest.raises(ValueError, match="pass the built model"):
        training.make_optimizer(train.parse_args([*SMALL, "--recipe", "binary-adam", "--epochs", "5"]), 10)


@needs_data
def test_the_binary_adam_recipe_from_the_command_line(tmp_path, capsys):
    import keras
    import numpy as np

    out = tmp_path / "run"
    argv = [*SMALL, "--recipe", "binary-adam", "--epochs", "2", "--train-subset", "256", "--out", str(out)]
    assert train.main(argv) == 0
    history = json.loads((out / "history.json").read_text())
    model = keras.models.load_model(out / "model.keras")
    kernels = {v.path.split("/")[0]: np.asarray(v) for v in model.trainable_variables if v.path.endswith("kernel")}
    assert not np.isin(kernels["conv1"], [-1.0, 1.0]).all()  # the first conv in full precision
    assert all(np.isin(kernels[f"conv{i}"], [-1.0, 1.0]).all() for i in range(2, 8))
    assert "changed_since_start/conv1.kernel" not in history[0] and "changed_since_start/conv2.kernel" in history[0]
    # cosine: 2 steps an epoch, 4 in all, 0 of warm-up (round(0.4)); after epoch 1, 2 of 4 decay steps done
    assert history[0]["lr"] == pytest.approx(0.01 * (1 + np.cos(np.pi * 2 / 4)) / 2)
    assert json.loads((out / "progress.json").read_text())["config"]["recipe"] == "binary-adam"
    assert "final:" in capsys.readouterr().out

"""tfquant-train refuses bad input before any work: exit 2, one ``error:`` line, no traceback, nothing written."""

import json

import pytest

from tests.apps.cli_checks import assert_refused
from tfquant import arrays, data
from tfquant.cli import train

SMALL = ["--model", "small_cnn", "--dataset", "fashion_mnist", "--progress", "none"]

# (arguments, words the error line must contain): refused by argparse or by the checks after it, before
# TensorFlow does anything.
BAD_ARGUMENTS = [
    (["--epochs", "0"], "must be > 0"),
    (["--epochs", "-3"], "must be > 0"),
    (["--epochs", "abc"], "not an integer"),
    (["--epochs", "1.5"], "not an integer"),
    (["--batch-size", "0"], "must be > 0"),
    (["--batch-size", "-1"], "must be > 0"),
    (["--train-subset", "0"], "must be > 0"),
    (["--train-subset", "-5"], "must be > 0"),
    (["--delta", "0"], "must be > 0"),
    (["--delta", "-1"], "must be > 0"),
    (["--delta", "nan"], "not a finite number"),
    (["--delta", "inf"], "not a finite number"),
    (["--width", "0"], "must be > 0"),
    (["--width", "-0.5"], "must be > 0"),
    (["--lr", "-1"], "must be > 0"),
    (["--lr", "0"], "must be > 0"),
    (["--lr", "nan"], "not a finite number"),
    (["--weight-decay", "-1"], "must be >= 0"),
    (["--seed", "-1"], "must be >= 0"),
    (["--window", "0"], "must be > 0"),
    (["--bits", "1"], "at least 2 bits"),
    (["--bits", "0"], "must be > 0"),
    (["--model", "nope"], "invalid choice"),
    (["--dataset", "mnist"], "invalid choice"),
    (["--method", "sgd"], "invalid choice"),
    (["--optimizer", "rmsprop"], "invalid choice"),
    (["--quantizer", "ternary"], "invalid choice"),
    (["--rounding", "up"], "invalid choice"),
    (["--schedule", "soon"], "'proportional', 'none', 'cosine' or comma-separated epochs"),
    (["--schedule", "0,5"], "positive and increasing"),
    (["--schedule", "5,3"], "positive and increasing"),
    (["--progress", "loud"], "invalid choice"),
    (["--frobnicate"], "unrecognized arguments"),
    (["extra"], "unrecognized arguments"),
    (["--width", "0.5", "--model", "resnet56"], "--width applies to vgg9 and vgg_bc only"),
    (["--method", "sr", "--quantizer", "scaled_binary"], "scaled_binary works with --method bc only"),
    (["--method", "r", "--quantizer", "scaled_binary"], "scaled_binary works with --method bc only"),
    (["--method", "sr", "--bits", "3"], "--bits needs --quantizer uniform"),
    (["--method", "sr", "--rounding", "stochastic"], "--rounding applies to --method bc only"),
    (["--method", "adam", "--quantizer", "uniform"], "--method adam trains in full precision"),
    (["--method", "adam", "--delta", "0.5"], "--method adam trains in full precision"),
    (["--dataset", "imagenet", "--train-subset", "100"], "--train-subset is not supported for imagenet"),
    (["--epochs", "8", "--schedule", "8"], "every drop must come before the last epoch"),
    (["--epochs", "4", "--schedule", "2,6"], "every drop must come before the last epoch"),
    (["--method", "sr", "--no-clip"], "--no-clip applies to --method bc only"),
    (["--recipe", "binary-adam", "--no-clip"], "does not take --no-clip"),
    (["--method", "r", "--full-precision-l2", "1e-5"], "--full-precision-l2 applies to --method bc only"),
    (["--full-precision-l2", "-1"], "--full-precision-l2"),
    (["--recipe", "fast"], "invalid choice"),
    (["--recipe", "binary-adam", "--method", "sr"], "--recipe binary-adam is BC-Adam"),
    (["--recipe", "binary-adam", "--optimizer", "sgd"], "does not take --optimizer sgd"),
    (["--recipe", "binary-adam", "--quantizer", "scaled_binary"], "does not take --quantizer scaled_binary"),
    (["--recipe", "binary-adam", "--schedule", "3,4", "--epochs", "5"], "does not take --schedule 3,4"),
]


@pytest.mark.parametrize("argv, says", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_argument_is_refused_before_any_work(argv, says, tmp_path, capsys):
    out = tmp_path / "run"
    assert_refused(train.main, [*argv, "--out", out], capsys, says=says)
    assert not out.exists()


def test_out_pointing_at_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("precious")
    assert_refused(train.main, [*SMALL, "--out", tmp_path / "file"], capsys, says="is a file, not a folder")
    assert (tmp_path / "file").read_text() == "precious"


def test_out_below_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("precious")
    assert_refused(train.main, [*SMALL, "--out", tmp_path / "file" / "run"], capsys, says="cannot create")


def test_a_dataset_that_cannot_be_had_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(arrays, "_keras_load", _unavailable)  # where tfquant.data reads CIFAR from
    assert_refused(train.main, ["--dataset", "cifar10", "--out", tmp_path / "run"], capsys, says="cifar10")


def _unavailable(name):
    raise data.DatasetUnavailable(f"{name} is not in Keras' cache and downloading it failed (no network)")


needs_data = pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
RUN = [*SMALL, "--method", "bc", "--epochs", "2", "--train-subset", "256"]


def _progress(out, history=(), **changes):
    config = train.parse_args([*RUN, "--out", str(out)]).to_dict()
    out.mkdir(parents=True, exist_ok=True)
    (out / "progress.json").write_text(json.dumps({"config": {**config, **changes}, "history": list(history)}))


@needs_data
@pytest.mark.parametrize("damage, says", [
    ("progress_not_json", "progress.json is damaged"),
    ("progress_a_list", "progress.json is damaged"),
    ("progress_empty", "progress.json is damaged"),
    ("checkpoint_without_progress", "holds checkpoint.keras but no progress.json"),
    ("other_settings", "holds a run with other settings"),
    ("checkpoint_garbage", "checkpoint.keras cannot be loaded"),
    ("checkpoint_truncated", "checkpoint.keras cannot be loaded"),
])
def test_damaged_run_state_is_refused(damage, says, tmp_path, capsys, trained_checkpoint):
    out = tmp_path / "run"
    if damage.startswith("progress_"):
        out.mkdir()
        (out / "progress.json").write_text({"progress_not_json": "{not json", "progress_a_list": "[1, 2]",
                                            "progress_empty": ""}[damage])
    elif damage == "checkpoint_without_progress":
        out.mkdir()
        (out / "checkpoint.keras").write_bytes(trained_checkpoint.read_bytes())
    elif damage == "other_settings":
        _progress(out, lr=0.5)
    else:
        _progress(out, [{"epoch": 1}])
        good = trained_checkpoint.read_bytes()
        (out / "checkpoint.keras").write_bytes(b"PK\x03\x04 not a zip" if damage == "checkpoint_garbage"
                                               else good[: len(good) // 2])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_refused(train.main, [*RUN, "--out", out], capsys, says=says)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # left as it was


@needs_data
@pytest.mark.parametrize("damage, says", [
    ("checkpoint_ahead_of_progress", "not one of the 0 epoch(s)"),
    ("start_weights_missing", "start_weights.npz (the weights the run started from) is missing"),
    ("start_weights_damaged", "start_weights.npz is damaged"),
])
def test_inconsistent_run_state_is_refused(damage, says, tmp_path, capsys, trained_checkpoint):
    out = tmp_path / "run"
    _progress(out, [] if damage == "checkpoint_ahead_of_progress" else [{"epoch": 1}])
    (out / "checkpoint.keras").write_bytes(trained_checkpoint.read_bytes())
    if damage != "start_weights_missing":
        start = trained_checkpoint.parent / "start_weights.npz"
        (out / "start_weights.npz").write_bytes(start.read_bytes()[:100] if damage == "start_weights_damaged"
                                                else start.read_bytes())
    assert_refused(train.main, [*RUN, "--out", out], capsys, says=says)


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """checkpoint.keras (and start_weights.npz) of one finished epoch of `RUN`."""
    if data.fashion_mnist_dir() is None:
        pytest.skip("Fashion-MNIST files not installed")
    out = tmp_path_factory.mktemp("trained") / "run"
    assert train.main([*RUN, "--epochs", "1", "--schedule", "none", "--out", str(out)]) == 0
    return out / "checkpoint.keras"


def test_the_parser_names_match_the_library():
    from tfquant import models

    assert set(train.MODELS) == set(models.MODELS)
    assert tuple(train.DATASETS) == tuple(data.DATASETS)


def test_every_option_has_help():
    for action in train.build_parser()._actions:
        assert action.help, action.option_strings


def test_help_answers(capsys):
    code = train.main(["--help"])
    assert code == 0 and "--train-subset" in capsys.readouterr().out

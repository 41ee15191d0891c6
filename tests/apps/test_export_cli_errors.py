"""tfquant-export refuses bad input with exit 2 (or 1 when verification fails), one ``error:`` line, no
traceback, and leaves every existing file as it was."""

import zipfile

import keras
import numpy as np
import pytest

from tests.apps.cli_checks import assert_refused
from tfquant.cli import export


def _model():
    return keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3, name="conv"),
                             keras.layers.Flatten(), keras.layers.Dense(2, name="dense")])


class Net(keras.Model):
    """A subclassed model whose class is the user's (not registered): tfquant-export cannot import it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A float Keras model, good calibration inputs and an assortment of bad files, in one folder."""
    d = tmp_path_factory.mktemp("export-errors")
    _model().save(d / "model.keras")
    x = np.random.default_rng(0).standard_normal((16, 6, 6, 1)).astype("float32")
    np.save(d / "calibration.npy", x)
    nan_model = _model()
    nan_model.get_layer("conv").kernel.assign(np.full((3, 3, 1, 3), np.nan, "float32"))
    nan_model.save(d / "nan.keras")
    (d / "empty.keras").write_bytes(b"")
    custom = Net()
    custom(np.zeros((1, 4), "float32"))
    custom.save(d / "custom.keras")
    (d / "garbage.keras").write_bytes(b"not a zip file at all")
    with zipfile.ZipFile(d / "other.keras", "w") as z:
        z.writestr("hello.txt", "a zip, but not a Keras model")
    (d / "folder.keras").mkdir()
    (d / "text.npy").write_text("1 2 3\n4 5 6\n")
    (d / "empty.npy").write_bytes(b"")
    np.save(d / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(d / "strings.npy", np.array(["cat", "dog"]))
    np.save(d / "wrong_shape.npy", x[:, :4, :4])
    np.save(d / "with_nan.npy", np.where(x > 1, np.nan, x))
    np.save(d / "constant.npy", np.zeros_like(x))
    np.save(d / "complex.npy", x.astype(np.complex64))
    (d / "existing.tflite").write_bytes(b"an older good model")
    return d


def _cases():
    """(arguments with {d} for the folder, words of the error line, exit status)."""
    return [
        ("{d}/missing.keras -o {d}/x.tflite", "no such file", 2),
        ("{d}/folder.keras -o {d}/x.tflite", "is not a file", 2),
        ("{d}/empty.keras -o {d}/x.tflite", "is empty", 2),
        ("{d}/garbage.keras -o {d}/x.tflite", "cannot load", 2),
        ("{d}/other.keras -o {d}/x.tflite", "cannot load", 2),
        ("{d}/calibration.npy -o {d}/x.tflite", "cannot load", 2),
        ("{d}/custom.keras -o {d}/x.tflite", "needs the custom class 'Net'", 2),  # was: "saved by model.save()"
        ("{d}/nan.keras -o {d}/x.tflite", "NaN", 2),
        ("{d}/model.keras -o {d}/no/such/folder/x.tflite", "does not exist", 2),
        ("{d}/model.keras -o {d}/folder.keras", "is a directory", 2),
        ("{d}/model.keras -o {d}/model.keras", "would destroy an input", 2),
        ("{d}/model.keras -o {d}/calibration.npy --calibration {d}/calibration.npy", "would destroy an input", 2),
        ("{d}/model.keras -o {d}/x.tflite --format nope", "invalid choice", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int2", "invalid choice", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8", "needs --calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int4", "needs --calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format packed-int8", "needs --calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/missing.npy", "no such file", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/empty.npy", "is empty", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/text.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/objects.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/strings.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/complex.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/wrong_shape.npy", "shape", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/with_nan.npy", "NaN", 2),
        ("{d}/model.keras -o {d}/x.tflite --format int8 --calibration {d}/constant.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --samples {d}/strings.npy", "calibration", 2),
        ("{d}/model.keras -o {d}/x.tflite --samples {d}/wrong_shape.npy", "shape", 2),
        ("{d}/model.keras -o {d}/x.tflite --samples {d}/missing.npy", "no such file", 2),
        ("{d}/model.keras -o {d}/calibration.npy --samples {d}/calibration.npy", "would destroy an input", 2),
        ("{d}/model.keras -o {d}/x.tflite --report {d}/no/such/r.json", "does not exist", 2),
        ("{d}/model.keras -o {d}/x.tflite --report {d}/folder.keras", "is a directory", 2),
        ("{d}/model.keras -o {d}/x.tflite --report {d}/x.tflite", "two outputs", 2),
        ("{d}/model.keras -o {d}/x.tflite --report {d}/model.keras", "would destroy an input", 2),
        ("{d}/model.keras -o {d}/x.tflite --c-array {d}/x.c", "give a .cc file name", 2),
        ("{d}/model.keras -o {d}/x.tflite --c-array {d}/no/such/x.cc", "does not exist", 2),
        ("{d}/model.keras -o {d}/x.h --c-array {d}/x.cc", "two outputs", 2),
        ("{d}/model.keras -o {d}/x.tflite --strict", "strict", 2),
        ("{d}/model.keras -o {d}/x.tflite --frobnicate", "unrecognized arguments", 2),
        ("-o {d}/x.tflite", "the following arguments are required: model", 2),
        ("{d}/model.keras {d}/second.keras -o {d}/x.tflite", "unrecognized arguments", 2),
    ]


CASES = _cases()


@pytest.mark.parametrize("argv, says, status", CASES, ids=[c[0].replace("{d}/", "") for c in CASES])
def test_bad_request_is_refused_and_nothing_is_written(argv, says, status, files, capsys):
    before = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    assert_refused(export.main, argv.format(d=files).split(), capsys, status=status, says=says)
    after = {p.name: p.read_bytes() for p in files.iterdir() if p.is_file()}
    assert after == before  # no new file, no changed file
    assert not list(files.glob(".tfquant-staging-*"))


def test_the_formats_match_the_library():
    import tfquant.tflite as tflite

    assert tuple(export.FORMATS) == tuple(tflite.FORMATS)
    assert set(export.INT8_FORMATS) == set(tflite.INT8_FORMATS)


def test_every_option_has_help():
    for action in export.build_parser()._actions:
        assert action.help, action.option_strings


NORMALIZATION_CASES = [
    ("--mean 0.5", "--mean and --std go together"),
    ("--std 0.5", "--mean and --std go together"),
    ("--mean 0.5 --std 0", "must be > 0"),
    ("--mean nan --std 0.3", "not a finite number"),
    ("--no-normalization --mean 0.1 --std 0.3", "contradicts"),
]


@pytest.mark.parametrize("options, says", NORMALIZATION_CASES, ids=[c[0] for c in NORMALIZATION_CASES])
def test_bad_normalization_is_refused(options, says, files, capsys):
    argv = [str(files / "model.keras"), "-o", str(files / "x.tflite"), *options.split()]
    assert_refused(export.main, argv, capsys, says=says)
    assert not (files / "x.tflite").exists()

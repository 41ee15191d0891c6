"""The report tfquant-export writes as JSON keeps its keys and values: a real export of a fixed model is
compared with `data/export_report.json`, the JSON the dict-built report wrote for the same export (before
the report became a typed record; regenerate it with `export_report(folder)` below when a figure is meant to
move). File paths are compared by name, floats to 1e-6 relative, and the grid detector's wording
(`keras_kernel`, `reason`: the kernels room's) by type only."""
import json
import math
from pathlib import Path

import keras
import numpy as np
import pytest

from tfquant.cli import export as to_tflite

EXPECTED = Path(__file__).parent / "data" / "export_report.json"


def fixed_model():
    """conv (±s per channel) -> batch norm -> relu -> conv (±s) -> pool -> dense (full precision): two
    packed filters and one kept, the same weights on every run."""
    keras.backend.clear_session()  # the auto-generated layer names (re_lu, ...) of a fresh process, as in the fixture
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((9, 9, 1)),
        keras.layers.Conv2D(6, 3, use_bias=False, name="conv1"),
        keras.layers.BatchNormalization(name="bn1"),
        keras.layers.ReLU(),
        keras.layers.Conv2D(5, 3, strides=2, name="conv2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, name="dense"),
    ])
    rng = np.random.default_rng(0)
    for layer in (model.get_layer("conv1"), model.get_layer("conv2")):
        shape = tuple(layer.kernel.shape)
        layer.kernel.assign(np.where(rng.standard_normal(shape) < 0, -1.0, 1.0) * rng.uniform(0.5, 1.5, shape[-1]))
    bn = model.get_layer("bn1")
    bn.set_weights([rng.uniform(0.5, 1.5, 6), rng.normal(0, 0.1, 6), rng.normal(0, 0.1, 6), rng.uniform(0.5, 1.5, 6)])
    return model


def export_report(folder):
    """Export `fixed_model` with tfquant-export (packed-int8, C array, TFLM arena) and read back its JSON."""
    folder = Path(folder)
    fixed_model().save(folder / "model.keras")
    np.save(folder / "calibration.npy", np.random.default_rng(1).standard_normal((32, 9, 9, 1)).astype(np.float32))
    code = to_tflite.main([str(folder / "model.keras"), "-o", str(folder / "model.tflite"), "--format", "packed-int8",
                           "--calibration", str(folder / "calibration.npy"), "--c-array", str(folder / "model.cc"),
                           "--tflm-arena", "--report", str(folder / "report.json")])
    assert code == 0
    return json.loads((folder / "report.json").read_text())


WORDING = ("keras_kernel", "reason")


def _same(actual, expected, where="report"):
    """Assert `actual` equals `expected` key for key (paths by file name, floats to 1e-6 relative)."""
    assert type(actual) is type(expected), (where, actual, expected)
    if where.endswith(WORDING):
        return
    if isinstance(expected, dict):
        assert list(actual) == list(expected), where
        for key in expected:
            _same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            _same(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-12), (where, actual, expected)
    elif isinstance(expected, str) and "/" in expected:
        assert Path(actual).name == Path(expected).name, (where, actual, expected)
    else:
        assert actual == expected, (where, actual, expected)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_report_json_keeps_its_keys_and_values(tmp_path):
    _same(export_report(tmp_path), json.loads(EXPECTED.read_text()))

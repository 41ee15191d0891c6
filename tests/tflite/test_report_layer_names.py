"""The export report names each filter by the Keras layer it comes from, once, also on a model saved and loaded
in a new process, where the converter's name scopes no longer match the layer names (issue 18)."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

import tfquant.tflite as tflite
from tfquant.tflite import layer_names

ROOT = Path(__file__).resolve().parents[2]
EXPORT_IN_A_NEW_PROCESS = """
import json, sys, keras, tfquant, tfquant.tflite
model = keras.models.load_model(sys.argv[1], compile=False)
calibration = tfquant.tflite.load_calibration(sys.argv[3])
report = tfquant.tflite.export(model, None, format=sys.argv[2], calibration=calibration)
print(json.dumps({"layers": [l.layer for l in report.layers], "not_packed": report.not_packed}))
"""


def readme_network(seed=0):
    """The README's network (no Input, default layer names), built, with ±1 conv kernels."""
    model = keras.Sequential([
        keras.layers.Conv2D(32, 3, use_bias=False), keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, use_bias=False), keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.build((None, 28, 28, 1))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layer.kernel.assign(np.where(rng.standard_normal(layer.kernel.shape) < 0, -1.0, 1.0))
    return model


def test_a_loaded_readme_network_names_every_layer_once(tmp_path):
    model = readme_network()
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "calibration.npy", np.random.default_rng(1).standard_normal((16, 28, 28, 1)).astype("f4"))
    convs = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    dense = model.layers[-1].name  # auto-generated: "dense" in a fresh session, "dense_7" after other tests
    for fmt in ("packed", "int8"):
        done = subprocess.run([sys.executable, "-c", EXPORT_IN_A_NEW_PROCESS, str(tmp_path / "model.keras"), fmt,
                               str(tmp_path / "calibration.npy")], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        names = json.loads(done.stdout.strip().splitlines()[-1])
        assert names["layers"] == [*convs, dense], (fmt, names)
        assert names["not_packed"] == ([dense] if fmt == "packed" else [*convs, dense]), (fmt, names)


def test_filters_of_one_shape_are_told_apart_by_their_weights():
    """Four convs of one shape, their names in an order unrelated to the graph's: each filter finds its own."""
    inputs = keras.Input((8, 8, 4))
    x = inputs
    for name in ("d", "b", "a", "c"):
        x = keras.layers.Conv2D(4, 3, padding="same", name=name)(x)
        x = keras.layers.BatchNormalization(name=f"bn_{name}")(x)  # folded: scales each channel, some negatively
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(-1.5, 1.5, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4),
                               rng.uniform(0.5, 1.5, 4)])
    calibration = rng.standard_normal((16, 8, 8, 4)).astype(np.float32)
    for fmt in ("float32", "int8"):
        report = tflite.export(model, None, format=fmt, calibration=calibration)
        assert [layer.layer for layer in report.layers] == ["d", "b", "a", "c"], fmt


def test_the_score_is_one_for_a_folded_kernel_and_low_for_another():
    rng = np.random.default_rng(3)
    kernel = rng.standard_normal((16, 27))
    folded = kernel * rng.uniform(-2, 2, (16, 1))
    assert abs(layer_names.score(folded, kernel) - 1) < 1e-12
    assert layer_names.score(rng.standard_normal((16, 27)), kernel) < 0.5

"""Export that cannot be fooled: calibration checks, held-out verification, every conv-like op in the
report (Conv3D under --strict), and a warning when a packing format packed nothing."""
import warnings

import keras
import numpy as np
import pytest

import tfquant.tflite as tflite
from benchmarks.export_models import binarize
from tests.conftest import small_cnn
from tfquant.tflite import calibration

SHAPE = (10, 10, 1)
rng = np.random.default_rng(0)


@pytest.mark.parametrize("bad, message", [
    (None, "need calibration inputs"),
    (np.array([["a"] * 100]).reshape(1, 10, 10, 1).repeat(3, 0), "strings"),
    (np.array([object()] * 300, dtype=object).reshape(3, 10, 10, 1), "Python objects"),
    (np.ones((3, 10, 10, 1), bool), "booleans"),
    (np.ones((3, 10, 10, 1), complex), "complex"),
    (rng.random((3, 10, 10, 3)), r"expected \(N, 10, 10, 1\)"),
    (rng.random((3, 100)), r"expected \(N, 10, 10, 1\)"),
    (rng.random((0, 10, 10, 1)), "N >= 1"),
    (rng.random((10, 10, 1)), "without its batch axis"),
    (np.zeros((8, 10, 10, 1)), "zero variance"),
    (np.full((8, 10, 10, 1), 0.3), "zero variance"),
    (rng.random((1, 10, 10, 1)), "a single sample"),
    (np.where(np.arange(400).reshape(4, 10, 10, 1) == 7, np.nan, 1.0), "NaN or infinity"),
    (np.where(np.arange(400).reshape(4, 10, 10, 1) == 7, np.inf, 1.0), "NaN or infinity"),
    ([[1, 2], [3]], "not one array"),
])
def test_bad_calibrations_are_refused(bad, message):
    with pytest.raises(tflite.ExportError, match=message):
        calibration.validate(bad, SHAPE)


def test_good_calibration_is_float32():
    out = calibration.validate(rng.integers(0, 255, (5, 10, 10, 1)), SHAPE)
    assert out.dtype == np.float32 and out.shape == (5, 10, 10, 1)


def test_load_refuses_pickles_text_and_unnamed_npz(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object))
    (tmp_path / "text.npy").write_text("1, 2, 3\n")
    np.savez(tmp_path / "two.npz", a=np.ones(3), b=np.ones(3))
    np.savez(tmp_path / "x.npz", x=np.ones((2, 3)), y=np.ones(2))
    for name, message in (("objects.npy", "Python objects"), ("text.npy", "not a NumPy .npy"),
                          ("two.npz", "name the inputs")):
        with pytest.raises(tflite.ExportError, match=message):
            calibration.load(tmp_path / name)
    assert calibration.load(tmp_path / "x.npz").shape == (2, 3)


def test_held_out_inputs_match_the_calibration_feature_by_feature():
    samples = rng.normal(loc=np.linspace(-3, 3, 100).reshape(10, 10, 1), scale=0.5, size=(4000, 10, 10, 1))
    drawn = calibration.held_out(samples, count=4000)
    np.testing.assert_allclose(drawn.mean(axis=0), samples.mean(axis=0), atol=0.1)
    np.testing.assert_allclose(drawn.std(axis=0), samples.std(axis=0), atol=0.05)
    assert not np.any(np.all(drawn[:, None] == samples[None, :64], axis=(2, 3, 4)))  # new inputs


def test_all_zero_calibration_cannot_pass_export():
    model = binarize(small_cnn(SHAPE), seed=1)
    with pytest.raises(tflite.ExportError, match="zero variance"):
        tflite.export(model, None, format="int8", calibration=np.zeros((32,) + SHAPE, np.float32))


def test_int8_export_is_verified_on_held_out_inputs_too():
    model = binarize(small_cnn(SHAPE), seed=1)
    report = tflite.export(model, None, format="packed-int8", calibration=rng.standard_normal((64,) + SHAPE))
    held_out = report["verification_sets"]["held_out"]
    assert held_out["samples"] == calibration.HELD_OUT_SAMPLES and held_out["decisive_agreement"] >= 0.9


def conv3d_net():
    """Conv3D and Conv3DTranspose with binary kernels, and a float dense head."""
    inputs = keras.Input((6, 6, 6, 2))
    x = keras.layers.Conv3D(4, 3, name="conv3d")(inputs)
    x = keras.layers.Conv3DTranspose(3, 2, name="conv3d_transpose")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))
    generator = np.random.default_rng(2)
    for layer in (model.get_layer("conv3d"), model.get_layer("conv3d_transpose")):
        layer.kernel.assign(np.where(generator.standard_normal(layer.kernel.shape) < 0, -0.3, 0.3).astype("float32"))
    return model


def test_conv3d_binary_kernels_are_reported_and_packed_under_strict():
    report = tflite.export(conv3d_net(), None, format="packed", strict=True)
    ops = {layer["op"]: layer for layer in report["layers"]}
    assert set(ops) == {"CONV_3D", "CONV_3D_TRANSPOSE", "FULLY_CONNECTED"}
    assert ops["CONV_3D"]["packed"] and ops["CONV_3D"]["stored_as"] == "1-bit"
    assert ops["CONV_3D_TRANSPOSE"]["packed"]
    assert not ops["FULLY_CONNECTED"]["packed"] and ops["FULLY_CONNECTED"]["reason"]


def test_strict_refuses_a_conv3d_kernel_it_cannot_pack():
    model = conv3d_net()
    kernel = model.get_layer("conv3d").kernel
    kernel.assign(np.asarray(kernel) * np.random.default_rng(3).uniform(0.5, 1.5, kernel.shape).astype("float32"))
    with pytest.raises(tflite.ExportError, match=r"strict: 1 conv filter.*CONV_3D .*not ±s per channel"):
        tflite.export(model, None, format="packed", strict=True)


def test_packing_nothing_warns():
    model = small_cnn(SHAPE)  # random float kernels: nothing binary
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = tflite.export(model, None, format="packed")
    assert any(issubclass(w.category, tflite.ExportWarning) and "packed nothing" in str(w.message) for w in caught)
    assert report["warnings"] and "packed nothing" in report["warnings"][0]

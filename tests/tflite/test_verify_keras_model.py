"""Verification when the Keras model itself is the problem: outputs that are NaN or infinite (nothing to
compare with), and a model that amplifies rounding so much that no file can match it (found on Keras
Applications briefly trained with BC-Adam: tests/tflite/test_keras_applications.py)."""
import keras
import numpy as np
import pytest

from tfquant import tflite
from tfquant.tflite import convert
from tfquant.tflite.verify import FLOAT_RTOL, keras_sensitivity, verify


def _dense(units, kernel, activation=None):
    layer = keras.layers.Dense(units, activation=activation)
    layer.build((None, kernel.shape[0]))
    layer.set_weights([kernel.astype(np.float32), np.zeros(units, np.float32)])
    return layer


def test_keras_outputs_that_are_nan_are_refused_not_compared():
    """A softmax over logits that overflow float32 is NaN in Keras. Comparing a finite file with it gave NaN
    figures, and every limit check (NaN > limit is False) passed: DenseNet121 after 4 BC-Adam steps
    'verified' with relative_error NaN and argmax agreement 0."""
    overflowing = keras.Sequential([keras.Input((4,)), _dense(3, np.full((4, 3), 1e38), "softmax")])
    finite = keras.Sequential([keras.Input((4,)), _dense(3, np.eye(4, 3), "softmax")])
    inputs = np.abs(np.random.default_rng(0).standard_normal((8, 4))).astype(np.float32) + 1
    assert not np.isfinite(np.asarray(overflowing(inputs))).all()
    refused = "Keras model's own outputs are NaN or infinite on 8 of 8"
    with pytest.raises(tflite.VerificationError, match=refused) as caught:
        verify(overflowing, convert.to_tflite(finite), inputs, int8=False)
    assert caught.value.figures["keras_finite"] is False
    with pytest.raises(tflite.VerificationError, match="settle_batch_norms"):
        tflite.export(overflowing, None, format="float32", samples=inputs)


def _chaotic(depth=12, width=64, gain=40.0, seed=0):
    """x -> sin(W x) with ||W|| large, `depth` times: each layer multiplies its input's errors by ~gain."""
    rng = np.random.default_rng(seed)
    layers = [keras.Input((width,))]
    for _ in range(depth):
        layers += [_dense(width, rng.standard_normal((width, width)) * gain / np.sqrt(width)),
                   keras.layers.Activation(keras.ops.sin)]
    return keras.Sequential(layers + [_dense(4, rng.standard_normal((width, 4)))])


def test_a_model_that_amplifies_rounding_is_named_as_the_cause():
    """The converter computes the same function; the model turns float32 summation-order differences into
    large ones. The error says so (with the figure) instead of blaming the converter."""
    model = _chaotic()
    inputs = np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32)
    assert keras_sensitivity(model, inputs) > FLOAT_RTOL
    with pytest.raises(tflite.VerificationError, match="Keras model itself amplifies rounding") as caught:
        tflite.export(model, None, format="float32", samples=inputs)
    assert caught.value.figures["keras_sensitivity"] > FLOAT_RTOL
    assert "converter rewrites" not in str(caught.value)


def test_a_healthy_model_moves_by_about_the_nudge():
    model = _chaotic(depth=2, gain=1.0)
    inputs = np.random.default_rng(1).standard_normal((16, 64)).astype(np.float32)
    assert keras_sensitivity(model, inputs) < 1e-5


def test_an_int8_refusal_says_when_the_packed_file_is_not_the_cause():
    """A packed-int8 file that equals the model's plain int8 file (max_diff_vs_unpacked 0) and still misses
    the limit is the int8 file's doing, not the 1-bit filters': the hint says so (measured on Keras's
    MobileNetV2, where plain Adam's int8 file missed it too: benchmarks/application_int8.py). Here the int8
    file of another net stands in for an int8 file that does not compute what the model does."""
    rng = np.random.default_rng(0)
    model, other = (keras.Sequential([keras.Input((8,)), _dense(4, rng.standard_normal((8, 4)))]) for _ in "ab")
    inputs = rng.standard_normal((64, 8)).astype(np.float32)
    int8_file = convert.to_tflite(other, int8=True, calibration=inputs)
    not_the_cause = "so the 1-bit filters are not the cause"
    with pytest.raises(tflite.VerificationError, match=not_the_cause) as caught:
        verify(model, int8_file, inputs, int8=True, unpacked=int8_file)
    assert caught.value.figures["max_diff_vs_unpacked"] == 0.0
    with pytest.raises(tflite.VerificationError, match="from the calibration") as caught:
        verify(model, int8_file, inputs, int8=True)
    assert not_the_cause not in str(caught.value)

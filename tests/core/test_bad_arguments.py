"""Bad arguments to the library's constructors and calls: each is refused at once with a one-line
ValueError that names the argument and says what to pass instead (issue 9: no raw traceback, no silently
wrong model)."""

import math

import keras
import numpy as np
import pytest

import tfquant
from tfquant import initializers, kernels, quantizers
from tfquant.callbacks import QuantizationMonitor

FIX_WORDS = ("must", "use", "pass", "call", "build", "exclude", "leave", "delete", "wrap", "is not", "needs")


def conv_variable(dtype="float32"):
    # PyTorch refuses trainable integer tensors (they cannot require gradients): an integer one is not trainable.
    return keras.Variable(np.zeros((1, 1, 1, 2), dtype), name="kernel", trainable=dtype.startswith("float"))


def build_with(optimizer, *variables):
    optimizer.build(list(variables))


CASES = {
    # grids
    "binary-delta-zero": (lambda: tfquant.Binary(0), "delta"),
    "binary-delta-negative": (lambda: tfquant.Binary(-1.0), "delta"),
    "binary-delta-inf": (lambda: tfquant.Binary(math.inf), "delta"),
    "binary-delta-nan": (lambda: tfquant.Binary(math.nan), "delta"),
    "binary-delta-bool": (lambda: tfquant.Binary(True), "delta"),
    "binary-delta-string": (lambda: tfquant.Binary("1"), "delta"),
    "uniform-delta-string": (lambda: tfquant.Uniform("0.1"), "delta"),
    "uniform-delta-inf": (lambda: tfquant.Uniform(math.inf, bits=3), "delta"),
    "uniform-bits-1": (lambda: tfquant.Uniform(0.1, bits=1), "bits"),
    "uniform-bits-0": (lambda: tfquant.Uniform(0.1, bits=0), "bits"),
    "uniform-bits-float": (lambda: tfquant.Uniform(0.1, bits=2.5), "bits"),
    "uniform-bits-2000": (lambda: tfquant.Uniform(0.1, bits=2000), "bits"),
    "uniform-bits-bool": (lambda: tfquant.Uniform(0.1, bits=True), "bits"),
    "uniform-bits-string": (lambda: tfquant.Uniform(0.1, bits="3"), "bits"),
    "scaled-binary-axes-string": (lambda: tfquant.ScaledBinary("last"), "channel_axes"),
    "scaled-binary-axes-empty": (lambda: tfquant.ScaledBinary(()), "channel_axes"),
    # an axis past the kernel's rank was taken modulo it (5 -> 1 on a 4-D kernel): a scale per window column
    "scaled-binary-axis-past-the-rank": (
        lambda: tfquant.ScaledBinary(channel_axes=(5,))(np.ones((3, 3, 2, 4), "float32")), "channel axes"),
    "scaled-binary-axis-past-the-rank-by-dict": (
        lambda: build_with(tfquant.BCAdam(quantize={"kernel": tfquant.ScaledBinary(channel_axes=(4,))}),
                           conv_variable()), "channel axes"),
    "quantizer-by-unknown-name": (lambda: quantizers.get("ternary"), "quantizer"),
    "quantizer-by-number": (lambda: quantizers.get(3), "quantizer"),
    # optimizers
    "quantized-unknown-method": (lambda: tfquant.quantized(keras.optimizers.Adam, "xnor"), "method"),
    "quantized-not-a-class": (lambda: tfquant.quantized("Adam", "bc"), "optimizer class"),
    "quantized-twice": (lambda: tfquant.quantized(tfquant.BCAdam, "sr"), "already quantizes"),
    "quantized-loss-scale": (lambda: tfquant.quantized(keras.optimizers.LossScaleOptimizer, "bc"), "LossScale"),
    "sr-deterministic-rounding": (lambda: tfquant.SRAdam(rounding="deterministic"), "rounding"),
    "r-stochastic-rounding": (lambda: tfquant.RAdam(rounding="stochastic"), "rounding"),
    "bc-unknown-rounding": (lambda: tfquant.BCAdam(rounding="nearest"), "rounding"),
    "learning-rate-negative": (lambda: tfquant.BCAdam(learning_rate=-1e-3), "learning_rate"),
    "learning-rate-nan": (lambda: tfquant.SRSGD(math.nan), "learning_rate"),
    "learning-rate-inf": (
        lambda: tfquant.quantized(keras.optimizers.Lion, "r")(learning_rate=math.inf), "learning_rate"),
    "seed-string": (lambda: tfquant.BCAdam(seed="7"), "seed"),
    "seed-float": (lambda: tfquant.SRAdam(seed=1.5), "seed"),
    "seed-bool": (lambda: tfquant.SRAdam(seed=True), "seed"),
    "scaled-binary-with-sr": (lambda: tfquant.SRAdam(quantizer=tfquant.ScaledBinary()), "ScaledBinary"),
    "scaled-binary-with-r": (lambda: tfquant.RSGD(quantizer=tfquant.ScaledBinary()), "ScaledBinary"),
    "quantize-unknown-rule": (lambda: tfquant.BCAdam(quantize="convs"), "quantize"),
    "quantize-number": (lambda: tfquant.BCAdam(quantize=3), "quantize"),
    "quantize-dict-bad-key": (lambda: tfquant.BCAdam(quantize={3: tfquant.Binary()}), "quantize"),
    "quantize-dict-bad-quantizer": (lambda: tfquant.BCAdam(quantize={"conv1/kernel": "ternary"}), "quantizer"),
    "quantizer-unknown": (lambda: tfquant.BCAdam(quantizer="ternary"), "quantizer"),
    "clip-full-precision-on-sr": (lambda: tfquant.SRAdam(clip_full_precision=False), "clip_full_precision"),
    "clip-full-precision-string": (lambda: tfquant.BCAdam(clip_full_precision="no"), "clip_full_precision"),
    "l2-on-r": (lambda: tfquant.RAdam(full_precision_l2=1e-4), "full_precision_l2"),
    "l2-negative": (lambda: tfquant.BCAdam(full_precision_l2=-1.0), "full_precision_l2"),
    "l2-inf": (lambda: tfquant.BCAdam(full_precision_l2=math.inf), "full_precision_l2"),
    "integer-variable-by-dict": (
        lambda: build_with(tfquant.BCAdam(quantize={"kernel": tfquant.Binary()}), conv_variable("int32")),
        "floating-point"),
    "integer-variable-by-callable": (
        lambda: build_with(tfquant.BCAdam(quantize=lambda v: True), conv_variable("int32")), "floating-point"),
    "ema-overwrite-with-a-quantized-variable": (
        lambda: build_with(tfquant.BCAdam(use_ema=True, ema_overwrite_frequency=2), conv_variable()),
        "ema_overwrite_frequency"),
    "full-precision-before-build": (lambda: tfquant.BCAdam().full_precision(conv_variable()), "not built"),
    "full-precision-on-sr": (lambda: tfquant.SRAdam(seed=0).full_precision(conv_variable()), "full_precision"),
    # selection and tags
    "tag-unbuilt-layer": (lambda: tfquant.quantize_weights(keras.layers.Conv2D(2, 3), tfquant.Binary()), "built"),
    "tag-unknown-quantizer": (lambda: tfquant.quantize_weights(keras.layers.Dense(2), "ternary"), "quantizer"),
    "channel-axes-of-a-kernel-less-layer": (lambda: kernels.output_channel_axes(keras.layers.ReLU()), "kernel"),
    # callbacks and initializers
    "monitor-window-zero": (lambda: QuantizationMonitor(window=0), "window"),
    "monitor-window-float": (lambda: QuantizationMonitor(window=1.5), "window"),
    "monitor-per-layer": (lambda: QuantizationMonitor(per_layer="yes"), "per_layer"),
    "rademacher-scale-zero": (lambda: initializers.Rademacher(scale=0), "scale"),
    "rademacher-scale-string": (lambda: initializers.Rademacher(scale="1"), "scale"),
    "rademacher-seed-string": (lambda: initializers.Rademacher(seed="0"), "seed"),
}


@pytest.mark.parametrize("make,argument", CASES.values(), ids=CASES.keys())
def test_bad_argument_is_refused_in_one_line_with_the_fix(make, argument):
    with pytest.raises(ValueError) as caught:
        make()
    message = str(caught.value)
    assert argument.lower() in message.lower(), message
    assert "\n" not in message, message
    assert any(word in message.lower() for word in FIX_WORDS), message


def test_the_tag_error_after_building_names_the_weights():
    layer = keras.layers.ReLU()
    layer.build((1, 2))
    with pytest.raises(ValueError, match="names="):
        tfquant.quantize_weights(layer, tfquant.Binary())


def test_a_refused_selection_leaves_the_optimizer_unbuilt_so_the_next_call_says_the_same():
    """ScaledBinary() on an Embedding's table is refused at build; the optimizer used to stay marked built, with no
    quantizers, so the next fit died in a raw TensorFlow error and export in AttributeError '_quantizers'."""
    embedding = keras.layers.Embedding(20, 4)
    embedding.build((None, 5))
    optimizer = tfquant.BCAdam(quantize={"embeddings": tfquant.ScaledBinary()})
    for _ in range(2):
        with pytest.raises(ValueError, match="cannot tell the output channels"):
            optimizer.build(embedding.trainable_variables)
        assert not optimizer.built

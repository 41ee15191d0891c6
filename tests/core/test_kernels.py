"""One answer to "which kernel axes are output channels", used by ScaledBinary, and TFLite's channel order."""

import keras
import numpy as np
import pytest
from keras import ops

import tfquant
from tfquant import kernels

LAYERS = {
    "dense": (lambda: keras.layers.Dense(5), (3, 4), (1,)),
    "conv1d": (lambda: keras.layers.Conv1D(5, 3), (2, 8, 4), (2,)),
    "conv2d": (lambda: keras.layers.Conv2D(5, 3), (2, 8, 8, 4), (3,)),
    "conv3d": (lambda: keras.layers.Conv3D(5, 3), (2, 6, 6, 6, 4), (4,)),
    "conv2d-transpose": (lambda: keras.layers.Conv2DTranspose(5, 3), (2, 8, 8, 4), (2,)),
    "depthwise2d": (lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (2, 8, 8, 4), (2, 3)),
    "depthwise1d": (lambda: keras.layers.DepthwiseConv1D(3, depth_multiplier=3), (2, 8, 4), (1, 2)),
}


def built(make, shape):
    layer = make()
    layer(np.zeros(shape, "float32"))
    return layer


@pytest.mark.parametrize("name", LAYERS)
def test_output_channel_axes_of_every_kernel_kind(name):
    make, shape, axes = LAYERS[name]
    layer = built(make, shape)
    assert kernels.output_channel_axes(layer) == axes
    out_channels = int(np.prod([layer.kernel.shape[a] for a in axes]))
    assert kernels.channels_last(layer).shape[-1] == out_channels
    # the layer's output has exactly that many channels
    assert layer(np.zeros(shape, "float32")).shape[-1] == out_channels


def test_separable_conv_kernels():
    layer = built(lambda: keras.layers.SeparableConv2D(5, 3, depth_multiplier=2), (1, 6, 6, 3))
    assert kernels.output_channel_axes(layer, "depthwise_kernel") == (2, 3)
    assert kernels.output_channel_axes(layer, "pointwise_kernel") == (3,)


def test_depthwise_channels_are_numbered_c_times_m_plus_m_as_tflite_stores_them():
    layer = built(lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (1, 5, 5, 3))
    kernel = np.asarray(layer.kernel)  # (3, 3, C=3, M=2)
    flat = kernels.channels_last(layer)
    for c in range(3):
        for m in range(2):
            np.testing.assert_array_equal(flat[..., c * 2 + m], kernel[:, :, c, m])
    np.testing.assert_array_equal(flat.reshape(1, 3, 3, 6), kernel.reshape(1, 3, 3, 6))  # TFLite's (1,H,W,C*M)


def test_scaled_binary_on_depthwise_is_per_channel_and_multiplier():
    layer = built(lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (1, 6, 6, 4))
    w = np.asarray(layer.kernel)
    axes = kernels.output_channel_axes(layer)
    got = np.asarray(ops.convert_to_numpy(tfquant.ScaledBinary(axes).deterministic(w)))
    scale = np.abs(w).mean(axis=(0, 1), keepdims=True)  # one scale per (c, m)
    np.testing.assert_allclose(got, np.where(w >= 0, 1, -1) * scale, rtol=1e-6)


@pytest.mark.parametrize("how", ["tag_channel_axes", "quantize_weights"])
def test_an_optimizer_picks_the_tagged_axes_for_scaled_binary(how):
    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.DepthwiseConv2D(3, depth_multiplier=2),
                              keras.layers.Conv2DTranspose(4, 3), keras.layers.Conv2D(2, 3)])
    if how == "tag_channel_axes":
        kernels.tag_channel_axes(model)
    else:
        for layer in model.layers:
            tfquant.quantize_weights(layer, tfquant.ScaledBinary())
    optimizer = tfquant.BCAdam(quantizer=tfquant.ScaledBinary())
    optimizer.build(model.trainable_variables)
    chosen = [optimizer.quantizer_for(layer.kernel).channel_axes for layer in model.layers]
    assert chosen == [(2, 3), (2,), (3,)]
    config = keras.saving.serialize_keras_object(optimizer.quantizer_for(model.layers[0].kernel))
    assert keras.saving.deserialize_keras_object(config).channel_axes == (2, 3)

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


@pytest.mark.parametrize("how", ["nothing", "tag_channel_axes", "quantize_weights"])
def test_an_optimizer_picks_the_axes_for_scaled_binary(how):
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


class Subclassed(keras.Model):
    """A subclassed model holding a nested Sequential: layers reached only through attributes."""

    def __init__(self):
        super().__init__()
        self.depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)
        self.inner = keras.Sequential([keras.layers.Conv2DTranspose(4, 3), keras.layers.SeparableConv2D(3, 3)])
        self.head = keras.layers.Dense(2)

    def call(self, x):
        return self.head(self.inner(self.depthwise(x)))


def functional():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2)(inputs)
    x = keras.Sequential([keras.layers.Conv2DTranspose(4, 3), keras.layers.SeparableConv2D(3, 3)])(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("make", [Subclassed, functional])
def test_scaled_binary_is_per_output_channel_on_every_kind_with_no_user_call(make):
    model = make()
    model(np.zeros((1, 6, 6, 3), "float32"))
    optimizer = tfquant.BCAdam(quantizer=tfquant.ScaledBinary(), quantize="kernels")
    optimizer.build(model.trainable_variables)
    chosen = {v.path: optimizer.quantizer_for(v).channel_axes
              for v in model.trainable_variables if optimizer.quantizer_for(v) is not None}
    assert sorted(chosen.values()) == [(1,), (2,), (2, 3), (2, 3), (3,)], chosen  # dense, transposed, 2 depthwise, 1x1
    kinds = {layer.name: kernels.kind_of(layer) for layer, _, _ in kernels.model_kernels(model)}
    transposed = next(layer for layer, _, _ in kernels.model_kernels(model) if kinds[layer.name] == "transposed")
    depthwise = next(layer for layer, _, _ in kernels.model_kernels(model) if layer.name.startswith("depthwise"))
    assert optimizer.quantizer_for(transposed.kernel).channel_axes == (2,)
    assert optimizer.quantizer_for(depthwise.kernel).channel_axes == (2, 3)
    # the model computes with s_c * sign(w_r), one s per (c, m) of the depthwise kernel
    w_r = np.asarray(optimizer.full_precision(depthwise.kernel))
    np.testing.assert_allclose(np.asarray(depthwise.kernel),
                               np.where(w_r >= 0, 1, -1) * np.abs(w_r).mean(axis=(0, 1), keepdims=True), rtol=1e-6)


def test_scaled_binary_refuses_a_kernel_no_layer_holds():
    loose = keras.Variable(np.ones((3, 3, 2, 4), "float32"), name="kernel")
    with pytest.raises(ValueError, match="channel_axes"):
        tfquant.BCAdam(quantizer=tfquant.ScaledBinary()).build([loose])
    optimizer = tfquant.BCAdam(quantize={"kernel": tfquant.ScaledBinary(channel_axes=(3,))})
    optimizer.build([loose])  # explicit axes: accepted
    assert optimizer.quantizer_for(loose).channel_axes == (3,)


def test_a_layer_outside_the_table_is_refused_with_the_fix():
    class Custom(keras.layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(3, 3, shape[-1], 2))

        def call(self, x):
            return x

    layer = Custom()
    layer(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="kernel table"):
        kernels.output_channel_axes(layer)


def test_separable_conv_is_described_kernel_by_kernel():
    layer = built(lambda: keras.layers.SeparableConv2D(5, 3, depth_multiplier=2), (1, 6, 6, 3))
    assert [name for name, _ in kernels.layer_kernels(layer)] == ["depthwise_kernel", "pointwise_kernel"]
    assert kernels.channels_last(layer, "depthwise_kernel").shape[-1] == 6

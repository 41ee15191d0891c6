"""The four MLPerf Tiny v1 reference networks, written for Keras 3 from their published descriptions,
with binary kernels and converged-like batch norms, for the deployment measurements.

- `ic_resnet8`: image classification, CIFAR-10 shape 32x32x3. Conv 16 3x3, then three residual stacks
  (16, 32, 64 filters; stacks 2 and 3 start with stride 2 and a 1x1 stride-2 projection shortcut),
  each of two 3x3 convs with batch norm; average pool 8x8, Dense 10.
- `kws_ds_cnn`: keyword spotting on 49x10 MFCC. Conv 64 (10, 4) stride 2 + BN + ReLU, four
  depthwise-separable blocks (depthwise 3x3 + BN + ReLU, pointwise 64 + BN + ReLU), average pool 25x5,
  Dense 12.
- `vww_mobilenet`: visual wake words, MobileNetV1 alpha=0.25 at 96x96x3: conv 8 stride 2, thirteen
  depthwise-separable blocks (16, 32, 32, 64, 64, 128, 128 x5, 256, 256; stride 2 at the 2nd, 4th,
  6th and 12th), average pool, Dense 2.
- `ad_autoencoder`: anomaly detection, Dense 640-128x4-8-128x4-640, batch norm + ReLU after every
  Dense but the last.

Keras 3's DepthwiseConv2D takes `depthwise_initializer`, not the `kernel_initializer` the published
Keras 2 code passes. Softmax heads are left out (the exports compare logits; a softmax changes no argmax).

`binary_net(name)` builds one and makes it look trained by BC: every conv kernel (for the autoencoder,
every Dense kernel, as BC-Adam with `quantize="all"` gives) is set to `±s` per layer (`tfquant.Binary`),
s = sqrt(2 / fan_in), and every batch norm's moving statistics are set from one training-mode pass
over a data batch (momentum 0), which is what a converged net's statistics look like.
"""
import keras
import numpy as np

from tfquant import kernels

from .export_models import fan_in

INPUT_SHAPES = {"ic_resnet8": (32, 32, 3), "kws_ds_cnn": (49, 10, 1), "vww_mobilenet": (96, 96, 3),
                "ad_autoencoder": (640,)}
NAMES = tuple(INPUT_SHAPES)
TITLES = {"ic_resnet8": "IC ResNet-8 (32x32x3)", "kws_ds_cnn": "KWS DS-CNN (49x10 MFCC)",
          "vww_mobilenet": "VWW MobileNetV1 0.25 (96x96x3)", "ad_autoencoder": "AD Dense autoencoder (640)"}


def _bn_relu(x, relu=True):
    x = keras.layers.BatchNormalization()(x)
    return keras.layers.ReLU()(x) if relu else x


def _conv(x, filters, kernel, strides=1):
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)


def ic_resnet8():
    inputs = keras.Input(INPUT_SHAPES["ic_resnet8"])
    x = _bn_relu(_conv(inputs, 16, 3))
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = _bn_relu(_conv(x, filters, 3, strides))
        y = _bn_relu(_conv(y, filters, 3), relu=False)
        shortcut = x if strides == 1 else _conv(x, filters, 1, strides)
        x = keras.layers.ReLU()(keras.layers.Add()([shortcut, y]))
    x = keras.layers.AveragePooling2D(8)(x)
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)), name="ic_resnet8")


def _depthwise_separable(x, filters, strides=1):
    x = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False,
                                     depthwise_initializer="he_normal")(x)
    return _bn_relu(_conv(_bn_relu(x), filters, 1))


def kws_ds_cnn():
    inputs = keras.Input(INPUT_SHAPES["kws_ds_cnn"])
    x = _bn_relu(_conv(inputs, 64, (10, 4), strides=2))
    for _ in range(4):
        x = _depthwise_separable(x, 64)
    x = keras.layers.AveragePooling2D((25, 5))(x)
    return keras.Model(inputs, keras.layers.Dense(12)(keras.layers.Flatten()(x)), name="kws_ds_cnn")


def vww_mobilenet():
    inputs = keras.Input(INPUT_SHAPES["vww_mobilenet"])
    x = _bn_relu(_conv(inputs, 8, 3, strides=2))
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for filters, strides in blocks:
        x = _depthwise_separable(x, filters, strides)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x), name="vww_mobilenet")


def ad_autoencoder():
    inputs = keras.Input(INPUT_SHAPES["ad_autoencoder"])
    x = inputs
    for units in (128,) * 4 + (8,) + (128,) * 4:
        x = _bn_relu(keras.layers.Dense(units)(x))
    return keras.Model(inputs, keras.layers.Dense(640)(x), name="ad_autoencoder")


BUILDERS = {"ic_resnet8": ic_resnet8, "kws_ds_cnn": kws_ds_cnn, "vww_mobilenet": vww_mobilenet,
            "ad_autoencoder": ad_autoencoder}


def data(name, count, seed=0):
    """Stand-in inputs of the net's shape (CIFAR-10, MFCCs, VWW and ToyADMOS are not on this machine):
    standard normal, the scale of normalised features."""
    return np.random.default_rng(seed).standard_normal((count,) + INPUT_SHAPES[name]).astype(np.float32)


def binarize_per_layer(model, dense):
    """Every conv kernel (and Dense kernel when `dense`) set to `s·sign(n)`, s = sqrt(2/fan_in)."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        for name, variable in kernels.layer_kernels(layer) if kernels.is_conv(layer) or dense else ():
            signs = np.where(rng.standard_normal(tuple(variable.shape)) < 0, -1.0, 1.0)
            variable.assign((signs * np.sqrt(2.0 / fan_in(layer, name))).astype("float32"))


def settle_batch_norms(model, batch):
    """Set every batch norm's moving mean/variance to the statistics of `batch` (momentum 0, one
    training-mode call), as a converged network's would be."""
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        layer.momentum = 0.0
    model(batch, training=True)
    for layer, momentum in zip(norms, saved):
        layer.momentum = momentum


def binary_net(name):
    """The named reference net with binary kernels and settled batch norms."""
    keras.utils.set_random_seed(0)
    model = BUILDERS[name]()
    binarize_per_layer(model, dense=name == "ad_autoencoder")
    settle_batch_norms(model, data(name, 256, seed=1))
    return model

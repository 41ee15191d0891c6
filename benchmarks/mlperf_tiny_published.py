"""The four MLPerf Tiny reference networks as published in mlcommons/tiny, ported to Keras 3.

Source: https://github.com/mlcommons/tiny, snapshot at commit 1afd2c9820f795965a6134facd0b4dfae41ef23f
(2026-05-12), folder benchmark/training/. Each builder keeps the published function's name, layer order,
filters, kernel sizes, strides, paddings, biases (Keras' default `use_bias=True`), initializers,
L2(1e-4) regularizers, batch norms (Keras defaults), dropouts and softmax heads. The changes are only
those the Keras 2 -> 3 API forces:

- `tensorflow.keras.*` -> `keras.*`; `tf.keras.layers.add` -> `keras.layers.add`.
- `DepthwiseConv2D(kernel_initializer=..., kernel_regularizer=...)`: tf.keras 2 passes unknown keyword
  arguments of DepthwiseConv2D on to Conv2D's constructor, where they set `kernel_initializer` and
  `kernel_regularizer` attributes that DepthwiseConv2D's `build` never reads (it reads
  `depthwise_initializer` / `depthwise_regularizer`): in the published nets the depthwise kernels get the
  default glorot-uniform initializer and no regularizer. Keras 3 rejects those keyword arguments
  ("Unrecognized keyword arguments passed to DepthwiseConv2D"), so the port drops them, which keeps the
  behaviour the published code has.

Parameter counts, from the published code (each derived in tests/tflite/test_mlperf_tiny_published.py):
ResNet-8 205,306; DS-CNN 24,908; MobileNetV1 0.25 221,794; autoencoder 269,992.
"""
import keras
import numpy as np
from keras.layers import (
    Activation,
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    DepthwiseConv2D,
    Dropout,
    Flatten,
    Input,
)
from keras.regularizers import l2

COMMIT = "1afd2c9820f795965a6134facd0b4dfae41ef23f"


def resnet_v1_eembc(conv_filters=26):
    """IC: benchmark/training/image_classification/keras_model.py `resnet_v1_eembc` (last changed in
    9adec29055c3c82b7569e462c03bbcaea78eeca9; `train.py` builds it with `conv_filters=26`, the default).

    32x32x3 -> Conv 26 3x3 + BN + ReLU; three stacks of two 3x3 convs (26, 52, 104 filters; stacks 2 and
    3 start with stride 2 and add a 1x1 stride-2 projection of the shortcut), BN after each conv, ReLU
    after the first and after the residual add; AveragePooling 8x8, Flatten, Dense 10 softmax. Every conv
    has a bias, he-normal initializer and L2(1e-4). (MLPerf Tiny v0.5/v1.0 published the same net with
    16 filters; `conv_filters=16` builds it.)"""
    def conv(filters, kernel_size, strides):
        return Conv2D(filters, kernel_size=kernel_size, strides=strides, padding="same",
                      kernel_initializer="he_normal", kernel_regularizer=l2(1e-4))

    inputs = Input(shape=[32, 32, 3])
    x = conv(conv_filters, 3, 1)(inputs)
    x = BatchNormalization()(x)
    x = Activation("relu")(x)
    for num_filters, strides in ((conv_filters, 1), (conv_filters * 2, 2), (conv_filters * 4, 2)):
        y = conv(num_filters, 3, strides)(x)
        y = BatchNormalization()(y)
        y = Activation("relu")(y)
        y = conv(num_filters, 3, 1)(y)
        y = BatchNormalization()(y)
        if strides != 1:  # "Adjust for change in dimension due to stride in identity"
            x = conv(num_filters, 1, strides)(x)
        x = keras.layers.add([x, y])
        x = Activation("relu")(x)
    pool_size = int(np.amin(x.shape[1:3]))
    x = AveragePooling2D(pool_size=pool_size)(x)
    y = Flatten()(x)
    outputs = Dense(10, activation="softmax", kernel_initializer="he_normal")(y)
    return keras.Model(inputs=inputs, outputs=outputs)


def ds_cnn(spectrogram_length=49, dct_coefficient_count=10, label_count=12):
    """KWS: benchmark/training/keyword_spotting/keras_model.py `get_model`, branch `ds_cnn` (last changed in
    bceb91c5ad2e2deb295547d81505721d3a87d578). The input shape comes from `prepare_model_settings` with
    kws_util.py's defaults: 16 kHz, 1000 ms clips, 30 ms windows every 20 ms -> 1 + (16000 - 480) // 320
    = 49 frames of 10 MFCCs.

    Conv 64 (10, 4) stride 2 same + BN + ReLU + Dropout 0.2; four times DepthwiseConv 3x3 + BN + ReLU,
    Conv 64 1x1 + BN + ReLU; Dropout 0.4; AveragePooling (int(49/2), int(10/2)) = (24, 5) on the 25x5 map
    (valid: one output); Flatten; Dense 12 softmax. Convs have biases and L2(1e-4) (glorot-uniform)."""
    input_shape = [spectrogram_length, dct_coefficient_count, 1]
    filters = 64
    regularizer = l2(1e-4)
    final_pool_size = (int(input_shape[0] / 2), int(input_shape[1] / 2))
    inputs = Input(shape=input_shape)
    x = Conv2D(filters, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=regularizer)(inputs)
    x = BatchNormalization()(x)
    x = Activation("relu")(x)
    x = Dropout(rate=0.2)(x)
    for _ in range(4):
        x = DepthwiseConv2D(depth_multiplier=1, kernel_size=(3, 3), padding="same")(x)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
        x = Conv2D(filters, (1, 1), padding="same", kernel_regularizer=regularizer)(x)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
    x = Dropout(rate=0.4)(x)
    x = AveragePooling2D(pool_size=final_pool_size)(x)
    x = Flatten()(x)
    outputs = Dense(label_count, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# (filters after the pointwise conv, depthwise stride) of vww_model.py's layers 2..14
MOBILENET_BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1),
                    (128, 1), (128, 1), (256, 2), (256, 1))


def mobilenet_v1():
    """VWW: benchmark/training/visual_wake_words/vww_model.py `mobilenet_v1` (last changed in
    bceb91c5ad2e2deb295547d81505721d3a87d578), MobileNetV1 alpha 0.25 at 96x96x3.

    Conv 8 3x3 stride 2 same + BN + ReLU; thirteen depthwise-separable layers (DepthwiseConv 3x3 + BN +
    ReLU, Conv 1x1 + BN + ReLU) with the filters and strides of `MOBILENET_BLOCKS`; AveragePooling over the
    whole 3x3 map; Flatten; Dense 2 softmax. Convs have biases, he-normal initializers and L2(1e-4)."""
    def conv(filters, kernel_size, strides):
        return Conv2D(filters, kernel_size=kernel_size, strides=strides, padding="same",
                      kernel_initializer="he_normal", kernel_regularizer=l2(1e-4))

    inputs = Input(shape=[96, 96, 3])
    x = conv(8, 3, 2)(inputs)
    x = BatchNormalization()(x)
    x = Activation("relu")(x)
    for num_filters, strides in MOBILENET_BLOCKS:
        x = DepthwiseConv2D(kernel_size=3, strides=strides, padding="same")(x)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
        x = conv(num_filters, 1, 1)(x)
        x = BatchNormalization()(x)
        x = Activation("relu")(x)
    x = AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = Flatten()(x)
    outputs = Dense(2, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_model(inputDim=640):
    """AD: benchmark/training/anomaly_detection/keras_model.py `get_model` (last changed in
    bceb91c5ad2e2deb295547d81505721d3a87d578); 00_train.py passes n_mels x frames = 128 x 5 = 640
    (baseline.yaml).

    Dense 128 x4, Dense 8, Dense 128 x4, each + BN + ReLU; Dense 640, linear. Keras defaults otherwise."""
    inputLayer = Input(shape=(inputDim,))
    h = inputLayer
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        h = Dense(units)(h)
        h = BatchNormalization()(h)
        h = Activation("relu")(h)
    h = Dense(inputDim)(h)
    return keras.Model(inputs=inputLayer, outputs=h)


BUILDERS = {"ic_resnet8": resnet_v1_eembc, "kws_ds_cnn": ds_cnn, "vww_mobilenet": mobilenet_v1,
            "ad_autoencoder": get_model}
NAMES = tuple(BUILDERS)
TITLES = {"ic_resnet8": "IC ResNet-8", "kws_ds_cnn": "KWS DS-CNN", "vww_mobilenet": "VWW MobileNetV1 0.25",
          "ad_autoencoder": "AD autoencoder"}

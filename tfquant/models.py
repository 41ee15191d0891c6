"""The paper's networks (Li et al. 2017, appendix H.1, Tables 2-3) as Keras 3 functional models.

Every builder takes ``input_shape`` and ``num_classes`` (so each also runs on 28x28x1 Fashion-MNIST) and a
``conv_initializer`` for the convolution kernels: the training CLI passes
``tfquant.initializers.Rademacher(scale=delta)`` for SR and R, as in appendix H.3. Convolutions are plain
``keras.layers.Conv2D`` layers named ``conv*``/``*_conv*``, so their rank-4 ``kernel`` variables are exactly
what tfquant's default ``quantize="conv"`` rule picks; dense layers, biases and batch-norm stay real.

Convolutions that feed a batch normalisation carry no bias (the BN shift makes it redundant); that is
the only way these counts differ from a Torch7 model with conv biases (see ``docs/REPRODUCTION.md``).
Batch normalisation uses Torch's defaults (running-average momentum 0.1, i.e. Keras ``momentum=0.9``, and
eps 1e-5), which the paper's Torch7 models had; Keras' 0.99 lags badly in short runs of binary nets.
"""

import functools
import math

import keras
from keras import layers

from tfquant import kernels

BatchNorm = functools.partial(layers.BatchNormalization, momentum=0.9, epsilon=1e-5)


def _conv_bn_relu(x, filters, name, initializer, strides=1, relu=True):
    """3x3 convolution (no bias) -> batch norm -> optional ReLU."""
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                      kernel_initializer=initializer, name=name)(x)
    x = BatchNorm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _vgg(plan, dense, input_shape, num_classes, initializer, name):
    """VGG-style net: ``plan`` lists conv widths with "M" for 2x2 max pooling; ``dense`` the hidden FC widths.

    Each hidden FC layer is followed by BN and ReLU, the last one by softmax.
    """
    inputs = keras.Input(input_shape, name="image")
    x, i = inputs, 0
    for item in plan:
        if item == "M":
            x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        else:
            i += 1
            x = _conv_bn_relu(x, item, f"conv{i}", initializer)
    x = layers.Flatten(name="flatten")(x)
    for j, width in enumerate(dense, start=1):
        x = layers.Dense(width, use_bias=False, name=f"fc{j}")(x)
        x = BatchNorm(name=f"fc{j}_bn")(x)
        x = layers.ReLU(name=f"fc{j}_relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name=f"fc{len(dense) + 1}")(x)
    return keras.Model(inputs, outputs, name=name)


def _scaled(widths, width):
    return [w if w == "M" else max(1, round(w * width)) for w in widths]


def vgg9(input_shape=(32, 32, 3), num_classes=10, width=1.0, conv_initializer="he_normal"):
    """VGG-9 of Table 2: 7 convs (64,64,M,128,128,M,256,256,256,M) and FC 256 -> classes.

    ``width`` scales every layer (1.0 is the paper's net; the Fashion-MNIST runs here use a narrower one).
    """
    plan = _scaled([64, 64, "M", 128, 128, "M", 256, 256, 256, "M"], width)
    return _vgg(plan, _scaled([256], width), input_shape, num_classes, conv_initializer, "vgg9")


def vgg_bc(input_shape=(32, 32, 3), num_classes=10, width=1.0, conv_initializer="he_normal"):
    """VGG-BC of Table 3 (the BinaryConnect net): 6 convs (128,128,M,256,256,M,512,512,M), FC 1024, 1024.

    Softmax + cross-entropy instead of the original SVM + squared hinge loss, as in the paper.
    """
    plan = _scaled([128, 128, "M", 256, 256, "M", 512, 512, "M"], width)
    return _vgg(plan, _scaled([1024, 1024], width), input_shape, num_classes, conv_initializer, "vgg_bc")


@keras.saving.register_keras_serializable(package="training")
class ShortcutA(layers.Layer):
    """He et al.'s option-A shortcut: ``x[:, ::s, ::s, :]`` zero-padded to ``filters`` channels (no parameters)."""

    def __init__(self, filters, stride, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.stride = filters, stride

    def call(self, x):
        x = x[:, :: self.stride, :: self.stride, :]
        extra = self.filters - x.shape[-1]
        return keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])

    def compute_output_shape(self, shape):
        spatial = [None if d is None else -(-d // self.stride) for d in shape[1:3]]
        return (shape[0], *spatial, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}


def _cifar_resnet(depth, width, input_shape, num_classes, initializer, name):
    """CIFAR ResNet of He et al. (2016): 3 stages of (depth-2)/6 basic blocks of 16k, 32k, 64k filters.

    ResNet-56 has depth 56, width 1 (55 convs + 1 linear layer); WRN-56-2 doubles every width.
    Shortcuts are option A (parameter-free), as in fb.resnet.torch's CIFAR models the paper used.
    """
    blocks = (depth - 2) // 6
    inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(inputs, 16 * width, "conv1", initializer)
    for stage, filters in enumerate((16 * width, 32 * width, 64 * width), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"s{stage}b{block + 1}"
            y = _conv_bn_relu(x, filters, f"{prefix}_conv1", initializer, strides=stride)
            y = _conv_bn_relu(y, filters, f"{prefix}_conv2", initializer, relu=False)
            short = (x if stride == 1 and x.shape[-1] == filters
                     else ShortcutA(filters, stride, name=f"{prefix}_short")(x))
            x = layers.ReLU(name=f"{prefix}_relu")(layers.Add(name=f"{prefix}_add")([y, short]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name=name)


def resnet56(input_shape=(32, 32, 3), num_classes=10, conv_initializer="he_normal"):
    """ResNet-56 for CIFAR (0.85M conv parameters, 650 linear)."""
    return _cifar_resnet(56, 1, input_shape, num_classes, conv_initializer, "resnet56")


def wrn56_2(input_shape=(32, 32, 3), num_classes=10, conv_initializer="he_normal"):
    """Wide ResNet-56-2: ResNet-56 with twice the filters in every layer."""
    return _cifar_resnet(56, 2, input_shape, num_classes, conv_initializer, "wrn56_2")


def resnet18(input_shape=(224, 224, 3), num_classes=1000, conv_initializer="he_normal"):
    """ImageNet ResNet-18 (He et al. 2016): 7x7/2 stem, 3x3/2 max pool, 4 stages of 2 basic blocks
    (64, 128, 256, 512 filters), 1x1 projection shortcuts (option B) where the shape changes."""
    inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=False,
                      kernel_initializer=conv_initializer, name="conv1")(inputs)
    x = layers.ReLU(name="conv1_relu")(BatchNorm(name="conv1_bn")(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for stage, filters in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            prefix = f"s{stage}b{block + 1}"
            y = _conv_bn_relu(x, filters, f"{prefix}_conv1", conv_initializer, strides=stride)
            y = _conv_bn_relu(y, filters, f"{prefix}_conv2", conv_initializer, relu=False)
            if stride != 1 or x.shape[-1] != filters:
                x = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                  kernel_initializer=conv_initializer, name=f"{prefix}_proj_conv")(x)
                x = BatchNorm(name=f"{prefix}_proj_bn")(x)
            x = layers.ReLU(name=f"{prefix}_relu")(layers.Add(name=f"{prefix}_add")([y, x]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs, name="resnet18")


def small_cnn(input_shape=(28, 28, 1), num_classes=10, conv_initializer="he_normal"):
    """A small fast CNN for minutes-long CPU runs: VGG-9 at 1/8 width (8..32 filters, FC 32)."""
    model = vgg9(input_shape, num_classes, width=0.125, conv_initializer=conv_initializer)
    model.name = "small_cnn"
    return model


MODELS = {"vgg9": vgg9, "vgg_bc": vgg_bc, "resnet56": resnet56, "wrn56_2": wrn56_2,
          "resnet18": resnet18, "small_cnn": small_cnn}


def build(name, input_shape, num_classes, conv_initializer="he_normal", width=None):
    """Build the model called ``name`` (a key of ``MODELS``); ``width`` only for the VGG nets."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    kwargs = {"conv_initializer": conv_initializer}
    if width is not None:
        if name not in ("vgg9", "vgg_bc"):
            raise ValueError(f"--width applies to vgg9 and vgg_bc only, not {name!r}")
        kwargs["width"] = width
    return MODELS[name](input_shape, num_classes, **kwargs)


def parameter_counts(model):
    """(conv, dense) trainable kernel+bias parameter counts of ``model``, in units (not millions)."""
    conv = dense = 0
    for layer in model.layers:
        n = sum(math.prod(v.shape) for v in layer.trainable_weights)
        if kernels.is_conv(layer):
            conv += n
        elif kernels.layer_kernels(layer):
            dense += n
    return conv, dense


# Appendix H.1: conv/FC parameters in millions, as printed (rounded or truncated to the last digit shown).
PAPER_COUNTS = {"vgg9": ("1.7", "1.1"), "vgg_bc": ("4.6", "9.4"), "resnet56": ("0.84", "0.0006"),
                "wrn56_2": ("3.4", "0.001"), "resnet18": ("11.2", "0.5")}


def paper_input(name):
    """(input_shape, num_classes) the paper used ``name`` with: ImageNet for ResNet-18, CIFAR-10 otherwise."""
    return ((224, 224, 3), 1000) if name == "resnet18" else ((32, 32, 3), 10)


def main():
    """Print the conv/FC parameter counts of the paper's networks with appendix H.1's figures beside them."""
    print("| model | input | conv params | FC params | paper (millions, conv/FC) |\n|---|---|---|---|---|")
    for name, figures in PAPER_COUNTS.items():
        shape, classes = paper_input(name)
        conv, dense = parameter_counts(build(name, shape, classes))
        print(f"| {name} | {'x'.join(map(str, shape))}, {classes} classes | {conv:,} | {dense:,} | "
              f"{'/'.join(figures)} |")


if __name__ == "__main__":
    main()

"""Models with binary conv kernels for the export tests and benchmarks, without training.

`binarize(model)` sets every conv kernel (and, with `dense=True`, every dense kernel) to
`w = s_c·sign(n)`, `n ~ N(0, 1)`, with a per-output-channel scale `s_c = u_c·sqrt(2/fan_in)`,
`u_c ~ U(0.5, 1.5)` (He-scaled, so deep nets keep finite activations), and gives batch norms random
statistics so that folding them into the kernels is not the identity. That is what BC with
`tfquant.ScaledBinary()` produces (±s per output channel); `per_layer=True` uses one `s` per layer,
as `tfquant.Binary(delta)` does.
"""
import keras
import numpy as np

from tfquant import kernels


def fan_in(layer, name="kernel"):
    """Weights per output channel of `layer`'s kernel `name` (`tfquant.kernels`: depthwise channels are c·M + m)."""
    return int(np.prod(kernels.channels_last(layer, name).shape[:-1]))


def binarize(model, seed=0, dense=False, per_layer=False):
    """Set kernels to ±s per output channel (or per layer) and batch norms to random statistics."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers(include_self=False):
        for name, variable in kernels.layer_kernels(layer) if kernels.is_conv(layer) or dense else ():
            channels = (1,) if per_layer else kernels.channel_shape(layer, name)
            scales = rng.uniform(0.5, 1.5, int(np.prod(channels))) * np.sqrt(2.0 / fan_in(layer, name))
            signs = np.where(rng.standard_normal(tuple(variable.shape)) < 0, -1.0, 1.0)
            variable.assign((signs * scales.reshape(channels)).astype("float32"))
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n),
                               rng.uniform(0.5, 1.5, n)])
    return model


def odd_shapes_cnn(input_shape=(11, 13, 3), classes=7):
    """Every filter kind and awkward shape the packer must handle, in one small functional model:
    conv + batch norm (folded), odd weight counts (not multiples of 8), strides, both paddings,
    a non-square kernel, depthwise conv, dense."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(5, 3, padding="same", use_bias=False, name="conv_bn")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(7, (3, 2), strides=2, padding="valid", name="conv_stride")(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=1, name="depthwise")(x)
    x = keras.layers.Conv2D(9, 1, name="pointwise")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, name="dense")(x)
    return keras.Model(inputs, outputs, name="odd_shapes_cnn")


def conv1d_net(length=20, channels=3, classes=4):
    """Conv1D (stride, both paddings, odd weight counts) -> pooling -> dense."""
    inputs = keras.Input((length, channels))
    x = keras.layers.Conv1D(6, 5, padding="same", activation="relu", name="conv1d_a")(inputs)
    x = keras.layers.Conv1D(5, 3, strides=2, name="conv1d_b")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, name="dense")(x), name="conv1d_net")


def paper_model(name):
    """The paper's VGG-9, ResNet-56 or WRN-56-2 (CIFAR-10 shapes) from tfquant/models.py, binarized, its classifier
    tempered (`temper_classifier`); the same model on every call (Keras' initialisers are seeded)."""
    from tfquant import models
    keras.utils.set_random_seed(0)
    return temper_classifier(binarize(getattr(models, name)((32, 32, 3), 10)))


def temper_classifier(model, logit_std=2.0, seed=0):
    """Scale the last Dense layer so that its logits have standard deviation `logit_std` on standard-normal inputs.

    Through dozens of batch norms with random statistics the untrained logits grow to thousands, so the softmax
    is exactly one-hot on every input: no trained net looks like that, and no int8 file can reproduce it (the
    export's verification rightly refuses ResNet-56's). Scaling the classifier changes no size or speed.
    """
    head = model.layers[-1]
    features = keras.Model(model.inputs, head.input)
    x = np.random.default_rng(seed).standard_normal((32, *model.input_shape[1:])).astype("float32")
    kernel, bias = head.get_weights()
    logits = np.asarray(features.predict(x, verbose=0)) @ kernel + bias
    scale = logit_std / max(float(logits.std()), 1e-12)
    head.set_weights([kernel * scale, bias * scale])
    return model

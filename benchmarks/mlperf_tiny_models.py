"""The MLPerf Tiny reference nets made ready for export: the published architectures
(`benchmarks/mlperf_tiny_published.py`), a few BC-Adam steps on stand-in data, batch norms settled.

The smaller Keras rewrites this module used to hold (ResNet-8 with 16/32/64 filters and no biases, heads
without softmax, ...) are gone: every figure is measured on the nets as published.

`trained_net(name, steps)`:
1. builds the published net (`BUILDERS[name]()`, seed 0);
2. trains it `steps` batches of 32 with `tfquant.BCAdam(learning_rate=1e-3)`: eq. (7) of the paper,
   `w_r <- clip(w_r - lr * adam_step(grad f(Q(w_r))))`, the model computing with `Q(w_r) = sign(w_r)`;
   conv kernels binary on the three conv nets (`quantize="conv"`, the paper's choice), every Dense kernel
   binary on the autoencoder (`quantize="kernels"`: it has no conv). Loss: sparse categorical
   cross-entropy on random labels (the published softmax heads), mean squared reconstruction error for the
   autoencoder (as its baseline.yaml);
3. sets every batch norm's moving mean/variance from one training-mode pass over 256 inputs (momentum 0),
   which is what a converged net's statistics look like; post-training int8 of a net trained a few steps
   is otherwise far off (docs/FINDINGS).

Inputs are standard-normal stand-ins of each net's input shape, the scale of normalised features:
CIFAR-10, Speech Commands, VWW and ToyADMOS are not on this machine.
"""
import keras
import numpy as np

import tfquant

from .export_models import fan_in
from .mlperf_tiny_published import BUILDERS

CLASSES = {"ic_resnet8": 10, "kws_ds_cnn": 12, "vww_mobilenet": 2}  # the autoencoder reconstructs its input


def input_shape(name):
    return tuple(BUILDERS[name]().input_shape[1:])


def data(name, count, seed=0, shape=None):
    """`count` standard-normal stand-in inputs of net `name`'s input shape (`shape` skips building it)."""
    shape = shape or input_shape(name)
    return np.random.default_rng(seed).standard_normal((count,) + tuple(shape)).astype(np.float32)


def binarize_per_layer(model, dense):
    """Every conv kernel (and Dense kernel when `dense`) set to `s·sign(n)`, s = sqrt(2/fan_in)."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        is_conv = isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
        if is_conv or (dense and isinstance(layer, keras.layers.Dense)):
            shape = tuple(layer.kernel.shape)
            signs = np.where(rng.standard_normal(shape) < 0, -1.0, 1.0)
            layer.kernel.assign((signs * np.sqrt(2.0 / fan_in(layer))).astype("float32"))


def trained_net(name, steps=4, batch_size=32):
    """Published net `name` after `steps` BC-Adam batches on stand-in data, batch norms settled. A fresh
    Keras session first: the auto-generated layer names (and so the file bytes) do not depend on what
    was built before in the process."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = BUILDERS[name]()
    shape = model.input_shape[1:]
    x = data(name, steps * batch_size, seed=0, shape=shape)
    if name in CLASSES:
        y = np.random.default_rng(1).integers(0, CLASSES[name], len(x))
        optimizer, loss = tfquant.BCAdam(learning_rate=1e-3, quantize="conv"), "sparse_categorical_crossentropy"
    else:
        y = x
        optimizer, loss = tfquant.BCAdam(learning_rate=1e-3, quantize="kernels"), "mean_squared_error"
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    tfquant.recipes.settle_batch_norms(model, data(name, 256, seed=1, shape=shape))
    return model

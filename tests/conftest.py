"""Shared helpers for the test suite. The backend is whatever KERAS_BACKEND says (TensorFlow by default);
tests/core/test_backends.py reruns the backend-neutral modules under JAX (and PyTorch when installed)."""

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()


def small_cnn(input_shape=(10, 10, 1), classes=3, name=None, batch_norm=True):
    """conv -> batch norm -> relu -> conv -> pool -> dense: one of each kind of variable the paper treats."""
    norm = [keras.layers.BatchNormalization(name="bn1")] if batch_norm else []
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(6, 3, name="conv1"),
            *norm,
            keras.layers.ReLU(),
            keras.layers.Conv2D(5, 3, name="conv2", use_bias=False),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, name="dense"),
        ],
        name=name,
    )


def toy_data(n=64, input_shape=(10, 10, 1), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + input_shape).astype("float32")
    y = (x.reshape(n, -1).sum(axis=1) > 0).astype("int32") % classes
    return x, y


def compile_model(model, optimizer):
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def weights_of(model):
    return {v.path: np.array(keras.ops.convert_to_numpy(v)) for v in model.variables}


def on_grid(quantizer, variable):
    return bool(np.all(keras.ops.convert_to_numpy(quantizer.on_grid(keras.ops.convert_to_tensor(variable)))))


tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow-specific (tf.function / tf.distribute)")

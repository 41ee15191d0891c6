"""keras.io's "Simple MNIST convnet" (keras-team/keras-io, examples/vision/mnist_convnet.py at 02cfe80,
fchollet) with only its optimizer swapped for `tfquant.BCAdam()`: its layers, loss, batch size and
validation split, reached as it reaches Keras (`from tensorflow import keras`). MNIST is not on this
machine, so Fashion-MNIST (the same format) stands in, a slice of it, for one epoch instead of 15."""
import numpy as np
import pytest

import tfquant
import tfquant.tflite
from tfquant import arrays

needs_data = pytest.mark.skipif(arrays.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")


def published_convnet(keras):
    """The example's model: two 3x3 relu convs (32, 64 filters) each before a 2x2 max pool, flatten,
    dropout 0.5, a 10-way softmax dense layer."""
    layers = keras.layers
    return keras.Sequential([keras.Input(shape=(28, 28, 1)),
                             layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
                             layers.MaxPooling2D(pool_size=(2, 2)),
                             layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
                             layers.MaxPooling2D(pool_size=(2, 2)),
                             layers.Flatten(), layers.Dropout(0.5),
                             layers.Dense(10, activation="softmax")])


@needs_data
def test_mnist_convnet_trains_with_bcadam_and_exports_packed(tmp_path):
    from tensorflow import keras
    keras.utils.set_random_seed(0)
    (x_train, y_train), (x_test, y_test) = arrays.load_fashion_mnist()
    x_train, x_test = (x[..., None].astype("float32") / 255 for x in (x_train[:3000], x_test[:1000]))
    y_train, y_test = (keras.utils.to_categorical(y, 10) for y in (y_train[:3000], y_test[:1000]))
    model = published_convnet(keras)
    model.compile(loss="categorical_crossentropy", optimizer=tfquant.BCAdam(), metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=1, validation_split=0.1, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert np.isfinite(loss) and accuracy > 0.4  # chance 0.10; 2 epochs of 6,000 reached 0.70
    print(f"\ntest accuracy {accuracy:.3f}")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for layer in convs:
        assert set(np.unique(np.asarray(layer.kernel))) == {-1.0, 1.0}
    assert len(np.unique(np.asarray(model.layers[-1].kernel))) > 2  # the dense layer stays float
    binary = sum(int(np.prod(layer.kernel.shape)) for layer in convs)
    for fmt in ("packed", "packed-int8"):
        report = tfquant.tflite.export(model, tmp_path / f"{fmt}.tflite", format=fmt, calibration=x_train[:256],
                                       normalization="none")
        assert sum(r["weights"] for r in report["layers"] if r["stored_as"] == "1-bit") == binary
        assert report["file_bytes"] < report["float32_bytes"]
        print(f"\n{fmt}: ratio {report['ratio_to_float32']:.3f}, relative error "
              f"{max(f['relative_error'] for f in report['verification_sets'].values()):.3g}")

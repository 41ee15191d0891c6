"""Is a Keras Application's int8 refusal the 1-bit filters or int8 itself? Train the same net twice, with
`tfquant.BCAdam()` (conv kernels ±1) and with `keras.optimizers.Adam` (float weights), then export the first as
`packed` and `packed-int8` and the second as `float32` and `int8`, with the same verification limits.

`python -m benchmarks.application_int8 --app MobileNetV2 --images 10000 --epochs 2` (about 6 minutes on 2 cores):
the Application at 32x32x3 (Fashion-MNIST resized, grey tiled to 3 channels, 0..255), weights=None, classes=10,
lr 1e-3, batch 64, seed 0; batch norms settled on 512 training images (`tfquant.recipes.settle_batch_norms`:
Keras's MobileNets use momentum 0.999, which leaves the moving statistics at their start after a few hundred
steps); 256 training images calibrate; accuracy on the first 2,000 test images. Prints one line per export.
"""
import argparse

import keras
import numpy as np

import tfquant
import tfquant.recipes
import tfquant.tflite
from tfquant import arrays

SHAPE = (32, 32, 3)
# The Keras Applications tfquant is tested on (tests/tflite/test_keras_applications.py), with the smallest alpha
# each offers: keyword arguments beside input_shape=SHAPE, weights=None, classes=10.
APPS = {"MobileNet": dict(alpha=0.25), "MobileNetV2": dict(alpha=0.35), "MobileNetV3Small": dict(alpha=0.75),
        "ResNet50": {}, "EfficientNetB0": {}, "DenseNet121": {}, "NASNetMobile": {}}


def application(name):
    """Keras Application `name` as the installed Keras ships it, untrained, for 32x32x3 inputs and 10 classes."""
    return getattr(keras.applications, name)(input_shape=SHAPE, weights=None, classes=10, **APPS[name])


def fashion_rgb(images):
    """uint8 Fashion-MNIST images (N, 28, 28) as (N, 32, 32, 3) float32 in 0..255: bilinear resize, grey tiled."""
    import tensorflow as tf
    resized = tf.image.resize(images[..., None].astype("float32"), SHAPE[:2]).numpy()
    return np.repeat(resized, 3, axis=-1)


def trained(app, optimizer, x, y, epochs):
    keras.utils.set_random_seed(0)
    model = application(app)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=0)
    tfquant.recipes.settle_batch_norms(model, x[:512])
    return model


def export_line(model, fmt, calibration):
    try:
        report = tfquant.tflite.export(model, None, format=fmt, calibration=calibration)
    except tfquant.tflite.VerificationError as error:
        f = error.figures
        return (f"{fmt}: refused, relative error {f.get('relative_error', float('nan')):.3g}, decisive agreement "
                f"{f.get('decisive_agreement', float('nan')):.3f}, keras_sensitivity "
                f"{f.get('keras_sensitivity', float('nan')):.2g}")
    worst = max(v["relative_error"] for v in report["verification_sets"].values())
    return f"{fmt}: verified, ratio to float32 {report['ratio_to_float32']:.3f}, relative error {worst:.2g}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--app", choices=list(APPS), default="MobileNetV2")
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args(argv)
    (images, labels), (test_images, test_labels) = arrays.load_fashion_mnist()
    x, y = fashion_rgb(images[:args.images]), labels[:args.images]
    xt, yt = fashion_rgb(test_images[:2000]), test_labels[:2000]
    for name, optimizer, formats in [("BC-Adam", tfquant.BCAdam(learning_rate=1e-3), ("packed", "packed-int8")),
                                     ("Adam", keras.optimizers.Adam(1e-3), ("float32", "int8"))]:
        model = trained(args.app, optimizer, x, y, args.epochs)
        accuracy = model.evaluate(xt, yt, verbose=0)[1]
        print(f"{args.app} {name}: test accuracy {accuracy:.4f}; "
              + "; ".join(export_line(model, fmt, x[:256]) for fmt in formats), flush=True)


if __name__ == "__main__":
    main()

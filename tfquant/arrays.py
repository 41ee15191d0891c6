"""The datasets as numpy arrays, with no TensorFlow: what ``tfquant.data``'s pipelines are built on, and what a
machine without TensorFlow (the JAX or PyTorch backend alone) trains from (``training/short_runs.py``).

- Fashion-MNIST: the original ``*-idx?-ubyte.gz`` files, read from the Debian package's directory
  (``apt-get install dataset-fashion-mnist`` -> ``/usr/share/datasets/fashion-mnist``), ``$FASHION_MNIST_DIR``,
  or Keras' cache; else ``keras.datasets.fashion_mnist`` downloads them.
- CIFAR-10/100: ``keras.datasets``.

Images are normalised per channel, ``x = (x/255 - mean_c) / std_c`` (``normalized``), with the training set's
statistics (``channel_stats``).
"""

import gzip
import os
from pathlib import Path

import numpy as np

FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist", "~/.keras/datasets/fashion-mnist")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class DatasetUnavailable(RuntimeError):
    """A dataset is neither on disk nor downloadable; the message says how to get it."""


def _read_idx(path):
    """Read one gzipped IDX file (big-endian header: magic, dims) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist_dir():
    """The first directory holding the four Fashion-MNIST files, or None."""
    candidates = [os.environ.get("FASHION_MNIST_DIR"), *FASHION_MNIST_DIRS]
    for d in filter(None, candidates):
        d = Path(d).expanduser()
        if all((d / f).is_file() for f in FASHION_MNIST_FILES):
            return d
    return None


def load_fashion_mnist():
    """((x_train, y_train), (x_test, y_test)): uint8 images (N, 28, 28) and uint8 labels (N,)."""
    d = fashion_mnist_dir()
    if d is not None:
        xtr, ytr, xte, yte = (_read_idx(d / f) for f in FASHION_MNIST_FILES)
        return (xtr, ytr), (xte, yte)
    try:
        return _keras_load("fashion_mnist")
    except DatasetUnavailable as e:
        raise DatasetUnavailable(
            f"{e} Or, on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist` (files go to "
            f"{FASHION_MNIST_DIRS[0]}), or point $FASHION_MNIST_DIR at a folder holding "
            f"{', '.join(FASHION_MNIST_FILES)}.") from None


def _keras_load(name):
    """``keras.datasets.<name>.load_data()``, turning a failed download into a clear error."""
    import keras
    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as e:  # urllib/HTTP errors differ per Python version and backend
        raise DatasetUnavailable(
            f"{name} is not in Keras' cache (~/.keras/datasets) and downloading it failed "
            f"({type(e).__name__}: {e}). Run `python -c 'import keras; keras.datasets.{name}.load_data()'` "
            f"on a machine with a network and copy ~/.keras/datasets here.") from None


def load_cifar(num_classes=10):
    """CIFAR-10 or CIFAR-100 as uint8 ((x_train, y_train), (x_test, y_test)), labels flattened."""
    if num_classes not in (10, 100):
        raise ValueError(f"CIFAR has 10 or 100 classes, not {num_classes}")
    (xtr, ytr), (xte, yte) = _keras_load(f"cifar{num_classes}")
    return (xtr, ytr.reshape(-1)), (xte, yte.reshape(-1))


def channel_stats(x):
    """Per-channel mean and standard deviation of uint8 images scaled to [0, 1]."""
    x = x.reshape(len(x), -1, x.shape[-1] if x.ndim == 4 else 1).astype(np.float64) / 255.0
    return x.mean(axis=(0, 1)).astype(np.float32), x.std(axis=(0, 1)).astype(np.float32)


def normalized(images, mean, std):
    """8-bit images as a model's input, float32 ``x = (p/255 - mean_c) / std_c``; (N, H, W) grey images get a
    channel axis."""
    x = images if images.ndim == 4 else images[..., None]
    return (x.astype(np.float32) / np.float32(255) - mean) / std


def subset(x, y, n, seed=0):
    """The first ``n`` examples of a fixed random permutation (the same for every run seed)."""
    if n is None or n >= len(x):
        return x, y
    if n <= 0:
        raise ValueError(f"--train-subset must be positive, got {n}")
    idx = np.random.default_rng(seed).permutation(len(x))[:n]
    return x[idx], y[idx]

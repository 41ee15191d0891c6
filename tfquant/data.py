"""Data for the paper's experiments: Fashion-MNIST, CIFAR-10/100 and ImageNet as ``tf.data`` pipelines.

- Fashion-MNIST: the original ``*-idx?-ubyte.gz`` files, read from the Debian package's directory
  (``apt-get install dataset-fashion-mnist`` -> ``/usr/share/datasets/fashion-mnist``), ``$FASHION_MNIST_DIR``,
  or Keras' cache; else ``keras.datasets.fashion_mnist`` downloads them.
- CIFAR-10/100: ``keras.datasets`` with He et al.'s augmentation, as in the paper: zero-pad 4, random 32x32
  crop, random horizontal flip.
- ImageNet (ILSVRC 2012): ``tensorflow_datasets`` (``pip install 'tfquant[imagenet]'``; the archives must be
  downloaded by hand), random-resized 224 crop + flip for training, resize 256 + centre 224 crop for testing.

Every image is normalised per channel, ``x = (x/255 - mean_c) / std_c``, with the training set's statistics.

Training pipelines are a pure function of ``(seed, epoch)``: epoch ``e`` is shuffled and augmented with
seeds derived from ``(seed, e)`` (stateless random ops), so a run resumed at epoch ``e`` sees exactly the
batches an uninterrupted run would have seen.
"""

import numpy as np
import tensorflow as tf

from tfquant.arrays import (  # noqa: F401
    FASHION_MNIST_DIRS,
    FASHION_MNIST_FILES,
    DatasetUnavailable,
    channel_stats,
    fashion_mnist_dir,
    load_cifar,
    load_fashion_mnist,
    subset,
)

AUTOTUNE = tf.data.AUTOTUNE
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _augment_cifar(image, seed):
    """He et al.'s augmentation of one uint8 32x32x3 image: zero-pad 4, random 32x32 crop, random flip."""
    padded = tf.image.pad_to_bounding_box(image, 4, 4, 40, 40)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    cropped = tf.image.stateless_random_crop(padded, (32, 32, 3), seed=seeds[0])
    return tf.image.stateless_random_flip_left_right(cropped, seed=seeds[1])


def array_pipeline(x, y, batch_size, seed, start_epoch=0, epochs=1, augment=None):
    """Training batches for epochs ``start_epoch..epochs-1`` from in-memory uint8 arrays.

    Epoch ``e`` is a permutation seeded by ``(seed, e)``; ``augment(image, seed)`` (if given) gets a
    per-example stateless seed derived from ``(seed, e, index)``. Partial final batches are kept.
    """
    x = x if x.ndim == 4 else x[..., None]
    images, labels = tf.constant(x), tf.constant(y.astype(np.int32))

    def one_epoch(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(x), dtype=tf.int64),
                                                        seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        ds = tf.data.Dataset.from_tensor_slices(order)
        if augment is None:
            return ds.batch(batch_size).map(lambda i: (tf.gather(images, i), tf.gather(labels, i)),
                                            num_parallel_calls=AUTOTUNE)
        return ds.map(lambda i: (augment(images[i], tf.stack([seed * 1_000_003 + epoch, i])), labels[i]),
                      num_parallel_calls=AUTOTUNE).batch(batch_size)

    epochs_ds = tf.data.Dataset.range(start_epoch, epochs)
    return epochs_ds.flat_map(lambda e: one_epoch(tf.cast(e, tf.int64))).prefetch(AUTOTUNE)


def _normalizer(mean, std):
    mean, std = tf.constant(mean, tf.float32), tf.constant(std, tf.float32)
    return lambda images, labels: ((tf.cast(images, tf.float32) / 255.0 - mean) / std, labels)


class Data:
    """A dataset ready for ``model.fit``: ``train(batch_size, seed, start_epoch, epochs)`` and ``test(batch_size)``.

    Attributes: ``name``, ``input_shape``, ``num_classes``, ``train_size``, ``steps_per_epoch(batch_size)``.
    """

    def __init__(self, name, train_fn, test_fn, input_shape, num_classes, train_size):
        self.name, self._train_fn, self._test_fn = name, train_fn, test_fn
        self.input_shape, self.num_classes, self.train_size = input_shape, num_classes, train_size

    def steps_per_epoch(self, batch_size):
        return -(-self.train_size // batch_size)

    def train(self, batch_size, seed=0, start_epoch=0, epochs=1):
        return self._train_fn(batch_size, seed, start_epoch, epochs)

    def test(self, batch_size=1000):
        return self._test_fn(batch_size)


def _from_arrays(name, train, test, num_classes, augment=None):
    (xtr, ytr), (xte, yte) = train, test
    mean, std = channel_stats(xtr)
    norm = _normalizer(mean, std)
    xte = xte if xte.ndim == 4 else xte[..., None]

    def train_fn(batch_size, seed, start_epoch, epochs):
        ds = array_pipeline(xtr, ytr, batch_size, seed, start_epoch, epochs, augment)
        return ds.map(norm, num_parallel_calls=AUTOTUNE)

    def test_fn(batch_size):
        ds = tf.data.Dataset.from_tensor_slices((xte, yte.astype(np.int32))).batch(batch_size)
        return ds.map(norm, num_parallel_calls=AUTOTUNE).cache().prefetch(AUTOTUNE)

    return Data(name, train_fn, test_fn, xte.shape[1:], num_classes, len(xtr))


def imagenet_train_map(image, label, seed):
    """Random-resized crop (8-100% of the area, aspect 3/4-4/3) to 224x224, random flip, normalise."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), tf.zeros((1, 0, 4)), seed=seeds[0], area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3), use_image_if_no_bounding_boxes=True)
    image = tf.image.resize(tf.slice(image, begin, size), (224, 224))
    image = tf.image.stateless_random_flip_left_right(image, seed=seeds[1])
    return (image / 255.0 - IMAGENET_MEAN) / IMAGENET_STD, label


def imagenet_test_map(image, label):
    """Resize to 256x256, centre 224x224 crop, normalise."""
    image = tf.image.resize(image, (256, 256))[16:240, 16:240]
    return (image / 255.0 - IMAGENET_MEAN) / IMAGENET_STD, label


def _imagenet():
    """ImageNet 2012 through tensorflow-datasets (needs the manual download; see module docstring)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DatasetUnavailable("ImageNet needs tensorflow-datasets: pip install 'tfquant[imagenet]'") from None
    try:
        builder = tfds.builder("imagenet2012")
        builder.download_and_prepare()
    except Exception as e:  # tfds raises AssertionError/FileNotFoundError/... when the manual files are missing
        raise DatasetUnavailable(
            f"ImageNet 2012 is not prepared ({type(e).__name__}: {e}). Download ILSVRC2012_img_train.tar and "
            f"ILSVRC2012_img_val.tar from image-net.org into ~/tensorflow_datasets/downloads/manual/ "
            f"and rerun.") from None

    def train_fn(batch_size, seed, start_epoch, epochs):
        base = builder.as_dataset(split="train", as_supervised=True, shuffle_files=False)

        def one_epoch(epoch):
            ds = base.shuffle(10_000, seed=seed * 1_000_003 + epoch).enumerate()
            return ds.map(lambda i, ex: imagenet_train_map(*ex, tf.stack([seed * 1_000_003 + epoch, i])),
                          num_parallel_calls=AUTOTUNE).batch(batch_size)
        return tf.data.Dataset.range(start_epoch, epochs).flat_map(one_epoch).prefetch(AUTOTUNE)

    def test_fn(batch_size):
        ds = builder.as_dataset(split="validation", as_supervised=True)
        return ds.map(imagenet_test_map, num_parallel_calls=AUTOTUNE).batch(batch_size).prefetch(AUTOTUNE)

    size = builder.info.splits["train"].num_examples
    return Data("imagenet", train_fn, test_fn, (224, 224, 3), 1000, size)


DATASETS = ("fashion_mnist", "cifar10", "cifar100", "imagenet")


def load(name, train_subset=None):
    """The ``Data`` for ``name`` (one of ``DATASETS``), optionally on a fixed random training subset."""
    if name == "fashion_mnist":
        train, test = load_fashion_mnist()
        return _from_arrays(name, subset(*train, train_subset), test, 10)
    if name in ("cifar10", "cifar100"):
        classes = int(name[5:])
        train, test = load_cifar(classes)
        return _from_arrays(name, subset(*train, train_subset), test, classes, augment=_augment_cifar)
    if name == "imagenet":
        if train_subset is not None:
            raise ValueError("--train-subset is not supported for imagenet")
        return _imagenet()
    raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")

"""Data loading on the real Fashion-MNIST files, the tf.data pipelines, and CIFAR's augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from tfquant import data

needs_fashion_mnist = pytest.mark.skipif(
    data.fashion_mnist_dir() is None,
    reason="Fashion-MNIST files not installed (apt-get install dataset-fashion-mnist)")


@needs_fashion_mnist
def test_fashion_mnist_files_load_as_uint8_with_balanced_labels():
    (xtr, ytr), (xte, yte) = data.load_fashion_mnist()
    assert xtr.shape == (60000, 28, 28) and xte.shape == (10000, 28, 28)
    assert xtr.dtype == ytr.dtype == np.uint8
    assert np.array_equal(np.bincount(ytr), np.full(10, 6000))
    assert np.array_equal(np.bincount(yte), np.full(10, 1000))
    assert 70 < xtr.mean() < 80  # the published mean pixel of Fashion-MNIST is 72.9


@needs_fashion_mnist
def test_pipeline_is_normalised_covers_the_subset_and_resumes_identically():
    d = data.load("fashion_mnist", train_subset=1000)
    assert d.input_shape == (28, 28, 1) and d.train_size == 1000 and d.steps_per_epoch(128) == 8
    full = [(x.numpy(), y.numpy()) for x, y in d.train(128, seed=5, start_epoch=0, epochs=3)]
    assert len(full) == 24
    epoch0 = np.concatenate([x for x, _ in full[:8]])
    assert abs(epoch0.mean()) < 0.05 and abs(epoch0.std() - 1) < 0.05
    labels = [np.sort(np.concatenate([y for _, y in full[8 * e: 8 * e + 8]])) for e in range(3)]
    assert np.array_equal(labels[0], labels[1])  # every epoch is a permutation of the same subset
    assert not np.array_equal(full[0][1], full[8][1])  # ... in a different order
    resumed = [(x.numpy(), y.numpy()) for x, y in d.train(128, seed=5, start_epoch=2, epochs=3)]
    for (xa, ya), (xb, yb) in zip(full[16:], resumed):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    test = list(d.test(1000))
    assert sum(len(y) for _, y in test) == 10000


def test_cifar_augmentation_is_a_padded_shift_or_its_mirror():
    image = np.random.default_rng(0).integers(1, 255, (32, 32, 3), dtype=np.uint8)
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    crops = [padded[i:i + 32, j:j + 32] for i in range(9) for j in range(9)]
    candidates = crops + [c[:, ::-1] for c in crops]
    seen = set()
    for s in range(20):
        out = data._augment_cifar(tf.constant(image), tf.constant([s, 7], tf.int64)).numpy()
        match = [k for k, c in enumerate(candidates) if np.array_equal(out, c)]
        assert match, "augmented image is not a shifted/flipped copy of the input"
        seen.add(match[0])
    assert len(seen) > 5  # the crops and flips vary with the seed


def test_imagenet_maps_give_normalised_224_crops():
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    train, label = data.imagenet_train_map(image, 7, tf.constant([3, 4], tf.int64))
    test, _ = data.imagenet_test_map(image, 7)
    assert train.shape == test.shape == (224, 224, 3) and label == 7
    assert abs(float(tf.reduce_mean(test))) < 0.5 and 0.8 < float(tf.math.reduce_std(test)) < 1.5


def test_unknown_dataset_and_bad_subset_are_clear_errors():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'.*fashion_mnist"):
        data.load("mnist")
    with pytest.raises(ValueError, match="--train-subset must be positive"):
        data.subset(np.zeros((10, 2)), np.zeros(10), 0)


def test_missing_cifar_says_how_to_get_it():
    try:
        data.load_cifar(10)
    except data.DatasetUnavailable as e:
        assert "load_data()" in str(e) and "~/.keras/datasets" in str(e)
    else:
        pytest.skip("CIFAR-10 is available here (cached or downloadable)")

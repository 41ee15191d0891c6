"""The counter-based noise of stochastic rounding: exact reference values, uniformity, independence."""

import numpy as np
from keras import ops

from tfquant import counter_rng


def _mix(x):
    x = np.uint64(x) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    return x ^ (x >> np.uint64(16))


def reference(n, seed, step, stream):
    key = _mix(_mix(_mix(seed) ^ np.uint64(step)) ^ np.uint64(stream))
    i = np.arange(n, dtype=np.uint64)
    bits = _mix(((i * np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)) ^ key)
    return (bits & np.uint64(0xFFFFFF)).astype(np.float64) * 2.0**-24


def draw(shape, seed, step, stream):
    return np.asarray(ops.convert_to_numpy(counter_rng.uniform(shape, seed, step, stream)))


def test_matches_the_numpy_reference_bit_for_bit():
    """The same (seed, step, stream) gives the same bits on every backend: this is what makes SR reproducible."""
    np.testing.assert_array_equal(draw((50, 40), 12345, 77, 3).ravel(), reference(2000, 12345, 77, 3))
    np.testing.assert_array_equal(draw((10,), 0, ops.convert_to_tensor(5, "int64"), 0), reference(10, 0, 5, 0))


def test_uniform_on_unit_interval():
    """Chi-square over 64 bins of 2**18 draws: the 99.99% quantile of chi2(63) is 118."""
    u = draw((1 << 18,), 1, 2, 3)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts = np.histogram(u, bins=64, range=(0, 1))[0]
    expected = len(u) / 64
    assert ((counts - expected) ** 2 / expected).sum() < 118


def test_streams_and_steps_are_independent():
    """Correlations between neighbouring steps, streams and seeds are those of independent draws (|r| < 5/sqrt(n))."""
    n = 1 << 16
    base = draw((n,), 1, 10, 0)
    for other in (draw((n,), 1, 11, 0), draw((n,), 1, 10, 1), draw((n,), 2, 10, 0)):
        assert abs(np.corrcoef(base, other)[0, 1]) < 5 / np.sqrt(n)
    assert abs(np.corrcoef(base[:-1], base[1:])[0, 1]) < 5 / np.sqrt(n)

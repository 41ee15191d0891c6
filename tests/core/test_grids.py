"""The one grid detector (tfquant.grids): binary and k-bit grids, per layer or per output channel, from values."""
import numpy as np
import pytest

from tfquant import grids

RNG = np.random.default_rng(0)


def signs(shape):
    return np.where(RNG.standard_normal(shape) < 0, -1.0, 1.0)


def test_binary_scales_per_channel_axis():
    s = RNG.uniform(0.1, 2, 5)
    w = signs((5, 3, 3, 4)) * s[:, None, None, None]
    found = grids.detect(w, (0,))
    assert found.kind == grids.BINARY and found.per_channel and found.bits == 1
    np.testing.assert_allclose(found.scales, s)
    assert grids.detect(w, (3,)) is None  # along the wrong axis: random magnitudes, no grid
    w[2, 0, 0, 0] *= 1.01
    assert grids.detect(w, (0,)) is None


def test_one_scale_is_a_per_layer_binary_grid():
    found = grids.detect(0.25 * signs((3, 3, 2, 4)), (3,))
    assert (found.kind, found.per_channel, found.scales) == (grids.BINARY, False, (0.25,) * 4)
    assert found.text == "binary ±s per layer"


def test_grid_detection_and_bits():
    j = RNG.integers(-3, 4, (4, 30))
    j[:, 0] = 3
    found = grids.detect(j * 0.05, (0,))
    assert (found.kind, found.levels, found.bits, found.per_channel) == (grids.GRID, 3, 3, False)
    np.testing.assert_allclose(found.scales, 0.05)
    assert grids.detect(RNG.standard_normal((4, 30)), (0,)) is None


def test_a_step_missing_from_the_values_is_found_as_a_divisor():
    """{±0.2, ±0.3}: no weight is ±Δ, yet the values are j·0.1 with |j| <= 3."""
    found = grids.detect(np.array([0.2, -0.3, 0.3, -0.2, 0.2]))
    assert (found.levels, found.bits) == (3, 3)
    np.testing.assert_allclose(found.scales, 0.1)


def test_the_issue_example_is_a_3_bit_grid_per_channel():
    """Channels {±0.1, ±0.2} and {±0.15, ±0.3}: one step per channel (3 bits) beats one step 0.05 (|j| <= 6, 4 bits)."""
    w = np.stack([0.1 * RNG.integers(1, 3, 18) * signs(18), 0.15 * RNG.integers(1, 3, 18) * signs(18)], -1)
    w[0] = [0.2, 0.3]  # both levels in each channel
    w[1] = [0.1, 0.15]
    found = grids.detect(w.reshape(3, 3, 2, 2).astype("float32"), (3,))
    assert (found.kind, found.levels, found.bits, found.per_channel) == (grids.GRID, 2, 3, True)
    np.testing.assert_allclose(found.scales, [0.1, 0.15], rtol=1e-6)
    assert found.text == "3-bit grid (|j| <= 2) per channel"
    per_layer = grids.detect(w.astype("float32"))  # without the channel axes only one step can be tried
    assert (per_layer.levels, per_layer.bits, per_layer.per_channel) == (6, 4, False)


@pytest.mark.parametrize("values", [np.zeros(5), np.array([1.0, np.nan]), np.array([]), np.arange(-300, 301) * 0.01])
def test_no_grid(values):
    assert grids.detect(values) is None
    assert grids.text(None) == "not on a grid"


def test_declared_grids_make_the_same_record():
    w = signs((3, 3, 2, 4)) * np.array([0.1, 0.2, 0.3, 0.4])
    assert grids.of_quantizer(grids.BINARY, None, 1, 1, w, (3,)) == grids.detect(w, (3,))
    j = RNG.integers(-3, 4, (3, 3, 2, 4)) * 0.05
    j.flat[0] = 0.15
    assert grids.of_quantizer(grids.GRID, 0.05, 3, 3, j, (3,)).text == grids.detect(j, (3,)).text

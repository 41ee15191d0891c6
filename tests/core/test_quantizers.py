"""Grids and rounding: eq. (3) and (5), clipping, bits, serialization, and SR's unbiasedness."""

import keras
import numpy as np
import pytest
from keras import ops

import tfquant
from tfquant import counter_rng, quantizers

RNG = np.random.default_rng(0)


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


def eq3(w, delta, levels=None):
    q = np.sign(w) * delta * np.floor(np.abs(w) / delta + 0.5)
    return q if levels is None else np.clip(q, -levels * delta, levels * delta)


@pytest.mark.parametrize("delta,bits", [(0.05, 3), (0.5, 2), (1.0, 4), (0.3, None)])
def test_deterministic_rounding_is_eq3(delta, bits):
    w = RNG.normal(scale=3 * delta * 4, size=5000).astype("float32")
    w[:5] = np.array([0.5, -0.5, 1.5, -1.5, 0.0]) * delta  # ties round away from zero
    q = tfquant.Uniform(delta, bits)
    got = np_(q.deterministic(w))
    np.testing.assert_allclose(got, eq3(w.astype("float64"), delta, q.levels), rtol=0, atol=1e-6)
    assert np.all(np_(q.on_grid(got)))


def test_binary_deterministic_is_sign_with_zero_up():
    w = np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0], "float32")
    np.testing.assert_array_equal(np_(tfquant.Binary(0.5).deterministic(w)), [-0.5, -0.5, 0.5, 0.5, 0.5])


def test_ternary_grid_and_levels():
    q = tfquant.Uniform(0.25, bits=2)
    assert q.levels == 1
    got = np_(q.deterministic(np.linspace(-2, 2, 101).astype("float32")))
    assert set(np.unique(got)) == {-0.25, 0.0, 0.25}


@pytest.mark.parametrize("quantizer", [tfquant.Binary(0.5), tfquant.Uniform(0.1, 3), tfquant.Uniform(0.2, None)])
def test_stochastic_rounding_lands_on_the_two_neighbours_and_clips(quantizer):
    w = RNG.uniform(-3, 3, size=4000).astype("float32")
    got = np_(quantizer.stochastic(w, counter_rng.uniform(w.shape, 1, 0, 0)))
    assert np.all(np_(quantizer.on_grid(got)))
    clipped = np_(quantizer.clip(w))
    step = 2 * quantizer.delta if isinstance(quantizer, tfquant.Binary) else quantizer.delta
    assert np.all(np.abs(got - clipped) <= step + 1e-6)


@pytest.mark.parametrize("quantizer", [tfquant.Binary(1.0), tfquant.Uniform(0.05, 3), tfquant.Uniform(0.5, None)])
def test_stochastic_rounding_is_unbiased(quantizer):
    """E[Qs(w)] = w inside the domain (eq. 5). 4000 draws per value; each of 20 sample means must lie within
    4.5 standard errors (two-sided p = 7e-6 per value, so a false alarm has probability < 2e-4)."""
    if isinstance(quantizer, tfquant.Binary):
        span = quantizer.delta
    else:  # the domain, or 5 steps of the unbounded grid
        span = quantizer.delta * (quantizer.levels or 5)
    values = np.linspace(-0.95, 0.95, 20).astype("float32") * span
    draws = 4000
    w = np.repeat(values[None, :], draws, axis=0)
    samples = np_(quantizer.stochastic(w, counter_rng.uniform(w.shape, 7, 0, 3)))
    mean, stderr = samples.mean(axis=0), samples.std(axis=0, ddof=1) / np.sqrt(draws)
    z = np.abs(mean - values) / np.maximum(stderr, 1e-12)
    assert np.all(z < 4.5), (values, mean, z)


@pytest.mark.parametrize("quantizer", [tfquant.Binary(1.0), tfquant.Uniform(0.05, 3), tfquant.Uniform(0.1, None)])
def test_points_on_the_grid_are_fixed_points(quantizer):
    """Qs and Qd leave grid values where they are, for every noise draw (weights on the grid stay there)."""
    w = np_(quantizer.deterministic(RNG.normal(size=20000).astype("float32")))
    for step in range(5):
        noise = counter_rng.uniform(w.shape, 3, step, 0)
        np.testing.assert_array_equal(np_(quantizer.stochastic(w, noise)), w)
    np.testing.assert_array_equal(np_(quantizer.deterministic(w)), w)


EXTREME_NOISE = (0.0, 1.0 - 2.0**-24)  # the smallest and largest values counter_rng can draw
GRIDS = [
    tfquant.Binary(1.0), tfquant.Binary(0.3), tfquant.Binary(0.05),
    tfquant.Uniform(0.25, bits=2), tfquant.Uniform(0.1, bits=2), tfquant.Uniform(0.05, bits=3),
    tfquant.Uniform(0.3, bits=3), tfquant.Uniform(1.0, bits=4), tfquant.Uniform(0.07, bits=4),
    tfquant.Uniform(0.1), tfquant.Uniform(0.25), tfquant.Uniform(1e-3),
]


def every_grid_point(quantizer):
    """Each grid point, written as the deterministic rounding writes it (unbounded grids: |k| <= 4096)."""
    if isinstance(quantizer, tfquant.Binary):
        steps = np.array([-1.0, 1.0])
    else:
        levels = quantizer.levels or 4096
        steps = np.arange(-levels, levels + 1, dtype="float64")
    return np_(quantizer.deterministic((steps * quantizer.delta).astype("float32")))


@pytest.mark.parametrize("quantizer", GRIDS, ids=repr)
@pytest.mark.parametrize("u", EXTREME_NOISE, ids=["u=0", "u=1-2^-24"])
def test_every_grid_point_stays_put_at_the_extreme_noise_values(quantizer, u):
    """Qs(w) = w exactly for every grid point w and both extremes of u, so SR never leaves the grid (the
    textbook floor(w/Delta + u) moved 0.25 to 0.5 on Uniform(0.25, bits=2) at u = 1 - 2**-24)."""
    w = every_grid_point(quantizer)
    expected = 2 if isinstance(quantizer, tfquant.Binary) else 2 * (quantizer.levels or 4096) + 1
    assert len(np.unique(w)) == expected
    got = np_(quantizer.stochastic(w, np.full(w.shape, u, "float32")))
    np.testing.assert_array_equal(got, w)
    assert np.all(np_(quantizer.on_grid(got)))


@pytest.mark.parametrize("quantizer", GRIDS, ids=repr)
def test_off_grid_values_go_up_at_u0_and_down_at_the_largest_u(quantizer):
    """Between two grid points, u = 0 always rounds up and u = 1 - 2**-24 down (unless within 2**-24 of
    the upper point); outside a bounded domain the result is the nearest end point."""
    points = every_grid_point(quantizer)
    lower, upper = points[:-1], points[1:]
    middle = (lower + 0.37 * (upper - lower)).astype("float32")
    for u, expected in zip(EXTREME_NOISE, (upper, lower)):
        got = np_(quantizer.stochastic(middle, np.full(middle.shape, u, "float32")))
        np.testing.assert_array_equal(got, expected)
    if isinstance(quantizer, tfquant.Binary) or quantizer.levels is not None:
        outside = np.array([-1.0, 1.0], "float32") * (points[-1] * 1.5 + 1.0)
        for u in EXTREME_NOISE:
            got = np_(quantizer.stochastic(outside, np.full(2, u, "float32")))
            np.testing.assert_array_equal(got, [points[0], points[-1]])


def test_scaled_binary_uses_mean_abs_per_output_channel():
    w = RNG.normal(size=(3, 3, 4, 5)).astype("float32")
    got = np_(tfquant.ScaledBinary(channel_axes=(3,)).deterministic(w))
    scale = np.abs(w).mean(axis=(0, 1, 2))
    np.testing.assert_allclose(got, np.where(w >= 0, 1, -1) * scale, rtol=1e-6)
    assert np.all(np_(tfquant.ScaledBinary((3,)).on_grid(got)))
    assert not np.all(np_(tfquant.ScaledBinary((3,)).on_grid(w)))


def test_scaled_binary_without_axes_refuses_a_kernel_instead_of_guessing_its_layout():
    with pytest.raises(ValueError, match="channel_axes"):
        tfquant.ScaledBinary().deterministic(RNG.normal(size=(3, 3, 4, 5)).astype("float32"))
    w = np.array([0.5, -1.5], "float32")  # one channel: one scale, nothing to guess
    np.testing.assert_allclose(np_(tfquant.ScaledBinary().deterministic(w)), [1.0, -1.0])


@pytest.mark.parametrize("quantizer", [tfquant.Binary(0.5), tfquant.Uniform(0.05, bits=3), tfquant.ScaledBinary()])
def test_quantizers_serialize(quantizer):
    config = keras.saving.serialize_keras_object(quantizer)
    assert keras.saving.deserialize_keras_object(config) == quantizer
    assert quantizers.get(config) == quantizer


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: tfquant.Binary(0), "delta"),
        (lambda: tfquant.Binary(-1.0), "delta"),
        (lambda: tfquant.Uniform("0.1"), "delta"),
        (lambda: tfquant.Uniform(0.1, bits=1), "bits"),
        (lambda: tfquant.Uniform(0.1, bits=2.5), "bits"),
        (lambda: quantizers.get("ternary"), "Unknown quantizer"),
    ],
)
def test_bad_quantizer_arguments_are_refused_clearly(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bits_per_weight():
    assert tfquant.Binary().bits == 1 and tfquant.ScaledBinary().bits == 1
    assert tfquant.Uniform(0.1, 3).bits == 3 and tfquant.Uniform(0.1).bits is None

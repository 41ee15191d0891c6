"""`.keras` round trips and exact resume: full-precision buffers, selection and SR's random state survive."""

import keras
import numpy as np
import pytest

import tfquant
from tests.conftest import compile_model, small_cnn, toy_data

METHODS = {
    "bc": lambda: tfquant.BCAdam(1e-2, quantizer=tfquant.ScaledBinary()),
    "bc-stochastic": lambda: tfquant.BCSGD(0.05, momentum=0.9, rounding="stochastic", seed=11, weight_decay=1e-3),
    "sr": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), seed=12),
    "r": lambda: tfquant.RAdam(1e-2),
}


def fresh_model(optimizer):
    keras.utils.set_random_seed(0)
    return compile_model(small_cnn(name="net"), optimizer)


@pytest.mark.parametrize("make", METHODS.values(), ids=METHODS.keys())
def test_resume_from_a_keras_file_is_bit_identical(make, tmp_path):
    """N steps, save, load in a fresh object, M more steps == N + M uninterrupted steps, bit for bit."""
    x, y = toy_data(n=64)
    fit = dict(batch_size=16, verbose=0, shuffle=False)

    straight = fresh_model(make())
    straight.fit(x, y, epochs=2, **fit)

    first = fresh_model(make())
    first.fit(x, y, epochs=1, **fit)
    first.save(tmp_path / "half.keras")
    resumed = keras.models.load_model(tmp_path / "half.keras")
    assert type(resumed.optimizer) is type(first.optimizer)
    resumed.fit(x, y, epochs=1, **fit)

    assert len(straight.variables) == len(resumed.variables)
    for a, b in zip(straight.variables, resumed.variables):
        np.testing.assert_array_equal(np.array(b), np.array(a), err_msg=a.path)
    for a, b in zip(straight.optimizer.variables, resumed.optimizer.variables):
        np.testing.assert_array_equal(np.array(b), np.array(a), err_msg=a.path)


def test_round_trip_keeps_buffers_config_and_a_callable_selection(tmp_path):
    grid = tfquant.Uniform(0.1, bits=2)
    optimizer = tfquant.BCAdam(1e-2, quantize=lambda v: grid if v.name == "kernel" else False, seed=5)
    model = fresh_model(optimizer)
    x, y = toy_data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    restored = loaded.optimizer
    assert restored.seed == 5 and restored.rounding == "deterministic"
    for original, copy in zip(model.trainable_variables, loaded.trainable_variables):
        assert restored.quantizer_for(copy) == optimizer.quantizer_for(original)
        if optimizer.quantizer_for(original) is not None:
            np.testing.assert_array_equal(
                np.array(restored.full_precision(copy)), np.array(optimizer.full_precision(original))
            )
    assert restored.quantizer_for(loaded.get_layer("dense").kernel) == grid


def test_custom_base_optimizer_round_trips_once_declared(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Sign(keras.optimizers.SGD):
        pass

    optimizer = tfquant.quantized(Sign, "sr")(0.1, seed=3)
    model = fresh_model(optimizer)
    x, y = toy_data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "c.keras")
    assert type(keras.models.load_model(tmp_path / "c.keras").optimizer).__name__ == "SRSign"

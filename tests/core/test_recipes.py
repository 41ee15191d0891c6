"""tfquant.recipes: the schedules' values, the first conv kept in full precision on the real small_cnn, and the
recipe's optimizer through a .keras file."""

import keras
import numpy as np
import pytest

import tfquant
from tfquant import arrays, models, recipes
from tfquant.cli import train

needs_data = pytest.mark.skipif(arrays.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")


def lr_at(schedule, step):
    return float(schedule(step)) if callable(schedule) else schedule


@pytest.mark.parametrize("epochs", [1, 2, 5, 8, 10, 40, 160])
def test_step_decay_drops_where_the_training_cli_drops(epochs):
    config = train.parse_args(["--model", "small_cnn", "--dataset", "fashion_mnist", "--epochs", str(epochs)])
    drops, steps = config.drop_epochs(), 7
    schedule = recipes.step_decay(0.01, steps, epochs)
    expected = [0.01 / 10 ** sum(step > d * steps for d in drops) for step in range(epochs * steps)]
    assert [lr_at(schedule, s) for s in range(epochs * steps)] == pytest.approx(expected)


def test_main_job_schedule_is_lr_then_tenth_after_epoch_3_and_hundredth_after_4():
    schedule = recipes.step_decay(0.01, 469, 5)
    assert [lr_at(schedule, s) for s in (0, 3 * 469, 3 * 469 + 1, 4 * 469, 4 * 469 + 1)] == pytest.approx(
        [0.01, 0.01, 0.001, 0.001, 0.0001])


def test_cosine_warmup_rises_linearly_then_halves_midway_and_ends_at_zero():
    schedule = recipes.cosine_warmup(0.01, 100, 5)  # 500 steps, 50 of warm-up
    values = [lr_at(schedule, s) for s in (0, 25, 50, 275, 500)]
    assert values == pytest.approx([0.0, 0.005, 0.01, 0.005, 0.0], abs=1e-9)


def built_small_cnn():
    keras.utils.set_random_seed(0)
    return models.build("small_cnn", (28, 28, 1), 10)


@needs_data
def test_binary_adam_binarizes_every_conv_but_the_first_and_survives_a_keras_file(tmp_path):
    (x, y), _ = arrays.load_fashion_mnist()
    x, y = arrays.normalized(x[:256], 72.9, 90.0), y[:256].astype(np.int32)
    model = built_small_cnn()
    model.compile(optimizer=tfquant.recipes.binary_adam(model, steps_per_epoch=4, epochs=2, seed=3),
                  loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    kernels = {v.path.split("/")[0]: v for v in model.trainable_variables if v.path.endswith("/kernel")}
    assert not np.isin(np.asarray(kernels["conv1"]), [-1.0, 1.0]).all()
    for name in ("conv2", "conv3", "conv4", "conv5", "conv6"):
        assert np.isin(np.asarray(kernels[name]), [-1.0, 1.0]).all(), name
    assert model.optimizer.quantizer_for(kernels["conv1"]) is None
    assert model.optimizer.quantizer_for(kernels["fc1"]) is None  # dense kernels stay float, as in the paper
    # after 4 of 8 steps (1 of warm-up): 3 of the 7 decay steps done
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01 * (1 + np.cos(np.pi * 3 / 7)) / 2)

    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is tfquant.BCAdam
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(model.optimizer.learning_rate))
    for a, b in zip(model.variables, loaded.variables):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=a.path)
    loaded.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(model.trainable_variables, loaded.trainable_variables):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=a.path)


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="no conv kernel"):
        recipes.all_but_first_conv(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="steps_per_epoch and epochs must be positive"):
        recipes.binary_adam(built_small_cnn(), steps_per_epoch=0, epochs=5)


def test_settle_batch_norms_sets_the_moving_statistics_of_nested_models_and_keeps_momentum():
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.BatchNormalization(momentum=0.9)])
    model = keras.Sequential([keras.Input((5,)), inner, keras.layers.BatchNormalization()])
    inputs = np.random.default_rng(0).normal(3.0, 2.0, (64, 5)).astype("float32")
    tfquant.recipes.settle_batch_norms(model, inputs)
    norm = inner.layers[-1]
    hidden = np.asarray(inner.layers[0](inputs))
    np.testing.assert_allclose(np.asarray(norm.moving_mean), hidden.mean(axis=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), hidden.var(axis=0), rtol=1e-3)
    assert norm.momentum == 0.9 and model.layers[-1].momentum == 0.99
    with pytest.raises(ValueError, match="no BatchNormalization layer"):
        tfquant.recipes.settle_batch_norms(keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)]), inputs)

"""QuantizationMonitor (Figs. 4, 5, 7): its figures equal ones computed from weight snapshots, and they reach
History and TensorBoard."""

import keras
import numpy as np
import pytest

import tfquant
from tests.conftest import BACKEND, compile_model, small_cnn, toy_data


def test_monitor_values_match_snapshots():
    keras.utils.set_random_seed(0)
    optimizer = tfquant.SRAdam(1e-2, seed=0)
    model = compile_model(small_cnn(name="net"), optimizer)
    kernel = model.get_layer("conv2").kernel
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: snapshots.append(np.array(kernel)),
        on_epoch_end=lambda epoch, logs: snapshots.append(np.array(kernel)),
    )
    x, y = toy_data()
    monitor = tfquant.callbacks.QuantizationMonitor(window=2)
    history = model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[monitor, record])
    since = history.history["changed_since_start/net.conv2.kernel"]
    window = history.history["changed_in_window/net.conv2.kernel"]
    for epoch in range(4):
        now = snapshots[epoch + 1]
        assert since[epoch] == pytest.approx(100 * np.mean(now != snapshots[0]))
        assert window[epoch] == pytest.approx(100 * np.mean(now != snapshots[max(0, epoch - 1)]))
    assert since[-1] > 0


def test_bc_gap_is_mean_distance_to_the_buffer():
    keras.utils.set_random_seed(1)
    optimizer = tfquant.BCAdam(1e-2)
    model = compile_model(small_cnn(name="net"), optimizer)
    x, y = toy_data()
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                        callbacks=[tfquant.callbacks.QuantizationMonitor()])
    kernel = model.get_layer("conv1").kernel
    expected = np.mean(np.abs(np.array(kernel) - np.array(optimizer.full_precision(kernel))))
    assert history.history["bc_gap/net.conv1.kernel"][-1] == pytest.approx(expected, rel=1e-6)


def test_monitor_refuses_a_plain_optimizer():
    model = compile_model(small_cnn(), keras.optimizers.Adam())
    x, y = toy_data(n=8)
    with pytest.raises(ValueError, match="tfquant optimizer"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[tfquant.callbacks.QuantizationMonitor()])
    with pytest.raises(ValueError, match="window"):
        tfquant.callbacks.QuantizationMonitor(window=0)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the TensorBoard callback writes through TensorFlow")
def test_values_reach_tensorboard(tmp_path):
    import tensorflow as tf

    model = compile_model(small_cnn(name="net"), tfquant.BCAdam(1e-2))
    x, y = toy_data()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[tfquant.callbacks.QuantizationMonitor(),
                                                     keras.callbacks.TensorBoard(str(tmp_path))])
    tags = {
        value.tag
        for path in (tmp_path / "train").glob("events.out.tfevents.*")
        for event in tf.compat.v1.train.summary_iterator(str(path))
        for value in event.summary.value
    }
    assert {"epoch_changed_since_start/net.conv1.kernel", "epoch_bc_gap/net.conv1.kernel"} <= tags, tags


def test_start_file_keeps_since_start_across_a_resume(tmp_path):
    keras.utils.set_random_seed(2)
    model = compile_model(small_cnn(name="net"), tfquant.SRAdam(1e-2, seed=0))
    x, y = toy_data()
    start = tmp_path / "start.npz"
    initial = []
    record = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: initial.append(np.array(model.get_layer("conv2").kernel)))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[tfquant.callbacks.QuantizationMonitor(start_file=start), record])
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0,
                        callbacks=[tfquant.callbacks.QuantizationMonitor(start_file=start)])
    now = np.array(model.get_layer("conv2").kernel)
    assert (history.history["changed_since_start/net.conv2.kernel"][-1]
            == pytest.approx(100 * np.mean(now != initial[0])))
    other = compile_model(keras.Sequential([keras.Input((10, 10, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                                            keras.layers.Dense(3)]), tfquant.BCAdam())
    with pytest.raises(ValueError, match="another model"):
        other.fit(x, y, epochs=1, verbose=0, callbacks=[tfquant.callbacks.QuantizationMonitor(start_file=start)])


def deep_cnn(convs):
    return keras.Sequential([keras.Input((8, 8, 1))] + [keras.layers.Conv2D(2, 1, name=f"c{i}") for i in range(convs)]
                            + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, name="dense")])


@pytest.mark.parametrize("convs,per_layer,expect_per_layer", [(2, "auto", True), (10, "auto", False),
                                                               (10, True, True), (2, False, False)])
def test_per_layer_values_only_when_asked_or_few(convs, per_layer, expect_per_layer):
    """Means over all quantized weights always; per-variable values for <= 8 variables unless told otherwise."""
    keras.utils.set_random_seed(2)
    optimizer = tfquant.SRAdam(1e-2, seed=0)
    model = compile_model(deep_cnn(convs), optimizer)
    x = np.random.default_rng(0).normal(size=(16, 8, 8, 1)).astype("float32")
    kernels = [v for v in model.trainable_variables if v.name == "kernel" and len(v.shape) == 4]
    snapshot = []
    record = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: snapshot.extend(np.array(v) for v in kernels))
    history = model.fit(x, np.zeros(16, "int32"), batch_size=8, epochs=1, verbose=0,
                        callbacks=[tfquant.callbacks.QuantizationMonitor(per_layer=per_layer), record])
    per_variable = [k for k in history.history if k.startswith("changed_since_start/")]
    assert len(per_variable) == (convs if expect_per_layer else 0)
    now = [np.array(v) for v in kernels]
    changed = sum(int(np.sum(a != b)) for a, b in zip(now, snapshot)) / sum(a.size for a in now)
    assert history.history["changed_since_start"][0] == pytest.approx(100 * changed)

"""tfquant optimizers under every Keras idiom, and against Keras's own optimizer contract.

Three promises are checked here:

* every way of writing and training a Keras model works with R, SR and BC: model styles (Sequential with and
  without ``Input``, functional, subclassed, nested, layers created inside ``fit``) x methods (BC, BC with
  stochastic rounding, SR, R; with and without `QuantizationMonitor`) x training paths (``fit``,
  ``train_on_batch``, a ``tf.GradientTape`` loop, ``optimizer.apply``), plus saving and restoring;
* with nothing selected, a tfquant optimizer *is* its base: the same numbers, bit for bit;
* on a grid so fine that rounding is invisible (``Uniform(1e-6)``, ``quantize="all"``), it passes the checks
  Keras's own optimizer tests make (keras/src/optimizers/optimizer_test.py, adam_test.py), with their
  tolerances: sparse (IndexedSlices) gradients, clipnorm on them, EMA in ``fit``, mixed ``tf.Variable``s,
  ``tf.train.Checkpoint``.

Backend-neutral apart from the cases marked `tf_only`; tests/core/test_backends.py reruns it on JAX and PyTorch.
"""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import tfquant
from tests.conftest import BACKEND, tf_only

FINE = tfquant.Uniform(1e-6)
# PyTorch runs Keras's plain optimizers through fused multi-tensor kernels; a tfquant optimizer updates its
# unselected variables one by one, equal to within float rounding (docs/GUIDE.md): 2e-6 relative seen after
# 4 Adam steps. TensorFlow and JAX: bit for bit.
BASE_RTOL = 1e-5 if BACKEND == "torch" else 0.0


def array(v):
    return np.asarray(ops.convert_to_numpy(v))


def data(n=16, shape=(6, 6, 1), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype("float32")
    return x, (x.reshape(n, -1).sum(axis=1) > 0).astype("int32")


# -- model styles -------------------------------------------------------------------------------------------
class Subclassed(keras.Model):
    """Layers made in __init__, variables made on the first call."""

    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(3, 3)
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(self.flatten(self.conv(x)))


class LazyBlock(keras.layers.Layer):
    """A layer that creates its sublayer only in build(), i.e. inside fit's first step."""

    def build(self, input_shape):
        self.conv = keras.layers.Conv2D(3, 3)
        self.conv.build(input_shape)

    def call(self, x):
        return self.conv(x)


def conv_head():
    return [keras.layers.Conv2D(3, 3), keras.layers.Flatten(), keras.layers.Dense(2)]


def functional():
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3)(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))


STYLES = {
    "sequential-input": lambda: keras.Sequential([keras.Input((6, 6, 1)), *conv_head()]),
    "sequential-no-input": lambda: keras.Sequential(conv_head()),
    "functional": functional,
    "subclassed": Subclassed,
    "nested": lambda: keras.Sequential(
        [keras.Sequential([keras.layers.Conv2D(3, 3)]), keras.layers.Flatten(), keras.layers.Dense(2)]
    ),
    "lazy-layers": lambda: keras.Sequential([LazyBlock(), keras.layers.Flatten(), keras.layers.Dense(2)]),
}

METHODS = {
    "bc": lambda **kw: tfquant.BCAdam(1e-2, **kw),
    "bc-stochastic": lambda **kw: tfquant.BCAdam(1e-2, rounding="stochastic", seed=1, **kw),
    "sr": lambda **kw: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), seed=2, **kw),
    "r": lambda **kw: tfquant.RAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3), **kw),
}


def compiled(style, optimizer):
    keras.utils.set_random_seed(0)
    model = STYLES[style]()
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def assert_quantized_state(model, optimizer, expected_quantized=1):
    """Every selected variable is on its grid; BC's model variable is Q(w_r) (deterministic rounding)."""
    selected = [v for v in model.trainable_variables if optimizer.quantizer_for(v) is not None]
    assert len(selected) == expected_quantized, [v.path for v in model.trainable_variables]
    for variable in selected:
        quantizer = optimizer.quantizer_for(variable)
        assert np.all(array(quantizer.on_grid(ops.convert_to_tensor(variable)))), variable.path
        if optimizer.method == "bc" and optimizer.rounding == "deterministic":
            buffer = ops.convert_to_tensor(optimizer.full_precision(variable))
            np.testing.assert_array_equal(array(variable), array(quantizer.deterministic(buffer)))
    assert all(np.all(np.isfinite(array(v))) for v in model.variables + optimizer.variables)


# -- every style x every method, through fit, with the monitor ----------------------------------------------
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("style", STYLES)
def test_fit_with_the_monitor_on_every_model_style(style, method):
    optimizer = METHODS[method]()
    model = compiled(style, optimizer)
    x, y = data()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False,
                        callbacks=[tfquant.callbacks.QuantizationMonitor()])
    assert int(array(optimizer.iterations)) == 4
    assert_quantized_state(model, optimizer)
    assert len(history.history["changed_since_start"]) == 2
    assert np.isfinite(history.history["loss"]).all()


# -- every method x every training path, on the model Keras builds latest (Sequential without Input) -------
def train_on_batch(model, x, y):
    model.train_on_batch(x[:8], y[:8])
    model.train_on_batch(x[8:], y[8:])


def apply_loop(model, x, y):
    """optimizer.apply with gradients from a backend-neutral source (a built model, fixed random grads)."""
    model(x[:1])
    rng = np.random.default_rng(1)
    for _ in range(2):
        grads = [ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in model.trainable_variables]
        model.optimizer.apply(grads, model.trainable_variables)


def gradient_tape_loop(model, x, y):
    """The custom loop of the TensorFlow guide, inside tf.function: the model's variables are created while
    the step is traced, as in fit."""
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        model.optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    for start in (0, 8):
        step(x[start:start + 8], y[start:start + 8])


PATHS = {
    "fit": lambda model, x, y: model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False),
    "train_on_batch": train_on_batch,
    "apply": apply_loop,
    "gradient_tape": pytest.param(gradient_tape_loop, marks=tf_only),
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
@pytest.mark.parametrize("method", METHODS)
def test_every_training_path_without_input(method, path):
    optimizer = METHODS[method]()
    model = compiled("sequential-no-input", optimizer)
    x, y = data()
    path(model, x, y)
    assert int(array(optimizer.iterations)) == 2
    assert_quantized_state(model, optimizer)


# -- nothing selected: the base optimizer, bit for bit --------------------------------------------------------
def nothing_selected(make_base, method, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "matched none of the variables" is the point here
        return tfquant.quantized(make_base, method)(quantize=lambda v: False, **kwargs)


def trained_weights(style, optimizer, path):
    model = compiled(style, optimizer)
    x, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        PATHS[path](model, x, y) if path != "gradient_tape" else gradient_tape_loop(model, x, y)
    return [array(v) for v in model.variables] + [array(v) for v in optimizer.variables]


@pytest.mark.parametrize("method,path", [("bc", "fit"), ("sr", "train_on_batch"), ("r", "apply")])
def test_nothing_selected_is_the_base_optimizer_bit_for_bit(method, path):
    kwargs = dict(learning_rate=1e-2, use_ema=True, ema_overwrite_frequency=1, weight_decay=1e-3, clipnorm=1.0)
    base = trained_weights("sequential-no-input", keras.optimizers.Adam(**kwargs), path)
    ours = trained_weights("sequential-no-input", nothing_selected(keras.optimizers.Adam, method, **kwargs), path)
    assert len(base) == len(ours)
    for a, b in zip(base, ours):
        np.testing.assert_allclose(b, a, rtol=BASE_RTOL, atol=0)


def test_nothing_selected_keeps_kerass_ema_overwrite_numbers():
    """keras optimizer_test.test_ema, with SGD replaced by BC-SGD selecting nothing."""
    v = keras.Variable([[3.0, 4.0], [5.0, 6.0]])
    grads = ops.convert_to_tensor([[1.0, 1.0], [1.0, 1.0]])
    optimizer = nothing_selected(keras.optimizers.SGD, "bc", learning_rate=1.0, use_ema=True, ema_momentum=0.9,
                                 ema_overwrite_frequency=3)
    for _ in range(3):
        optimizer.apply_gradients([(grads, v)])
    np.testing.assert_allclose(array(v), [[1.71, 2.71], [3.71, 4.71]], rtol=1e-6, atol=1e-6)


def test_ema_overwrite_is_refused_only_when_something_is_quantized():
    optimizer = tfquant.BCSGD(use_ema=True, ema_overwrite_frequency=3)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        optimizer.build([keras.Variable(np.ones((1, 1, 1, 2), "float32"), name="kernel")])


def test_nothing_selected_gradient_accumulation_matches_the_base():
    results = []
    for optimizer in (keras.optimizers.SGD(1.0, gradient_accumulation_steps=3),
                      nothing_selected(keras.optimizers.SGD, "sr", learning_rate=1.0, gradient_accumulation_steps=3)):
        v = keras.Variable([[1.0, 2.0], [3.0, 4.0]])
        for g in ([[1.0, 1.0], [1.0, 1.0]], [[2.0, 2.0], [2.0, 2.0]], [[3.0, 3.0], [3.0, 3.0]]):
            optimizer.apply([ops.convert_to_tensor(g)], [v])
        results.append(array(v))
    np.testing.assert_array_equal(results[1], results[0])
    np.testing.assert_allclose(results[0], [[-1.0, 0.0], [1.0, 2.0]])


# -- a grid too fine to see: Keras's own optimizer checks, with Keras's tolerances ---------------------------
def fine(method, base=keras.optimizers.Adam, **kwargs):
    return tfquant.quantized(base, method)(quantizer=FINE, quantize="all", seed=3, **kwargs)


@pytest.mark.parametrize("method", ["bc", "sr", "r"])
def test_fine_grid_passes_kerass_adam_single_step_and_golden(method):
    """adam_test.test_single_step and test_correctness_with_golden."""
    v = keras.Variable([1.0, 2.0, 3.0, 4.0], name="w")
    fine(method, learning_rate=0.5).apply_gradients([(ops.convert_to_tensor([1.0, 6.0, 7.0, 2.0]), v)])
    np.testing.assert_allclose(array(v), [0.5, 1.5, 2.5, 3.5], rtol=1e-4, atol=1e-4)

    optimizer = fine(method, amsgrad=True)
    x = keras.Variable(np.ones([10], dtype="float32"), name="x")
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    optimizer.apply_gradients([(ops.full((10,), 0.01), x)])
    for i in range(5):
        np.testing.assert_allclose(array(x), golden[i], rtol=5e-4, atol=5e-4)
        optimizer.apply_gradients([(ops.arange(0.1, 1.1, 0.1), x)])


def test_fine_grid_weight_decay_matches_kerass_adam():
    """adam_test.test_weight_decay: decoupled decay, exclusions by name and by variable."""
    for method in ("bc", "sr", "r"):
        var1, var2, var3 = keras.Variable(2.0), keras.Variable(2.0, name="exclude"), keras.Variable(2.0)
        grads = ops.zeros(())
        fine(method, learning_rate=1.0, weight_decay=0.004).apply_gradients([(grads, var1)])
        optimizer_2 = fine(method, learning_rate=1.0, weight_decay=0.004)
        optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
        optimizer_2.apply_gradients([(grads, var1), (grads, var2)])
        optimizer_3 = fine(method, learning_rate=1.0, weight_decay=0.004)
        optimizer_3.exclude_from_weight_decay(var_list=[var3])
        optimizer_3.apply_gradients([(grads, var1), (grads, var3)])
        assert abs(float(array(var1)) - 1.9760959) < 1.5e-6, method
        assert float(array(var2)) == 2.0 and float(array(var3)) == 2.0


@pytest.mark.parametrize("method", ["bc", "sr", "r"])
def test_fine_grid_ema_in_fit_matches_kerass(method):
    """optimizer_test.test_ema_with_model_fit (there run eagerly; here traced as well, unbuilt Dense)."""
    for run_eagerly in (True, False):
        optimizer = fine(method, base=keras.optimizers.SGD, learning_rate=0.1, use_ema=True, ema_momentum=0.9)
        model = keras.Sequential([keras.layers.Dense(2, kernel_initializer="ones", use_bias=False)])
        model.compile(loss="mse", optimizer=optimizer, run_eagerly=run_eagerly)
        model.fit(np.ones((1, 1), "float32"), np.zeros((1, 1), "float32"), batch_size=1, epochs=2, verbose=0)
        np.testing.assert_allclose(array(optimizer._model_variables_moving_average[0]), [[0.891, 0.891]], atol=1e-5)
        np.testing.assert_allclose(array(model.trainable_variables[0]), [[0.891, 0.891]], atol=1e-5)


def embedding_model():
    return keras.Sequential([keras.layers.Embedding(10, 4), keras.layers.Flatten(), keras.layers.Dense(2)])


def embedding_fit(optimizer):
    keras.utils.set_random_seed(0)
    model = embedding_model()
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).integers(0, 6, size=(8, 5))  # rows 6..9 of the table never get a gradient
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=4, epochs=2, verbose=0, shuffle=False)
    return model


@pytest.mark.parametrize("method", ["bc", "sr", "r"])
def test_sparse_embedding_gradients_with_quantize_all(method):
    """Embedding gradients are IndexedSlices on TensorFlow (adam_test.test_clipnorm_indexed_slices uses
    clipnorm=100 on them): on the fine grid the result is Adam's; on a coarse grid the table is on it."""
    reference = embedding_fit(keras.optimizers.Adam(1e-2, clipnorm=100))
    model = embedding_fit(fine(method, learning_rate=1e-2, clipnorm=100))
    for a, b in zip(reference.trainable_variables, model.trainable_variables):
        np.testing.assert_allclose(array(b), array(a), rtol=1e-4, atol=1e-5, err_msg=a.path)
    coarse = tfquant.quantized(keras.optimizers.Adam, method)(
        1e-2, quantize="all", quantizer=tfquant.Uniform(0.05, bits=4), seed=4, clipnorm=1.0)
    model = embedding_fit(coarse)
    assert_quantized_state(model, coarse, expected_quantized=3)


@tf_only
def test_mixed_tf_variables():
    """optimizer_test.test_mixed_with_tf_variables, with nothing selected and with both selected."""
    import tensorflow as tf

    grads = ops.convert_to_tensor([[1.0, 1.0], [1.0, 1.0]])
    v = keras.Variable([[1.0, 2.0], [3.0, 4.0]])
    keras.optimizers.Adam(1.0).apply_gradients([(grads, v)])
    adam_step = array(v)
    for quantize, tolerance in ((lambda v: False, 0.0), ("all", 1e-6)):
        v = keras.Variable([[1.0, 2.0], [3.0, 4.0]])
        tf_v = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            optimizer = tfquant.BCAdam(1.0, quantize=quantize, quantizer=FINE)
            optimizer.apply_gradients([(grads, v), (grads, tf_v)])
        assert int(array(optimizer.iterations)) == 1
        np.testing.assert_allclose(array(v), adam_step, rtol=0, atol=tolerance)
        np.testing.assert_allclose(tf_v.numpy(), adam_step, rtol=0, atol=tolerance)
        with pytest.warns(UserWarning, match="Gradients do not exist"):
            optimizer.apply_gradients([(grads, v), (None, tf_v)])
        assert int(array(optimizer.iterations)) == 2


# -- saving and restoring --------------------------------------------------------------------------------------
@tf_only
@pytest.mark.parametrize("method", METHODS)
def test_tf_train_checkpoint_restores_weights_buffers_and_the_step(method, tmp_path):
    """optimizer_test.test_tf_checkpointing on an unbuilt Sequential; training on from the restored state
    repeats exactly what training on from the saved state did."""
    import tensorflow as tf

    optimizer = METHODS[method]()
    model = compiled("sequential-no-input", optimizer)
    x, y = data()
    model.train_on_batch(x[:8], y[:8])
    checkpoint = tf.train.Checkpoint(model, optimizer=optimizer)
    saved = checkpoint.save(str(tmp_path / "ckpt"))
    model.train_on_batch(x[8:], y[8:])
    after = [array(v) for v in model.variables + optimizer.variables]
    checkpoint.restore(saved)
    assert int(array(optimizer.iterations)) == 1
    model.train_on_batch(x[8:], y[8:])
    for a, b in zip(after, [array(v) for v in model.variables + optimizer.variables]):
        np.testing.assert_array_equal(b, a)


@pytest.mark.parametrize("method", METHODS)
def test_keras_file_resume_of_a_model_built_inside_fit(method, tmp_path):
    """Save after one epoch, reload, train one more: bit-identical to two uninterrupted epochs."""
    x, y = data()
    model = compiled("sequential-no-input", METHODS[method]())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    resumed = keras.models.load_model(tmp_path / "m.keras")
    resumed.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.variables, resumed.variables):
        np.testing.assert_array_equal(array(b), array(a), err_msg=a.path)
    assert_quantized_state(resumed, resumed.optimizer)

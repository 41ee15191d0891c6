"""R, SR and BC optimizers: the update equations, grid membership, what is (not) quantized, and how the
base optimizer's features keep their meaning. Backend-neutral: tests/core/test_backends.py reruns it on JAX."""

import keras
import numpy as np
import pytest
from keras import ops

import tfquant
from tests.conftest import BACKEND, compile_model, on_grid, small_cnn, toy_data, weights_of

CONV_KERNELS = ("conv1/kernel", "conv2/kernel")


def kernel_variable(values, name="kernel"):
    """A standalone rank-4 variable named like a conv kernel (the default selection picks it)."""
    return keras.Variable(np.asarray(values, "float32").reshape(1, 1, 1, -1), name=name)


def tensor(values, like):
    """A gradient tensor shaped like variable `like` (PyTorch's Keras optimizers refuse NumPy gradients)."""
    return ops.convert_to_tensor(np.asarray(values, "float32").reshape(like.shape))


def value(v):
    return np.asarray(ops.convert_to_numpy(v)).ravel()


def conv_kernels(model):
    return [v for v in model.trainable_variables if v.path.endswith(CONV_KERNELS)]


# -- grid membership after fit, for every method and quantizer -------------------------------------------
OPTIMIZERS = {
    "bc-adam-binary": lambda: tfquant.BCAdam(1e-2),
    "bc-adam-3bit": lambda: tfquant.BCAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3)),
    "bc-adam-scaled": lambda: tfquant.BCAdam(1e-2, quantizer=tfquant.ScaledBinary()),
    "bc-adam-stochastic": lambda: tfquant.BCAdam(1e-2, rounding="stochastic", seed=1),
    "sr-adam-binary": lambda: tfquant.SRAdam(1e-2, seed=2),
    "sr-adam-ternary": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Uniform(0.1, bits=2), seed=3),
    "r-adam-3bit": lambda: tfquant.RAdam(1e-2, quantizer=tfquant.Uniform(0.05, bits=3)),
    "bc-sgd": lambda: tfquant.BCSGD(0.1, momentum=0.9),
    "sr-sgd": lambda: tfquant.SRSGD(0.1, seed=4),
    "r-sgd": lambda: tfquant.RSGD(0.1),
    "sr-lion": lambda: tfquant.quantized(keras.optimizers.Lion, "sr")(1e-3, seed=5),
    "bc-rmsprop": lambda: tfquant.quantized(keras.optimizers.RMSprop, "bc")(1e-3),
}


@pytest.mark.parametrize("make", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_conv_kernels_stay_on_the_grid_through_fit(make):
    keras.utils.set_random_seed(0)
    optimizer = make()
    model = compile_model(small_cnn(), optimizer)
    x, y = toy_data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for kernel in conv_kernels(model):
        assert on_grid(optimizer.quantizer_for(kernel), kernel), kernel.path
    if optimizer.method == "bc":
        for kernel in conv_kernels(model):
            buffer = optimizer.full_precision(kernel)
            expected = optimizer.quantizer_for(kernel).deterministic(ops.convert_to_tensor(buffer))
            if optimizer.rounding == "deterministic":
                np.testing.assert_allclose(value(kernel), value(expected), rtol=1e-6)


def test_only_conv_kernels_are_selected_by_default():
    optimizer = tfquant.BCAdam()
    model = small_cnn()
    optimizer.build(model.trainable_variables)
    chosen = sorted(v.path.split("/", 1)[1] for v in model.trainable_variables if optimizer.quantizer_for(v))
    assert chosen == sorted(CONV_KERNELS)


def test_quantize_kernels_selects_conv_and_dense_kernels_only():
    optimizer = tfquant.BCAdam(quantize="kernels")
    model = small_cnn()
    optimizer.build(model.trainable_variables)
    chosen = sorted(v.path.split("/", 1)[1] for v in model.trainable_variables if optimizer.quantizer_for(v))
    assert chosen == sorted(CONV_KERNELS + ("dense/kernel",))
    assert all(on_grid(optimizer.quantizer, model.get_layer(name).kernel) for name in ("conv1", "conv2", "dense"))


def test_unquantized_variables_get_exactly_the_base_update():
    """Dense, bias and batch-norm variables: BC-Adam's update is plain Adam's (bit-identical on TensorFlow and
    JAX; PyTorch runs plain Adam through a fused multi-tensor kernel, equal to within float rounding)."""
    keras.utils.set_random_seed(1)
    model_a, model_b = small_cnn(), small_cnn()
    model_b.set_weights(model_a.get_weights())
    adam, bc_adam = keras.optimizers.Adam(1e-2), tfquant.BCAdam(1e-2)
    rng = np.random.default_rng(0)
    for _ in range(3):
        grads = [ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in model_a.trainable_variables]
        adam.apply(grads, model_a.trainable_variables)
        bc_adam.apply(grads, model_b.trainable_variables)
    tolerance = 1e-6 if BACKEND == "torch" else 0
    for a, b in zip(model_a.variables, model_b.variables):
        if not a.path.endswith(CONV_KERNELS):
            np.testing.assert_allclose(value(b), value(a), rtol=tolerance, atol=0, err_msg=a.path)


def test_first_forward_pass_uses_quantized_weights():
    """The loss of the very first batch is the loss of the quantized network (build() rounds the kernels)."""
    keras.utils.set_random_seed(2)
    model = compile_model(small_cnn(), tfquant.BCSGD(0.0))
    x, y = toy_data(n=16)
    losses = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: losses.append(logs["loss"]))
    float_loss = float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[callback])
    quantized_loss = float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))
    assert abs(losses[0] - quantized_loss) < 1e-5 * max(1.0, abs(quantized_loss))
    assert abs(float_loss - quantized_loss) > 1e-3


# -- the update equations ----------------------------------------------------------------------------------
def test_r_is_eq4_and_sr_is_eq6_and_bc_is_eq7():
    grid = tfquant.Uniform(0.1, bits=3)
    w0 = np.array([0.1, -0.2, 0.0, 0.3, -0.3, 0.2], "float32")
    g = np.array([0.26, -0.4, 3.0, -0.04, 1.0, 0.01], "float32")
    lr = 0.5
    target = w0 - lr * g

    r = kernel_variable(w0)
    tfquant.RSGD(lr, quantizer=grid).apply([tensor(g, r)], [r])
    np.testing.assert_allclose(value(r), value(grid.deterministic(target)), atol=1e-7)

    sr = kernel_variable(w0)
    tfquant.SRSGD(lr, quantizer=grid, seed=0).apply([tensor(g, sr)], [sr])
    clipped = np.clip(target, -0.3, 0.3)
    assert np.all((np.abs(value(sr) - np.floor(clipped / 0.1 + 1e-5) * 0.1) < 1e-6)
                  | (np.abs(value(sr) - np.ceil(clipped / 0.1 - 1e-5) * 0.1) < 1e-6))

    bc = kernel_variable(w0 + 0.03)  # the buffer starts at the initial weights, the variable at Q of them
    optimizer = tfquant.BCSGD(lr, quantizer=grid)
    optimizer.apply([tensor(g, bc)], [bc])
    np.testing.assert_allclose(value(optimizer.full_precision(bc)), np.clip(w0 + 0.03 - lr * g, -0.3, 0.3), atol=1e-6)
    np.testing.assert_allclose(value(bc), value(grid.deterministic(optimizer.full_precision(bc))), atol=1e-7)


@pytest.mark.parametrize("clip", [True, False])
def test_bc_clips_its_buffer_only_with_clip_full_precision(clip):
    """True (BinaryConnect): |w_r| <= Delta always. False (eq. 7 as printed): w_r runs past Delta."""
    w = kernel_variable([0.9, -0.9, 0.2])
    optimizer = tfquant.BCSGD(0.5, quantizer=tfquant.Binary(1.0), clip_full_precision=clip)
    for _ in range(3):
        optimizer.apply([tensor([-1.0, 1.0, 0.0], w)], [w])
    expected = np.array([0.9 + 1.5, -0.9 - 1.5, 0.2])
    np.testing.assert_allclose(value(optimizer.full_precision(w)), np.clip(expected, -1, 1) if clip else expected,
                               atol=1e-6)
    np.testing.assert_array_equal(value(w), [1, -1, 1])
    assert optimizer.get_config()["clip_full_precision"] is clip
    assert type(optimizer).from_config(optimizer.get_config()).clip_full_precision is clip


def test_full_precision_l2_adds_c_times_w_r_to_the_gradient():
    """Torch's coupled weight decay on BC: grad <- grad + c * w_r, before the base step (SGD here)."""
    w = kernel_variable([0.5, -0.25])
    optimizer = tfquant.BCSGD(0.1, full_precision_l2=0.2)
    optimizer.apply([tensor([1.0, 1.0], w)], [w])
    np.testing.assert_allclose(value(optimizer.full_precision(w)),
                               [0.5 - 0.1 * (1 + 0.2 * 0.5), -0.25 - 0.1 * (1 - 0.2 * 0.25)], atol=1e-7)
    assert optimizer.get_config()["full_precision_l2"] == 0.2


def test_r_stagnates_at_small_learning_rates_while_sr_and_bc_move():
    """Section 5: with a small step, R's rounding undoes every update; SR and BC keep changing weights."""
    x, y = toy_data(n=128)
    changed = {}
    for name, optimizer in [("r", tfquant.RAdam(1e-3)), ("sr", tfquant.SRAdam(1e-3, seed=0)),
                            ("bc", tfquant.BCAdam(1e-3))]:
        keras.utils.set_random_seed(3)
        model = compile_model(small_cnn(), optimizer)
        history = model.fit(x, y, batch_size=4, epochs=2, verbose=0,
                            callbacks=[tfquant.callbacks.QuantizationMonitor()])
        changed[name] = sum(v[-1] for k, v in history.history.items() if k.startswith("changed_since_start/"))
    # 64 Adam steps of size ~1e-3 against a gap of 2 between -1 and +1: R never crosses it; SR crosses with
    # probability ~5e-4 per weight and step (about 10 of the 324 kernel weights expected); BC's buffer drifts.
    assert changed["r"] == 0.0
    assert changed["sr"] > 0.0 and changed["bc"] > 0.0, changed


# -- the base optimizer's features -------------------------------------------------------------------------
def test_weight_decay_shrinks_bcs_full_precision_buffer():
    """Decoupled decay w_r <- w_r (1 - lr wd) acts on the buffer, where it accumulates (paper Fig. 7)."""
    w = kernel_variable([0.5, -0.25, 0.75, -1.0])
    optimizer = tfquant.BCSGD(0.1, weight_decay=0.5)
    zeros = tensor(np.zeros(w.shape), w)
    for _ in range(3):
        optimizer.apply([zeros], [w])
    np.testing.assert_allclose(value(optimizer.full_precision(w)), np.array([0.5, -0.25, 0.75, -1.0]) * 0.95**3,
                               rtol=1e-6)
    np.testing.assert_array_equal(value(w), [1, -1, 1, -1])
    dense = keras.Variable(np.ones((2, 2), "float32"), name="kernel")  # not quantized: the base decay
    optimizer_2 = tfquant.BCSGD(0.1, weight_decay=0.5)
    with pytest.warns(UserWarning, match="matched none"):
        optimizer_2.build([dense])
    optimizer_2.apply([tensor(np.zeros(4), dense)], [dense])
    np.testing.assert_allclose(value(dense), 0.95, rtol=1e-6)


def test_weight_decay_reaches_r_and_sr_weights_before_rounding():
    w = kernel_variable([0.3, -0.3])
    tfquant.RSGD(1.0, weight_decay=0.5, quantizer=tfquant.Uniform(0.1, 3)).apply([tensor(np.zeros(2), w)], [w])
    np.testing.assert_allclose(value(w), [0.2, -0.2], atol=1e-7)  # Qd(0.3 * (1 - 0.5)) = 0.2 (0.15 rounds up)


@pytest.mark.parametrize("clip", [{"clipnorm": 0.5}, {"global_clipnorm": 0.5}, {"clipvalue": 0.1}])
def test_gradient_clipping_applies_to_the_buffer_update(clip):
    w = kernel_variable([0.0, 0.0, 0.0, 0.0])
    g = np.array([3.0, -4.0, 0.0, 0.0], "float32")
    optimizer = tfquant.BCSGD(1.0, quantizer=tfquant.Uniform(0.01), **clip)
    optimizer.apply([tensor(g, w)], [w])
    expected = -np.clip(g, -0.1, 0.1) if "clipvalue" in clip else -g / 5.0 * 0.5
    np.testing.assert_allclose(value(optimizer.full_precision(w)), expected, atol=1e-6)


def test_learning_rate_schedules_drive_the_buffer():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.01])
    w = kernel_variable([0.0])
    optimizer = tfquant.BCSGD(schedule)
    ones = tensor(np.ones(1), w)
    optimizer.apply([ones], [w])
    optimizer.apply([ones], [w])
    optimizer.apply([ones], [w])
    np.testing.assert_allclose(value(optimizer.full_precision(w)), [-0.1 - 0.1 - 0.01], atol=1e-6)


def test_gradient_accumulation_updates_once_with_the_mean_gradient():
    w = kernel_variable([0.05, -0.05])
    optimizer = tfquant.BCSGD(0.1, gradient_accumulation_steps=2)
    optimizer.apply([tensor([1.0, 2.0], w)], [w])
    np.testing.assert_allclose(value(optimizer.full_precision(w)), [0.05, -0.05], atol=1e-7)
    np.testing.assert_array_equal(value(w), [1, -1])
    optimizer.apply([tensor([3.0, -4.0], w)], [w])
    np.testing.assert_allclose(value(optimizer.full_precision(w)), [0.05 - 0.2, -0.05 + 0.1], atol=1e-6)
    np.testing.assert_array_equal(value(w), [-1, 1])


def test_use_ema_averages_the_buffer_and_ends_on_the_grid():
    keras.utils.set_random_seed(4)
    optimizer = tfquant.BCAdam(1e-2, use_ema=True, ema_momentum=0.9)
    model = compile_model(small_cnn(), optimizer)
    x, y = toy_data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    for kernel in conv_kernels(model):
        assert on_grid(optimizer.quantizer, kernel)
        average = optimizer._model_variables_moving_average[optimizer._get_variable_index(kernel)]
        np.testing.assert_allclose(value(optimizer.full_precision(kernel)), value(average), rtol=1e-6)
    with pytest.raises(ValueError, match="ema_overwrite_frequency"):
        tfquant.BCAdam(use_ema=True, ema_overwrite_frequency=10).build(conv_kernels(small_cnn()))


def test_loss_scale_optimizer_with_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(5)
        optimizer = keras.optimizers.LossScaleOptimizer(tfquant.BCAdam(1e-2))
        model = compile_model(small_cnn(), optimizer)
        x, y = toy_data()
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        for kernel in conv_kernels(model):
            assert kernel.dtype == "float32" and on_grid(optimizer.inner_optimizer.quantizer, kernel)
    finally:
        keras.config.set_dtype_policy("float32")
    with pytest.raises(ValueError, match="other way round"):
        tfquant.quantized(keras.optimizers.LossScaleOptimizer, "bc")


def test_non_finite_gradients_leave_quantized_weights_in_place():
    """NaN/Inf gradient entries of a quantized variable count as 0: weights stay on the grid, moments finite."""
    for make in (lambda: tfquant.BCAdam(0.1), lambda: tfquant.SRAdam(0.1, seed=0)):
        w = kernel_variable([1.0, -1.0, 1.0])
        optimizer = make()
        optimizer.apply([tensor([np.nan, np.inf, -np.inf], w)], [w])
        np.testing.assert_array_equal(value(w), [1, -1, 1])
        assert all(np.all(np.isfinite(value(v))) for v in optimizer.variables)


def test_non_trainable_variables_are_never_touched():
    keras.utils.set_random_seed(6)
    model = compile_model(small_cnn(), tfquant.SRAdam(1e-2, quantize="all", seed=0))
    x, y = toy_data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    moving = [v for v in model.non_trainable_variables if "moving" in v.path]
    assert moving and not all(on_grid(tfquant.Binary(), v) for v in moving)


# -- selection ---------------------------------------------------------------------------------------------
def test_selection_rules_tags_and_callables():
    model = small_cnn()
    everything = tfquant.BCAdam(quantize="all")
    everything.build(model.trainable_variables)
    assert all(everything.quantizer_for(v) is not None for v in model.trainable_variables)

    ternary = tfquant.Uniform(0.1, bits=2)
    dense_only = tfquant.BCAdam(quantize=lambda v: ternary if v.path.endswith("dense/kernel") else False)
    dense_only.build(model.trainable_variables)
    assert [v.path for v in model.trainable_variables if dense_only.quantizer_for(v)] == [f"{model.name}/dense/kernel"]

    tagged = small_cnn()
    tfquant.quantize_weights(tagged.get_layer("conv1"), tfquant.Uniform(0.05, bits=3))
    tfquant.quantize_weights(tagged.get_layer("conv2"), None)
    optimizer = tfquant.SRAdam(seed=0)
    optimizer.build(tagged.trainable_variables)
    assert optimizer.quantizer_for(tagged.get_layer("conv1").kernel) == tfquant.Uniform(0.05, bits=3)
    assert optimizer.quantizer_for(tagged.get_layer("conv2").kernel) is None


def test_a_selection_that_matches_nothing_warns_with_the_candidates():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="only_dense")])
    with pytest.warns(UserWarning, match="only_dense/kernel"):
        tfquant.BCAdam().build(model.trainable_variables)


def test_integer_variables_cannot_be_selected():
    counter = keras.Variable(np.zeros((1, 1, 1, 2), "int32"), name="kernel", trainable=False)
    floats = kernel_variable([0.1, 0.2])
    with pytest.raises(ValueError, match="floating-point"):
        tfquant.BCAdam(quantize=lambda v: True).build([floats, counter])


# -- bad input (constructors: tests/core/test_bad_arguments.py) ------------------------------------------------
def test_set_random_seed_fixes_the_default_sr_seed():
    """seed=None draws from the RNG keras.utils.set_random_seed seeds, as Keras's own seed generators do."""
    keras.utils.set_random_seed(11)
    first = tfquant.SRAdam().seed
    keras.utils.set_random_seed(11)
    assert tfquant.SRAdam().seed == first
    keras.utils.set_random_seed(12)
    assert tfquant.SRAdam().seed != first


def test_full_precision_errors_say_why():
    w = kernel_variable([0.1])
    with pytest.raises(ValueError, match="not built"):
        tfquant.BCAdam().full_precision(w)
    sr = tfquant.SRAdam(seed=0)
    sr.build([w])
    with pytest.raises(ValueError, match="no full-precision copy"):
        sr.full_precision(w)
    bc = tfquant.BCAdam()
    dense = keras.Variable(np.ones((2, 2), "float32"), name="kernel")
    bc.build([w, dense])
    with pytest.raises(ValueError, match="not quantized"):
        bc.full_precision(dense)


def test_a_builtin_optimizer_of_every_kind_is_registered_for_loading():
    for base in (keras.optimizers.AdamW, keras.optimizers.Nadam, keras.optimizers.Adagrad, keras.optimizers.Lion):
        for method, prefix in (("bc", "BC"), ("sr", "SR"), ("r", "R")):
            cls = tfquant.quantized(base, method)
            assert cls.__name__ == prefix + base.__name__
            assert keras.saving.get_registered_object(f"tfquant>{cls.__name__}") is cls
    assert "NOT Rectified Adam".lower() in tfquant.RAdam.__doc__.lower()


def test_summary_lists_quantizers_bits_and_memory():
    model = compile_model(small_cnn(), tfquant.BCAdam(quantizer=tfquant.Uniform(0.1, bits=3)))
    lines = []
    rows = tfquant.summary(model, print_fn=lines.append)
    by_weight = {r["weight"].split("/", 1)[1]: r for r in rows}
    assert by_weight["conv1/kernel"]["bits"] == 3 and by_weight["dense/kernel"]["bits"] == 32
    assert by_weight["conv2/kernel"]["bytes"] == 3 * 3 * 6 * 5 * 3 / 8
    assert "conv1/kernel" in lines[0] and "quantized" in lines[0]


if BACKEND == "tensorflow":

    def test_custom_training_loop_inside_tf_function():
        import tensorflow as tf

        keras.utils.set_random_seed(7)
        model = small_cnn()
        optimizer = tfquant.SRAdam(1e-2, seed=0)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        x, y = toy_data()

        @tf.function(jit_compile=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        optimizer.build(model.trainable_variables)
        before = weights_of(model)
        for i in range(4):
            step(x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16])
        for kernel in conv_kernels(model):
            assert on_grid(optimizer.quantizer, kernel)
        assert any(np.any(before[k.path] != value(k).reshape(k.shape)) for k in conv_kernels(model))

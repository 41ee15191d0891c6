"""Keras's own sparse-gradient optimizer tests (keras/src/optimizers/optimizer_sparse_test.py, as installed), rerun
under BC, SR and R: a sparse (IndexedSlices) gradient writes the model variable at its rows only wherever the base
optimizer does, and gives the same values as the same gradient made dense."""
import contextlib
from unittest import mock

import keras
import numpy as np
import pytest
from keras import ops

import tfquant
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "tensorflow", reason="IndexedSlices gradients are TensorFlow's")
sparse_test = pytest.importorskip("keras.src.optimizers.optimizer_sparse_test")
CASES = {case["testcase_name"]: case for case in sparse_test.TEST_CASES}
METHODS = ("bc", "sr", "r")
# The bases whose sparse writes BC used to densify (issue 18), and Adam (dense moments): in the default run.
FAST = ("sgd", "adagrad", "adadelta", "adafactor", "rmsprop", "loss_scale_optimizer_sgd", "scatter_update", "adam")
SOME_SLOW = [name if name in FAST else pytest.param(name, marks=pytest.mark.slow) for name in CASES]


def make(case, method, **extra):
    """The case's optimizer with `method` quantization of every variable (on the unbounded grid 0.125·Z, so the
    all-ones variable and the 0.5 gradients stay exact)."""
    kwargs = dict(case.get("init_kwargs", {}), quantize="all", quantizer=tfquant.Uniform(0.125), seed=0, **extra)
    if case["testcase_name"] == "loss_scale_optimizer_sgd":
        return keras.optimizers.LossScaleOptimizer(tfquant.quantized(keras.optimizers.SGD, method)(0.5, **kwargs))
    return tfquant.quantized(case["optimizer_class"], method)(**kwargs)


def writes(optimizer, model_variable, grad):
    """(the model variable got a sparse write, an optimizer variable got one), as Keras's test records them,
    failing on any direct `variable.assign*` call."""
    import tensorflow as tf

    inner = getattr(optimizer, "inner_optimizer", optimizer)
    seen = {"model": False, "optimizer": False}

    def record(variable, value):
        variable = getattr(variable, "_value", variable)
        if isinstance(value, tf.IndexedSlices):
            if variable is model_variable._value:
                seen["model"] = True
            elif any(variable is v._value for v in optimizer.variables):
                seen["optimizer"] = True

    def refuse(variable, value):
        if len(variable.shape):
            pytest.fail("a direct variable.assign*() call: use self.assign*(variable, value)")

    variable_class = model_variable._value.__class__
    patches = [mock.patch.object(inner, "_apply_weight_decay", autospec=True)]
    patches += [mock.patch.object(inner, name, autospec=True, side_effect=record)
                for name in ("assign", "assign_add", "assign_sub")]
    patches += [mock.patch.object(variable_class, name, autospec=True, side_effect=refuse)
                for name in ("assign", "assign_add", "assign_sub")]
    optimizer.build([model_variable])  # rounds the initial values (through the real assign, before the patches)
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        optimizer.apply([grad], [model_variable])
    return seen["model"], seen["optimizer"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", CASES)
def test_sparse_gradients(name, method):
    import tensorflow as tf

    case = CASES[name]
    model_variable = keras.Variable(initializer="ones", shape=(5, 10))
    grad = tf.IndexedSlices(0.5 * ops.ones((3, 10)), (0, 2, 4), (5, 10))
    model_sparse, optimizer_sparse = writes(make(case, method), model_variable, grad)
    expect_model = case.get("expect_model_sparse_variable_updates", False)
    expect_optimizer = case.get("expect_optimizer_sparse_variable_updates", False)
    assert model_sparse == expect_model
    # BC runs the base step on its full-precision buffer, an optimizer variable: the base's sparse writes land there
    assert optimizer_sparse == (expect_optimizer or (method == "bc" and expect_model))


@pytest.mark.parametrize("method", [*METHODS, "bc-stochastic", "bc-l2"])
@pytest.mark.parametrize("name", SOME_SLOW)
def test_sparse_correctness(name, method):
    import tensorflow as tf

    extra = {"bc-stochastic": {"rounding": "stochastic"}, "bc-l2": {"full_precision_l2": 0.1}}.get(method, {})
    case, method = CASES[name], method.split("-")[0]
    optimizers = make(case, method, **extra), make(case, method, **extra)
    start = np.random.default_rng(0).uniform(-1, 1, (5, 3, 2)).astype("float32")
    sparse, dense = keras.Variable(start), keras.Variable(start)
    for i in range(5):
        grad = tf.IndexedSlices(ops.ones((3, 3, 2)) * (10.0 - i), (0, 2, 4), (5, 3, 2))
        optimizers[0].apply([grad], [sparse])
        optimizers[1].apply([ops.convert_to_tensor(grad, sparse=False)], [dense])
        np.testing.assert_allclose(np.asarray(sparse), np.asarray(dense), rtol=1e-6, atol=1e-7)
        if method == "bc":
            buffers = [getattr(o, "inner_optimizer", o).full_precision(v) for o, v in zip(optimizers, (sparse, dense))]
            np.testing.assert_allclose(np.asarray(buffers[0]), np.asarray(buffers[1]), rtol=1e-6, atol=1e-7)


def test_bc_leaves_rows_without_gradient_untouched_by_scatter():
    """BC-SGD on an Embedding: the rows not looked up keep their (rounded) values and their buffers."""
    import tensorflow as tf

    optimizer = tfquant.BCSGD(0.1, quantize="all", quantizer=tfquant.Uniform(0.125))
    table = keras.Variable(np.random.default_rng(1).uniform(-1, 1, (6, 4)).astype("float32"))
    optimizer.build([table])
    before, buffer_before = np.asarray(table), np.asarray(optimizer.full_precision(table))
    optimizer.apply([tf.IndexedSlices(ops.ones((2, 4)), (1, 3), (6, 4))], [table])
    after, buffer_after = np.asarray(table), np.asarray(optimizer.full_precision(table))
    untouched = [0, 2, 4, 5]
    np.testing.assert_array_equal(after[untouched], before[untouched])
    np.testing.assert_array_equal(buffer_after[untouched], buffer_before[untouched])
    np.testing.assert_allclose(buffer_after[[1, 3]], buffer_before[[1, 3]] - 0.1, rtol=1e-6)  # unbounded: no clip
    assert np.all(np.asarray(tfquant.Uniform(0.125).on_grid(after)))

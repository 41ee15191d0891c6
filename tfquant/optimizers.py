"""R, SR and BC (Li et al. 2017, section 3) as one mixin over any Keras 3 optimizer.

For a variable chosen for quantization (see `tfquant.selection`), with ``step`` whatever the base optimizer
computes from the gradient (SGD, momentum, Adam, Lion, ...):

* R,  eq. (4): the variable holds quantized weights;  ``w <- Qd(w - alpha * step)``.
* SR, eq. (6): ``w <- Qs(w - alpha * step)``.
* BC, eq. (7): a full-precision buffer ``w_r`` takes the updates and the model computes with ``Q(w_r)``:
  ``w_r <- clip(w_r - alpha * step(grad f(Q(w_r))))``, ``w <- Q(w_r)``, with ``Q = Qd`` (default) or ``Qs``.
  The clip to the grid's domain is BinaryConnect's (Courbariaux et al. 2015) and the default;
  ``clip_full_precision=False`` drops it, which is eq. (7) exactly as printed in the paper (``|w_r|`` can
  then grow past ``Delta``, as the paper's Fig. 7 shows with ``|w_b - w_r| > 1``).

Every other variable gets the base optimizer's plain update. The method composes with the base instead of
being copied into it: ``quantized(keras.optimizers.Lion, "sr")`` is SR-Lion.

How the base optimizer's features keep their meaning:

* decoupled ``weight_decay`` shrinks BC's full-precision buffer, ``w_r <- w_r - alpha * wd * w_r`` (not the
  binary weights, where it would be lost at the next rounding); for R and SR it shrinks the weights before
  they are rounded. BC's ``full_precision_l2=c`` instead adds ``c * w_r`` to the gradient before the base
  step (L2 on the parameter the optimizer updates, as Torch's ``optim.adam`` ``weight_decay`` does), while
  a layer's ``kernel_regularizer=L2(c / 2)`` adds ``c * w_b``: a constant ``+-c*Delta`` on binary weights;
* ``clipnorm``/``clipvalue``/``global_clipnorm``, learning-rate schedules, ``gradient_accumulation_steps``
  and ``LossScaleOptimizer`` act on gradients and work unchanged;
* ``use_ema`` averages BC's full-precision buffers (R/SR: the quantized weights); when the average is
  written into the model at the end of ``fit`` it is rounded back onto the grid. ``ema_overwrite_frequency``
  (writing averages into the model during training) is refused: it would train off the grid;
* non-finite gradient entries of a quantized variable are replaced by 0 (the weights stay on the grid and
  the optimizer's moments stay finite); other variables are left to the base optimizer, as in plain Keras.

Randomness for SR (and BC with ``rounding="stochastic"``) is a pure function of (seed, step, variable
index) (`tfquant.counter_rng`): nothing to save but the seed (in the config) and the step (an optimizer
variable), identical on every replica and every backend, and a resumed run draws the same noise.
"""

import contextlib
import random

import keras
from keras import ops

from tfquant import counter_rng, selection, sparse_rows
from tfquant import quantizers as quantizers_lib

METHODS = {"bc": "BC", "sr": "SR", "r": "R"}
_ROUNDING = {"bc": ("deterministic", "stochastic"), "sr": ("stochastic",), "r": ("deterministic",)}
_BUILD_STEP = -1  # the noise stream of the initial rounding in build(); real steps count from 0


class QuantizedOptimizer:
    """Mixin that turns a Keras optimizer into its R, SR or BC version (`method`, set by `quantized`).

    Args:
        quantizer: the grid, `tfquant.Binary(delta=1.0)` (default), `tfquant.Uniform(delta, bits)`, or
            (BC only) `tfquant.ScaledBinary()`.
        quantize: which variables: "conv" (default, conv kernels as in the paper), "kernels" (conv and dense
            kernels, no biases or batch norm), "all" (every float variable), a callable
            ``f(keras.Variable) -> bool | Quantizer``, or a dict ``{variable.path: Quantizer}``.
            Layers tagged with `tfquant.quantize_weights` use their own quantizer.
        seed: int seed of the stochastic rounding noise, kept in the config. None draws one from Python's global
            RNG, as Keras's own seed generators do, so `keras.utils.set_random_seed(s)` fixes it.
        rounding: BC only, "deterministic" (default, ``Qd(w_r)``) or "stochastic" (``Qs(w_r)``).
        clip_full_precision: BC only. True (default): clip ``w_r`` to the grid's domain after every update,
            as BinaryConnect does. False: no clip, eq. (7) exactly as printed.
        full_precision_l2: BC only, ``c >= 0``: add ``c * w_r`` to the gradient of each quantized variable
            before the base step (Torch-style coupled weight decay on the full-precision weights).
        **kwargs: the base optimizer's arguments (learning_rate, weight_decay, clipnorm, ...).
    """

    method = None

    def __init__(
        self,
        *args,
        quantizer=None,
        quantize="conv",
        seed=None,
        rounding=None,
        clip_full_precision=None,
        full_precision_l2=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        _check_learning_rate(self._learning_rate)
        self.quantizer = quantizers_lib.Binary() if quantizer is None else quantizers_lib.get(quantizer)
        self.quantize = selection.check_rule(quantize)
        self.seed = _check_seed(_default_seed() if seed is None else seed)
        self.rounding = _check_rounding(self.method, rounding)
        self.clip_full_precision = _check_bc_option(self.method, "clip_full_precision", clip_full_precision, True)
        self.full_precision_l2 = _check_bc_option(self.method, "full_precision_l2", full_precision_l2, 0.0)
        if isinstance(self.quantizer, quantizers_lib.ScaledBinary) and self.method != "bc":
            raise ValueError(
                f"tfquant.ScaledBinary() needs BC ({METHODS[self.method]} keeps no full-precision weights "
                "to take the per-channel scale from). Use a BC optimizer, or tfquant.Binary(delta)."
            )

    # -- selection and state -------------------------------------------------------------------------
    def build(self, variables):
        """Choose the quantized variables, make BC's buffers, and put the chosen variables on the grid.

        The initial rounding (``w <- Q(w)``; BC: ``w_r <- clip(w)``, ``w <- Q(w_r)``) happens here, so the
        first forward pass already computes with quantized weights, except on one path: TensorFlow's `fit`
        on a model without an `Input` creates the model's variables inside the traced train step and gives
        them values only when that function first runs. Their values cannot be read yet, so the rounding
        becomes part of every traced update instead (TensorFlow traces such a step twice, and only the
        second trace runs), as a branch taken once, when ``iterations == 0``, before the first update. That
        step's forward pass used the initial float weights, which nothing could round earlier.
        """
        if self.built:
            return
        variables = list(variables)
        # Choose (and refuse) before the base build marks the optimizer built: a refusal must leave it unbuilt,
        # so that the next fit or export meets the same error, not a half-built optimizer.
        quantizers = selection.resolve(variables, self.quantize, self.quantizer)
        if self.ema_overwrite_frequency and any(q is not None for q in quantizers):
            raise ValueError(
                "ema_overwrite_frequency would write averaged, off-grid weights into quantized variables during "
                "training. Use use_ema=True alone: the average is rounded onto the grid when fit() ends."
            )
        super().build(variables)
        self._quantizers = quantizers
        self._full_precision, self._buffer_index = [], {}
        for index, (variable, quantizer) in enumerate(zip(variables, self._quantizers)):
            buffer = None
            if quantizer is not None and self.method == "bc":
                buffer = self.add_variable_from_reference(variable, name="full_precision")
                self._buffer_index[self._var_key(buffer)] = index
            self._full_precision.append(buffer)
        self._round_in_first_update = False
        if not any(q is not None for q in self._quantizers):
            return
        if _values_exist(variables):
            with _outside_traced_function():
                self._quantize_initial_values()
        else:
            self._round_in_first_update = True

    def _backend_apply_gradients(self, grads, trainable_variables):
        if self._round_in_first_update:
            ops.cond(ops.equal(self.iterations, 0), self._quantize_initial_values, lambda: None)
        super()._backend_apply_gradients(grads, trainable_variables)

    def _quantize_initial_values(self):
        for index, (variable, quantizer) in enumerate(zip(self._trainable_variables, self._quantizers)):
            if quantizer is None:
                continue
            source = ops.convert_to_tensor(variable)
            buffer = self._full_precision[index]
            if buffer is not None:
                source = self._clip(quantizer, source)
                self.assign(buffer, source)
            self.assign(variable, self._round(quantizer, source, index, _BUILD_STEP))

    def quantizer_for(self, variable):
        """The quantizer this optimizer applies to `variable`, or None if it trains it in full precision."""
        return self._quantizers[self._index(variable)]

    def full_precision(self, variable):
        """BC's full-precision buffer ``w_r`` of `variable` (a `keras.Variable`; the model holds ``Q(w_r)``)."""
        if self.method != "bc":
            raise ValueError(
                f"{type(self).__name__} uses {METHODS[self.method]}, which keeps no full-precision copy: the "
                "variable itself holds the quantized weights. Only BC optimizers have full_precision()."
            )
        index = self._index(variable)
        buffer = self._full_precision[index]
        if buffer is None:
            raise ValueError(
                f"'{selection.path_of(variable)}' is not quantized by this optimizer, so it has no buffer."
            )
        return buffer

    def _index(self, variable):
        if not self.built:
            raise ValueError("The optimizer is not built yet: call fit(), apply() or optimizer.build(variables).")
        try:
            return self._get_variable_index(variable)
        except KeyError:
            raise ValueError(f"'{selection.path_of(variable)}' is not trained by this optimizer.") from None

    def _get_variable_index(self, variable):
        # BC runs the base update on the buffer: it shares the slots (moments) of its model variable.
        key = self._var_key(variable)
        buffer_index = getattr(self, "_buffer_index", {})
        return buffer_index[key] if key in buffer_index else super()._get_variable_index(variable)

    # -- the update ------------------------------------------------------------------------------------
    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        quantizer = self._quantizers[index]
        if quantizer is None:
            return super().update_step(gradient, variable, learning_rate)
        gradient = _finite(gradient)
        buffer = self._full_precision[index]
        if buffer is None:  # R, SR: w <- Q(w - alpha * step)
            super().update_step(gradient, variable, learning_rate)
            self.assign(variable, self._round(quantizer, ops.convert_to_tensor(variable), index))
            return
        # BC: w_r <- clip(w_r - alpha * step), w <- Q(w_r); a sparse gradient writes only its rows where it can
        decayed = self.weight_decay is not None and self._use_weight_decay(self._trainable_variables[index])
        if decayed:
            decay = ops.cast(self.weight_decay, buffer.dtype) * ops.cast(learning_rate, buffer.dtype)
            self.assign_sub(buffer, ops.convert_to_tensor(buffer) * decay)
        if self.full_precision_l2:
            gradient = self._add_l2(gradient, buffer)
        with sparse_rows.watch_writes(self, buffer) as writes:
            super().update_step(gradient, buffer, learning_rate)
        rows = None if decayed or not quantizer.elementwise else writes.rows
        if rows is None:
            full_precision = self._clip(quantizer, ops.convert_to_tensor(buffer))
            self.assign(buffer, full_precision)
            self.assign(variable, self._round(quantizer, full_precision, index))
            return
        full_precision = self._clip(quantizer, ops.take(ops.convert_to_tensor(buffer), rows, axis=0))
        if self.clip_full_precision:
            self.assign(buffer, sparse_rows.at_rows(gradient, full_precision, rows))
        self.assign(variable, sparse_rows.at_rows(gradient, self._round(quantizer, full_precision, index, rows=rows),
                                                  rows))

    def _add_l2(self, gradient, buffer):
        """``gradient + c * w_r`` (a sparse gradient stays sparse: ``c * w_r`` at its rows)."""
        c = ops.cast(self.full_precision_l2, buffer.dtype)
        if sparse_rows.is_row_slices(gradient):
            rows = gradient.indices
            return sparse_rows.at_rows(gradient, gradient.values + c * ops.take(ops.convert_to_tensor(buffer), rows,
                                                                                 axis=0), rows)
        return ops.convert_to_tensor(gradient) + c * ops.convert_to_tensor(buffer)

    def _clip(self, quantizer, w):
        return quantizer.clip(w) if self.clip_full_precision else w

    def _round(self, quantizer, w, index, step=None, rows=None):
        """Q(w); `rows`: `w` is those rows of variable `index`, rounded with the noise the whole would get."""
        if self.rounding == "deterministic":
            return quantizer.deterministic(w)
        step = self.iterations if step is None else step
        if rows is None:
            return quantizer.stochastic(w, counter_rng.uniform(w.shape, self.seed, step, index, w.dtype))
        shape = tuple(self._trainable_variables[index].shape)
        noise = ops.take(counter_rng.uniform(shape, self.seed, step, index, w.dtype), rows, axis=0)
        return quantizer.stochastic(w, noise)

    def _apply_weight_decay(self, variables):
        # BC decays its buffer inside update_step; decaying Q(w_r) would be undone by the next rounding.
        if self.built and self.method == "bc":
            variables = [v for v in variables if self._full_precision[self._get_variable_index(v)] is None]
        if variables:
            super()._apply_weight_decay(variables)

    # -- exponential moving average ----------------------------------------------------------------------
    def _update_model_variables_moving_average(self, trainable_variables):
        if self.method == "bc":
            trainable_variables = [
                v if buffer is None else buffer for v, buffer in zip(trainable_variables, self._full_precision)
            ]
        super()._update_model_variables_moving_average(trainable_variables)

    def finalize_variable_values(self, var_list):
        super().finalize_variable_values(var_list)
        if not self.use_ema:
            return
        for variable in var_list:
            index = self._get_variable_index(variable)
            quantizer, buffer = self._quantizers[index], self._full_precision[index]
            if quantizer is None:
                continue
            average = ops.convert_to_tensor(variable)
            if buffer is not None:
                average = self._clip(quantizer, average)
                self.assign(buffer, average)
            self.assign(variable, quantizer.deterministic(average))

    # -- serialization -----------------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            quantizer=keras.saving.serialize_keras_object(self.quantizer),
            quantize=self._serialized_selection(),
            seed=self.seed,
        )
        if self.method == "bc":
            config.update(
                rounding=self.rounding,
                clip_full_precision=self.clip_full_precision,
                full_precision_l2=self.full_precision_l2,
            )
        return config

    def _serialized_selection(self):
        # Once built, the selection is recorded by path, so a reload picks exactly the same variables
        # (and restores the optimizer's variables, which Keras matches by position) without tags or callables.
        if self.built:
            return {
                selection.path_of(v): keras.saving.serialize_keras_object(q)
                for v, q in zip(self._trainable_variables, self._quantizers)
                if q is not None
            }
        if isinstance(self.quantize, dict):
            return {p: keras.saving.serialize_keras_object(q) for p, q in self.quantize.items()}
        if callable(self.quantize):
            return keras.saving.serialize_keras_object(self.quantize)
        return self.quantize

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("quantize"), dict) and "class_name" in config["quantize"]:
            config["quantize"] = keras.saving.deserialize_keras_object(
                config["quantize"], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)


def _finite(gradient):
    """Non-finite gradient entries as 0. A sparse gradient (TensorFlow's IndexedSlices, e.g. from an Embedding)
    stays sparse, so the base optimizer treats it exactly as it would without tfquant."""
    if hasattr(gradient, "indices") and hasattr(gradient, "values") and hasattr(gradient, "dense_shape"):
        values = gradient.values
        return type(gradient)(ops.where(ops.isfinite(values), values, 0.0), gradient.indices, gradient.dense_shape)
    gradient = ops.convert_to_tensor(gradient)
    return ops.where(ops.isfinite(gradient), gradient, 0.0)


def _values_exist(variables):
    """False only for TensorFlow variables created in the tf.function being traced, not yet initialized."""
    if keras.backend.backend() != "tensorflow":
        return True
    import tensorflow as tf

    with tf.init_scope():
        for variable in variables:
            variable = getattr(variable, "value", variable)
            if hasattr(variable, "is_initialized") and not bool(variable.is_initialized()):
                return False
    return True


def quantizing_optimizer(model):
    """The model's tfquant optimizer, looking through a `LossScaleOptimizer`; None if it has none."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return optimizer if hasattr(optimizer, "quantizer_for") else None


def _outside_traced_function():
    """Build-time assignments run once, now, instead of becoming ops of the function being traced.

    On TensorFlow, `fit` without a distribution strategy builds the optimizer while tracing the train
    step; lifting the initial rounding out of the trace (`tf.init_scope`, the one TensorFlow call of the
    library) makes it happen before the first forward pass executes. JAX and PyTorch build eagerly.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.init_scope()
    return contextlib.nullcontext()


def _default_seed():
    """A seed drawn as Keras draws its own (`keras.random.SeedGenerator()` without a seed): from Python's global
    RNG, which `keras.utils.set_random_seed(s)` seeds, so that call fixes SR's noise too. Every process of a
    multi-process run must get the same seed: call set_random_seed with the same value on each, or pass seed=."""
    return random.randint(1, int(1e9))


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"`seed` must be an int (or None for a random one), got seed={seed!r}.")
    return seed


def _check_learning_rate(learning_rate):
    """A number learning rate must be finite and >= 0: a NaN or infinite one makes every update meaningless and a
    negative one climbs the loss, both silently. Schedules and callables are not checked."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule) or callable(learning_rate):
        return
    value = float(ops.convert_to_numpy(learning_rate))
    if not 0 <= value < float("inf"):
        raise ValueError(f"learning_rate must be a finite number >= 0 (or a LearningRateSchedule), got "
                         f"learning_rate={value!r}.")


def _check_bc_option(method, name, value, default):
    if value is None:
        return default if method == "bc" else None
    if method != "bc":
        raise ValueError(
            f"{name}= is a BC option (it acts on the full-precision buffer), but this optimizer uses "
            f"{METHODS[method]}. Use a BC optimizer such as tfquant.BCAdam, or leave {name} out."
        )
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {name}={value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0 (0 turns it off), got {name}={value!r}.")
    return float(value)


def _check_rounding(method, rounding):
    allowed = _ROUNDING[method]
    if rounding is None:
        return allowed[0]
    if rounding not in allowed:
        hint = "BC accepts 'deterministic' or 'stochastic'" if method == "bc" else (
            f"{METHODS[method]} always rounds {allowed[0]}ally; `rounding=` is a BC option"
        )
        raise ValueError(f"rounding={rounding!r} is not valid for {METHODS[method]}: {hint}.")
    return rounding


_CLASSES = {}


def quantized(optimizer_class, method):
    """The quantizing version of any Keras optimizer class: ``quantized(keras.optimizers.Lion, "sr")``.

    `method` is "bc", "sr" or "r". The class is named e.g. ``SRLion`` and registered for `.keras` files as
    ``tfquant>SRLion`` (classes of all built-in Keras optimizers are registered when tfquant is imported;
    call `quantized` for your own optimizer class before loading a model saved with it).
    """
    key = str(method).lower()
    if key not in METHODS:
        raise ValueError(f"method={method!r} is not one of 'bc' (BinaryConnect), 'sr' (stochastic rounding), 'r'.")
    if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, keras.optimizers.Optimizer)):
        raise ValueError(
            "quantized() takes a Keras optimizer class: pass e.g. keras.optimizers.Adam (the class, not a name "
            f"or an instance), got {optimizer_class!r}."
        )
    if issubclass(optimizer_class, QuantizedOptimizer):
        raise ValueError(
            f"{optimizer_class.__name__} already quantizes ({METHODS[optimizer_class.method]}): pass its base class, "
            f"e.g. tfquant.quantized(keras.optimizers.Adam, {key!r})."
        )
    if issubclass(optimizer_class, keras.optimizers.LossScaleOptimizer):
        raise ValueError(
            "Wrap the other way round: keras.optimizers.LossScaleOptimizer(tfquant.BCAdam(...))."
        )
    if (optimizer_class, key) not in _CLASSES:
        name = METHODS[key] + optimizer_class.__name__
        doc = (
            f"{name}: {optimizer_class.__name__} with {METHODS[key]} weight quantization "
            f"(Li et al. 2017, eq. {({'r': 4, 'sr': 6, 'bc': 7})[key]}).\n\n" + QuantizedOptimizer.__doc__
        )
        cls = type(name, (QuantizedOptimizer, optimizer_class), {"method": key, "__doc__": doc, "__module__": __name__})
        _CLASSES[(optimizer_class, key)] = keras.saving.register_keras_serializable("tfquant", name)(cls)
    return _CLASSES[(optimizer_class, key)]


def _builtin_optimizer_classes():
    for name in dir(keras.optimizers):
        candidate = getattr(keras.optimizers, name)
        if (
            isinstance(candidate, type)
            and issubclass(candidate, keras.optimizers.Optimizer)
            and candidate not in (keras.optimizers.Optimizer, keras.optimizers.LossScaleOptimizer)
        ):
            yield candidate


for _base in _builtin_optimizer_classes():
    for _method in METHODS:
        quantized(_base, _method)

BCAdam = quantized(keras.optimizers.Adam, "bc")
SRAdam = quantized(keras.optimizers.Adam, "sr")
RAdam = quantized(keras.optimizers.Adam, "r")
BCSGD = quantized(keras.optimizers.SGD, "bc")
SRSGD = quantized(keras.optimizers.SGD, "sr")
RSGD = quantized(keras.optimizers.SGD, "r")
RAdam.__doc__ = (
    "RAdam: the paper's R-ADAM, Adam followed by deterministic rounding (eq. 4).\n\n"
    "Not Rectified Adam (Liu et al. 2019), which shares the acronym elsewhere.\n\n" + QuantizedOptimizer.__doc__
)

"""Quantization grids and rounding (Li et al. 2017, section 3).

Each rounding rule is a pure function in `keras.ops`; each grid is a small serializable class that names
its rule, its domain and its bit width. Results are clipped to the grid's end points ("finite domains clip
to the grid's end points"), so they are on the grid whatever the input.

Deterministic rounding, eq. (3):   Qd(w) = sign(w) * Delta * floor(|w| / Delta + 1/2)
Stochastic rounding, eq. (5):      Qs(w) = Delta * (floor(x) + [u < x - floor(x)]),  x = w/Delta,  u ~ U[0, 1),
                                   i.e. up with probability p = x - floor(x), down otherwise, so E[Qs(w)] = w;
                                   then clipped to the grid's end points.
Binary grid {-Delta, +Delta}:      Qd(w) = Delta * sign(w)   (sign(0) = +1),
                                   Qs(w) = +Delta if u < p else -Delta,  p = (clip(w, -Delta, Delta) / Delta + 1) / 2.

Both stochastic rules are exact in float32 for every noise value u in [0, 1 - 2**-24] (the range of
`tfquant.counter_rng`): a comparison ``u < p`` never rounds, unlike the textbook ``floor(x + u)``, which
moves a grid point k >= 1 to k + 1 when ``k + u`` rounds up to k + 1 in float32.
"""

import keras
import numpy as np
from keras import ops

from tfquant import grids, kernels


# ---------------------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------------------
def round_deterministic(w, delta, levels=None):
    """Eq. (3): ``sign(w) * Delta * floor(|w| / Delta + 1/2)``, clipped to ``[-levels*Delta, levels*Delta]``.

    `levels=None` is the unbounded grid ``Delta * Z``.
    """
    w = ops.convert_to_tensor(w)
    steps = ops.sign(w) * ops.floor(ops.abs(w) / delta + 0.5)
    if levels is not None:
        steps = ops.clip(steps, -levels, levels)
    return steps * delta


def round_stochastic(w, delta, noise, levels=None):
    """Eq. (5): ``Delta * (floor(x) + [u < x - floor(x)])`` with ``x = w / Delta``, clipped to ``[-L, L]``.

    `noise` is ``u``, uniform in [0, 1) with the shape of `w`: ``x`` goes up with probability
    ``x - floor(x)``, down otherwise, so ``E[Qs(w)] = w`` inside the domain.

    A weight already on the grid stays exactly where it is, for every ``u``. This needs one check beyond the
    formula: a grid value ``w = fl(k * Delta)`` does not always divide back to ``k`` in float32
    (``fl(w / Delta)`` is ``k`` plus or minus one ulp for about one in nine pairs, measured over |k| <= 4096
    and 20 000 random Delta), and ``k - 1ulp`` would go down to ``k - 1`` whenever ``u >= 1 - 1ulp``:
    probability ulp(k) per weight per step, at least 2**-24, certain over a long run. So values that equal
    ``round(x) * Delta`` exactly (bit for bit, which is how the grid is written) are kept; everything else
    follows the formula.
    """
    w = ops.convert_to_tensor(w)
    x = w / delta
    down = ops.floor(x)
    steps = down + ops.cast(ops.less(ops.convert_to_tensor(noise), x - down), x.dtype)
    nearest = ops.round(x)
    steps = ops.where(ops.equal(nearest * delta, w), nearest, steps)
    if levels is not None:
        steps = ops.clip(steps, -levels, levels)
    return steps * delta


def binarize_deterministic(w, delta):
    """``Delta * sign(w)`` with ``sign(0) = +1`` (0 is not on the binary grid)."""
    w = ops.convert_to_tensor(w)
    return ops.cast(ops.where(w >= 0, delta, -delta), w.dtype)


def binarize_stochastic(w, delta, noise):
    """``+Delta`` with probability ``p = (clip(w, -Delta, Delta)/Delta + 1)/2``, else ``-Delta``; E = clip(w)."""
    w = ops.convert_to_tensor(w)
    p = (ops.clip(w / delta, -1.0, 1.0) + 1.0) / 2.0
    return ops.cast(ops.where(ops.convert_to_tensor(noise) < p, delta, -delta), w.dtype)


def channel_scale(w, channel_axes):
    """BWN scale: mean |w| per output channel, i.e. over every axis not in `channel_axes` (kept as size-1
    axes so the result broadcasts against `w`); `tfquant.kernels.output_channel_axes` gives a Keras layer's
    channel axes. A rank-0 or rank-1 `w` has one scale."""
    w = ops.convert_to_tensor(w)
    if len(w.shape) < 2:
        return ops.mean(ops.abs(w))
    return ops.mean(ops.abs(w), axis=kernels.reduction_axes(len(w.shape), channel_axes), keepdims=True)


# ---------------------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------------------
class Quantizer:
    """A grid with its two rounding rules.

    Subclasses define `deterministic(w)`, `stochastic(w, noise)`, `clip(w)` (the domain BC's full-precision
    buffer lives in), `on_grid(w)` (bool tensor), `grid(w, channel_axes)` (the `tfquant.grids.Grid` record of
    the grid it puts `w` on: what summary and the export report print) and `bits` (storage bits per weight,
    None if unbounded).
    """

    bits = None
    elementwise = True  # Q(w) of an entry depends on that entry alone (ScaledBinary: on its whole channel)

    def __call__(self, w):
        return self.deterministic(w)

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, repr(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


MAX_BITS = 24  # float32 holds every integer up to 2**24 exactly: finer grids cannot be stored


def _check_delta(delta):
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)):
        raise ValueError(f"`delta` must be a positive finite number (the grid step), got delta={delta!r}.")
    if not 0 < float(delta) < float("inf"):
        raise ValueError(f"`delta` must be a positive finite number (the grid step), got delta={delta!r}.")
    return float(delta)


@keras.saving.register_keras_serializable(package="tfquant")
class Binary(Quantizer):
    """The binary grid ``{-Delta, +Delta}`` (1 bit). The paper's default, with ``Delta = 1``."""

    bits = 1

    def __init__(self, delta=1.0):
        self.delta = _check_delta(delta)

    def deterministic(self, w):
        return binarize_deterministic(w, self.delta)

    def stochastic(self, w, noise):
        return binarize_stochastic(w, self.delta, noise)

    def clip(self, w):
        return ops.clip(w, -self.delta, self.delta)

    def on_grid(self, w):
        return ops.equal(ops.abs(ops.convert_to_tensor(w)), self.delta)

    def grid(self, w, channel_axes=None):
        return grids.of_quantizer(grids.BINARY, self.delta, 1, 1, w, channel_axes)

    def get_config(self):
        return {"delta": self.delta}


@keras.saving.register_keras_serializable(package="tfquant")
class Uniform(Quantizer):
    """The symmetric uniform grid ``{-L, ..., L} * Delta`` with ``L = 2**(bits-1) - 1``.

    ``bits=2`` is ternary ``{-Delta, 0, Delta}``, ``bits=3`` is ``{-3..3} * Delta``. ``bits=None`` is the
    unbounded grid ``Delta * Z`` of the paper's theory (no clipping).
    """

    def __init__(self, delta, bits=None):
        self.delta = _check_delta(delta)
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= MAX_BITS):
            raise ValueError(
                f"`bits` must be an integer from 2 to {MAX_BITS} or None (unbounded grid), got bits={bits!r}. "
                "For 1 bit use tfquant.Binary(delta)."
            )
        self.bits = bits

    @property
    def levels(self):
        """L, the largest grid index; None for the unbounded grid."""
        return None if self.bits is None else 2 ** (self.bits - 1) - 1

    def deterministic(self, w):
        return round_deterministic(w, self.delta, self.levels)

    def stochastic(self, w, noise):
        return round_stochastic(w, self.delta, noise, self.levels)

    def clip(self, w):
        if self.levels is None:
            return w
        bound = self.levels * self.delta
        return ops.clip(w, -bound, bound)

    def on_grid(self, w):
        w = ops.convert_to_tensor(w)
        steps = w / self.delta
        nearest = ops.round(steps)
        # Exactly as the rounding writes it, or within 1e-4 steps (values that went through other arithmetic).
        on = ops.logical_or(ops.equal(nearest * self.delta, w), ops.less(ops.abs(steps - nearest), 1e-4))
        if self.levels is not None:
            on = ops.logical_and(on, ops.less_equal(ops.abs(steps), self.levels + 1e-4))
        return on

    def grid(self, w, channel_axes=None):
        return grids.of_quantizer(grids.GRID, self.delta, self.levels, self.bits, w, channel_axes)

    def get_config(self):
        return {"delta": self.delta, "bits": self.bits}


@keras.saving.register_keras_serializable(package="tfquant")
class ScaledBinary(Quantizer):
    """Per-output-channel scaled binary (BWN, Rastegari et al. 2016): ``Q(w) = s_c * sign(w)``,
    ``s_c = mean |w|`` over the kernel entries of output channel ``c``.

    `channel_axes` are the kernel's output-channel axes (`tfquant.kernels.output_channel_axes`). None means
    "the kernel's own": an optimizer (and `tfquant.quantize_weights`) gives each kernel its axes from the layer
    that holds it (`tfquant.kernels.TABLE`), on every layer kind, and refuses a kernel it cannot place. Called
    directly on a rank >= 2 array, an axis-less ScaledBinary raises: it never guesses the layout.

    Meant for BC, where `w` is the full-precision buffer: the scale follows the buffer's magnitude, so the
    buffer is not clipped. Stochastic rounding binarizes ``w / s_c`` as `Binary(1)` does, then rescales.
    """

    bits = 1
    elementwise = False

    def __init__(self, channel_axes=None):
        if channel_axes is not None:
            if isinstance(channel_axes, int) and not isinstance(channel_axes, bool):
                channel_axes = (channel_axes,)
            if not (isinstance(channel_axes, (tuple, list)) and channel_axes
                    and all(isinstance(a, int) and not isinstance(a, bool) for a in channel_axes)):
                raise ValueError(
                    f"`channel_axes` must be None or a tuple of ints (the kernel's output-channel axes, see "
                    f"tfquant.kernels.output_channel_axes), got channel_axes={channel_axes!r}."
                )
            channel_axes = tuple(channel_axes)
        self.channel_axes = channel_axes

    def _axes(self, w):
        if self.channel_axes is None and len(w.shape) >= 2:
            raise ValueError(
                f"tfquant.ScaledBinary() has no channel_axes, so it cannot tell the output channels of a kernel of "
                f"shape {tuple(w.shape)}. Use it through a BC optimizer (which reads each kernel's axes from its "
                "layer), or pass them: tfquant.ScaledBinary(channel_axes=tfquant.kernels.output_channel_axes(layer))."
            )
        return self.channel_axes

    def deterministic(self, w):
        w = ops.convert_to_tensor(w)
        return binarize_deterministic(w, 1.0) * channel_scale(w, self._axes(w))

    def stochastic(self, w, noise):
        w = ops.convert_to_tensor(w)
        scale = channel_scale(w, self._axes(w))
        return binarize_stochastic(w / ops.maximum(scale, 1e-12), 1.0, noise) * scale

    def clip(self, w):
        return w

    def on_grid(self, w):
        w = ops.convert_to_tensor(w)
        magnitude = ops.abs(w)
        if len(w.shape) < 2:
            peak = ops.max(magnitude)
        else:
            peak = ops.max(magnitude, axis=kernels.reduction_axes(len(w.shape), self._axes(w)), keepdims=True)
        return ops.less_equal(ops.abs(magnitude - peak), grids.BINARY_RTOL * ops.maximum(peak, 1e-30))

    def grid(self, w, channel_axes=None):
        return grids.of_quantizer(grids.BINARY, None, 1, 1, w, self.channel_axes or channel_axes)

    def get_config(self):
        return {} if self.channel_axes is None else {"channel_axes": list(self.channel_axes)}


def _shortest(x, float32):
    """A float32 step as the decimal it was written as (0.05, not 0.05000000074505806)."""
    return float(np.format_float_positional(np.float32(x))) if float32 else float(x)


def from_grid(grid, channel_axes=None, float32=True):
    """The quantizer class that describes a detected `tfquant.grids.Grid`, or None when none does (a grid with
    one step per channel): `Binary` (one s), `ScaledBinary(channel_axes)` (an s per channel), `Uniform`."""
    if grid is None:
        return None
    if grid.kind == grids.BINARY:
        if grid.per_channel:
            return ScaledBinary(channel_axes)
        return Binary(_shortest(grid.scales[0], float32))
    if grid.per_channel:
        return None
    return Uniform(_shortest(grid.scales[0], float32), bits=max(grid.bits, 2))


def get(identifier):
    """A quantizer from a `Quantizer`, its config dict, or a name ("binary", "scaled_binary")."""
    if isinstance(identifier, Quantizer):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    names = {"binary": Binary, "scaled_binary": ScaledBinary}
    if isinstance(identifier, str) and identifier.lower() in names:
        return names[identifier.lower()]()
    raise ValueError(
        f"Unknown quantizer {identifier!r}: pass tfquant.Binary(delta), tfquant.Uniform(delta, bits), "
        "tfquant.ScaledBinary(), or one of the names 'binary', 'scaled_binary'."
    )

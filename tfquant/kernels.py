"""The kernel table: which Keras layer weights are kernels, of which kind, and which axes index their output channels.

Every part of tfquant that needs a kernel's layout reads it here (selection, `tfquant.ScaledBinary` through
the optimizer, `tfquant.summary`, the export report, the zoo, the benchmarks). A new layer kind is one row
of `TABLE`. Keras lays kernels out as

* ``plain``: ``Dense`` ``(in, out)``, ``Conv1D/2D/3D`` ``(*window, in, out)``, ``SeparableConv*``'s
  ``pointwise_kernel`` ``(1.., in, out)``: the output channel is the last axis;
* ``transposed``: ``Conv1DTranspose/2DTranspose/3DTranspose`` ``(*window, out, in)``: the second-to-last axis;
* ``depthwise``: ``DepthwiseConv1D/2D`` and ``SeparableConv*``'s ``depthwise_kernel`` ``(*window, C, M)``,
  M the depth multiplier: an output channel is a pair (c, m), numbered ``c * M + m`` as TFLite does when it
  stores the filter as ``(1, H, W, C * M)``, so "per channel" means per (c, m), over the window axes;
* ``einsum``: ``EinsumDense``: the kernel axes whose letters appear in the equation's output.

`output_channel_axes` gives those axes; `reduction_axes` the others (where a per-channel statistic such as
ScaledBinary's ``mean |w|`` is taken); `channels_last` reshapes a kernel so that its output channels, in
TFLite's order, form its last axis. `owners` finds the layer that holds each variable, so an optimizer,
which sees only variables, learns their layout without any call from the user.
"""

import dataclasses
import gc

import keras
import numpy as np

from tfquant import grids

TAG = "tfquant_channel_axes"  # explicit axes set on a variable (`tag_channel_axes`); wins over the table

PLAIN, TRANSPOSED, DEPTHWISE, EINSUM = "plain", "transposed", "depthwise", "einsum"
CONV_KINDS = (PLAIN, TRANSPOSED, DEPTHWISE)


@dataclasses.dataclass(frozen=True)
class Row:
    """Weight `weight` of a layer of one of `layers` (subclasses included) is a kernel of kind `kind`; `conv`:
    a convolution's (the paper quantizes these), else a dense layer's."""
    layers: tuple
    weight: str
    kind: str
    conv: bool


_L = keras.layers
TABLE = (
    Row((_L.Conv1DTranspose, _L.Conv2DTranspose, _L.Conv3DTranspose), "kernel", TRANSPOSED, conv=True),
    Row((_L.DepthwiseConv1D, _L.DepthwiseConv2D), "kernel", DEPTHWISE, conv=True),
    Row((_L.SeparableConv1D, _L.SeparableConv2D), "depthwise_kernel", DEPTHWISE, conv=True),
    Row((_L.SeparableConv1D, _L.SeparableConv2D), "pointwise_kernel", PLAIN, conv=True),
    Row((_L.Conv1D, _L.Conv2D, _L.Conv3D), "kernel", PLAIN, conv=True),
    Row((_L.Dense,), "kernel", PLAIN, conv=False),
    Row((_L.EinsumDense,), "kernel", EINSUM, conv=False),
)
KERNEL_NAMES = tuple(dict.fromkeys(row.weight for row in TABLE))  # ("kernel", "depthwise_kernel", "pointwise_kernel")


def row_of(layer, weight_name="kernel"):
    """The first `TABLE` row for `layer`'s weight `weight_name`, or None if it is not a kernel."""
    return next((row for row in TABLE if row.weight == weight_name and isinstance(layer, row.layers)), None)


def kind_of(layer, weight_name="kernel"):
    """The kind of `layer`'s weight `weight_name` by `TABLE`, or None if it is not a kernel."""
    row = row_of(layer, weight_name)
    return None if row is None else row.kind


def is_conv(layer):
    """Whether `layer` is a convolution of `TABLE` (Conv*, transposed, depthwise, separable)."""
    return any(row.conv and isinstance(layer, row.layers) for row in TABLE)


def weight_of(layer, weight_name):
    """The variable `layer` holds as weight `weight_name` (Keras's Dense keeps it as ``_kernel``), or None."""
    for attribute in (weight_name, "_" + weight_name):
        value = layer.__dict__.get(attribute)
        if isinstance(value, keras.Variable):
            return value
    return None


def layer_kernels(layer):
    """``[(weight name, variable)]``: the kernels `layer` itself holds, by `TABLE`."""
    out = []
    for name in KERNEL_NAMES:
        variable = weight_of(layer, name)
        if variable is not None and kind_of(layer, name) is not None:
            out.append((name, variable))
    return out


def model_kernels(model):
    """``[(layer, weight name, variable)]`` for every kernel of `model` (nested layers included), in layer order."""
    layers = model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers
    return [(layer, name, variable) for layer in layers for name, variable in layer_kernels(layer)]


def _axes(layer, kind, rank):
    if kind == DEPTHWISE:
        return (rank - 2, rank - 1)
    if kind == TRANSPOSED:
        return (rank - 2,)
    if kind == EINSUM:
        inputs, output = layer.equation.replace(" ", "").split("->")
        kernel_spec = inputs.split(",")[1]
        return tuple(i for i, letter in enumerate(kernel_spec) if letter in output)
    return (rank - 1,)


def output_channel_axes(layer, variable_name="kernel"):
    """Non-negative axes of `layer`'s kernel `variable_name` that index its output channels (by `TABLE`)."""
    variable = weight_of(layer, variable_name)
    if variable is None:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) has no built weight '{variable_name}'; build the "
            "model first, and pass variable_name= for kernels with another name (e.g. 'depthwise_kernel')."
        )
    kind = kind_of(layer, variable_name)
    if kind is None:
        raise ValueError(
            f"Weight '{variable_name}' of layer '{layer.name}' ({type(layer).__name__}) is not in tfquant's kernel "
            "table (tfquant.kernels.TABLE), so its output-channel axes are unknown. Add a Row for the layer "
            "class, or tag the variable: tfquant.quantize_weights(layer, tfquant.ScaledBinary(channel_axes=...))."
        )
    return _axes(layer, kind, len(variable.shape))


def reduction_axes(rank, channel_axes):
    """The axes of a rank-`rank` kernel that are not output-channel axes."""
    channel_axes = grids.axes_of(rank, channel_axes)
    return tuple(a for a in range(rank) if a not in channel_axes)


def channels_last(layer, variable_name="kernel", value=None):
    """The kernel (or `value`, an array of its shape) with its output channels on the last axis, in TFLite's order."""
    kernel = np.asarray(weight_of(layer, variable_name) if value is None else value)
    axes = output_channel_axes(layer, variable_name)
    others = reduction_axes(kernel.ndim, axes)
    moved = np.transpose(kernel, others + axes)
    return moved.reshape(moved.shape[: len(others)] + (-1,))


def channel_shape(layer, variable_name="kernel"):
    """The kernel's shape with 1 on every axis but the output-channel axes: per-channel values (in TFLite's
    order) reshaped to it broadcast against the kernel."""
    shape = tuple(weight_of(layer, variable_name).shape)
    axes = output_channel_axes(layer, variable_name)
    return tuple(d if a in axes else 1 for a, d in enumerate(shape))


def owners(variables):
    """``{id(variable): (layer, weight name)}``: the layer of `TABLE` that holds each of `variables` as a kernel.

    An optimizer sees only variables (``build(var_list)``), whatever built them: a Sequential, functional,
    subclassed or nested model, or a lone layer. Keras variables keep no link to their layer, but the layer
    keeps one to them (an attribute such as ``kernel``), so the holders are found among the objects that
    refer to the variables (one pass of Python's garbage collector over live objects; a second for layers
    whose attributes live in a ``__dict__``). A variable no table layer holds is left out.
    """
    variables = list(variables)
    if not variables:
        return {}
    referrers = gc.get_referrers(*variables)
    layers = [r for r in referrers if isinstance(r, keras.layers.Layer)]
    dicts = {id(r) for r in referrers if isinstance(r, dict)}
    if dicts:
        layers += [r for r in gc.get_referrers(*[r for r in referrers if id(r) in dicts])
                   if isinstance(r, keras.layers.Layer) and id(getattr(r, "__dict__", None)) in dicts]
    wanted = {id(v) for v in variables}
    found = {}
    for layer in layers:
        for name, variable in layer_kernels(layer):
            if id(variable) in wanted:
                found.setdefault(id(variable), (layer, name))
    return found


def channel_axes(variable, owner=None):
    """The output-channel axes of `variable`: its tag if it has one, else by `TABLE` from `owner`
    (``(layer, weight name)``, see `owners`), else None (unknown: callers refuse, they never guess)."""
    tagged = getattr(variable, TAG, None)
    if tagged:
        return tuple(tagged)
    if owner is None:
        return None
    return output_channel_axes(*owner)


def tag_channel_axes(model):
    """Record each kernel's output-channel axes on its variable (``variable.tfquant_channel_axes``).

    No longer needed: optimizers read a kernel's layout from its layer (`owners`). Kept so that code calling
    it keeps working; the tag wins over the table. Returns `model`."""
    for layer, name, variable in model_kernels(model):
        setattr(variable, TAG, output_channel_axes(layer, name))
    return model

"""Which axes of a Keras kernel index its output channels: the one place tfquant decides it.

Keras lays kernels out as

* ``Dense`` ``(in, out)``, ``Conv1D/2D/3D`` ``(*window, in, out)``, ``SeparableConv*`` pointwise ``(1.., in, out)``:
  the output channel is the last axis;
* ``Conv1DTranspose/2DTranspose/3DTranspose`` ``(*window, out, in)``: the second-to-last axis;
* ``DepthwiseConv1D/2D`` (and ``SeparableConv*``'s ``depthwise_kernel``) ``(*window, C, M)``, M the depth
  multiplier: an output channel is a pair (c, m), numbered ``c * M + m`` as TFLite does when it stores the
  filter as ``(1, H, W, C * M)``. So "per channel" means per (c, m), over the window axes.

`output_channel_axes` gives those axes; `reduction_axes` the others (where a per-channel statistic such as
`tfquant.ScaledBinary`'s ``mean |w|`` is taken); `channels_last` reshapes a kernel so that the output
channels, in TFLite's order, form its last axis.
"""

import numpy as np

TAG = "tfquant_channel_axes"  # set on a kernel variable by `tag_channel_axes`; read by ScaledBinary's selection


def _kind(layer, variable_name):
    name = type(layer).__name__
    if variable_name == "depthwise_kernel" or name.startswith("DepthwiseConv"):
        return "depthwise"
    if "Transpose" in name:
        return "transpose"
    return "plain"


def output_channel_axes(layer, variable_name="kernel"):
    """Non-negative axes of ``layer``'s kernel `variable_name` that index its output channels."""
    kernel = getattr(layer, variable_name, None)
    if kernel is None:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) has no built weight '{variable_name}'; build the "
            "model first, and pass variable_name= for kernels with another name (e.g. 'depthwise_kernel')."
        )
    rank = len(kernel.shape)
    kind = _kind(layer, variable_name)
    if kind == "depthwise":
        return (rank - 2, rank - 1)
    if kind == "transpose":
        return (rank - 2,)
    return (rank - 1,)


def reduction_axes(rank, channel_axes):
    """The axes of a rank-`rank` kernel that are not output-channel axes."""
    channel_axes = {a % rank for a in channel_axes}
    return tuple(a for a in range(rank) if a not in channel_axes)


def channels_last(layer, variable_name="kernel"):
    """The kernel as a NumPy array whose last axis is the output channel, numbered as TFLite does."""
    kernel = np.asarray(getattr(layer, variable_name))
    axes = output_channel_axes(layer, variable_name)
    others = reduction_axes(kernel.ndim, axes)
    moved = np.transpose(kernel, others + axes)
    return moved.reshape(moved.shape[: len(others)] + (-1,))


def tag_channel_axes(model):
    """Record each kernel's output-channel axes on the variable (``variable.tfquant_channel_axes``), so a
    `tfquant.ScaledBinary` chosen by an optimizer's ``quantizer=`` scales per output channel on every layer
    kind, depthwise and transposed included. Call it once the model is built. Returns `model`."""
    for layer in model._flatten_layers(include_self=False) if hasattr(model, "_flatten_layers") else model.layers:
        for variable_name in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            variable = getattr(layer, variable_name, None)
            if variable is not None and hasattr(variable, "shape") and len(variable.shape) >= 2:
                setattr(variable, TAG, output_channel_axes(layer, variable_name))
    return model

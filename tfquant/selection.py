"""Which variables are quantized, and with which grid: the *what*, kept apart from the *how* (the optimizer).

A variable is chosen by, in this order:

1. a per-layer tag set with `quantize_weights(layer, quantizer)` (or a custom layer setting
   ``variable.tfquant_quantizer``); a tag of ``None`` excludes the variable;
2. the optimizer's ``quantize=`` rule: ``"conv"`` (conv kernels, the paper's choice), ``"kernels"`` (every
   conv and dense kernel; no biases, batch-norm or embedding parameters), ``"all"`` (every float variable
   the optimizer trains), a callable ``f(keras.Variable) -> bool | Quantizer``, or a dict
   ``{variable.path: Quantizer | None}`` (paths match on a trailing part, e.g. ``"conv1/kernel"``; a saved
   optimizer records its selection this way, so a reload selects exactly the same variables even when the
   tags or the callable are gone).

The selection is resolved once, in ``optimizer.build``, where variables still carry ``.path``. A
`tfquant.ScaledBinary` without explicit axes is given each kernel's output-channel axes there, from the layer
that holds the variable (`tfquant.kernels`); a kernel no table layer holds is refused, never guessed.
"""

import warnings

from tfquant import grids, kernels
from tfquant import quantizers as quantizers_lib

TAG = "tfquant_quantizer"
CONV_KERNEL_NAMES = kernels.KERNEL_NAMES
RULES = ("conv", "kernels", "all")


def path_of(variable):
    """``variable.path`` of a `keras.Variable`; a raw ``tf.Variable`` has only a name (``"w:0"`` -> ``"w"``)."""
    path = getattr(variable, "path", None)
    return path if path is not None else str(variable.name).split(":")[0]


def short_name(variable):
    """The variable's own name, the last part of its path (``conv1/kernel`` -> ``kernel``)."""
    return path_of(variable).rsplit("/", 1)[-1]


def is_conv_kernel(variable):
    """Conv1D/2D/3D, transposed, depthwise and separable conv kernels: rank >= 3 kernels.

    Dense kernels (rank 2), biases and batch-norm parameters (rank 1) are not.
    """
    return short_name(variable) in CONV_KERNEL_NAMES and len(variable.shape) >= 3


def is_kernel(variable):
    """Conv kernels and Dense/EinsumDense kernels (rank >= 2); not biases, batch norm or embeddings."""
    return short_name(variable) in CONV_KERNEL_NAMES and len(variable.shape) >= 2


def _is_float(variable):
    return "float" in str(variable.dtype)


def quantize_weights(layer, quantizer, names=CONV_KERNEL_NAMES):
    """Tag the weights `names` of `layer` with their own `quantizer` (``None``: never quantize them).

    The tag overrides the optimizer's ``quantizer=`` and ``quantize=`` for these variables. The layer must
    be built (call the model on an input, or ``model.build``) so that its weights exist. Returns `layer`.
    """
    if quantizer is not None:
        quantizer = quantizers_lib.get(quantizer)
    if not layer.built:
        raise ValueError(
            f"Layer '{layer.name}' is not built yet, so it has no weights to tag. Build the model first "
            "(e.g. `model.build(input_shape)` or call it on a batch), then call quantize_weights."
        )
    tagged = [v for v in layer.weights if v.name in names]
    if not tagged:
        raise ValueError(
            f"Layer '{layer.name}' has no weight named any of {list(names)}; its weights are "
            f"{[v.name for v in layer.weights]}. Pass `names=` with the ones to quantize."
        )
    owners = {id(v): (layer, short_name(v)) for v in tagged if kernels.kind_of(layer, short_name(v))}
    for variable, choice in zip(tagged, place_channels(tagged, [quantizer] * len(tagged), owners)):
        setattr(variable, TAG, choice)
    return layer


def check_rule(quantize):
    """Validate an optimizer's ``quantize=`` argument early, with a message that says how to fix it."""
    if isinstance(quantize, str):
        if quantize not in RULES:
            raise ValueError(
                f"quantize={quantize!r} is not a known rule: use 'conv' (conv kernels), 'kernels' (conv and "
                "dense kernels), 'all' (every float variable), a callable(variable) -> bool | Quantizer, or a "
                "dict {variable.path: Quantizer}."
            )
    elif isinstance(quantize, dict):
        for path in quantize:
            if not isinstance(path, str) or not path:
                raise ValueError(
                    f"quantize= dict keys must be variable paths such as 'conv1/kernel', got {path!r}."
                )
        return {path: None if q is None else quantizers_lib.get(q) for path, q in quantize.items()}
    elif not callable(quantize):
        raise ValueError(
            f"quantize= must be 'conv', 'kernels', 'all', a callable or a dict, got "
            f"{type(quantize).__name__}: {quantize!r}."
        )
    return quantize


def resolve(variables, quantize, default):
    """One quantizer (or None) per variable, by tag, then by the rule `quantize`; warns if none matched.

    A `ScaledBinary` without axes gets the variable's output-channel axes (`place_channels`)."""
    chosen = place_channels(variables, [_rule_choice(v, quantize, default) for v in variables])
    if variables and not any(chosen):
        names = ", ".join(f"{path_of(v)} {tuple(v.shape)}" for v in variables[:12])
        warnings.warn(
            f"tfquant: quantize={quantize!r} matched none of the {len(variables)} trainable variables, so "
            f"this optimizer trains in full precision. Candidates: {names}. Use quantize='all', a callable, "
            "or tag layers with tfquant.quantize_weights(layer, quantizer).",
            stacklevel=3,
        )
    return chosen


def place_channels(variables, chosen, owners=None):
    """`chosen` with every axis-less `ScaledBinary` of a rank >= 2 variable given that kernel's output-channel
    axes: a tag, else the kernel table through the layer holding the variable (`kernels.owners`, looked up only
    when needed, unless `owners` is given). A kernel that cannot be placed raises ValueError naming the fix."""
    pending = [i for i, (v, q) in enumerate(zip(variables, chosen)) if _needs_axes(v, q)]
    if not pending:
        return chosen
    if owners is None:
        owners = kernels.owners([variables[i] for i in pending])
    chosen = list(chosen)
    for i in pending:
        axes = kernels.channel_axes(variables[i], owners.get(id(variables[i])))
        if axes is None:
            raise ValueError(
                f"tfquant.ScaledBinary() cannot tell the output channels of '{path_of(variables[i])}' (shape "
                f"{tuple(variables[i].shape)}): no layer of tfquant's kernel table (tfquant.kernels.TABLE) holds it. "
                "Pass the axes, tfquant.ScaledBinary(channel_axes=(...)), e.g. through "
                "tfquant.quantize_weights(layer, ...) or quantize={path: ...}, or add a Row for its layer class."
            )
        chosen[i] = quantizers_lib.ScaledBinary(channel_axes=axes)
    return chosen


def _needs_axes(variable, quantizer):
    return (isinstance(quantizer, quantizers_lib.ScaledBinary) and quantizer.channel_axes is None
            and len(variable.shape) >= 2)


def _rule_choice(variable, quantize, default):
    if hasattr(variable, TAG):
        return _checked(variable, getattr(variable, TAG), "its tag")
    if isinstance(quantize, dict):
        choice = next((q for path, q in quantize.items() if _same_path(path, path_of(variable))), None)
        return _checked(variable, choice, "quantize= (a dict)")
    if quantize == "conv":
        return default if is_conv_kernel(variable) and _is_float(variable) else None
    if quantize == "kernels":
        return default if is_kernel(variable) and _is_float(variable) else None
    if quantize == "all":
        return default if _is_float(variable) else None
    choice = quantize(variable)
    if choice is True:
        choice = default
    elif choice is False or choice is None:
        choice = None
    return _checked(variable, quantizers_lib.get(choice) if choice is not None else None, "quantize=")


def _same_path(a, b):
    """Paths match when one ends the other at a '/': a model reloaded from a file names its variables
    ``conv1/kernel`` where the original said ``net/conv1/kernel``."""
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def _checked(variable, quantizer, source):
    if quantizer is not None and not _is_float(variable):
        raise ValueError(
            f"{source} selects '{path_of(variable)}' of dtype {variable.dtype} for quantization, but only "
            "floating-point variables can hold grid values. Exclude it from the selection."
        )
    axes = getattr(quantizer, "channel_axes", None)
    if axes is not None and len(variable.shape) >= 2:
        try:
            grids.axes_of(len(variable.shape), axes)
        except ValueError as error:
            raise ValueError(f"{source} gives '{path_of(variable)}' (shape {tuple(variable.shape)}) {quantizer!r}, "
                             f"but the {error}") from None
    return quantizer

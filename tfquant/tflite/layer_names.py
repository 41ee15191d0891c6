"""Which Keras layer each filter of a converted file comes from: found by the weights, not by the names.

The converter's tensor names carry TensorFlow's name scopes, which TensorFlow makes unique within the
traced graph: a model loaded in a new process names its first conv's tensors `.../conv2d_1/...` and its
second conv's `.../conv2d_1_2/...`, so a name can point at the wrong layer. The weights cannot: a filter
is its Keras kernel times a factor per output channel (batch-norm folding multiplies channel c by
γ_c / sqrt(σ²_c + ε), which may be negative), then perhaps rounded to int8 per channel. So filter f is
matched to the kernel k, among those with as many channels and weights per channel, that maximises

    score(f, k) = mean over output channels c of |cos(f_c, k_c)|,

each channel flattened in TFLite's order (`tfquant.kernels.channels_last` gives the Keras kernel so;
`filters.OPS` the filter's channel axis). An exact match scores 1; an unrelated kernel of the same
shape about sqrt(2 / (π·n)) for n weights per channel. Each kernel is given to one filter while an unused
candidate is left.
"""
import numpy as np

from tfquant import kernels as kernel_table
from tfquant_lite import flatbuffer as fb

from .filters import OPS, filters


def _rows(w, axis):
    """`w` as (channels, weights per channel) float64, channels along `axis`."""
    w = np.asarray(w, dtype=np.float64)
    return np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def keras_kernels(model):
    """[((layer name, weight name), kernel rows)] for every kernel of `model` (`tfquant.kernels.model_kernels`:
    nested models included), in layer order."""
    return [((layer.name, name), _rows(kernel_table.channels_last(layer, name), -1))
            for layer, name, _ in kernel_table.model_kernels(model)]


def score(filter_rows, kernel_rows):
    """Mean over channels of |cos| between the filter's and the kernel's channel c (both zero: 1)."""
    norms = np.linalg.norm(filter_rows, axis=1) * np.linalg.norm(kernel_rows, axis=1)
    dots = np.abs(np.sum(filter_rows * kernel_rows, axis=1))
    both_zero = (np.linalg.norm(filter_rows, axis=1) == 0) & (np.linalg.norm(kernel_rows, axis=1) == 0)
    return float(np.mean(np.where(both_zero, 1.0, dots / np.where(norms > 0, norms, 1.0))))


def source_kernels(model, model_bytes):
    """The Keras kernel, ``(layer name, weight name)``, each filter of the converted `model_bytes` comes from,
    in `filters` order (None for a filter that no kernel of `model` has the shape of)."""
    kernels = keras_kernels(model)
    tflite_model = fb.read(model_bytes)
    used, names = set(), []
    for _, op, record in filters(tflite_model):
        layout = OPS[record.op]
        value = fb.constant(tflite_model, tflite_model.subgraphs[0].tensors[op.inputs[layout.filter_input]])
        rows = None if value is None else _rows(value, layout.output_axis)
        candidates = [(i, k) for i, (_, k) in enumerate(kernels) if rows is not None and k.shape == rows.shape]
        if not candidates:
            names.append(None)
            continue
        free = [(i, k) for i, k in candidates if i not in used] or candidates
        best = max(free, key=lambda item: score(rows, item[1]))[0]  # max keeps the first of equal scores
        used.add(best)
        names.append(kernels[best][0])
    return names


def source_layers(model, model_bytes):
    """The Keras layer name each filter of `model_bytes` comes from (`source_kernels`' layer names)."""
    return [None if kernel is None else kernel[0] for kernel in source_kernels(model, model_bytes)]

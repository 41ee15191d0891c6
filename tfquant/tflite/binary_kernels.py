"""Find weights that lie on a binary or k-bit grid, in Keras kernels and in converted filters.

A kernel is *binary per channel* when every weight of output channel c is `±s_c`:
`|w[..., c]| = s_c`. A per-layer binary kernel (one `s` for the layer) is the special case
`s_c = s`. Batch-norm folding multiplies channel c of the kernel by `γ_c / sqrt(σ²_c + ε)`, so a
folded binary kernel stays binary per channel (with new `s_c`), and a folded grid kernel
`w = j·Δ` (integer `j`, `|j| <= L`) stays on a per-channel grid `j·Δ_c`. That is why the
packer looks at the converted file's filters rather than at the Keras kernels: the file is the truth
after folding. The Keras-side description only explains the report.
"""
import numpy as np

from tfquant.kernels import channels_last

RTOL = 1e-6


def _by_channel(w, axis):
    w = np.asarray(w)
    return np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def binary_scales(w, axis, rtol=RTOL):
    """Per-channel `s_c` when every weight of channel c (along `axis`) is `±s_c`, else None."""
    a = np.abs(_by_channel(w, axis).astype(np.float64))
    s = a.max(axis=1)
    return s if np.all(np.abs(a - s[:, None]) <= rtol * s[:, None]) else None


def grid(w, axis, max_level=7, rtol=1e-4):
    """`(Δ_c, L)` when channel c of `w` is `j·Δ_c` with integers `|j| <= L <= max_level`, else None.

    Δ_c is tried as `m_c / k` for the channel's smallest non-zero magnitude `m_c`, k = 1..max_level.
    """
    a = np.abs(_by_channel(w, axis).astype(np.float64))
    smallest = np.array([row[row > 0].min() if np.any(row > 0) else 1.0 for row in a])
    for k in range(1, max_level + 1):
        delta = smallest / k
        j = a / delta[:, None]
        if np.all(np.abs(j - np.round(j)) <= rtol * np.maximum(j, 1)) and j.max() <= max_level + 0.5:
            return delta, int(np.round(j.max()))
    return None


def bits_for_level(level):
    """Bits of a symmetric grid {-L..L}: ceil(log2(2L + 1)); a binary grid {±s} is 1 bit."""
    return 1 if level == 0 else int(np.ceil(np.log2(2 * level + 1)))


def int8_magnitude(q):
    """The single magnitude `q0` when every int8 value is `±q0` (q0 > 0), else None."""
    magnitudes = np.unique(np.abs(np.asarray(q, dtype=np.int32)))
    return int(magnitudes[0]) if magnitudes.size == 1 and magnitudes[0] > 0 else None


def int8_channel_magnitudes(q, axis):
    """Per-channel magnitudes `q_c` (along `axis`) when every int8 value of channel c is `±q_c`
    (q_c > 0), else None. Per-channel quantization gives q_c = 127 for every binary channel; a
    per-tensor quantized filter (FULLY_CONNECTED) keeps the batch-norm-folded `±s_c` as `±q_c`."""
    rows = np.abs(_by_channel(np.asarray(q, dtype=np.int32), axis))
    magnitudes = rows[:, 0]
    return magnitudes if np.all(magnitudes > 0) and np.all(rows == magnitudes[:, None]) else None


def int8_grid(q, axis, max_level=7):
    """Recover a k-bit grid from a symmetric per-channel int8 filter.

    The converter stores `q = round(127·j/m_c)` for a channel whose weights are `j·Δ` with
    `max|j| = m_c`. Returns `(j, m)` (integers, `|j| <= m_c <= max_level`) when that holds for every
    channel, else None. Since `127/m_c >= 18`, `j = round(q·m_c/127)` is unambiguous.
    """
    rows = _by_channel(np.asarray(q, dtype=np.int32), axis)
    levels = []
    for row in rows:
        for m in range(1, max_level + 1):
            j = np.round(row * m / 127.0)
            if np.array_equal(np.round(127.0 * j / m), row):
                levels.append(m)
                break
        else:
            return None
    m = np.array(levels)
    j = np.round(rows * m[:, None] / 127.0).astype(np.int8)
    shape = np.moveaxis(np.asarray(q), axis, 0).shape
    return np.moveaxis(j.reshape(shape), 0, axis), m


def describe_layer(layer):
    """A short description of the grid a Keras layer's kernel lies on, or None for kernel-less layers."""
    if not hasattr(layer, "kernel") or getattr(layer, "kernel", None) is None:
        return None
    kernel = channels_last(layer)  # output channels last, in TFLite's order (depthwise: c·M + m)
    scales = binary_scales(kernel, -1)
    if scales is not None:
        per_layer = np.allclose(scales, scales[0], rtol=RTOL)
        return "binary ±s per layer" if per_layer else "binary ±s per channel"
    found = grid(kernel, -1)
    if found is not None:
        return f"{bits_for_level(found[1])}-bit grid (|j| <= {found[1]})"
    return "not on a grid"


def describe_model(model):
    """`{layer name: description}` for every layer of `model` (nested models included) with a kernel."""
    out = {}
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers"):
            out.update(describe_model(layer))
        description = describe_layer(layer)
        if description is not None:
            out[layer.name] = description
    return out

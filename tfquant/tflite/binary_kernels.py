"""Grids behind the converter's int8 rounding: what the int4 rewrite stores a per-channel int8 filter as.

Values that lie on a grid exactly (Keras kernels, float filters, int8 filters whose channels are ``±q_c``) are
read by the one grid detector, `tfquant.grids.detect`. An int8 filter of a grid kernel is not on a grid any
more: the converter stores channel c of ``w = j·Δ`` (``max |j| = m_c``) as ``q = round(127·j/m_c)``, so the grid
is recovered through that rounding here. Batch-norm folding multiplies channel c by a factor, which moves
``Δ`` per channel and keeps ``j``: the file after folding is what the rewrites read.
"""
import numpy as np

from tfquant.grids import channels

INT4_MAX_LEVEL = 7  # INT4 holds |j| <= 7


def int8_grid(q, axis, max_level=INT4_MAX_LEVEL):
    """Recover a k-bit grid from a symmetric per-channel int8 filter.

    The converter stores `q = round(127·j/m_c)` for a channel whose weights are `j·Δ` with
    `max|j| = m_c`. Returns `(j, m)` (integers, `|j| <= m_c <= max_level`) when that holds for every
    channel, else None. Since `127/m_c >= 18`, `j = round(q·m_c/127)` is unambiguous.
    """
    rows = channels(np.asarray(q, dtype=np.int32), (axis,))
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

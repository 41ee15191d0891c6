"""The grid detector: the grid a kernel's (or a converted filter's) values lie on, read from the values alone.

NumPy only. The one detector of tfquant: `tfquant.summary`, the export report and the rewrites (pack) read it,
each only where no declared quantizer says the grid (`of_quantizer` turns a declared grid into the same record).

The values are split into output channels (`channel_axes`; None: the whole array is one channel). Channel c is

* **binary** when every ``|w| = s_c``, ``s_c = max |w|`` of the channel (relative tolerance `BINARY_RTOL`;
  a channel of zeros has ``s_c = 0``): 1 bit;
* on a **grid** when every ``w = j * Delta_c`` with integer ``|j| <= L``, ``Delta_c = m_c / k`` for the channel's
  smallest non-zero magnitude ``m_c`` and the smallest ``k <= MAX_DIVISOR`` that fits
  (``|j - round(j)| <= STEP_RTOL * max(|j|, 1)``): ``bits = ceil(log2(2L + 1))``.

A grid is per layer (one ``Delta``) when one fits the whole array with no more bits than the per-channel one,
else per channel. More than `MAX_BITS` bits, non-finite values or all zeros: no grid (None, full precision).
A batch-norm-folded binary kernel is binary per channel; a folded grid kernel is on a per-channel grid.
"""

import dataclasses

import numpy as np

BINARY_RTOL = 1e-6  # |w| within this fraction of s_c is s_c (float32 rounding of a product s_c * (+-1) is exact)
STEP_RTOL = 1e-4  # w / Delta within this fraction of |j| (at least 1e-4) of an integer j is on the grid
MAX_DIVISOR = 8  # Delta_c is tried as m_c / k, k = 1 .. MAX_DIVISOR (the smallest |j| present is at most 8)
MAX_BITS = 8  # finer grids are reported as full precision

BINARY, GRID = "binary", "grid"


@dataclasses.dataclass(frozen=True)
class Grid:
    """A detected (or declared) grid: `kind` "binary" (``+-s_c``) or "grid" (``j * Delta_c``, ``|j| <= levels``);
    `scales` the ``s_c`` or ``Delta_c`` of each output channel; `per_channel` False when one scale serves them
    all; `bits` per weight."""
    kind: str
    scales: tuple
    levels: int
    bits: int
    per_channel: bool

    @property
    def text(self):
        """How summary and the export report print it: 'binary ±s per channel', '3-bit grid (|j| <= 2)', ..."""
        if self.kind == BINARY:
            return f"binary ±s per {'channel' if self.per_channel else 'layer'}"
        return f"{self.bits}-bit grid (|j| <= {self.levels})" + (" per channel" if self.per_channel else "")


def text(grid):
    """`grid.text`, or 'not on a grid' for None."""
    return "not on a grid" if grid is None else grid.text


def bits_for_level(level):
    """Bits of a symmetric grid {-L..L}: ``ceil(log2(2L + 1))``."""
    return int(np.ceil(np.log2(2 * level + 1)))


def axes_of(rank, channel_axes):
    """`channel_axes` of a rank-`rank` array as sorted non-negative axes; ValueError for an axis outside
    ``-rank .. rank-1`` (taken modulo the rank it would silently name another axis, e.g. 5 -> 1 on a 4-D kernel)."""
    bad = [a for a in channel_axes if not -rank <= a < rank]
    if bad:
        raise ValueError(f"channel axes {tuple(channel_axes)} do not fit a kernel of rank {rank} (axes "
                         f"{-rank}..{rank - 1}): pass its output-channel axes, "
                         "tfquant.kernels.output_channel_axes(layer)")
    return tuple(sorted({a % rank for a in channel_axes}))


def channels(w, channel_axes=None):
    """`w` as float64 rows ``(channels, weights per channel)``, channels in C order of `channel_axes`."""
    w = np.asarray(w, dtype=np.float64)
    if channel_axes is None or w.ndim < 2:
        return w.reshape(1, -1)
    axes = axes_of(w.ndim, channel_axes)
    others = tuple(a for a in range(w.ndim) if a not in axes)
    moved = np.transpose(w, axes + others)
    return moved.reshape(int(np.prod([w.shape[a] for a in axes])), -1)


def _binary(magnitude):
    s = magnitude.max(axis=1)
    return s if np.all(np.abs(magnitude - s[:, None]) <= BINARY_RTOL * s[:, None]) else None


def _fit(magnitude):
    """``(Delta, L)`` of the smallest-L grid ``j * Delta`` through every value of `magnitude`, or None."""
    nonzero = magnitude[magnitude > 0]
    if nonzero.size == 0:
        return 0.0, 0
    smallest = nonzero.min()
    for k in range(1, MAX_DIVISOR + 1):
        j = magnitude / (smallest / k)
        if np.all(np.abs(j - np.round(j)) <= STEP_RTOL * np.maximum(j, 1)):
            return smallest / k, int(np.round(j.max()))
    return None


def detect(w, channel_axes=None):
    """The `Grid` the values `w` lie on, per output channel along `channel_axes` (None: per layer only), or None."""
    w = np.asarray(w)
    if w.size == 0 or not np.all(np.isfinite(w)) or not np.any(w):
        return None
    magnitude = np.abs(channels(w, channel_axes))
    count = magnitude.shape[0]
    s = _binary(magnitude)
    if s is not None:
        per_channel = not np.allclose(s, s[0], rtol=BINARY_RTOL, atol=0)
        return Grid(BINARY, tuple(float(x) for x in s), 1, 1, per_channel)
    candidates = []
    layer = _fit(magnitude.reshape(-1))
    if layer is not None:
        candidates.append((bits_for_level(layer[1]), 0, Grid(GRID, (float(layer[0]),) * count, layer[1],
                                                             bits_for_level(layer[1]), False)))
    if count > 1:
        rows = [_fit(row) for row in magnitude]
        if all(r is not None for r in rows):
            levels = max(r[1] for r in rows)
            candidates.append((bits_for_level(levels), 1, Grid(GRID, tuple(float(r[0]) for r in rows), levels,
                                                               bits_for_level(levels), True)))
    candidates = [c for c in candidates if c[0] <= MAX_BITS]
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


def of_quantizer(kind, scale, levels, bits, w, channel_axes=None):
    """The `Grid` a declared quantizer puts `w` on (the declared grid wins over detection): `kind` "binary" with one
    `scale` (None: per channel, ``s_c = max |w|`` of each channel, as ScaledBinary), or "grid" with step `scale`
    and `levels` (None: read from the values, for an unbounded grid)."""
    magnitude = np.abs(channels(w, channel_axes))
    count = magnitude.shape[0]
    if kind == BINARY:
        if scale is None:
            s = magnitude.max(axis=1)
            return Grid(BINARY, tuple(float(x) for x in s), 1, 1, count > 1)
        return Grid(BINARY, (float(scale),) * count, 1, 1, False)
    levels = int(np.round(magnitude.max() / scale)) if levels is None else levels
    return Grid(GRID, (float(scale),) * count, levels, bits if bits is not None else bits_for_level(levels), False)

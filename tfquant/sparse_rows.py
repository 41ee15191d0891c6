"""BC's sparse updates: write only the rows a sparse (IndexedSlices) gradient touched, as Keras's optimizers do.

For a gradient on rows R of a variable (an Embedding's lookups), a base optimizer such as SGD writes only rows R
of what it updates (``scatter_sub``); others (Adam: every moment decays) write everything. BC runs the base step
on its full-precision buffer ``w_r``, then sets ``w_r <- clip(w_r)`` and ``w <- Q(w_r)``. When the base step wrote
``w_r`` only at rows R (`watch_writes` sees every write it makes), and Q acts on each entry alone, the other rows
of ``w_r`` and ``w`` are unchanged, so those two writes are made at rows R only:

    w_r[R] <- clip(w_r[R]),   w[R] <- Q(w_r[R])      (an IndexedSlices write: TensorFlow's scatter_update)

Otherwise (a dense write, weight decay, a per-channel quantizer such as ScaledBinary, a backend without
IndexedSlices) both are written whole, which gives the same values.
"""

import contextlib

from keras import ops

_WRITES = ("assign", "assign_add", "assign_sub")


def is_row_slices(value):
    """Whether `value` is TensorFlow's IndexedSlices (values at rows `indices` of a `dense_shape` tensor)."""
    return all(hasattr(value, name) for name in ("indices", "values", "dense_shape"))


def at_rows(like, values, rows):
    """`values` as rows `rows` of a tensor shaped like the IndexedSlices `like`."""
    return type(like)(values, rows, like.dense_shape)


class Writes:
    """What the watched optimizer wrote to one variable: `rows` (the row indices when every write was an
    IndexedSlices, else None: a dense write, or nothing seen)."""

    def __init__(self):
        self.indices, self.dense = [], False

    @property
    def rows(self):
        if self.dense or not self.indices:
            return None
        if all(i is self.indices[0] for i in self.indices):
            return self.indices[0]
        return ops.concatenate(self.indices, axis=0)  # duplicates are harmless: each writes the same value


@contextlib.contextmanager
def watch_writes(optimizer, variable):
    """Record the optimizer's ``assign``/``assign_add``/``assign_sub`` calls on `variable` while the block runs
    (they still happen, through whatever those methods are now)."""
    writes, key = Writes(), optimizer._var_key(variable)
    originals = {name: getattr(optimizer, name) for name in _WRITES}
    had_own = {name: name in vars(optimizer) for name in _WRITES}

    def watched(write):
        def call(target, value):
            if optimizer._var_key(target) == key:
                if is_row_slices(value):
                    writes.indices.append(value.indices)
                else:
                    writes.dense = True
            return write(target, value)
        return call

    for name, write in originals.items():
        setattr(optimizer, name, watched(write))
    try:
        yield writes
    finally:
        for name, write in originals.items():
            if had_own[name]:
                setattr(optimizer, name, write)
            else:
                delattr(optimizer, name)

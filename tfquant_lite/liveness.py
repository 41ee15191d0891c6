"""Live activation bytes per operator of a TFLite graph: what a memory planner must hold at each op.

A computed tensor t (not a constant) is live from the op that writes it (0 for subgraph inputs) to
the last op that reads it (the end for subgraph outputs). At op i the planner holds at least

    live(i) = Σ bytes(t) over the tensors t live at i,

so `max_i live(i)` is a lower bound of the arena's non-persistent part, and `slack(i) = max live -
live(i)` is memory the arena holds anyway but op i does not use: room for a filter rebuilt there.
"""
import numpy as np

from . import flatbuffer as fb


def tensor_bytes(tensor):
    itemsize = np.dtype(fb.NUMPY_TYPES.get(tensor.type, np.int8)).itemsize
    return int(np.prod([int(d) for d in tensor.shape])) * itemsize if tensor.shape is not None else 0


def live_bytes(model, sub_index=0):
    """`live(i)` for every operator i of the subgraph (a list, in op order)."""
    sub = model.subgraphs[sub_index]
    count = len(sub.operators)
    first = {int(t): 0 for t in sub.inputs}
    last = {int(t): count for t in sub.outputs}
    for i, op in enumerate(sub.operators):
        for t in op.outputs:
            first.setdefault(int(t), i)
        for t in op.inputs:
            if t >= 0 and fb.constant(model, sub.tensors[t]) is None:
                last[int(t)] = max(last.get(int(t), i), i)
    sizes = {t: tensor_bytes(sub.tensors[t]) for t in first}
    return [sum(size for t, size in sizes.items() if first[t] <= i <= last.get(t, first[t])) for i in range(count)]

"""The weight filters of a converted model: which ops read one, along which axis its channels lie."""
import dataclasses

import numpy as np

from . import flatbuffer as fb

# Ops whose input 1 is a filter, and the filter's output-channel axis (TFLite layouts: CONV_2D
# [out, h, w, in], DEPTHWISE_CONV_2D [1, h, w, out], TRANSPOSE_CONV [out, h, w, in], CONV_3D
# [d, h, w, in, out], CONV_3D_TRANSPOSE [d, h, w, out, in], FULLY_CONNECTED [out, in]).
FILTER_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0, "CONV_3D": 4,
               "CONV_3D_TRANSPOSE": 3, "FULLY_CONNECTED": 0}
# The conv-like ops: `strict` export refuses any of their filters left unpacked.
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV", "CONV_3D", "CONV_3D_TRANSPOSE")


@dataclasses.dataclass
class FilterRecord:
    """One filter of a converted model, as the report shows it.

    `stored_as` ('float32', 'int8', '1-bit', 'int4') and `bytes` say how the file stores it; `packed`
    and `reason` (why it was not packed, or None) are filled by a rewrite (pack.py, int4.py);
    `levels` is the largest grid level |j| of an INT4 filter; `chunks` the number of output-channel
    chunks a packed int8 filter is rebuilt and applied in (pack.py).
    """
    op: str
    tensor: str
    output: str
    shape: list
    weights: int
    channels: int
    stored_as: str
    bytes: int
    packed: bool = False
    reason: str = None
    levels: int = None
    chunks: int = 1

    def mark_packed(self, stored_as, nbytes, levels=None):
        """Record that the filter is now stored as `stored_as` in `nbytes` bytes."""
        self.packed, self.stored_as, self.bytes, self.reason, self.levels = True, stored_as, nbytes, None, levels


def filters(model):
    """Yield `(position, op, record)` once per filter tensor of the main subgraph, in op order
    (`record` a `FilterRecord`, not packed, no reason yet)."""
    sub, seen = model.subgraphs[0], set()
    for position, op in enumerate(sub.operators):
        op_name = fb.op_name(model, op)
        if op_name not in FILTER_AXIS or len(op.inputs) < 2 or op.inputs[1] in seen:
            continue
        seen.add(int(op.inputs[1]))
        tensor = sub.tensors[op.inputs[1]]
        shape = [int(d) for d in tensor.shape]
        yield position, op, FilterRecord(
            op=op_name, tensor=fb.tensor_name(tensor), output=fb.tensor_name(sub.tensors[op.outputs[0]]),
            shape=shape, weights=int(np.prod(shape)), channels=shape[FILTER_AXIS[op_name]],
            stored_as=fb.TYPE_NAMES.get(tensor.type, str(tensor.type)).lower(),
            bytes=fb.buffer_bytes(model, tensor))

"""The op layout table: which TFLite ops read a weight filter, at which input, and where its channels lie.

Every reader of a converted file's filters takes the layout from `OPS` (the rewrites pack and int4, the hazard
check, the report's layer matching, strict export): a new op is one row. TFLite layouts: CONV_2D
[out, h, w, in], DEPTHWISE_CONV_2D [1, h, w, out], TRANSPOSE_CONV [out, h, w, in] with inputs (output shape,
filter, data), CONV_3D [d, h, w, in, out], CONV_3D_TRANSPOSE [d, h, w, out, in] with inputs (output shape,
filter, data), FULLY_CONNECTED [out, in].
"""
import dataclasses

import numpy as np

from tfquant_lite import flatbuffer as fb


@dataclasses.dataclass(frozen=True)
class OpLayout:
    """Where an op's filter and data are: `filter_input` and `data_input` (input indices), `output_axis` (the
    filter's output-channel axis); `conv`: strict export refuses its filters left unpacked; `chunkable`: its
    output channels are filter axis 0 and output axis -1, with (data, filter, bias) inputs, so pack can split it
    into chunks of output channels."""
    filter_input: int
    data_input: int
    output_axis: int
    conv: bool
    chunkable: bool = False


OPS = {
    "CONV_2D": OpLayout(filter_input=1, data_input=0, output_axis=0, conv=True, chunkable=True),
    "DEPTHWISE_CONV_2D": OpLayout(filter_input=1, data_input=0, output_axis=3, conv=True),
    "TRANSPOSE_CONV": OpLayout(filter_input=1, data_input=2, output_axis=0, conv=True),
    "CONV_3D": OpLayout(filter_input=1, data_input=0, output_axis=4, conv=True),
    "CONV_3D_TRANSPOSE": OpLayout(filter_input=1, data_input=2, output_axis=3, conv=True),
    "FULLY_CONNECTED": OpLayout(filter_input=1, data_input=0, output_axis=0, conv=False, chunkable=True),
}
CONV_OPS = tuple(op for op, layout in OPS.items() if layout.conv)  # strict export's ops


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
    (`record` a `FilterRecord`, not packed, no reason yet; `OPS[record.op]` its layout)."""
    sub, seen = model.subgraphs[0], set()
    for position, op in enumerate(sub.operators):
        op_name = fb.op_name(model, op)
        layout = OPS.get(op_name)
        if layout is None or len(op.inputs) <= layout.filter_input or op.inputs[layout.filter_input] in seen:
            continue
        seen.add(int(op.inputs[layout.filter_input]))
        tensor = sub.tensors[op.inputs[layout.filter_input]]
        shape = [int(d) for d in tensor.shape]
        yield position, op, FilterRecord(
            op=op_name, tensor=fb.tensor_name(tensor), output=fb.tensor_name(sub.tensors[op.outputs[0]]),
            shape=shape, weights=int(np.prod(shape)), channels=shape[layout.output_axis],
            stored_as=fb.TYPE_NAMES.get(tensor.type, str(tensor.type)).lower(),
            bytes=fb.buffer_bytes(model, tensor))

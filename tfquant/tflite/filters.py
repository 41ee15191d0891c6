"""The weight filters of a converted model: which ops read one, along which axis its channels lie."""
import numpy as np

from . import flatbuffer as fb

# Ops whose input 1 is a filter, and the filter's output-channel axis.
FILTER_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "TRANSPOSE_CONV": 0, "FULLY_CONNECTED": 0}
CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


def filters(model):
    """Yield `(position, op, record)` once per filter tensor of the main subgraph, in op order.

    `record` describes the filter for the report: op, tensor and output names, shape, weights,
    channels, stored type and bytes; `packed` False and `reason` None until a rewrite fills them.
    """
    sub, seen = model.subgraphs[0], set()
    for position, op in enumerate(sub.operators):
        op_name = fb.op_name(model, op)
        if op_name not in FILTER_AXIS or len(op.inputs) < 2 or op.inputs[1] in seen:
            continue
        seen.add(int(op.inputs[1]))
        tensor = sub.tensors[op.inputs[1]]
        shape = [int(d) for d in tensor.shape]
        yield position, op, {
            "op": op_name, "tensor": fb.tensor_name(tensor), "output": fb.tensor_name(sub.tensors[op.outputs[0]]),
            "shape": shape, "weights": int(np.prod(shape)), "channels": shape[FILTER_AXIS[op_name]],
            "stored_as": fb.TYPE_NAMES.get(tensor.type, str(tensor.type)).lower(),
            "bytes": fb.buffer_bytes(model, tensor), "packed": False, "reason": None,
        }

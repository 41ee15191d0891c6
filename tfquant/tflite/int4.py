"""Store grid filters of a full-integer int8 model as INT4 (two weights per byte, low nibble first).

A channel whose weights are `j·Δ` (integer `|j| <= m <= 7`: binary is m = 1, a k-bit grid has
m = 2^(k-1) - 1) is stored by the int8 converter as `q = round(127·j/m)` with scale `s8`. The same
real weights are exactly `j·s4` with `s4 = s8·127/m`, so the filter becomes INT4 `j` with scale `s4`.
The int32 bias is quantized with scale `s_in·s_filter`, so it is rescaled with the filter:
`b4 = round(b8·s8/s4) = round(b8·m/127)` (its scale becomes `s_in·s4`). Only full-integer models
are rewritten: an INT4 filter with float activations gave NaNs or crashes on tflite-runtime 2.14.
"""
import numpy as np

from tfquant_lite import flatbuffer as fb

from .binary_kernels import int8_grid
from .filters import OPS, filters

# Ops that ran with INT4 filters and int8 activations on every interpreter we test (see tests).
INT4_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
TT = fb.schema.TensorType


def pack_nibbles(j):
    """Signed 4-bit integers `j` in C order, two per byte, the first in the low nibble."""
    nibbles = (np.asarray(j, dtype=np.int8).reshape(-1) & 0x0F).astype(np.uint8)
    if nibbles.size % 2:
        nibbles = np.append(nibbles, np.uint8(0))
    return nibbles[0::2] | (nibbles[1::2] << 4)


def _rescale_bias(model, sub, op, ratio):
    """Divide the int32 bias of `op` (and its scales' inverse) by `ratio` = s4/s8 per channel."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return
    bias = sub.tensors[op.inputs[2]]
    value = fb.constant(model, bias)
    if len(fb.consumers(sub, op.inputs[2])) > 1:   # shared bias: give this op its own copy
        quantization = fb.schema.QuantizationParametersT()
        quantization.scale = np.asarray(bias.quantization.scale, np.float32)
        quantization.zeroPoint = np.asarray(bias.quantization.zeroPoint, np.int64)
        op.inputs[2] = fb.add_tensor(model, sub, fb.tensor_name(bias) + "/int4", bias.shape, TT.INT32,
                                     value, quantization)
        bias = sub.tensors[op.inputs[2]]
    rescaled = np.round(value.astype(np.float64) / ratio).astype(np.int32)
    fb.set_constant(model, bias, rescaled)
    bias.quantization.scale = (np.asarray(bias.quantization.scale, np.float64) * ratio).astype(np.float32)


def _plan(model, tensor, axis):
    """(j, m, reason): the grid of an int8 per-channel filter, or why it has none."""
    q = fb.constant(model, tensor)
    quantization = tensor.quantization
    if q is None or tensor.type != TT.INT8 or quantization is None or quantization.scale is None:
        return None, None, "not a constant int8 filter"
    if np.any(np.asarray(quantization.zeroPoint) != 0):
        return None, None, "int8 filter has a non-zero zero point"
    if len(quantization.scale) != q.shape[axis]:
        return None, None, "int8 filter is not quantized per channel"
    found = int8_grid(q, axis)
    if found is None:
        return None, None, "weights not on a grid of at most 15 levels (4 bits) per channel"
    return found[0], found[1], None


def to_int4(model_bytes):
    """Rewrite the grid filters of a full-integer int8 model as INT4; returns (bytes, records)."""
    model = fb.read(model_bytes)
    sub = model.subgraphs[0]
    records = []
    for _, op, record in list(filters(model)):
        records.append(record)
        if record.op not in INT4_OPS:
            record.reason = f"{record.op} is kept int8 (INT4 filters are only written for {', '.join(INT4_OPS)})"
            continue
        layout = OPS[record.op]
        tensor = sub.tensors[op.inputs[layout.filter_input]]
        j, m, record.reason = _plan(model, tensor, layout.output_axis)
        if j is None:
            continue
        if len(fb.consumers(sub, op.inputs[layout.filter_input])) > 1:
            record.reason = "filter shared by several ops"
            continue
        ratio = 127.0 / m
        tensor.quantization.scale = (np.asarray(tensor.quantization.scale, np.float64) * ratio).astype(np.float32)
        _rescale_bias(model, sub, op, ratio)
        fb.set_constant(model, tensor, pack_nibbles(j))
        tensor.type = TT.INT4
        record.mark_packed("int4", (j.size + 1) // 2, levels=int(m.max()))
    return fb.write(model), records

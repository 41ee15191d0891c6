"""Load-time expansion: fold a packed file's unpack chains back into constant filters, in NumPy.

A `packed` / `packed-int8` file (pack.py) rebuilds every binary filter at run time with
CAST -> ADD 128 -> GATHER(T) -> RESHAPE [-> SLICE -> RESHAPE] [-> CAST -> MUL s]. Every input of those
ops is a constant, so a constant folder can run them once, when the model is loaded, with the
semantics of TFLite's kernels:

    CAST     y = x.astype(output type)       (integer input only: exact for the ±1, ±127 and 0..255 used)
    ADD      y = x + z                       (unquantized, broadcast, no fused activation)
    MUL      y = x · z                       (unquantized; float32 products are IEEE, as in the kernel;
                                              or int8 with zero points 0 and scales s_x·s_z = s_y, the
                                              packed-int8 "signs times q_c": y = clip(x·z) exactly)
    GATHER   y = take(x, positions, axis)
    RESHAPE  y = x.reshape(output shape)
    SLICE    y = x[begin : begin + size]     (size -1: to the end of the axis)

Each result becomes the constant of the op's output tensor; the folded ops, and every tensor, buffer
and operator code nothing uses any more, are dropped. The result is a standard model whose filters are
constants again, bit-identical to the unpacked export's (s·(±1) = ±s exactly; ±127 int8), so LiteRT
hands its convs to XNNPACK again. It costs the unpacked filters' memory (float32 or int8 bytes): on
a microcontroller keep the in-graph unpack instead.

This module needs only numpy, flatbuffers and the TFLite schema (via flatbuffer.py): the runner
(`tfquant-run`) uses it on devices, where it is the default for packed files on LiteRT.
"""
import numpy as np

from . import flatbuffer as fb
from . import integrity

FOLDABLE = ("CAST", "ADD", "MUL", "GATHER", "RESHAPE", "SLICE")


def _quantized(tensor):
    q = tensor.quantization
    return q is not None and q.scale is not None and len(q.scale) > 0


def _unit_rescale(inputs, out):
    """True for an int8 MUL whose requantization is the identity: every tensor int8, per-tensor,
    zero point 0, and s_x·s_z = s_y (the kernel's multiplier is then exactly 1)."""
    tensors = list(inputs) + [out]
    if any(t.type != fb.schema.TensorType.INT8 or not _quantized(t) or len(t.quantization.scale) != 1
           or np.any(np.asarray(t.quantization.zeroPoint) != 0) for t in tensors):
        return False
    s = [np.float32(t.quantization.scale[0]) for t in tensors]
    return s[0] * s[1] == s[2]


def _evaluate(name, op, values, out):
    """Output value of op `name` on constant inputs `values`, or None when it is not folded here."""
    arithmetic = name in ("ADD", "MUL")
    if arithmetic and op.builtinOptions is not None and op.builtinOptions.fusedActivationFunction != 0:
        return None
    if name == "CAST":
        return values[0].astype(fb.NUMPY_TYPES[out.type]) if values[0].dtype.kind in "iu" else None
    if name == "ADD":
        return values[0] + values[1]
    if name == "MUL":
        if out.type == fb.schema.TensorType.INT8:
            return np.clip(values[0].astype(np.int32) * values[1], -128, 127)
        return values[0] * values[1]
    if name == "GATHER":
        options = op.builtinOptions
        axis = 0 if options is None else options.axis
        if options is not None and options.batchDims != 0 or values[1].size == 0:
            return None
        inside = 0 <= values[1].min() and values[1].max() < values[0].shape[axis]
        return np.take(values[0], values[1], axis=axis) if inside else None  # out of range: the kernel's error
    if name == "RESHAPE":
        return values[0].reshape([int(d) for d in out.shape])
    begin, size = values[1], values[2]
    return values[0][tuple(slice(b, None if s < 0 else b + s) for b, s in zip(begin, size))]


def _fold(model, sub, op, outputs):
    """The constant output of `op` when it can be folded (see the module docstring), else None."""
    name = fb.op_name(model, op)
    if name not in FOLDABLE or len(op.outputs) != 1 or int(op.outputs[0]) in outputs:
        return None
    tensors = [sub.tensors[i] for i in op.inputs if i >= 0]
    out = sub.tensors[op.outputs[0]]
    if out.type not in fb.NUMPY_TYPES or out.shape is None or any(t.isVariable for t in tensors):
        return None
    if name in ("CAST", "ADD", "MUL") and any(_quantized(t) for t in tensors + [out]):
        if not (name == "MUL" and _unit_rescale(tensors, out)):
            return None
    values = [fb.constant(model, t) for t in tensors]
    if any(v is None for v in values):
        return None
    value = _evaluate(name, op, values, out)
    return value if value is not None and value.size == int(np.prod(out.shape)) else None


def fold_constants(model):
    """Evaluate, in op order, every CAST/ADD/MUL/GATHER/RESHAPE/SLICE whose inputs are all constants;
    store the results as constants and remove those ops (in place). Returns the number folded."""
    folded = 0
    for sub in model.subgraphs:
        outputs = set(int(i) for i in sub.outputs)
        kept = []
        for op in sub.operators:
            value = _fold(model, sub, op, outputs)
            if value is None:
                kept.append(op)
                continue
            out = sub.tensors[op.outputs[0]]
            fb.set_constant(model, out, value.astype(fb.NUMPY_TYPES[out.type]).reshape(out.shape))
            folded += 1
        sub.operators = kept
    return folded


def expand(model_bytes):
    """A packed TFLite file (bytes) -> the same model with its filters as constants again (bytes).

    A file without unpack chains comes back unchanged in meaning (ops whose inputs are all constant
    are folded all the same); a file stamped at export is stamped again (`integrity.restamp`), over its new bytes."""
    model = fb.read(model_bytes)
    fold_constants(model)
    fb.prune(model)
    return integrity.restamp(model)

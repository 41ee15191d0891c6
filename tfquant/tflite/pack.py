"""Bit-pack binary filters by rewriting a converted TFLite flatbuffer, using builtin ops only.

A filter `W` (N weights) whose every output channel c is `±s_c` is stored as N/8 bytes of sign bits
(bit k of byte i is 1 when weight 8i+k is negative; padded with zeros to a whole byte) and rebuilt at
run time, right before the op that reads it, by

    CAST(int8 -> int32) -> ADD 128 -> GATHER(T) -> RESHAPE [-> SLICE -> RESHAPE]   (signs)
    float32 models:  -> CAST(int8 -> float32) -> MUL s (per channel)                  W = s_c·(±1)
    int8 models:     the signs are already the int8 filter, T holding ±q0 (q0 = 127)  W = ±127

where `T` is one shared 256x8 int8 lookup table, `T[b, k] = -a if bit k of b is set else +a`.
Bytes are stored as INT8 `b - 128` (TFLite Micro's CAST has no UINT8 input) and the ADD restores b.
For int8 models the rebuilt filter is bit-identical to the converter's (per-channel symmetric
quantization stores a `±s_c` channel as exactly `±127`, zero point 0), so scales and int32 biases
are untouched; for float models `s_c·(±1)` reproduces `±s_c` exactly.
Placing each chain right before its consumer keeps the rebuilt filter's live range to one op, which
is what keeps the memory planners' arenas small. The packed file's tensors are renamed `t<index>`
(inputs and outputs keep their names): the converter's scope names cost ~600 bytes a conv layer,
a third of ResNet-56's packed weights.
"""
import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from . import flatbuffer as fb
from .binary_kernels import binary_scales, int8_magnitude
from .filters import FILTER_AXIS, filters

OP = schema.BuiltinOperator
TT = schema.TensorType


def sign_table(magnitude):
    """`T[b, k] = -magnitude` if bit k of byte b is set, else `+magnitude` (int8, 256x8)."""
    bits = (np.arange(256)[:, None] >> np.arange(8)[None, :]) & 1
    return np.where(bits == 1, -magnitude, magnitude).astype(np.int8)


def pack_signs(w):
    """Sign bits of `w` in C order, little-endian within each byte, stored as int8 `byte - 128`."""
    packed = np.packbits(np.asarray(w).reshape(-1) < 0, bitorder="little")
    return (packed.astype(np.int16) - 128).astype(np.int8)


def unpack_signs(stored, count, magnitude=1):
    """NumPy reference of the in-graph unpacking: the first `count` values `±magnitude`."""
    return sign_table(magnitude)[stored.astype(np.int32) + 128].reshape(-1)[:count]


class _Packer:
    def __init__(self, model):
        self.model, self.sub = model, model.subgraphs[0]
        self.tables, self.offset = {}, None

    def tensor(self, name, shape, tensor_type, value=None):
        return fb.add_tensor(self.model, self.sub, name, shape, tensor_type, value)

    def shape(self, shape):
        """A shared int32 constant holding `shape` (RESHAPE's second input)."""
        key = ("shape",) + tuple(shape)
        if key not in self.tables:
            self.tables[key] = self.tensor("shape", [len(shape)], TT.INT32, np.asarray(shape, np.int32))
        return self.tables[key]

    def op(self, builtin, inputs, outputs, options_type=0, options=None):
        return fb.new_op(self.model, builtin, inputs, outputs, options_type, options)

    def table(self, magnitude):
        if magnitude not in self.tables:
            self.tables[magnitude] = self.tensor(f"tfquant/sign_table_{magnitude}", [256, 8], TT.INT8,
                                                 sign_table(magnitude))
        return self.tables[magnitude]

    def reshape(self, source, name, shape, tensor_type, out=None):
        out = self.tensor(name, shape, tensor_type) if out is None else out
        options = schema.ReshapeOptionsT()
        options.newShape = np.asarray(shape, np.int32)
        return out, self.op(OP.RESHAPE, [source, self.shape(shape)], [out],
                            schema.BuiltinOptions.ReshapeOptions, options)

    def cast(self, source, name, shape, in_type, out_type):
        out = self.tensor(name, shape, out_type)
        options = schema.CastOptionsT()
        options.inDataType, options.outDataType = in_type, out_type
        return out, self.op(OP.CAST, [source], [out], schema.BuiltinOptions.CastOptions, options)

    def signs(self, name, w, magnitude, out=None):
        """Ops that rebuild the ±magnitude int8 signs of `w` (into tensor `out` when given);
        returns (output tensor, ops)."""
        count, shape = w.size, list(w.shape)
        stored = pack_signs(w)
        nbytes = stored.size
        if self.offset is None:
            self.offset = self.tensor("tfquant/byte_offset", [], TT.INT32, np.asarray(128, np.int32))
        packed = self.tensor(name + "/packed", [nbytes], TT.INT8, stored)
        index32, cast = self.cast(packed, name + "/index_signed", [nbytes], TT.INT8, TT.INT32)
        index = self.tensor(name + "/index", [nbytes], TT.INT32)
        add = self.op(OP.ADD, [index32, self.offset], [index], schema.BuiltinOptions.AddOptions,
                      schema.AddOptionsT())
        rows = self.tensor(name + "/rows", [nbytes, 8], TT.INT8)
        gather_options = schema.GatherOptionsT()
        gather = self.op(OP.GATHER, [self.table(magnitude), index], [rows],
                         schema.BuiltinOptions.GatherOptions, gather_options)
        ops = [cast, add, gather]
        if count == nbytes * 8:
            out, reshape = self.reshape(rows, name + "/signs", shape, TT.INT8, out)
            return out, ops + [reshape]
        flat, reshape_flat = self.reshape(rows, name + "/bits", [nbytes * 8], TT.INT8)
        begin = self.tensor(name + "/begin", [1], TT.INT32, np.zeros(1, np.int32))
        size = self.tensor(name + "/size", [1], TT.INT32, np.asarray([count], np.int32))
        sliced = self.tensor(name + "/sliced", [count], TT.INT8)
        slice_op = self.op(OP.SLICE, [flat, begin, size], [sliced], schema.BuiltinOptions.SliceOptions,
                           schema.SliceOptionsT())
        out, reshape = self.reshape(sliced, name + "/signs", shape, TT.INT8, out)
        return out, ops + [reshape_flat, slice_op, reshape]


def _float_chain(packer, name, w, axis, scales, target):
    signs, ops = packer.signs(name, w, 1)
    as_float, cast = packer.cast(signs, name + "/signs_float", list(w.shape), TT.INT8, TT.FLOAT32)
    scale_shape = [1] * w.ndim
    scale_shape[axis] = w.shape[axis]
    scale = packer.tensor(name + "/scale", scale_shape, TT.FLOAT32,
                          scales.astype(np.float32).reshape(scale_shape))
    mul = packer.op(OP.MUL, [as_float, scale], [target], schema.BuiltinOptions.MulOptions,
                    schema.MulOptionsT())
    return ops + [cast, mul]


def _int8_chain(packer, name, w, magnitude, target):
    return packer.signs(name, w, magnitude, out=target)[1]


def _plan(model, tensor, axis):
    """(kind, parameter, reason): how a constant filter can be packed, or why it cannot."""
    w = fb.constant(model, tensor)
    if w is None:
        return None, None, "filter is computed at run time"
    if tensor.type == TT.FLOAT32:
        scales = binary_scales(w, axis)
        return ("float", scales, None) if scales is not None else (None, None, "weights not ±s per channel")
    if tensor.type == TT.INT8:
        q = tensor.quantization
        if q is not None and q.zeroPoint is not None and np.any(np.asarray(q.zeroPoint) != 0):
            return None, None, "int8 filter has a non-zero zero point"
        magnitude = int8_magnitude(w)
        if magnitude is None:
            return None, None, "int8 values not ±q0 (weights not ±s per quantization channel)"
        return "int8", magnitude, None
    return None, None, f"{fb.TYPE_NAMES.get(tensor.type, tensor.type)} filter"


def pack(model_bytes):
    """Rewrite every binary filter of `model_bytes` as packed bits; returns (bytes, per-filter records)."""
    model = fb.read(model_bytes)
    packer = _Packer(model)
    chains, records = {}, []
    for position, op, record in list(filters(model)):
        target = int(op.inputs[1])
        tensor, axis = packer.sub.tensors[target], FILTER_AXIS[record["op"]]
        kind, parameter, record["reason"] = _plan(model, tensor, axis)
        if kind is not None:
            w = fb.constant(model, tensor)
            name = f"tfquant/p{len(chains)}"
            chains[position] = (_float_chain(packer, name, w, axis, parameter, target) if kind == "float"
                                else _int8_chain(packer, name, w, parameter, target))
            fb.make_computed(model, tensor)
            record.update(packed=True, stored_as="1-bit", bytes=(w.size + 7) // 8)
        records.append(record)
    packer.sub.operators = [new for i, op in enumerate(packer.sub.operators) for new in chains.get(i, []) + [op]]
    _short_names(packer.sub)
    return fb.write(model), records


def _short_names(sub):
    """Rename every tensor but the subgraph's inputs and outputs to `t<index>`."""
    keep = set(int(i) for i in sub.inputs) | set(int(i) for i in sub.outputs)
    for index, tensor in enumerate(sub.tensors):
        if index not in keep:
            tensor.name = f"t{index}".encode()

"""Bit-pack binary filters by rewriting a converted TFLite flatbuffer, using builtin ops only.

A filter `W` (N weights) whose every output channel c is `±s_c` is stored as N/8 bytes of sign bits
(bit k of byte i is 1 when weight 8i+k is negative; padded with zeros to a whole byte) and rebuilt at
run time, right before the op that reads it, by

    CAST(int8 -> int32) -> ADD 128 -> GATHER(T) -> RESHAPE [-> SLICE -> RESHAPE]   (signs)
    float32 models:  -> CAST(int8 -> float32) -> MUL s (per channel)                  W = s_c·(±1)
    int8 models:     the signs are already the int8 filter, T holding ±q0 (q0 = 127)  W = ±127
    int8, per-tensor FULLY_CONNECTED with rows ±q_c (batch norm folded into a binary
    Dense kernel): T holding ±1, then an int8 MUL by q_c (scales s·1 = s cancel)     W = q_c·(±1)

where `T` is one shared 256x8 int8 lookup table, `T[b, k] = -a if bit k of b is set else +a`.
Bytes are stored as INT8 `b - 128` (TFLite Micro's CAST has no UINT8 input) and the ADD restores b.
For int8 models the rebuilt filter is bit-identical to the converter's (per-channel symmetric
quantization stores a `±s_c` channel as exactly `±127`, zero point 0), so scales and int32 biases
are untouched; for float models `s_c·(±1)` reproduces `±s_c` exactly.
Placing each chain right before its consumer keeps the rebuilt filter's live range to one op, which
is what keeps the memory planners' arenas small. In int8 models (the TensorFlow Lite Micro format) a
CONV_2D / FULLY_CONNECTED filter whose rebuild (int32 indices + int8 rows: 1.5 bytes a weight, 2 with
the MUL) needs more than the activation memory idle at its op (`liveness.py`) plus `spare_bytes` is
split into equal chunks of output channels, each rebuilt right before its own op on that slice (its
bias and per-channel scales sliced with it), and a CONCATENATION joins their outputs (at most 10
chunks: TFLM's CONCATENATION limit): one chunk's intermediates are live at a time. Graph bytes matter
for nets of many small convs (ResNet-56: ~1 KB a layer against ~2 KB of sign bits), so the chains are
written lean: unnamed tensors, no builtin options, one shared tensor per distinct shape/constant, and the packed file
drops every tensor name but the inputs' and outputs' (the converter's scope names cost ~600 bytes a
conv layer) and the empty buffers of computed tensors.
"""
import numpy as np

from tfquant import grids
from tfquant_lite import flatbuffer as fb
from tfquant_lite.liveness import live_bytes, tensor_bytes

from .filters import OPS, filters

OP = fb.schema.BuiltinOperator
TT = fb.schema.TensorType
SPARE_BYTES = 8192
MAX_CHUNKS = 10  # TFLite Micro's CONCATENATION takes at most 10 inputs


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


def _quantization(scale, zero_point=None, axis=0):
    q = fb.schema.QuantizationParametersT()
    q.scale = np.asarray(scale, np.float32).reshape(-1)
    q.zeroPoint = np.zeros(q.scale.size, np.int64) if zero_point is None else np.asarray(zero_point, np.int64)
    q.quantizedDimension = axis
    return q


def _channel_slice(q, begin, end):
    """Quantization parameters of channels [begin, end) (per-tensor parameters are shared as they are)."""
    if q is None or q.scale is None or len(q.scale) <= 1:
        return q
    return _quantization(q.scale[begin:end], q.zeroPoint[begin:end], q.quantizedDimension)


class _Packer:
    """Builds unpack chains: unnamed tensors, ops without builtin options (every kernel used reads
    its types from the tensors, RESHAPE its shape from input 2, and the options' defaults are
    GATHER axis 0 and no fused activation), and constants shared between layers where equal."""

    def __init__(self, model):
        self.model, self.sub = model, model.subgraphs[0]
        self.shared = {}

    def tensor(self, shape, tensor_type, value=None, quantization=None):
        return fb.add_tensor(self.model, self.sub, None, shape, tensor_type, value, quantization)

    def constant(self, value, tensor_type, quantization=None):
        """One constant tensor per distinct value (shapes, the byte offset, sign tables)."""
        key = (tensor_type, value.shape, value.tobytes(), quantization is not None)
        if key not in self.shared:
            self.shared[key] = self.tensor(list(value.shape), tensor_type, value, quantization)
        return self.shared[key]

    def op(self, builtin, inputs, outputs, options_type=0, options=None):
        return fb.new_op(self.model, builtin, inputs, outputs, options_type, options)

    def reshape(self, source, shape, out=None):
        out = self.tensor(shape, TT.INT8) if out is None else out
        return out, self.op(OP.RESHAPE, [source, self.constant(np.asarray(shape, np.int32), TT.INT32)], [out])

    def signs(self, w, magnitude, out=None):
        """Ops that rebuild the ±magnitude int8 signs of `w` (into tensor `out` when given);
        returns (output tensor, ops)."""
        count, shape = w.size, list(w.shape)
        stored = pack_signs(w)
        nbytes = stored.size
        packed = self.tensor([nbytes], TT.INT8, stored)
        index32, index, rows = (self.tensor([nbytes], TT.INT32), self.tensor([nbytes], TT.INT32),
                                self.tensor([nbytes, 8], TT.INT8))
        ops = [self.op(OP.CAST, [packed], [index32]),
               self.op(OP.ADD, [index32, self.constant(np.asarray(128, np.int32), TT.INT32)], [index]),
               self.op(OP.GATHER, [self.constant(sign_table(magnitude), TT.INT8), index], [rows])]
        if count == nbytes * 8:
            out, reshape = self.reshape(rows, shape, out)
            return out, ops + [reshape]
        flat, reshape_flat = self.reshape(rows, [nbytes * 8])
        sliced = self.tensor([count], TT.INT8)
        slice_op = self.op(OP.SLICE, [flat, self.constant(np.zeros(1, np.int32), TT.INT32),
                                      self.constant(np.asarray([count], np.int32), TT.INT32)], [sliced])
        out, reshape = self.reshape(sliced, shape, out)
        return out, ops + [reshape_flat, slice_op, reshape]

    def int8_filter(self, w, magnitudes, target):
        """Ops that rebuild int8 filter `w` into tensor `target`: `±q0` straight from the table when
        every channel has the same magnitude, else `±1` signs times the per-channel magnitudes `q_c`
        (an int8 MUL whose scales cancel: signs at the filter's scale, `q_c` at scale 1)."""
        if np.all(magnitudes == magnitudes[0]):
            return self.signs(w, int(magnitudes[0]), out=target)[1]
        filter_q = self.sub.tensors[target].quantization
        signs = self.tensor(list(w.shape), TT.INT8, quantization=_quantization(filter_q.scale))
        _, ops = self.signs(w, 1, out=signs)
        shape = [len(magnitudes)] + [1] * (w.ndim - 1)
        factors = self.tensor(shape, TT.INT8, magnitudes.astype(np.int8).reshape(shape), _quantization([1.0]))
        return ops + [self.op(OP.MUL, [signs, factors], [target])]


def _float_chain(packer, w, axis, scales, target):
    signs, ops = packer.signs(w, 1)
    as_float = packer.tensor(list(w.shape), TT.FLOAT32)
    scale_shape = [1] * w.ndim
    scale_shape[axis] = w.shape[axis]
    scale = packer.tensor(scale_shape, TT.FLOAT32, scales.astype(np.float32).reshape(scale_shape))
    return ops + [packer.op(OP.CAST, [signs], [as_float]), packer.op(OP.MUL, [as_float, scale], [target])]


def _chunk_channels(channels, per_channel, factor, output_bytes, budget):
    """Output channels per chunk: all of them when rebuilding the whole filter fits `budget`, else the
    most whose rebuild plus the duplicated output (chunk outputs and their concatenation) fit, but no
    more than MAX_CHUNKS chunks. A chunk of c channels holds `factor·c·per_channel` bytes of unpacking
    intermediates."""
    if factor * channels * per_channel <= budget:
        return channels
    fitting = max(1, int((budget - output_bytes) // (factor * per_channel)))
    chunks = min(-(-channels // fitting), MAX_CHUNKS)
    return -(-channels // chunks)  # equal chunks: the planner reuses one slot for every slice


def _copy_op(op, inputs, outputs):
    """`op` (same operator and options) on other tensors."""
    copy = fb.schema.OperatorT()
    copy.opcodeIndex, copy.builtinOptionsType = op.opcodeIndex, op.builtinOptionsType
    copy.builtinOptions = op.builtinOptions
    copy.inputs, copy.outputs = np.asarray(inputs, np.int32), np.asarray(outputs, np.int32)
    return copy


def _chunked(packer, op, w, magnitudes, chunk):
    """Op `op` split into convolutions over `chunk` output channels each, every one right after the
    unpacking of its filter slice, then a CONCATENATION of their outputs: only one slice's
    intermediates are ever live."""
    sub, model = packer.sub, packer.model
    filter_q = sub.tensors[op.inputs[1]].quantization
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias_tensor = sub.tensors[op.inputs[2]] if has_bias else None
    bias = fb.constant(model, bias_tensor) if has_bias else None
    output = sub.tensors[op.outputs[0]]
    out_shape = [int(d) for d in output.shape]
    ops, pieces = [], []
    for begin in range(0, w.shape[0], chunk):
        end = min(begin + chunk, w.shape[0])
        target = packer.tensor([end - begin] + list(w.shape[1:]), TT.INT8,
                               quantization=_channel_slice(filter_q, begin, end))
        ops += packer.int8_filter(w[begin:end], magnitudes[begin:end], target)
        inputs = [int(op.inputs[0]), target]
        if has_bias:
            inputs.append(packer.tensor([end - begin], bias_tensor.type, bias[begin:end],
                                        _channel_slice(bias_tensor.quantization, begin, end)))
        piece = packer.tensor(out_shape[:-1] + [end - begin], output.type, quantization=output.quantization)
        ops.append(_copy_op(op, inputs, [piece]))
        pieces.append(piece)
    options = fb.schema.ConcatenationOptionsT()
    options.axis = len(out_shape) - 1
    ops.append(packer.op(OP.CONCATENATION, pieces, [int(op.outputs[0])],
                         fb.schema.BuiltinOptions.ConcatenationOptions, options))
    return ops


def binary_scales(w, axis):
    """Per-channel ``s_c`` when every weight of channel c is ``±s_c`` (`tfquant.grids.detect`), else None."""
    grid = grids.detect(w, (axis,))
    return np.asarray(grid.scales) if grid is not None and grid.kind == grids.BINARY else None


def int8_magnitudes(tensor, w, axis):
    """``(q, None)``: the magnitude ``q_c > 0`` of each output channel (along `axis`) of int8 filter `w` (the value
    of `tensor`, zero point 0) when channel c holds only ``±q_c``; else ``(None, why not)``. Per-channel
    quantization gives ``q_c = 127`` for every binary channel; a per-tensor quantized filter (FULLY_CONNECTED)
    keeps the batch-norm-folded ``±s_c`` as ``±q_c``. Both 1-bit int8 rewrites (pack, packed_tflm) ask here."""
    q = tensor.quantization
    if q is not None and q.zeroPoint is not None and np.any(np.asarray(q.zeroPoint) != 0):
        return None, "int8 filter has a non-zero zero point"
    magnitudes = binary_scales(np.asarray(w, np.int32), axis)
    if magnitudes is None or np.any(magnitudes == 0):
        return None, "int8 values not ±q_c per output channel (weights not ±s per channel)"
    return magnitudes.astype(np.int32), None


def _plan(model, op_name, tensor, axis):
    """(kind, parameter, reason): how a constant filter can be packed, or why it cannot."""
    w = fb.constant(model, tensor)
    if w is None:
        return None, None, "filter is computed at run time"
    if tensor.type == TT.FLOAT32:
        scales = binary_scales(w, axis)
        return ("float", scales, None) if scales is not None else (None, None, "weights not ±s per channel")
    if tensor.type == TT.INT8:
        magnitudes, reason = int8_magnitudes(tensor, w, axis)
        if magnitudes is None:
            return None, None, reason
        if np.any(magnitudes != magnitudes[0]) and (axis != 0 or not OPS[op_name].chunkable):
            return None, None, "int8 magnitudes differ between channels off axis 0"
        return "int8", magnitudes, None
    return None, None, f"{fb.TYPE_NAMES.get(tensor.type, tensor.type)} filter"


def pack(model_bytes, spare_bytes=SPARE_BYTES):
    """Rewrite every binary filter of `model_bytes` as packed bits; returns (bytes, per-filter records).

    int8 models: a filter whose rebuild needs more than the activation memory idle at its op
    (`liveness.py`) plus `spare_bytes` is rebuilt and applied in chunks of output channels."""
    model = fb.read(model_bytes)
    packer = _Packer(model)
    live = live_bytes(model)
    peak = max(live, default=0)
    replacements, records = {}, []
    for position, op, record in list(filters(model)):
        layout = OPS[record.op]
        target = int(op.inputs[layout.filter_input])
        tensor, axis = packer.sub.tensors[target], layout.output_axis
        kind, parameter, record.reason = _plan(model, record.op, tensor, axis)
        if kind is None:
            records.append(record)
            continue
        w = fb.constant(model, tensor)
        fb.make_computed(model, tensor)
        record.mark_packed("1-bit", (w.size + 7) // 8)
        if kind == "float":
            replacements[position] = _float_chain(packer, w, axis, parameter, target) + [op]
        else:
            factor = 1.5 if np.all(parameter == parameter[0]) else 2.0
            chunk = w.shape[0]
            if layout.chunkable and len(fb.consumers(packer.sub, target)) == 1:
                chunk = _chunk_channels(w.shape[0], w.size // w.shape[0], factor,
                                        tensor_bytes(packer.sub.tensors[op.outputs[0]]),
                                        peak - live[position] + spare_bytes)
            if chunk < w.shape[0]:
                replacements[position] = _chunked(packer, op, w, parameter, chunk)
                record.chunks = -(-w.shape[0] // chunk)
            else:
                replacements[position] = packer.int8_filter(w, parameter, target) + [op]
        records.append(record)
    packer.sub.operators = [new for i, op in enumerate(packer.sub.operators)
                            for new in replacements.get(i, [op])]
    _compact(model)
    return fb.write(model), records


def _compact(model):
    """Drop what the interpreters do not read: the names of all tensors but the subgraphs' inputs and
    outputs, and the empty buffer the converter gives every computed tensor (they share buffer 0)."""
    for sub in model.subgraphs:
        keep = set(int(i) for i in sub.inputs) | set(int(i) for i in sub.outputs)
        for index, tensor in enumerate(sub.tensors):
            if index not in keep:
                tensor.name = None
            if not tensor.isVariable and fb.buffer_bytes(model, tensor) == 0:
                tensor.buffer = 0
    fb.prune(model)

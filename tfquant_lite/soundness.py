"""Is a parsed .tflite model sound enough to hand to an interpreter? The checks a foreign file gets.

An interpreter trusts its file: LiteRT segfaults on an int8 input scale of NaN or 0, reads past a buffer
whose size disagrees with its shape, and computes garbage on a subgraph whose output is its input. So
before any interpreter sees a file, `check(model, size)` verifies (the flatbuffers Python package has no
verifier, so the whole tree is parsed and checked here):

- structure: at least one subgraph, with operators; every buffer range inside the file's `size` bytes;
  every tensor, buffer and operator-code index in range; subgraph inputs and outputs non-empty, valid
  (no -1), each list free of repeats, and no output that is also an input; every tensor an operator reads
  (and every subgraph output) is a subgraph input, a constant, a variable, or written by an earlier
  operator (operators run in file order);
- operator codes: builtin codes within this schema's `BuiltinOperator` range (so known to the interpreter
  that shipped the schema); a CUSTOM op carries a name; builtin options of a known type;
- tensors: a known type; shape dimensions >= 0; constant data of exactly prod(shape) x element size bytes;
- quantization: every scale finite and > 0; one zero point per scale, each within the tensor type's range
  (int8 [-128, 127], uint8 [0, 255], int4 [-8, 7], ...); per-channel parameters along an existing axis of
  the right length, on every tensor a builtin operator reads or the subgraph outputs (a tensor only custom
  operators read is theirs to interpret: TFLite Micro's compressor leaves the filter's per-channel
  parameters on the encoded 1-D tensor that only its TFLM_DECODE reads);
- names (tensors, metadata, signatures, custom codes): valid UTF-8.

A failure raises `Unsound`, naming the tensor/operator and what is wrong. Needs numpy and the schema only.
"""
import numpy as np

from . import flatbuffer as fb

T = fb.schema.TensorType
# bytes per element of the fixed-size tensor types, to check constant sizes against shapes
ITEM_BYTES = {t: np.dtype(d).itemsize for t, d in fb.NUMPY_TYPES.items()}
ITEM_BYTES.update({T.FLOAT16: 2, T.BOOL: 1, T.FLOAT64: 8})
# the range of a quantized value, per tensor type (int4 and int2 hold sub-byte integers)
ZERO_POINT_RANGE = {T.INT8: (-128, 127), T.UINT8: (0, 255), T.INT16: (-32768, 32767), T.INT4: (-8, 7),
                    T.INT32: (-2**31, 2**31 - 1), T.INT64: (-2**63, 2**63 - 1)}
if hasattr(T, "INT2"):
    ZERO_POINT_RANGE[T.INT2] = (-2, 1)
if hasattr(T, "UINT4"):
    ZERO_POINT_RANGE[T.UINT4] = (0, 15)
BUILTIN_MAX = max(fb.OP_NAMES)
CUSTOM = fb.schema.BuiltinOperator.CUSTOM
OPTION_TYPES = {v for k, v in vars(fb.schema.BuiltinOptions).items() if not k.startswith("_")}
TYPE_MAX = max(fb.TYPE_NAMES)


class Unsound(ValueError):
    """The model cannot be handed to an interpreter safely; the message names the part and the fault."""


def name(raw, what):
    """A name field decoded strictly as UTF-8 ('' for none); Unsound when it is not UTF-8."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as error:
        raise Unsound(f"{what} is not valid UTF-8 ({error.reason} at byte {error.start})") from None


def _indices(indices, limit, what, optional=False):
    for i in (indices if indices is not None else ()):
        if not (-1 if optional else 0) <= int(i) < limit:
            raise Unsound(f"{what} refers to tensor {int(i)} of {limit}")


def _io(sub, s, count):
    for field in ("inputs", "outputs"):
        values = [int(i) for i in (getattr(sub, field) if getattr(sub, field) is not None else ())]
        if not values:
            raise Unsound(f"subgraph {s} has no {field}")
        _indices(values, count, f"subgraph {s}'s {field}")
        if len(set(values)) != len(values):
            raise Unsound(f"subgraph {s}'s {field} {values} repeat a tensor")
    shared = set(int(i) for i in sub.inputs) & set(int(i) for i in sub.outputs)
    if shared:
        raise Unsound(f"subgraph {s}'s output tensor {sorted(shared)[0]} is also its input")


def _quantization(tensor, label, custom_only=False):
    """`custom_only`: only custom operators read the tensor, so the per-channel axis is not checked."""
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return
    scale = np.asarray(q.scale, np.float64)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise Unsound(f"tensor {label} has quantization scale {scale[:4].tolist()}: every scale must be "
                      "finite and > 0")
    zero = np.asarray(q.zeroPoint if q.zeroPoint is not None else [], np.int64)
    if zero.size not in (0, scale.size):
        raise Unsound(f"tensor {label} has {scale.size} scales but {zero.size} zero points")
    low, high = ZERO_POINT_RANGE.get(tensor.type, (None, None))
    if low is not None and zero.size and (zero.min() < low or zero.max() > high):
        raise Unsound(f"tensor {label} has zero point {int(zero[(zero < low) | (zero > high)][0])} outside "
                      f"its type's range [{low}, {high}]")
    if scale.size > 1 and not custom_only:
        shape = [int(d) for d in (tensor.shape if tensor.shape is not None else ())]
        axis = int(q.quantizedDimension)
        if not 0 <= axis < len(shape) or shape[axis] != scale.size:
            raise Unsound(f"tensor {label} has {scale.size} per-channel scales along axis {axis} of shape {shape}")


def _tensor(model, tensor, t, buffers, custom_only=False):
    label = repr(name(tensor.name, f"the name of tensor {t}") or t)
    if not 0 <= tensor.type <= TYPE_MAX:
        raise Unsound(f"tensor {label} has unknown type {tensor.type}")
    if not 0 <= tensor.buffer < max(len(buffers), 1):
        raise Unsound(f"tensor {label} refers to buffer {tensor.buffer} of {len(buffers)}")
    shape = [int(d) for d in (tensor.shape if tensor.shape is not None else ())]
    if min(shape, default=0) < 0:
        raise Unsound(f"tensor {label} has a negative dimension in shape {shape}")
    stored = fb.buffer_bytes(model, tensor) if buffers else 0
    if stored and tensor.type in ITEM_BYTES:
        expected = int(np.prod(shape, dtype=np.int64)) * ITEM_BYTES[tensor.type]
        if expected != stored:
            raise Unsound(f"tensor {label} has shape {shape} ({expected} bytes) but {stored} bytes of data")
    _quantization(tensor, label, custom_only)


def _read_by_custom_ops_only(model, sub, count):
    """Indices of the tensors that custom operators read and no builtin operator or subgraph output does."""
    custom, builtin = set(), set(int(i) for i in sub.outputs)
    codes = model.operatorCodes or []
    for op in sub.operators:
        is_custom = (0 <= op.opcodeIndex < len(codes)
                     and max(codes[op.opcodeIndex].builtinCode, codes[op.opcodeIndex].deprecatedBuiltinCode) == CUSTOM)
        (custom if is_custom else builtin).update(int(i) for i in (op.inputs if op.inputs is not None else ())
                                                  if 0 <= i < count)
    return custom - builtin


def _codes(model):
    for c, code in enumerate(model.operatorCodes or []):
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if not 0 <= builtin <= BUILTIN_MAX:
            raise Unsound(f"operator code {c} is builtin {builtin}, unknown to this interpreter's schema "
                          f"(0..{BUILTIN_MAX})")
        if builtin == CUSTOM and not name(code.customCode, f"custom operator code {c}"):
            raise Unsound(f"operator code {c} is a custom operator without a name")


def _dataflow(model, sub, s, buffers):
    """Every tensor read is available when it is read (see the module docstring)."""
    tensors = sub.tensors or []

    def constant(i):
        return (buffers and fb.buffer_bytes(model, tensors[i]) > 0) or tensors[i].isVariable
    ready = set(int(i) for i in sub.inputs)
    for o, op in enumerate(sub.operators):
        for i in (int(i) for i in op.inputs if i >= 0):
            if i not in ready and not constant(i):
                raise Unsound(f"operator {o} ({fb.op_name(model, op)}) reads tensor {i} before any operator "
                              "writes it")
        ready.update(int(i) for i in op.outputs)
    for i in (int(i) for i in sub.outputs):
        if i not in ready and not constant(i):
            raise Unsound(f"subgraph {s}'s output tensor {i} is never written")


def check(model, size):
    """Unsound unless the parsed `model` (a file of `size` bytes) passes every check of the module docstring."""
    buffers = model.buffers or []
    if not model.subgraphs:
        raise Unsound("the model has no subgraph")
    for i, buffer in enumerate(buffers):
        if buffer.offset > 1 and buffer.offset + buffer.size > size:
            raise Unsound(f"buffer {i} ends at byte {buffer.offset + buffer.size}, past the file's {size}")
    _codes(model)
    codes = len(model.operatorCodes or [])
    for s, sub in enumerate(model.subgraphs):
        tensors = sub.tensors or []
        if not sub.operators:
            raise Unsound(f"subgraph {s} has no operators")
        _io(sub, s, len(tensors))
        custom_only = _read_by_custom_ops_only(model, sub, len(tensors))
        for t, tensor in enumerate(tensors):
            _tensor(model, tensor, t, buffers, t in custom_only)
        for o, op in enumerate(sub.operators):
            if not 0 <= op.opcodeIndex < codes:
                raise Unsound(f"operator {o} refers to operator code {op.opcodeIndex} of {codes}")
            if op.builtinOptionsType not in OPTION_TYPES:
                raise Unsound(f"operator {o} has builtin options of unknown type {op.builtinOptionsType}")
            for field in ("inputs", "outputs", "intermediates"):
                _indices(getattr(op, field), len(tensors), f"operator {o}'s {field}", optional=field == "inputs")
            if op.outputs is None or not len(op.outputs):
                raise Unsound(f"operator {o} ({fb.op_name(model, op)}) has no outputs")
        _dataflow(model, sub, s, buffers)
    for m, entry in enumerate(model.metadata or []):
        name(entry.name, f"the name of metadata entry {m}")
        if not 0 <= entry.buffer < len(buffers):
            raise Unsound(f"metadata entry {m} refers to buffer {entry.buffer} of {len(buffers)}")
    for d, signature in enumerate(model.signatureDefs or []):
        name(signature.signatureKey, f"the key of signature {d}")
        if not 0 <= signature.subgraphIndex < len(model.subgraphs):
            raise Unsound(f"signature {d} refers to subgraph {signature.subgraphIndex}")
        count = len(model.subgraphs[signature.subgraphIndex].tensors or [])
        for entry in (signature.inputs or []) + (signature.outputs or []):
            name(entry.name, f"a name in signature {d}")
            if not 0 <= entry.tensorIndex < count:
                raise Unsound(f"signature {d} refers to tensor {entry.tensorIndex} of {count}")

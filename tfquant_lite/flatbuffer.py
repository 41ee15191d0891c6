"""Read, edit and write TFLite flatbuffers as mutable object trees: every module of tfquant that reads a
.tflite file goes through this one.

Uses the generated TFLite schema (`schema_py_generated`) with the `flatbuffers` package. TensorFlow is not
needed: the schema is taken from the first of `SCHEMA_SOURCES` installed, LiteRT's and TFLite Micro's
wheels (each ships one) before TensorFlow's. This module needs numpy, flatbuffers and one of those
(no keras, nothing else of tfquant), so the device core (`fold.py`, `integrity.py`, `interpreters.py`)
and the runner `tfquant-run` run on a device that has only an interpreter.
Buffers are written 16-byte aligned, as the converter writes them, so that firmware reading the file
in place (TFLite Micro) never sees a misaligned int32 bias.
"""
import importlib
import importlib.util

import flatbuffers
import numpy as np

# Where the generated TFLite schema can be found, in order of preference (pip package: module).
SCHEMA_SOURCES = {
    "ai-edge-litert": "ai_edge_litert.schema_py_generated",
    "tflite-micro": "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
    "tensorflow": "tensorflow.lite.python.schema_py_generated",
}


def _installed(module):
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):  # blocked, or a package whose __spec__ is None
        return False


def _load_schema():
    for module in SCHEMA_SOURCES.values():
        if _installed(module):
            return importlib.import_module(module)
    raise ImportError("reading TFLite files needs the TFLite schema, which ships with the interpreters: "
                      "`pip install flatbuffers ai-edge-litert` (or tflite-micro, or tensorflow)")


schema = _load_schema()
OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
NUMPY_TYPES = {
    schema.TensorType.FLOAT32: np.float32, schema.TensorType.INT32: np.int32,
    schema.TensorType.INT8: np.int8, schema.TensorType.UINT8: np.uint8,
    schema.TensorType.INT64: np.int64, schema.TensorType.INT16: np.int16,
}
_ALIGN = 16


def read(model_bytes):
    """Parse TFLite bytes into a `schema.ModelT` tree, every constant inline. The converter's other layout
    (`_experimental_use_buffer_offset`, for models over 2 GB) stores a buffer's data after the flatbuffer as
    `offset` and `size` (an offset of 0 or 1 means none); such a buffer gets those bytes as `data`, so
    `constant`, `buffer_bytes` and `write` see one layout. A buffer that points past the file's end is left as
    it is (`soundness` refuses such files by name)."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    for buffer in model.buffers or []:
        if buffer.offset > 1 and buffer.offset + buffer.size <= len(model_bytes):
            start = int(buffer.offset)
            buffer.data = np.frombuffer(bytes(model_bytes[start:start + int(buffer.size)]), np.uint8)
            buffer.offset = buffer.size = 0
    return model


def write(model):
    """Serialize a `schema.ModelT` tree to TFLite bytes (file identifier TFL3)."""
    model.buffers = [_aligned(b) for b in model.buffers]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _AlignedBuffer(schema.BufferT):
    """A buffer whose data vector starts on a 16-byte boundary."""

    def Pack(self, builder):
        data = None
        if self.data is not None and len(self.data):
            raw = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.StartVector(1, len(raw), _ALIGN)
            builder.head -= len(raw)
            builder.Bytes[builder.head:builder.head + len(raw)] = raw
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def _aligned(buffer):
    out = _AlignedBuffer()
    out.data, out.offset, out.size = buffer.data, buffer.offset, buffer.size
    return out


def op_name(model, op):
    """Builtin operator name of `op`, e.g. 'CONV_2D'."""
    code = model.operatorCodes[op.opcodeIndex]
    return OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")


def tensor_name(tensor):
    """The tensor's name ('' for an unnamed tensor)."""
    return tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name or "")


def constant(model, tensor):
    """The constant value of `tensor` as a NumPy array, or None when the tensor is computed."""
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) == 0 or tensor.type not in NUMPY_TYPES:
        return None
    flat = np.frombuffer(np.asarray(data, dtype=np.uint8).tobytes(), dtype=NUMPY_TYPES[tensor.type])
    return flat.reshape([int(d) for d in tensor.shape]) if tensor.shape is not None else flat


def outside_buffers(model_bytes):
    """How many of the file's buffers keep their data after the flatbuffer (see `read`). Reads only
    the buffer table, so it costs little on a large file."""
    model = schema.Model.GetRootAs(bytes(model_bytes), 0)
    return sum(model.Buffers(i).Offset() > 1 for i in range(model.BuffersLength()))


def buffer_bytes(model, tensor):
    data = model.buffers[tensor.buffer].data
    return 0 if data is None else len(data)


def consumers(subgraph, tensor_index):
    """Indices of the operators of `subgraph` that read tensor `tensor_index`."""
    return [i for i, op in enumerate(subgraph.operators) if tensor_index in list(op.inputs)]


def opcode_index(model, builtin):
    """Index of the operator code for `builtin` (a `schema.BuiltinOperator` value), added if missing."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def add_tensor(model, subgraph, name, shape, tensor_type, value=None, quantization=None):
    """Append a tensor (a constant when `value` is given; unnamed when `name` is None) to `subgraph`;
    returns its index."""
    tensor = schema.TensorT()
    tensor.name = None if name is None else name.encode()
    tensor.shape = np.asarray(shape, dtype=np.int32)
    tensor.type = tensor_type
    tensor.quantization = quantization
    tensor.buffer = 0
    if value is not None:
        set_constant(model, tensor, value)
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def set_constant(model, tensor, value):
    """Store `value` (raw bytes or an array of the tensor's type) as the constant data of `tensor`,
    in its own buffer (a fresh one when the current buffer is empty or shared)."""
    raw = value if isinstance(value, (bytes, bytearray)) else np.ascontiguousarray(value).tobytes()
    data = np.frombuffer(raw, dtype=np.uint8).copy()
    sharing = sum(t.buffer == tensor.buffer for sg in model.subgraphs for t in sg.tensors)
    if tensor.buffer != 0 and sharing == 1:
        model.buffers[tensor.buffer].data = data
        return
    buffer = schema.BufferT()
    buffer.data = data
    model.buffers.append(buffer)
    tensor.buffer = len(model.buffers) - 1


def make_computed(model, tensor):
    """Turn a constant tensor into a computed one, dropping its data from the file unless another
    tensor shares the buffer (the converter de-duplicates equal constants)."""
    index, tensor.buffer = tensor.buffer, 0
    if not any(t.buffer == index for sg in model.subgraphs for t in sg.tensors):
        model.buffers[index].data = None


def new_op(model, builtin, inputs, outputs, options_type=0, options=None):
    """A `schema.OperatorT` for builtin operator `builtin` (not yet placed in a subgraph)."""
    op = schema.OperatorT()
    op.opcodeIndex = opcode_index(model, builtin)
    op.inputs = np.asarray(inputs, dtype=np.int32)
    op.outputs = np.asarray(outputs, dtype=np.int32)
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def prune(model):
    """Drop every tensor no operator, subgraph input/output or signature uses, then every buffer no
    tensor or metadata entry uses (buffer 0, the empty sentinel, stays) and every unused operator
    code, renumbering all references."""
    for sub_index, sub in enumerate(model.subgraphs):
        used = set(int(i) for i in sub.inputs) | set(int(i) for i in sub.outputs)
        for op in sub.operators:
            for field in (op.inputs, op.outputs, op.intermediates):
                used.update(int(i) for i in (field if field is not None else ()) if i >= 0)
        new = {old: n for n, old in enumerate(sorted(used))}
        sub.tensors = [sub.tensors[old] for old in sorted(used)]
        sub.inputs, sub.outputs = _renumber(sub.inputs, new), _renumber(sub.outputs, new)
        for op in sub.operators:
            op.inputs, op.outputs = _renumber(op.inputs, new), _renumber(op.outputs, new)
            op.intermediates = None if op.intermediates is None else _renumber(op.intermediates, new)
        for signature in model.signatureDefs or []:
            if signature.subgraphIndex == sub_index:
                for entry in (signature.inputs or []) + (signature.outputs or []):
                    entry.tensorIndex = new[entry.tensorIndex]
    metadata = model.metadata or []
    used = {0} | {t.buffer for sub in model.subgraphs for t in sub.tensors} | {m.buffer for m in metadata}
    used |= set(int(b) for b in (model.metadataBuffer if model.metadataBuffer is not None else ()))
    new = {old: n for n, old in enumerate(sorted(used))}
    model.buffers = [model.buffers[old] for old in sorted(used)]
    for tensor in (t for sub in model.subgraphs for t in sub.tensors):
        tensor.buffer = new[tensor.buffer]
    for entry in metadata:
        entry.buffer = new[entry.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = _renumber(model.metadataBuffer, new)
    codes = sorted({op.opcodeIndex for sub in model.subgraphs for op in sub.operators})
    new = {old: n for n, old in enumerate(codes)}
    model.operatorCodes = [model.operatorCodes[old] for old in codes]
    for op in (op for sub in model.subgraphs for op in sub.operators):
        op.opcodeIndex = new[op.opcodeIndex]


def _renumber(indices, new):
    """`indices` with every index i >= 0 replaced by new[i] (-1, an omitted optional input, stays)."""
    return np.asarray([new[int(i)] if i >= 0 else int(i) for i in indices], dtype=np.int32)

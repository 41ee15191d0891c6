"""TensorFlow Lite Micro's own weight compression of an int8 file, for comparison with tfquant's formats.

`compress_binary(int8_bytes, per_channel=True)` runs the `tflite-micro` package's compressor
(`tflite_micro.tensorflow.lite.micro.compression.compress`) with a 1-bit look-up-table spec for every
constant INT8 filter of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED that holds at most two distinct
values per output channel (the binary kernels BC trains, after int8 quantization and batch-norm folding):

    filter[c, ...] = table_c[index[c, ...]],   index in {0, 1} (1 bit each),   table_c = the channel's values

Output channel axis (from `tfquant.tflite.filters.OPS`): 0 for CONV_2D ([O, H, W, I]) and FULLY_CONNECTED
([O, I]), 3 for DEPTHWISE_CONV_2D ([1, H, W, O]). `per_channel=False` uses one table for the whole tensor
where the tensor holds at most two values in all (a filter that does not is still compressed per channel).
The compressor inserts one `TFLM_DECODE` custom operator per compressed filter; TFLM's runtime decodes it
into an int8 tensor before the consuming op runs. Other tensors (biases, non-binary heads) are left as they are.
"""
import numpy as np

from tfquant.tflite.filters import OPS

CHANNEL_AXIS = {op: OPS[op].output_axis for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}  # OPS owns them


def _compression():
    from tflite_micro.tensorflow.lite.micro.compression import compress, model_editor, spec
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import BuiltinOperator, TensorType
    return compress, model_editor, spec, BuiltinOperator, TensorType


def binary_filters(model_bytes):
    """[(subgraph, tensor index, op name, channel axis, distinct values in the whole tensor)] of every
    constant INT8 filter with at most two distinct values per output channel."""
    _, model_editor, _, builtin, tensor_type = _compression()
    names = {getattr(builtin, op): op for op in CHANNEL_AXIS}
    model = model_editor.read(bytes(model_bytes))
    found = []
    for s, subgraph in enumerate(model.subgraphs):
        for op in subgraph.operators:
            name = names.get(op.opcode)
            weights = op.inputs[1] if name and len(op.inputs) > 1 else None
            if weights is None or weights.dtype != tensor_type.INT8 or not weights.buffer or not weights.buffer.data:
                continue
            values = weights.array
            axis = CHANNEL_AXIS[name]
            if all(len(np.unique(channel)) <= 2 for channel in np.moveaxis(values, axis, 0)):
                found.append((s, weights.index, name, axis, len(np.unique(values))))
    return found


def compress_binary(model_bytes, per_channel=True):
    """The int8 file `model_bytes` with its binary filters LUT-compressed at 1 bit (see module docstring);
    returns (bytes, number of filters compressed)."""
    compress, _, spec, _, _ = _compression()
    specs = []
    for subgraph, tensor, _, axis, distinct in binary_filters(model_bytes):
        mode = spec.PerTensor() if not per_channel and distinct <= 2 else spec.PerChannel(axis=axis)
        specs.append(spec.Tensor(subgraph=subgraph, tensor=tensor,
                                 compression=[spec.LookUpTableCompression(index_bitwidth=1, mode=mode)]))
    if not specs:
        return bytes(model_bytes), 0
    return bytes(compress(bytes(model_bytes), specs)), len(specs)

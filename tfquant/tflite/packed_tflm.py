"""Format `packed-tflm`: every binary int8 conv / depthwise / dense layer becomes tfquant's TFLite Micro
custom op TFQUANT_BINARY, which computes straight from 1-bit signs (tfquant_lite/tflm_kernel/).

Starting from the same full-int8 file as `packed-int8`, an int8 filter whose output channel c holds
only `±q_c` (zero point 0) is replaced by
    bits      uint8 [ceil(N/8)]: bit k of byte i = 1 when weight 8i+k (TFLite's filter order) is +q_c
    bias      int32 [C] (zeros when the layer had none)
    channels  int32 [C, 2]: TFLM's multiplier M_c, then q_c | (shift_c & 0xFF) << 8 (`requantize.py`
              derives M_c and shift_c from the input, filter and output scales as TFLM's Prepare does)
and the op's custom options hold the geometry (16 int32: 'TQB1', kind, C, kh, kw, in, strides,
dilations, padding, depth multiplier, input/output zero points, activation clamp). The kernel then
computes `acc_c = q_c·(2·Σ_{bit=1} x' − Σ x') + bias_c` and requantizes like TFLM, so the file's
outputs equal the int8 file's bit for bit, and no int8 filter ever exists in RAM: the arena is the
int8 file's. Layers of other kinds, or with non-binary filters, stay as they are.
Only TFLite Micro with the op registered runs the file (LiteRT has no such op).
"""
import numpy as np

from tfquant_lite import flatbuffer as fb
from tfquant_lite.tflm_ops import OP_NAME

from .filters import OPS, filters
from .pack import _compact, int8_magnitudes
from .requantize import activation_range, channel_multipliers

OP = fb.schema.BuiltinOperator
TT = fb.schema.TensorType
KINDS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 2}
MAGIC = 0x31425154  # b"TQB1"
_ACTIVATIONS = {v: k for k, v in vars(fb.schema.ActivationFunctionType).items() if not k.startswith("_")}


def sign_bits(w):
    """Sign bits of int8 filter `w` in its flat (C) order, little-endian in each byte: 1 for w > 0."""
    return np.packbits(np.asarray(w).reshape(-1) > 0, bitorder="little")


def _custom_opcode(model):
    for i, code in enumerate(model.operatorCodes):
        if code.customCode in (OP_NAME, OP_NAME.encode()):
            return i
    code = fb.schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = OP.CUSTOM
    code.customCode, code.version = OP_NAME.encode(), 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _scale(tensor):
    q = tensor.quantization
    return None if q is None or q.scale is None or len(q.scale) == 0 else np.asarray(q.scale, np.float32)


def _zero_point(tensor):
    q = tensor.quantization
    return int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0


def _geometry(op_name, options, w):
    """(kernel_h, kernel_w, in_channels, strides, dilations, padding, depth multiplier, activation)."""
    if op_name == "FULLY_CONNECTED":
        return 1, 1, w.shape[1], (1, 1), (1, 1), 1, 1, _ACTIVATIONS[options.fusedActivationFunction]
    activation = _ACTIVATIONS[options.fusedActivationFunction]
    strides, dilations = (options.strideH, options.strideW), (options.dilationHFactor, options.dilationWFactor)
    if op_name == "CONV_2D":
        return w.shape[1], w.shape[2], w.shape[3], strides, dilations, options.padding, 1, activation
    return w.shape[1], w.shape[2], None, strides, dilations, options.padding, None, activation


def _plan(model, sub, op, op_name):
    """(options words, bits, bias, channels) for the custom op replacing `op`, or (None, reason)."""
    x, filt, out = sub.tensors[op.inputs[0]], sub.tensors[op.inputs[1]], sub.tensors[op.outputs[0]]
    w = fb.constant(model, filt)
    if w is None:
        return None, "filter is computed at run time"
    if not (x.type == filt.type == out.type == TT.INT8):
        return None, "not an int8 layer (format packed-tflm starts from full int8)"
    axis = OPS[op_name].output_axis
    magnitudes, reason = int8_magnitudes(filt, w, axis)
    if magnitudes is None:
        return None, reason
    if op_name == "FULLY_CONNECTED" and op.builtinOptions.weightsFormat != 0:
        return None, "shuffled FULLY_CONNECTED weights"
    kh, kw, depth, strides, dilations, padding, multiplier, activation = _geometry(op_name, op.builtinOptions, w)
    channels = int(w.shape[axis])
    if op_name == "CONV_2D" and depth != int(x.shape[-1]):
        return None, (f"grouped CONV_2D ({int(x.shape[-1]) // depth} groups): the 1-bit kernel's filter reads "
                      "the whole input depth")
    if op_name == "DEPTHWISE_CONV_2D":
        depth = int(x.shape[-1])
        if channels % depth:
            return None, "depthwise output channels not a multiple of the input depth"
        multiplier = channels // depth
    try:
        act_min, act_max = activation_range(activation, _scale(out)[0], _zero_point(out))
    except ValueError as error:
        return None, str(error)
    scales = _scale(filt)
    requant = channel_multipliers(_scale(x)[0], scales, _scale(out)[0], channels,
                                  per_tensor_product=op_name == "FULLY_CONNECTED" and scales.size == 1)
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = fb.constant(model, sub.tensors[op.inputs[2]]) if has_bias else np.zeros(channels, np.int32)
    if bias is None:
        return None, "bias is computed at run time"
    words = np.asarray([MAGIC, KINDS[op_name], channels, kh, kw, depth, strides[0], strides[1], dilations[0],
                        dilations[1], padding, multiplier, _zero_point(x), _zero_point(out), act_min, act_max],
                       np.int32)
    packed = magnitudes.astype(np.int64) | ((requant[:, 1].astype(np.int64) & 0xFF) << 8)
    params = np.stack([requant[:, 0].astype(np.int64), packed], axis=1).astype(np.int32)
    return (words, sign_bits(w), np.asarray(bias, np.int32).reshape(-1), params), None


def to_packed_tflm(model_bytes):
    """Rewrite every binary int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED of `model_bytes` as a
    TFQUANT_BINARY op; returns (bytes, per-filter records)."""
    model = fb.read(model_bytes)
    sub, records = model.subgraphs[0], []
    for _, op, record in list(filters(model)):
        if record.op not in KINDS:
            record.reason = f"{record.op} has no 1-bit TFLite Micro kernel"
            records.append(record)
            continue
        if len(fb.consumers(sub, int(op.inputs[1]))) > 1:
            record.reason = "filter shared by several layers"
            records.append(record)
            continue
        plan, record.reason = _plan(model, sub, op, record.op)
        records.append(record)
        if plan is None:
            continue
        words, bits, bias, params = plan
        inputs = [int(op.inputs[0]),
                  fb.add_tensor(model, sub, None, [bits.size], TT.UINT8, bits),
                  fb.add_tensor(model, sub, None, [bias.size], TT.INT32, bias),
                  fb.add_tensor(model, sub, None, list(params.shape), TT.INT32, params)]
        op.opcodeIndex, op.inputs = _custom_opcode(model), np.asarray(inputs, np.int32)
        op.builtinOptionsType, op.builtinOptions = 0, None
        op.customOptions, op.customOptionsFormat = np.frombuffer(words.astype("<i4").tobytes(), np.uint8), 0
        record.mark_packed("1-bit", int(bits.size))
    _compact(model)
    return fb.write(model), records

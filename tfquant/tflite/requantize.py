"""TFLite Micro's int8 requantization constants, computed in Python exactly as TFLM's Prepare does.

For output channel c, TFLM's int8 CONV_2D / DEPTHWISE_CONV_2D (and per-channel FULLY_CONNECTED) use
`M_c·2^shift_c = double(s_in)·double(s_w,c) / double(s_out)`; per-tensor FULLY_CONNECTED rounds the
product to float32 first: `double(float32(s_in·s_w)) / double(s_out)` (kernel_util.cc). The real
multiplier m is split by QuantizeMultiplier: `m = q·2^shift` (frexp, 0.5 <= q < 1) and
`M = round(q·2^31)` (half away from zero; M = 2^31 becomes 2^30 with shift + 1; shift < -31
flushes to 0). Fused activations clamp to `zero_point + round(f / s_out)` in float32 for f = 0, 6, ±1.
"""
import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def _round_away(x):
    """std::round: halves away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real):
    """(M, shift) of TFLM's QuantizeMultiplier for a real multiplier `real` >= 0."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(_round_away(q * (1 << 31)))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def channel_multipliers(input_scale, filter_scales, output_scale, channels, per_tensor_product=False):
    """int32 [channels, 2]: (M_c, shift_c) per output channel; `filter_scales` of size 1 is broadcast.
    `per_tensor_product`: per-tensor FULLY_CONNECTED's float32 product of the scales. Any other number of
    scales than 1 or `channels` is a ValueError (a channel left without one would get M_c = 0)."""
    scales = np.asarray(filter_scales, np.float32).reshape(-1)
    if scales.size == 1:
        scales = np.repeat(scales, channels)
    if scales.size != channels:
        raise ValueError(f"{scales.size} filter scales for {channels} output channels (expected 1 or {channels})")
    out = np.zeros((channels, 2), np.int64)
    for c, scale in enumerate(scales):
        if per_tensor_product:
            real = float(np.float32(input_scale) * np.float32(scale)) / float(np.float32(output_scale))
        else:
            real = float(np.float32(input_scale)) * float(scale) / float(np.float32(output_scale))
        out[c] = quantize_multiplier(real)
    return out.astype(np.int32)


def _quantize(value, scale, zero_point):
    tmp = np.float32(value) / np.float32(scale)  # float32 division, as TFLM's Quantize
    return int(zero_point) + int(_round_away(float(tmp)))


def activation_range(activation, output_scale, output_zero_point):
    """(act_min, act_max) of TFLM's CalculateActivationRangeQuantized for int8 outputs; `activation`
    a schema ActivationFunctionType name ('NONE', 'RELU', 'RELU6', 'RELU_N1_TO_1'); ValueError otherwise."""
    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, _quantize(0.0, output_scale, output_zero_point)), INT8_MAX
    if activation == "RELU6":
        return (max(INT8_MIN, _quantize(0.0, output_scale, output_zero_point)),
                min(INT8_MAX, _quantize(6.0, output_scale, output_zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(INT8_MIN, _quantize(-1.0, output_scale, output_zero_point)),
                min(INT8_MAX, _quantize(1.0, output_scale, output_zero_point)))
    raise ValueError(f"fused activation {activation} has no int8 clamp in TFLM's conv kernels")

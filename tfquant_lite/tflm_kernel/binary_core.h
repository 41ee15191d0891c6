/* int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED computed from 1-bit packed filters (C99).
 *
 * A binary int8 filter holds ±q_c in output channel c (per-channel symmetric int8 quantization of a
 * ±s_c kernel stores q_c = 127; a per-tensor dense layer with batch norm folded in has other q_c).
 * It is stored as its sign bits in TFLite's own filter order (CONV_2D [out][kh][kw][in],
 * DEPTHWISE_CONV_2D [1][kh][kw][out], FULLY_CONNECTED [out][in]): bit k of byte i is 1 when weight
 * 8i+k is +q_c, 0 when it is -q_c. Over the receptive field R of an output value, with
 * x' = x - input_zero_point (a padded position has x' = 0, i.e. x = zero point, as in TFLM),
 *
 *     acc_c = Σ_R w·x' = q_c·(Σ_{bit=1} x' − Σ_{bit=0} x') = q_c·(2·Σ_{bit=1} x' − Σ_R x')
 *     y     = clamp(MultiplyByQuantizedMultiplier(acc_c + bias_c, M_c, shift_c) + output_zero_point,
 *                   act_min, act_max)
 *
 * which is exactly the integer arithmetic of TFLM's reference int8 kernels, so the outputs are
 * bit-identical to the int8 model's. M_c and shift_c are what TFLM derives in Prepare from
 * input_scale·filter_scale_c/output_scale (QuantizeMultiplier); the exporter stores them.
 * No allocation, no floating point, no global state; tensors are NHWC.
 */
#ifndef TFQUANT_BINARY_CORE_H_
#define TFQUANT_BINARY_CORE_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tfq_kind { TFQ_CONV_2D = 0, TFQ_DEPTHWISE_CONV_2D = 1, TFQ_FULLY_CONNECTED = 2 };
enum tfq_padding { TFQ_PADDING_SAME = 0, TFQ_PADDING_VALID = 1 };

/* One layer: the filter's shape (out_channels, kernel_h, kernel_w, in_channels; depthwise:
 * in_channels is the input's depth and out_channels = in_channels·depth_multiplier; fully connected:
 * kernel 1x1), the geometry and the int8 quantization constants. */
typedef struct tfq_layer {
  int32_t kind;
  int32_t out_channels, kernel_h, kernel_w, in_channels;
  int32_t stride_h, stride_w, dilation_h, dilation_w;
  int32_t padding, depth_multiplier;
  int32_t input_zero_point, output_zero_point, act_min, act_max;
} tfq_layer;

/* Per output channel c: TFLM's multiplier M_c, and one word holding the magnitude q_c of the int8
 * weights (bits 0-7, 0..127) and TFLM's shift_c (bits 8-15, as int8). */
typedef struct tfq_channel {
  int32_t multiplier, magnitude_shift;
} tfq_channel;
#define TFQ_MAGNITUDE(ch) ((int32_t)((ch)->magnitude_shift & 0xFF))
#define TFQ_SHIFT(ch) ((int32_t)(int8_t)(((uint32_t)(ch)->magnitude_shift >> 8) & 0xFFu))

/* An NHWC activation shape (fully connected: batch, 1, 1, depth). */
typedef struct tfq_shape {
  int32_t batch, height, width, depth;
} tfq_shape;

/* TFLM's MultiplyByQuantizedMultiplier (double rounding, gemmlowp): round(x·M·2^shift / 2^31). */
int32_t tfq_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* Output size along one axis, as TFLM's ComputeOutSize; 0 when the window does not fit. */
int32_t tfq_out_size(int32_t padding, int32_t in_size, int32_t filter, int32_t stride, int32_t dilation);

/* Leading padding along one axis, as TFLM's ComputePaddingHeightWidth (VALID: 0). */
int32_t tfq_pad_before(int32_t padding, int32_t in_size, int32_t filter, int32_t stride, int32_t dilation);

/* Bytes of sign bits the layer's filter needs: ceil(weights / 8). */
int32_t tfq_packed_bytes(const tfq_layer* layer);

/* Checks a layer against its input and output shapes: 0 when consistent, else a negative code
 * (tfq_error_text says which). */
int32_t tfq_check(const tfq_layer* layer, const tfq_shape* input, const tfq_shape* output);
const char* tfq_error_text(int32_t code);

/* Runs the layer: `bits` (tfq_packed_bytes bytes), `bias` (out_channels int32, or NULL),
 * `channels` (out_channels entries). Shapes must have passed tfq_check. */
void tfq_run(const tfq_layer* layer, const tfq_shape* input, const int8_t* input_data, const uint8_t* bits,
             const int32_t* bias, const tfq_channel* channels, const tfq_shape* output, int8_t* output_data);

#ifdef __cplusplus
}
#endif

#endif /* TFQUANT_BINARY_CORE_H_ */

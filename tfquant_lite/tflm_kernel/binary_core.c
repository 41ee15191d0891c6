/* The 1-bit int8 layers of binary_core.h (C99; the equations are in the header).
 *
 * Per output value the kernel sums the raw int8 inputs x over the receptive field's valid taps
 * (n of them), and over the taps whose sign bit is 1 (m of them):
 *     Σ_R x' = Σ_R x − zp·n,   Σ_{bit=1} x' = Σ_{bit=1} x − zp·m,
 * so the zero point is subtracted once per output instead of once per weight. For CONV_2D and
 * FULLY_CONNECTED Σ_R x does not depend on the output channel and is computed once per output pixel.
 * Assumes two's-complement int32 with arithmetic right shifts (as TFLM itself does).
 */
#include "binary_core.h"

#include <stddef.h>
#include <string.h>

#define TFQ_BIT(bits, index) ((int32_t)(((bits)[(index) >> 3] >> ((index) & 7u)) & 1u))

/* gemmlowp's SaturatingRoundingDoublingHighMul: round(a·b / 2^31), saturating the one overflow. */
static int32_t doubling_high_mul(int32_t a, int32_t b) {
  int64_t product;
  int32_t nudge;
  if (a == b && a == INT32_MIN) return INT32_MAX;
  product = (int64_t)a * (int64_t)b;
  nudge = product >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((product + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
static int32_t rounding_divide_by_pot(int32_t x, int32_t exponent) {
  const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t tfq_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = shift > 0 ? shift : 0;
  const int32_t right = shift > 0 ? 0 : -shift;
  const int32_t shifted = (int32_t)((uint32_t)x << left); /* x·2^left, wrapping like TFLM's int multiply */
  return rounding_divide_by_pot(doubling_high_mul(shifted, multiplier), right);
}

int32_t tfq_out_size(int32_t padding, int32_t in_size, int32_t filter, int32_t stride, int32_t dilation) {
  const int32_t effective = (filter - 1) * dilation + 1;
  if (stride <= 0) return 0;
  if (padding == TFQ_PADDING_SAME) return (in_size + stride - 1) / stride;
  if (padding == TFQ_PADDING_VALID) return in_size >= effective ? (in_size + stride - effective) / stride : 0;
  return 0;
}

int32_t tfq_pad_before(int32_t padding, int32_t in_size, int32_t filter, int32_t stride, int32_t dilation) {
  const int32_t effective = (filter - 1) * dilation + 1;
  const int32_t out = tfq_out_size(padding, in_size, filter, stride, dilation);
  const int32_t total = (out - 1) * stride + effective - in_size;
  return total > 0 ? total / 2 : 0;
}

int32_t tfq_packed_bytes(const tfq_layer* layer) {
  const int64_t per_tap = layer->kind == TFQ_DEPTHWISE_CONV_2D ? layer->out_channels
                                                               : (int64_t)layer->out_channels * layer->in_channels;
  return (int32_t)((per_tap * layer->kernel_h * layer->kernel_w + 7) / 8);
}

enum {
  TFQ_BAD_KIND = -1, TFQ_BAD_GEOMETRY = -2, TFQ_BAD_CHANNELS = -3, TFQ_BAD_OUTPUT = -4, TFQ_BAD_RANGE = -5
};

const char* tfq_error_text(int32_t code) {
  switch (code) {
    case 0: return "ok";
    case TFQ_BAD_KIND: return "unknown layer kind or padding";
    case TFQ_BAD_GEOMETRY: return "kernel, stride, dilation or depth multiplier below 1";
    case TFQ_BAD_CHANNELS: return "input depth does not match the filter";
    case TFQ_BAD_OUTPUT: return "output shape does not match input, filter, stride, padding and dilation";
    case TFQ_BAD_RANGE: return "activation range outside int8 or empty";
    default: return "unknown error";
  }
}

int32_t tfq_check(const tfq_layer* l, const tfq_shape* in, const tfq_shape* out) {
  if (l->kind < TFQ_CONV_2D || l->kind > TFQ_FULLY_CONNECTED) return TFQ_BAD_KIND;
  if (l->padding != TFQ_PADDING_SAME && l->padding != TFQ_PADDING_VALID) return TFQ_BAD_KIND;
  if (l->out_channels < 1 || l->in_channels < 1 || l->kernel_h < 1 || l->kernel_w < 1 || l->stride_h < 1 ||
      l->stride_w < 1 || l->dilation_h < 1 || l->dilation_w < 1 || l->depth_multiplier < 1)
    return TFQ_BAD_GEOMETRY;
  if (l->act_min < -128 || l->act_max > 127 || l->act_min > l->act_max) return TFQ_BAD_RANGE;
  if (in->depth != l->in_channels) return TFQ_BAD_CHANNELS;
  if (l->kind == TFQ_DEPTHWISE_CONV_2D && l->out_channels != l->in_channels * l->depth_multiplier)
    return TFQ_BAD_CHANNELS;
  if (out->batch != in->batch || out->depth != l->out_channels) return TFQ_BAD_OUTPUT;
  if (l->kind == TFQ_FULLY_CONNECTED) return (l->kernel_h == 1 && l->kernel_w == 1) ? 0 : TFQ_BAD_GEOMETRY;
  if (out->height != tfq_out_size(l->padding, in->height, l->kernel_h, l->stride_h, l->dilation_h) ||
      out->width != tfq_out_size(l->padding, in->width, l->kernel_w, l->stride_w, l->dilation_w))
    return TFQ_BAD_OUTPUT;
  return 0;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TFQ_SWAR 1
/* Lane masks for 4 bytes read as a little-endian word: byte k is 0xFF when bit k of the nibble is set. */
static const uint32_t kLaneMask[16] = {
    0x00000000u, 0x000000FFu, 0x0000FF00u, 0x0000FFFFu, 0x00FF0000u, 0x00FF00FFu, 0x00FFFF00u, 0x00FFFFFFu,
    0xFF000000u, 0xFF0000FFu, 0xFF00FF00u, 0xFF00FFFFu, 0xFFFF0000u, 0xFFFF00FFu, 0xFFFFFF00u, 0xFFFFFFFFu};
static const uint8_t kNibbleBits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};

/* 4 int8 values as bytes u = x + 128 (x ^ 0x80) of one word (memcpy: no alignment needed). */
static uint32_t load_biased(const int8_t* p) {
  uint32_t word;
  memcpy(&word, p, sizeof(word));
  return word ^ 0x80808080u;
}
#endif

/* Σ x[i] over the n inputs whose bit (bits from bit index `index` on) is 1, and how many there are.
 * Whole bytes of bits (8 inputs) go 4 lanes at a time (SWAR, little-endian targets): the biased
 * inputs u = x + 128 are masked by the bits, summed in 16-bit lanes (at most 64 bytes of bits, 4·255
 * each, before a flush: no overflow), and Σ x = Σ u − 128·count. */
static void masked_sum(const uint8_t* bits, uint32_t index, const int8_t* x, int32_t n, int32_t* sum,
                       int32_t* count) {
  int32_t s = 0, c = 0, i = 0;
  for (; i < n && (index & 7u) != 0; ++i, ++index) {
    const int32_t b = TFQ_BIT(bits, index);
    s += (int32_t)x[i] & -b;
    c += b;
  }
#ifdef TFQ_SWAR
  {
    uint32_t lanes = 0, biased = 0;
    int32_t steps = 0, body_count = 0;
    for (; i + 8 <= n; i += 8, index += 8) {
      const uint32_t byte = bits[index >> 3];
      const uint32_t lo = load_biased(x + i) & kLaneMask[byte & 15u];
      const uint32_t hi = load_biased(x + i + 4) & kLaneMask[byte >> 4];
      lanes += (lo & 0x00FF00FFu) + ((lo >> 8) & 0x00FF00FFu) + (hi & 0x00FF00FFu) + ((hi >> 8) & 0x00FF00FFu);
      body_count += kNibbleBits[byte & 15u] + kNibbleBits[byte >> 4];
      if (++steps == 64) {
        biased += (lanes & 0xFFFFu) + (lanes >> 16);
        lanes = 0;
        steps = 0;
      }
    }
    biased += (lanes & 0xFFFFu) + (lanes >> 16);
    s += (int32_t)biased - 128 * body_count;
    c += body_count;
  }
#else
  for (; i + 8 <= n; i += 8, index += 8) {
    const uint32_t byte = bits[index >> 3];
    int32_t k;
    for (k = 0; k < 8; ++k) {
      const int32_t b = (int32_t)((byte >> k) & 1u);
      s += (int32_t)x[i + k] & -b;
      c += b;
    }
  }
#endif
  for (; i < n; ++i, ++index) {
    const int32_t b = TFQ_BIT(bits, index);
    s += (int32_t)x[i] & -b;
    c += b;
  }
  *sum += s;
  *count += c;
}

static int32_t sum_of(const int8_t* x, int32_t n) {
  int32_t s = 0, i;
  for (i = 0; i < n; ++i) s += x[i];
  return s;
}

/* y = clamp(MBQM(q·(2·Σ_{bit=1} x' − Σ x') + bias, M, shift) + zp_out).
 * The accumulator is computed modulo 2^32 (in uint32: C leaves signed overflow undefined), so a layer
 * whose q·Σ w·x' + bias leaves int32 (a large receptive field, or a bias near its int32 limit) wraps as
 * the int32 accumulator of TFLM's int8 loop does, instead of being undefined. */
static int8_t requantize(const tfq_layer* l, const tfq_channel* ch, int32_t bias, int32_t sum_pos, int32_t count_pos,
                         int32_t sum_all, int32_t count_all) {
  const int32_t positive = sum_pos - l->input_zero_point * count_pos;
  const int32_t all = sum_all - l->input_zero_point * count_all;
  const uint32_t acc = (uint32_t)TFQ_MAGNITUDE(ch) * (2u * (uint32_t)positive - (uint32_t)all) + (uint32_t)bias;
  int32_t y = tfq_multiply_by_quantized_multiplier((int32_t)acc, ch->multiplier, TFQ_SHIFT(ch)) + l->output_zero_point;
  if (y < l->act_min) y = l->act_min;
  if (y > l->act_max) y = l->act_max;
  return (int8_t)y;
}

/* The taps k in [0, kernel) whose input position start + k·dilation lies in [0, size): [*first, *last). */
static void valid_taps(int32_t start, int32_t dilation, int32_t kernel, int32_t size, int32_t* first, int32_t* last) {
  const int32_t lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  const int32_t hi = size - 1 - start >= 0 ? (size - 1 - start) / dilation + 1 : 0;
  *first = lo;
  *last = hi < kernel ? hi : kernel;
}

/* Per output pixel, the valid taps of a kernel row are consecutive; without horizontal dilation their
 * inputs (NHWC) and their sign bits ([out][kh][kw][in]) are both one contiguous run, summed in one go. */
static void conv_2d(const tfq_layer* l, const tfq_shape* in, const int8_t* x, const uint8_t* bits, const int32_t* bias,
                    const tfq_channel* ch, const tfq_shape* out, int8_t* y) {
  const int32_t pad_h = tfq_pad_before(l->padding, in->height, l->kernel_h, l->stride_h, l->dilation_h);
  const int32_t pad_w = tfq_pad_before(l->padding, in->width, l->kernel_w, l->stride_w, l->dilation_w);
  const int32_t depth = in->depth, taps = l->kernel_h * l->kernel_w;
  const int32_t run = l->dilation_w == 1;  /* one contiguous run per kernel row */
  int32_t b, oy, ox, oc, ky, kx;
  for (b = 0; b < out->batch; ++b) {
    for (oy = 0; oy < out->height; ++oy) {
      const int32_t y0 = oy * l->stride_h - pad_h;
      int32_t ky0, ky1;
      valid_taps(y0, l->dilation_h, l->kernel_h, in->height, &ky0, &ky1);
      for (ox = 0; ox < out->width; ++ox) {
        const int32_t x0 = ox * l->stride_w - pad_w;
        int32_t kx0, kx1, sum_all = 0, count_all;
        valid_taps(x0, l->dilation_w, l->kernel_w, in->width, &kx0, &kx1);
        count_all = (ky1 > ky0 && kx1 > kx0) ? (ky1 - ky0) * (kx1 - kx0) * depth : 0;
        for (ky = ky0; ky < ky1; ++ky) {
          const int8_t* row = x + (((size_t)b * in->height + y0 + ky * l->dilation_h) * in->width) * depth;
          for (kx = kx0; kx < kx1; ++kx) sum_all += sum_of(row + (size_t)(x0 + kx * l->dilation_w) * depth, depth);
        }
        for (oc = 0; oc < l->out_channels; ++oc) {
          int32_t sum_pos = 0, count_pos = 0;
          for (ky = ky0; ky < ky1; ++ky) {
            const int8_t* row = x + (((size_t)b * in->height + y0 + ky * l->dilation_h) * in->width) * depth;
            const uint32_t index = (uint32_t)(((size_t)oc * taps + ky * l->kernel_w) * depth);
            if (run) {
              if (kx1 > kx0)
                masked_sum(bits, index + (uint32_t)(kx0 * depth), row + (size_t)(x0 + kx0) * depth,
                           (kx1 - kx0) * depth, &sum_pos, &count_pos);
              continue;
            }
            for (kx = kx0; kx < kx1; ++kx)
              masked_sum(bits, index + (uint32_t)(kx * depth), row + (size_t)(x0 + kx * l->dilation_w) * depth, depth,
                         &sum_pos, &count_pos);
          }
          y[(((size_t)b * out->height + oy) * out->width + ox) * out->depth + oc] =
              requantize(l, &ch[oc], bias ? bias[oc] : 0, sum_pos, count_pos, sum_all, count_all);
        }
      }
    }
  }
}

#ifdef TFQ_SWAR
/* Depthwise, depth multiplier 1, channels a multiple of 4, at most 257 taps: 4 channels at a time.
 * The 4 channels' inputs of a tap are one word and their 4 sign bits one nibble; channels c, c+2 and
 * c+1, c+3 are summed in the two 16-bit lanes of two words (≤ 257·255 per lane: no overflow). */
static void depthwise_by_4(const tfq_layer* l, const tfq_shape* in, const int8_t* x, const uint8_t* bits,
                           const int32_t* bias, const tfq_channel* ch, const tfq_shape* out, int8_t* y, int32_t pad_h,
                           int32_t pad_w) {
  const int32_t channels = l->out_channels;
  int32_t b, oy, ox, oc, ky, kx, j;
  for (b = 0; b < out->batch; ++b) {
    for (oy = 0; oy < out->height; ++oy) {
      const int32_t y0 = oy * l->stride_h - pad_h;
      int32_t ky0, ky1;
      valid_taps(y0, l->dilation_h, l->kernel_h, in->height, &ky0, &ky1);
      for (ox = 0; ox < out->width; ++ox) {
        const int32_t x0 = ox * l->stride_w - pad_w;
        int32_t kx0, kx1, count_all;
        valid_taps(x0, l->dilation_w, l->kernel_w, in->width, &kx0, &kx1);
        count_all = (ky1 > ky0 && kx1 > kx0) ? (ky1 - ky0) * (kx1 - kx0) : 0;
        for (oc = 0; oc < channels; oc += 4) {
          uint32_t pos[2] = {0, 0}, all[2] = {0, 0}, cnt[2] = {0, 0};
          for (ky = ky0; ky < ky1; ++ky) {
            const int32_t iy = y0 + ky * l->dilation_h;
            for (kx = kx0; kx < kx1; ++kx) {
              const uint32_t index = (uint32_t)((ky * l->kernel_w + kx) * channels + oc);
              const uint32_t mask = kLaneMask[(bits[index >> 3] >> (index & 4u)) & 15u];
              const uint32_t u = load_biased(
                  x + (((size_t)b * in->height + iy) * in->width + x0 + kx * l->dilation_w) * channels + oc);
              const uint32_t m = u & mask, c = mask & 0x01010101u;
              pos[0] += m & 0x00FF00FFu;
              pos[1] += (m >> 8) & 0x00FF00FFu;
              all[0] += u & 0x00FF00FFu;
              all[1] += (u >> 8) & 0x00FF00FFu;
              cnt[0] += c & 0x00FF00FFu;
              cnt[1] += (c >> 8) & 0x00FF00FFu;
            }
          }
          for (j = 0; j < 4; ++j) {  /* channel oc + j: word j & 1, lane j >> 1 */
            const int32_t shift = 16 * (j >> 1);
            const int32_t n = (int32_t)((cnt[j & 1] >> shift) & 0xFFFFu);
            const int32_t sum_pos = (int32_t)((pos[j & 1] >> shift) & 0xFFFFu) - 128 * n;
            const int32_t sum_all = (int32_t)((all[j & 1] >> shift) & 0xFFFFu) - 128 * count_all;
            y[(((size_t)b * out->height + oy) * out->width + ox) * channels + oc + j] =
                requantize(l, &ch[oc + j], bias ? bias[oc + j] : 0, sum_pos, n, sum_all, count_all);
          }
        }
      }
    }
  }
}
#endif

static void depthwise_conv_2d(const tfq_layer* l, const tfq_shape* in, const int8_t* x, const uint8_t* bits,
                              const int32_t* bias, const tfq_channel* ch, const tfq_shape* out, int8_t* y) {
  const int32_t pad_h = tfq_pad_before(l->padding, in->height, l->kernel_h, l->stride_h, l->dilation_h);
  const int32_t pad_w = tfq_pad_before(l->padding, in->width, l->kernel_w, l->stride_w, l->dilation_w);
  int32_t b, oy, ox, oc, ky, kx;
#ifdef TFQ_SWAR
  if (l->depth_multiplier == 1 && l->out_channels % 4 == 0 && l->kernel_h * l->kernel_w <= 257) {
    depthwise_by_4(l, in, x, bits, bias, ch, out, y, pad_h, pad_w);
    return;
  }
#endif
  for (b = 0; b < out->batch; ++b) {
    for (oy = 0; oy < out->height; ++oy) {
      for (ox = 0; ox < out->width; ++ox) {
        const int32_t y0 = oy * l->stride_h - pad_h, x0 = ox * l->stride_w - pad_w;
        for (oc = 0; oc < l->out_channels; ++oc) {
          const int32_t ic = oc / l->depth_multiplier;
          int32_t sum_pos = 0, count_pos = 0, sum_all = 0, count_all = 0;
          for (ky = 0; ky < l->kernel_h; ++ky) {
            const int32_t iy = y0 + ky * l->dilation_h;
            if (iy < 0 || iy >= in->height) continue;
            for (kx = 0; kx < l->kernel_w; ++kx) {
              const int32_t ix = x0 + kx * l->dilation_w;
              const uint32_t index = (uint32_t)((ky * l->kernel_w + kx) * l->out_channels + oc);
              int32_t value, bit;
              if (ix < 0 || ix >= in->width) continue;
              value = x[(((size_t)b * in->height + iy) * in->width + ix) * in->depth + ic];
              bit = TFQ_BIT(bits, index);
              sum_all += value;
              count_all += 1;
              sum_pos += value & -bit;
              count_pos += bit;
            }
          }
          y[(((size_t)b * out->height + oy) * out->width + ox) * out->depth + oc] =
              requantize(l, &ch[oc], bias ? bias[oc] : 0, sum_pos, count_pos, sum_all, count_all);
        }
      }
    }
  }
}

static void fully_connected(const tfq_layer* l, const tfq_shape* in, const int8_t* x, const uint8_t* bits,
                            const int32_t* bias, const tfq_channel* ch, int8_t* y) {
  const int32_t depth = l->in_channels;
  int32_t b, oc;
  for (b = 0; b < in->batch; ++b) {
    const int8_t* row = x + (size_t)b * depth;
    const int32_t sum_all = sum_of(row, depth);
    for (oc = 0; oc < l->out_channels; ++oc) {
      int32_t sum_pos = 0, count_pos = 0;
      masked_sum(bits, (uint32_t)((size_t)oc * depth), row, depth, &sum_pos, &count_pos);
      y[(size_t)b * l->out_channels + oc] =
          requantize(l, &ch[oc], bias ? bias[oc] : 0, sum_pos, count_pos, sum_all, depth);
    }
  }
}

void tfq_run(const tfq_layer* layer, const tfq_shape* input, const int8_t* input_data, const uint8_t* bits,
             const int32_t* bias, const tfq_channel* channels, const tfq_shape* output, int8_t* output_data) {
  switch (layer->kind) {
    case TFQ_CONV_2D:
      conv_2d(layer, input, input_data, bits, bias, channels, output, output_data);
      break;
    case TFQ_DEPTHWISE_CONV_2D:
      depthwise_conv_2d(layer, input, input_data, bits, bias, channels, output, output_data);
      break;
    case TFQ_FULLY_CONNECTED:
      fully_connected(layer, input, input_data, bits, bias, channels, output_data);
      break;
    default:
      break;
  }
}

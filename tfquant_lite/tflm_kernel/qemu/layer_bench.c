/* Bare-metal harness for qemu-system-arm (semihosting): one layer computed by tfq_run from sign bits
 * (MODE 1), by a plain int8 loop over the unpacked int8 filter written like TFLM's reference kernels
 * (MODE 2), or neither (MODE 0: the set-up alone, subtracted as the baseline); MODE 3 runs both and
 * exits with a failure status when their outputs differ. LAYER: 0 conv 3x3 16->16 on 8x8 (SAME),
 * 1 depthwise 3x3 on 8x8x64, 2 fully connected 640->128. The instruction count comes from qemu
 * (benchmarks/tflm_binary_kernel_qemu.py). */
#include <stddef.h>
#include <stdint.h>

#include "../binary_core.h"

#ifndef MODE
#define MODE 3
#endif
#ifndef LAYER
#define LAYER 0
#endif

#if LAYER == 0
static const tfq_layer kLayer = {TFQ_CONV_2D, 16, 3, 3, 16, 1, 1, 1, 1, TFQ_PADDING_SAME, 1, -3, 5, -128, 127};
static const tfq_shape kIn = {1, 8, 8, 16}, kOut = {1, 8, 8, 16};
#elif LAYER == 1
static const tfq_layer kLayer = {TFQ_DEPTHWISE_CONV_2D, 64, 3, 3, 64, 1, 1, 1, 1, TFQ_PADDING_SAME, 1, -3, 5, -128, 127};
static const tfq_shape kIn = {1, 8, 8, 64}, kOut = {1, 8, 8, 64};
#else
static const tfq_layer kLayer = {TFQ_FULLY_CONNECTED, 128, 1, 1, 640, 1, 1, 1, 1, TFQ_PADDING_VALID, 1, -3, 5, -128, 127};
static const tfq_shape kIn = {1, 1, 1, 640}, kOut = {1, 1, 1, 128};
#endif

#define MAX_IN 4096
#define MAX_OUT 4096
#define MAX_W 81920
/* external linkage, so that every MODE builds without unused-definition warnings */
int8_t input[MAX_IN], out_binary[MAX_OUT], out_int8[MAX_OUT], weights[MAX_W];
static uint8_t bits[MAX_W / 8];
static int32_t bias[256];
static tfq_channel channels[256];

static uint32_t state; /* .bss only: the start-up copies no .data */
static uint32_t next(void) { state = state * 1664525u + 1013904223u; return state >> 8; }

/* -nostdlib: the two C library functions gcc may call. */
void* memset(void* dst, int value, size_t n) {
  volatile uint8_t* d = (volatile uint8_t*)dst; /* volatile: not turned back into a memset call */
  while (n--) *d++ = (uint8_t)value;
  return dst;
}

void* memcpy(void* dst, const void* src, size_t n) {
  uint8_t* d = (uint8_t*)dst;
  const uint8_t* s = (const uint8_t*)src;
  while (n--) *d++ = *s++;
  return dst;
}

/* The int8 loop: acc = Σ w·(x − zp) over the receptive field, then the same requantization. */
static int8_t requantize(int32_t acc, int32_t c) {
  int32_t y = tfq_multiply_by_quantized_multiplier(acc + bias[c], channels[c].multiplier, TFQ_SHIFT(&channels[c]));
  y += kLayer.output_zero_point;
  return (int8_t)(y < kLayer.act_min ? kLayer.act_min : y > kLayer.act_max ? kLayer.act_max : y);
}

void int8_layer(void);
void int8_layer(void) {
  const tfq_layer* l = &kLayer;
  int32_t oy, ox, oc, ky, kx, ic;
  if (l->kind == TFQ_FULLY_CONNECTED) {
    for (oc = 0; oc < l->out_channels; ++oc) {
      int32_t acc = 0;
      for (ic = 0; ic < l->in_channels; ++ic) acc += weights[oc * l->in_channels + ic] * (input[ic] - l->input_zero_point);
      out_int8[oc] = requantize(acc, oc);
    }
    return;
  }
  for (oy = 0; oy < kOut.height; ++oy)
    for (ox = 0; ox < kOut.width; ++ox)
      for (oc = 0; oc < l->out_channels; ++oc) {
        int32_t acc = 0;
        for (ky = 0; ky < 3; ++ky)
          for (kx = 0; kx < 3; ++kx) {
            const int32_t iy = oy + ky - 1, ix = ox + kx - 1;
            if (iy < 0 || iy >= kIn.height || ix < 0 || ix >= kIn.width) continue;
            if (l->kind == TFQ_DEPTHWISE_CONV_2D) {
              acc += weights[(ky * 3 + kx) * l->out_channels + oc] *
                     (input[(iy * kIn.width + ix) * kIn.depth + oc] - l->input_zero_point);
            } else {
              for (ic = 0; ic < kIn.depth; ++ic)
                acc += weights[((oc * 3 + ky) * 3 + kx) * kIn.depth + ic] *
                       (input[(iy * kIn.width + ix) * kIn.depth + ic] - l->input_zero_point);
            }
          }
        out_int8[(oy * kOut.width + ox) * l->out_channels + oc] = requantize(acc, oc);
      }
}

static void semihosting_exit(uint32_t reason) {
  register uint32_t r0 __asm__("r0") = 0x18; /* SYS_EXIT */
  register uint32_t r1 __asm__("r1") = reason;
  __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
  for (;;) {
  }
}

int main(void) {
  const int32_t n_in = kIn.batch * kIn.height * kIn.width * kIn.depth;
  const int32_t n_out = kOut.batch * kOut.height * kOut.width * kOut.depth;
  const int32_t n_w = tfq_packed_bytes(&kLayer) * 8;
  int32_t i;
  state = 12345u;
  for (i = 0; i < n_in; ++i) input[i] = (int8_t)(next() & 0xFF);
  for (i = 0; i < kLayer.out_channels; ++i) {
    bias[i] = (int32_t)(next() % 2001) - 1000;
    channels[i].multiplier = (int32_t)(1u << 30) + (int32_t)(next() % (1u << 29));
    channels[i].magnitude_shift = 127 | ((-9 & 0xFF) << 8); /* q_c = 127, shift_c = -9 */
  }
  for (i = 0; i < n_w; ++i) {
    const int32_t positive = (int32_t)(next() & 1u);
    bits[i >> 3] |= (uint8_t)(positive << (i & 7));
    weights[i] = (int8_t)(positive ? 127 : -127);
  }
#if MODE == 1 || MODE == 3
  tfq_run(&kLayer, &kIn, input, bits, bias, channels, &kOut, out_binary);
#endif
#if MODE == 2 || MODE == 3
  int8_layer();
#endif
#if MODE == 3
  for (i = 0; i < n_out; ++i)
    if (out_binary[i] != out_int8[i]) semihosting_exit(0x20024); /* a run-time error: qemu exits 1 */
#endif
  (void)n_out;
  semihosting_exit(0x20026); /* ADP_Stopped_ApplicationExit: qemu exits 0 */
  return 0;
}

/* Start-up: the vector table (initial stack, reset) and a reset handler that zeroes .bss. */
extern uint32_t __bss_start, __bss_end, __stack_top;
void reset_handler(void) {
  uint32_t* p;
  for (p = &__bss_start; p < &__bss_end; ++p) *p = 0;
  main();
  for (;;) {
  }
}
__attribute__((section(".vectors"), used)) static const void* const kVectors[2] = {&__stack_top, (const void*)reset_handler};

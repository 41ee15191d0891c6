// TFQUANT_BINARY: one TensorFlow Lite Micro custom op for int8 CONV_2D, DEPTHWISE_CONV_2D and
// FULLY_CONNECTED layers whose filters are stored as 1-bit signs (binary_core.h has the maths).
//
// Graph contract (written by tfquant's `packed-tflm` export format, docs/EXPORT.md):
//   inputs   0 int8 activations (NHWC; FULLY_CONNECTED: [..., in_channels])
//            1 uint8 sign bits of the int8 filter in TFLite's order, bit k of byte i = weight 8i+k > 0
//            2 int32 bias [out_channels]
//            3 int32 [out_channels][2]: TFLM's multiplier M_c, then q_c (the int8 weights' magnitude,
//              bits 0-7) | shift_c << 8 (TFLM's shift as int8, bits 8-15)
//   output   0 int8
//   custom options: 16 little-endian int32: the magic kOptionsMagic, then tfq_layer's 15 fields in order.
// No dynamic allocation (one persistent OpData per node, from the arena), no scratch buffer, no
// exceptions, no floating point.
//
// Firmware:  resolver.AddCustom(tfquant::kBinaryOpName, tfquant::Register_TFQUANT_BINARY());
// (the header tfquant writes next to a model, `<c-name>_register_ops()`, does this for you).
#ifndef TFQUANT_BINARY_OPS_H_
#define TFQUANT_BINARY_OPS_H_

#include "tflm_abi.h"

namespace tfquant {

constexpr const char* kBinaryOpName = "TFQUANT_BINARY";
constexpr int32_t kOptionsMagic = 0x31425154;  // the bytes "TQB1"
constexpr int kOptionsWords = 16;

const tfquant_abi::TFLMRegistration* Register_TFQUANT_BINARY();

}  // namespace tfquant

// Host only (the `tflite-micro` Python wheel): registerers its Interpreter looks up by name with
// dlsym (`custom_op_registerers=["tfquant_binary_ops_registerer"]`), given its PythonOpsResolver.
// They return false, registering nothing, when the resolver's layout is not the one tflm_abi.h declares.
#if !defined(TFQUANT_WITH_TFLM_HEADERS)
extern "C" bool tfquant_binary_ops_registerer(void* python_ops_resolver);
// TFQUANT_ABI_PROBE: checks the tensors of a known test graph through tflm_abi.h's structs.
extern "C" bool tfquant_abi_probe_registerer(void* python_ops_resolver);
#endif

#endif  // TFQUANT_BINARY_OPS_H_

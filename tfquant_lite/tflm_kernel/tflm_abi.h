// The few TensorFlow Lite Micro types the TFQUANT_BINARY op touches, declared here in our own words.
//
// With TFLM's sources (a firmware build: define TFQUANT_WITH_TFLM_HEADERS) the real headers are used
// and only thin accessors are defined. Without them (the host build that runs inside the
// `tflite-micro` Python wheel, which ships no headers) these declarations stand in for
//   tensorflow/lite/core/c/common.h   TfLiteIntArray, TfLiteEvalTensor, TfLiteNode
//                                     as compiled with TF_LITE_STATIC_MEMORY (TFLM's variants)
//   tensorflow/lite/micro/micro_common.h  TFLMRegistration
//   python/tflite_micro/python_ops_resolver.h  PythonOpsResolver = MicroMutableOpResolver<200>
// (read from github.com/tensorflow/tflite-micro at 90b983c, Aug 2026; the wheel tested is
// 0.dev20261023182759). Only the fields up to the last one we read are declared; the struct layouts
// must match the wheel's exactly, which the probe op (tfquant_binary_ops.cc) and
// tests/tflite/test_tflm_binary_kernel.py check against known tensors, and the registerer checks
// the resolver's layout through its own virtual FindOp before and after writing into it.
#ifndef TFQUANT_TFLM_ABI_H_
#define TFQUANT_TFLM_ABI_H_

#include <stddef.h>
#include <stdint.h>

#if defined(TFQUANT_WITH_TFLM_HEADERS)
#include "tensorflow/lite/c/common.h"
#include "tensorflow/lite/micro/micro_common.h"

namespace tfquant_abi {
using ::TfLiteContext;
using ::TfLiteEvalTensor;
using ::TfLiteIntArray;
using ::TfLiteNode;
using ::TfLiteStatus;
using ::TFLMRegistration;
// TFLM at 90b983c: the interpreter's services are function pointers in TfLiteContext.
inline void* PersistentBuffer(TfLiteContext* c, size_t bytes) { return c->AllocatePersistentBuffer(c, bytes); }
inline TfLiteStatus RequestScratch(TfLiteContext* c, size_t bytes, int* index) {
  return c->RequestScratchBufferInArena(c, bytes, index);
}
inline void* Scratch(TfLiteContext* c, int index) { return c->GetScratchBuffer(c, index); }
inline TfLiteEvalTensor* EvalTensor(const TfLiteContext* c, int index) { return c->GetEvalTensor(c, index); }
#define TFQUANT_REPORT(context, ...) (context)->ReportError((context), __VA_ARGS__)
}  // namespace tfquant_abi

#else  // the tflite-micro wheel

// In the wheel (0.dev20261023182759) TfLiteContext is no longer the C struct of common.h: it is
// tflite::micro::TfLiteContext, whose first field is the MicroContext, and kernels reach the
// interpreter through these exported functions (the wheel's own kernels call them; `nm -D` lists
// them). Declared here with the wheel's C++ names, they resolve against its _runtime.so once that is
// loaded with RTLD_GLOBAL (tfquant/tflite/tflm_ops.py does so); a renamed one fails the dlopen.
namespace tflite {
namespace micro {
struct TfLiteContext;
struct TfLiteEvalTensor;
void* MicroContextAllocatePersistentBuffer(TfLiteContext* context, size_t bytes);
int MicroContextRequestScratchBufferInArena(TfLiteContext* context, size_t bytes, int* buffer_index);
void* MicroContextGetScratchBuffer(TfLiteContext* context, int buffer_index);
TfLiteEvalTensor* MicroContextGetEvalTensor(const TfLiteContext* context, int tensor_index);
void MicroContextReportOpError(TfLiteContext* context, const char* format, ...);
}  // namespace micro
}  // namespace tflite

namespace tfquant_abi {

using TfLiteContext = tflite::micro::TfLiteContext;

typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;

// Element types (tensorflow/lite/core/c/tflite_types.h numbering).
typedef enum TfLiteType {
  kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt64 = 4, kTfLiteInt8 = 9
} TfLiteType;

// A length-prefixed int array: shapes and the node's tensor indices.
struct TfLiteIntArray {
  int size;
  int data[1];  // `size` entries in fact (a flexible array member in C)
};

// TFLM's light tensor, valid in Prepare (shape, type; data of constants) and in Invoke.
struct TfLiteEvalTensor {
  union {
    int32_t* i32;
    uint8_t* uint8;
    int8_t* int8;
    void* raw;
  } data;
  TfLiteIntArray* dims;
  TfLiteType type;
};

// One operator of the graph (common.h's TF_LITE_STATIC_MEMORY variant; the wheel's InitSubgraphs
// reads user_data at +24 and the custom options at +40 / +48, as here).
struct TfLiteNode {
  TfLiteIntArray* inputs;
  TfLiteIntArray* outputs;
  TfLiteIntArray* intermediates;
  void* user_data;                  // what our init returned
  void* builtin_data;
  const void* custom_initial_data;  // the operator's custom options, as stored in the flatbuffer
  int custom_initial_data_size;
};

// What a TFLM kernel implements (micro_common.h).
struct TFLMRegistration {
  void* (*init)(TfLiteContext* context, const char* buffer, size_t length);
  void (*free)(TfLiteContext* context, void* buffer);
  TfLiteStatus (*prepare)(TfLiteContext* context, TfLiteNode* node);
  TfLiteStatus (*invoke)(TfLiteContext* context, TfLiteNode* node);
  void (*reset)(TfLiteContext* context, void* buffer);
  int32_t builtin_code;
  const char* custom_name;
};

inline void* PersistentBuffer(TfLiteContext* c, size_t bytes) {
  return tflite::micro::MicroContextAllocatePersistentBuffer(c, bytes);
}
inline TfLiteStatus RequestScratch(TfLiteContext* c, size_t bytes, int* index) {
  return static_cast<TfLiteStatus>(tflite::micro::MicroContextRequestScratchBufferInArena(c, bytes, index));
}
inline void* Scratch(TfLiteContext* c, int index) { return tflite::micro::MicroContextGetScratchBuffer(c, index); }
inline TfLiteEvalTensor* EvalTensor(const TfLiteContext* c, int index) {
  return reinterpret_cast<TfLiteEvalTensor*>(tflite::micro::MicroContextGetEvalTensor(c, index));
}
#define TFQUANT_REPORT(context, ...) tflite::micro::MicroContextReportOpError((context), __VA_ARGS__)

constexpr int32_t kBuiltinCustom = 32;        // BuiltinOperator_CUSTOM in the schema
constexpr unsigned kPythonResolverOps = 200;  // PythonOpsResolver is a MicroMutableOpResolver<200>

// MicroMutableOpResolver<N> in memory (Itanium C++ ABI): the vtable pointer of its MicroOpResolver
// base, then `TFLMRegistration registrations_[N]` and `unsigned int registrations_len_`, what its
// inline AddCustom writes (the wheel exports no AddCustom to call; its FindOp(const char*) reads
// registrations_len_ at +11208 = 8 + 200·56 and custom_name at +48 of each entry, as declared here).
template <unsigned N>
struct MutableResolverLayout {
  const void* const* vtable;
  TFLMRegistration registrations[N];
  unsigned int registrations_len;
};

// MicroOpResolver's virtual functions in declaration order: FindOp(BuiltinOperator),
// FindOp(const char*), GetOpDataParser, then the destructors. A member function is called with
// `this` as its first argument.
typedef const TFLMRegistration* (*FindBuiltinFn)(const void* self, int32_t builtin_code);
typedef const TFLMRegistration* (*FindCustomFn)(const void* self, const char* name);
constexpr int kFindBuiltinSlot = 0;
constexpr int kFindCustomSlot = 1;

}  // namespace tfquant_abi

#endif  // TFQUANT_WITH_TFLM_HEADERS

#endif  // TFQUANT_TFLM_ABI_H_

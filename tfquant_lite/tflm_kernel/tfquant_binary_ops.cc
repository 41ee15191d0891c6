// The TFLM op around binary_core.c (contract in tfquant_binary_ops.h), the probe op that checks
// tflm_abi.h against a running interpreter, and the host registerers.
#include "tfquant_binary_ops.h"

#include <string.h>

#include "binary_core.h"

namespace tfquant {
namespace {

using namespace tfquant_abi;

struct OpData {
  tfq_layer layer;
};

TfLiteEvalTensor* Tensor(TfLiteContext* context, const TfLiteIntArray* indices, int i) {
  if (indices == nullptr || i >= indices->size || indices->data[i] < 0) return nullptr;
  return EvalTensor(context, indices->data[i]);
}

int64_t Elements(const TfLiteEvalTensor* tensor) {
  int64_t n = 1;
  for (int i = 0; i < tensor->dims->size; ++i) n *= tensor->dims->data[i];
  return n;
}

// The custom options: kOptionsMagic, then tfq_layer's fields in declaration order.
void* Init(TfLiteContext* context, const char* buffer, size_t length) {
  int32_t words[kOptionsWords];
  if (buffer == nullptr || length != sizeof(words)) return nullptr;
  memcpy(words, buffer, sizeof(words));  // the flatbuffer gives no alignment guarantee
  if (words[0] != kOptionsMagic) return nullptr;
  OpData* data = static_cast<OpData*>(PersistentBuffer(context, sizeof(OpData)));
  if (data == nullptr) return nullptr;
  static_assert(sizeof(tfq_layer) == sizeof(int32_t) * (kOptionsWords - 1), "options are tfq_layer's fields");
  memcpy(&data->layer, &words[1], sizeof(tfq_layer));
  return data;
}

// The activation shape as the core sees it: NHWC, or [batch, 1, 1, depth] for FULLY_CONNECTED.
bool Shape(const tfq_layer& layer, const TfLiteEvalTensor* tensor, int32_t depth, tfq_shape* shape) {
  const TfLiteIntArray* dims = tensor->dims;
  if (layer.kind == TFQ_FULLY_CONNECTED) {
    const int64_t n = Elements(tensor);
    if (depth <= 0 || n % depth != 0) return false;
    *shape = {static_cast<int32_t>(n / depth), 1, 1, depth};
    return true;
  }
  if (dims->size != 4) return false;
  *shape = {dims->data[0], dims->data[1], dims->data[2], dims->data[3]};
  return true;
}

TfLiteStatus Prepare(TfLiteContext* context, TfLiteNode* node) {
  const OpData* data = static_cast<const OpData*>(node->user_data);
  if (data == nullptr) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: custom options are not %d int32 starting with 'TQB1'",
                         kOptionsWords);
    return kTfLiteError;
  }
  const tfq_layer& layer = data->layer;
  if (node->inputs->size != 4 || node->outputs->size != 1) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: expects 4 inputs and 1 output");
    return kTfLiteError;
  }
  const TfLiteEvalTensor* input = Tensor(context, node->inputs, 0);
  const TfLiteEvalTensor* bits = Tensor(context, node->inputs, 1);
  const TfLiteEvalTensor* bias = Tensor(context, node->inputs, 2);
  const TfLiteEvalTensor* channels = Tensor(context, node->inputs, 3);
  const TfLiteEvalTensor* output = Tensor(context, node->outputs, 0);
  if (input == nullptr || bits == nullptr || bias == nullptr || channels == nullptr || output == nullptr ||
      input->type != kTfLiteInt8 || bits->type != kTfLiteUInt8 || bias->type != kTfLiteInt32 ||
      channels->type != kTfLiteInt32 || output->type != kTfLiteInt8) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: tensor types must be int8, uint8, int32, int32 -> int8");
    return kTfLiteError;
  }
  tfq_shape in_shape, out_shape;
  if (!Shape(layer, input, layer.in_channels, &in_shape) || !Shape(layer, output, layer.out_channels, &out_shape)) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: activation shapes do not fit the layer");
    return kTfLiteError;
  }
  const int32_t code = tfq_check(&layer, &in_shape, &out_shape);
  if (code != 0) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: %s", tfq_error_text(code));
    return kTfLiteError;
  }
  if (Elements(bits) < tfq_packed_bytes(&layer) || Elements(bias) != layer.out_channels ||
      Elements(channels) != 2 * static_cast<int64_t>(layer.out_channels)) {
    TFQUANT_REPORT(context, "TFQUANT_BINARY: bits, bias or channel parameters have the wrong size");
    return kTfLiteError;
  }
  const tfq_channel* params = reinterpret_cast<const tfq_channel*>(channels->data.i32);
  for (int32_t c = 0; params != nullptr && c < layer.out_channels; ++c) {  // constants are readable here
    if (params[c].multiplier < 0 || TFQ_SHIFT(&params[c]) < -31 || TFQ_SHIFT(&params[c]) > 30 ||
        (params[c].magnitude_shift >> 16) != 0 || TFQ_MAGNITUDE(&params[c]) > 127) {
      TFQUANT_REPORT(context, "TFQUANT_BINARY: channel %d has multiplier, shift or magnitude out of range", c);
      return kTfLiteError;
    }
  }
  return kTfLiteOk;
}

TfLiteStatus Invoke(TfLiteContext* context, TfLiteNode* node) {
  const tfq_layer& layer = static_cast<const OpData*>(node->user_data)->layer;
  const TfLiteEvalTensor* input = Tensor(context, node->inputs, 0);
  const TfLiteEvalTensor* output = Tensor(context, node->outputs, 0);
  tfq_shape in_shape, out_shape;
  Shape(layer, input, layer.in_channels, &in_shape);  // checked in Prepare
  Shape(layer, output, layer.out_channels, &out_shape);
  tfq_run(&layer, &in_shape, input->data.int8, Tensor(context, node->inputs, 1)->data.uint8,
          Tensor(context, node->inputs, 2)->data.i32,
          reinterpret_cast<const tfq_channel*>(Tensor(context, node->inputs, 3)->data.i32), &out_shape,
          output->data.int8);
  return kTfLiteOk;
}

// ------------------------------------------------------------------------------- the ABI probe
// Its test graph (tests/tflite/test_tflm_binary_kernel.py): input 0 an int32 [2, 3] graph input,
// input 1 the int32 [2, 3] constant kProbeValues, custom options "PRB1"; output int32 [2, 3] =
// input 0 + input 1, computed in a scratch buffer requested in Prepare. Prepare fails, naming the
// field, when anything it reads through tflm_abi.h differs from these known values.
const int32_t kProbeValues[6] = {7, -1, 1 << 20, 3, 0, 42};
constexpr int kProbeDims[2] = {2, 3};

struct ProbeData {
  int scratch_index;
};

bool HasDims(const TfLiteEvalTensor* tensor) {
  return tensor->dims != nullptr && tensor->dims->size == 2 && tensor->dims->data[0] == kProbeDims[0] &&
         tensor->dims->data[1] == kProbeDims[1];
}

void* ProbeInit(TfLiteContext* context, const char*, size_t) {
  return PersistentBuffer(context, sizeof(ProbeData));
}

TfLiteStatus ProbeFail(TfLiteContext* context, const char* what) {
  TFQUANT_REPORT(context, "TFQUANT_ABI_PROBE: %s differs from tflm_abi.h's layout", what);
  return kTfLiteError;
}

TfLiteStatus ProbePrepare(TfLiteContext* context, TfLiteNode* node) {
  ProbeData* data = static_cast<ProbeData*>(node->user_data);
  if (data == nullptr) return ProbeFail(context, "AllocatePersistentBuffer");
  if (node->inputs == nullptr || node->inputs->size != 2 || node->outputs == nullptr || node->outputs->size != 1)
    return ProbeFail(context, "TfLiteNode.inputs/outputs");
  if (node->custom_initial_data_size != 4 || memcmp(node->custom_initial_data, "PRB1", 4) != 0)
    return ProbeFail(context, "TfLiteNode.custom_initial_data");
  const TfLiteEvalTensor* input = Tensor(context, node->inputs, 0);
  const TfLiteEvalTensor* constant = Tensor(context, node->inputs, 1);
  const TfLiteEvalTensor* output = Tensor(context, node->outputs, 0);
  if (input == nullptr || constant == nullptr || output == nullptr) return ProbeFail(context, "GetEvalTensor");
  if (input->type != kTfLiteInt32 || constant->type != kTfLiteInt32 || output->type != kTfLiteInt32)
    return ProbeFail(context, "TfLiteEvalTensor.type");
  if (!HasDims(input) || !HasDims(constant) || !HasDims(output)) return ProbeFail(context, "TfLiteEvalTensor.dims");
  if (constant->data.i32 == nullptr || memcmp(constant->data.i32, kProbeValues, sizeof(kProbeValues)) != 0)
    return ProbeFail(context, "TfLiteEvalTensor.data");
  if (RequestScratch(context, sizeof(kProbeValues), &data->scratch_index) != kTfLiteOk)
    return ProbeFail(context, "RequestScratchBufferInArena");
  return kTfLiteOk;
}

TfLiteStatus ProbeInvoke(TfLiteContext* context, TfLiteNode* node) {
  const ProbeData* data = static_cast<const ProbeData*>(node->user_data);
  int32_t* scratch = static_cast<int32_t*>(Scratch(context, data->scratch_index));
  if (scratch == nullptr) return ProbeFail(context, "GetScratchBuffer");
  const int32_t* a = Tensor(context, node->inputs, 0)->data.i32;
  const int32_t* b = Tensor(context, node->inputs, 1)->data.i32;
  for (int i = 0; i < 6; ++i) scratch[i] = a[i] + b[i];
  memcpy(Tensor(context, node->outputs, 0)->data.i32, scratch, sizeof(kProbeValues));
  return kTfLiteOk;
}

const TFLMRegistration kBinary = {Init, nullptr, Prepare, Invoke, nullptr, 0, nullptr};
const TFLMRegistration kProbe = {ProbeInit, nullptr, ProbePrepare, ProbeInvoke, nullptr, 0, nullptr};

#if !defined(TFQUANT_WITH_TFLM_HEADERS)
// Writes `registration` into a MicroMutableOpResolver<N> as its inline AddCustom would, after
// checking the layout: the resolver's own virtual FindOp must find its first and last registrations
// where tflm_abi.h says they lie, and then find ours where we wrote it.
template <unsigned N>
bool AddCustomInto(void* resolver, const char* name, const TFLMRegistration& registration) {
  auto* layout = static_cast<MutableResolverLayout<N>*>(resolver);
  const auto find_builtin = reinterpret_cast<FindBuiltinFn>(layout->vtable[kFindBuiltinSlot]);
  const auto find_custom = reinterpret_cast<FindCustomFn>(layout->vtable[kFindCustomSlot]);
  const unsigned used = layout->registrations_len;
  if (used == 0 || used >= N) return false;
  const unsigned ends[2] = {0u, used - 1};
  for (unsigned i : ends) {
    const TFLMRegistration& r = layout->registrations[i];
    const TFLMRegistration* found =
        r.builtin_code == kBuiltinCustom ? find_custom(resolver, r.custom_name) : find_builtin(resolver, r.builtin_code);
    if (found != &r) return false;
  }
  if (find_custom(resolver, name) != nullptr) return false;  // registered already
  TFLMRegistration& slot = layout->registrations[used];
  slot = registration;
  slot.builtin_code = kBuiltinCustom;
  slot.custom_name = name;
  layout->registrations_len = used + 1;
  if (find_custom(resolver, name) == &slot) return true;
  layout->registrations_len = used;
  return false;
}
#endif

}  // namespace

const tfquant_abi::TFLMRegistration* Register_TFQUANT_BINARY() { return &kBinary; }

}  // namespace tfquant

#if !defined(TFQUANT_WITH_TFLM_HEADERS)
extern "C" bool tfquant_binary_ops_registerer(void* python_ops_resolver) {
  return tfquant::AddCustomInto<tfquant_abi::kPythonResolverOps>(python_ops_resolver, tfquant::kBinaryOpName,
                                                                 tfquant::kBinary);
}

extern "C" bool tfquant_abi_probe_registerer(void* python_ops_resolver) {
  return tfquant::AddCustomInto<tfquant_abi::kPythonResolverOps>(python_ops_resolver, "TFQUANT_ABI_PROBE",
                                                                 tfquant::kProbe);
}
#endif

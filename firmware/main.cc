// A TensorFlow Lite Micro application around a model exported by tfquant:
//
//   python export/to_tflite.py model.keras -o model.tflite --format packed-int8
//       --calibration inputs.npy --tflm-arena --c-array firmware/model.cc --c-name g_model
//   (one command line)
//
// writes firmware/model.cc (the model array) and firmware/model.h (its arena size and a function that
// registers exactly the operators it uses). Build this file and model.cc with TFLite Micro's sources
// (https://github.com/tensorflow/tflite-micro, e.g. its Makefile's `microlite` library) for your board.
#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "model.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"

namespace {
// 4 KiB on top of the host's minimum: optimized kernels (CMSIS-NN) may ask for scratch buffers.
constexpr size_t kArenaSize = g_model_arena_size + 4096;
alignas(16) uint8_t arena[kArenaSize];
}  // namespace

int main() {
  const tflite::Model* model = tflite::GetModel(g_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    std::printf("model schema %u, TFLM expects %d\n", static_cast<unsigned>(model->version()), TFLITE_SCHEMA_VERSION);
    return 1;
  }
  static g_model_op_resolver resolver;
  if (g_model_register_ops(resolver) != kTfLiteOk) return 1;
  static tflite::MicroInterpreter interpreter(model, resolver, arena, kArenaSize);
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    std::printf("arena of %u bytes is too small\n", static_cast<unsigned>(kArenaSize));
    return 1;
  }
  TfLiteTensor* input = interpreter.input(0);  // float32: the model quantizes inside
  for (size_t i = 0; i < input->bytes / sizeof(float); ++i) input->data.f[i] = 0.0f;  // your sensor data here
  if (interpreter.Invoke() != kTfLiteOk) return 1;
  TfLiteTensor* output = interpreter.output(0);
  size_t best = 0;
  for (size_t i = 1; i < output->bytes / sizeof(float); ++i)
    if (output->data.f[i] > output->data.f[best]) best = i;
  std::printf("class %u, arena used %u of %u bytes\n", static_cast<unsigned>(best),
              static_cast<unsigned>(interpreter.arena_used_bytes()), static_cast<unsigned>(kArenaSize));
  return 0;
}

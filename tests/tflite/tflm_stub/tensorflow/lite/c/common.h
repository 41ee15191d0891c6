#ifndef TFLM_STUB_COMMON_H_
#define TFLM_STUB_COMMON_H_
#include <cstddef>
#include <cstdint>
typedef enum TfLiteStatus { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef union TfLitePtrUnion { int32_t* i32; float* f; int8_t* int8; uint8_t* uint8; void* data; } TfLitePtrUnion;
typedef struct TfLiteTensor { int type; TfLitePtrUnion data; void* dims; size_t bytes; } TfLiteTensor;
#endif

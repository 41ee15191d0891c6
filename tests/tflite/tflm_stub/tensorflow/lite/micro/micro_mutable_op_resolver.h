#ifndef TFLM_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#define TFLM_STUB_MICRO_MUTABLE_OP_RESOLVER_H_
#include "tensorflow/lite/c/common.h"
namespace tflite {
class MicroOpResolver { public: virtual ~MicroOpResolver() = default; };
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {
 public:
  static_assert(tOpCount > 0, "a resolver for no operators");
  TfLiteStatus AddAbs(); TfLiteStatus AddAdd(); TfLiteStatus AddAveragePool2D(); TfLiteStatus AddBatchToSpaceNd();
  TfLiteStatus AddCast(); TfLiteStatus AddConcatenation(); TfLiteStatus AddConv2D(); TfLiteStatus AddDepthwiseConv2D();
  TfLiteStatus AddDequantize(); TfLiteStatus AddExpandDims(); TfLiteStatus AddFullyConnected(); TfLiteStatus AddGather();
  TfLiteStatus AddHardSwish(); TfLiteStatus AddL2Normalization(); TfLiteStatus AddLeakyRelu(); TfLiteStatus AddLogistic();
  TfLiteStatus AddLogSoftmax(); TfLiteStatus AddMaxPool2D(); TfLiteStatus AddMaximum(); TfLiteStatus AddMean();
  TfLiteStatus AddMinimum(); TfLiteStatus AddMul(); TfLiteStatus AddPack(); TfLiteStatus AddPad(); TfLiteStatus AddPadV2();
  TfLiteStatus AddQuantize(); TfLiteStatus AddReduceMax(); TfLiteStatus AddRelu(); TfLiteStatus AddRelu6();
  TfLiteStatus AddReshape(); TfLiteStatus AddResizeNearestNeighbor(); TfLiteStatus AddShape(); TfLiteStatus AddSlice();
  TfLiteStatus AddSoftmax(); TfLiteStatus AddSpaceToBatchNd(); TfLiteStatus AddSplit(); TfLiteStatus AddSqueeze();
  TfLiteStatus AddStridedSlice(); TfLiteStatus AddSub(); TfLiteStatus AddSum(); TfLiteStatus AddTanh();
  TfLiteStatus AddTranspose(); TfLiteStatus AddTransposeConv(); TfLiteStatus AddUnpack();
};
}  // namespace tflite
#endif

"""Refuse files that interpreters run wrongly instead of failing: checked on every written model.

- INT2 tensors: CONV_2D rejects INT2 filters, and the converter's 2-bit path wrote INT4 with zero
  point -6, which TFLite Micro ran and answered with garbage.
- INT4 filters read with float activations: NaNs or a segfault on tflite-runtime 2.14.
"""
from tfquant_lite import flatbuffer as fb

from .errors import ExportError
from .filters import OPS

TT = fb.schema.TensorType


def check(model_bytes):
    """Raise ExportError when `model_bytes` contains a known-hazardous tensor or op."""
    model = fb.read(model_bytes)
    for sub in model.subgraphs:
        for tensor in sub.tensors:
            if tensor.type == getattr(TT, "INT2", -1):
                raise ExportError(f"tensor {fb.tensor_name(tensor)!r} is INT2: interpreters reject or "
                                  "misrun 2-bit filters; export ternary/2-bit kernels with format 'int4'")
        for op in sub.operators:
            op_name = fb.op_name(model, op)
            layout = OPS.get(op_name)
            if layout is None or len(op.inputs) <= max(layout.filter_input, layout.data_input):
                continue
            data = sub.tensors[op.inputs[layout.data_input]]
            weights = sub.tensors[op.inputs[layout.filter_input]]
            if weights.type == TT.INT4 and data.type == TT.FLOAT32:
                raise ExportError(f"{op_name} reads INT4 filter {fb.tensor_name(weights)!r} with float "
                                  "activations (NaN or crash on tflite-runtime); use full-integer 'int4'")

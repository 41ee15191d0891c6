"""Export Keras models with binary or low-bit conv kernels to verified TFLite files.

    import tfquant.tflite
    report = tfquant.tflite.export(model, "model.tflite", format="packed")
    print(tfquant.tflite.report_text(report))

Formats:
- "float32": the converter's float model;
- "int8": full-integer int8 (weights and activations; float input/output), needs `calibration`;
- "int4": "int8" with conv/depthwise filters on a grid of at most 15 levels per channel (binary,
  ternary, up to 4-bit) stored as INT4; never INT4 with float activations, never INT2;
- "packed": float activations, binary (±s per channel) filters at 1 bit per weight, builtin ops only;
- "packed-int8": "int8" with binary filters at 1 bit per weight; runs on TensorFlow Lite Micro.
Filters that cannot take the compact form stay in the base format (float32 or int8) and the report
says why; `strict=True` makes a conv filter left that way an error. Every file is verified on
LiteRT against the Keras model before it is written (`verify.py` gives the limits).

`expand(model_bytes)` folds a packed file's unpacking back into constant filters when it is loaded
(`fold.py`): the file stays 1-bit on disk, the in-memory model runs on XNNPACK like `float32`/`int8`.
"""
import pathlib

import numpy as np

from . import binary_kernels, c_array, convert, hazards, int4, interpreters, pack, report, verify
from .errors import ExportError, VerificationError
from .filters import CONV_OPS, filters
from .flatbuffer import read
from .fold import expand

FORMATS = ("float32", "int8", "int4", "packed", "packed-int8")
INT8_FORMATS = ("int8", "int4", "packed-int8")
VERIFY_SAMPLES = 64
report_text = report.to_text

__all__ = ["export", "expand", "FORMATS", "ExportError", "VerificationError", "report_text", "interpreters"]


def _check_request(model, fmt):
    if fmt in ("int2", "ternary", "2-bit"):
        raise ExportError(f"format {fmt!r} is refused: CONV_2D rejects INT2 filters and the 2-bit path gave "
                          "garbage on TFLite Micro; ternary and 2-bit kernels fit format 'int4'")
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    import keras
    if not isinstance(model, keras.Model):
        raise ExportError(f"expected a keras.Model, got {type(model).__name__}")
    for weight in model.weights:
        if not np.all(np.isfinite(np.asarray(weight))):
            raise ExportError(f"weight {weight.path!r} holds NaN or infinity: the model is corrupted "
                              "(retrain, or reload it from a good checkpoint)")


def _verification_inputs(model, calibration, samples):
    if samples is not None:
        return convert.calibration_samples(model, samples)
    if calibration is not None:
        return convert.calibration_samples(model, calibration)[:VERIFY_SAMPLES]
    shape = convert.input_shape(model)
    return np.random.default_rng(0).standard_normal((8,) + shape).astype(np.float32)


def _base_records(model_bytes, fmt):
    records = [r for _, _, r in filters(read(model_bytes))]
    for r in records:
        r["reason"] = f"format {fmt} keeps filters as {r['stored_as']}"
    return records


def export(model, path=None, format="packed", calibration=None, strict=False, samples=None,
           tflm_arena=False, c_array_path=None, c_name="g_model"):
    """Convert, rewrite, check and verify `model`; write `path` (and a C array) only when verified.

    calibration: inputs of shape (N, ...) for the int8 formats' activation ranges (and verification);
    samples: inputs to verify on (default: up to 64 calibration inputs, else 8 standard-normal ones);
    tflm_arena: also find TFLite Micro's minimum arena (int8 formats);
    c_array_path: also write the file as C++ (`.cc` + `.h`) for TFLM firmware, the array named `c_name`
      (`c_array.py`: the header declares its arena size and registers exactly its ops).
    Returns the report dict (see `report.py`); raises ExportError or VerificationError.
    """
    fmt = format
    _check_request(model, fmt)
    int8 = fmt in INT8_FORMATS
    float32 = convert.to_tflite(model)
    base = convert.to_tflite(model, int8=True, calibration=calibration) if int8 else float32
    if fmt in ("packed", "packed-int8"):
        out, records = pack.pack(base)
    elif fmt == "int4":
        out, records = int4.to_int4(base)
    else:
        out, records = base, _base_records(base, fmt)
    hazards.check(out)
    descriptions = binary_kernels.describe_model(model)
    if strict and fmt in ("packed", "packed-int8", "int4"):
        left = [r for r in records if r["op"] in CONV_OPS and not r["packed"]]
        if left:
            raise ExportError(f"strict: {len(left)} conv filter(s) not packed for format {fmt}: "
                              + "; ".join(f"{r['tensor']} ({r['reason']})" for r in left))
    inputs = _verification_inputs(model, calibration, samples)
    unpacked = base if fmt in ("packed", "packed-int8") else None
    figures = verify.verify(model, out, inputs, int8, unpacked)
    result = report.build(fmt, out, len(float32), records, descriptions, figures)
    if tflm_arena:
        result["tflm_arena_bytes"] = interpreters.tflm_min_arena(out, inputs[0])
    if path is not None:
        pathlib.Path(path).write_bytes(out)
        result["path"] = str(path)
    if c_array_path is not None:
        result["c_array"] = [str(p) for p in c_array.write(out, c_array_path, name=c_name,
                                                            arena_size=result.get("tflm_arena_bytes"))]
    return result


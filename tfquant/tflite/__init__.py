"""Export Keras models with binary or low-bit conv kernels to verified TFLite files, and run them.

    import tfquant.tflite
    report = tfquant.tflite.export(model, "model.tflite", format="packed", normalization=(0.286, 0.353))
    print(tfquant.tflite.report_text(report))

Formats (`formats.py` holds the table):
- "float32": the converter's float model;
- "int8": full-integer int8 (weights and activations; float input/output), needs `calibration`;
- "int4": "int8" with conv/depthwise filters on a grid of at most 15 levels per channel (binary,
  ternary, up to 4-bit) stored as INT4; never INT4 with float activations, never INT2;
- "packed": float activations, binary (±s per channel) filters at 1 bit per weight, builtin ops only;
- "packed-int8": "int8" with binary filters at 1 bit per weight; runs on TensorFlow Lite Micro.
Filters that cannot take the compact form stay in the base format (float32 or int8) and the report
says why; `strict=True` makes a conv-like filter left that way an error. Every file carries a stamp, a
SHA-256 over all its bytes with its input normalisation and format (`integrity.py`), and is verified on
LiteRT against the Keras model before it is written (`verify.py` gives the limits).

The device core is its own package, `tfquant_lite` (numpy, flatbuffers and an interpreter, never Keras or
TensorFlow): `flatbuffer` (read and write files), `fold` (`expand(model_bytes)` folds a packed file's
unpacking back into constant filters at load), `integrity` (check a file before running it: its stamp,
`soundness` for foreign files, `crash_guard` to try one in a child process) and `interpreters` (LiteRT,
tflite-runtime, TFLite Micro, tf.lite behind one API). This package's old names for them
(`tfquant.tflite.integrity`, `tfquant.tflite.expand`, ...) still answer, with the `tfquant_lite` modules.
Submodules load on first use, and TensorFlow only when `export` converts.
"""
import importlib

from .errors import ExportError, VerificationError
from .formats import INT8_FORMATS
from .formats import NAMES as FORMATS

_SUBMODULES = ("binary_kernels", "c_array", "calibration", "convert", "exporter", "filters", "formats", "hazards",
               "int4", "layer_names", "pack", "report", "verify")
# the device core's modules, in tfquant_lite since it became its own package: served here under their old names
_DEVICE_MODULES = ("arrays", "crash_guard", "flatbuffer", "fold", "integrity", "interpreters", "liveness",
                   "normalization", "soundness", "states")
_ATTRIBUTES = {"export": "exporter", "ExportWarning": "exporter", "expand": "fold", "report_text": "report",
               "validate_calibration": "calibration", "load_calibration": "calibration",
               "DamagedModel": "integrity", "check_file": "integrity"}
_RENAMED = {"report_text": "to_text", "validate_calibration": "validate", "load_calibration": "load",
            "check_file": "check"}

__all__ = ["export", "expand", "FORMATS", "INT8_FORMATS", "ExportError", "VerificationError", "ExportWarning",
           "report_text", "validate_calibration", "load_calibration", "DamagedModel", "check_file", *_SUBMODULES,
           *_DEVICE_MODULES]


def _module(name):
    return importlib.import_module(f"tfquant_lite.{name}" if name in _DEVICE_MODULES else f"{__name__}.{name}")


def __getattr__(name):
    if name in _SUBMODULES or name in _DEVICE_MODULES:
        return _module(name)
    if name in _ATTRIBUTES:
        return getattr(_module(_ATTRIBUTES[name]), _RENAMED.get(name, name))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""Write a .tflite model as C++ source (`.h` + `.cc`) that a TensorFlow Lite Micro application drops in.

For `name="g_model"` the header declares

    extern const unsigned char g_model[];            // the model, 16-byte aligned (TFLM reads it in place)
    extern const unsigned int g_model_len;
    constexpr size_t g_model_arena_size = ...;       // the minimum arena measured on the host's TFLM
    using g_model_op_resolver = tflite::MicroMutableOpResolver<K>;   // K = the model's distinct ops
    TfLiteStatus g_model_register_ops(g_model_op_resolver& resolver);  // adds exactly those K ops

so that firmware/main.cc needs nothing model-specific but the name. A `packed-tflm` file's custom op
TFQUANT_BINARY counts among the K and is registered with `resolver.AddCustom(...)` from
tfquant_lite/tflm_kernel/tfquant_binary_ops.h (build its .cc and binary_core.c with the firmware,
with -DTFQUANT_WITH_TFLM_HEADERS). Any other custom op is refused. The arena size is the host's
minimum (reference kernels); targets whose optimized kernels (CMSIS-NN) ask for scratch buffers need
headroom on top, which `arena_headroom` adds.
"""
import pathlib
import re

from tfquant_lite import flatbuffer as fb
from tfquant_lite.files import write_text
from tfquant_lite.tflm_ops import OP_NAME as BINARY_OP

# TFLM's MicroMutableOpResolver method names that plain CamelCase of the builtin name does not give.
_METHOD_NAMES = {"BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
                 "L2_NORMALIZATION": "AddL2Normalization", "RELU6": "AddRelu6", "RELU_N1_TO_1": "AddReluN1To1",
                 "LOG_SOFTMAX": "AddLogSoftmax", "HARD_SWISH": "AddHardSwish"}


def resolver_method(op_name):
    """The `MicroMutableOpResolver` method that registers builtin `op_name` (CONV_2D -> AddConv2D)."""
    if op_name in _METHOD_NAMES:
        return _METHOD_NAMES[op_name]
    return "Add" + "".join(part if re.fullmatch(r"\d+D", part) else part.capitalize() for part in op_name.split("_"))


def model_ops(model_bytes):
    """The distinct operators the model's subgraphs use, in first-use order (builtin names, and
    TFQUANT_BINARY for tfquant's custom op)."""
    model = fb.read(model_bytes)
    names = []
    for sub in model.subgraphs:
        for op in sub.operators:
            name = fb.op_name(model, op)
            if name == "CUSTOM":
                code = model.operatorCodes[op.opcodeIndex].customCode
                name = code.decode() if isinstance(code, bytes) else str(code)
                if name != BINARY_OP:
                    raise ValueError(f"the model uses custom operator {name!r}; register it by hand "
                                     "in the generated header")
            if name not in names:
                names.append(name)
    return names


def _register_line(op):
    call = ("AddCustom(tfquant::kBinaryOpName, tfquant::Register_TFQUANT_BINARY())" if op == BINARY_OP
            else f"{resolver_method(op)}()")
    return f"  if (resolver.{call} != kTfLiteOk) return kTfLiteError;\n"


def header_text(model_bytes, name, arena_size=None, arena_headroom=0):
    guard = re.sub(r"\W", "_", name).upper() + "_MODEL_H_"
    ops = model_ops(model_bytes)
    arena = (f"// Minimum TFLite Micro arena measured on the host (reference kernels), + {arena_headroom} B headroom.\n"
             f"constexpr size_t {name}_arena_size = {int(arena_size) + int(arena_headroom)};\n") if arena_size else ""
    adds = "".join(_register_line(op) for op in ops)
    custom = '#include "tfquant_binary_ops.h"\n' if BINARY_OP in ops else ""
    return (f"#ifndef {guard}\n#define {guard}\n\n#include <cstddef>\n\n"
            f'#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"\n{custom}\n'
            f"extern const unsigned char {name}[];\nextern const unsigned int {name}_len;\n{arena}\n"
            f"// The {len(ops)} operators the model uses: {', '.join(ops)}.\n"
            f"using {name}_op_resolver = tflite::MicroMutableOpResolver<{len(ops)}>;\n\n"
            f"inline TfLiteStatus {name}_register_ops({name}_op_resolver& resolver) {{\n"
            f"{adds}  return kTfLiteOk;\n}}\n\n"
            f"#endif  // {guard}\n")


def write(model_bytes, path, name="g_model", arena_size=None, arena_headroom=0):
    """Write `path` (.cc) and the matching .h; returns the two paths. `name` must be a C identifier."""
    if not re.fullmatch(r"[A-Za-z_]\w*", name):
        raise ValueError(f"C array name {name!r} is not a C identifier; use letters, digits and _ (e.g. g_model)")
    source = pathlib.Path(path).with_suffix(".cc")
    header = source.with_suffix(".h")
    rows = [", ".join(f"0x{b:02x}" for b in model_bytes[i:i + 12]) for i in range(0, len(model_bytes), 12)]
    body = ",\n  ".join(rows)
    write_text(header, header_text(model_bytes, name, arena_size, arena_headroom))
    write_text(source, f'#include "{header.name}"\n\nalignas(16) const unsigned char {name}[] = {{\n  {body}\n}};\n'
                       f"const unsigned int {name}_len = {len(model_bytes)};\n")
    return header, source

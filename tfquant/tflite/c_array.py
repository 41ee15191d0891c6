"""Write a .tflite model as a C array (`.h` + `.cc`) for TensorFlow Lite Micro firmware.

    #include "model.h"
    tflite::MicroInterpreter interpreter(tflite::GetModel(g_model), resolver, arena, kTensorArenaSize);

The array is 16-byte aligned (TFLM reads tensors in place). `kTensorArenaSize` is the minimum arena
measured on the host's TFLM, when given; add headroom on targets whose kernels need scratch memory.
"""
import pathlib
import re


def write(model_bytes, path, name="g_model", arena_size=None):
    """Write `path` (.cc) and the matching .h; returns the two paths."""
    source = pathlib.Path(path).with_suffix(".cc")
    header = source.with_suffix(".h")
    guard = re.sub(r"\W", "_", header.name).upper() + "_"
    arena = f"constexpr int kTensorArenaSize = {int(arena_size)};\n" if arena_size else ""
    header.write_text(f"#ifndef {guard}\n#define {guard}\n\n{arena}extern const unsigned char {name}[];\n"
                      f"extern const unsigned int {name}_len;\n\n#endif  // {guard}\n")
    rows = [", ".join(f"0x{b:02x}" for b in model_bytes[i:i + 12]) for i in range(0, len(model_bytes), 12)]
    body = ",\n  ".join(rows)
    source.write_text(f'#include "{header.name}"\n\nalignas(16) const unsigned char {name}[] = {{\n  {body}\n}};\n'
                      f"const unsigned int {name}_len = {len(model_bytes)};\n")
    return header, source

"""The export formats, as one table: what each converts to, how it rewrites the filters, what it checks.

| format        | base          | filters rewritten as              | `strict` / "packed nothing" apply |
|---------------|---------------|-----------------------------------|-----------------------------------|
| float32       | float32       | -                                 | no                                |
| int8          | full int8     | -                                 | no                                |
| int4          | full int8     | INT4 grid filters (`int4.py`)     | yes                               |
| packed        | float32       | 1-bit sign bits (`pack.py`)       | yes, and packed == unpacked check |
| packed-int8   | full int8     | 1-bit sign bits (`pack.py`)       | yes, and packed == unpacked check |
| packed-tflm   | full int8     | TFQUANT_BINARY op (`packed_tflm.py`) | yes, and == int8 on TFLite Micro |

`interpreter` is where the file is verified: LiteRT, except `packed-tflm`, whose custom op only TFLite
Micro runs (with tfquant's kernel library, `tflm_ops.py`). Full int8 needs calibration inputs
(activation ranges). Importing this module is cheap (no TensorFlow,
no flatbuffers), so command-line tools can offer the names before any heavy import.
"""
import dataclasses


def _pack(model_bytes):
    from .pack import pack
    return pack(model_bytes)


def _packed_tflm(model_bytes):
    from .packed_tflm import to_packed_tflm
    return to_packed_tflm(model_bytes)


def _int4(model_bytes):
    from .int4 import to_int4
    return to_int4(model_bytes)


@dataclasses.dataclass(frozen=True)
class Format:
    """One export format: `int8` (full-integer base, needs calibration), `rewrite` (base bytes ->
    (bytes, records), None to keep the converter's file), `compares_unpacked` (the rewrite must leave
    the outputs bit-identical to the base file's), `help` (one line), `interpreter` (where the
    file is verified)."""
    name: str
    int8: bool
    rewrite: object
    compares_unpacked: bool
    help: str
    interpreter: str = "litert"


_TABLE = (
    Format("float32", False, None, False, "the converter's float model"),
    Format("int8", True, None, False, "full-integer int8 weights and activations (needs calibration)"),
    Format("int4", True, _int4, False, "int8 with grid filters (binary .. 4-bit) stored as INT4"),
    Format("packed", False, _pack, True, "float activations, binary filters at 1 bit per weight"),
    Format("packed-int8", True, _pack, True, "int8 with binary filters at 1 bit per weight; runs on TFLite Micro"),
    Format("packed-tflm", True, _packed_tflm, True, "int8 whose binary layers run tfquant's 1-bit TFLite Micro "
           "kernel (custom op TFQUANT_BINARY): int8's arena, 1 bit per weight; TFLite Micro only", "tflm"),
)
FORMATS = {f.name: f for f in _TABLE}
NAMES = tuple(FORMATS)
INT8_FORMATS = tuple(f.name for f in _TABLE if f.int8)
# Names that are refused with a reason, not merely unknown.
REFUSED = {name: "CONV_2D rejects INT2 filters and the 2-bit path gave garbage on TFLite Micro; ternary and "
                 "2-bit kernels fit format 'int4'" for name in ("int2", "ternary", "2-bit")}


def lookup(name):
    """The `Format` called `name`; ValueError naming the choices (or why a format is refused)."""
    if name in REFUSED:
        raise ValueError(f"format {name!r} is refused: {REFUSED[name]}")
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of {', '.join(NAMES)}")
    return FORMATS[name]

"""`export()`: convert a Keras model, rewrite its filters for the format, check, stamp, verify, write.
(The module is `exporter`, so that `tfquant.tflite.export` stays the function.)

    report = export(model, "model.tflite", format="packed", normalization=(0.286, 0.353))

Steps, each refusing with a clear error before anything is written:
1. the request: a known format (`formats.py`), a Keras model with finite weights, writable outputs;
2. the calibration (`calibration.validate`): numbers of the input's shape, finite, not constant;
3. conversion (float32, and the full-int8 base for int8 formats) and the format's filter rewrite;
4. hazards (`hazards.py`); under `strict`, every conv-like filter left unpacked is an error, and a
   packing format that packed nothing warns (`ExportWarning`, also listed in the report's `warnings`);
5. the "tfquant" stamp (`integrity.stamp`, its one writer): the input normalisation, the format and the
   SHA-256 of the whole file (every byte but the digest's own), so any later change is refused by the runner;
6. verification on LiteRT against Keras (`verify.py`), on the calibration's first inputs and on
   held-out inputs drawn to match its statistics (`calibration.held_out`), so a degenerate calibration
   cannot pass on itself;
7. the file, written atomically (`tfquant_lite.files`), and optionally a C array for TFLite Micro.
"""
import dataclasses
import warnings

import numpy as np

from tfquant import grids
from tfquant.summary import kernel_grids
from tfquant_lite import files, integrity, interpreters
from tfquant_lite import normalization as norm
from tfquant_lite.flatbuffer import read

from . import c_array, convert, hazards, layer_names, report, verify
from .calibration import held_out
from .calibration import validate as validate_calibration
from .errors import ExportError, VerificationError
from .filters import CONV_OPS, filters
from .formats import lookup

VERIFY_SAMPLES = 64


class ExportWarning(UserWarning):
    """The file was written, but something in it is probably not what was wanted."""


def _check_model(model):
    import keras
    if not isinstance(model, keras.Model):
        raise ExportError(f"expected a keras.Model, got {type(model).__name__}")
    for weight in model.weights:
        if not np.all(np.isfinite(np.asarray(weight))):
            raise ExportError(f"weight {weight.path!r} holds NaN or infinity: the model is corrupted "
                              "(retrain, or reload it from a good checkpoint)")


def _check_flags(**flags):
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ExportError(f"{name} must be True or False, got {value!r}")


def _format(name):
    try:
        return lookup(name)
    except ValueError as error:
        raise ExportError(str(error)) from None


def _normalization(normalization, shape):
    try:
        recorded = integrity.normalization_record(normalization)
        if isinstance(recorded, dict):  # the runner broadcasts it over the input's channels (its last axis)
            norm.check_channels(recorded["mean"], recorded["std"], shape[-1] if shape else 1)
        return recorded
    except ValueError as error:
        raise ExportError(f"{error} (the input normalisation recorded in the file's metadata)") from None


def _verification_sets(calibration, samples, shape):
    """{name: inputs}: the given `samples`, or the calibration's first inputs + held-out ones, or noise."""
    if samples is not None:
        return {"samples": validate_calibration(samples, shape)}
    if calibration is not None:
        return {"calibration": calibration[:VERIFY_SAMPLES], "held_out": held_out(calibration)}
    return {"standard_normal": np.random.default_rng(0).standard_normal((8,) + shape).astype(np.float32)}


def _base_records(model_bytes, fmt):
    records = [r for _, _, r in filters(read(model_bytes))]
    for r in records:
        r.reason = f"format {fmt} keeps filters as {r.stored_as}"
    return records


def _strict(records, fmt):
    left = [r for r in records if r.op in CONV_OPS and not r.packed]
    if left:
        raise ExportError(f"strict: {len(left)} conv filter(s) not packed for format {fmt}: "
                          + "; ".join(f"{r.op} {r.tensor or '(unnamed)'} ({r.reason})" for r in left)
                          + " (drop --strict to keep them unpacked, or train those kernels binary)")


def _verify(model, out, sets, fmt, base):
    """Verification figures per input set; VerificationError names the set that failed."""
    unpacked = base if fmt.compares_unpacked else None
    results = {}
    for name, inputs in sets.items():
        try:
            results[name] = verify.verify(model, out, inputs, fmt.int8, unpacked, fmt.interpreter)
        except VerificationError as error:
            raise VerificationError(f"on the {name.replace('_', ' ')} inputs: {error}",
                                           dict(error.figures, inputs=name)) from None
    return results


def export(model, path=None, format="packed", calibration=None, strict=False, samples=None,
           tflm_arena=False, c_array_path=None, normalization=None, c_name="g_model"):
    """Convert, rewrite, check, stamp and verify `model`; write `path` (and a C array) only when verified.

    calibration: inputs of shape (N, ...) for the int8 formats' activation ranges and for verification
    (with held-out inputs drawn to match them); samples: inputs to verify on instead;
    normalization: how 8-bit pixels p become the model's input, recorded for the runner:
    (mean, std) for x = (p/255 - mean)/std, "none" for x = p/255, None if unknown;
    tflm_arena: also find TFLite Micro's minimum arena (int8 formats);
    c_array_path: also write the file as C++ (`.cc` + `.h`) for TFLM firmware, the array named `c_name`
      (`c_array.py`: the header declares its arena size and registers exactly the model's ops).
    Returns the `report.ExportReport` (see `report.py`); raises ExportError, VerificationError or
    tfquant_lite.files.UnwritableOutput.
    """
    fmt = _format(format)
    _check_flags(strict=strict, tflm_arena=tflm_arena)
    _check_model(model)
    for output in (path, c_array_path):
        if output is not None:
            files.check_writable(output)
    shape = convert.input_shape(model)
    recorded = _normalization(normalization, shape)
    if fmt.int8 or calibration is not None:
        calibration = validate_calibration(calibration, shape)
    with convert.float32_compute(model):  # a mixed-precision model is converted and verified in float32
        float32 = convert.to_tflite(model)
        base = convert.to_tflite(model, int8=True, calibration=calibration) if fmt.int8 else float32
        out, records = fmt.rewrite(base) if fmt.rewrite else (base, _base_records(base, fmt.name))
        hazards.check(out)
        notes = []
        if fmt.rewrite is not None:
            if strict:
                _strict(records, fmt.name)
            if not any(r.packed for r in records):
                notes.append(f"format {fmt.name} packed nothing: no filter is binary (or on a 4-bit grid for "
                             "int4), so the file is as large as the base format's; train the kernels with a "
                             "tfquant optimizer, or choose format float32/int8")
        out = integrity.stamp(out, recorded, fmt.name)
        sets = _verification_sets(calibration, samples, shape)
        figures = _verify(model, out, sets, fmt, base)
    float32_bytes = len(integrity.stamp(float32, recorded, "float32"))  # the same metadata, for a fair ratio
    metadata = {"file_sha256": integrity.check(out)["file_sha256"], "input_normalization": recorded}
    sources, described = layer_names.source_kernels(model, base), kernel_grids(model)
    result = report.build(fmt.name, out, float32_bytes, records, [s and s[0] for s in sources],
                          [s and grids.text(described.get(s)) for s in sources], figures, metadata, notes)
    for note in notes:
        warnings.warn(note, ExportWarning, stacklevel=2)
    if tflm_arena:
        arena = interpreters.tflm_min_arena(out, next(iter(sets.values()))[0])
        result = dataclasses.replace(result, tflm_arena_bytes=arena)
    if path is not None:
        files.write_bytes(path, out)
        result = dataclasses.replace(result, path=str(path))
    if c_array_path is not None:
        written = c_array.write(out, c_array_path, name=c_name, arena_size=result.tflm_arena_bytes)
        result = dataclasses.replace(result, c_array=tuple(str(p) for p in written))
    return result

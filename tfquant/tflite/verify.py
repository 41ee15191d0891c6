"""Check a written .tflite file against the Keras model on LiteRT, and fail loudly when it is off.

Figures, over the verification inputs x_i with Keras outputs y_i and LiteRT outputs ŷ_i:
- `max_abs_error` = max |ŷ - y|;  `relative_error` = max |ŷ - y| / max |y|;
- `argmax_agreement` = fraction of samples with argmax ŷ_i = argmax y_i (outputs with >1 value), and
  `decisive_agreement`, the same over the samples whose Keras top-1 beats its top-2 by more than
  5% of max |y| (a near tie may flip under any int8 rounding and says nothing about the file), with their
  count `decisive_samples`; absent when no sample is decisive (near-uniform outputs: not judged, and said so);
- for packed formats, `max_diff_vs_unpacked`: the same file before packing, both run on LiteRT's
  builtin kernels (XNNPACK off), where packing must change nothing (int8: bit-identical).
Limits: float-activation formats `relative_error <= 1e-4` against Keras and, for "packed", at most
1e-5 (relative) away from the unpacked file (in practice 0: the rebuilt filter is bit-identical).
1e-5 against Keras holds for small nets, but the converter's own float32 VGG-9 already differs from
Keras by up to 1.1e-5 (TensorFlow's and XNNPACK's summation orders), so 1e-5 would reject correct
files. int8 formats: `decisive_agreement >= 0.9` and `relative_error <= 0.25` (garbage scores near 1;
an untrained, randomly binarized VGG-9 on noise inputs reached 0.15 with full argmax agreement, so
tighter limits would reject what int8 activations legitimately give), and bit-identical to the
unpacked file. The figures are always reported. Format `packed-tflm` is checked the same way on TFLite
Micro (its custom op runs nowhere else), against the int8 file on TFLite Micro.

When a limit fails, `keras_sensitivity` measures how far the Keras model itself moves when its inputs
move by one part in a million (`NUDGE`, a few float32 ulps): a healthy net moves by about that much,
while a net whose every layer multiplies its input's errors (binary kernels after a few training steps,
their batch norms' moving statistics still far from the batches') moves past `FLOAT_RTOL`. Such a
model's float32 result depends on summation order, so no file can match it: the error says so (figure
`keras_sensitivity`) instead of blaming the converter or the calibration.
"""
import numpy as np

from tfquant_lite import interpreters

from .errors import ExportError, VerificationError

FLOAT_RTOL = 1e-4
PACKED_RTOL = 1e-5
INT8_RTOL = 0.25
INT8_MIN_AGREEMENT = 0.9
DECISIVE_MARGIN = 0.05
NUDGE = 1e-6  # relative input change of `keras_sensitivity`
TFLM_ARENA = 16 << 20  # verification only; the file's own minimum arena is measured separately


def keras_outputs(model, inputs):
    """The Keras model's outputs in inference mode, as float32 NumPy."""
    return np.concatenate([np.asarray(model(inputs[i:i + 32], training=False), np.float32)
                           for i in range(0, len(inputs), 32)])


def keras_sensitivity(model, inputs, expected=None, seed=0):
    """max |f(x') - f(x)| / max |f(x)| for x' = x·(1 ± NUDGE) (random signs per value): how much the Keras
    model amplifies a rounding-sized change of its inputs. `expected` is f(x) where the caller has it."""
    inputs = np.asarray(inputs, np.float32)
    signs = np.random.default_rng(seed).choice(np.float32([-1, 1]), inputs.shape)
    expected = keras_outputs(model, inputs) if expected is None else expected
    moved = keras_outputs(model, inputs * (1 + NUDGE * signs).astype(np.float32))
    return float(np.abs(moved.astype(np.float64) - expected).max() / max(np.abs(expected).max(), 1e-30))


def figures(expected, actual):
    """Error figures of `actual` against `expected` (both (N, ...))."""
    error = np.abs(actual.astype(np.float64) - expected)
    out = {"samples": int(len(expected)), "max_abs_error": float(error.max()),
           "relative_error": float(error.max() / max(np.abs(expected).max(), 1e-30)),
           "finite": bool(np.all(np.isfinite(actual)))}
    if expected[0].size > 1:
        flat_expected, flat_actual = expected.reshape(len(expected), -1), actual.reshape(len(actual), -1)
        agree = flat_expected.argmax(axis=1) == flat_actual.argmax(axis=1)
        top2 = np.sort(flat_expected, axis=1)[:, -2:]
        decisive = top2[:, 1] - top2[:, 0] > DECISIVE_MARGIN * np.abs(expected).max()
        out["argmax_agreement"] = float(np.mean(agree))
        if decisive.any():
            out["decisive_agreement"] = float(np.mean(agree[decisive]))
        out["decisive_samples"] = int(decisive.sum())
    return out


def _runner(interpreter):
    """(run the file, run the packed and unpacked files for their comparison) on `interpreter`:
    LiteRT (its builtin kernels for the comparison), or TFLite Micro in a generous fixed arena."""
    if interpreter == "tflm":
        def on_tflm(model_bytes, inputs):
            try:
                return interpreters.run(model_bytes, inputs, "tflm", arena_size=TFLM_ARENA)
            except interpreters.InterpreterUnavailable as error:  # e.g. the 1-bit op's library cannot be built
                raise ExportError(f"cannot verify the file on TFLite Micro: {error}") from None
        return on_tflm, on_tflm
    return (lambda m, x: interpreters.run(m, x, interpreter)), (lambda m, x: interpreters.run(m, x, "litert-noxnnpack"))


def verify(model, tflite_bytes, inputs, int8, unpacked=None, interpreter="litert"):
    """Figures of `tflite_bytes` on `interpreter` ("litert" or "tflm") against `model`;
    VerificationError when past the limits."""
    run, compare = _runner(interpreter)
    expected = keras_outputs(model, inputs)
    if not np.all(np.isfinite(expected)):
        bad = int(np.sum(~np.isfinite(expected.reshape(len(expected), -1)).all(axis=1)))
        raise VerificationError(
            f"cannot verify: the Keras model's own outputs are NaN or infinite on {bad} of {len(expected)} "
            "inputs, so there is nothing to compare the file with (its activations overflow float32: binary "
            "kernels that grow each layer's outputs while the batch norms' moving statistics are far from the "
            "batches'); check model.predict on these inputs, then train longer or set the statistics with "
            "tfquant.recipes.settle_batch_norms(model, inputs)", {"samples": int(len(expected)),
                                                                   "keras_finite": False})
    result = figures(expected, run(tflite_bytes, inputs))
    result["interpreter"] = interpreter
    problems = [] if result["finite"] else ["non-finite outputs"]
    if int8:
        if not result["relative_error"] <= INT8_RTOL:
            problems.append(f"relative error {result['relative_error']:.3g} > {INT8_RTOL}")
        if "decisive_agreement" in result and not result["decisive_agreement"] >= INT8_MIN_AGREEMENT:
            problems.append(f"argmax agreement on decisive samples {result['decisive_agreement']:.3f} "
                            f"< {INT8_MIN_AGREEMENT}")
    elif not result["relative_error"] <= FLOAT_RTOL:
        problems.append(f"relative error {result['relative_error']:.3g} > {FLOAT_RTOL}")
    if unpacked is not None:
        before, after = compare(unpacked, inputs), compare(tflite_bytes, inputs)
        diff = float(np.abs(after.astype(np.float64) - before).max())
        result["max_diff_vs_unpacked"] = diff
        limit = 0.0 if int8 else PACKED_RTOL * max(np.abs(before).max(), 1e-30)
        if not diff <= limit:  # a NaN difference fails too
            problems.append(f"packed file differs from the unpacked one by {diff:.3g} (limit {limit:.3g})")
    if problems:
        where = "TFLite Micro" if interpreter == "tflm" else "LiteRT"
        result["keras_sensitivity"] = keras_sensitivity(model, inputs, expected)
        raise VerificationError(f"verification on {where} failed: " + "; ".join(problems)
                                + f" ({_hint(problems, int8, result)}; figures: {result})",
                                result)
    return result


def _hint(problems, int8, result):
    """What to do about the first problem: the cause each limit points at."""
    first, sensitivity = problems[0], result["keras_sensitivity"]
    if first.startswith("packed file differs"):
        return ("the filter rewrite changed the results, which is a tfquant defect: please report it with "
                "the model; format int8 or float32 exports it unpacked meanwhile")
    if sensitivity > FLOAT_RTOL:
        return (f"the Keras model itself amplifies rounding: inputs changed by {NUDGE:g} (relative) change its "
                f"outputs by {sensitivity:.3g}, so no file can match it; a binary net after a few training "
                "steps does this while its batch norms' moving statistics are far from the batches', the more "
                "so with ±1 kernels: train longer, set the statistics from training inputs with "
                "tfquant.recipes.settle_batch_norms(model, inputs), or train with "
                "quantizer=tfquant.ScaledBinary() (±s per channel), then export")
    if int8:
        same = (" The packed file computes exactly what the model's plain int8 file does, so the 1-bit "
                "filters are not the cause: where real inputs calibrated it, the net itself does not survive "
                "int8 activations (Keras's MobileNetV2 with float weights did not either, docs/EXPORT.md)"
                if result.get("max_diff_vs_unpacked") == 0.0 else "")
        return ("int8 activations take their ranges from the calibration: pass a few hundred real inputs, "
                "normalised exactly as the model sees them (inputs outside their range saturate), or choose "
                "a float-activation format (packed, float32)." + same)
    return ("the converted file does not compute what the Keras model does: a custom layer or an op the "
            "converter rewrites differently; compare per layer with format float32")

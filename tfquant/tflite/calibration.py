"""Calibration inputs: load them, refuse the ones that would give a wrong int8 model, draw held-out ones.

A calibration sets the int8 activation ranges and is the first set of verification inputs, so a bad
one is refused before any conversion:
- not numbers (strings, objects, booleans, complex) or not one array (ragged lists);
- a shape other than (N, *input shape), N >= 1;
- NaN or infinity;
- zero variance: every sample identical (an all-zero or constant calibration, or a single sample),
  whose ranges say nothing about real inputs (an all-zero calibration passed verification on itself,
  then agreed with Keras on 64% of ordinary inputs).

`held_out(samples)` makes new inputs that match the calibration's statistics feature by feature (mean
and standard deviation; random rotations of pairs of centred samples, see there), so verification also
runs on inputs the converter did not calibrate on.
"""
import numpy as np

from tfquant_lite import arrays

from .errors import ExportError

HELD_OUT_SAMPLES = 64


def _shape_text(shape):
    return f"(N, {', '.join(map(str, shape))})"


def load(path):
    """The array in a .npy file (or the only / the `x` array of a .npz); ExportError for anything else."""
    try:
        data = arrays.load(path, "the calibration inputs")
    except arrays.NotAnArray as error:
        raise ExportError(f"calibration: {error}") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = data.files
            if "x" not in names and len(names) != 1:
                raise ExportError(f"calibration {path} holds arrays {names}; name the inputs 'x' "
                                  "(np.savez(path, x=inputs)) or save them alone with np.save")
            return data["x" if "x" in names else names[0]]
    return data


def validate(calibration, shape):
    """`calibration` as float32 of shape (N, *shape), or ExportError saying what is wrong and the fix."""
    shape = tuple(int(d) for d in shape)
    if calibration is None:
        raise ExportError("int8 formats need calibration inputs: pass calibration= (or --calibration "
                          f"INPUTS.npy), an array of shape {_shape_text(shape)} of real inputs")
    try:
        array = np.asarray(calibration)
    except ValueError as error:  # ragged nested lists
        raise ExportError(f"calibration inputs are not one array ({str(error).splitlines()[0]}); "
                          f"give an array of shape {_shape_text(shape)}") from error
    if array.dtype.kind not in "iuf":
        kind = {"U": "strings", "S": "bytes", "O": "Python objects", "b": "booleans", "c": "complex numbers",
                "V": "records"}.get(array.dtype.kind, str(array.dtype))
        raise ExportError(f"calibration inputs are {kind} (dtype {array.dtype}); give real-valued inputs "
                          f"of shape {_shape_text(shape)}, e.g. np.asarray(x, dtype=np.float32)")
    if array.shape == shape:
        raise ExportError(f"calibration inputs have shape {array.shape}, one sample without its batch axis; "
                          f"give several real inputs, shape {_shape_text(shape)}")
    if array.ndim != len(shape) + 1 or array.shape[1:] != shape or array.shape[0] < 1:
        raise ExportError(f"calibration inputs have shape {array.shape}; expected {_shape_text(shape)} "
                          "with N >= 1, the model's input shape with a batch axis first")
    samples = array.astype(np.float32)
    if not np.all(np.isfinite(samples)):
        bad = int(np.sum(~np.isfinite(samples).reshape(len(samples), -1).all(axis=1)))
        raise ExportError(f"calibration inputs contain NaN or infinity ({bad} of {len(samples)} samples); "
                          "remove or fix those samples")
    if np.all(samples == samples[:1]):
        what = "a single sample" if len(samples) == 1 else f"all {len(samples)} samples are identical"
        raise ExportError(f"calibration inputs have zero variance ({what}, e.g. all zeros): int8 ranges "
                          "calibrated on them are wrong for real inputs; give at least 2 different real "
                          "inputs (a few hundred from the training set)")
    return samples


def held_out(samples, count=HELD_OUT_SAMPLES, seed=0):
    """`count` new inputs with the per-feature mean and standard deviation of `samples`.

    Each is the feature-wise mean plus a random rotation of two different centred samples,
    x = mean + cos θ·(x_i - mean) + sin θ·(x_j - mean), θ uniform: for independent i ≠ j every feature
    keeps its mean and variance (cos²θ + sin²θ = 1), and the inputs keep the structure of real ones (an
    image stays an image, not per-pixel noise, on which an untrained net's int8 and float outputs disagree
    without the file being wrong). Clipped to each feature's calibrated range [min_f, max_f].
    """
    samples = np.asarray(samples, np.float64)
    n, rng = len(samples), np.random.default_rng(seed)
    mean = samples.mean(axis=0)
    i = rng.integers(0, n, count)
    j = (i + rng.integers(1, n, count)) % n if n > 1 else i
    theta = rng.uniform(0, 2 * np.pi, count).reshape((count,) + (1,) * (samples.ndim - 1))
    drawn = mean + np.cos(theta) * (samples[i] - mean) + np.sin(theta) * (samples[j] - mean)
    return np.clip(drawn, samples.min(axis=0), samples.max(axis=0)).astype(np.float32)

"""The on-device runner's core (`tfquant-run`, `tfquant_lite.cli`): load the inputs, check the file, run it.

    result = run("model.tflite", images, labels)    # images: (N, H, W[, C]) 8-bit pixels
    result["accuracy"], result["latency_ms"]["p50"], result["predictions"]

Needs numpy, flatbuffers and ONE interpreter (no TensorFlow, no Keras); ``interpreter="auto"`` takes the
first that imports of litert (ai-edge-litert), tflite-runtime (needs numpy<2) and tflm (tflite-micro).
Inputs: one ``.npz`` (``x`` images, optional ``y`` labels) or image files (8-bit PNG decoded by `png`, ``.npy``
read by `arrays`).

Before running, the file is checked (`integrity`): its size (before it is read), the "TFL3"
identifier, its soundness (structure, op codes, shapes, quantization scales and zero points, names), and
the stamp tfquant-export writes, a SHA-256 of every byte of the file: a file changed after export is
refused. A foreign file (no stamp, or ``trust_foreign``) is also tried once in a forked child
(`crash_guard`), so that an interpreter crash becomes a refusal; nothing vouches for what it computes.
Preprocessing: pixels ``p`` in 0..255 become ``x = (p / 255 - mean) / std`` (float32, NHWC), with mean
and std from the file's metadata (written by tfquant-export), overridden by ``mean``/``std``; a file that
records none gets ``x = p / 255`` and a warning. A quantized input tensor (scale ``s``, zero point
``z``) gets ``q = clip(round(x / s) + z)``; a quantized output is read back as ``(q - z) * s``. The class
probabilities are the output when it already is a distribution (non-negative, sums to 1),
``softmax(output)`` otherwise. One image per ``invoke()``; latency is the wall time of ``invoke()``
alone, after one warm-up call, as percentiles p50/p90/p99 in milliseconds.

Packed files (1-bit filters unpacked in the graph) are expanded at load by default on every interpreter
but TFLite Micro (`fold`): their convs then run on XNNPACK at int8/float32 speed, in int8/float32
memory; ``expand=False`` keeps the in-graph unpacking (the microcontroller's memory profile), ``True``
forces it on TFLite Micro too. Bad input raises `RunnerError`, a `cli_common.BadInput` whose message names
the problem and the fix.
"""
import os
import platform
import time
import warnings

import numpy as np

from . import arrays, crash_guard, interpreters, png
from . import normalization as norm
from .cli_common import BadInput
from .run_result import RunResult
from .states import Integrity

AUTO_ORDER = ("litert", "tflite-runtime", "tflm")
DEFAULT_ARENA_KB = 2048
PIXEL_MAX = 255
# --threads at most 4 per core: more only adds contention, and LiteRT segfaults when asked for 100000
MAX_THREADS = 4 * (os.cpu_count() or 1)
FLATBUFFER_MAX = 2**31 - 1  # a flatbuffer addresses at most 2 GiB (tfquant writes no buffers after it)


class RunnerError(BadInput):
    """Bad input for the runner: the message names the problem and the fix."""


class RunnerWarning(UserWarning):
    """The run goes on, but its answer may be wrong (e.g. no input normalisation known)."""


# ---------------------------------------------------------------------------------------------- inputs

def read_png(path):
    """An 8-bit PNG file -> (H, W) uint8 grey image, decoded strictly per the specification (`png.decode`)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != png.SIGNATURE:
        raise RunnerError(f"{path}: not a PNG file (give 8-bit PNG, .npy or .npz inputs)")
    try:
        return png.decode(data)
    except png.Unsupported as error:
        raise RunnerError(f"{path}: {error}") from None
    except png.BadPNG as error:
        raise RunnerError(f"{path}: damaged PNG ({error}); re-save or copy it again") from None


def _load_array(path):
    try:
        return arrays.load(path, "the images", limit=size_limit())
    except arrays.NotAnArray as error:
        raise RunnerError(str(error)) from error


def load_inputs(paths):
    """Images and labels from the command line: one ``.npz`` (arrays ``x`` and optional ``y``, one label per
    image) or image files (``.png``, ``.npy``; no labels), suffixes in any case. Returns ``(images (N, H, W[, C]),
    labels or None)``."""
    paths = [str(p) for p in paths]
    for path in paths:
        if not os.path.isfile(path):
            raise RunnerError(f"input file not found: {path}")
        check_size(path, "input")
    suffixes = [os.path.splitext(path)[1].lower() for path in paths]
    if suffixes == [".npz"]:
        return _load_npz(paths[0])
    images = []
    for path, suffix in zip(paths, suffixes):
        if suffix == ".npz":
            raise RunnerError(f"{path}: pass a .npz file alone, not mixed with other inputs")
        images.append(read_png(path) if suffix == ".png" else _load_array(path))
    shapes = {np.shape(image) for image in images}
    if len(shapes) > 1:
        raise RunnerError(f"the images have different shapes {sorted(shapes)}; give images of one size")
    return np.stack(images), None


def _load_npz(path):
    """(x, y or None) of a .npz given alone; the labels checked against the images here, before --limit."""
    data = _load_array(path)
    with data:
        if "x" not in data.files:
            raise RunnerError(f"{path} has arrays {sorted(data.files)}; it needs 'x' (images) "
                              "and optionally 'y' (labels): np.savez(path, x=images, y=labels)")
        try:
            x = arrays.member(data, "x", path, "the images")
            y = arrays.member(data, "y", path, "the labels") if "y" in data.files else None
        except arrays.NotAnArray as error:
            raise RunnerError(str(error)) from error
    if y is None:
        return x, None
    y = _labels(y, f"{path}: labels 'y'")
    if len(y) != len(x):
        raise RunnerError(f"{path}: {len(y)} labels for {len(x)} images (give one label per image)")
    return x, y


def _labels(y, what):
    """`y` as int64 class indices (N,); RunnerError naming `what` (e.g. "data.npz: labels 'y'") otherwise."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise RunnerError(f"{what} must be integer class indices, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() > np.iinfo(np.int64).max):
        raise RunnerError(f"{what} must be class indices >= 0, got {y.min()}")
    return y.astype(np.int64).reshape(-1)


def check_labels(labels, classes):
    """RunnerError unless every label is a class index of the model's `classes` outputs."""
    if labels is not None and len(labels) and labels.max() >= classes:
        raise RunnerError(f"label {int(labels.max())} is not a class of this model, which has {classes} classes "
                          f"(0..{classes - 1}): give the labels of this model's dataset")


def size_limit():
    """The most bytes one file may have: half this machine's memory (and 2 GiB for a model, see check_size)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def check_size(path, what):
    """RunnerError, before the file is read, when it is larger than this device can load (`size_limit`; a
    model also at most `FLATBUFFER_MAX`)."""
    size = os.stat(path).st_size
    limit = size_limit() if what != "model" else min(size_limit(), FLATBUFFER_MAX)
    if size > limit:
        raise RunnerError(f"{path} is {size:,} bytes, more than the {limit:,} a {what} file may have here "
                          "(half this machine's memory" + (", and a flatbuffer's 2 GiB" if what == "model" else "")
                          + "): it was not read; give the right file")
    return size


def check_pixels(images):
    """`images` as an array of 8-bit pixel values (0..255); RunnerError for anything else."""
    images = np.asarray(images)
    if images.dtype.kind not in "iuf":
        raise RunnerError(f"images have dtype {images.dtype}; give 8-bit pixels (0..255) as numbers")
    if images.size == 0:
        raise RunnerError(f"no images to run (shape {images.shape})")
    if images.dtype.kind == "f" and not np.all(np.isfinite(images)):
        raise RunnerError("images contain NaN or infinity; give 8-bit pixels (0..255)")
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > PIXEL_MAX:
        raise RunnerError(f"pixel values lie in [{low:g}, {high:g}]; the runner takes 8-bit pixels 0..255 and "
                          "normalises them itself (give the raw images, and --mean/--std if the file has none)")
    return images


# ------------------------------------------------------------------------------ the file and its metadata

def check_model(data, source, trust_foreign=False):
    """Integrity check of the model's bytes (`integrity.check`); returns (metadata dict, note or None)."""
    try:
        from . import integrity
    except ImportError as error:  # a device without flatbuffers or a TFLite schema: check what the bytes allow
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise RunnerError(f"{source} is not a TFLite model (file identifier {bytes(data[4:8])!r}, "
                              "expected b'TFL3')") from error
        return {"checksum": Integrity.NOT_CHECKED, "input_normalization": "unknown"}, (
            f"integrity not checked beyond the file identifier ({error})")
    try:
        record = integrity.check(data, source, trust_foreign)
    except integrity.DamagedModel as error:
        raise RunnerError(str(error)) from error
    note = None
    if record["checksum"] is Integrity.FOREIGN:
        why = "run with --trust-foreign" if trust_foreign else "it carries no tfquant stamp"
        note = (f"{source} is a foreign file ({why}): checked for soundness and tried in a child process, but "
                "nothing vouches for what it computes")
        if record.get("normalization_problem"):
            note += (f"; its recorded normalisation is ignored ({record['normalization_problem']}): "
                     "give --mean/--std")
    return record, note


def normalization(record, mean=None, std=None):
    """(mean, std, source): --mean/--std when given, else the file's recorded normalisation, else (0, 1)."""
    recorded = record.get("input_normalization", "unknown")
    if mean is not None or std is not None:
        if mean is None or std is None:
            raise RunnerError("give --mean and --std together (the normalisation x = (p/255 - mean) / std)")
        try:
            mean, std = norm.check(mean, std)
        except ValueError as error:
            raise RunnerError(f"{error} (the normalisation x = (p/255 - mean) / std: mean finite, std > 0)") from None
        if isinstance(recorded, dict) and not (_agree(recorded["mean"], mean) and _agree(recorded["std"], std)):
            warnings.warn(f"--mean {mean} --std {std} override the file's recorded normalisation "
                          f"(mean {recorded['mean']}, std {recorded['std']})", RunnerWarning, stacklevel=3)
        return mean, std, "command line"
    if isinstance(recorded, dict):
        mean, std = norm.check(recorded["mean"], recorded["std"])  # integrity.check validated it already
        return mean, std, "file metadata"
    if recorded == "none":
        return 0.0, 1.0, "file metadata (none)"
    return 0.0, 1.0, "unknown"


def _agree(recorded, given):
    """True when two normalisation parts are the same values (a number or one per channel)."""
    try:
        return bool(np.allclose(recorded, given))
    except ValueError:  # one value per channel against another channel count
        return False


# -------------------------------------------------------------------------------------- interpreters

def choose_interpreter(interpreter="auto"):
    """The one name of the interpreter to use: `interpreter` (any spelling) if it imports here, or for
    ``"auto"`` the first of AUTO_ORDER that does; RunnerError with the fix otherwise."""
    try:
        names = AUTO_ORDER if interpreter == "auto" else (interpreters.canonical(interpreter),)
    except ValueError as error:
        raise RunnerError(str(error)) from error
    for name in names:
        if interpreters.available(name):
            return name
    if interpreter != "auto":
        try:
            interpreters.load_module(names[0])
        except interpreters.InterpreterUnavailable as error:
            hint = (" (or run this tool with the Python of a venv that has it: `python -m tfquant_lite.cli`)"
                    if names[0] == "tflite-runtime" else "")
            raise RunnerError(f"{error}{hint}") from error
    raise RunnerError(f"no usable TFLite interpreter ({', '.join(names)} do not import); install one: "
                      "`pip install ai-edge-litert` (or tflite-runtime with numpy<2, or tflite-micro)")


def open_interpreter(model, name, threads=1, arena_kb=DEFAULT_ARENA_KB, quiet=True):
    """An `interpreters.Session` for `model` (bytes) on interpreter `name` (``name``, ``input``/``output``
    details, ``set_input``, ``invoke``, ``get_output``); RunnerError when it cannot load the model."""
    try:
        return interpreters.open_session(model, name, threads, arena_kb * 1024, quiet)
    except interpreters.ArenaTooSmall as error:
        raise RunnerError(f"{error}: raise --arena-kb") from error
    except (RuntimeError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunnerError(f"{name} cannot load this model ({first}); see docs/EXPORT.md for which "
                          "formats each interpreter runs") from error


def _expanded(data, source):
    from . import fold
    try:
        return fold.expand(data)
    except Exception as error:  # noqa: BLE001 - a file the folder cannot handle: say so, keep the traceback for --debug
        raise RunnerError(f"cannot expand {source} ({type(error).__name__}: {error}); "
                          "run it with --no-expand") from error


def _is_packed(record, data):
    """True for a file whose graph unpacks sign bits (GATHER: the packed and packed-int8 formats), which `fold`
    expands; not a packed-tflm file, whose 1-bit layers are its TFQUANT_BINARY op, with nothing to fold.
    False where the file cannot be read (no flatbuffers or schema here), since it cannot be folded either."""
    if record["checksum"] is Integrity.NOT_CHECKED:
        return False
    from . import flatbuffer as fb
    model = fb.read(data)
    return any(fb.op_name(model, op) == "GATHER" for op in model.subgraphs[0].operators)


# ----------------------------------------------------------------------------------------------- run

def _quantize(x, details):
    """float -> the input tensor's dtype: ``q = clip(round(x / s) + z)`` for integer tensors."""
    dtype = details["dtype"]
    if dtype.kind == "f":
        return x.astype(dtype)
    if details["quantization"] is None:
        raise RunnerError(f"the model's input tensor is {dtype} without quantization parameters: cannot feed "
                          "images (export it with float input, as tfquant-export does)")
    scale, zero = details["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)


def _probabilities(y, details):
    """Output tensor -> class probabilities (dequantize ``(q - z) * s``, softmax unless already one)."""
    y = np.asarray(y).astype(np.float64).reshape(-1)
    if details["dtype"].kind != "f" and details["quantization"] is not None:
        scale, zero = details["quantization"]
        y = (y - zero) * scale
    if y.min() >= 0 and abs(y.sum() - 1) < 1e-2:
        return y / y.sum()
    e = np.exp(y - y.max())
    return e / e.sum()


def _fit_shape(images, shape, mean, std):
    """(N, H, W[, C]) pixels -> (N, 1, H, W, C) float32 ``(p / 255 - mean) / std`` for a [1, H, W, C] input."""
    want = tuple(int(d) for d in shape[1:])
    try:
        norm.check_channels(mean, std, want[-1] if want else 1)
    except ValueError as error:
        raise RunnerError(str(error)) from None
    x = (np.asarray(images, np.float32) / PIXEL_MAX - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    if x.ndim == len(want):
        x = x[..., None]
    if x.shape[1:] != want:
        raise RunnerError(f"images have shape {x.shape[1:]} but the model takes {want}: "
                          "resize them (e.g. 28x28 grey for Fashion-MNIST) before running")
    return x[:, None]


def run(model_path, images, labels=None, interpreter="auto", mean=None, std=None, threads=1,
        arena_kb=DEFAULT_ARENA_KB, warmup=1, expand=None, quiet=True, trust_foreign=False):
    """Classify ``images`` (8-bit pixels, (N, H, W[, C])) one at a time with a TFLite model.

    The file's size is checked before it is read (`check_size`), then its bytes (`check_model`: a file
    tfquant stamped must match its stamp byte for byte; a foreign one, or any under ``trust_foreign``, is
    checked for soundness and then tried in a forked child, `crash_guard`, so an interpreter crash is a
    refusal); mean/std default to the file's recorded normalisation;
    ``expand`` None: expand packed files unless the interpreter is TFLite Micro (True/False force it);
    ``quiet``: silence the interpreter's log lines while it loads.
    Returns a `RunResult` (run_result.py: the interpreter used, predictions, probabilities, accuracy, latency,
    load time, normalisation and the file's `Integrity`).
    Warns (`RunnerWarning`) when no normalisation is known or the file is foreign. Every argument is checked
    here, whoever calls (mean/std by `normalization.check`, labels as class indices >= 0): `RunnerError`.
    """
    source = str(model_path)
    if not os.path.isfile(source):
        raise RunnerError(f"model file not found: {source}")
    if not 1 <= threads <= MAX_THREADS:
        raise RunnerError(f"threads {threads}: give 1..{MAX_THREADS} (4 per core of this machine)")
    start = time.perf_counter()
    check_size(source, "model")
    with open(source, "rb") as f:
        data = f.read()
    record, note = check_model(data, source, trust_foreign)
    if note:
        warnings.warn(note, RunnerWarning, stacklevel=2)
    mean, std, norm_source = normalization(record, mean, std)
    images = check_pixels(images)
    labels = None if labels is None else _labels(labels, "the labels")
    if norm_source == "unknown":
        warnings.warn("the inputs are 8-bit pixels (0..255) and no normalisation is known (the file records "
                      "none): fed as p/255; if the model was trained on normalised inputs, pass --mean/--std "
                      "(the training set's statistics of p/255), or re-export with the normalisation",
                      RunnerWarning, stacklevel=2)
    name = choose_interpreter(interpreter)
    if expand and record["checksum"] is Integrity.NOT_CHECKED:
        raise RunnerError("--expand needs flatbuffers and a TFLite schema here (`pip install flatbuffers "
                          "ai-edge-litert` or tflite-micro); or run without --expand")
    expanded = (name != "tflm" if expand is None else expand) and _is_packed(record, data)
    loaded = _expanded(data, source) if expanded else data
    if record["checksum"] is not Integrity.VERIFIED:
        crash = crash_guard.crash_of(loaded, name, threads, arena_kb * 1024)
        if crash:
            raise RunnerError(f"{source} is malformed: {crash} when tried on it in a child process; "
                              "re-export it, or get a sound copy of it")
    model = open_interpreter(loaded, name, threads, arena_kb, quiet)
    load_ms = 1e3 * (time.perf_counter() - start)
    batch = _fit_shape(images, model.input["shape"], mean, std)
    if labels is not None and len(labels) != len(batch):
        raise RunnerError(f"{len(labels)} labels for {len(batch)} images")
    check_labels(labels, int(np.prod(model.output["shape"][1:], dtype=np.int64)))
    probs, times = [], []
    for i, x in enumerate(batch):
        x = _quantize(x, model.input)
        # Set the input before every invoke: TFLite Micro reuses the input tensor's arena memory for
        # later activations, so a second invoke without it computes on garbage.
        for _ in range(warmup if i == 0 else 0):
            model.set_input(x)
            model.invoke()
        model.set_input(x)
        start = time.perf_counter()
        model.invoke()
        times.append(time.perf_counter() - start)
        probs.append(_probabilities(model.get_output(), model.output))
    probs = np.stack(probs)
    predictions = probs.argmax(axis=1)
    times_ms = np.array(times) * 1e3
    return RunResult(
        interpreter=model.name, machine=platform.machine(), n=len(batch), load_ms=load_ms, expanded=expanded,
        normalization={"mean": mean, "std": std, "source": norm_source}, integrity=record["checksum"],
        predictions=predictions, probabilities=probs,
        accuracy=None if labels is None else float(np.mean(predictions == np.asarray(labels))),
        latency_ms={"p50": float(np.percentile(times_ms, 50)), "p90": float(np.percentile(times_ms, 90)),
                    "p99": float(np.percentile(times_ms, 99)), "mean": float(times_ms.mean())})

"""On-device runner for the exported image classifiers: predictions, accuracy, latency percentiles.

    python run_tflite.py MODEL.tflite DATA.npz                 # x: (N, H, W[, C]) uint8, y: labels (optional)
    python run_tflite.py MODEL.tflite a.png b.png c.npy        # single images (8-bit PNG, .npy)
    python run_tflite.py MODEL.tflite DATA.npz --interpreter tflite_runtime --limit 200
    python run_tflite.py PACKED.tflite DATA.npz --expand    # unpack the 1-bit filters once, at load

This file is copied onto devices on its own: it needs numpy and ONE interpreter, whichever the device
has, tried in this order by ``--interpreter auto``:

    litert          ai_edge_litert.interpreter   (LiteRT, the successor of tflite-runtime)
    tflite_runtime  tflite_runtime.interpreter   (Raspberry Pi OS / older devices; needs numpy<2)
    tflm            tflite_micro                 (TensorFlow Lite Micro on the host; arena size: --arena-kb)

Preprocessing: pixels ``p`` in 0..255 become ``x = (p / 255 - mean) / std`` (float32, NHWC; default
``mean=0, std=1``; pass the training set's statistics with --mean/--std when the model does not
normalise inside, as android_demo/models/models.json records). A quantized input tensor (scale
``s``, zero point ``z``) gets ``q = clip(round(x / s) + z)``; a quantized output is read back as
``(q - z) * s``. The class
probabilities are the output itself when it already is a distribution (non-negative, sums to 1),
``softmax(output)`` otherwise. One image per ``invoke()``; latency is the wall time of ``invoke()``
alone, after one warm-up call, reported as percentiles p50/p90/p99 in milliseconds.

``--expand`` folds a packed file's in-graph unpacking into constant filters when the model is loaded
(``fold.py``, which needs flatbuffers and the TFLite schema that ai-edge-litert ships): the convs then
run on XNNPACK at int8/float32 speed, and take int8/float32 memory. Copy ``tfquant/tflite/fold.py``
and ``tfquant/tflite/flatbuffer.py`` next to this file to use it on a device.
"""
import argparse
import importlib
import json
import os
import platform
import struct
import sys
import time
import zlib

import numpy as np

INTERPRETERS = ("litert", "tflite_runtime", "tflm")
_MODULES = {"litert": "ai_edge_litert.interpreter", "tflite_runtime": "tflite_runtime.interpreter",
            "tflm": "tflite_micro.python.tflite_micro.runtime"}


class RunnerError(ValueError):
    """Bad input for the runner: the message names the problem and the fix."""


# ---------------------------------------------------------------------------------------------- inputs

def read_png(path):
    """Decode an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA) to an (H, W) uint8 grey image.

    Rows are un-filtered per PNG spec section 9 (None, Sub, Up, Average, Paeth); colour becomes grey as
    ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601), alpha is dropped.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise RunnerError(f"{path}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 4: 2, 2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise RunnerError(f"{path}: only 8-bit non-interlaced grey/RGB(A) PNGs are supported; "
                          "re-save it as such (e.g. `convert in.png -depth 8 -interlace none out.png`)")
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(height, 1 + width * channels)
    img = np.zeros((height, width * channels), np.int32)
    prev = np.zeros(width * channels, np.int32)
    for r in range(height):
        kind, line = raw[r, 0], raw[r, 1:].astype(np.int32)
        if kind in (0, 2):
            cur = (line + prev * (kind == 2)) & 255
        else:  # Sub, Average, Paeth depend on the left neighbour: decode byte by byte
            cur = np.zeros_like(line)
            for i in range(line.size):
                a = cur[i - channels] if i >= channels else 0
                b, c = prev[i], (prev[i - channels] if i >= channels else 0)
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 255
        img[r], prev = cur, cur
    img = img.reshape(height, width, channels)
    if channels >= 3:
        img = np.rint(img[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None]
    return img[..., 0].astype(np.uint8)


def load_inputs(paths):
    """Images and labels from the command line: one ``.npz`` (arrays ``x`` and optional ``y``) or image
    files (``.png``, ``.npy``; no labels). Returns ``(images uint8 (N, H, W), labels or None)``."""
    for path in paths:
        if not os.path.isfile(path):
            raise RunnerError(f"input file not found: {path}")
    if len(paths) == 1 and paths[0].endswith(".npz"):
        with np.load(paths[0]) as data:
            if "x" not in data:
                raise RunnerError(f"{paths[0]} has arrays {sorted(data.files)}; it needs 'x' (images) "
                                  "and optionally 'y' (labels): np.savez(path, x=images, y=labels)")
            return data["x"], (data["y"].astype(np.int64) if "y" in data else None)
    images = []
    for path in paths:
        if path.endswith(".npz"):
            raise RunnerError(f"{path}: pass a .npz file alone, not mixed with other inputs")
        images.append(read_png(path) if path.lower().endswith(".png") else np.load(path))
    return np.stack(images), None


# -------------------------------------------------------------------------------------- interpreters

class _TFLiteLike:
    """LiteRT and tflite-runtime share the tf.lite.Interpreter API."""

    def __init__(self, module, model, threads):
        source = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
        self.interpreter = module.Interpreter(**source, num_threads=threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        if list(self.input["shape"][:1]) != [1]:  # dynamic or larger batch: run one image at a time
            self.interpreter.resize_tensor_input(self.input["index"], [1, *self.input["shape"][1:]])
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]

    def set_input(self, x):
        self.interpreter.set_tensor(self.input["index"], x)

    def invoke(self):
        self.interpreter.invoke()

    def get_output(self):
        return self.interpreter.get_tensor(self.output["index"])


class _Micro:
    """TensorFlow Lite Micro: a fixed arena, no resizing, details per tensor index."""

    def __init__(self, module, model, arena_kb):
        load = module.Interpreter.from_bytes if isinstance(model, bytes) else module.Interpreter.from_file
        self.interpreter = load(model, arena_size=arena_kb * 1024)
        self.input = dict(self.interpreter.get_input_details(0), index=0)
        self.output = dict(self.interpreter.get_output_details(0), index=0)

    def set_input(self, x):
        self.interpreter.set_input(x, 0)

    def invoke(self):
        self.interpreter.invoke()

    def get_output(self):
        return self.interpreter.get_output(0)


def load_expanded(model_path):
    """The model in ``model_path`` with its packed filters folded into constants (bytes), by ``fold.py``
    found next to this file (a device) or in this repository's ``tfquant/tflite/``."""
    here = os.path.dirname(os.path.abspath(__file__))
    for folder in (here, os.path.join(here, os.pardir, "tfquant", "tflite")):
        if os.path.isfile(os.path.join(folder, "fold.py")):
            sys.path.insert(0, folder)
            try:
                fold = importlib.import_module("fold")
            except ImportError as e:
                raise RunnerError(f"--expand: {e}") from e
            finally:
                sys.path.remove(folder)
            with open(model_path, "rb") as f:
                return fold.expand(f.read())
    raise RunnerError("--expand needs fold.py and flatbuffer.py (from tfquant/tflite/) copied next to run_tflite.py")


def open_interpreter(model_path, interpreter="auto", threads=1, arena_kb=2048, expand=False):
    """Open ``model_path`` with the named interpreter, or the first importable one for ``"auto"``
    (``expand``: the model as ``load_expanded`` returns it). Returns ``(name, wrapper)``; the wrapper
    has ``input``/``output`` details, ``set_input``, ``invoke`` and ``get_output``."""
    if not os.path.isfile(model_path):
        raise RunnerError(f"model file not found: {model_path}")
    if interpreter not in ("auto", *INTERPRETERS):
        raise RunnerError(f"unknown interpreter {interpreter!r}; choose one of auto, {', '.join(INTERPRETERS)}")
    names = INTERPRETERS if interpreter == "auto" else (interpreter,)
    model = load_expanded(model_path) if expand else model_path
    failures = []
    for name in names:
        try:
            module = importlib.import_module(_MODULES[name])
        except ImportError as e:  # numpy-2-incompatible tflite-runtime raises ImportError too
            failures.append(f"{name}: {e}")
            continue
        wrapper = _Micro(module, model, arena_kb) if name == "tflm" else _TFLiteLike(module, model, threads)
        return name, wrapper
    raise RunnerError("no usable TFLite interpreter: " + "; ".join(failures) +
                      ". Install one: `pip install ai-edge-litert` (or tflite-runtime with numpy<2, or tflite-micro)")


# ----------------------------------------------------------------------------------------------- run

def _quantize(x, details):
    """float -> the input tensor's dtype: ``q = clip(round(x / s) + z)`` for integer tensors."""
    dtype = np.dtype(details["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scales = details["quantization_parameters"]["scales"]
    zeros = details["quantization_parameters"]["zero_points"]
    if len(scales) == 0:
        raise RunnerError(f"input tensor is {dtype} without quantization parameters: cannot feed images")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scales[0]) + zeros[0], info.min, info.max).astype(dtype)


def _probabilities(y, details):
    """Output tensor -> class probabilities (dequantize ``(q - z) * s``, softmax unless already one)."""
    y = y.astype(np.float64).reshape(-1)
    scales = details["quantization_parameters"]["scales"]
    if np.dtype(details["dtype"]).kind != "f" and len(scales):
        y = (y - details["quantization_parameters"]["zero_points"][0]) * scales[0]
    if y.min() >= 0 and abs(y.sum() - 1) < 1e-2:
        return y / y.sum()
    e = np.exp(y - y.max())
    return e / e.sum()


def _fit_shape(images, shape, mean, std):
    """(N, H, W[, C]) uint8 -> (N, 1, H, W, C) float32 ``(p / 255 - mean) / std`` for a [1, H, W, C] input."""
    x = (np.asarray(images, np.float32) / 255.0 - np.float32(mean)) / np.float32(std)
    want = tuple(int(d) for d in shape[1:])
    if x.ndim == 3:
        x = x[..., None]
    if x.shape[1:] != want:
        raise RunnerError(f"images have shape {x.shape[1:]} but the model takes {want}: "
                          "resize them (e.g. 28x28 grey for Fashion-MNIST) before running")
    return x[:, None]


def run(model_path, images, labels=None, interpreter="auto", mean=0.0, std=1.0, threads=1, arena_kb=2048,
        warmup=1, expand=False):
    """Classify ``images`` (uint8, (N, H, W[, C])) one at a time with a TFLite model (``expand``:
    packed filters folded into constants at load, see ``load_expanded``).

    Returns a dict: ``interpreter`` (name used), ``machine`` (CPU architecture), ``predictions``
    (int array (N,)), ``probabilities``
    ((N, classes)), ``accuracy`` (fraction correct, or None without labels), ``latency_ms``
    ({"p50", "p90", "p99", "mean"} of the per-image ``invoke()`` times), ``n`` and ``load_ms`` (opening
    the model, expansion included).
    """
    start = time.perf_counter()
    name, model = open_interpreter(str(model_path), interpreter, threads, arena_kb, expand)
    load_ms = 1e3 * (time.perf_counter() - start)
    batch = _fit_shape(images, model.input["shape"], mean, std)
    if labels is not None and len(labels) != len(batch):
        raise RunnerError(f"{len(labels)} labels for {len(batch)} images")
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
    return {
        "interpreter": name,
        "machine": platform.machine(),
        "n": len(batch),
        "load_ms": load_ms,
        "predictions": predictions,
        "probabilities": probs,
        "accuracy": None if labels is None else float(np.mean(predictions == np.asarray(labels))),
        "latency_ms": {"p50": float(np.percentile(times_ms, 50)), "p90": float(np.percentile(times_ms, 90)),
                       "p99": float(np.percentile(times_ms, 99)), "mean": float(times_ms.mean())},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help=".tflite file")
    parser.add_argument("inputs", nargs="+", help="one .npz (x, y) or image files (.png, .npy)")
    parser.add_argument("--interpreter", default="auto", choices=("auto", *INTERPRETERS))
    parser.add_argument("--mean", type=float, default=0.0, help="normalisation mean of p/255")
    parser.add_argument("--std", type=float, default=1.0, help="normalisation standard deviation of p/255")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (not TFLM)")
    parser.add_argument("--arena-kb", type=int, default=2048, help="TFLM tensor arena size in KiB")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images")
    parser.add_argument("--show", type=int, default=10, help="print the first N predictions")
    parser.add_argument("--expand", action="store_true",
                        help="fold packed filters into constants at load (needs fold.py + flatbuffer.py here)")
    parser.add_argument("--json", help="also write the result (predictions, probabilities, ...) to this file")
    args = parser.parse_args(argv)
    try:
        images, labels = load_inputs(args.inputs)
        if args.limit is not None:
            images, labels = images[:args.limit], (None if labels is None else labels[:args.limit])
        result = run(args.model, images, labels, args.interpreter, args.mean, args.std, args.threads,
                     args.arena_kb, expand=args.expand)
    except RunnerError as e:
        sys.exit(f"run_tflite: {e}")
    print(f"model {args.model} ({os.path.getsize(args.model)} bytes), interpreter {result['interpreter']}, "
          f"{result['n']} images" + (f", loaded and expanded in {result['load_ms']:.1f} ms" if args.expand else ""))
    for i in range(min(args.show, result["n"])):
        label = "" if labels is None else f"  label {labels[i]}"
        print(f"  [{i}] class {result['predictions'][i]}  p={result['probabilities'][i].max():.3f}{label}")
    if result["accuracy"] is not None:
        print(f"accuracy {result['accuracy']:.4f}")
    lat = result["latency_ms"]
    print(f"latency ms  p50 {lat['p50']:.3f}  p90 {lat['p90']:.3f}  p99 {lat['p99']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in result.items()}, f)


if __name__ == "__main__":
    main()

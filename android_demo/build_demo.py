"""Bundle exported models for the phone demo (android_demo/) with its gallery and manifest.

    python -m android_demo.build_demo packed=runs/main/packed.tflite int8=runs/main/int8.tflite \
        [--mean 0.286 --std 0.353] [--out runs/demo-models | --publish]

Writes into ``--out`` (default ``runs/demo-models``; serve it with
``python android_demo/serve.py --models runs/demo-models``), or, with ``--publish``, into the committed
``android_demo/models`` (and the icons into ``android_demo/icons``):

- ``<name>.tflite`` for each model (other ``.tflite`` files there are removed: the folder is the bundle);
- ``models.json``: per model its file, size in bytes, SHA-256, input/output shape and dtype, plus the
  class names and the preprocessing ``x = (p / 255 - mean) / std`` that the app and the runner apply
  to pixels ``p`` (``mean=0, std=1`` when the model normalises inside);
- ``gallery.json``: the first ``GALLERY_SIZE`` Fashion-MNIST test images (base64 of the raw 28x28 uint8
  pixels) with their labels: the same bytes the browser and ``export/run_tflite.py`` classify;
- with ``--publish``, ``android_demo/icons/icon-{192,512}.png``: the PWA icons, a gallery image scaled up.

Each model is checked first with the LiteRT interpreter against what LiteRT.js (@litertjs/core 2.5)
accepts: a fixed batch of 1 and float32 input/output tensors.
"""
import argparse
import base64
import hashlib
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

from tfquant_lite.files import write_bytes, write_text

GALLERY_SIZE = 24
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DEMO_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = Path("runs") / "demo-models"


class DemoBuildError(ValueError):
    """A model the browser demo cannot run; the message says which export variant is needed."""


def browser_compatibility(model_path):
    """Input/output details of ``model_path``; raises DemoBuildError where LiteRT.js would reject it."""
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=str(model_path))
    details = {}
    for kind, tensors in (("input", interpreter.get_input_details()), ("output", interpreter.get_output_details())):
        if len(tensors) != 1:
            raise DemoBuildError(f"{model_path}: {len(tensors)} {kind} tensors; the demo runs single-input, "
                                 "single-output classifiers")
        t = tensors[0]
        signature = [int(d) for d in t.get("shape_signature", t["shape"])]
        if signature[0] != 1:
            raise DemoBuildError(f"{model_path}: {kind} batch dimension is {signature[0]}; LiteRT.js rejects a "
                                 "dynamic batch: export with a fixed batch of 1")
        if np.dtype(t["dtype"]) != np.float32:
            raise DemoBuildError(f"{model_path}: {kind} tensor is {np.dtype(t['dtype']).name}; LiteRT.js "
                                 "accepts float32 model inputs/outputs only: export with float input/output "
                                 "(QUANTIZE/DEQUANTIZE inside the graph)")
        details[kind] = {"shape": signature, "dtype": "float32"}
    return details


def write_png(path, image):
    """Write an (H, W) uint8 array as an 8-bit grey PNG (filter 0 on every row, zlib level 9)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    h, w = image.shape
    rows = b"".join(b"\x00" + image[r].tobytes() for r in range(h))
    write_bytes(path, b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def write_icons(image, icon_dir):
    """PWA icons: ``image`` (28x28) scaled up by an integer factor and centred on black."""
    icon_dir.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        k = size // image.shape[0]
        big = np.kron(image, np.ones((k, k), np.uint8))
        canvas = np.zeros((size, size), np.uint8)
        top = (size - big.shape[0]) // 2
        canvas[top:top + big.shape[0], top:top + big.shape[1]] = big
        write_png(icon_dir / f"icon-{size}.png", canvas)


def gallery(images, labels):
    """The gallery JSON object for uint8 ``images`` (N, 28, 28) and their labels."""
    return {"source": f"Fashion-MNIST t10k, images 0..{len(images) - 1}",
            "images": [{"index": i, "label": int(y), "pixels": base64.b64encode(x.tobytes()).decode()}
                       for i, (x, y) in enumerate(zip(images, labels))]}


def read_gallery(path):
    """(images uint8 (N, 28, 28), labels (N,)) from a gallery.json written by build_demo."""
    entries = json.loads(Path(path).read_text())["images"]
    images = np.stack([np.frombuffer(base64.b64decode(e["pixels"]), np.uint8).reshape(28, 28) for e in entries])
    return images, np.array([e["label"] for e in entries])


def build_demo(models, out_dir=DEFAULT_OUT, mean=0.0, std=1.0, icons_dir=None):
    """Bundle ``models`` ({name: .tflite path}) into ``out_dir`` (and the icons into ``icons_dir`` when
    given); returns the manifest dict written."""
    from tfquant.data import load_fashion_mnist
    out_dir = Path(out_dir)
    if not models:
        raise DemoBuildError("no models given: pass e.g. {'packed': 'packed.tflite', 'int8': 'int8.tflite'}")
    checked = {name: browser_compatibility(path) for name, path in models.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.tflite"):
        if stale.stem not in models:
            stale.unlink()
    entries = []
    for name, path in models.items():
        target = out_dir / f"{name}.tflite"
        data = Path(path).read_bytes()
        if Path(path).resolve() != target.resolve():
            write_bytes(target, data)
        entries.append({"name": name, "file": target.name, "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(), **checked[name]})
    manifest = {"classes": list(CLASSES), "preprocess": {"mean": float(mean), "std": float(std)}, "models": entries}
    write_text(out_dir / "models.json", json.dumps(manifest, indent=1) + "\n")
    _, (x_test, y_test) = load_fashion_mnist()
    write_text(out_dir / "gallery.json", json.dumps(gallery(x_test[:GALLERY_SIZE], y_test[:GALLERY_SIZE])) + "\n")
    if icons_dir is not None:
        write_icons(x_test[0], Path(icons_dir))
    return manifest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME=PATH", help="e.g. packed=runs/main/packed.tflite")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder to write the bundle into (default {DEFAULT_OUT})")
    parser.add_argument("--publish", action="store_true",
                        help="write into the committed android_demo/models (and android_demo/icons) instead of --out")
    parser.add_argument("--mean", type=float, default=0.0, help="input normalisation mean (pixels in [0, 1])")
    parser.add_argument("--std", type=float, default=1.0, help="input normalisation standard deviation")
    args = parser.parse_args(argv)
    pairs = [m.split("=", 1) for m in args.models]
    if any(len(p) != 2 for p in pairs):
        sys.exit("build_demo: give models as NAME=PATH, e.g. packed=runs/main/packed.tflite")
    try:
        out, icons = (DEMO_DIR / "models", DEMO_DIR / "icons") if args.publish else (args.out, None)
        manifest = build_demo(dict(pairs), out, args.mean, args.std, icons)
    except DemoBuildError as e:
        sys.exit(f"build_demo: {e}")
    for m in manifest["models"]:
        print(f"{m['name']:>12}: {m['file']} {m['bytes']} bytes")
    if not args.publish:
        print(f"serve it: python android_demo/serve.py --models {args.out}")


if __name__ == "__main__":
    main()

"""Size and single-thread latency of the paper's VGG-9, ResNet-56 (and WRN-56-2) with binary conv kernels.

    python -m benchmarks.export_size_latency [--repeats 50] [--write]

Models: `training.models.vgg9` / `resnet56` / `wrn56_2` (CIFAR-10 shapes), kernels set to ±s per output channel and
batch norms to random statistics by `benchmarks.export_models.binarize` (no training: size and speed do
not depend on the values). Calibration and verification inputs: 64 standard-normal images (CIFAR-10
cannot be downloaded here). Each file is verified by `tfquant.tflite.export`. Latency: median of
`--repeats` invokes after 5 warm-ups, LiteRT, 1 thread, XNNPACK on and off, all formats of a model
measured in the same process one after another. TFLM arena: minimum found by bisection (int8 formats).
`--write` puts the table into docs/RESULTS.md, section "Export: size and latency".
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import tfquant.tflite as tflite
from benchmarks.export_models import paper_model
from benchmarks.export_results import replace_section
from tfquant.tflite import interpreters

MODELS = ("vgg9", "resnet56", "wrn56_2")


def latency_ms(path, x, xnnpack, repeats):
    """Median wall time of one invoke (ms), LiteRT, one thread."""
    interp = interpreters.litert(path, xnnpack=xnnpack, num_threads=1)
    interp.set_tensor(interp.get_input_details()[0]["index"], x[:1])
    for _ in range(5):
        interp.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def conv_int8_bytes(report):
    """Largest conv filter of the model at one byte a weight (the arena goal's unit)."""
    return max(l["weights"] for l in report["layers"] if l["op"] != "FULLY_CONNECTED")


def measure(name, repeats, folder):
    model = paper_model(name)
    x = np.random.default_rng(0).standard_normal((64, 32, 32, 3)).astype(np.float32)
    rows = []
    for fmt in tflite.FORMATS:
        path = Path(folder) / f"{name}_{fmt}.tflite"
        report = tflite.export(model, path, format=fmt, calibration=x, tflm_arena=fmt in ("int8", "packed-int8"))
        rows.append({"model": name, "format": fmt, "report": report,
                     "ms_xnnpack": latency_ms(path, x, True, repeats),
                     "ms_builtin": latency_ms(path, x, False, repeats)})
        print(f"{name} {fmt}: {report['file_bytes']:,} B, {rows[-1]['ms_xnnpack']:.2f} ms (XNNPACK) "
              f"{rows[-1]['ms_builtin']:.2f} ms (builtin)", flush=True)
    return rows


def table(rows):
    head = ("| model | format | file bytes | / float32 | bits per binary conv weight (with scales, table) "
            "| LiteRT ms, XNNPACK | LiteRT ms, builtin | TFLM arena | verified (rel. error, argmax) |\n"
            "|---|---|---:|---:|---|---:|---:|---:|---|\n")
    lines = []
    for row in rows:
        r = row["report"]
        bits = (f"{r['bits_per_packed_weight']:.3f} ({r['bits_per_packed_weight_with_scales']:.3f})"
                if "bits_per_packed_weight" in r else "")
        arena = f"{r['tflm_arena_bytes']:,}" if "tflm_arena_bytes" in r else ""
        v = r["verification"]
        lines.append(f"| {row['model']} | {row['format']} | {r['file_bytes']:,} | {r['ratio_to_float32']:.4f} | {bits} "
                     f"| {row['ms_xnnpack']:.2f} | {row['ms_builtin']:.2f} | {arena} "
                     f"| {v['relative_error']:.2g}, {v.get('argmax_agreement', 1):.2f} |")
    return head + "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--write", action="store_true", help="write the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for name in args.models for row in measure(name, args.repeats, folder)]
    text = table(rows)
    print(text)
    for name in args.models:
        by = {row["format"]: row["report"] for row in rows if row["model"] == name}
        goal = by["int8"]["tflm_arena_bytes"] + 2 * conv_int8_bytes(by["int8"])
        print(f"{name}: TFLM arena packed-int8 {by['packed-int8']['tflm_arena_bytes']:,} vs goal "
              f"{goal:,} (int8 arena + 2 x largest int8 conv filter)")
    if args.write:
        replace_section("Export: size and latency", text)
    return rows


if __name__ == "__main__":
    main()

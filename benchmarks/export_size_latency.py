"""Size and single-thread latency of the paper's VGG-9, ResNet-56 (and WRN-56-2) with binary conv kernels.

    python -m benchmarks.export_size_latency [--repeats 50] [--write]

Models: `tfquant.models.vgg9` / `resnet56` / `wrn56_2` (CIFAR-10 shapes), kernels set to ±s per output channel and
batch norms to random statistics by `benchmarks.export_models.binarize` (no training: size and speed do
not depend on the values). Calibration and verification inputs: 64 standard-normal images (CIFAR-10
cannot be downloaded here). Each file is verified by `tfquant.tflite.export`. Latency: median of
`--repeats` invokes after 5 warm-ups, LiteRT, 1 thread, XNNPACK on and off, all formats of a model
measured in the same process, round-robin. TFLM arena: minimum found by bisection (int8 formats).
Rows "expanded at load": the packed files after `tfquant.tflite.expand` (what `tfquant-run` does by default
off TFLite Micro): same file on disk, filters folded back into constants in memory; the expansion time is the
median of 5 runs and the outputs are compared with the unpacked format's on LiteRT.
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
from benchmarks.results_page import replace_section
from tfquant_lite import interpreters

MODELS = ("vgg9", "resnet56", "wrn56_2")
EXPANDED = {"packed": "float32", "packed-int8": "int8"}  # packed format -> the format its expansion equals
EXPANSION = ("Expanding at load (`tfquant.tflite.expand`, `tfquant-run`'s default off TFLM; rows \"expanded at load\") "
             "keeps the download at the packed file's size and gives back the unpacked format's XNNPACK speed and "
             "outputs. It does not save memory: the expanded filters take int8/float32 bytes in RAM (the in-memory "
             "model sizes above), so microcontrollers keep the in-graph unpack (TFLM arena column).")


def latencies_ms(paths, x, repeats):
    """Median wall time (ms) of one invoke per (path, xnnpack), LiteRT, one thread. The files are
    timed round-robin, one invoke each per round, so that load from other processes on this shared
    machine hits every format alike."""
    runs = {}
    for path in paths:
        for xnnpack in (True, False):
            interp = interpreters.open_session(path, "litert" if xnnpack else "litert-noxnnpack")
            interp.set_input(x[:1])
            for _ in range(5):
                interp.invoke()
            runs[path, xnnpack] = (interp, [])
    for _ in range(repeats):
        for interp, times in runs.values():
            start = time.perf_counter()
            interp.invoke()
            times.append(time.perf_counter() - start)
    return {key: 1000 * statistics.median(times) for key, (_, times) in runs.items()}


def largest_filter(report):
    """Weights of the largest conv filter: its int8 bytes, the arena goal's unit."""
    return max(l["weights"] for l in report["layers"] if l["op"] != "FULLY_CONNECTED")


def expand(packed_path, base_path, path, x):
    """Expand `packed_path` into `path`: median expansion ms over 5 runs, in-memory model bytes, and
    the largest output difference from the unpacked file on LiteRT (XNNPACK)."""
    data, seconds = packed_path.read_bytes(), []
    for _ in range(5):
        start = time.perf_counter()
        out = tflite.expand(data)
        seconds.append(time.perf_counter() - start)
    path.write_bytes(out)
    diff = np.abs(interpreters.run(out, x, "litert") - interpreters.run(base_path, x, "litert")).max()
    return {"path": path, "expand_ms": 1000 * statistics.median(seconds), "bytes": len(out), "max_diff": float(diff)}


def measure(name, repeats, folder):
    model = paper_model(name)
    x = np.random.default_rng(0).standard_normal((64, 32, 32, 3)).astype(np.float32)
    paths = {fmt: Path(folder) / f"{name}_{fmt}.tflite" for fmt in tflite.FORMATS}
    reports = {fmt: tflite.export(model, path, format=fmt, calibration=x, tflm_arena=fmt in ("int8", "packed-int8"))
               for fmt, path in paths.items()}
    expanded = {fmt: expand(paths[fmt], paths[base], Path(folder) / f"{name}_{fmt}_expanded.tflite", x[:8])
                for fmt, base in EXPANDED.items()}
    ms = latencies_ms(list(paths.values()) + [e["path"] for e in expanded.values()], x, repeats)
    rows = [{"model": name, "format": fmt, "report": reports[fmt], "ms_xnnpack": ms[paths[fmt], True],
             "ms_builtin": ms[paths[fmt], False]} for fmt in tflite.FORMATS]
    rows += [{"model": name, "format": f"{fmt}, expanded at load", "report": reports[fmt], "expanded": e,
              "ms_xnnpack": ms[e["path"], True], "ms_builtin": ms[e["path"], False]} for fmt, e in expanded.items()]
    for row in rows:
        print(f"{name} {row['format']}: {row['report']['file_bytes']:,} B, {row['ms_xnnpack']:.2f} ms (XNNPACK) "
              f"{row['ms_builtin']:.2f} ms (builtin)", flush=True)
    return rows


def notes(rows, models):
    """Goal checks computed from the rows: arena, size ratio, and where packed-int8's time goes."""
    lines = []
    for name in models:
        by = {row["format"]: row for row in rows if row["model"] == name}
        r8, p8 = by["int8"]["report"], by["packed-int8"]["report"]
        goal = r8["tflm_arena_bytes"] + 2 * largest_filter(r8)
        lines.append(
            f"- {name}: packed is 1/{1 / by['packed']['report']['ratio_to_float32']:.1f} of float32, packed-int8 "
            f"1/{1 / p8['ratio_to_float32']:.1f}. TFLM arena packed-int8 {p8['tflm_arena_bytes']:,} B vs goal "
            f"{goal:,} B (int8 arena {r8['tflm_arena_bytes']:,} + 2 x largest int8 conv filter "
            f"{largest_filter(r8):,}). packed-int8 {by['packed-int8']['ms_xnnpack']:.2f} ms vs float32+XNNPACK "
            f"{by['float32']['ms_xnnpack']:.2f} ms; of that, unpacking costs "
            f"{by['packed-int8']['ms_builtin'] - by['int8']['ms_builtin']:.2f} ms "
            f"(packed-int8 minus int8, both builtin) and losing XNNPACK on the convs "
            f"{by['int8']['ms_builtin'] - by['int8']['ms_xnnpack']:.2f} ms (int8 builtin minus int8 XNNPACK).")
        e8, e32 = by["packed-int8, expanded at load"], by["packed, expanded at load"]
        lines.append(
            f"  Expanded at load: packed-int8 {e8['ms_xnnpack']:.2f} ms (int8 {by['int8']['ms_xnnpack']:.2f}, float32 "
            f"{by['float32']['ms_xnnpack']:.2f}, all XNNPACK) after a one-off {e8['expanded']['expand_ms']:.0f} ms "
            f"expansion to a {e8['expanded']['bytes']:,} B model in memory (int8 file {r8['file_bytes']:,} B); packed "
            f"{e32['ms_xnnpack']:.2f} ms after {e32['expanded']['expand_ms']:.0f} ms, {e32['expanded']['bytes']:,} B "
            f"(float32 file {by['float32']['report']['file_bytes']:,} B).")
    return "\n".join(lines)


def table(rows):
    head = ("| model | format | file bytes | / float32 | bits per binary conv weight (with scales, table) "
            "| LiteRT ms, XNNPACK | LiteRT ms, builtin | TFLM arena | verified (rel. error, argmax) |\n"
            "|---|---|---:|---:|---|---:|---:|---:|---|\n")
    lines = []
    for row in rows:
        r, e = row["report"], row.get("expanded")
        bits = (f"{r['bits_per_packed_weight']:.3f} ({r['bits_per_packed_weight_with_scales']:.3f})"
                if "bits_per_packed_weight" in r and not e else "")
        arena = f"{r['tflm_arena_bytes']:,}" if "tflm_arena_bytes" in r and not e else ""
        v = r["verification"]
        verified = (f"{v['relative_error']:.2g}, {v.get('argmax_agreement', 1):.2f}" if not e else
                    f"max diff vs {EXPANDED[row['format'].split(',')[0]]} {e['max_diff']:.2g}")
        lines.append(f"| {row['model']} | {row['format']} | {r['file_bytes']:,} | {r['ratio_to_float32']:.4f} | {bits} "
                     f"| {row['ms_xnnpack']:.2f} | {row['ms_builtin']:.2f} | {arena} | {verified} |")
    return head + "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--write", action="store_true", help="write the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        rows = [row for name in args.models for row in measure(name, args.repeats, folder)]
    text = (f"Produced by `python -m benchmarks.export_size_latency --repeats {args.repeats} --write` "
            "(LiteRT 1 thread, median ms; random ±s kernels, see the script's docstring).\n\n"
            + table(rows) + "\n\n" + notes(rows, args.models) + "\n\n" + EXPANSION)
    print(text)
    if args.write:
        replace_section("Export: size and latency", text)
    return rows


if __name__ == "__main__":
    main()

"""Microcontroller figures on the four MLPerf Tiny reference nets: file bytes, TFLite Micro arena, TFLM and
LiteRT latency on this host, verification, for int8 / int4 / packed-int8, side by side in one process.

    python -m benchmarks.mlperf_tiny [--nets ic_resnet8 ...] [--repeats 20] [--write]

Nets: `benchmarks/mlperf_tiny_models.py` (binary kernels, batch norms settled on a data batch; inputs are
standard-normal stand-ins of each net's input shape, since CIFAR-10, Speech Commands, VWW and ToyADMOS
are not on this machine). Every file comes from `tfquant.tflite.export` (verified on LiteRT against
Keras; the figures are the export's: relative error and argmax agreement on its held-out set, and for
packed-int8 the difference to the unpacked int8 file, which must be 0). Arena: the minimum in which the
`tflite-micro` package runs the file with unchanged outputs (bisection). Column "whole" is packed-int8
with every filter rebuilt in one piece (`pack(..., spare_bytes=inf)`, the packer before chunking);
target: arena <= 1.10 x int8 + 8 KiB. "TFLM == int8": packed-int8 outputs on TFLM bit-identical to
int8's. Latency: median of `--repeats` invokes after 2 warm-ups, 1 thread; TFLM's reference kernels on
x86 (not a board's speed: their ratio is what carries over). `--write` puts the table into
docs/RESULTS.md, section "Microcontrollers: MLPerf Tiny".
"""
import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import tfquant.tflite as tflite
from benchmarks.mlperf_tiny_models import NAMES, TITLES, binary_net, data
from benchmarks.results_page import replace_section
from tfquant.tflite import interpreters, pack

FORMATS = ("int8", "int4", "packed-int8")
COMMAND = "python -m benchmarks.mlperf_tiny --write"


def median_ms(session, x, repeats):
    session.set_input(x[None])
    for _ in range(2):
        session.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.invoke()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(name, repeats, folder):
    """One row per format of net `name` (dicts), plus the packed-int8 arena with whole-filter rebuilds."""
    model, calibration = binary_net(name), data(name, 64, seed=2)
    x = calibration[0]
    rows, files = [], {}
    for fmt in FORMATS:
        path = folder / f"{name}-{fmt}.tflite"
        try:
            report = tflite.export(model, path, format=fmt, calibration=calibration)
        except tflite.VerificationError as error:
            rows.append({"net": name, "format": fmt, "failed": str(error).split(" (figures")[0]})
            continue
        files[fmt] = data_bytes = path.read_bytes()
        arena = interpreters.tflm_min_arena(data_bytes, x)
        row = {"net": name, "format": fmt, "bytes": len(data_bytes), "arena": arena,
               "tflm_ms": median_ms(interpreters.open_session(data_bytes, "tflm", arena_size=arena + 1024), x, repeats),
               "litert_ms": median_ms(interpreters.open_session(data_bytes, "litert"), x, repeats),
               "verification": report["verification"], "not_packed": report["not_packed"],
               "chunks": sum(layer.get("chunks", 1) > 1 for layer in report["layers"])}
        rows.append(row)
    if "packed-int8" in files and "int8" in files:
        whole, _ = pack.pack(files["int8"], spare_bytes=1 << 40)
        packed = next(r for r in rows if r["format"] == "packed-int8")
        packed["arena_whole"] = interpreters.tflm_min_arena(whole, x)
        probe = calibration[:4]
        packed["tflm_equal"] = bool(np.array_equal(interpreters.run(files["packed-int8"], probe, "tflm"),
                                                   interpreters.run(files["int8"], probe, "tflm")))
    return rows


def table(rows):
    int8 = {r["net"]: r for r in rows if r["format"] == "int8" and "arena" in r}
    lines = ["| net | format | file bytes | vs int8 | TFLM arena | target | TFLM ms | LiteRT ms | "
             "verification (rel. error, argmax agreement) | notes |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        title = TITLES[r["net"]]
        if "failed" in r:
            lines.append(f"| {title} | {r['format']} | - | - | - | - | - | - | refused: {r['failed']} | |")
            continue
        base = int8.get(r["net"])
        target = 1.10 * base["arena"] + 8192 if base else None
        v = r["verification"]
        figures = f"{v['relative_error']:.3g}, {v.get('argmax_agreement', float('nan')):.2f}"
        notes = []
        if r["format"] == "packed-int8":
            notes.append(f"whole-filter rebuild: {r['arena_whole']:,} B")
            notes.append(f"{r['chunks']} filter(s) in chunks" if r["chunks"] else "no chunks")
            notes.append("TFLM == int8" if r.get("tflm_equal") else "TFLM differs from int8")
        if r["not_packed"] and r["format"] != "int8":
            notes.append(f"kept: {', '.join(r['not_packed'])}")
        verdict = "" if target is None or r["format"] == "int8" else (" ok" if r["arena"] <= target else " **over**")
        lines.append(f"| {title} | {r['format']} | {r['bytes']:,} | {r['bytes'] / base['bytes']:.3f} | "
                     f"{r['arena']:,}{verdict} | {target:,.0f} | {r['tflm_ms']:.2f} | {r['litert_ms']:.3f} | "
                     f"{figures} | {'; '.join(notes)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=list(NAMES), choices=NAMES, help="which nets (default all four)")
    parser.add_argument("--repeats", type=int, default=20, help="timed invokes per file and interpreter")
    parser.add_argument("--out", type=Path, default=Path("runs") / "mlperf_tiny", help="folder for the .tflite files")
    parser.add_argument("--write", action="store_true", help="put the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.nets:
        started = time.time()
        rows += measure(name, args.repeats, args.out)
        print(f"{name}: {time.time() - started:.0f} s", flush=True)
    text = table(rows)
    print(text)
    if args.write:
        replace_section("Microcontrollers: MLPerf Tiny", f"`{COMMAND}` (files in {args.out}/)\n\n{text}\n")
    return rows


if __name__ == "__main__":
    main()

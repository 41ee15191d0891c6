"""Microcontroller figures on the four MLPerf Tiny reference nets: file bytes, TFLite Micro arena, TFLM and
LiteRT latency on this host, verification, for int8 / int4 / packed-int8, side by side in one process.

    python -m benchmarks.mlperf_tiny [--nets ic_resnet8 ...] [--repeats 20] [--write]

Nets: `benchmarks/mlperf_tiny_models.py` (binary kernels, batch norms settled on a data batch; inputs are
standard-normal stand-ins of each net's input shape, since CIFAR-10, Speech Commands, VWW and ToyADMOS
are not on this machine). The files are the exporter's rewrites of one full-int8 conversion per net
(`convert.to_tflite`, then `int4.to_int4` / `pack.pack`), written whether or not they pass the export's
verification limits, because post-training int8 of these untrained nets is itself off (FINDINGS); the
table gives the figures instead: relative error and argmax agreement against Keras on 64 held-out inputs,
on LiteRT. Arena: the minimum in which the
`tflite-micro` package runs the file with unchanged outputs (bisection). Column "whole" is packed-int8
with every filter rebuilt in one piece (`pack(..., spare_bytes=inf)`, the packer before chunking);
target: arena <= 1.10 x int8 + 8 KiB. "TFLM == int8": packed-int8 outputs on TFLM bit-identical to
int8's. Latency: median of `--repeats` invokes after 2 warm-ups, 1 thread; TFLM's reference kernels on
x86 (not a board's speed: their ratio is what carries over). `--write` puts the table into
docs/RESULTS.md, section "Microcontrollers: MLPerf Tiny".
"""
import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.mlperf_tiny_models import NAMES, TITLES, binary_net, data
from benchmarks.results_page import replace_section
from tfquant.files import write_bytes
from tfquant.tflite import convert, int4, interpreters, pack, verify

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
    """One row per format of net `name` (dicts); packed-int8 also gets the arena with whole-filter rebuilds."""
    model, calibration, held_out = binary_net(name), data(name, 64, seed=2), data(name, 64, seed=3)
    x = calibration[0]
    base = convert.to_tflite(model, int8=True, calibration=calibration)
    packed, records = pack.pack(base)
    files = {"int8": (base, []), "int4": int4.to_int4(base), "packed-int8": (packed, records)}
    expected = verify.keras_outputs(model, held_out)
    rows = []
    for fmt, (model_bytes, records) in files.items():
        write_bytes(folder / f"{name}-{fmt}.tflite", model_bytes)
        arena = interpreters.tflm_min_arena(model_bytes, x)
        rows.append({"net": name, "format": fmt, "bytes": len(model_bytes), "arena": arena,
                     "tflm_ms": median_ms(interpreters.open_session(model_bytes, "tflm", arena_size=arena + 1024),
                                          x, repeats),
                     "litert_ms": median_ms(interpreters.open_session(model_bytes, "litert"), x, repeats),
                     "verification": verify.figures(expected, interpreters.run(model_bytes, held_out, "litert")),
                     "not_packed": [r.op.lower() for r in records if not r.packed],
                     "chunks": sum(r.chunks > 1 for r in records)})
    whole, _ = pack.pack(base, spare_bytes=1 << 40)
    row = rows[-1]
    row["arena_whole"] = interpreters.tflm_min_arena(whole, x)
    probe = held_out[:4]
    row["tflm_equal"] = bool(np.array_equal(interpreters.run(packed, probe, "tflm"),
                                            interpreters.run(base, probe, "tflm")))
    row["litert_equal"] = bool(np.array_equal(interpreters.run(packed, held_out, "litert-noxnnpack"),
                                              interpreters.run(base, held_out, "litert-noxnnpack")))
    return rows


def table(rows):
    int8 = {r["net"]: r for r in rows if r["format"] == "int8"}
    lines = ["| net | format | file bytes | vs int8 | TFLM arena | target | TFLM ms | LiteRT ms | "
             "verification (rel. error, argmax agreement) | notes |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        title = TITLES[r["net"]]
        base = int8.get(r["net"])
        target = 1.10 * base["arena"] + 8192
        v = r["verification"]
        figures = f"{v['relative_error']:.3g}" + (f", {v['argmax_agreement']:.2f}" if "argmax_agreement" in v else "")
        notes = []
        if r["format"] == "packed-int8":
            notes.append(f"whole-filter rebuild: {r['arena_whole']:,} B")
            notes.append(f"{r['chunks']} filter(s) in chunks" if r["chunks"] else "no chunks")
            same = [k for k, flag in (("TFLM", r["tflm_equal"]), ("LiteRT", r["litert_equal"])) if flag]
            notes.append(f"outputs == int8's on {' and '.join(same)}" if same else "outputs differ from int8's")
        if r["not_packed"] and r["format"] != "int8":
            notes.append(f"kept: {', '.join(r['not_packed'])}")
        verdict = "" if r["format"] == "int8" else (" ok" if r["arena"] <= target else " **over**")
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

"""Microcontroller figures on the four MLPerf Tiny reference nets as published: file bytes, TFLite Micro
arena, TFLM latency relative to int8, and output equality with int8, for every format of `FORMATS`.

    python -m benchmarks.mlperf_tiny [--nets ic_resnet8 ...] [--steps 4] [--repeats 20] [--write]

Nets: `benchmarks/mlperf_tiny_published.py` (mlcommons/tiny's Keras code ported to Keras 3), each trained
`--steps` batches with BC-Adam on stand-in data and its batch norms settled (`mlperf_tiny_models.trained_net`),
then converted once to full int8 by tfquant (`convert.to_tflite`, 64 calibration inputs). Every format is a
rewrite of that int8 file:

- int8: the file itself (stock TFLM kernels, int8 filters in flash);
- packed-int8: tfquant's bit-packed filters rebuilt by builtin CAST -> GATHER -> RESHAPE ops (`pack.pack`);
- tflm-lut: TFLM's own compression, 1-bit look-up tables per output channel decoded by `TFLM_DECODE`
  (`mlperf_tiny_lut.compress_binary`).

"constants" = the bytes of the file's buffers (weights, biases, LUT tables): the file minus the graph,
quantization parameters and tensor names (the converter's scope names, ~10 KB on DS-CNN, which
packed-int8 drops and TFLM's compressor keeps); a second table splits every file into constants,
tensor names, quantization parameters and the rest (`file_parts`). Measured in the `tflite-micro` Python interpreter
(`mlperf_tiny_tflm`): arena = TFLM's `arena_used_bytes` (RecordingMicroAllocator total); latency =
median thread CPU time of `--repeats` invokes, the formats taking turns in one process, and its ratio to
int8; "== int8" = raw outputs bit-identical to the int8 file's on TFLM for 8 held-out inputs (else the
largest difference in output quantization steps).
`--write` puts the table into docs/RESULTS.md, section "Microcontrollers: MLPerf Tiny".
"""
import argparse
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from benchmarks.mlperf_tiny_lut import compress_binary
from benchmarks.mlperf_tiny_models import data, trained_net
from benchmarks.mlperf_tiny_published import COMMIT, NAMES, TITLES
from benchmarks.mlperf_tiny_tflm import arena_used_bytes, median_latencies, outputs
from benchmarks.results_page import replace_section
from tfquant.tflite import convert, pack, packed_tflm
from tfquant_lite import tflm_ops
from tfquant_lite.files import write_bytes

# name, how it is made from the int8 file (one line per format; the TFLM custom ops a file names are registered
# by `tflm_ops.registerers`)
Format = namedtuple("Format", "name build")
FORMATS = (
    Format("int8", lambda int8: int8),
    Format("packed-int8", lambda int8: pack.pack(int8)[0]),
    Format("tflm-lut", lambda int8: compress_binary(int8)[0]),
    Format("packed-tflm", lambda int8: packed_tflm.to_packed_tflm(int8)[0]),
)
COMMAND = "nice -n 10 python -m benchmarks.mlperf_tiny --write"


def file_parts(model):
    """Where a file's bytes go: "constants" (buffer bytes: weights, biases, LUT tables), "names" (tensor
    name bytes), "quantization" (per-tensor/per-channel parameters: a float32 scale and an int64 zero
    point per channel); the rest of the file is the graph (ops, tensors, shapes) and flatbuffer overhead."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    parsed = model_editor.read(bytes(model))
    tensors = [tensor for subgraph in parsed.subgraphs for tensor in subgraph.tensors]
    return {"constants": sum(len(buffer.data or b"") for buffer in parsed.buffers),
            "names": sum(len(tensor.name or "") for tensor in tensors),
            "quantization": sum(12 * np.size(tensor.quantization.scales) for tensor in tensors
                                if tensor.quantization is not None)}


def output_step(model):
    """The output tensor's quantization step, read from the int8 file (1.0 when it has none)."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    subgraph = model_editor.read(bytes(model)).subgraphs[0]
    for op in subgraph.operators:  # the float output is DEQUANTIZE's: its input carries the scale
        if op.outputs and op.outputs[0] is subgraph.outputs[0] and op.inputs and op.inputs[0].quantization:
            return float(np.ravel(op.inputs[0].quantization.scales)[0])
    return 1.0


def measure(name, steps, repeats, folder):
    """One row (dict) per format of net `name`."""
    model = trained_net(name, steps)
    calibration, held_out = data(name, 64, seed=2), data(name, 8, seed=3)
    int8 = convert.to_tflite(model, int8=True, calibration=calibration)
    files = {f.name: f.build(int8) for f in FORMATS}
    registerers = {name: tuple(tflm_ops.registerers(model_bytes)) for name, model_bytes in files.items()}
    latency = median_latencies(files, held_out[0], repeats, registerers)
    expected, step = outputs(int8, held_out), output_step(int8)
    rows = []
    for fmt, model_bytes in files.items():
        write_bytes(folder / f"{name}-{fmt}.tflite", model_bytes)
        got = outputs(model_bytes, held_out, registerers[fmt])
        rows.append({"net": name, "format": fmt, "bytes": len(model_bytes), **file_parts(model_bytes),
                     "arena": arena_used_bytes(model_bytes, held_out[0], registerers[fmt]),
                     "ms": latency[fmt], "ratio": latency[fmt] / latency["int8"],
                     "equal": bool(np.array_equal(got, expected)),
                     "max_steps": float(np.max(np.abs(got.astype(np.float64) - expected)) / step)})
    return rows


def table(rows):
    int8 = {r["net"]: r for r in rows if r["format"] == "int8"}
    lines = ["| net (as published) | format | file bytes | vs int8 | constants | TFLM arena | vs int8 | TFLM ms | "
             "latency vs int8 | outputs == int8 |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = int8[r["net"]]
        same = "yes" if r["equal"] else f"**no** (up to {r['max_steps']:.0f} output steps off)"
        lines.append(f"| {TITLES[r['net']]} | {r['format']} | {r['bytes']:,} | {r['bytes'] / base['bytes']:.3f} | "
                     f"{r['constants']:,} | {r['arena']:,} | {r['arena'] / base['arena']:.2f} | {r['ms']:.2f} | "
                     f"{r['ratio']:.2f} | {same} |")
    return "\n".join(lines)


def parts_table(rows):
    """Where each file's bytes go (`file_parts`)."""
    lines = ["| net | format | file bytes | constants | tensor names | quantization parameters | graph, rest |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        rest = r["bytes"] - r["constants"] - r["names"] - r["quantization"]
        lines.append(f"| {TITLES[r['net']]} | {r['format']} | {r['bytes']:,} | {r['constants']:,} | {r['names']:,} | "
                     f"{r['quantization']:,} | {rest:,} |")
    return "\n".join(lines)


def how(args):
    """The conditions of a run, in a sentence for RESULTS."""
    from importlib.metadata import version
    return (f"The nets as published (mlcommons/tiny {COMMIT[:7]}, `benchmarks/mlperf_tiny_published.py`), "
            f"{args.steps} BC-Adam batches of 32 on stand-in data, batch norms settled, one full-int8 conversion "
            f"each; formats: {', '.join(f.name for f in FORMATS)}. TFLite Micro = the `tflite-micro` "
            f"{version('tflite-micro')} Python interpreter (reference kernels, x86): arena = `arena_used_bytes`, "
            f"latency = median thread CPU time of {args.repeats} invokes per file, the formats taking turns, "
            "outputs compared bit for bit with the int8 file's on 8 held-out inputs.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=list(NAMES), choices=NAMES, help="which nets (default all four)")
    parser.add_argument("--steps", type=int, default=4, help="BC-Adam training batches (of 32) per net")
    parser.add_argument("--repeats", type=int, default=20, help="timed invokes per file")
    parser.add_argument("--out", type=Path, default=Path("runs") / "mlperf_tiny", help="folder for the .tflite files")
    parser.add_argument("--write", action="store_true", help="put the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    for flag, value in (("--steps", args.steps), ("--repeats", args.repeats)):
        if value < 1:
            print(f"error: {flag} must be at least 1 (got {value})", file=sys.stderr)
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.nets:
        started = time.time()
        rows += measure(name, args.steps, args.repeats, args.out)
        print(f"{name}: {time.time() - started:.0f} s", flush=True)
    text = f"{table(rows)}\n\nWhere the file bytes go:\n\n{parts_table(rows)}"
    print(text)
    if args.write:
        steps = f" --steps {args.steps}" if args.steps != 4 else ""
        replace_section("Microcontrollers: MLPerf Tiny",
                        f"`{COMMAND}{steps}` (files in {args.out}/)\n\n{how(args)}\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz tfquant-run with mutated copies of real exports: every run is a clear refusal, the same answer, or (for a
file run as foreign) an answer the runner flagged as unvouched; never a silently wrong answer, a crash or exit 3.

    python -m benchmarks.fuzz_files --cases 400 --seed 1      # prints the counts per outcome and mode

The files: a small binary CNN (conv+BN+ReLU, max pool, conv, global mean, dense, softmax; 28x28x1, 4 classes),
exported in every format with its normalisation recorded. Mutations (`MUTATIONS`), each from a seeded
`numpy.random.Generator`: random byte flips (1 or 8 bytes), truncation, schema edits (a conv's fused RELU ->
NONE, SOFTMAX beta 1 -> 0.25, MAX_POOL_2D -> AVERAGE_POOL_2D, pool size 2 -> 3, an int8 activation scale x3 /
0 / NaN, a conv's filter scales x3 / 0, a FULLY_CONNECTED output zero point +10 / out of range, the subgraph's
output pointed at its input, outputs or inputs emptied, the last operator removed), metadata edits in place
(mean 0.286 -> 0.986, std -> 0.003 / negative, mean NaN / a string / a list, a metadata name made invalid
UTF-8). Each mutated file runs twice, as exported (mode "stamped") and with --trust-foreign ("foreign"),
in a forked child (so a segfault or a hang is seen, not suffered) with stdout/stderr to files. Outcomes:

    refused      exit 2 and exactly one `error:` line (warnings before it allowed)
    same         exit 0, the same predictions and probabilities (to 1e-6) as the unmutated file
    flagged      exit 0, a different answer, and the runner warned that the file is foreign (foreign mode only)
    WRONG        exit 0 and a different answer without that warning (in stamped mode: any different answer)
    UNCLEAR      exit 2 without exactly one error line;  INTERNAL: exit 3 (or any other status)
    CRASH        killed by a signal;  HANG: no answer in `TIMEOUT_S`
The last four are failures (`FAILURES`).
"""
import argparse
import collections
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

NORMALIZATION = (0.286, 0.353)
FORMATS = ("float32", "int8", "int4", "packed", "packed-int8")
FAILURES = ("WRONG", "UNCLEAR", "INTERNAL", "CRASH", "HANG")
TIMEOUT_S = 60
IMAGES = 6


def fuzz_model():
    """The network the files are exported from (binary conv filters, so every format packs something)."""
    import keras

    from benchmarks.export_models import binarize
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(6, 3, name="conv1"), keras.layers.BatchNormalization(), keras.layers.ReLU(),
        keras.layers.MaxPooling2D(2), keras.layers.Conv2D(5, 3, name="conv2", use_bias=False),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(4, name="dense"), keras.layers.Softmax(),
    ])
    return binarize(model, seed=0)


def export_all(folder, formats=FORMATS):
    """{format: path} of `fuzz_model` exported in each of `formats` into `folder`, plus the images file."""
    import tfquant.tflite as tflite
    folder = Path(folder)
    model = fuzz_model()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 28, 28, 1))
    calibration = ((pixels / 255.0 - NORMALIZATION[0]) / NORMALIZATION[1]).astype(np.float32)
    files = {}
    for fmt in formats:
        files[fmt] = folder / f"{fmt}.tflite"
        tflite.export(model, files[fmt], format=fmt, calibration=calibration, normalization=NORMALIZATION)
    np.savez(folder / "images.npz", x=pixels[:IMAGES, ..., 0].astype(np.uint8), y=np.arange(IMAGES) % 4)
    return files, folder / "images.npz"


# -- mutations: (data bytes, rng) -> mutated bytes, or None where the file has nothing to mutate --------------------
def _schema_edit(edit):
    def mutate(data, rng):
        from tfquant_lite import flatbuffer as fb
        model = fb.read(data)
        sub = model.subgraphs[0]
        if edit(model, sub, rng) is False:
            return None
        return fb.write(model)
    mutate.__name__ = edit.__name__
    return mutate


def _ops(model, sub, name):
    from tfquant_lite import flatbuffer as fb
    return [op for op in sub.operators if fb.op_name(model, op) == name]


def _quantized(tensor):
    q = tensor.quantization
    return q is not None and q.scale is not None and len(q.scale) > 0


def flip_1(data, rng):
    out = bytearray(data)
    out[rng.integers(len(out))] ^= int(rng.integers(1, 256))
    return bytes(out)


def flip_8(data, rng):
    out = bytearray(data)
    for at in rng.integers(len(out), size=8):
        out[at] ^= int(rng.integers(1, 256))
    return bytes(out)


def truncate(data, rng):
    return data[:int(rng.integers(0, len(data)))]


@_schema_edit
def relu_to_none(model, sub, rng):
    ops = [op for op in _ops(model, sub, "CONV_2D") if op.builtinOptions.fusedActivationFunction != 0]
    if not ops:
        return False
    ops[0].builtinOptions.fusedActivationFunction = 0


@_schema_edit
def softmax_beta(model, sub, rng):
    ops = _ops(model, sub, "SOFTMAX")
    if not ops:
        return False
    ops[0].builtinOptions.beta = 0.25


@_schema_edit
def max_to_average_pool(model, sub, rng):
    from tfquant_lite import flatbuffer as fb
    ops = _ops(model, sub, "MAX_POOL_2D")
    if not ops:
        return False
    ops[0].opcodeIndex = fb.opcode_index(model, fb.schema.BuiltinOperator.AVERAGE_POOL_2D)


@_schema_edit
def pool_size_3(model, sub, rng):
    ops = _ops(model, sub, "MAX_POOL_2D")
    if not ops:
        return False
    ops[0].builtinOptions.filterWidth = ops[0].builtinOptions.filterHeight = 3


def _conv_scale(slot, factor, label):
    """Multiply the quantization scales of the first quantized CONV_2D input in `slot` (0: the activation,
    1: the filter) by `factor`."""
    def edit(model, sub, rng):
        tensors = [sub.tensors[op.inputs[slot]] for op in _ops(model, sub, "CONV_2D")]
        tensors = [t for t in tensors if _quantized(t)]
        if not tensors:
            return False
        tensors[0].quantization.scale = np.asarray(tensors[0].quantization.scale, np.float32) * np.float32(factor)
    edit.__name__ = f"{label}_x{factor}"
    return _schema_edit(edit)


def _activation_scale(factor):
    return _conv_scale(0, factor, "input_scale")


def _filter_scales(factor):
    return _conv_scale(1, factor, "filter_scales")


def _fc_zero_point(shift):
    def edit(model, sub, rng):
        tensors = [sub.tensors[op.outputs[0]] for op in _ops(model, sub, "FULLY_CONNECTED")]
        tensors = [t for t in tensors if _quantized(t)]
        if not tensors:
            return False
        tensors[0].quantization.zeroPoint = np.asarray(tensors[0].quantization.zeroPoint, np.int64) + shift
    edit.__name__ = f"fc_zero_point_plus{shift}"
    return _schema_edit(edit)


@_schema_edit
def output_is_input(model, sub, rng):
    sub.outputs = np.asarray(sub.inputs, np.int32)


@_schema_edit
def no_outputs(model, sub, rng):
    sub.outputs = np.zeros(0, np.int32)


@_schema_edit
def no_inputs(model, sub, rng):
    sub.inputs = np.zeros(0, np.int32)


@_schema_edit
def last_op_removed(model, sub, rng):
    sub.operators = sub.operators[:-1]


@_schema_edit
def all_ops_removed(model, sub, rng):
    sub.operators = []


@_schema_edit
def opcode_out_of_range(model, sub, rng):
    model.operatorCodes[0].builtinCode = 4000


def _replace(old, new):
    assert len(old) == len(new)

    def mutate(data, rng):
        return data.replace(old, new) if old in data else None
    mutate.__name__ = f"metadata {new.decode()}"
    return mutate


def metadata_name_not_utf8(data, rng):
    at = data.find(b"min_runtime_version")
    if at < 0:
        return None
    return data[:at] + b"\xff\xfe" + data[at + 2:]


MUTATIONS = (
    flip_1, flip_8, truncate, relu_to_none, softmax_beta, max_to_average_pool, pool_size_3,
    _activation_scale(2), _activation_scale(3), _activation_scale(0), _activation_scale(float("nan")),
    _filter_scales(3), _filter_scales(0), _fc_zero_point(10), _fc_zero_point(300), output_is_input, no_outputs,
    no_inputs, last_op_removed, all_ops_removed, opcode_out_of_range,
    _replace(b'"mean": 0.286', b'"mean": 0.986'), _replace(b'"std": 0.353', b'"std": 0.003'),
    _replace(b'"std": 0.353', b'"std": -0.35'), _replace(b'"mean": 0.286', b'"mean": NaN  '),
    _replace(b'"mean": 0.286', b'"mean": "abc"'), _replace(b'"mean": 0.286', b'"mean": [0.2]'),
    metadata_name_not_utf8,
)
RANDOM = (flip_1, flip_8, truncate)  # the mutations worth drawing many times


# -- running one case -------------------------------------------------------------------------------------------
def _child(argv, out_dir):
    from tfquant_lite import cli
    for fd, name in ((1, "stdout"), (2, "stderr")):
        handle = os.open(out_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(handle, fd)
    sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)  # not pytest's capture
    signal.alarm(TIMEOUT_S)
    try:
        code = cli.main(argv)
    except BaseException:  # noqa: BLE001 - main() must not raise; if it does, that is exit 4
        code = 4
    sys.stdout.flush(), sys.stderr.flush()
    os._exit(code)


def run_case(model_path, images, out_dir, extra=()):
    """(exit status or 'CRASH'/'HANG', stderr text, the result JSON or None) of tfquant-run in a forked child."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = out_dir / "result.json"
    result.unlink(missing_ok=True)
    argv = [str(model_path), str(images), "--json", str(result), "--show", "0", *extra]
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(argv, out_dir)
    _, status = os.waitpid(pid, 0)
    err = (out_dir / "stderr").read_text(errors="replace")
    if os.WIFSIGNALED(status):
        return ("HANG" if os.WTERMSIG(status) == signal.SIGALRM else "CRASH"), err, None
    code = os.WEXITSTATUS(status)
    return code, err, (json.loads(result.read_text()) if code == 0 and result.exists() else None)


def classify(code, err, result, baseline, foreign):
    """The outcome of one run (see the module docstring)."""
    if code in ("CRASH", "HANG"):
        return code
    lines = err.splitlines()
    if code == 2:
        errors = [line for line in lines if line.startswith("error: ")]
        others = [line for line in lines if not line.startswith(("error: ", "warning: "))]
        return "refused" if len(errors) == 1 and not others and lines[-1] == errors[0] else "UNCLEAR"
    if code != 0 or result is None:
        return "INTERNAL"
    same = (result["predictions"] == baseline["predictions"]
            and np.allclose(result["probabilities"], baseline["probabilities"], atol=1e-6))
    if same:
        return "same"
    return "flagged" if foreign and any("foreign file" in line for line in lines) else "WRONG"


def _interpreter_args(fmt, rng):
    options = [()]
    if fmt.startswith("packed"):
        options.append(("--no-expand",))
    if fmt in ("int8", "packed-int8"):
        options.append(("--interpreter", "tflm"))
    return options[int(rng.integers(len(options)))]


def campaign(files, images, work, cases, seed=0):
    """Run `cases` mutated files (each in both modes) drawn with `seed`; returns (Counter of (mode, outcome),
    [failure descriptions])."""
    rng = np.random.default_rng(seed)
    work = Path(work)
    baselines = {}
    for fmt, path in files.items():
        code, err, result = run_case(path, images, work / "baseline" / fmt)
        assert code == 0, f"the unmutated {fmt} export does not run: {err[-500:]}"
        baselines[fmt] = result
    counts, failures = collections.Counter(), []
    schedule = list(MUTATIONS)
    while len(schedule) < cases:
        schedule.append(RANDOM[int(rng.integers(len(RANDOM)))])
    for n, mutation in enumerate(schedule[:cases]):
        fmt = list(files)[int(rng.integers(len(files)))] if n >= len(MUTATIONS) else list(files)[n % len(files)]
        data = Path(files[fmt]).read_bytes()
        mutated = mutation(data, rng)
        if mutated is None:  # nothing of that kind in this format: try the others
            for other in files:
                mutated = mutation(Path(files[other]).read_bytes(), rng)
                if mutated is not None:
                    fmt = other
                    break
        if mutated is None:
            counts[("-", "not applicable")] += 1
            continue
        path = work / f"case{n}.tflite"
        path.write_bytes(mutated)
        extra = _interpreter_args(fmt, rng)
        for mode, flags in (("stamped", ()), ("foreign", ("--trust-foreign",))):
            code, err, result = run_case(path, images, work / f"case{n}-{mode}", (*extra, *flags))
            outcome = classify(code, err, result, baselines[fmt], mode == "foreign")
            counts[(mode, outcome)] += 1
            if outcome in FAILURES:
                failures.append(f"{mutation.__name__} on {fmt} ({mode}, {' '.join(extra) or 'litert'}): {outcome} "
                                f"[{code}] {err.strip().splitlines()[-1] if err.strip() else ''}")
    return counts, failures


def table(counts):
    """Markdown table: one row per mode, one column per outcome."""
    outcomes = ["refused", "same", "flagged", *FAILURES]
    lines = ["| mode | runs | " + " | ".join(outcomes) + " |", "|---" * (len(outcomes) + 2) + "|"]
    for mode in ("stamped", "foreign"):
        row = [counts.get((mode, o), 0) for o in outcomes]
        lines.append(f"| {mode} | {sum(row)} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def main(argv=None):
    import tempfile
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=400, help="mutated files (each run in both modes)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        files, images = export_all(work)
        counts, failures = campaign(files, images, Path(work) / "runs", args.cases, args.seed)
    print(table(counts))
    for failure in failures:
        print("FAILURE", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

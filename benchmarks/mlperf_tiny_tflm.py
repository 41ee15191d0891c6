"""TensorFlow Lite Micro measurements for the MLPerf Tiny benchmark: arena used, outputs, side-by-side latency.

- `arena_used_bytes(model, x)`: TFLM's own count. The Python package has no `arena_used_bytes()` call, but
  its interpreter is built with the RecordingMicroAllocator, whose `print_allocations()` writes
  "Arena allocation total N bytes" to stderr after an invoke: N is `MicroInterpreter::arena_used_bytes()`,
  head (non-persistent, planned tensors) + tail (persistent). It equals the smallest arena that runs the
  file (`tfquant_lite.interpreters.tflm_min_arena`'s bisection; tests/tflite/test_mlperf_tiny.py checks it).
- `outputs(model, inputs)`: the raw output tensor for each input.
- `median_latencies(models, x, repeats)`: the median of `repeats` single invokes of each file after 2
  warm-ups, the files taking turns invoke by invoke in one process. Each invoke is timed in the calling
  thread's CPU time (`time.thread_time`; TFLM runs single-threaded in the caller), not wall time: on this
  shared 2-core machine wall-clock medians of the same file moved by 2x between runs, while the time a
  board's core would spend is the CPU time. TFLM's reference kernels on this host: the ratios carry over
  to a board, the milliseconds do not.
"""
import os
import re
import statistics
import tempfile
import time

import numpy as np

ARENA = 8 << 20  # large enough for every net here; arena_used_bytes reports what is really used


def open_tflm(model, arena_size=ARENA, registerers=()):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(bytes(model), custom_op_registerers=list(registerers),
                                          arena_size=int(arena_size))


def _invoke(interpreter, x):
    interpreter.set_input(np.asarray(x)[None], 0)
    interpreter.invoke()
    return interpreter.get_output(0).copy()


def outputs(model, inputs, registerers=()):
    """The output tensor of `model` on TFLM for each of `inputs` (stacked)."""
    interpreter = open_tflm(model, registerers=registerers)
    return np.concatenate([_invoke(interpreter, x) for x in inputs])


def arena_used_bytes(model, x, registerers=()):
    """TFLM's RecordingMicroAllocator total after one invoke on `x` (bytes)."""
    interpreter = open_tflm(model, registerers=registerers)
    _invoke(interpreter, x)
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        try:
            os.dup2(capture.fileno(), 2)
            interpreter.print_allocations()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    found = re.search(r"Arena allocation total (\d+) bytes", text)
    if not found:
        raise RuntimeError(f"TFLM's print_allocations() gave no arena total: {text[:200]!r}")
    return int(found.group(1))


def median_latencies(models, x, repeats, registerers=None):
    """{key: median ms} for the dict `models` {key: bytes}, invoked in turn (see module docstring)."""
    registerers = registerers or {}
    interpreters = {key: open_tflm(model, registerers=registerers.get(key, ())) for key, model in models.items()}
    for interpreter in interpreters.values():
        interpreter.set_input(np.asarray(x)[None], 0)
        for _ in range(2):
            interpreter.invoke()
    times = {key: [] for key in models}
    for _ in range(repeats):
        for key, interpreter in interpreters.items():
            start = time.thread_time()
            interpreter.invoke()
            times[key].append(time.thread_time() - start)
    return {key: 1000 * statistics.median(values) for key, values in times.items()}

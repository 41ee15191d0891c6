"""Run a .tflite model on a named interpreter and return its outputs.

    run(model, inputs, interpreter="litert")  ->  outputs, shape (N, ...), one invoke per sample

Interpreters:
- "litert": LiteRT (`ai_edge_litert`) with its default XNNPACK delegate;
- "litert-noxnnpack": LiteRT's builtin kernels only;
- "tf.lite": `tf.lite.Interpreter` (deprecated by TensorFlow; used while it exists);
- "tflm": TensorFlow Lite Micro through the `tflite-micro` package, with an arena of `arena_size`
  bytes (default: the minimum found by `tflm_min_arena`);
- "tflite-runtime": `tflite-runtime` 2.14, which needs numpy<2 and so runs in its own virtual
  environment, in a subprocess. Its Python is `$TFQUANT_TFLITE_RUNTIME_PYTHON`, else
  `.venv-tflite-runtime/bin/python` under the current directory.
Models here have a batch of 1; inputs are fed one sample at a time.
"""
import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from ._invoke import invoke_each

INTERPRETERS = ("litert", "litert-noxnnpack", "tflite-runtime", "tflm", "tf.lite")
TFLITE_RUNTIME_VENV = ".venv-tflite-runtime"
_WORKER = pathlib.Path(__file__).with_name("_tflite_runtime_worker.py")


class InterpreterUnavailable(RuntimeError):
    """The named interpreter is not installed here; the message says how to get it."""


def model_bytes(model):
    """Bytes of a model given as bytes or as a path."""
    return bytes(model) if isinstance(model, (bytes, bytearray)) else pathlib.Path(model).read_bytes()


def litert(model, xnnpack=True, num_threads=1):
    """An allocated LiteRT interpreter for `model` (bytes or path)."""
    from ai_edge_litert import interpreter as lite
    resolver = (lite.OpResolverType.AUTO if xnnpack
                else lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp = lite.Interpreter(model_content=model_bytes(model), num_threads=num_threads,
                              experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    return interp


def _tf_lite(model, num_threads=1):
    import tensorflow as tf
    interp = tf.lite.Interpreter(model_content=model_bytes(model), num_threads=num_threads)
    interp.allocate_tensors()
    return interp


@contextlib.contextmanager
def silenced():
    """Silence C/C++ writes to stdout and stderr (TFLM prints every failed allocation)."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1), os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            [os.close(fd) for fd in saved]


def _tflm(model, arena_size):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(model_bytes(model), arena_size=int(arena_size))


def _tflm_outputs(model, arena_size, sample):
    interp = _tflm(model, arena_size)
    interp.set_input(sample[None], 0)
    interp.invoke()
    return np.array(interp.get_output(0))


def tflm_runs(model, arena_size, sample, expected):
    """True when TFLM runs `model` in an arena of `arena_size` bytes and reproduces `expected`.

    The probe runs in a forked child: near its minimum arena TFLM sometimes crashes (an unsigned
    underflow in its tail allocator, then SIGSEGV) instead of reporting the failure.
    """
    pid = os.fork()
    if pid == 0:  # child: silence TFLM's allocation messages, report by exit status only
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)
        try:
            os._exit(0 if np.array_equal(_tflm_outputs(model, arena_size, sample), expected) else 1)
        except BaseException:
            os._exit(1)
    return os.waitpid(pid, 0)[1] == 0


def tflm_min_arena(model, sample, upper=64 << 20):
    """Smallest arena (bytes, to 16) in which TFLM runs `model` and gives the same outputs as with
    `upper` bytes; found by bisection, since TFLM has no arena-size query."""
    model = model_bytes(model)
    try:
        with silenced():
            expected = _tflm_outputs(model, upper, sample)
    except RuntimeError as error:
        raise RuntimeError(f"TFLite Micro cannot run this model even with a {upper >> 20} MiB arena "
                           f"({error}); see the compatibility table in docs/EXPORT.md") from error
    low, high = 0, upper
    while high - low > 16:
        middle = (low + high) // 2
        low, high = (low, middle) if tflm_runs(model, middle, sample, expected) else (middle, high)
    return high


def _run_tflm(model, inputs, arena_size=None):
    model = model_bytes(model)
    arena_size = arena_size or tflm_min_arena(model, inputs[0])
    with silenced():
        interp = _tflm(model, arena_size)
    outputs = []
    for sample in inputs:
        interp.set_input(sample[None], 0)
        interp.invoke()
        outputs.append(np.array(interp.get_output(0))[0])
    return np.stack(outputs)


def tflite_runtime_python():
    """Path of the tflite-runtime venv's Python, or None when that venv does not exist."""
    path = pathlib.Path(os.environ.get("TFQUANT_TFLITE_RUNTIME_PYTHON",
                                       pathlib.Path.cwd() / TFLITE_RUNTIME_VENV / "bin" / "python"))
    return path if path.exists() else None


def _run_tflite_runtime(model, inputs, num_threads=1):
    python = tflite_runtime_python()
    if python is None:
        raise InterpreterUnavailable(
            f"tflite-runtime needs its own numpy<2 venv ({TFLITE_RUNTIME_VENV}); create it with "
            "`python -m export._tflite_runtime_venv` or set TFQUANT_TFLITE_RUNTIME_PYTHON")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "model.tflite").write_bytes(model_bytes(model))
        np.save(tmp / "inputs.npy", inputs)
        done = subprocess.run([str(python), str(_WORKER), str(tmp / "model.tflite"), str(tmp / "inputs.npy"),
                               str(tmp / "outputs.npy"), str(num_threads)], capture_output=True, text=True)
        if done.returncode != 0:
            lines = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()
            raise RuntimeError(f"tflite-runtime failed: {lines[-1]}")
        return np.load(tmp / "outputs.npy")


def run(model, inputs, interpreter="litert", num_threads=1, arena_size=None):
    """Outputs of `model` (bytes or .tflite path) on `interpreter` for float `inputs` of shape (N, ...)."""
    inputs = np.asarray(inputs, dtype=np.float32)
    if interpreter == "litert":
        return invoke_each(litert(model, True, num_threads), inputs)
    if interpreter == "litert-noxnnpack":
        return invoke_each(litert(model, False, num_threads), inputs)
    if interpreter == "tf.lite":
        return invoke_each(_tf_lite(model, num_threads), inputs)
    if interpreter == "tflm":
        return _run_tflm(model, inputs, arena_size)
    if interpreter == "tflite-runtime":
        return _run_tflite_runtime(model, inputs, num_threads)
    raise ValueError(f"unknown interpreter {interpreter!r}; choose one of {', '.join(INTERPRETERS)}")

"""The one interpreter layer: open a .tflite model on a named interpreter, feed it, read it back.

    session = open_session(model, "litert")        # model: bytes or a path
    session.set_input(x); session.invoke(); y = session.get_output()
    run(model, inputs, interpreter="litert")  ->  outputs, shape (N, ...), one invoke per sample

Needs numpy and the interpreter alone (no TensorFlow, no flatbuffers), so the library's verification,
the benchmarks and the on-device runner (`tfquant-run`) share it. Interpreters, one name each
(`ALIASES` accepts the other spellings: `tflite_runtime`, `ai-edge-litert`, `tflite-micro`, ...):

- "litert": LiteRT (`ai_edge_litert`) with its default XNNPACK delegate;
- "litert-noxnnpack": LiteRT's builtin kernels only;
- "tflite-runtime": `tflite-runtime` 2.14. It fails under numpy 2, so where it does not import (this
  project's own environment), `run` runs it in another Python, in a subprocess: `python=` (a path), else
  `$TFQUANT_TFLITE_RUNTIME_PYTHON`, else `.venv-tflite-runtime/bin/python` under the current directory
  (the venv a checkout's `make setup` creates). That Python needs numpy<2, tflite-runtime and this
  package installed (`pip install --no-deps tfquant`); the child runs `python -m tfquant_lite.interpreters`;
- "tflm": TensorFlow Lite Micro through the `tflite-micro` package, in an arena of `arena_size` bytes.
  TFLM can crash (SIGSEGV) instead of failing when the arena is too small, so every arena is first
  tried in a forked child (`tflm_runs`): a too-small arena is a `ArenaTooSmall` error, never a crash;
  files of format `packed-tflm` get tfquant's TFQUANT_BINARY op registered (`tflm_ops.py`);
- "tf.lite": `tf.lite.Interpreter` (deprecated by TensorFlow; used while it exists).
Models here have a batch of 1; inputs are fed one sample at a time. A tensor's details are dicts with
`shape`, `dtype` and `quantization` = (scale, zero point) or None.
"""
import contextlib
import importlib
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from . import crash_guard

INTERPRETERS = ("litert", "litert-noxnnpack", "tflite-runtime", "tflm", "tf.lite")
ALIASES = {
    "ai-edge-litert": "litert", "ai_edge_litert": "litert", "lite-rt": "litert",
    "litert_noxnnpack": "litert-noxnnpack", "litert-builtin": "litert-noxnnpack",
    "tflite_runtime": "tflite-runtime", "tflite-rt": "tflite-runtime",
    "tflite-micro": "tflm", "tflite_micro": "tflm", "micro": "tflm",
    "tf-lite": "tf.lite", "tf_lite": "tf.lite", "tensorflow": "tf.lite",
}
# interpreter -> the module that provides it
MODULES = {"litert": "ai_edge_litert.interpreter", "litert-noxnnpack": "ai_edge_litert.interpreter",
           "tflite-runtime": "tflite_runtime.interpreter", "tflm": "tflite_micro.python.tflite_micro.runtime",
           "tf.lite": "tensorflow"}
INSTALL = {"litert": "pip install ai-edge-litert", "litert-noxnnpack": "pip install ai-edge-litert",
           "tflite-runtime": "pip install tflite-runtime 'numpy<2'", "tflm": "pip install tflite-micro",
           "tf.lite": "pip install tensorflow-cpu"}
TFLITE_RUNTIME_VENV = ".venv-tflite-runtime"
DEFAULT_ARENA = 2 << 20


class InterpreterUnavailable(RuntimeError):
    """The named interpreter is not installed here, or cannot run this file; the message says what to do."""


class ArenaTooSmall(RuntimeError):
    """TensorFlow Lite Micro cannot run the model in the arena given; the message gives the size tried."""


def canonical(name):
    """The one name of interpreter `name` (any accepted spelling); ValueError for an unknown one."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in INTERPRETERS:
        raise ValueError(f"unknown interpreter {name!r}; choose one of {', '.join(INTERPRETERS)}")
    return key


def model_bytes(model):
    """Bytes of a model given as bytes or as a path."""
    return bytes(model) if isinstance(model, (bytes, bytearray)) else pathlib.Path(model).read_bytes()


def load_module(name):
    """The Python module behind interpreter `name`; InterpreterUnavailable (with the fix) when it does not import."""
    name = canonical(name)
    try:
        module = importlib.import_module(MODULES[name])
    except ImportError as error:  # tflite-runtime under numpy 2 raises ImportError too
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InterpreterUnavailable(f"{name} does not import here ({first}); install it: `{INSTALL[name]}`"
                                     ) from error
    return module.lite if name == "tf.lite" else module


def available(name):
    """True when interpreter `name` imports in this process."""
    try:
        load_module(name)
    except InterpreterUnavailable:
        return False
    return True


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


def _details(details):
    """Interpreter tensor details -> {shape, dtype, quantization (scale, zero point) or None}."""
    params = details.get("quantization_parameters") or {}
    scales, zeros = params.get("scales", ()), params.get("zero_points", ())
    quantization = (float(scales[0]), int(zeros[0])) if len(scales) else None
    return {"shape": tuple(int(d) for d in details["shape"]), "dtype": np.dtype(details["dtype"]),
            "quantization": quantization}


class Session:
    """An allocated interpreter with one input and one output (batch 1): `set_input`, `invoke`, `get_output`."""

    name = None

    def run(self, inputs):
        """Stack the output over the samples of `inputs` (N, ...), each fed with a batch of 1."""
        outputs = []
        for sample in inputs:
            self.set_input(np.asarray(sample, dtype=self.input["dtype"])[None])
            self.invoke()
            outputs.append(np.array(self.get_output())[0])
        return np.stack(outputs)


class _TFLiteAPI(Session):
    """LiteRT, tflite-runtime and tf.lite share the tf.lite.Interpreter API."""

    def __init__(self, name, module, model, num_threads, resolver=None, quiet=True):
        self.name = name
        options = {} if resolver is None else {"experimental_op_resolver_type": resolver}
        with silenced() if quiet else contextlib.nullcontext():  # "INFO: Created TensorFlow Lite XNNPACK delegate"
            self.interpreter = module.Interpreter(model_content=model_bytes(model), num_threads=num_threads, **options)
            raw = self.interpreter.get_input_details()[0]
            if list(raw["shape"][:1]) != [1]:  # dynamic or larger batch: run one sample at a time
                self.interpreter.resize_tensor_input(raw["index"], [1, *raw["shape"][1:]])
            self.interpreter.allocate_tensors()
        self._in = self.interpreter.get_input_details()[0]["index"]
        self._out = self.interpreter.get_output_details()[0]["index"]
        self.input = _details(self.interpreter.get_input_details()[0])
        self.output = _details(self.interpreter.get_output_details()[0])

    def set_input(self, x):
        self.interpreter.set_tensor(self._in, x)

    def invoke(self):
        self.interpreter.invoke()

    def get_output(self):
        return self.interpreter.get_tensor(self._out)


class _Micro(Session):
    """TensorFlow Lite Micro: a fixed arena, no resizing."""

    name = "tflm"

    def __init__(self, module, model, arena_size):
        with silenced():
            self.interpreter = _tflm_interpreter(module, model_bytes(model), arena_size)
        self.input = _details(self.interpreter.get_input_details(0))
        self.output = _details(self.interpreter.get_output_details(0))

    def set_input(self, x):
        self.interpreter.set_input(x, 0)

    def invoke(self):
        self.interpreter.invoke()

    def get_output(self):
        return self.interpreter.get_output(0)


def open_session(model, interpreter="litert", num_threads=1, arena_size=None, quiet=True):
    """An allocated `Session` for `model` (bytes or path) on `interpreter`, in this process (`quiet`: the
    interpreter's own log lines while it loads are silenced; its errors still raise).

    tflm: the arena (`arena_size` bytes, default 2 MiB) is tried in a forked child first, and a size
    TFLM cannot run in raises ArenaTooSmall (with the minimum, found by bisection) instead of crashing.
    """
    name = canonical(interpreter)
    module = load_module(name)
    model = model_bytes(model)
    if name == "tflm":
        arena_size = int(arena_size or DEFAULT_ARENA)
        probe = _tflm_probe_input(module, model)
        if not tflm_runs(model, arena_size, probe):
            minimum = tflm_min_arena(model, probe)
            raise ArenaTooSmall(f"TensorFlow Lite Micro cannot run this model in a {arena_size:,}-byte arena; "
                                f"it needs at least {minimum:,} bytes ({-(-minimum // 1024)} KiB)")
        return _Micro(module, model, arena_size)
    from .tflm_ops import OP_NAME, uses_op
    if uses_op(model):
        raise InterpreterUnavailable(f"this file uses tfquant's TFLite Micro op {OP_NAME} (format packed-tflm), "
                                     f"which only TFLite Micro runs; use interpreter 'tflm', not {name!r}")
    if name in ("litert", "litert-noxnnpack"):
        resolver = (module.OpResolverType.AUTO if name == "litert"
                    else module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        return _TFLiteAPI(name, module, model, num_threads, resolver, quiet)
    return _TFLiteAPI(name, module, model, num_threads, quiet=quiet)


# ------------------------------------------------------------------------------------ TFLite Micro arenas

def _refuse_outside_buffers(model):
    """TFLite Micro reads constants only from inside the flatbuffer: on a file that stores them after it, it
    runs on empty weights (measured: outputs off by 0.9), so such a file is refused. tflite-micro ships the
    schema and flatbuffers, so the check costs no dependency."""
    from .flatbuffer import outside_buffers
    count = outside_buffers(model)
    if count:
        raise InterpreterUnavailable(
            f"this file stores {count} constant buffers after its flatbuffer (the converter's "
            "_experimental_use_buffer_offset layout, for models over 2 GB), which TensorFlow Lite Micro does not "
            "read: it would run on empty weights. Run it on 'litert', or convert it without that option")


def _tflm_interpreter(module, model, arena_size):
    """A TFLM Python interpreter for `model`, with tfquant's custom op registered when it uses it."""
    from . import tflm_ops
    _refuse_outside_buffers(model)
    return module.Interpreter.from_bytes(model, custom_op_registerers=tflm_ops.registerers(model),
                                         arena_size=int(arena_size))


def _tflm_probe_input(module, model):
    """A zero input of the model's input type and shape, to probe arenas with."""
    with silenced():
        details = _details(_tflm_interpreter(module, model, 64 << 20).get_input_details(0))
    return np.zeros(details["shape"], details["dtype"])[0]


def _tflm_outputs(model, arena_size, sample):
    session = _Micro(load_module("tflm"), model, arena_size)
    session.set_input(sample[None])
    session.invoke()
    return np.array(session.get_output())


def tflm_runs(model, arena_size, sample, expected=None):
    """True when TFLM runs `model` in an arena of `arena_size` bytes (and reproduces `expected`, if given).

    The probe runs in a forked child (`crash_guard.in_child`): near its minimum arena TFLM sometimes crashes
    (an unsigned underflow in its tail allocator, then SIGSEGV) instead of reporting the failure.
    """
    def probe():
        outputs = _tflm_outputs(model, arena_size, sample)
        return expected is None or np.array_equal(outputs, expected)
    return crash_guard.in_child(probe) == ("exit", 0)


def tflm_min_arena(model, sample, upper=64 << 20):
    """Smallest arena (bytes, to 16) in which TFLM runs `model` and gives the same outputs as with
    `upper` bytes; found by bisection, since TFLM has no arena-size query."""
    model = model_bytes(model)
    try:
        with silenced():
            expected = _tflm_outputs(model, upper, sample)
    except InterpreterUnavailable:
        raise
    except RuntimeError as error:
        raise RuntimeError(f"TensorFlow Lite Micro cannot run this model even with a {upper >> 20} MiB arena "
                           f"({error}); see the compatibility table in docs/EXPORT.md") from error
    low, high = 0, upper
    while high - low > 16:
        middle = (low + high) // 2
        low, high = (low, middle) if tflm_runs(model, middle, sample, expected) else (middle, high)
    return high


# ------------------------------------------------------------------------- tflite-runtime in its own venv

def tflite_runtime_python(python=None):
    """Path of the Python that runs tflite-runtime (`python`, else `$TFQUANT_TFLITE_RUNTIME_PYTHON`, else
    `TFLITE_RUNTIME_VENV`/bin/python under the current directory), or None when it does not exist."""
    path = pathlib.Path(python or os.environ.get("TFQUANT_TFLITE_RUNTIME_PYTHON")
                        or pathlib.Path.cwd() / TFLITE_RUNTIME_VENV / "bin" / "python")
    return path if path.exists() else None


def _run_in_tflite_runtime_venv(model, inputs, num_threads=1, python=None):
    """`run(model, inputs, "tflite-runtime")` in tflite-runtime's Python (`tflite_runtime_python`), where this
    module runs as `python -m tfquant_lite.interpreters`: installed there, never taken from this process's path."""
    path = tflite_runtime_python(python)
    if path is None:
        raise InterpreterUnavailable(
            f"tflite-runtime does not import here (it needs numpy<2) and no Python that has it was given: set "
            f"TFQUANT_TFLITE_RUNTIME_PYTHON to the Python of a venv with `pip install 'numpy<2' tflite-runtime` "
            f"and `pip install --no-deps tfquant` (a checkout's `make setup` makes {TFLITE_RUNTIME_VENV})")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "model.tflite").write_bytes(model_bytes(model))
        np.save(tmp / "inputs.npy", inputs)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([str(path), "-m", "tfquant_lite.interpreters", str(tmp / "model.tflite"),
                               str(tmp / "inputs.npy"), str(tmp / "outputs.npy"), str(num_threads)],
                              capture_output=True, text=True, cwd=tmp, env=env)
        if done.returncode != 0:
            lines = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()
            if "No module named 'tfquant_lite'" in lines[-1]:
                raise InterpreterUnavailable(f"{path} has no tfquant_lite: install tfquant there without its "
                                             f"dependencies, `{path} -m pip install --no-deps tfquant` (the same "
                                             "wheel, or `-e .` in a checkout)")
            raise RuntimeError(f"tflite-runtime failed: {lines[-1]}")
        return np.load(tmp / "outputs.npy")


def run(model, inputs, interpreter="litert", num_threads=1, arena_size=None, python=None):
    """Outputs of `model` (bytes or .tflite path) on `interpreter` for float `inputs` of shape (N, ...).

    tflm: `arena_size` bytes, default the minimum `tflm_min_arena` finds. tflite-runtime where it does not
    import here: run by the Python `python` (see `tflite_runtime_python`), in a subprocess."""
    name = canonical(interpreter)
    inputs = np.asarray(inputs, dtype=np.float32)
    if name == "tflite-runtime" and not available(name):
        return _run_in_tflite_runtime_venv(model, inputs, num_threads, python)
    if name == "tflm" and arena_size is None:
        arena_size = tflm_min_arena(model, inputs[0])
    return open_session(model, name, num_threads, arena_size).run(inputs)


def _worker(model_path, inputs_path, outputs_path, num_threads):
    """The tflite-runtime venv's side of `run`: numpy<2 and tflite-runtime, nothing else."""
    np.save(outputs_path, open_session(model_path, "tflite-runtime", int(num_threads)).run(np.load(inputs_path)))


if __name__ == "__main__":
    _worker(*sys.argv[1:])

"""tfquant's TensorFlow Lite Micro custom op (TFQUANT_BINARY, tfquant_lite/tflm_kernel/) on the host.

The `tflite-micro` wheel's Interpreter takes `custom_op_registerers=[name, ...]` and looks each name up
with `dlsym` in the running process, so the op's shared library is built from the firmware sources
with the system's g++ from the sources this package ships (`tflm_kernel/`, package data) into the user's cache
(`$XDG_CACHE_HOME/tfquant/tflm_kernel/`, default `~/.cache`; `python -m tfquant_lite.tflm_ops` builds it, and
`make setup` runs that), or taken from `$TFQUANT_TFLM_OPS_LIBRARY`, and loaded with RTLD_GLOBAL before the
interpreter is created, after the wheel's own extension (whose exported functions the op calls). The library's
folder is named by a digest of the sources (`CACHE/<digest>/`), so a library is only ever loaded for the sources
it was built from: two installs (or checkouts) sharing the cache each build and load their own.
"""
import ctypes
import hashlib
import os
import pathlib
import shutil
import subprocess

from .interpreters import InterpreterUnavailable

SOURCE = pathlib.Path(__file__).resolve().parent / "tflm_kernel"
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache") / "tfquant" / "tflm_kernel"


def _sources_digest():
    """SHA-256 (first 16 hex digits) of the kernel's source files, names and bytes: the build's identity."""
    digest = hashlib.sha256()
    for path in sorted(p for p in SOURCE.iterdir() if p.is_file()) if SOURCE.is_dir() else []:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


BUILT = CACHE / _sources_digest() / "libtfquant_binary_ops.so"
LIBRARY = pathlib.Path(os.environ.get("TFQUANT_TFLM_OPS_LIBRARY", BUILT))
OP_NAME = "TFQUANT_BINARY"
REGISTERER = "tfquant_binary_ops_registerer"
PROBE_OP_NAME = "TFQUANT_ABI_PROBE"
PROBE_REGISTERER = "tfquant_abi_probe_registerer"
_loaded = {}


class KernelUnavailable(InterpreterUnavailable):
    """The TFQUANT_BINARY library cannot be built or loaded here: TFLite Micro cannot open a packed-tflm file
    (the runner refuses it with this message; the exporter turns it into an ExportError)."""


def build():
    """Compile the shared library (g++ -Wall -Werror, no download); returns its path."""
    if not SOURCE.is_dir():
        raise KernelUnavailable(f"the kernel sources {SOURCE} are missing (an incomplete install of tfquant?): "
                                "reinstall it, or set TFQUANT_TFLM_OPS_LIBRARY to a built libtfquant_binary_ops.so")
    if shutil.which("make") is None or shutil.which("g++") is None:
        raise KernelUnavailable("building the TFQUANT_BINARY kernel needs make and g++ "
                                "(Debian: apt-get install make g++)")
    done = subprocess.run(["make", "-s", "-C", str(SOURCE), f"BUILD={BUILT.parent}"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"make exit status {done.returncode}").splitlines()
        first_error = next((line for line in lines if "error" in line), lines[-1])
        raise KernelUnavailable(f"building the TFQUANT_BINARY kernel failed: {first_error} "
                                f"(run `make -C {SOURCE}` to see the whole output)")
    return BUILT


def load():
    """Load the library into this process (building it first when none was built from these sources)."""
    if "library" not in _loaded:
        if LIBRARY == BUILT and not BUILT.exists():
            build()
        if not LIBRARY.exists():
            raise KernelUnavailable(f"{LIBRARY} does not exist; run `make -C {SOURCE}`")
        from tflite_micro.python.tflite_micro import _runtime
        # The op calls the interpreter's exported MicroContext* functions (tflm_abi.h): make the
        # already-loaded extension's symbols global before our library is resolved against them.
        _loaded["runtime"] = ctypes.CDLL(_runtime.__file__, mode=ctypes.RTLD_GLOBAL)
        try:
            _loaded["library"] = ctypes.CDLL(str(LIBRARY), mode=ctypes.RTLD_GLOBAL)
        except OSError as error:
            raise KernelUnavailable(f"{LIBRARY} does not load against this tflite-micro ({error}); "
                                    "tflm_abi.h no longer matches the installed wheel") from None
    return _loaded["library"]


def uses_op(model_bytes):
    """True when the file names the TFQUANT_BINARY op (format packed-tflm). A byte search, so the interpreter
    layer needs no flatbuffer parser; a false positive only registers an op the model does not use (harmless)
    or refuses a file on the interpreters that lack it."""
    return OP_NAME.encode() in bytes(model_bytes)


def registerers(model_bytes):
    """The `custom_op_registerers` the TFLM Python interpreter needs for `model_bytes`: [REGISTERER]
    (the library loaded) when it uses the TFQUANT_BINARY op (`uses_op`), else []."""
    if not uses_op(model_bytes):
        return []
    load()
    return [REGISTERER]


if __name__ == "__main__":  # `python -m tfquant_lite.tflm_ops`: build the library (make setup runs it)
    print(build())

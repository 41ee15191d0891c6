"""The error discipline of tfquant's command-line tools, and TensorFlow's quieting for those that import it.

The discipline (exit status, one-line ``error:`` messages, the argparse types, `run`) is
`tfquant_lite.cli_common`, which `tfquant-run` uses alone; its names are re-exported here for
``tfquant-train`` and ``tfquant-export``, which also call `import_tensorflow` (TensorFlow's start-up banners
dropped) and `quiet_native_logs`.
"""

import contextlib
import importlib.util
import os
import sys
import tempfile

from tfquant_lite.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArgumentParser,
    BadInput,
    CheckFailed,
    add_common_arguments,
    bounded_int,
    check_outputs,
    error,
    existing_file,
    finite_float,
    non_negative_float,
    non_negative_int,
    normalization_mean,
    normalization_std,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    quiet,
    run,
)

__all__ = ["EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "ArgumentParser",
           "BadInput", "CheckFailed", "add_common_arguments", "bounded_int", "check_outputs", "error",
           "existing_file", "finite_float", "non_negative_float", "non_negative_int", "normalization_mean",
           "normalization_std", "output_dir", "output_file", "positive_float", "positive_int", "quiet", "run",
           "NATIVE_INFO", "TENSORFLOW_BANNERS", "quiet_native_logs", "import_tensorflow"]

NATIVE_INFO = ("INFO: ",)  # LiteRT's C++ INFO lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
# What TensorFlow 2.21 writes to file descriptor 2 while it loads, twice (two libraries), from C++ static
# initialisers that run before any log level applies: TF_CPP_MIN_LOG_LEVEL silences the rest, and
# TF_ENABLE_ONEDNN_OPTS=0 would silence these too but makes training 1.2-1.8x slower.
#   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
#   I0000 00:00:1796287235.816297    7630 port.cc:153] oneDNN custom operations are on. ...
TENSORFLOW_BANNERS = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ")


@contextlib.contextmanager
def quiet_native_logs(verbose=False, drop=NATIVE_INFO):
    """Drop the INFO lines that C++ libraries (LiteRT) write to file descriptor 2 while the block runs.

    Everything else written there is kept and shown when the block ends (warnings and errors included), in
    its order. No-op when `verbose`.
    """
    if verbose:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not line.startswith(drop)]
            sys.stderr.write("".join(kept))


def import_tensorflow(verbose=False):
    """Import TensorFlow (Keras's backend) with its start-up banners dropped, unless `verbose`: call it where
    a tool starts to need TensorFlow, before Keras is imported. A no-op where TensorFlow is not installed."""
    quiet(verbose)
    if importlib.util.find_spec("tensorflow") is None:
        return
    with quiet_native_logs(verbose, drop=NATIVE_INFO + TENSORFLOW_BANNERS):
        import tensorflow  # noqa: F401

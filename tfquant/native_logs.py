"""The log lines that C++ libraries write to file descriptor 2, past Python's `sys.stderr`, and how to drop them.

TensorFlow writes start-up banners while it loads, from static initialisers that run before any log level
applies; LiteRT writes an INFO line when it creates its XNNPACK delegate. `quiet_native_logs` drops the
lines that start with given prefixes while a block runs and shows everything else afterwards, in its order.
`import tfquant` imports Keras (and so TensorFlow) inside it, so that a tool's ``--help`` or its one-line
error is all that reaches the terminal.
"""
import contextlib
import os
import sys
import tempfile

NATIVE_INFO = ("INFO: ",)  # LiteRT's C++ INFO lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")
# What TensorFlow 2.21 writes to file descriptor 2 while it loads, twice (two libraries), from C++ static
# initialisers that run before any log level applies: TF_CPP_MIN_LOG_LEVEL silences the rest, and
# TF_ENABLE_ONEDNN_OPTS=0 would silence these too but makes training 1.2-1.8x slower.
#   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
#   I0000 00:00:1796287235.816297    7630 port.cc:153] oneDNN custom operations are on. ...
#   I0000 00:00:1796395051.367671   19074 cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
#   To enable the following instructions: AVX2 AVX512F ..., in other operations, rebuild TensorFlow ...
TENSORFLOW_BANNERS = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ",
                      "To enable the following instructions: ")


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

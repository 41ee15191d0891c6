"""Try a model on an interpreter in a forked child first, so that a crash of the interpreter is an answer.

An interpreter trusts its file: a malformed graph that `soundness.check` does not foresee can still make it
read out of bounds and die by a signal (SIGSEGV), taking the caller with it, with nothing printed. The runner
gives every foreign file (one tfquant did not stamp) to `crash_of` first: a forked child opens the model,
feeds it zeros of the input's type and shape, invokes it once and reads the output. The parent learns only
how the child ended:

    exit 0                -> None (it ran; the parent then opens the model itself)
    exit 1 (an exception) -> None (the parent meets the same exception, with its message, when it opens it)
    killed by signal S    -> "the interpreter crashed (signal S, SIGSEGV)"
    still running after `timeout` s -> killed, "the interpreter did not finish one invoke in ..."

POSIX only (os.fork): elsewhere `crash_of` returns None without trying. Needs numpy and the interpreter.
"""
import faulthandler
import os
import signal
import sys
import time

import numpy as np

POLL_S = 0.01


def _child(model, interpreter, num_threads, arena_size):
    from . import interpreters
    faulthandler.disable()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1), os.dup2(null, 2)
    try:
        session = interpreters.open_session(model, interpreter, num_threads, arena_size, quiet=True)
        session.set_input(np.zeros(session.input["shape"], session.input["dtype"]))
        session.invoke()
        np.asarray(session.get_output()).sum()
        os._exit(0)
    except BaseException:  # noqa: BLE001 - any exception: the parent will meet it again and report it
        os._exit(1)


def crash_of(model, interpreter, num_threads=1, arena_size=None, timeout=120.0):
    """None when a forked child opens `model` (bytes) on `interpreter` and invokes it once without dying by a
    signal; otherwise how it died, as words (see the module docstring)."""
    if not hasattr(os, "fork"):
        return None
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(model, interpreter, num_threads, arena_size)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return f"the interpreter did not finish one invoke in {timeout:g} s"
        time.sleep(POLL_S)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            label = signal.Signals(number).name
        except ValueError:
            label = "unknown"
        return f"the interpreter crashed (signal {number}, {label})"
    return None

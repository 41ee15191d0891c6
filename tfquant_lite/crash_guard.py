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

The fork, the silenced child and the wait are `in_child`, which TFLite Micro's arena probe
(`interpreters.tflm_runs`) uses too; a child still running when the wait ends (its deadline, or Ctrl-C) is
killed. POSIX only (os.fork): elsewhere `crash_of` returns None without trying. Needs numpy and the interpreter.
"""
import contextlib
import faulthandler
import os
import signal
import sys
import time

import numpy as np

POLL_S = 0.01


def in_child(work, timeout=None):
    """Call ``work()`` in a forked child, its stdout and stderr sent to /dev/null; return how the child ended:
    ``("exit", 0)`` when `work` returned true, ``("exit", 1)`` when it returned false or raised, ``("signal", S)``
    when it died by signal S, ``("timeout", None)`` when it ran past `timeout` seconds (then it is killed; None:
    no limit). The child is killed too when the wait itself is interrupted (Ctrl-C), so none is left behind.
    POSIX only (os.fork)."""
    sys.stdout.flush(), sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child reports by its exit status only; a crash's trace stays silent too
        faulthandler.disable()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)
        try:
            os._exit(0 if work() else 1)
        except BaseException:  # noqa: BLE001 - any exception: the caller meets it again in its own process
            os._exit(1)
    deadline = None if timeout is None else time.monotonic() + timeout
    done = 0  # the child's pid once it has ended
    try:
        while True:
            done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                return "timeout", None
            time.sleep(POLL_S)
    finally:
        if not done:  # past the deadline, or the wait was interrupted (Ctrl-C)
            _kill(pid)
    if os.WIFSIGNALED(status):
        return "signal", os.WTERMSIG(status)
    return "exit", os.WEXITSTATUS(status)


def _kill(pid):
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def _opens_and_invokes(model, interpreter, num_threads, arena_size):
    from . import interpreters
    session = interpreters.open_session(model, interpreter, num_threads, arena_size, quiet=True)
    session.set_input(np.zeros(session.input["shape"], session.input["dtype"]))
    session.invoke()
    np.asarray(session.get_output()).sum()
    return True


def crash_of(model, interpreter, num_threads=1, arena_size=None, timeout=120.0):
    """None when a forked child opens `model` (bytes) on `interpreter` and invokes it once without dying by a
    signal; otherwise how it died, as words (see the module docstring)."""
    if not hasattr(os, "fork"):
        return None
    kind, value = in_child(lambda: _opens_and_invokes(model, interpreter, num_threads, arena_size), timeout)
    if kind == "timeout":
        return f"the interpreter did not finish one invoke in {timeout:g} s"
    if kind == "signal":
        try:
            label = signal.Signals(value).name
        except ValueError:
            label = "unknown"
        return f"the interpreter crashed (signal {value}, {label})"
    return None

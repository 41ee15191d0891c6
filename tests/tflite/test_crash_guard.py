"""crash_guard.in_child, the one fork-and-wait of the device core (crash_of, TFLite Micro's arena probe): how
the child ended, and no child left running when the wait ends early (deadline, Ctrl-C)."""
import os
import signal
import time

import pytest

from tfquant_lite import crash_guard

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_how_the_child_ended():
    assert crash_guard.in_child(lambda: True) == ("exit", 0)
    assert crash_guard.in_child(lambda: False) == ("exit", 1)
    assert crash_guard.in_child(lambda: 1 / 0) == ("exit", 1)
    assert crash_guard.in_child(lambda: os.kill(os.getpid(), signal.SIGSEGV)) == ("signal", signal.SIGSEGV)


def _sleeper(pid_file):
    def work():
        pid_file.write_text(str(os.getpid()))
        time.sleep(60)
    return work


def _child_pid(pid_file):
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text():
            return int(pid_file.read_text())
        time.sleep(0.01)
    raise AssertionError("the child never started")


def test_a_child_past_its_deadline_is_killed(tmp_path):
    pid_file = tmp_path / "pid"
    assert crash_guard.in_child(_sleeper(pid_file), timeout=0.5) == ("timeout", None)
    assert not _alive(_child_pid(pid_file))


def test_an_interrupted_wait_kills_the_child(tmp_path):
    pid_file = tmp_path / "pid"

    def interrupt(*_):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            crash_guard.in_child(_sleeper(pid_file))  # no deadline: a blocking wait
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not _alive(_child_pid(pid_file))

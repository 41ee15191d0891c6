"""What every refusing command must look like: its exit status and exactly one ``error:`` line on stderr.

Nothing else may be on stderr but ``warning:`` lines printed before it: no argparse usage block, no traceback,
no interpreter log.
"""


def run_cli(main, argv, capsys):
    """``main(argv)`` in-process; returns (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err):
    """The one ``error:`` line of `err`; AssertionError unless stderr is ``warning:`` lines and that one line."""
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    others = [line for line in lines if not line.startswith(("error: ", "warning: "))]
    assert len(errors) == 1 and not others, f"not exactly one error line:\n{err[-2000:]}"
    assert lines[-1] == errors[0], f"the error line is not the last line:\n{err[-2000:]}"
    return errors[0]


def assert_refused(main, argv, capsys, status=2, says=""):
    """`main(argv)` exits with `status` and prints one ``error:`` line containing `says`; returns the line."""
    code, out, err = run_cli(main, argv, capsys)
    assert code == status, (code, err[-2000:])
    line = one_error_line(err)
    assert says in line, (says, line)
    assert "Traceback" not in out
    return line

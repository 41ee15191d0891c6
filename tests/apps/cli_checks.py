"""What every failing command must look like: its exit status, exactly one ``error:`` line, no traceback."""


def run_cli(main, argv, capsys):
    """``main(argv)`` in-process; returns (exit status, stdout, stderr)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(main, argv, capsys, status=2, says=""):
    """`main(argv)` exits with `status`, one ``error:`` line containing `says`, and no traceback."""
    code, out, err = run_cli(main, argv, capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == status, (code, err[-2000:])
    assert len(errors) == 1, err[-2000:]
    assert says in errors[0], (says, errors[0])
    assert "Traceback" not in err + out
    return errors[0]

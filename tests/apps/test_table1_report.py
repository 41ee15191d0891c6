"""`python -m training.table1 --report-only` on a fresh clone (no finished runs) says so instead of crashing."""

import pytest

from training import table1


def test_report_only_without_finished_runs_is_a_clear_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        table1.main(["--report-only", "--root", str(tmp_path / "runs")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no finished runs in" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()

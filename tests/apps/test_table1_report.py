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


def test_runs_and_epochs_select_the_plan_and_reach_the_training_command():
    names = [name for name, _ in table1.plan([0, 1], only={"ADAM", table1.NO_CLIP})]
    assert names == ["ADAM|0", "ADAM|1", f"{table1.NO_CLIP}|0"]
    no_clip = dict(table1.plan([0, 1]))[f"{table1.NO_CLIP}|0"]
    assert "--no-clip" in no_clip and ["--method", "bc"] == no_clip[:2]
    decayed = dict(table1.plan([0], fig7_seeds=[2]))["BC-ADAM wr-decay1e-05|2"]
    assert decayed[:4] == ["--method", "bc", "--full-precision-l2", "1e-05"] and decayed[-2:] == ["--seed", "2"]
    assert "--epochs" not in table1.COMMON  # one place decides it: run_all's --epochs
    with pytest.raises(SystemExit) as exit_:
        table1.main(["--runs", "ADAM-ish", "--root", "unused"])
    assert exit_.value.code == 2


def _history(test_errors):
    return [{"epoch": e + 1, "train_error": err / 2, "test_error": err, "changed_since_start/c.kernel": 1.0,
             "bc_gap/c.kernel": 0.5} for e, err in enumerate(test_errors)]


def test_report_judges_the_ordering_on_the_rows_that_ran_and_names_the_others(tmp_path):
    import json
    for label, err in [("ADAM", 8.0), ("BC-ADAM", 9.0), ("SR-ADAM", 20.0), ("R-ADAM", 19.0)]:
        out = table1.run_dir(tmp_path, label, 0)
        out.mkdir(parents=True)
        (out / "history.json").write_text(json.dumps(_history([30.0, err])))
    text = table1.report(tmp_path, [0], tmp_path / "figures")
    assert "does NOT hold on the 4 rows run (Big SR-ADAM: not run)" in text  # R (19) beat SR (20)
    assert "| Big SR-ADAM | not run |" in text


def test_fig7_arms_run_and_report_at_the_seeds_asked(tmp_path):
    """--fig7-seeds: the weight-decay and no-clip arms at every seed given, reported as mean and spread."""
    import json
    names = [name for name, _ in table1.plan([0, 1, 2], only={table1.NO_CLIP}, fig7_seeds=[1, 2])]
    assert names == [f"{table1.NO_CLIP}|1", f"{table1.NO_CLIP}|2"]
    for label, seed, err in [("ADAM", 1, 8.0), ("BC-ADAM", 1, 9.0), ("BC-ADAM", 2, 9.5),
                             (table1.NO_CLIP, 1, 10.0), (table1.NO_CLIP, 2, 11.0)]:
        out = table1.run_dir(tmp_path, label, seed)
        out.mkdir(parents=True)
        (out / "history.json").write_text(json.dumps(_history([30.0, err])))
    text = table1.report(tmp_path, [1, 2], tmp_path / "figures", fig7_seeds=[1, 2])
    assert "| 0 | 2 | 9.25 | ± 0.35 | 0.500 | ± 0.000 |" in text
    assert "| 0, no clip | 2 | 10.50 | ± 0.71 | 0.500 | ± 0.000 |" in text
    assert "| 1e-05 |" not in text  # an arm with no finished seed is left out

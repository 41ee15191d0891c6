"""The issue-11 studies (training/studies.py, training/short_runs.py): flip accounting on a real short run, the
run plan, and the published data file against the tables RESULTS.md quotes from it."""

import json
from pathlib import Path

import numpy as np
import pytest

from tfquant import arrays
from training import short_runs, studies
from training.short_runs import Spec

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "figures" / "studies_t1.json"
needs_data = pytest.mark.skipif(arrays.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")


@needs_data
def test_batches_visit_every_image_once_per_epoch_in_a_seeded_order():
    data = short_runs.Arrays(1000)
    assert data.x_train.shape == (1000, 28, 28, 1) and data.x_train.dtype == np.float32
    assert abs(float(data.x_train.mean())) < 1e-3 and abs(float(data.x_train.std()) - 1) < 1e-3
    stream = data.batches(300, seed=4)
    epoch = [next(stream) for _ in range(4)]  # 300 + 300 + 300 + 100
    assert [len(y) for _, y in epoch] == [300, 300, 300, 100]
    seen = np.concatenate([x.reshape(len(x), -1) for x, _ in epoch])
    assert len(np.unique(seen, axis=0)) == len(np.unique(data.x_train.reshape(1000, -1), axis=0))
    again = next(data.batches(300, seed=4))[1]
    other = next(data.batches(300, seed=5))[1]
    assert np.array_equal(again, epoch[0][1]) and not np.array_equal(other, epoch[0][1])


@needs_data
@pytest.mark.parametrize("method", ["sr", "bc"])
def test_flip_accounting_on_a_real_run(tmp_path, method):
    spec = Spec(method, updates=12, batch=64, train_subset=640, seed=1)
    result = short_runs.run(spec, tmp_path)
    total, net, weights = result["flips_total"], result["changed_since_start"], result["weights"]
    assert weights == 108_432  # VGG-9 at 1/4 width on 28x28x1: every conv kernel weight
    assert 0 <= net <= total and net <= weights
    # a weight flipped k times has changed iff k is odd, so every weight contributes an even k - [k odd]
    assert (total - net) % 2 == 0
    assert result["share_undone"] == pytest.approx((total - net) / total if total else 0.0)
    assert result["flips_per_update"] == pytest.approx(total / 12)
    curve = result["changed_curve"]
    assert curve["every"] == 1 and len(curve["changed"]) == 12 and curve["changed"][-1] == net
    assert result["epochs_of_data"] == pytest.approx(12 * 64 / 640)
    if method == "bc":
        assert 0 < result["bc_gap"] <= 1 and result["max_abs_w_r"] <= 1 + 1e-6  # clipped by default
    assert short_runs.run(spec, tmp_path) == result  # a finished run is read back, not retrained


def test_a_failing_run_is_reported_and_the_others_go_on(tmp_path, capsys):
    results = short_runs.run_plan([Spec("no-such-method", updates=1, train_subset=64)], tmp_path)
    assert results == [None]
    assert "no-such-method" in capsys.readouterr().out


def test_plan_of_the_table1_scale_studies():
    specs = studies.plan(["fig4_t1", "bigbatch_t1", "fig7_t1"], order="longest")
    assert len(specs) == len(set(specs)) == 6 * 3 + 8 * 5 + 5 * 3
    assert {s.updates for s in specs[:18]} == {studies.LONG_UPDATES}  # the 40-epoch runs start first
    costs = [s.updates * (512 + s.batch) for s in specs]
    assert costs == sorted(costs, reverse=True)
    assert {s.train_subset for s in specs} == {studies.T1_SUBSET}
    bigbatch = [s for s in specs if s.updates == studies.T1_UPDATES and s.method == "sr"]
    arms = {(o, b) for o in ("adam", "sgd") for b in (128, 256, 512, 1024)}
    assert {(s.optimizer, s.batch) for s in bigbatch} == arms
    assert {s.seed for s in bigbatch} == set(range(5))
    sequential = studies.plan(["bc"], seeds=[0, 1])
    assert [s.seed for s in sequential] == sorted(s.seed for s in sequential)  # whole seeds first


def test_published_studies_match_the_tables_in_results():
    data = json.loads(PUBLISHED.read_text())
    assert data["provenance"]["command"].startswith("python -m training.studies publish")
    assert "run_studies_gpu.sh" in data["made_by"]
    for study, seeds in (("bigbatch_t1", 5), ("fig4_t1", 3), ("fig7_t1", 3)):
        assert set(data["studies"][study]) == set(studies.STUDIES[study](0))
        for label, runs in data["studies"][study].items():
            assert len(runs) == seeds, (study, label)
            assert [r["spec"] for r in runs] == [vars(studies.STUDIES[study](s)[label]) for s in range(seeds)]
    results = (ROOT / "docs" / "RESULTS.md").read_text()
    for line in studies.report(data["studies"]).splitlines():
        if line.startswith("| ") and not line.startswith("| run |"):
            assert line in results, f"RESULTS.md does not quote the published row {line!r}"


def test_report_from_the_published_file_and_bad_arguments(tmp_path, capsys):
    assert studies.main(["report", "--from", str(PUBLISHED), "--studies", "fig7_t1", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "### fig7_t1" in out and "| ADAM | 3 | 7.81 ± 0.01 |" in out
    (tmp_path / "damaged.json").write_text('{"studies": ')
    (tmp_path / "other.json").write_text('{"provenance": {}}')
    for argv, message in ((["report", "--from", str(tmp_path / "missing.json")], "no such file"),
                          (["report", "--from", str(tmp_path / "damaged.json")], "not a file written by"),
                          (["report", "--from", str(tmp_path / "other.json")], "not a file written by"),
                          (["run", "--workers", "0"], "--workers must be at least 1")):
        with pytest.raises(SystemExit) as exit_info:
            studies.main(argv + ["--root", str(tmp_path)])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err

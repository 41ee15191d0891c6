"""The main job end to end in its quick mode: train, export four formats (each verified), run them with the
on-device runner, bundle the demo; the full-size job is `make main`. Without --publish it writes nothing
outside its --out folder."""

import json

from jobs import main_job


def _tracked_outputs():
    return {path: path.read_bytes() for path in [main_job.ROOT / "docs" / "RESULTS.md",
                                                  *sorted(main_job.PUBLISHED_DEMO.glob("*"))] if path.is_file()}


def test_quick_main_job_holds_together(tmp_path):
    before = _tracked_outputs()
    assert main_job.main(["--quick", "--out", str(tmp_path / "main")]) == 0

    out = tmp_path / "main-quick"
    summary = json.loads((out / "main_job.json").read_text())
    rows = {name: (accuracy, size, latency) for name, accuracy, size, latency in summary["rows"]}
    assert len(rows) == 2 + len(main_job.RUNS)  # Keras x 2, each file (packed ones as downloaded and expanded)
    assert {name.split(".tflite")[0] for name in rows if ".tflite" in name} == set(main_job.FORMATS)
    assert sum("as downloaded" in name for name in rows) == sum("expanded at load" in name for name in rows) == 2
    sizes = {fmt: (out / "export" / f"{fmt}.tflite").stat().st_size for fmt in main_job.FORMATS}
    assert sizes["packed"] < sizes["float32"] and sizes["packed-int8"] < sizes["int8"]
    keras_bc = rows["Keras, BC-Adam (binary conv kernels)"][0]
    for name, (accuracy, size, latency) in rows.items():
        assert accuracy > 0.2, (name, accuracy)  # ten classes: chance is 0.1
        if size is not None:  # on the same 500 images: float exports within one image, int8 within 3%
            assert abs(accuracy - keras_bc) <= (0.002 if "float32" in name or name.startswith("packed.") else 0.03), \
                (name, accuracy, keras_bc)
            assert latency > 0

    fidelity = summary["int8_fidelity"]  # argmax agreement of Keras and its int8 file, Adam- and BC-trained
    assert set(fidelity) == {"adam", "bc"} and all(0.8 <= f <= 1 for f in fidelity.values()), fidelity

    manifest = json.loads((out / "demo" / "models.json").read_text())
    assert {m["name"] for m in manifest["models"]} == set(main_job.DEMO_FORMATS)
    assert _tracked_outputs() == before  # docs/RESULTS.md and the shipped demo models untouched


def test_a_quick_run_is_not_published(tmp_path, capsys):
    assert main_job.main(["--quick", "--publish", "--out", str(tmp_path / "main")]) == 2
    assert "not published" in capsys.readouterr().err
    assert not (tmp_path / "main-quick").exists()


def test_a_learning_rate_that_is_not_positive_is_refused(tmp_path, capsys):
    assert main_job.main(["--quick", "--lr", "0", "--out", str(tmp_path / "main")]) == 2
    assert "--lr" in capsys.readouterr().err
    assert not (tmp_path / "main-quick").exists()

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
    assert len(rows) == 2 + len(main_job.FORMATS)
    sizes = {fmt: (out / "export" / f"{fmt}.tflite").stat().st_size for fmt in main_job.FORMATS}
    assert sizes["packed"] < sizes["float32"] and sizes["packed-int8"] < sizes["int8"]
    keras_bc = rows["Keras, BC-Adam (binary conv kernels)"][0]
    for name, (accuracy, size, latency) in rows.items():
        assert accuracy > 0.2, (name, accuracy)  # ten classes: chance is 0.1
        if size is not None:  # on the same 500 images: float exports within one image, int8 within 3%
            assert abs(accuracy - keras_bc) <= (0.002 if "float32" in name or name.startswith("packed.") else 0.03), \
                (name, accuracy, keras_bc)
            assert latency > 0

    manifest = json.loads((out / "demo" / "models.json").read_text())
    assert {m["name"] for m in manifest["models"]} == set(main_job.DEMO_FORMATS)
    assert _tracked_outputs() == before  # docs/RESULTS.md and the shipped demo models untouched


def test_a_quick_run_is_not_published(tmp_path, capsys):
    assert main_job.main(["--quick", "--publish", "--out", str(tmp_path / "main")]) == 2
    assert "not published" in capsys.readouterr().err
    assert not (tmp_path / "main-quick").exists()

"""The main job end to end in its quick mode: train, export four formats (each verified), run them with the
on-device runner, bundle the demo; the full-size job is `make main`."""

import json

from training import main_job


def test_quick_main_job_holds_together(tmp_path):
    results_before = (main_job.ROOT / "docs" / "RESULTS.md").read_text()
    main_job.main(["--quick", "--out", str(tmp_path / "main"), "--demo-dir", str(tmp_path / "demo")])

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

    manifest = json.loads((tmp_path / "demo" / "models.json").read_text())
    assert {m["name"] for m in manifest["models"]} == set(main_job.DEMO_FORMATS)
    assert (main_job.ROOT / "docs" / "RESULTS.md").read_text() == results_before

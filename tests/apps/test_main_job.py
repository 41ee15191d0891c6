"""The main job end to end in its quick mode, as a user starts it (``python -m jobs.main_job --quick`` in its own
process): train, export four formats (each verified), run them with the on-device runner, bundle the demo, and
no TensorFlow/absl start-up lines. Without --publish it writes nothing outside its --out folder; --publish
(into temporary destinations here) writes demo models that pass tfquant-run's integrity check."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from jobs import main_job
from tfquant import data
from tfquant.cli import common
from tfquant_lite.runner import check_model

needs_data = pytest.mark.skipif(data.fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
# what TensorFlow, absl, XNNPACK and LiteRT print when nobody silences them
BANNERS = (*common.TENSORFLOW_BANNERS, *common.NATIVE_INFO, "cpu_feature_guard", "oneDNN custom operations",
           "To enable the following instructions", "E0000 ", "W0000 ")
QUICK = ["--epochs", "1", "--train-subset", "2000", "--test-images", "500", "--lr", str(main_job.QUICK_LEARNING_RATE)]


def _tracked_outputs():
    return {path: path.read_bytes() for path in [main_job.ROOT / "docs" / "RESULTS.md",
                                                  *sorted(main_job.PUBLISHED_DEMO.glob("*"))] if path.is_file()}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """(the -quick output folder, the finished process) of ``python -m jobs.main_job --quick``."""
    if data.fashion_mnist_dir() is None:
        pytest.skip("Fashion-MNIST files not installed")
    before = _tracked_outputs()
    base = tmp_path_factory.mktemp("main_job") / "main"
    env = {**os.environ, "PYTHONPATH": str(main_job.ROOT)}  # this checkout's tfquant, whatever is installed
    for name in ("TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel", "ABSL_MIN_LOG_LEVEL"):
        env.pop(name, None)  # a silenced parent (pytest, in-process tools) must not hide the banners
    proc = subprocess.run([sys.executable, "-m", "jobs.main_job", "--quick", "--out", str(base)], cwd=main_job.ROOT,
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _tracked_outputs() == before  # docs/RESULTS.md and the shipped demo models untouched
    return base.with_name(base.name + "-quick"), proc


@needs_data
def test_quick_main_job_prints_no_tensorflow_banners(quick_run):
    _, proc = quick_run
    lines = (proc.stdout + proc.stderr).replace("\r", "\n").splitlines()
    printed = [line for line in lines if any(banner in line for banner in BANNERS)]
    assert not printed, printed
    assert "== training BC-ADAM (binary-adam)" in proc.stdout and "Total" in proc.stdout


@needs_data
def test_quick_main_job_holds_together(quick_run):
    out, _ = quick_run
    summary = json.loads((out / "main_job.json").read_text())
    rows = {name: (accuracy, size, latency) for name, accuracy, size, latency in summary["rows"]}
    assert len(rows) == 2 + len(main_job.RUNS)  # Keras x 2, each file (packed ones as downloaded and expanded)
    assert {name.split(".tflite")[0] for name in rows if ".tflite" in name} == set(main_job.FORMATS)
    assert sum("as downloaded" in name for name in rows) == sum("expanded at load" in name for name in rows) == 2
    sizes = {fmt: (out / "export" / f"{fmt}.tflite").stat().st_size for fmt in main_job.FORMATS}
    assert sizes["packed"] < sizes["float32"] and sizes["packed-int8"] < sizes["int8"]
    keras_bc = next(accuracy for name, (accuracy, _, _) in rows.items() if name.startswith("Keras, BC-Adam"))
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


@needs_data
def test_the_bc_run_is_the_binary_adam_recipe_and_adam_shares_its_schedule(quick_run):
    out, _ = quick_run
    progress = {m: json.loads((out / m / "progress.json").read_text())["config"] for m in ("adam", "bc")}
    assert progress["bc"]["recipe"] == "binary-adam" and progress["adam"]["recipe"] is None
    assert progress["bc"]["schedule"] == progress["adam"]["schedule"] == "cosine"
    assert {k: v for k, v in progress["bc"].items() if k not in ("method", "recipe", "out")} == \
        {k: v for k, v in progress["adam"].items() if k not in ("method", "recipe", "out")}
    model = keras.models.load_model(out / "bc" / "model.keras", compile=False)
    kernels = {v.path.split("/")[0]: np.asarray(v) for v in model.trainable_variables if v.path.endswith("kernel")}
    assert not np.isin(kernels["conv1"], [-1.0, 1.0]).all()  # the recipe keeps the first conv in full precision
    assert all(np.isin(kernels[f"conv{i}"], [-1.0, 1.0]).all() for i in range(2, 8))


@needs_data
def test_publish_writes_stamped_demo_models_and_the_results_section(quick_run, tmp_path, capsys):
    """--publish into temporary destinations, reusing the quick run's finished training (same settings)."""
    out, _ = quick_run
    before = _tracked_outputs()
    results = tmp_path / "RESULTS.md"
    shutil.copy(main_job.RESULTS, results)
    destinations = main_job.Destinations(demo=tmp_path / "demo", results=results)
    trained = {m: (out / m / "checkpoint.keras").stat().st_mtime_ns for m in ("adam", "bc")}
    assert main_job.main(["--publish", *QUICK, "--out", str(out)], destinations=destinations) == 0
    assert {m: (out / m / "checkpoint.keras").stat().st_mtime_ns for m in ("adam", "bc")} == trained  # not retrained
    assert f"published: {tmp_path / 'demo'} and {results}" in capsys.readouterr().out

    published = sorted((tmp_path / "demo").glob("*.tflite"))
    assert sorted(p.stem for p in published) == sorted(main_job.DEMO_FORMATS)
    for path in published:
        record, note = check_model(path.read_bytes(), str(path))
        assert record["checksum"] == "verified" and note is None, (path, record)
        assert record["format"] == path.stem
    section = results.read_text().split("## Main job (end to end)")[1].split("\n## ")[0]
    assert "tfquant.recipes.binary_adam" in section and "| packed-int8.tflite" in section
    assert _tracked_outputs() == before  # the real destinations untouched


def test_a_quick_run_is_not_published(tmp_path, capsys):
    assert main_job.main(["--quick", "--publish", "--out", str(tmp_path / "main")]) == 2
    assert "not published" in capsys.readouterr().err
    assert not (tmp_path / "main-quick").exists()


def test_a_learning_rate_that_is_not_positive_is_refused(tmp_path, capsys):
    assert main_job.main(["--quick", "--lr", "0", "--out", str(tmp_path / "main")]) == 2
    assert "--lr" in capsys.readouterr().err
    assert not (tmp_path / "main-quick").exists()


def test_the_results_section_names_the_images_scored_not_the_flag(tmp_path):
    """--test-images 50000 scores the 10,000 test images there are: the published text says 10000."""
    args = main_job.check(main_job.build_parser().parse_args(["--test-images", "50000", "--out", str(tmp_path)]))
    section = main_job.results_section("| table |", args, 4.2, 10000)
    assert "first 10000 test images" in section and "50000" not in section

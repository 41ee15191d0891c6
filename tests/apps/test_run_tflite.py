"""The on-device runner (tfquant-run, tfquant_lite/cli.py over tfquant_lite/runner.py; export/run_tflite.py is
its documented wrapper), on the demo's bundled models and gallery."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from android_demo.build_demo import DEMO_DIR, read_gallery, write_png
from export import run_tflite

ROOT = Path(__file__).resolve().parents[2]
MODELS = DEMO_DIR / "models"
MANIFEST = json.loads((MODELS / "models.json").read_text())
PREPROCESS = MANIFEST["preprocess"]
NAMES = [m["name"] for m in MANIFEST["models"]]
TFLITE_RUNTIME_PYTHON = ROOT / ".venv-tflite-runtime" / "bin" / "python"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}  # this checkout's tfquant


@pytest.fixture(scope="module")
def gallery():
    return read_gallery(MODELS / "gallery.json")


@pytest.fixture(scope="module")
def litert_results(gallery):
    images, labels = gallery
    return {name: run_tflite.run(MODELS / f"{name}.tflite", images, labels, "litert", **PREPROCESS) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_litert_result_is_consistent(name, gallery, litert_results):
    images, labels = gallery
    result = litert_results[name]
    assert result["interpreter"] == "litert" and result["n"] == len(images)
    assert result["probabilities"].shape == (len(images), 10)
    np.testing.assert_allclose(result["probabilities"].sum(axis=1), 1, atol=1e-5)
    assert result["accuracy"] == np.mean(result["predictions"] == labels)
    assert result["accuracy"] >= 0.5  # a trained Fashion-MNIST net, not chance (0.1)
    lat = result["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]


@pytest.mark.parametrize("name", NAMES)
def test_tflm_agrees_with_litert(name, gallery, litert_results):
    images, labels = gallery
    result = run_tflite.run(MODELS / f"{name}.tflite", images, labels, "tflm", **PREPROCESS)
    assert result["interpreter"] == "tflm"
    np.testing.assert_array_equal(result["predictions"], litert_results[name]["predictions"])
    np.testing.assert_allclose(result["probabilities"], litert_results[name]["probabilities"], atol=8 / 256)


def test_repeated_invokes_give_the_same_answer(gallery):
    """Warm-up invokes must not change the result (TFLite Micro overwrites its input tensor)."""
    images = gallery[0][:3]
    model = MODELS / f"{NAMES[0]}.tflite"
    once = run_tflite.run(model, images, interpreter="tflm", warmup=0, **PREPROCESS)
    thrice = run_tflite.run(model, images, interpreter="tflm", warmup=2, **PREPROCESS)
    np.testing.assert_array_equal(once["probabilities"], thrice["probabilities"])


@pytest.mark.tflite_runtime
@pytest.mark.skipif(not TFLITE_RUNTIME_PYTHON.exists(), reason="no .venv-tflite-runtime (tflite-runtime needs numpy<2)")
def test_cli_under_tflite_runtime(gallery, litert_results, tmp_path):
    """In a venv with only numpy<2 + tflite-runtime (no TensorFlow, keras or flatbuffers): the runner runs,
    says that it could check only the file identifier, and classifies as LiteRT does."""
    images, labels = gallery
    np.savez(tmp_path / "gallery.npz", x=images, y=labels)
    name = NAMES[0]
    done = subprocess.run([str(TFLITE_RUNTIME_PYTHON), "-m", "tfquant_lite.cli",
                           str(MODELS / f"{name}.tflite"), str(tmp_path / "gallery.npz"),
                           "--mean", str(PREPROCESS["mean"]), "--std", str(PREPROCESS["std"]),
                           "--json", str(tmp_path / "out.json")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120, env=ENV)
    assert done.returncode == 0, done.stderr
    assert "interpreter tflite-runtime" in done.stdout and "p99" in done.stdout
    assert "integrity not checked beyond the file identifier" in done.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    np.testing.assert_array_equal(out["predictions"], litert_results[name]["predictions"])
    assert out["accuracy"] == pytest.approx(litert_results[name]["accuracy"])


def test_cli_prints_accuracy_and_percentiles(gallery, tmp_path):
    images, labels = gallery
    np.savez(tmp_path / "g.npz", x=images, y=labels)
    done = subprocess.run([sys.executable, str(ROOT / "export" / "run_tflite.py"), str(MODELS / f"{NAMES[-1]}.tflite"),
                           str(tmp_path / "g.npz"), "--interpreter", "litert", "--show", "3"],
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert done.returncode == 0, done.stderr
    assert "interpreter litert, 24 images" in done.stdout
    assert "accuracy " in done.stdout and "p50" in done.stdout and "p90" in done.stdout
    assert done.stdout.count("  label ") == 3



@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("packed")])
def test_packed_files_are_expanded_by_default_off_tflm(name, gallery, litert_results):
    """On LiteRT a packed file is folded at load by default (XNNPACK speed) and classifies as with the
    in-graph unpacking (--no-expand); on TFLite Micro it is not expanded unless asked."""
    images, labels = gallery
    model = MODELS / f"{name}.tflite"
    kept = run_tflite.run(model, images, labels, "litert", expand=False, **PREPROCESS)
    assert litert_results[name]["expanded"] and not kept["expanded"]
    np.testing.assert_array_equal(kept["predictions"], litert_results[name]["predictions"])
    np.testing.assert_allclose(kept["probabilities"], litert_results[name]["probabilities"], atol=8 / 256)
    assert not run_tflite.run(model, images[:2], interpreter="tflm", **PREPROCESS)["expanded"]
    assert run_tflite.run(model, images[:2], interpreter="tflm", expand=True, **PREPROCESS)["expanded"]


def test_runner_imports_no_tensorflow_or_keras():
    code = ("import sys; import tfquant_lite.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tfquant', 'tensorflow', 'keras', 'jax', 'PIL'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, env=ENV)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("mode,optimize", [("L", False), ("L", True), ("RGB", True), ("RGBA", False)])
def test_read_png_matches_pillow(mode, optimize, gallery, tmp_path):
    """PNG decoding (all five row filters appear with optimize=True) against Pillow's decoder."""
    from PIL import Image
    grey = np.concatenate(gallery[0][:4], axis=1)
    rgb = np.stack([grey, np.roll(grey, 3, axis=0), 255 - grey], axis=-1)
    image = Image.fromarray(grey if mode == "L" else rgb).convert(mode)
    image.save(tmp_path / "x.png", optimize=optimize)
    expected = np.asarray(image.convert("RGB")).astype(float) @ [0.299, 0.587, 0.114]
    np.testing.assert_allclose(run_tflite.read_png(tmp_path / "x.png"), expected, atol=0.51)


def test_png_round_trip(gallery, tmp_path):
    """write_png (the demo builder's) -> load_inputs (the runner's) gives back the exact pixels."""
    images = gallery[0][:4]
    paths = [str(tmp_path / f"{i}.png") for i in range(len(images))]
    for path, image in zip(paths, images):
        write_png(path, image)
    loaded, labels = run_tflite.load_inputs(paths)
    assert labels is None
    np.testing.assert_array_equal(loaded, images)


def test_bad_inputs_have_clear_errors(gallery, tmp_path):
    model = MODELS / f"{NAMES[0]}.tflite"
    with pytest.raises(run_tflite.RunnerError, match="resize"):
        run_tflite.run(model, np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(run_tflite.RunnerError, match="not found"):
        run_tflite.run(tmp_path / "missing.tflite", gallery[0])
    with pytest.raises(run_tflite.RunnerError, match="unknown interpreter"):
        run_tflite.run(model, gallery[0], interpreter="onnx")
    with pytest.raises(run_tflite.RunnerError, match="3 labels for 24 images"):
        run_tflite.run(model, gallery[0], labels=[1, 2, 3])
    np.savez(tmp_path / "bad.npz", images=gallery[0])
    with pytest.raises(run_tflite.RunnerError, match="it needs 'x'"):
        run_tflite.load_inputs([str(tmp_path / "bad.npz")])
    (tmp_path / "fake.png").write_bytes(b"GIF89a")
    with pytest.raises(run_tflite.RunnerError, match="not a PNG"):
        run_tflite.load_inputs([str(tmp_path / "fake.png")])


def test_cli_exit_message_for_bad_input(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "export" / "run_tflite.py"), str(MODELS / f"{NAMES[0]}.tflite"),
                           str(tmp_path / "nothing.npz")], capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.count("error:") == 1

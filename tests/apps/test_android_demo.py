"""android_demo/: the bundle matches its manifest, and the PWA in headless Chromium (Pixel 7 viewport,
LiteRT.js on WebAssembly) predicts what the Python LiteRT interpreter predicts on the same gallery bytes,
through the UI too, and again offline from its service worker's cache."""
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import threading

import numpy as np
import pytest

from android_demo.build_demo import DEMO_DIR, read_gallery
from export import run_tflite

MODELS = DEMO_DIR / "models"
MANIFEST = json.loads((MODELS / "models.json").read_text())
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NODE = shutil.which("node")


def _quantized(model_path):
    """True when the model computes in int8 (its outputs then differ by a few quantization steps between
    kernel implementations: LiteRT.js' wasm build runs a packed int8 conv with other kernels than x86)."""
    from ai_edge_litert.interpreter import Interpreter
    return any(np.dtype(t["dtype"]) == np.int8 for t in Interpreter(model_path=str(model_path)).get_tensor_details())


def test_bundle_matches_manifest():
    names = [m["name"] for m in MANIFEST["models"]]
    assert {"packed", "int8"} <= set(names)
    assert sorted(p.stem for p in MODELS.glob("*.tflite")) == sorted(names)
    for entry in MANIFEST["models"]:
        data = (MODELS / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert entry["input"] == {"shape": [1, 28, 28, 1], "dtype": "float32"}
    sizes = {m["name"]: m["bytes"] for m in MANIFEST["models"]}
    assert sizes["packed"] < 100_000  # committed small files
    images, labels = read_gallery(MODELS / "gallery.json")
    assert images.shape == (24, 28, 28) and images.dtype == np.uint8 and set(labels) <= set(range(10))


@pytest.fixture(scope="module")
def browser_run():
    missing = [what for what, ok in (("chromium (apt-get install chromium)", os.path.exists(CHROMIUM)),
                                     ("node", NODE is not None),
                                     ("android_demo/node_modules (npm ci in android_demo)",
                                      (DEMO_DIR / "node_modules/playwright-core").is_dir()
                                      and (DEMO_DIR / "node_modules/@litertjs/core").is_dir()))
               if not ok]
    if missing:
        pytest.skip("browser test needs " + ", ".join(missing))
    spec = importlib.util.spec_from_file_location("demo_serve", DEMO_DIR / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    server = serve.make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done = subprocess.run([NODE, "tests/predict.mjs", f"http://127.0.0.1:{server.server_port}/", CHROMIUM],
                              cwd=DEMO_DIR, capture_output=True, text=True, timeout=240)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("entry", MANIFEST["models"], ids=lambda e: e["name"])
def test_browser_equals_python_litert(entry, browser_run):
    images, labels = read_gallery(MODELS / "gallery.json")
    python = run_tflite.run(MODELS / entry["file"], images, labels, "litert", **MANIFEST["preprocess"])
    browser = browser_run["models"][entry["name"]]
    probs = np.array([r["probs"] for r in browser])
    np.testing.assert_array_equal([r["prediction"] for r in browser], python["predictions"])
    atol = 8 / 256 if _quantized(MODELS / entry["file"]) else 1e-4
    np.testing.assert_allclose(probs, python["probabilities"], atol=atol)
    assert all(r["ms"] >= 0 for r in browser)


def test_page_is_isolated_and_error_free(browser_run):
    assert browser_run["crossOriginIsolated"] is True  # serve.py's COOP/COEP: wasm threads are possible
    assert browser_run["errors"] == []


def test_ui_card_after_tapping_a_gallery_image(browser_run):
    tapped = browser_run["tapped"]
    entry = next(m for m in MANIFEST["models"] if m["name"] == tapped["model"])
    predicted = browser_run["models"][entry["name"]][tapped["index"]]["prediction"]
    assert tapped["prediction"].startswith(MANIFEST["classes"][predicted])
    assert tapped["confidence"].endswith("% confident")
    assert tapped["latency"].endswith(" ms") and float(tapped["latency"].split()[0]) >= 0
    assert tapped["size"] == f"{entry['name']}, {entry['bytes'] / 1024:.1f} KiB"
    for stats in browser_run["benchmark"].values():
        assert 0 <= stats["p50"] <= stats["p90"] <= stats["p99"]


def test_works_offline_from_the_service_worker(browser_run):
    offline = browser_run["offline"]
    first = MANIFEST["models"][0]["name"]
    assert offline["controlled"]
    assert offline["predictions"] == [r["prediction"] for r in browser_run["models"][first]]


def test_file_input_classifies_a_photo(browser_run):
    """The 512 px icon is gallery image 0 (an ankle boot) scaled up on black: through the file input's
    crop / grey / 28x28 preprocessing it must still be read as an ankle boot."""
    images, labels = read_gallery(MODELS / "gallery.json")
    assert browser_run["file"]["prediction"] == MANIFEST["classes"][labels[0]]
    assert browser_run["file"]["confidence"].endswith("% confident")


@pytest.mark.skipif(NODE is None or not (DEMO_DIR / "node_modules/flatbuffers").is_dir(),
                    reason="needs node and android_demo/node_modules (npm ci in android_demo)")
@pytest.mark.parametrize("name", ["packed", "packed-int8", "int8"])
def test_js_expansion_equals_python_expansion(name, tmp_path):
    """expand.js (what the page runs at load) folds the unpacking like tfquant.tflite.expand: the same
    operators (XNNPACK partitions included) and bit-identical outputs on LiteRT."""
    from tfquant.tflite import expand
    from tfquant_lite import interpreters
    source = MODELS / f"{name}.tflite"
    done = subprocess.run([NODE, "tests/expand_file.mjs", str(source), str(tmp_path / "js.tflite")], cwd=DEMO_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    js, python = (tmp_path / "js.tflite").read_bytes(), expand(source.read_bytes())
    assert (summary["filters"] > 0) == name.startswith("packed")
    images, _ = read_gallery(MODELS / "gallery.json")
    x = ((images[:8, :, :, None] / 255.0 - MANIFEST["preprocess"]["mean"])
         / MANIFEST["preprocess"]["std"]).astype(np.float32)

    def ops(model):
        return [d["op_name"] for d in interpreters.open_session(model, "litert").interpreter._get_ops_details()]
    assert ops(js) == ops(python)
    np.testing.assert_array_equal(interpreters.run(js, x, "litert"), interpreters.run(python, x, "litert"))


def test_packed_models_are_expanded_at_load(browser_run):
    """The page compiles packed files expanded (1-bit download, int8-sized model in memory) and can
    still load them as downloaded; the plain int8 file has nothing to expand."""
    expansion = browser_run["expansion"]
    for entry in MANIFEST["models"]:
        name, packed = entry["name"], entry["name"].startswith("packed")
        assert expansion[name]["downloadBytes"] == entry["bytes"] and not expansion[name]["expanded"]
        assert (f"{name} expanded" in expansion) == packed
        if packed:
            assert expansion[f"{name} expanded"]["memoryBytes"] > entry["bytes"]
            assert expansion[f"{name} expanded"]["expandMs"] >= 0


def test_serve_chosen_models_folder(tmp_path):
    """serve.py --models DIR serves the page's models/ from DIR; a folder without models.json is refused."""
    import urllib.request
    spec = importlib.util.spec_from_file_location("demo_serve", DEMO_DIR / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    if not (DEMO_DIR / "node_modules/@litertjs/core/wasm").is_dir():
        pytest.skip("needs android_demo/node_modules (npm ci in android_demo)")
    with pytest.raises(SystemExit, match="no models.json"):
        serve.make_server("127.0.0.1", 0, tmp_path)
    (tmp_path / "models.json").write_text('{"models": []}')
    server = serve.make_server("127.0.0.1", 0, tmp_path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/models/models.json") as response:
            assert json.loads(response.read()) == {"models": []}
    finally:
        server.shutdown()
        server.server_close()


def test_build_demo_writes_only_where_told(tmp_path, capsys):
    """Without --publish the bundle goes to --out (default runs/demo-models) and the committed models and
    icons are left alone."""
    from android_demo import build_demo
    committed = {p: p.read_bytes() for p in list(MODELS.iterdir()) + list((DEMO_DIR / "icons").iterdir())}
    build_demo.main([f"int8={MODELS / 'int8.tflite'}", "--out", str(tmp_path / "bundle")])
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == ["gallery.json", "int8.tflite", "models.json"]
    assert "serve.py --models" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in committed} == committed

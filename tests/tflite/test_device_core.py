"""The device core without tfquant, Keras or TensorFlow: a subprocess whose imports of tfquant, tensorflow and
keras are refused by a sys.meta_path hook imports tfquant_lite, checks, expands and runs committed models on
LiteRT and TFLite Micro, and runs the runner's main() (tfquant-run) on them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from android_demo.build_demo import DEMO_DIR, read_gallery
from tfquant_lite import interpreters

ROOT = Path(__file__).resolve().parents[2]
MODELS = DEMO_DIR / "models"

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tfquant', 'tensorflow', 'keras', 'jax', 'torch'):
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, Block())
"""

CORE = BLOCK + """
import json, numpy as np
from tfquant_lite import flatbuffer, fold, integrity, interpreters
data = open(MODEL, 'rb').read()
stamped = integrity.stamp(data, (0.286, 0.353), 'packed-int8')
x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
out = {
    'schema': flatbuffer.schema.__name__,
    'check': integrity.check(stamped)['checksum'],
    'expanded_check': integrity.check(fold.expand(stamped))['checksum'],
    'litert': interpreters.run(stamped, x, 'litert').tolist(),
    'builtin': interpreters.run(stamped, x, 'litert-noxnnpack').tolist(),
    'expanded': interpreters.run(fold.expand(stamped), x, 'litert_noxnnpack').tolist(),
    'tflm': interpreters.run(stamped, x, 'tflite_micro', arena_size=1 << 20).tolist(),
    'blocked_loaded': sorted({m.split('.')[0] for m in sys.modules} & {'tfquant', 'tensorflow', 'keras'}),
}
print(json.dumps(out))
"""


def _python(code, tmp_path):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_device_core_runs_without_tensorflow_or_keras(tmp_path):
    done = _python(f"MODEL = {str(MODELS / 'packed-int8.tflite')!r}\n" + CORE, tmp_path)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["blocked_loaded"] == []
    assert out["schema"] == "ai_edge_litert.schema_py_generated"
    assert out["check"] == out["expanded_check"] == "verified"
    litert, builtin, expanded, tflm = (np.array(out[k]) for k in ("litert", "builtin", "expanded", "tflm"))
    assert litert.shape == (4, 10)
    np.testing.assert_array_equal(expanded, builtin)  # int8 filters folded bit-identically (same kernels)
    np.testing.assert_allclose(tflm, litert, atol=8 / 256)  # int8 kernels differ by a few quanta


def test_runner_main_without_tensorflow_or_keras(tmp_path):
    images, labels = read_gallery(MODELS / "gallery.json")
    np.savez(tmp_path / "g.npz", x=images, y=labels)
    code = BLOCK + (f"from tfquant_lite import cli\nstatus = cli.main([{str(MODELS / 'packed.tflite')!r}, "
                    f"{str(tmp_path / 'g.npz')!r}, '--mean', '0.286', '--std', '0.353', '--json', "
                    f"{str(tmp_path / 'out.json')!r}])\n"
                    "print(sorted({m.split('.')[0] for m in sys.modules} & {'tfquant', 'tensorflow', 'keras'}))\n"
                    "sys.exit(status)")
    done = _python(code, tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "interpreter litert" in done.stdout and "loaded and expanded" in done.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["expanded"] and result["accuracy"] >= 0.5


def _tflite_runtime_runs_in_a_subprocess():
    return not interpreters.available("tflite-runtime")  # numpy 2 here: tflite-runtime does not import


@pytest.mark.skipif(not _tflite_runtime_runs_in_a_subprocess(), reason="tflite-runtime imports in this process")
def test_tflite_runtime_python_without_tfquant_lite_is_refused_with_the_fix(tmp_path):
    """The child imports tfquant_lite as installed in the Python it runs, never from this checkout's path."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")], check=True)
    bare = tmp_path / "bare" / "bin" / "python"
    with pytest.raises(interpreters.InterpreterUnavailable, match="has no tfquant_lite: install tfquant there"):
        interpreters.run(MODELS / "packed.tflite", np.zeros((1, 28, 28, 1), np.float32), "tflite-runtime",
                         python=bare)


@pytest.mark.skipif(not _tflite_runtime_runs_in_a_subprocess(), reason="tflite-runtime imports in this process")
def test_no_tflite_runtime_python_names_the_variable_and_no_module_outside_the_wheel(tmp_path, monkeypatch):
    monkeypatch.setenv("TFQUANT_TFLITE_RUNTIME_PYTHON", "")
    monkeypatch.chdir(tmp_path)
    assert interpreters.tflite_runtime_python() is None
    with pytest.raises(interpreters.InterpreterUnavailable, match="set TFQUANT_TFLITE_RUNTIME_PYTHON") as caught:
        interpreters.run(MODELS / "packed.tflite", np.zeros((1, 28, 28, 1), np.float32), "tflite-runtime")
    assert "export." not in str(caught.value) and "python -m" not in str(caught.value)

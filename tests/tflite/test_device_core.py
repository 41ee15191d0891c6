"""The device core without TensorFlow or Keras: a subprocess whose imports of tensorflow and keras are
refused by a sys.meta_path hook imports tfquant.tflite, checks, expands and runs committed models on
LiteRT and TFLite Micro, and runs the runner's main() on them."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from android_demo.build_demo import DEMO_DIR, read_gallery

ROOT = Path(__file__).resolve().parents[2]
MODELS = DEMO_DIR / "models"

BLOCK = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'jax', 'torch'):
            raise ImportError(f'{name} is blocked in this test')
sys.meta_path.insert(0, Block())
"""

CORE = BLOCK + """
import json, numpy as np
import tfquant.tflite as tflite
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
    'formats': list(tflite.FORMATS),
    'blocked_loaded': sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}),
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
    assert out["formats"] == ["float32", "int8", "int4", "packed", "packed-int8"]


def test_runner_main_without_tensorflow_or_keras(tmp_path):
    images, labels = read_gallery(MODELS / "gallery.json")
    np.savez(tmp_path / "g.npz", x=images, y=labels)
    code = BLOCK + (f"from tfquant_lite import cli\nstatus = cli.main([{str(MODELS / 'packed.tflite')!r}, "
                    f"{str(tmp_path / 'g.npz')!r}, '--mean', '0.286', '--std', '0.353', '--json', "
                    f"{str(tmp_path / 'out.json')!r}])\n"
                    "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))\n"
                    "sys.exit(status)")
    done = _python(code, tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "interpreter litert" in done.stdout and "loaded and expanded" in done.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["expanded"] and result["accuracy"] >= 0.5

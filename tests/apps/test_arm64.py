"""export/run_tflite.py on an emulated ARM64 CPU (Debian bookworm arm64 root + qemu-user-static):
LiteRT on a Cortex-A76 and tflite-runtime 2.14 on a Cortex-A72 classify the demo's gallery exactly as
LiteRT does on the host. Builds the root on first use (~/.cache/tfquant/arm64-root, about 400 MB,
under a minute with a fast mirror); needs root for debootstrap and chroot."""
import json
import os
import shutil

import numpy as np
import pytest

from android_demo.build_demo import DEMO_DIR, read_gallery
from export import arm64_run, run_tflite

pytestmark = pytest.mark.slow
MODELS = DEMO_DIR / "models"
MANIFEST = json.loads((MODELS / "models.json").read_text())
PREPROCESS = MANIFEST["preprocess"]
NAMES = [m["name"] for m in MANIFEST["models"]]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    missing = [t for t in ("debootstrap", "qemu-aarch64-static", "dpkg-deb") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: apt-get install debootstrap qemu-user-static")
    if os.geteuid() != 0:
        pytest.skip("debootstrap and chroot need root")
    root = arm64_run.ensure_root()
    images, labels = read_gallery(MODELS / "gallery.json")
    data = tmp_path_factory.mktemp("arm64") / "gallery.npz"
    np.savez(data, x=images, y=labels)
    host = {name: run_tflite.run(MODELS / f"{name}.tflite", images, labels, "litert", **PREPROCESS) for name in NAMES}
    return root, data, host


@pytest.mark.parametrize("environment", sorted(arm64_run.ENVIRONMENTS))
@pytest.mark.parametrize("name", NAMES)
def test_arm64_predictions_equal_host(environment, name, setup):
    root, data, host = setup
    args = ["--mean", str(PREPROCESS["mean"]), "--std", str(PREPROCESS["std"])]
    result, seconds = arm64_run.run_emulated(MODELS / f"{name}.tflite", data, environment, root, runner_args=args)
    print(f"{environment} {name} on {result['cpu']}: {seconds:.1f} s wall, "
          f"p50 {result['latency_ms']['p50']:.2f} ms (emulated)")
    assert result["machine"] == "aarch64"
    assert result["interpreter"] == arm64_run.ENVIRONMENTS[environment][1]
    np.testing.assert_array_equal(result["predictions"], host[name]["predictions"])
    assert result["accuracy"] == pytest.approx(host[name]["accuracy"])
    np.testing.assert_allclose(result["probabilities"], host[name]["probabilities"], atol=8 / 256)

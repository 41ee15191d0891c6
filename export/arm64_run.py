"""Run the runner (tfquant-run) on an emulated ARM64 CPU, inside the root that export/arm64_root.sh builds.

    sudo python -m export.arm64_run litert MODEL.tflite DATA.npz [runner options, e.g. --mean 0.286 --std 0.353]
    sudo python -m export.arm64_run tflite-runtime MODEL.tflite DATA.npz

Each interpreter runs on the core it is meant for (override with --cpu):

    litert          ai-edge-litert + numpy 2     qemu-aarch64-static -cpu cortex-a76  (a recent phone's core)
    tflite-runtime  tflite-runtime 2.14 + numpy<2  qemu-aarch64-static -cpu cortex-a72  (Raspberry Pi 4)

(LiteRT's int8 kernels die with SIGILL on cortex-a72: they assume the dot-product instructions of
ARMv8.2.) The model, the data and the device core `tfquant_lite` (all the runner needs: numpy,
flatbuffers and the interpreter; no TensorFlow or Keras) are copied into ROOT/tmp/tfquant-run, the
runner is executed as ``python3 -m tfquant_lite.cli`` by the root's own arm64 python3 under
``chroot ROOT qemu-aarch64-static -cpu CPU``, and its ``--json`` result comes back. Emulated latencies say
nothing about a real device's speed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "tfquant_lite"  # the device core: all the runner needs
DEFAULT_ROOT = Path(os.environ.get("TFQUANT_ARM64_ROOT", Path.home() / ".cache/tfquant/arm64-root"))
ENVIRONMENTS = {  # name: (site dir inside the root, runner's --interpreter, QEMU cpu)
    "litert": ("/opt/litert", "litert", "cortex-a76"),
    "tflite-runtime": ("/opt/tflite-runtime", "tflite-runtime", "cortex-a72"),
}


def ensure_root(root=DEFAULT_ROOT, python=sys.executable):
    """Build or refresh the arm64 root with export/arm64_root.sh (each step is skipped when done)."""
    done = subprocess.run(["sh", str(HERE / "arm64_root.sh"), str(root)], env={**os.environ, "PYTHON": python},
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"export/arm64_root.sh failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return Path(root)


def run_emulated(model, data, environment="litert", root=DEFAULT_ROOT, cpu=None, runner_args=()):
    """Run the runner on ``model`` and ``data`` (.npz) in the arm64 root; returns (result dict, seconds).

    The result is the runner's ``--json`` output plus ``cpu`` and ``stdout``.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}: choose one of {', '.join(ENVIRONMENTS)}")
    site, interpreter, default_cpu = ENVIRONMENTS[environment]
    root = Path(root)
    if not (root / "usr/bin/qemu-aarch64-static").exists() or not (root / site.lstrip("/") / ".complete").exists():
        raise FileNotFoundError(f"no ready arm64 root at {root}: run `sudo export/arm64_root.sh {root}`")
    work = root / "tmp/tfquant-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for source, name in ((model, "model.tflite"), (data, "data.npz")):
        shutil.copyfile(source, work / name)
    shutil.copytree(PACKAGE, work / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tflm_kernel"))
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    command = [chroot, str(root), "/usr/bin/qemu-aarch64-static", "-cpu", cpu or default_cpu, "/usr/bin/python3",
               "-m", "tfquant_lite.cli", "/tmp/tfquant-run/model.tflite", "/tmp/tfquant-run/data.npz",
               "--interpreter", interpreter, "--json", "/tmp/tfquant-run/out.json", *runner_args]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{site}:/tmp/tfquant-run", "LANG": "C.UTF-8", "HOME": "/tmp"}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{environment} on {cpu or default_cpu} failed (exit {done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    result = json.loads((work / "out.json").read_text())
    return dict(result, cpu=cpu or default_cpu, stdout=done.stdout), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", choices=sorted(ENVIRONMENTS))
    parser.add_argument("model")
    parser.add_argument("data", help=".npz with x (images) and optional y (labels)")
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--cpu", help="QEMU CPU model (default: the environment's)")
    parser.add_argument("--build", action="store_true", help="build or refresh the root first")
    args, runner_args = parser.parse_known_args(argv)
    if args.build:
        ensure_root(args.root)
    result, seconds = run_emulated(args.model, args.data, args.environment, args.root, args.cpu, runner_args)
    print(result["stdout"], end="")
    print(f"(qemu-aarch64 -cpu {result['cpu']}: {seconds:.1f} s wall, emulated: not a speed measurement)")


if __name__ == "__main__":
    main()

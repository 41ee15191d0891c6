"""The wheel built from this checkout: only the two packages inside (tfquant, tfquant_lite), and the three
console scripts, each of which answers --help in a fresh environment; tfquant-run (tfquant_lite) imports
neither tfquant, Keras nor TensorFlow."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("tfquant-train", "tfquant-export", "tfquant-run")
ENTRY_POINTS = {"tfquant-train": "tfquant.cli.train:main", "tfquant-export": "tfquant.cli.export:main",
                "tfquant-run": "tfquant_lite.cli:main"}
HEAVY = "print(sorted({'tfquant', 'keras', 'tensorflow', 'ai_edge_litert', 'matplotlib'} & set(sys.modules)))"


def _run(*cmd, **kwargs):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, (cmd, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.mark.slow
def test_the_wheel_installs_three_console_scripts_that_answer_help(tmp_path):
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", ROOT,
         "-w", tmp_path / "wheel", cwd=ROOT)
    (wheel,) = (tmp_path / "wheel").glob("tfquant-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"tfquant", "tfquant_lite"}
    assert {"tfquant_lite/cli.py", "tfquant_lite/runner.py", "tfquant_lite/interpreters.py"} <= set(names)
    # the 1-bit TFLite Micro kernel's sources, which tflm_ops builds on first use
    assert {"tfquant_lite/tflm_kernel/binary_core.c", "tfquant_lite/tflm_kernel/tfquant_binary_ops.cc",
            "tfquant_lite/tflm_kernel/Makefile", "tfquant_lite/tflm_kernel/qemu/layer_bench.c"} <= set(names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert all(f"{script} = {target}" in entry_points for script, target in ENTRY_POINTS.items())

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    site = next((venv / "lib").glob("python*/site-packages"))
    # numpy & co. from this environment, by path only: its editable tfquant is not installed there
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q", "--no-deps",
         "--no-index", wheel)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(venv / "bin" / "python", "-c", "import tfquant; print(tfquant.__file__)", cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(venv))
    for script in SCRIPTS:
        done = _run(venv / "bin" / script, "--help", cwd=tmp_path, env=env)
        assert done.stdout.startswith(f"usage: {script}"), done.stdout[:200]
    code = f"import sys, tfquant_lite.cli; print(tfquant_lite.cli.__file__); {HEAVY}"
    lite = _run(venv / "bin" / "python", "-c", code, cwd=tmp_path, env=env).stdout.split()
    assert lite[0].startswith(str(venv)) and " ".join(lite[1:]) == "[]"


RUN_HELP = """
import contextlib, io, sys
from tfquant_lite import cli
with contextlib.redirect_stdout(io.StringIO()) as text:
    assert cli.main(["--help"]) == 0 and text.getvalue().startswith("usage: tfquant-run")
""" + HEAVY


def test_run_help_imports_neither_tfquant_keras_tensorflow_nor_an_interpreter():
    done = _run(sys.executable, "-c", RUN_HELP, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("script", ["export/to_tflite.py", "training/train.py", "export/run_tflite.py"])
def test_the_documented_files_answer_help(script):
    done = _run(sys.executable, script, "--help", cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.startswith("usage: tfquant-") and not done.stderr

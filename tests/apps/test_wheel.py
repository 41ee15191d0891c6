"""The wheel built from this checkout: only the package inside, and the three console scripts, each of which
answers --help in a fresh environment (no TensorFlow needed for that)."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ("tfquant-train", "tfquant-export", "tfquant-run")


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
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"tfquant"}
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert all(f"{script} = tfquant.cli." in entry_points for script in SCRIPTS)

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


HELP_WITHOUT_TENSORFLOW = """
import contextlib, io, sys
from tfquant.cli import export, run, train
for tool in (train, export, run):
    with contextlib.redirect_stdout(io.StringIO()) as text:
        assert tool.main(["--help"]) == 0 and text.getvalue().startswith("usage: tfquant-")
heavy = sorted({"tensorflow", "keras", "ai_edge_litert", "matplotlib"} & set(sys.modules))
print(heavy)
"""


def test_help_imports_neither_tensorflow_nor_keras():
    done = _run(sys.executable, "-c", HELP_WITHOUT_TENSORFLOW, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("script", ["export/to_tflite.py", "training/train.py", "export/run_tflite.py"])
def test_the_documented_files_answer_help(script):
    done = _run(sys.executable, script, "--help", cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.startswith("usage: tfquant-") and not done.stderr

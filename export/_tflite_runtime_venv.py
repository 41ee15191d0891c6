"""Create the separate virtual environment that tflite-runtime 2.14 needs (it fails under numpy 2).

    python -m export._tflite_runtime_venv [--path .venv-tflite-runtime]

tfquant never imports tflite-runtime: `tfquant_lite.interpreters` runs it in this venv's Python,
in a subprocess. Tests and benchmarks that need it skip with a message naming this command.
"""
import argparse
import pathlib
import subprocess
import sys

PACKAGES = ["numpy>=1.26,<2", "tflite-runtime==2.14.0"]


def create(path):
    """Make a venv at `path` with numpy<2 and tflite-runtime 2.14; returns its Python."""
    path = pathlib.Path(path)
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    subprocess.run([str(python), "-c", "import tflite_runtime.interpreter"], check=True)
    return python


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=".venv-tflite-runtime", help="where to create the venv")
    print(create(parser.parse_args(argv).path))


if __name__ == "__main__":
    main()

"""Create the separate virtual environment that tflite-runtime 2.14 needs (it fails under numpy 2).

    python -m export._tflite_runtime_venv [--path .venv-tflite-runtime]

tfquant never imports tflite-runtime: `tfquant_lite.interpreters` runs it in this venv's Python, in a
subprocess, as ``python -m tfquant_lite.interpreters``; so the venv gets numpy<2, tflite-runtime and this
checkout's distribution installed without its dependencies (``pip install --no-deps -e .``: tfquant_lite
needs nothing else there). `make setup` runs this; tests and benchmarks that need it skip with a message
naming it. Elsewhere, point `$TFQUANT_TFLITE_RUNTIME_PYTHON` at the venv's Python.
"""
import argparse
import pathlib
import subprocess
import sys

PACKAGES = ["numpy>=1.26,<2", "tflite-runtime==2.14.0"]
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]  # this script belongs to the checkout it installs


def create(path):
    """Make a venv at `path` with numpy<2, tflite-runtime 2.14 and this checkout (no deps); returns its Python."""
    path = pathlib.Path(path).resolve()  # the import check below runs with cwd=path
    python = path / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(CHECKOUT)], check=True)
    subprocess.run([str(python), "-c", "import tflite_runtime.interpreter, tfquant_lite.interpreters"], check=True,
                   cwd=path)
    return python


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=".venv-tflite-runtime", help="where to create the venv")
    print(create(parser.parse_args(argv).path))


if __name__ == "__main__":
    main()

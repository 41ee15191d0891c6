"""On-device runner for the exported image classifiers: `tfquant-run` (tfquant_lite/cli.py over
tfquant_lite/runner.py), kept here as the documented entry point.

    python export/run_tflite.py MODEL.tflite DATA.npz [--interpreter litert|tflite-runtime|tflm] ...

On a device, install tfquant's wheel (it needs numpy, flatbuffers and one interpreter; no TensorFlow or Keras)
and run `tfquant-run`, or `python -m tfquant_lite.cli` with tfquant_lite on the path.
"""
import sys

from tfquant_lite.cli import main
from tfquant_lite.runner import RunnerError, RunnerWarning, load_inputs, read_png, run

__all__ = ["RunnerError", "RunnerWarning", "load_inputs", "main", "read_png", "run"]

if __name__ == "__main__":
    sys.exit(main())

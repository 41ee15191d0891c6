"""On-device runner for the exported image classifiers: `tfquant-run` (tfquant/cli/run.py), kept here as the
documented entry point.

    python export/run_tflite.py MODEL.tflite DATA.npz [--interpreter litert|tflite-runtime|tflm] ...

On a device, install tfquant's wheel (it needs numpy, flatbuffers and one interpreter; no TensorFlow or Keras)
and run `tfquant-run`, or `python -m tfquant.cli.run` with tfquant on the path.
"""
import sys

from tfquant.cli.run import RunnerError, RunnerWarning, load_inputs, main, read_png, run

__all__ = ["RunnerError", "RunnerWarning", "load_inputs", "main", "read_png", "run"]

if __name__ == "__main__":
    sys.exit(main())

"""Run a .tflite model on tflite-runtime, in tflite-runtime's own numpy<2 venv (not imported by tfquant).

    python _tflite_runtime_worker.py MODEL.tflite INPUTS.npy OUTPUTS.npy NUM_THREADS
"""
import pathlib
import sys

import numpy as np
from tflite_runtime.interpreter import Interpreter

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _invoke import invoke_each  # noqa: E402


def main(model_path, inputs_path, outputs_path, num_threads):
    interp = Interpreter(model_path=model_path, num_threads=int(num_threads))
    interp.allocate_tensors()
    np.save(outputs_path, invoke_each(interp, np.load(inputs_path)))


if __name__ == "__main__":
    main(*sys.argv[1:])

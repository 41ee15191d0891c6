"""Export a Keras model (.keras) to a verified TFLite file.

    python export/to_tflite.py MODEL.keras -o OUT.tflite --format packed \
        [--calibration INPUTS.npy] [--report REPORT.json] [--strict] [--c-array OUT.cc] [--tflm-arena]

A thin CLI over `tfquant.tflite.export`. Exit status: 0 when written and verified, 1 when
verification on LiteRT failed (the error figures are printed; no file is written), 2 for a model
or request that cannot be exported (the message says why and what to do).
"""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import tfquant  # noqa: E402,F401  (registers tfquant's Keras objects for loading)
import tfquant.tflite as tflite  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file (compiled or not; the optimizer is not loaded)")
    parser.add_argument("-o", "--output", required=True, help="the .tflite file to write")
    parser.add_argument("--format", default="packed", help=f"one of {', '.join(tflite.FORMATS)}")
    parser.add_argument("--calibration", help=".npy array (N, ...) of real inputs; needed by int8 formats")
    parser.add_argument("--report", help="also write the report as JSON here")
    parser.add_argument("--strict", action="store_true", help="fail if a conv filter cannot be packed")
    parser.add_argument("--c-array", help="also write the model as a C array (.cc + .h) for TFLite Micro")
    parser.add_argument("--c-name", default="g_model", help="name of the C array (and prefix of its arena size "
                        "and op-registration function) in the --c-array header (default g_model)")
    parser.add_argument("--tflm-arena", action="store_true", help="find TFLite Micro's minimum arena")
    return parser.parse_args(argv)


def load(path):
    """The Keras model in `path`, loaded without its optimizer; exits 2 with the reason if it cannot."""
    import keras
    if not pathlib.Path(path).is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        sys.exit(2)
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:
        first = str(error).splitlines()[0] if str(error) else ""
        print(f"error: cannot load {path} as a Keras model ({type(error).__name__}: {first}); "
              "give a .keras file saved by model.save()", file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    args = parse_args(argv)
    model = load(args.model)
    calibration = np.load(args.calibration) if args.calibration else None
    try:
        report = tflite.export(model, args.output, format=args.format, calibration=calibration,
                               strict=args.strict, tflm_arena=args.tflm_arena, c_array_path=args.c_array, c_name=args.c_name)
    except tflite.VerificationError as error:
        print(f"error: {error}", file=sys.stderr)
        print(json.dumps(error.figures, indent=2), file=sys.stderr)
        return 1
    except tflite.ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(tflite.report_text(report))
    if args.report:
        tflite.report.to_json(report, args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

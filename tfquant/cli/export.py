"""tfquant-export: export a Keras model (.keras) to a verified TFLite file.

    tfquant-export MODEL.keras -o OUT.tflite --format packed \\
        [--calibration INPUTS.npy] [--report REPORT.json] [--strict] [--c-array OUT.cc] [--tflm-arena]

(``python export/to_tflite.py ...`` is the same tool.) A thin command over `tfquant.tflite.export`. Every
output (the .tflite, the report, the C array's .cc and .h) is written only when the export verified, and
all together: a failed export leaves existing files as they were. Exit status (`tfquant.cli.common`):
0 written and verified; 1 verification on LiteRT failed (the figures are printed, nothing is written);
2 a model or request that cannot be exported (the message says why and what to do).
"""

import argparse
import re
import sys
import warnings
from pathlib import Path

from tfquant.cli import common
from tfquant.tflite.formats import INT8_FORMATS  # the formats table: cheap to import, no TensorFlow
from tfquant.tflite.formats import NAMES as FORMATS
from tfquant_lite.files import staged as staged_outputs


def build_parser():
    p = common.ArgumentParser(prog="tfquant-export", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("model", type=common.existing_file,
                   help="a .keras file saved by model.save() (compiled or not; the optimizer is not loaded)")
    p.add_argument("-o", "--output", type=common.output_file, default=None,
                   help="the .tflite file to write (default: runs/export/MODEL-FORMAT.tflite)")
    p.add_argument("--format", default="packed", choices=FORMATS,
                   help="float32; int8 (full integer); int4 (low-bit conv filters as INT4); packed (binary "
                        "filters at 1 bit per weight, float activations); packed-int8 (the same on int8, "
                        "runs on TFLite Micro)")
    p.add_argument("--calibration", type=common.existing_file, default=None,
                   help="a .npy array (N, ...) of real, normalised inputs: the int8 formats' activation "
                        "ranges and the verification inputs (required by int8, int4, packed-int8)")
    p.add_argument("--samples", type=common.existing_file, default=None,
                   help="a .npy array of real inputs to verify on, instead of the calibration's first inputs "
                        "and inputs drawn to match its statistics")
    p.add_argument("--mean", type=common.normalization_mean, default=None,
                   help="the model's input is x = (p/255 - mean)/std for 8-bit pixels p: recorded in the file, "
                        "so that tfquant-run normalises by itself (give --std too)")
    p.add_argument("--std", type=common.normalization_std, default=None, help="see --mean")
    p.add_argument("--no-normalization", action="store_true",
                   help="the model's input is p/255 as it is (recorded as 'none'); default: unknown")
    p.add_argument("--report", type=common.output_file, default=None, help="also write the report as JSON here")
    p.add_argument("--strict", action="store_true", help="fail if a conv filter cannot take the compact form")
    p.add_argument("--c-array", type=common.output_file, default=None,
                   help="also write the model as a C array for TFLite Micro: this .cc and the .h beside it")
    p.add_argument("--c-name", default="g_model",
                   help="name of the C array in --c-array, also the prefix of its arena size, op resolver type and "
                        "op-registration function in the .h (default g_model)")
    p.add_argument("--tflm-arena", action="store_true",
                   help="find TFLite Micro's minimum arena (printed, and written into the C array's .h)")
    return common.add_common_arguments(p)


def outputs(args):
    """The files this export writes, checked writable and distinct from each other and from the inputs."""
    if args.output is None:
        args.output = common.output_file(str(_default_folder() / f"{args.model.stem}-{args.format}.tflite"))
    written = [(args.output, "-o")]
    if args.report is not None:
        written.append((args.report, "--report"))
    if args.c_array is not None:
        if args.c_array.suffix != ".cc":
            raise common.BadInput(f"--c-array {args.c_array}: give a .cc file name (the .h is written beside it)")
        written += [(args.c_array, "--c-array"),
                    (common.output_file(str(args.c_array.with_suffix(".h"))), "--c-array's header")]
    if not re.fullmatch(r"[A-Za-z_]\w*", args.c_name):
        raise common.BadInput(f"--c-name {args.c_name!r} is not a C identifier: "
                              "use letters, digits and _ (e.g. g_model)")
    inputs = [(path, what) for path, what in ((args.model, "the model"), (args.calibration, "--calibration"),
                                              (args.samples, "--samples")) if path is not None]
    return common.check_outputs(written, inputs)


def normalization(args):
    """What --mean/--std/--no-normalization record: (mean, std), "none", or None (unknown)."""
    if (args.mean is None) != (args.std is None):
        raise common.BadInput("--mean and --std go together: give both (or neither)")
    if args.no_normalization and args.mean is not None:
        raise common.BadInput("--no-normalization contradicts --mean/--std: give one or the other")
    return "none" if args.no_normalization else None if args.mean is None else (args.mean, args.std)


def _default_folder():
    folder = Path("runs") / "export"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def load_model(path):
    """The Keras model in `path`, without its optimizer, tfquant's classes registered."""
    import keras

    import tfquant.models  # noqa: F401  (importing tfquant registers its classes; models the zoo's ShortcutA)

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many kinds for a file it cannot read
        first = (str(error).strip().splitlines() or [""])[0][:200]
        custom = re.search(r"Could not locate (?:class|function) '([^']+)'", str(error))
        if custom:  # a subclassed model or custom layer: its code is the user's, which this command cannot import
            raise common.BadInput(
                f"{path} needs the custom class {custom.group(1)!r}, which tfquant-export cannot import; export it "
                "from Python where the class is defined: tfquant.tflite.export(model, 'model.tflite', ...)") from None
        raise common.BadInput(f"cannot load {path} as a Keras model ({type(error).__name__}: {first}); "
                              "give a .keras file saved by model.save()") from None


def _main(args):
    normalization(args)
    written = outputs(args)
    if args.format in INT8_FORMATS and args.calibration is None:
        raise common.BadInput(f"format {args.format} needs --calibration INPUTS.npy (real inputs for the "
                              "activation ranges), or choose --format float32 or packed")
    import json

    import tfquant.tflite as tflite

    try:
        calibration, samples = (tflite.load_calibration(path) if path else None
                                for path in (args.calibration, args.samples))
    except tflite.ExportError as error:
        raise common.BadInput(str(error)) from None
    model = load_model(args.model)

    with staged_outputs(*written) as staged:
        moves = dict(zip(staged, written))
        c_array = staged[written.index(args.c_array)] if args.c_array else None
        try:
            with warnings.catch_warnings(record=True) as caught, common.quiet_native_logs(args.verbose):
                warnings.simplefilter("always", tflite.ExportWarning)
                report = tflite.export(model, staged[0], format=args.format, calibration=calibration,
                                       strict=args.strict, tflm_arena=args.tflm_arena, c_array_path=c_array,
                                       samples=samples, normalization=normalization(args), c_name=args.c_name)
        except tflite.VerificationError as error:
            print(json.dumps(error.figures, indent=2), file=sys.stderr)
            raise common.CheckFailed(f"{error} (nothing was written)") from None
        except tflite.ExportError as error:
            raise common.BadInput(str(error)) from None
        for warning in caught:
            if issubclass(warning.category, tflite.ExportWarning):
                print(f"warning: {warning.message}", file=sys.stderr)
        report = report.moved(moves)
        if args.report is not None:
            tflite.report.to_json(report, staged[1])
    print(tflite.report_text(report))


def main(argv=None):
    """Entry point of ``tfquant-export``; returns the exit status (see `tfquant.cli.common`)."""
    return common.run(_main, build_parser(), argv)

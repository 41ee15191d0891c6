"""tfquant-run: classify images with a .tflite model on whatever interpreter a device has; accuracy, latency.

    tfquant-run MODEL.tflite DATA.npz                    # x: (N, H, W[, C]) 8-bit pixels, y: labels (optional)
    tfquant-run MODEL.tflite a.png b.png c.npy           # single images (8-bit PNG, .npy)
    tfquant-run MODEL.tflite DATA.npz --interpreter tflm --arena-kb 256 --limit 200
    python -m tfquant_lite.cli ...                       # the same, where the console script is not installed

Needs numpy, flatbuffers and ONE interpreter (no TensorFlow, no Keras); ``--interpreter auto`` takes the
first that imports of litert (ai-edge-litert), tflite-runtime (needs numpy<2) and tflm (tflite-micro).
What it checks, how it preprocesses and what it measures: `tfquant_lite.runner` (this is its argparse
front). Packed files are expanded at load on every interpreter but TFLite Micro; ``--no-expand`` keeps the
in-graph unpacking (the microcontroller's memory profile), ``--expand`` forces it on TFLite Micro too.
Exit status: 0 done, 2 bad input (one ``error:`` line that says what and how to fix it), 3 a defect of
tfquant (it says so).
"""
import argparse
import json
import os
import sys
import warnings

from . import cli_common, interpreters, runner
from .files import write_text


def _interpreter_name(text):
    """--interpreter: 'auto' or any spelling of an interpreter, as its one name."""
    if text == "auto":
        return text
    try:
        return interpreters.canonical(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser():
    parser = cli_common.ArgumentParser(prog="tfquant-run", description=__doc__.split("\n\n")[0],
                                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model", type=cli_common.existing_file, help=".tflite file")
    parser.add_argument("inputs", nargs="+", type=cli_common.existing_file,
                        help="one .npz (x: 8-bit pixels, y: labels) or image files (.png, .npy)")
    parser.add_argument("--interpreter", default="auto", type=_interpreter_name,
                        choices=("auto", *interpreters.INTERPRETERS),
                        help="which interpreter runs the model (other spellings accepted, e.g. tflite_runtime); "
                             f"auto: the first of {', '.join(runner.AUTO_ORDER)} that imports")
    parser.add_argument("--mean", type=cli_common.normalization_mean, default=None,
                        help="normalisation mean of p/255 (default: the file's metadata, else 0)")
    parser.add_argument("--std", type=cli_common.normalization_std, default=None,
                        help="normalisation standard deviation of p/255, > 0 (default: the file's metadata, else 1)")
    parser.add_argument("--threads", type=cli_common.bounded_int(1, runner.MAX_THREADS), default=1,
                        help=f"interpreter threads (not TFLM), 1..{runner.MAX_THREADS}: 4 per core, since more only "
                             "adds contention (and LiteRT crashes on absurd counts)")
    parser.add_argument("--trust-foreign", action="store_true",
                        help="run a file whose tfquant stamp does not match (edited, or re-quantized by another "
                             "tool) as a foreign file: checked for soundness only")
    parser.add_argument("--arena-kb", type=cli_common.positive_int, default=runner.DEFAULT_ARENA_KB,
                        help="TFLite Micro tensor arena in KiB (a too-small arena is an error naming the minimum)")
    parser.add_argument("--limit", type=cli_common.positive_int, default=None, help="use only the first N images")
    parser.add_argument("--show", type=cli_common.non_negative_int, default=10, help="print the first N predictions")
    expand = parser.add_mutually_exclusive_group()
    expand.add_argument("--expand", dest="expand", action="store_true", default=None,
                        help="fold packed filters into constants at load (default on every interpreter but tflm)")
    expand.add_argument("--no-expand", dest="expand", action="store_false",
                        help="keep a packed file's in-graph unpacking (the microcontroller's memory profile)")
    parser.add_argument("--json", type=cli_common.output_file, default=None,
                        help="also write the result (predictions, probabilities, ...) to this file")
    return cli_common.add_common_arguments(parser)


def _main(args):
    if args.json is not None:
        cli_common.check_outputs([(args.json, "--json")],
                                 [(args.model, "the model")] + [(path, "an input") for path in args.inputs])
    images, labels = runner.load_inputs(args.inputs)
    if args.limit is not None:
        images, labels = images[:args.limit], (None if labels is None else labels[:args.limit])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", runner.RunnerWarning)
        result = runner.run(args.model, images, labels, args.interpreter, args.mean, args.std, args.threads,
                            args.arena_kb, expand=args.expand, quiet=not args.verbose, trust_foreign=args.trust_foreign)
    for warning in caught:
        print(f"warning: {' '.join(str(warning.message).split())}", file=sys.stderr)
    print(result.to_text(args.model, os.path.getsize(args.model), labels, args.show))
    if args.json:
        write_text(args.json, json.dumps(result.to_dict()))


def main(argv=None):
    """Run the runner on `argv`; returns the exit status (see the module docstring)."""
    return cli_common.run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())

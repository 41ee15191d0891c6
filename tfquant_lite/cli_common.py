"""One error discipline for every tfquant command-line tool (`tfquant-run` here; `tfquant.cli.common` adds
TensorFlow's quieting for the others), with nothing but the standard library and `tfquant_lite`.

Exit status, the same for every tool:

    0  done
    1  the result failed its own check (e.g. an export whose outputs differ from Keras); nothing was written
    2  bad input or usage (a missing file, a bad value, a model that cannot be exported), or a file that
       cannot be read or written (full disk, permissions); nothing was written
    3  an internal error: a defect of tfquant, never the input's fault; rerun with --debug and report it
    130 interrupted (Ctrl-C)

Every error, an argument error too, is printed as exactly one line, ``error: <what> (<how to fix>)``, with no
usage block (`ArgumentParser`); ``--debug`` adds the traceback. Arguments are validated by the argparse types
below before any heavy import (TensorFlow, an interpreter), so ``--help`` and bad arguments answer at
once. No output may be an input (`check_outputs`).
"""

import argparse
import logging
import os
import sys
import traceback
import warnings
from pathlib import Path

from . import normalization
from .files import UnwritableOutput, check_writable

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class BadInput(ValueError):
    """The user's input cannot be used; ``str()`` is the whole one-line message, fix included."""


class CheckFailed(RuntimeError):
    """The command ran but its result failed its own check (verification)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, with a usage error raised as one-line `BadInput` instead of printing the usage block.

    Every tool builds its parser with this class; `run` turns the error into exit 2 and one ``error:`` line.
    """

    def error(self, message):
        raise BadInput(f"{message} (see {self.prog} --help)")


# -- argparse types: each raises argparse.ArgumentTypeError, which the parser turns into one BadInput line ------
def _number(kind, text, low, inclusive):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if (value < low) if inclusive else (value <= low):
        raise argparse.ArgumentTypeError(f"{text!r} must be {'>=' if inclusive else '>'} {low}")
    return value


def positive_int(text):
    """An integer > 0."""
    return _number(int, text, 0, inclusive=False)


def non_negative_int(text):
    """An integer >= 0."""
    return _number(int, text, 0, inclusive=True)


def finite_float(text):
    """Any finite number."""
    return _number(float, text, float("-inf"), inclusive=False)


def positive_float(text):
    """A finite number > 0."""
    return _number(float, text, 0.0, inclusive=False)


def non_negative_float(text):
    """A finite number >= 0."""
    return _number(float, text, 0.0, inclusive=True)


def _normalization(part):
    def parse(text):
        try:
            return normalization.parse(text, part)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    parse.__name__ = f"normalization_{part}"
    return parse


# --mean/--std: validated by `tfquant_lite.normalization`, like the normalisation recorded in a file
normalization_mean, normalization_std = _normalization("mean"), _normalization("std")


def bounded_int(low, high):
    """argparse type: an integer in [low, high]."""
    def parse(text):
        value = _number(int, text, low, inclusive=True)
        if value > high:
            raise argparse.ArgumentTypeError(f"{text!r} must be <= {high}")
        return value
    return parse


def existing_file(text):
    """A path to an existing, readable, non-empty regular file (not a folder, FIFO or device)."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file" + (" (a dangling symbolic link)"
                                                                    if path.is_symlink() else ""))
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "a FIFO, socket or device"
        raise argparse.ArgumentTypeError(f"{text} is not a file ({kind}): give a regular file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} is not readable")
    if path.stat().st_size == 0:
        raise argparse.ArgumentTypeError(f"{text} is empty")
    return path


def output_file(text):
    """A path where a file can be written (its folder exists and is writable; it is not a folder)."""
    try:
        return check_writable(text)
    except UnwritableOutput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def output_dir(text):
    """A folder to write into: it exists as a writable folder, or can be created (its parent is writable)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder (give a folder path)")
    existing = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot create or write {text}: {existing} is not writable")
    return path


def _identity(path):
    """What makes two paths one file: the inode of an existing file (hard links, symbolic links), else the
    resolved path."""
    path = Path(path)
    try:
        stat = path.stat()
        return ("inode", stat.st_dev, stat.st_ino)
    except OSError:
        return ("path", path.resolve())


def check_outputs(outputs, inputs):
    """BadInput unless every output is distinct from every input and from the other outputs; returns the paths.

    `outputs` and `inputs` are (path, what it is) pairs, e.g. ``[(args.json, "--json")]``, ``[(model, "the
    model")]``. Paths are compared as files: a symbolic link or a hard link to an input is that input.
    """
    read = {_identity(path): what for path, what in inputs}
    written = {}
    for path, what in outputs:
        key = _identity(path)
        if key in read:
            raise BadInput(f"{what} {path} is {read[key]}: writing it would destroy an input "
                           "(choose another output path)")
        if key in written:
            raise BadInput(f"{path} is given for two outputs, {written[key]} and {what} (choose distinct paths)")
        written[key] = what
    return [path for path, _ in outputs]


# -- running a tool -------------------------------------------------------------------------------------------
def add_common_arguments(parser):
    """--verbose and --debug, on every tool."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow/absl/LiteRT log lines (silenced by default)")
    parser.add_argument("--debug", action="store_true", help="on error, print the full traceback too")
    return parser


def quiet(verbose=False):
    """Silence TensorFlow, absl, XNNPACK and Python warnings unless `verbose`; call before importing TensorFlow."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="tensorflow")


def error(message):
    """Print ``error: message`` on one line to stderr."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)


def run(main, parser, argv=None):
    """Parse `argv` with `parser`, then call ``main(args)`` under the error discipline; return the exit status.

    `main` returns None (0) or an exit status, and raises `BadInput` (2), `CheckFailed` (1) or
    `UnwritableOutput` (2) for the errors it knows. Anything else is an internal error (3). `parser` must be
    an `ArgumentParser` of this module (argparse's own prints a usage block before its one-line error).
    """
    if not isinstance(parser, ArgumentParser):
        raise TypeError(f"build the parser with tfquant_lite.cli_common.ArgumentParser, not {type(parser).__name__}")
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_:  # --help or --version
            return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_INPUT
        quiet(getattr(args, "verbose", False))
        status = main(args)
        return EXIT_OK if status is None else int(status)
    except KeyboardInterrupt:
        error("interrupted (files being written were left as they were)")
        return EXIT_INTERRUPTED
    except (BadInput, UnwritableOutput) as caught:
        _report(caught, debug)
        return EXIT_BAD_INPUT
    except CheckFailed as caught:
        _report(caught, debug)
        return EXIT_CHECK_FAILED
    except OSError as caught:  # a full disk, a file-size limit, permissions changed while running
        where = f"{caught.filename}: " if caught.filename else ""
        _report(f"cannot read or write {where}{caught.strerror or caught} (check free space and permissions; "
                "files already there were left as they were)", debug)
        return EXIT_BAD_INPUT
    except Exception as caught:  # the one place where any other failure becomes a one-line error
        first = str(caught).strip().splitlines()[0] if str(caught).strip() else ""
        _report(f"internal error (a defect of tfquant, not of your input) {type(caught).__name__}: {first} "
                "(rerun with --debug for the traceback, and please report it)", debug)
        return EXIT_INTERNAL


def _report(message, debug):
    if debug:
        traceback.print_exc()
    error(message)

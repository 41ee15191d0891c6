"""The input normalisation x = (p / 255 - mean) / std, validated by one function wherever it comes from.

The places a normalisation enters tfquant use `check` (or `check_value`, one part of it):
- typed on a command line (`tfquant-run --mean/--std`, `tfquant-export --mean/--std`: `tfquant_lite.cli_common`);
- given to the exporter (`integrity.normalization_record`), which records it in the file's stamp;
- read back from a file's metadata by the runner (`integrity.check`), whether the stamp verified or not;
- given to the runner by a caller (`runner.run(mean=, std=)`).

A valid value: mean any finite number, std a finite number > 0; each a number or a non-empty list of
numbers (one per input channel); a NumPy array or scalar is read as its `tolist()`. Booleans, strings,
null, nested lists are refused. Pure Python, no imports beyond `math`, so the command-line tools can use it
before anything heavy loads.
"""
import math

PARTS = ("mean", "std")


def check_value(value, part):
    """`value` of normalisation `part` ("mean" or "std") as a float or a list of floats; ValueError naming what is
    wrong (not a number, not finite, std not > 0)."""
    if part not in PARTS:
        raise ValueError(f"unknown normalisation part {part!r} (mean or std)")
    if hasattr(value, "tolist") and not isinstance(value, (list, tuple)):  # a NumPy array or scalar
        value = value.tolist()
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"normalisation {part} is an empty list; give a number (or one per channel)")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
            raise ValueError(f"normalisation {part} {value!r} is not a number")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"normalisation {part} {value!r} is not a number") from None
        if not math.isfinite(f):
            raise ValueError(f"normalisation {part} {value!r} is not a finite number")
        if part == "std" and f <= 0:
            raise ValueError(f"normalisation std {value!r} must be > 0")
        out.append(f)
    return out if isinstance(value, (list, tuple)) else out[0]


def check(mean, std):
    """(mean, std) validated by `check_value`; ValueError otherwise."""
    return check_value(mean, "mean"), check_value(std, "std")


def check_channels(mean, std, channels):
    """ValueError unless `mean` and `std` (validated values) each hold one value or one per channel of an input
    with `channels` channels (its last axis): what the runner can broadcast over the input."""
    for part, value in (("mean", mean), ("std", std)):
        try:
            count = len(value)
        except TypeError:  # a number (or a 0-d array)
            count = 1
        if count not in (1, channels):
            raise ValueError(f"the normalisation {part} has {count} values but the model's input has {channels} "
                             "channels: give one value, or one per channel")


def parse(text, part):
    """A command-line value of `part`: the text as a float, validated by `check_value`; ValueError otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a number") from None
    return check_value(value, part)

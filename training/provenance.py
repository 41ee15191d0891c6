"""Where the experiments' outputs go, and what each data file records about how it was made.

Every experiment writes ``<stem>.json`` (and a figure, ``<stem>.png``) into ``--out`` (default
``runs/<name>/``), and also into ``docs/figures/`` when given ``--publish``. The JSON carries a
``provenance`` entry: the git commit of the code (``+dirty`` when the working tree had changes), the exact
command (``python -m training.<module> <arguments>``) and the UTC time, so that the numbers quoted in the docs
can be regenerated and checked (tests/core/test_toy.py, test_convex.py, test_theory.py rerun the quick
variants and compare with the published ``*_quick.json``).
"""

import datetime
import json
import shlex
import subprocess
import sys
from pathlib import Path

from tfquant_lite import files

FIGURES = Path("docs/figures")


def add_output_arguments(parser, name):
    parser.add_argument("--out", type=Path, default=Path("runs") / name, help="folder for the JSON and figure")
    parser.add_argument("--publish", action="store_true", help=f"also write them into {FIGURES}/")
    parser.set_defaults(figures=FIGURES)


def commit():
    """The code's git commit, with ``+dirty`` if tracked code (tfquant/, training/) differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", "tfquant", "training"]
        dirty = subprocess.run(status, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def record(module, argv=None):
    """The provenance entry for a run of ``python -m <module> <argv>`` (argv: sys.argv[1:] by default)."""
    argv = sys.argv[1:] if argv is None else argv
    return {"commit": commit(), "command": shlex.join(["python", "-m", module, *map(str, argv)]),
            "utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def read_json(path, default=None):
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else default


def save(args, stem, data, plot, module, argv=None):
    """Write ``<stem>.json`` (with the provenance of ``python -m <module>``) and ``plot(data, path)``'s
    ``<stem>.png`` into --out and, with
    --publish, into docs/figures/. Returns the data as written."""
    data = {**data, "provenance": record(module, argv)}
    folders = [args.out] + ([FIGURES] if args.publish else [])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        files.write_text(folder / f"{stem}.json", json.dumps(data, indent=1) + "\n")
        if plot is not None:
            files.replace_with(folder / f"{stem}.png", lambda tmp: plot(data, tmp))
    return data


def assert_same_numbers(published, rerun, rtol=1e-5, path="$", atol=0.0):
    """Raise AssertionError naming the first number in ``published`` that ``rerun`` does not reproduce
    (dicts and lists compared recursively; the provenance entries are skipped).

    Two numbers agree when ``|a - b| <= atol + rtol * max(|a|, |b|)``; ``atol`` is for quantities whose scale is
    known (probabilities, distances between distributions), where a relative test of a 1e-18 entry only measures
    the solver's rounding."""
    if isinstance(published, dict):
        for key, value in published.items():
            if key != "provenance":
                assert key in rerun, f"{path}.{key} is published but the rerun has no such entry"
                assert_same_numbers(value, rerun[key], rtol, f"{path}.{key}", atol)
    elif isinstance(published, list):
        assert len(published) == len(rerun), f"{path}: published {len(published)} entries, rerun {len(rerun)}"
        for i, (a, b) in enumerate(zip(published, rerun)):
            assert_same_numbers(a, b, rtol, f"{path}[{i}]", atol)
    elif isinstance(published, (int, float)) and not isinstance(published, bool):
        assert abs(published - rerun) <= atol + rtol * max(abs(published), abs(rerun), 1e-12), \
            f"{path}: published {published}, the command now gives {rerun}"
    else:
        assert published == rerun, f"{path}: published {published!r}, the command now gives {rerun!r}"

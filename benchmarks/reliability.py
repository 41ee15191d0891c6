"""The reliability battery: bad inputs and injected faults, counted by outcome.

    python -m benchmarks.reliability            # the default battery (a few minutes); prints the tables
    python -m benchmarks.reliability --slow     # also the slow faults (a kill at every commit point, SIGKILL)
    python -m benchmarks.reliability --write    # and writes them into docs/RESULTS.md, "Reliability"
    python -m benchmarks.reliability --fuzz-cases 400 --fuzz-seed 1   # the size of the fuzz campaign

Each case is a test of its own that feeds one bad input or fault to the API or a command-line tool and passes
only when the outcome is the right one: for bad input, the documented exit status (2), exactly one
``error: <what> (<how to fix>)`` line, no traceback and no file written or changed; for a fault, every existing
file intact and, for training, an exact resume. A failed case is a raw traceback, a wrong exit status, a silently
wrong result or damaged data.

Then the fuzz campaign of `benchmarks.fuzz_files`: mutated copies of real exports in every format, each run by
tfquant-run as exported and with --trust-foreign in a forked child, counted by outcome (refused, same answer,
flagged as foreign, and the failures: WRONG, UNCLEAR, INTERNAL, CRASH, HANG).
"""

import argparse
import collections
import time

import pytest

from benchmarks.results_page import replace_section

# (what is fed, test module): bad inputs first, then faults
BATTERY = (
    ("bad input: API constructors (quantizers, optimizers, selection, initializers)",
     "tests/core/test_bad_arguments.py"),
    ("bad input: tfquant-train", "tests/apps/test_train_cli_errors.py"),
    ("bad input: tfquant-export", "tests/apps/test_export_cli_errors.py"),
    ("bad input: tfquant-run", "tests/apps/test_run_bad_input.py"),
    ("bad input: calibration arrays (export API)", "tests/tflite/test_calibration.py"),
    ("fault: damaged, truncated or foreign model files; too-small TFLite Micro arena",
     "tests/tflite/test_integrity.py"),
    ("fault: mutated exports of every format (fuzz: byte flips, schema and metadata edits)",
     "tests/tflite/test_fuzz_files.py"),
    ("fault: write failing partway (disk full, file-size limit) during export", "tests/apps/test_export_cli.py"),
    ("fault: training killed between or during its commits, then resumed", "tests/apps/test_train_cli.py"),
)


class _Outcomes:
    """A pytest plugin that counts each test's outcome per module."""

    def __init__(self):
        self.counts = collections.defaultdict(collections.Counter)

    def pytest_runtest_logreport(self, report):
        module = report.nodeid.split("::")[0]
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.counts[module]["skipped" if report.skipped else report.outcome] += 1


def run(slow=False):
    """{module: Counter(passed=, failed=, skipped=)} for the battery; runs it with pytest in this process."""
    outcomes = _Outcomes()
    marker = "slow or not slow" if slow else "not slow"
    pytest.main(["-q", "-p", "no:cacheprovider", "-m", marker, *(module for _, module in BATTERY)],
                plugins=[outcomes])
    return outcomes.counts


def table(counts):
    lines = ["| what is fed | cases | handled as documented | failed | skipped |", "|---|---|---|---|---|"]
    totals = collections.Counter()
    for what, module in BATTERY:
        c = counts.get(module, collections.Counter())
        totals.update(c)
        lines.append(f"| {what} (`{module}`) | {sum(c.values())} | {c['passed']} | {c['failed']} | {c['skipped']} |")
    lines.append(f"| **all** | {sum(totals.values())} | {totals['passed']} | {totals['failed']} "
                 f"| {totals['skipped']} |")
    return "\n".join(lines), totals


def fuzz(cases, seed):
    """(markdown table, number of failures) of a `benchmarks.fuzz_files` campaign of `cases` files."""
    import tempfile
    from pathlib import Path

    from benchmarks import fuzz_files
    with tempfile.TemporaryDirectory() as work:
        files, images = fuzz_files.export_all(work)
        counts, failures = fuzz_files.campaign(files, images, Path(work) / "runs", cases, seed)
    for failure in failures:
        print("FUZZ FAILURE", failure)
    return fuzz_files.table(counts), len(failures)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", action="store_true", help="include the slow fault cases")
    parser.add_argument("--write", action="store_true", help="write the tables into docs/RESULTS.md")
    parser.add_argument("--fuzz-cases", type=int, default=400, help="mutated files in the fuzz campaign")
    parser.add_argument("--fuzz-seed", type=int, default=1, help="seed of the fuzz campaign")
    args = parser.parse_args(argv)
    text, totals = table(run(args.slow))
    print(text)
    fuzz_text, fuzz_failures = fuzz(args.fuzz_cases, args.fuzz_seed)
    print(fuzz_text)
    if args.write:
        command = ("python -m benchmarks.reliability" + (" --slow" if args.slow else "")
                   + f" --fuzz-cases {args.fuzz_cases} --fuzz-seed {args.fuzz_seed} --write")
        battery, campaign = (part.strip() for part in __doc__.split(chr(10) + chr(10), 3)[2:4])
        replace_section("Reliability", (
            f"`{command}`, run on {time.strftime('%Y-%m-%d')}. {battery}\n\n"
            f"{text}\n\nA failed case would be a raw traceback, a wrong exit status, or a silently wrong or "
            f"damaging result: {totals['failed']} here. Each fault of issue 9 (a write failing partway, a kill "
            "between checkpoint and progress, a too-small arena, a damaged file) is among the passing cases.\n\n"
            f"{campaign} {args.fuzz_cases} mutated files, seed {args.fuzz_seed}, each run in both modes:\n\n"
            f"{fuzz_text}\n\nA file tfquant stamped runs only as exported: every mutation of one is refused "
            "(\"changed after export\"). Run as foreign, a file is refused when it is unsound, and otherwise runs "
            "with a warning that nothing vouches for what it computes (\"flagged\": the edit changed the answer, "
            f"as edits of the graph do). Failures: {fuzz_failures}."))
    return 1 if totals["failed"] or fuzz_failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

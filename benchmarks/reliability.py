"""The reliability battery: bad inputs and injected faults, counted by outcome.

    python -m benchmarks.reliability            # the default battery (a few minutes); prints the table
    python -m benchmarks.reliability --slow     # also the slow faults (a kill at every commit point, SIGKILL)
    python -m benchmarks.reliability --write    # and writes it into docs/RESULTS.md, "Reliability"

Each case is a test of its own that feeds one bad input or fault to the API or a command-line tool and passes
only when the outcome is the right one: for bad input, the documented exit status (2), exactly one
``error: <what> (<how to fix>)`` line, no traceback and no file written or changed; for a fault, every existing
file intact and, for training, an exact resume. A failed case is a raw traceback, a wrong exit status, a silently
wrong result or damaged data.
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", action="store_true", help="include the slow fault cases")
    parser.add_argument("--write", action="store_true", help="write the table into docs/RESULTS.md")
    args = parser.parse_args(argv)
    text, totals = table(run(args.slow))
    print(text)
    if args.write:
        command = "python -m benchmarks.reliability" + (" --slow" if args.slow else "") + " --write"
        replace_section("Reliability", (
            f"`{command}`, run on {time.strftime('%Y-%m-%d')}. {__doc__.split(chr(10) + chr(10), 2)[2].strip()}\n\n"
            f"{text}\n\nA failed case would be a raw traceback, a wrong exit status, or a silently wrong or "
            f"damaging result: {totals['failed']} here. Each fault of issue 9 (a write failing partway, a kill "
            "between checkpoint and progress, a too-small arena, a damaged file) is among the passing cases."))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

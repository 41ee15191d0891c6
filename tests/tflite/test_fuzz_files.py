"""tfquant-run on mutated copies of real exports in every format (`benchmarks.fuzz_files`): each run, in a forked
child, is a clear refusal, the same answer, or (run with --trust-foreign) an answer flagged as unvouched; the test
fails on any silently wrong answer, crash, hang, exit 3 or refusal that is not one `error:` line."""
import numpy as np
import pytest

from benchmarks import fuzz_files as fz
from tfquant_lite import cli, crash_guard, runner


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    files, images = fz.export_all(folder)
    return files, images, folder


def _check(counts, failures):
    assert not failures, "\n".join(failures)
    stamped = {outcome: n for (mode, outcome), n in counts.items() if mode == "stamped"}
    assert set(stamped) == {"refused"}, stamped  # a file tfquant stamped runs only as exported
    foreign = {outcome for (mode, outcome), n in counts.items() if mode == "foreign"}
    assert foreign <= {"refused", "same", "flagged"}, foreign


def test_every_mutation_of_every_format_is_refused_or_flagged(exports):
    """Each schema and metadata edit of the issue once (formats in turn), then random flips and truncations:
    ~60 files, each run stamped and with --trust-foreign."""
    files, images, folder = exports
    counts, failures = fz.campaign(files, images, folder / "fast", cases=len(fz.MUTATIONS) + 32, seed=0)
    _check(counts, failures)
    assert sum(counts.values()) == 2 * (len(fz.MUTATIONS) + 32)


@pytest.mark.slow
def test_a_long_seeded_fuzz_run(exports):
    files, images, folder = exports
    counts, failures = fz.campaign(files, images, folder / "slow", cases=400, seed=2)
    _check(counts, failures)


def test_an_int8_input_scale_of_nan_or_zero_segfaults_litert_but_is_refused_before(exports, tmp_path, capsys):
    """The issue's segfault, reproduced: LiteRT dies by SIGSEGV on it (seen from a forked child), while the runner
    refuses the file by its scale before any interpreter sees it, stamped or --trust-foreign, expanded or not."""
    files, images, _ = exports
    rng = np.random.default_rng(0)
    for mutation in (fz._activation_scale(float("nan")), fz._activation_scale(0)):
        data = mutation(files["int8"].read_bytes(), rng)
        assert "SIGSEGV" in crash_guard.crash_of(data, "litert")
        path = tmp_path / "scale.tflite"
        for source in (data, mutation(files["packed-int8"].read_bytes(), rng)):
            path.write_bytes(source)
            for flags in ((), ("--trust-foreign",), ("--trust-foreign", "--no-expand")):
                assert cli.main([str(path), str(images), *flags]) == 2
                err = capsys.readouterr().err
                assert "quantization scale" in err.splitlines()[-1] or "changed after export" in err, err


def test_absurd_thread_counts_are_refused_not_crashed(exports):
    files, images, _ = exports
    with pytest.raises(runner.RunnerError, match=f"threads 100000: give 1..{runner.MAX_THREADS}"):
        runner.run(files["float32"], np.zeros((1, 28, 28), np.uint8), threads=100000)

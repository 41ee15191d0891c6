"""Integrity of exported files: the stamp export writes (a SHA-256 over every byte of the file but its own
digest, the input normalisation, the format), and what the checks refuse: any changed byte, an old
version-1 stamp, truncation, a wrong identifier, a too-small TFLM arena."""
import hashlib
import json

import numpy as np
import pytest

import tfquant.tflite as tflite
from benchmarks.export_models import binarize
from tests.conftest import small_cnn
from tfquant_lite import cli, fold, integrity, interpreters, runner
from tfquant_lite import flatbuffer as fb

NORMALIZATION = (0.5, 0.25)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A real packed-int8 export of a small binary CNN (28x28x1 input, like the runner's images)."""
    model = binarize(small_cnn((28, 28, 1), classes=4), seed=0)
    rng = np.random.default_rng(0)
    calibration = ((rng.random((64, 28, 28, 1)) - NORMALIZATION[0]) / NORMALIZATION[1]).astype(np.float32)
    path = tmp_path_factory.mktemp("integrity") / "model.tflite"
    report = tflite.export(model, path, format="packed-int8", calibration=calibration, normalization=NORMALIZATION)
    return path, report


def _flip_in_largest_weight(data):
    """`data` with one byte inverted in the middle of its largest constant buffer."""
    model = fb.read(data)
    used = {t.buffer for t in model.subgraphs[0].tensors}
    index = max(used, key=lambda i: 0 if model.buffers[i].data is None else len(model.buffers[i].data))
    raw = np.asarray(model.buffers[index].data, np.uint8).tobytes()
    start = data.find(raw)
    assert start > 0 and len(raw) >= 16
    damaged = bytearray(data)
    damaged[start + len(raw) // 2] ^= 0xFF
    return bytes(damaged)


def test_export_writes_checksum_and_normalisation(exported):
    path, report = exported
    record = integrity.check(path.read_bytes())
    assert record["checksum"] is integrity.Integrity.VERIFIED and record["format"] == "packed-int8"
    assert record["input_normalization"] == {"mean": 0.5, "std": 0.25}
    assert report["metadata"]["file_sha256"] == record["file_sha256"]
    data = path.read_bytes()
    start = data.index(integrity.PREFIX) + len(integrity.PREFIX)
    assert data[start:start + 64].decode() == record["file_sha256"]
    assert hashlib.sha256(data[:start] + integrity.FILLER + data[start + 64:]).hexdigest() == record["file_sha256"]
    assert set(report["verification_sets"]) == {"calibration", "held_out"}


def test_stamping_again_is_deterministic_and_replaces_the_old_entry(exported):
    data = exported[0].read_bytes()
    assert integrity.stamp(data, NORMALIZATION, "packed-int8") == data  # the digest does not cover itself
    again = integrity.stamp(data, "none", "packed-int8")
    assert integrity.check(again)["input_normalization"] == "none"
    assert integrity.check(again)["file_sha256"] != integrity.check(data)["file_sha256"]
    assert [m.name for m in fb.read(again).metadata].count(b"tfquant") == 1


def test_every_byte_of_the_file_is_covered(exported):
    """One flipped bit anywhere (graph, options, scales, weights, metadata, the digest itself) is refused."""
    data = exported[0].read_bytes()
    stamp_at = data.index(integrity.PREFIX)
    positions = sorted(set(range(0, len(data), 7)) | set(range(stamp_at, min(stamp_at + 200, len(data)))))
    refused = 0
    for at in positions:
        damaged = bytearray(data)
        damaged[at] ^= 0x04
        with pytest.raises(integrity.DamagedModel):
            integrity.check(bytes(damaged))
        refused += 1
    assert refused == len(positions) > 900


@pytest.mark.parametrize("version", [1, 2])
def test_a_stamp_whose_entry_lost_its_name_is_still_a_stamp(exported, version):
    """A damaged metadata name does not turn a stamped file into a foreign one (which would run unvouched)."""
    model = fb.read(exported[0].read_bytes())
    if version == 1:
        old = {"tfquant": 1, "format": "packed-int8", "weights_sha256": "ab" * 32, "input_normalization": "none"}
        integrity._write_entry(model, json.dumps(old, sort_keys=True).encode())
    next(m for m in model.metadata if m.name == b"tfquant").name = b"tfquanT"
    with pytest.raises(integrity.ChangedAfterExport, match="no longer names one tfquant stamp"):
        integrity.check(fb.write(model))


def test_an_old_weights_only_stamp_is_refused_with_the_way_on(exported):
    model = fb.read(exported[0].read_bytes())
    old = {"tfquant": 1, "format": "packed-int8", "weights_sha256": "ab" * 32, "input_normalization": "none"}
    integrity._write_entry(model, json.dumps(old, sort_keys=True).encode())
    data = fb.write(model)
    with pytest.raises(integrity.OutdatedStamp, match="version-1 .* re-export it with this tfquant.*--trust-foreign"):
        integrity.check(data)
    record = integrity.check(data, trust_foreign=True)
    assert record["checksum"] is integrity.Integrity.FOREIGN and record["input_normalization"] == "none"


def test_expanded_file_carries_a_true_checksum(exported):
    expanded = fold.expand(exported[0].read_bytes())
    assert integrity.check(expanded)["checksum"] == "verified"


def test_flipped_weight_bytes_are_refused(exported, tmp_path, capsys):
    damaged = _flip_in_largest_weight(exported[0].read_bytes())
    with pytest.raises(integrity.ChangedAfterExport, match="changed after export .*--trust-foreign"):
        integrity.check(damaged)
    bad = tmp_path / "damaged.tflite"
    bad.write_bytes(damaged)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 28, 28), np.uint8))
    assert cli.main([str(bad), str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "changed after export" in err and "Traceback" not in err


@pytest.mark.parametrize("cut", [0, 6, 64, 0.5, -9])
def test_truncated_files_are_refused(exported, cut):
    data = exported[0].read_bytes()
    size = int(len(data) * cut) if isinstance(cut, float) else (len(data) + cut if cut < 0 else cut)
    with pytest.raises(integrity.DamagedModel):
        integrity.check(data[:size])


def test_wrong_identifier_is_refused(exported):
    data = bytearray(exported[0].read_bytes())
    data[4:8] = b"TFL2"
    with pytest.raises(integrity.DamagedModel, match="file identifier"):
        integrity.check(bytes(data))


def test_too_small_tflm_arena_is_an_error_not_a_crash(exported, tmp_path, capsys):
    """Sizes around and far below the minimum: TFLM is probed in a forked child, the process lives on."""
    data = exported[0].read_bytes()
    sample = np.zeros((28, 28, 1), np.float32)
    minimum = interpreters.tflm_min_arena(data, sample)
    for size in (16, minimum // 2, minimum - 16):
        with pytest.raises(interpreters.ArenaTooSmall, match=f"at least {minimum:,} bytes"):
            interpreters.open_session(data, "tflm", arena_size=size)
    assert interpreters.open_session(data, "tflm", arena_size=minimum).run(sample[None]).shape == (1, 4)
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 28, 28), np.uint8))
    assert cli.main([str(exported[0]), str(tmp_path / "x.npz"), "--interpreter", "tflm", "--arena-kb", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "--arena-kb" in err and "Traceback" not in err


def test_runner_applies_the_recorded_normalisation(exported):
    """The runner feeds (p/255 - 0.5)/0.25 from the metadata: the same outputs as giving it by hand."""
    images = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    auto = runner.run(exported[0], images, interpreter="litert")
    by_hand = runner.run(exported[0], images, interpreter="litert", mean=0.5, std=0.25)
    assert auto["normalization"]["source"] == "file metadata"
    np.testing.assert_array_equal(auto["probabilities"], by_hand["probabilities"])
    x = ((images / 255.0 - 0.5) / 0.25).astype(np.float32)[..., None]
    expected = interpreters.run(fold.expand(exported[0].read_bytes()), x, "litert")
    np.testing.assert_array_equal(auto["predictions"], expected.argmax(axis=1))


def test_runner_warns_on_pixels_without_known_normalisation(exported, tmp_path):
    unknown = tmp_path / "unknown.tflite"
    unknown.write_bytes(integrity.stamp(exported[0].read_bytes(), None, "packed-int8"))
    images = np.full((2, 28, 28), 200, np.uint8)
    with pytest.warns(runner.RunnerWarning, match="no normalisation is known"):
        runner.run(unknown, images, interpreter="litert")

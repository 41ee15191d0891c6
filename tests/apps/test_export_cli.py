"""tfquant-export (= export/to_tflite.py): a model trained with tfquant's BC-Adam goes to a verified packed
file; a failure while writing leaves the files already there as they were."""
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import tfquant
from tfquant.cli import export as to_tflite
from tfquant_lite import interpreters

ROOT = Path(__file__).resolve().parents[2]


def _tiny_cnn():
    return keras.Sequential([
        keras.Input((9, 9, 1)),
        keras.layers.Conv2D(6, 3, use_bias=False, name="conv1"),
        keras.layers.BatchNormalization(name="bn1"),
        keras.layers.ReLU(),
        keras.layers.Conv2D(5, 3, strides=2, name="conv2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, name="dense"),
    ])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny CNN trained a few steps with BC-Adam and per-channel scaled binary kernels, saved."""
    folder = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 9, 9, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int32")
    model = _tiny_cnn()
    model.compile(optimizer=tfquant.BCAdam(learning_rate=1e-2, quantizer=tfquant.ScaledBinary()),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    model.save(folder / "model.keras")
    np.save(folder / "calibration.npy", x[:32])
    return folder, model, x


def test_trained_model_to_verified_packed_file(trained):
    folder, model, x = trained
    done = subprocess.run([sys.executable, "export/to_tflite.py", str(folder / "model.keras"), "-o",
                           str(folder / "model.tflite"), "--format", "packed", "--report", str(folder / "r.json"),
                           "--strict"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet by default: no TensorFlow, absl or LiteRT log lines
    report = json.loads((folder / "r.json").read_text())
    assert [l["layer"] for l in report["layers"] if l["packed"]] == ["conv1", "conv2"]
    assert report["verification"]["relative_error"] <= 1e-5
    assert "bits each" in done.stdout
    out = interpreters.run(folder / "model.tflite", x[:8], "litert")
    np.testing.assert_allclose(out, np.asarray(model(x[:8])), rtol=1e-5, atol=1e-5)


def test_packed_int8_with_c_array(trained, capsys):
    folder, _, _ = trained
    code = to_tflite.main([str(folder / "model.keras"), "-o", str(folder / "m8.tflite"), "--format", "packed-int8",
                           "--calibration", str(folder / "calibration.npy"), "--c-array", str(folder / "m8.cc"),
                           "--tflm-arena"])
    assert code == 0
    assert "TFLite Micro minimum arena" in capsys.readouterr().out
    header = (folder / "m8.h").read_text()
    assert header.count("g_model_arena_size") == 1 and ".tfquant-staging" not in header
    assert '#include "m8.h"' in (folder / "m8.cc").read_text()  # staged under its final name


def test_int8_without_calibration_exits_2(trained, capsys):
    folder, _, _ = trained
    assert to_tflite.main([str(folder / "model.keras"), "-o", str(folder / "x.tflite"), "--format", "int8"]) == 2
    assert "calibration" in capsys.readouterr().err
    assert not (folder / "x.tflite").exists()


def test_strict_refuses_a_non_binary_conv(tmp_path, capsys):
    _tiny_cnn().save(tmp_path / "float.keras")
    code = to_tflite.main([str(tmp_path / "float.keras"), "-o", str(tmp_path / "x.tflite"), "--strict"])
    assert code == 2 and "strict: 2 conv filter(s) not packed" in capsys.readouterr().err


def test_corrupted_file_exits_2(tmp_path, capsys):
    (tmp_path / "bad.keras").write_bytes(b"not a zip file")
    assert to_tflite.main([str(tmp_path / "bad.keras"), "-o", str(tmp_path / "x.tflite")]) == 2
    assert "cannot load" in capsys.readouterr().err


def test_a_write_failing_partway_leaves_every_old_output(trained, tmp_path, capsys, monkeypatch):
    """The disk fills while the report (the last output) is written: the model, report and C array already
    there keep their old bytes, and no temporary file is left behind."""
    import tfquant.tflite as tflite

    folder, _, _ = trained
    outputs = {name: tmp_path / name for name in ("m.tflite", "r.json", "m.cc", "m.h")}
    for name, path in outputs.items():
        path.write_bytes(f"old {name}".encode())

    def disk_full(report, path):
        Path(path).write_bytes(b"{half a rep")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(tflite.report, "to_json", disk_full)
    code = to_tflite.main([str(folder / "model.keras"), "-o", str(outputs["m.tflite"]), "--report",
                           str(outputs["r.json"]), "--c-array", str(outputs["m.cc"])])
    err = capsys.readouterr().err
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert {name: path.read_bytes() for name, path in outputs.items()} == \
        {name: f"old {name}".encode() for name in outputs}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(outputs)


FILE_SIZE_LIMIT = """
import resource, signal, sys
from tfquant_lite import files

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
path, big = sys.argv[1], bytes(10000)


def staged(p):
    with files.staged(p) as (temporary,):
        open(temporary, "wb").write(big)


writers = [lambda p: files.write_bytes(p, big), lambda p: files.write_text(p, "x" * len(big)),
           lambda p: files.replace_with(p, lambda t: open(t, "wb").write(big)), staged]
failed = 0
for write in writers:
    try:
        write(path)
    except OSError as error:
        failed += error.errno == 27  # EFBIG: File too large
print(failed)
"""


def test_the_atomic_writers_survive_a_file_size_limit(tmp_path):
    """A real failing write (RLIMIT_FSIZE, in a subprocess): each writer raises and the old file stays."""
    old = tmp_path / "model.tflite"
    old.write_bytes(b"old model")
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, str(old)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.strip() == "4", done.stderr
    assert old.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left behind

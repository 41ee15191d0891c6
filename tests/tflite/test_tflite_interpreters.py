"""The exported files on every interpreter: LiteRT (XNNPACK on/off), tf.lite, TFLite Micro, tflite-runtime."""
import numpy as np
import pytest

import tfquant.tflite as tflite
from benchmarks.export_models import binarize, odd_shapes_cnn
from tfquant.tflite import c_array
from tfquant_lite import interpreters

IN_PROCESS = ["litert", "litert-noxnnpack", "tf.lite"]


def assert_agree(fmt, out, reference):
    """Float files agree to float rounding; int8 files to an output step or two (kernels round
    requantization differently: XNNPACK vs builtin vs TFLM differ by one int8 step now and then)."""
    if fmt == "packed":
        np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-6)
    else:
        assert np.abs(out - reference).max() <= 0.02 * np.abs(reference).max()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    model = binarize(odd_shapes_cnn(), dense=True, seed=11)
    x = np.random.default_rng(2).standard_normal((6, 11, 13, 3)).astype(np.float32)
    folder = tmp_path_factory.mktemp("interp")
    reports = {f: tflite.export(model, folder / f"{f}.tflite", format=f, calibration=x, tflm_arena=f == "packed-int8")
               for f in ("packed", "int8", "packed-int8")}
    return reports, x


@pytest.mark.parametrize("name", IN_PROCESS)
@pytest.mark.parametrize("fmt", ["packed", "packed-int8"])
def test_in_process_interpreters_agree(files, name, fmt):
    reports, x = files
    reference = interpreters.run(reports[fmt]["path"], x, "litert-noxnnpack")
    assert_agree(fmt, interpreters.run(reports[fmt]["path"], x, name), reference)


def test_tflm_runs_packed_int8_in_its_min_arena(files):
    reports, x = files
    arena = reports["packed-int8"]["tflm_arena_bytes"]
    out = interpreters.run(reports["packed-int8"]["path"], x, "tflm", arena_size=arena)
    assert_agree("packed-int8", out, interpreters.run(reports["packed-int8"]["path"], x, "litert-noxnnpack"))
    assert not interpreters.tflm_runs(open(reports["packed-int8"]["path"], "rb").read(), arena - 256, x[0], out[:1])


def test_tflm_runs_float_packed_too(files):
    reports, x = files
    out = interpreters.run(reports["packed"]["path"], x, "tflm")
    assert_agree("packed", out, interpreters.run(reports["packed"]["path"], x, "litert-noxnnpack"))


def test_unknown_interpreter(files):
    with pytest.raises(ValueError, match="unknown interpreter 'tflm2'.*litert"):
        interpreters.run(files[0]["packed"]["path"], files[1], "tflm2")


def test_c_array_round_trip(files, tmp_path):
    data = open(files[0]["packed-int8"]["path"], "rb").read()
    header, source = c_array.write(data, tmp_path / "model.cc", arena_size=files[0]["packed-int8"]["tflm_arena_bytes"])
    text = source.read_text()
    body = text[text.index("{") + 1:text.index("};")]
    assert bytes(int(b, 16) for b in body.replace(",", " ").split()) == data
    assert f"g_model_len = {len(data)};" in text and "alignas(16)" in text
    assert f"g_model_arena_size = {files[0]['packed-int8']['tflm_arena_bytes']};" in header.read_text()


@pytest.mark.tflite_runtime
@pytest.mark.skipif(interpreters.tflite_runtime_python() is None,
                    reason="no .venv-tflite-runtime: create it with `python -m export._tflite_runtime_venv`")
@pytest.mark.parametrize("fmt", ["packed", "int8", "packed-int8"])
def test_tflite_runtime(files, fmt):
    reports, x = files
    expected = interpreters.run(reports[fmt]["path"], x, "litert-noxnnpack")
    assert_agree(fmt, interpreters.run(reports[fmt]["path"], x, "tflite-runtime"), expected)

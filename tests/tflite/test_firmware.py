"""The generated TFLite Micro C++ (model.cc + model.h) and firmware/main.cc compile with the system
C++ compiler, and the header registers exactly the model's operators on a resolver of that size.

TFLM's sources are not available offline here, so g++ checks syntax and types (-fsyntax-only) against
tests/tflite/tflm_stub: TFLM's declarations of the few names used (see its README)."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks.export_models import binarize, odd_shapes_cnn
from tfquant.tflite import c_array, convert, pack
from tfquant_lite import flatbuffer as fb

ROOT = Path(__file__).resolve().parents[2]
STUB = Path(__file__).with_name("tflm_stub")


@pytest.fixture(scope="module")
def packed_int8():
    x = np.random.default_rng(1).standard_normal((16, 11, 13, 3)).astype(np.float32)
    return pack.pack(convert.to_tflite(binarize(odd_shapes_cnn(), dense=True, seed=3), int8=True, calibration=x))[0]


def test_header_registers_exactly_the_models_ops(packed_int8, tmp_path):
    header, source = c_array.write(packed_int8, tmp_path / "model.cc", name="kws_model", arena_size=12345,
                                   arena_headroom=16)
    text = header.read_text()
    model = fb.read(packed_int8)
    used = {fb.op_name(model, op) for op in model.subgraphs[0].operators}
    added = re.findall(r"resolver\.(Add\w+)\(\)", text)
    assert sorted(added) == sorted(c_array.resolver_method(op) for op in used) and len(set(added)) == len(added)
    assert f"tflite::MicroMutableOpResolver<{len(used)}>" in text
    assert "constexpr size_t kws_model_arena_size = 12361;" in text
    body = source.read_text()
    data = body[body.index("{") + 1:body.index("};")]
    assert bytes(int(b, 16) for b in data.replace(",", " ").split()) == packed_int8


def test_resolver_method_names():
    assert [c_array.resolver_method(op) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED",
                                                   "AVERAGE_POOL_2D", "RELU6", "SPACE_TO_BATCH_ND")] == [
        "AddConv2D", "AddDepthwiseConv2D", "AddFullyConnected", "AddAveragePool2D", "AddRelu6", "AddSpaceToBatchNd"]


def test_bad_c_name_is_refused(packed_int8, tmp_path):
    with pytest.raises(ValueError, match="not a C identifier"):
        c_array.write(packed_int8, tmp_path / "model.cc", name="my-model")


@pytest.mark.skipif(shutil.which("g++") is None, reason="no system C++ compiler (g++)")
def test_generated_sources_and_example_main_compile(packed_int8, tmp_path):
    c_array.write(packed_int8, tmp_path / "model.cc", name="g_model", arena_size=40000)
    shutil.copy(ROOT / "firmware" / "main.cc", tmp_path / "main.cc")
    for source in ("main.cc", "model.cc"):
        done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Werror", "-I", str(STUB),
                               "-I", str(tmp_path), str(tmp_path / source)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    # and the check can fail: a header for a model without an arena size leaves main.cc undeclared names
    c_array.write(packed_int8, tmp_path / "model.cc", name="g_model")
    done = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-I", str(STUB), "-I", str(tmp_path),
                           str(tmp_path / "main.cc")], capture_output=True, text=True)
    assert done.returncode != 0 and "g_model_arena_size" in done.stderr

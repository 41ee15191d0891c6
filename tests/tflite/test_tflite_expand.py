"""tfquant.tflite.expand: folding packed files back into standard ones, filters bit-identical to the
unpacked export's (the fold module without TensorFlow: tests/tflite/test_device_core.py)."""
import numpy as np
import pytest

import tfquant.tflite as tflite
from benchmarks.export_models import binarize, odd_shapes_cnn
from tfquant.tflite import convert, pack
from tfquant.tflite.filters import filters
from tfquant_lite import flatbuffer as fb
from tfquant_lite import interpreters

UNPACK_OPS = {"CAST", "ADD", "GATHER", "RESHAPE", "SLICE", "MUL"}


@pytest.fixture(scope="module")
def files():
    """Unpacked and packed files of a net with every awkward filter (odd counts: SLICE; depthwise)."""
    model = binarize(odd_shapes_cnn(), dense=True, seed=3)
    x = np.random.default_rng(1).standard_normal((16, 11, 13, 3)).astype(np.float32)
    float32, int8 = convert.to_tflite(model), convert.to_tflite(model, int8=True, calibration=x)
    return {"float32": float32, "int8": int8, "packed": pack.pack(float32)[0],
            "packed-int8": pack.pack(int8)[0]}, x


def _filters(model_bytes):
    """(op, filter values, filter scales) of every filter op, in op order."""
    model = fb.read(model_bytes)
    out = []
    for _, op, record in filters(model):
        tensor = model.subgraphs[0].tensors[op.inputs[1]]
        q = tensor.quantization
        out.append((record.op, fb.constant(model, tensor), None if q is None or q.scale is None else list(q.scale)))
    return out


def _ops(model_bytes):
    model = fb.read(model_bytes)
    return [fb.op_name(model, op) for op in model.subgraphs[0].operators]


@pytest.mark.parametrize("base,packed", [("int8", "packed-int8"), ("float32", "packed")])
def test_expanded_filters_are_the_unpacked_files(base, packed, files):
    """Same ops, and every filter equal bit for bit (values, dtype and quantization scales)."""
    models, _ = files
    expanded = tflite.expand(models[packed])
    assert UNPACK_OPS & set(_ops(models[packed])) and _ops(expanded) == _ops(models[base])
    for (op_e, w_e, s_e), (op_b, w_b, s_b) in zip(_filters(expanded), _filters(models[base]), strict=True):
        assert op_e == op_b and w_e is not None and w_e.dtype == w_b.dtype and s_e == s_b
        np.testing.assert_array_equal(w_e, w_b)
    assert len(expanded) <= len(models[base])  # every packing tensor, buffer and operator code is gone


@pytest.mark.parametrize("base,packed", [("int8", "packed-int8"), ("float32", "packed")])
def test_expanded_runs_like_the_unpacked_file_on_xnnpack(base, packed, files):
    """Outputs equal to the unpacked file's on LiteRT with XNNPACK, in as many delegated partitions
    (the packed file's computed filters keep its convs off XNNPACK), and on TFLite Micro."""
    models, x = files
    expanded = tflite.expand(models[packed])
    for interpreter in ("litert", "tflm"):
        np.testing.assert_array_equal(interpreters.run(expanded, x, interpreter),
                                      interpreters.run(models[base], x, interpreter))

    def partitions(model_bytes):
        details = interpreters.open_session(model_bytes).interpreter._get_ops_details()
        return [d["op_name"] for d in details].count("DELEGATE")
    assert partitions(expanded) == partitions(models[base]) < partitions(models[packed])


def test_file_without_unpacking_keeps_its_graph(files):
    models, x = files
    expanded = tflite.expand(models["int8"])
    assert _ops(expanded) == _ops(models["int8"])
    np.testing.assert_array_equal(interpreters.run(expanded, x, "litert"),
                                  interpreters.run(models["int8"], x, "litert"))

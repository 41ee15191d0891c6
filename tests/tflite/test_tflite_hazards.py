"""The known ways to get a silently wrong file are refused with a clear error."""
import keras
import numpy as np
import pytest
from tensorflow.lite.python import schema_py_generated as schema

import tfquant.tflite as tflite
from benchmarks.export_models import binarize, odd_shapes_cnn
from tfquant.tflite import convert, hazards
from tfquant.tflite.filters import filters
from tfquant.tflite.verify import verify
from tfquant_lite import flatbuffer


@pytest.fixture(scope="module")
def model():
    return binarize(odd_shapes_cnn(), seed=7)


def _inputs(n=16):
    return np.random.default_rng(0).standard_normal((n, 11, 13, 3)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["int2", "ternary"])
def test_int2_format_refused(model, fmt):
    with pytest.raises(tflite.ExportError, match="refused.*'int4'"):
        tflite.export(model, None, format=fmt)


def _retyped_filter(model_bytes, tensor_type):
    """The file with its first conv filter's type changed (what a wrong low-bit path would write)."""
    tree = flatbuffer.read(model_bytes)
    sub = tree.subgraphs[0]
    op = next(op for op in sub.operators if flatbuffer.op_name(tree, op) == "CONV_2D")
    sub.tensors[op.inputs[1]].type = tensor_type
    return flatbuffer.write(tree)


def test_int4_filter_with_float_activations_refused(model):
    bad = _retyped_filter(convert.to_tflite(model), schema.TensorType.INT4)
    with pytest.raises(tflite.ExportError, match="INT4 filter .* float activations"):
        hazards.check(bad)


def test_int2_tensor_refused(model):
    bad = _retyped_filter(convert.to_tflite(model, int8=True, calibration=_inputs()), schema.TensorType.INT2)
    with pytest.raises(tflite.ExportError, match="INT2"):
        hazards.check(bad)


def test_int4_export_reads_int4_only_with_int8_activations(model, tmp_path):
    report = tflite.export(model, tmp_path / "m.tflite", format="int4", calibration=_inputs())
    tree = flatbuffer.read((tmp_path / "m.tflite").read_bytes())
    sub = tree.subgraphs[0]
    int4_readers = [op for _, op, _ in filters(tree) if sub.tensors[op.inputs[1]].type == schema.TensorType.INT4]
    assert len(int4_readers) == sum(l["stored_as"] == "int4" for l in report["layers"]) == 4
    assert all(sub.tensors[op.inputs[0]].type == schema.TensorType.INT8 for op in int4_readers)


def test_int4_rescales_bias_with_filter(model):
    """s4 = s8·127/m and b4 = round(b8·m/127): the real bias b·s_in·s_filter is unchanged."""
    int8 = flatbuffer.read(convert.to_tflite(model, int8=True, calibration=_inputs()))
    int4 = flatbuffer.read(tflite.int4.to_int4(flatbuffer.write(int8))[0])

    def conv_tensors(tree):
        sub = tree.subgraphs[0]
        return [(sub.tensors[op.inputs[1]], sub.tensors[op.inputs[2]]) for op in sub.operators
                if flatbuffer.op_name(tree, op) == "CONV_2D" and op.inputs[2] >= 0]

    for (f8, b8), (f4, b4) in zip(conv_tensors(int8), conv_tensors(int4)):
        real8 = flatbuffer.constant(int8, b8) * np.asarray(b8.quantization.scale)
        real4 = flatbuffer.constant(int4, b4) * np.asarray(b4.quantization.scale)
        np.testing.assert_allclose(real4, real8, atol=np.asarray(b4.quantization.scale).max())
        np.testing.assert_allclose(np.asarray(f4.quantization.scale), np.asarray(f8.quantization.scale) * 127,
                                   rtol=1e-6)


def test_corrupted_weights_refused(model):
    broken = keras.models.clone_model(model)
    broken.set_weights(model.get_weights())
    broken.get_layer("pointwise").kernel.assign(np.full(broken.get_layer("pointwise").kernel.shape, np.nan))
    with pytest.raises(tflite.ExportError, match="pointwise.*NaN"):
        tflite.export(broken, None, format="packed")


def test_wrong_file_fails_verification_with_figures(model):
    other = binarize(odd_shapes_cnn(), seed=8)
    with pytest.raises(tflite.VerificationError, match="relative error") as caught:
        verify(model, convert.to_tflite(other), _inputs(), int8=False)
    assert caught.value.figures["relative_error"] > 1e-5


def test_int8_failure_says_where_the_ranges_come_from(model):
    """Inputs 100x wider than the calibration saturate every int8 activation: the error says why and what to do."""
    with pytest.raises(tflite.VerificationError, match="ranges from the calibration.*normalised exactly") as caught:
        tflite.export(model, None, format="int8", calibration=_inputs(64) * 0.01, samples=_inputs(16) * 100)
    assert caught.value.figures["relative_error"] > 0.25


def test_int8_export_gives_no_warning_from_inside_the_converter(model):
    """The converter warned 'Statistics for quantized inputs were expected, but not specified; continuing
    anyway' on every int8 format (found exporting keras.io's MNIST convnet): nothing the user can act on."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tflite.export(model, None, format="packed-int8", calibration=_inputs(32))
    assert [str(w.message) for w in caught if "Statistics for quantized" in str(w.message)] == []


def test_int8_needs_calibration(model):
    with pytest.raises(tflite.ExportError, match="calibration"):
        tflite.export(model, None, format="packed-int8")
    with pytest.raises(tflite.ExportError, match=r"expected \(N, 11, 13, 3\)"):
        tflite.export(model, None, format="int8", calibration=np.zeros((4, 13, 11, 3), np.float32))


def test_unknown_format_and_model_type():
    with pytest.raises(tflite.ExportError, match="unknown format 'int16'"):
        tflite.export(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), None, format="int16")
    with pytest.raises(tflite.ExportError, match="expected a keras.Model"):
        tflite.export("model.keras", None)
    with pytest.raises(tflite.ExportError, match="strict must be True or False, got 'yes'"):
        tflite.export(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), None, strict="yes")


def test_near_uniform_outputs_are_not_judged_by_agreement_and_the_report_says_so():
    """An untrained net's near-tie outputs: no decisive sample, so no vacuous 'agreement 1.0': the figure is
    absent, the count is 0, and the report's line says agreement was not judged."""
    from tfquant.tflite import report
    from tfquant.tflite.verify import figures
    expected = np.full((8, 10), 0.1, np.float32) + np.linspace(0, 1e-3, 10, dtype=np.float32)
    actual = expected[:, ::-1].copy()  # every argmax different
    result = figures(expected, actual)
    assert result["argmax_agreement"] == 0.0 and result["decisive_samples"] == 0
    assert "decisive_agreement" not in result
    text = report._agreement(result)
    assert "argmax agreement 0.000" in text and "no decisive sample" in text
    decided = figures(np.eye(10, dtype=np.float32)[:4], np.eye(10, dtype=np.float32)[:4])
    assert decided["decisive_samples"] == 4 and decided["decisive_agreement"] == 1.0
    assert "(4 decisive samples: 1.000)" in report._agreement(decided)

"""The MLPerf Tiny benchmark's parts on the real TFLite Micro runtime (the `tflite-micro` package): TFLM's
arena count, TFLM's own 1-bit LUT compression (and its FULLY_CONNECTED per-channel defect), the CLI."""
import keras
import numpy as np
import pytest

from benchmarks import mlperf_tiny
from benchmarks.mlperf_tiny_lut import binary_filters, compress_binary
from benchmarks.mlperf_tiny_models import binarize_per_layer
from benchmarks.mlperf_tiny_tflm import arena_used_bytes, outputs
from tfquant.recipes import settle_batch_norms
from tfquant.tflite import convert
from tfquant_lite import flatbuffer as fb
from tfquant_lite import integrity, interpreters


def _int8(layers, input_shape, dense, seed=0):
    """A small net with binary kernels and settled batch norms, converted to full int8, and its data."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, x)
    binarize_per_layer(model, dense=dense)
    data = np.random.default_rng(seed).standard_normal((32,) + input_shape).astype(np.float32)
    settle_batch_norms(model, data)
    return convert.to_tflite(model, int8=True, calibration=data), data


def _conv_net():
    L = keras.layers
    return _int8([L.Conv2D(16, 3, strides=2, padding="same"), L.BatchNormalization(), L.ReLU(),
                  L.DepthwiseConv2D(3, padding="same"), L.BatchNormalization(), L.ReLU(),
                  L.Conv2D(32, 1), L.BatchNormalization(), L.ReLU(), L.GlobalAveragePooling2D(), L.Dense(4)],
                 (12, 12, 3), dense=False)


def _dense_net():
    L = keras.layers
    return _int8([L.Dense(24), L.BatchNormalization(), L.ReLU(), L.Dense(16)], (20,), dense=True)


def _tensor(model_bytes, index):
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    return model_editor.read(model_bytes).subgraphs[0].tensors[index].array


def test_arena_used_bytes_is_the_smallest_arena_that_runs_the_file():
    int8, data = _conv_net()
    assert arena_used_bytes(int8, data[0]) == interpreters.tflm_min_arena(int8, data[0])


def test_tflm_lut_compresses_binary_conv_filters_and_keeps_int8_outputs():
    int8, data = _conv_net()
    found = binary_filters(int8)
    assert sorted(op for _, _, op, _, _ in found) == ["CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D"]  # not the float head
    assert [axis for _, _, op, axis, _ in found if op == "DEPTHWISE_CONV_2D"] == [3]
    lut, count = compress_binary(int8)
    assert count == 3
    # weights: 1 bit each plus a 2-entry table per channel; the flatbuffer around them grows (on a net this
    # small, more than the weights shrink)
    filter_bytes = sum(_tensor(int8, t).size for _, t, _, _, _ in found)
    assert mlperf_tiny.file_parts(int8)["constants"] - mlperf_tiny.file_parts(lut)["constants"] > filter_bytes / 2
    assert b"TFLM_DECODE" in lut
    np.testing.assert_array_equal(outputs(lut, data[:8]), outputs(int8, data[:8]))


def test_a_tflm_compressed_file_is_sound_but_a_builtin_filter_on_a_wrong_axis_is_not():
    """TFLM's compressor leaves a filter's per-channel parameters on the encoded 1-D tensor that only its
    TFLM_DECODE reads: the file is sound (it runs as a foreign file). The same parameters on a filter that
    CONV_2D reads, along an axis of the wrong length, still make the file malformed."""
    int8, _ = _conv_net()
    lut, _ = compress_binary(int8)
    assert integrity.check(lut, trust_foreign=True)["checksum"] is integrity.Integrity.FOREIGN
    model = fb.read(int8)
    _, index, _, axis, _ = binary_filters(int8)[0]
    model.subgraphs[0].tensors[index].quantization.quantizedDimension = 3 - axis  # the kernel's 3 x 3 axis
    with pytest.raises(integrity.DamagedModel, match="per-channel scales along axis"):
        integrity.check(fb.write(model), trust_foreign=True)


def _row0_decoded(int8, tensor_index):
    """`int8` with FULLY_CONNECTED filter `tensor_index` decoded the way the defect does: every row's 1-bit
    indices looked up in row 0's value table (the compressor's tables are each row's sorted values)."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    model = model_editor.read(int8)
    tensor = model.subgraphs[0].tensors[tensor_index]
    values = tensor.array
    table0 = np.unique(values[0])
    index = np.stack([np.searchsorted(np.unique(row), row) for row in values])
    tensor.buffer.data = table0[np.minimum(index, len(table0) - 1)].astype(np.int8).tobytes()
    return bytes(model.build())


def test_tflm_fully_connected_per_channel_lut_decodes_every_row_with_row_0s_table():
    """TFLM's defect (tflite-micro 0.dev20261023182759): a FULLY_CONNECTED filter LUT-compressed per channel
    (axis 0) runs, but its outputs are those of the filter decoded with row 0's table for every row. When
    this test fails, the runtime has changed: re-measure the autoencoder (docs/RESULTS.md)."""
    int8, data = _dense_net()
    first = [f for f in binary_filters(int8) if f[2] == "FULLY_CONNECTED"][0]
    assert first[4] > 2  # the folded batch norm gives every row its own pair of values
    from tflite_micro.tensorflow.lite.micro.compression import compress, spec
    lut = bytes(compress(int8, [spec.Tensor(0, first[1], [spec.LookUpTableCompression(1, spec.PerChannel(0))])]))
    got = outputs(lut, data[:8])
    assert not np.array_equal(got, outputs(int8, data[:8]))
    np.testing.assert_array_equal(got, outputs(_row0_decoded(int8, first[1]), data[:8]))


def test_tables_have_a_row_per_net_and_format_with_the_headers_columns():
    rows = [{"net": "kws_ds_cnn", "format": f.name, "bytes": 1000 - 100 * i, "constants": 500 - 100 * i,
             "names": 100, "quantization": 120, "arena": 2000 + 10 * i, "ms": 2.0 + i, "ratio": 1.0 + i / 2,
             "equal": i < 2, "max_steps": 3.0 * i} for i, f in enumerate(mlperf_tiny.FORMATS)]
    for block in (mlperf_tiny.table(rows), mlperf_tiny.parts_table(rows)):
        lines = block.splitlines()
        assert len(lines) == 2 + len(rows)
        assert len({line.count("|") for line in lines}) == 1
    measured = mlperf_tiny.table(rows).splitlines()
    assert measured[2].startswith("| KWS DS-CNN | int8 | 1,000 | 1.000 | 500 | 2,000 | 1.00 | 2.00 | 1.00 | yes |")
    assert "**no** (up to 6 output steps off)" in measured[4]


@pytest.mark.slow
def test_benchmark_cli_measures_every_format(tmp_path, capsys):
    """One net, one training step (~10-20 s: training and conversion): every format's file is written,
    and the tfquant and TFLM conv formats reproduce int8's outputs on TFLM."""
    assert mlperf_tiny.main(["--nets", "kws_ds_cnn", "--steps", "1", "--repeats", "2", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    for fmt in mlperf_tiny.FORMATS:
        assert (tmp_path / f"kws_ds_cnn-{fmt.name}.tflite").stat().st_size > 0
        assert f"| KWS DS-CNN | {fmt.name} |" in text
    assert "| KWS DS-CNN | int8 |" in text and "**no**" not in text
    measured, parts = (block.splitlines() for block in text.split("Where the file bytes go:"))
    for block in (measured, parts):
        rows = [line for line in block if line.startswith("|")]
        assert len(rows) == 2 + len(mlperf_tiny.FORMATS)
        assert len({line.count("|") for line in rows}) == 1  # every row has the header's columns


@pytest.mark.parametrize("argv, flag", [(["--steps", "0"], "--steps"), (["--repeats", "0"], "--repeats")])
def test_benchmark_cli_rejects_counts_below_one(argv, flag, capsys):
    assert mlperf_tiny.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {flag} must be at least 1")

"""Bit packing and the int8 grid recovery, against NumPy references (the grid detector: tests/core/test_grids.py)."""
import numpy as np
import pytest

from tfquant.tflite import binary_kernels, int4, pack


@pytest.mark.parametrize("count", [1, 7, 8, 9, 216, 245])
def test_signs_round_trip(count):
    w = np.random.default_rng(count).standard_normal(count)
    stored = pack.pack_signs(w)
    assert stored.dtype == np.int8 and stored.size == (count + 7) // 8
    np.testing.assert_array_equal(pack.unpack_signs(stored, count, 127), np.where(w < 0, -127, 127))


def test_sign_table():
    table = pack.sign_table(1)
    assert table.shape == (256, 8)
    np.testing.assert_array_equal(table[0], np.ones(8))
    np.testing.assert_array_equal(table[0b10000001], [-1, 1, 1, 1, 1, 1, 1, -1])


def test_int8_grid_recovers_levels():
    """q = round(127·j/m) per channel gives back j and m."""
    j = np.array([[1, -1, 1, -1], [2, -1, 0, 1], [7, -3, 5, 0]])
    m = np.array([1, 2, 7])
    q = np.round(127 * j / m[:, None]).astype(np.int8)
    found_j, found_m = binary_kernels.int8_grid(q, 0)
    np.testing.assert_array_equal(found_j, j)
    np.testing.assert_array_equal(found_m, m)
    assert binary_kernels.int8_grid(np.array([[127, 50, -3, 9]], np.int8), 0) is None


def test_nibbles_low_first():
    np.testing.assert_array_equal(int4.pack_nibbles([1, -1, 7]), [0xF1, 0x07])


def test_large_filter_is_rebuilt_in_chunks_with_a_smaller_arena():
    """A 64x3x3x64 filter (36 KiB) on 8x8 activations (4 KiB): unpacked whole it needs ~55 KiB of
    intermediates in the TFLite Micro arena; in chunks of output channels far less, and the outputs on
    TFLM stay bit-identical to the int8 file's. (The arenas of the published MLPerf Tiny nets are
    measured by benchmarks/mlperf_tiny.py.)"""
    import keras

    from benchmarks.mlperf_tiny_models import binarize_per_layer
    from tfquant.recipes import settle_batch_norms
    from tfquant.tflite import convert
    from tfquant_lite import interpreters

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 16))
    x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(x)))
    binarize_per_layer(model, dense=True)
    data = np.random.default_rng(0).standard_normal((32, 8, 8, 16)).astype(np.float32)
    settle_batch_norms(model, data)
    int8 = convert.to_tflite(model, int8=True, calibration=data)
    packed, records = pack.pack(int8)
    assert [r.packed for r in records] == [True, True, True]
    assert max(r.chunks for r in records) > 1
    assert len(packed) < len(int8) / 2  # 10 chunks of graph on a small net; ResNet-8: see mlperf_tiny.py
    whole, whole_records = pack.pack(int8, spare_bytes=1 << 30)
    assert max(r.chunks for r in whole_records) == 1
    arena_whole, arena_packed = (interpreters.tflm_min_arena(m, data[0]) for m in (whole, packed))
    assert arena_packed < arena_whole - 16384, (arena_whole, arena_packed)
    np.testing.assert_array_equal(interpreters.run(packed, data[:4], "tflm"), interpreters.run(int8, data[:4], "tflm"))

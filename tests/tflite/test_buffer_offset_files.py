"""Files in the converter's other layout: `_experimental_use_buffer_offset` (meant for models over 2 GB)
stores every constant after the flatbuffer, each buffer an `offset` and `size` instead of inline data.
LiteRT runs them; tfquant's checks must read them as constants; TFLite Micro reads them as empty."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfquant_lite import flatbuffer as fb
from tfquant_lite import integrity, interpreters


@pytest.fixture(scope="module")
def files():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((10, 10, 2), batch_size=1)
    x = keras.layers.Conv2D(6, 3, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(x))

    def convert(offset):
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter._experimental_use_buffer_offset = offset
        return converter.convert()
    x = np.random.default_rng(0).standard_normal((3, 10, 10, 2)).astype(np.float32)
    return convert(False), convert(True), x


def test_the_offset_layout_is_sound_and_runs_on_litert_as_inline(files):
    inline, offset, x = files
    assert fb.outside_buffers(inline) == 0 and fb.outside_buffers(offset) > 0
    assert integrity.check(offset)["checksum"] is integrity.Integrity.FOREIGN  # the constants are constants
    np.testing.assert_array_equal(interpreters.run(offset, x, "litert"), interpreters.run(inline, x, "litert"))


def test_tflm_would_compute_the_offset_layout_on_empty_weights_so_it_is_refused(files):
    """Unguarded, TFLM fails to invoke such a file or (on a larger net, measured) answers wrong by 0.9. When
    the first assertion fails, TFLite Micro has learnt the layout: the refusal can go."""
    inline, offset, x = files
    module = interpreters.load_module("tflm")

    def raw_tflm(data):
        interpreter = module.Interpreter.from_bytes(data, arena_size=1 << 20)
        interpreter.set_input(x[:1], 0)
        try:
            interpreter.invoke()
        except RuntimeError:
            return None
        return np.array(interpreter.get_output(0))
    unguarded = raw_tflm(offset)
    assert unguarded is None or not np.allclose(unguarded, raw_tflm(inline), atol=1e-3)
    np.testing.assert_allclose(interpreters.run(inline, x[:1], "tflm"), raw_tflm(inline), rtol=1e-6)
    for call in (lambda: interpreters.run(offset, x[:1], "tflm"), lambda: interpreters.open_session(offset, "tflm")):
        with pytest.raises(interpreters.InterpreterUnavailable, match="after its flatbuffer.*Run it on 'litert'"):
            call()


def test_the_file_reader_sees_the_offset_layouts_constants_inline(files):
    """`fb.read` is where tfquant reads a file's constants (folding, the arena estimate, the report): an offset
    buffer read as empty would make every weight look computed. Written back, the file is inline and TFLM runs it."""
    inline, offset, x = files
    a, b = fb.read(inline), fb.read(offset)
    for ta, tb in zip(a.subgraphs[0].tensors, b.subgraphs[0].tensors, strict=True):
        left, right = fb.constant(a, ta), fb.constant(b, tb)
        assert (left is None) == (right is None) and (left is None or np.array_equal(left, right))
    assert sum(fb.constant(b, t) is not None for t in b.subgraphs[0].tensors) >= 3  # filter, bias, dense weights
    rewritten = fb.write(b)
    assert fb.outside_buffers(rewritten) == 0
    np.testing.assert_allclose(interpreters.run(rewritten, x[:1], "tflm"), interpreters.run(inline, x[:1], "tflm"),
                               rtol=1e-6)

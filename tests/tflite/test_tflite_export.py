"""tfquant.tflite.export end to end on small models: every format, odd shapes, outputs equal to Keras."""
import keras
import numpy as np
import pytest

import tfquant
import tfquant.tflite as tflite
from benchmarks.export_models import binarize, conv1d_net, odd_shapes_cnn
from tfquant_lite import interpreters


def _inputs(shape, n=24, seed=1):
    return np.random.default_rng(seed).standard_normal((n,) + shape).astype(np.float32)


@pytest.fixture(scope="module")
def odd():
    model = binarize(odd_shapes_cnn(), dense=True, seed=3)
    return model, _inputs((11, 13, 3))


@pytest.fixture(scope="module")
def exported(odd, tmp_path_factory):
    model, x = odd
    folder = tmp_path_factory.mktemp("export")
    return {f: tflite.export(model, folder / f"{f}.tflite", format=f, calibration=x) for f in tflite.FORMATS}


def _keras(model, x):
    return np.asarray(model(x, training=False))


@pytest.mark.parametrize("fmt", ["float32", "packed"])
def test_float_formats_equal_keras(fmt, odd, exported):
    model, x = odd
    out = interpreters.run(exported[fmt]["path"], x, "litert")
    np.testing.assert_allclose(out, _keras(model, x), rtol=0, atol=1e-5 * np.abs(_keras(model, x)).max())


@pytest.mark.parametrize("fmt", ["int8", "int4", "packed-int8"])
def test_int8_formats_close_to_keras(fmt, odd, exported):
    model, x = odd
    expected, out = _keras(model, x), interpreters.run(exported[fmt]["path"], x, "litert")
    assert np.abs(out - expected).max() <= 0.1 * np.abs(expected).max()
    assert np.mean(out.argmax(1) == expected.argmax(1)) >= 0.9


def test_packed_int8_is_bit_identical_to_int8(odd, exported):
    """Same filters, scales and int32 biases: the packed file computes exactly what the int8 one does."""
    _, x = odd
    plain = interpreters.run(exported["int8"]["path"], x, "litert-noxnnpack")
    packed = interpreters.run(exported["packed-int8"]["path"], x, "litert-noxnnpack")
    np.testing.assert_array_equal(packed, plain)
    assert exported["packed-int8"]["verification"]["max_diff_vs_unpacked"] == 0.0


def test_every_odd_filter_is_packed(exported):
    """Folded batch norm, strides, paddings, (3, 2) kernels, depthwise, 1x1 and weight counts that
    are not multiples of 8 all take 1 bit a weight; the dense layer too in the float format."""
    layers = {l["layer"]: l for l in exported["packed"]["layers"]}
    assert set(layers) == {"conv_bn", "conv_stride", "depthwise", "pointwise", "dense"}
    assert all(l["stored_as"] == "1-bit" and l["bytes"] == (l["weights"] + 7) // 8 for l in layers.values())
    assert any(l["weights"] % 8 for l in layers.values())


def test_per_tensor_int8_dense_packs_too(exported):
    """int8 dense layers are quantized per tensor (for tflite-runtime), so a batch-norm-folded binary
    row c is ±q_c: it packs as signs times q_c, like every filter of the float format."""
    dense = next(l for l in exported["packed-int8"]["layers"] if l["layer"] == "dense")
    assert dense["packed"] and dense["stored_as"] == "1-bit"
    assert exported["packed-int8"]["not_packed"] == []


def test_int4_stores_conv_filters_at_four_bits(exported):
    stored = {l["layer"]: l["stored_as"] for l in exported["int4"]["layers"]}
    assert stored == {"conv_bn": "int4", "conv_stride": "int4", "depthwise": "int4", "pointwise": "int4",
                      "dense": "int8"}


def test_report_sizes_add_up(exported):
    for _, report in exported.items():
        kinds = report["bytes_by_kind"]
        assert sum(kinds.values()) == report["file_bytes"]
        assert report["file_bytes"] == len(open(report["path"], "rb").read())
    assert exported["float32"]["float32_bytes"] == exported["float32"]["file_bytes"]
    packed = exported["packed"]
    assert packed["bytes_by_kind"]["packed_weights"] == sum(l["bytes"] for l in packed["layers"])
    assert 1.0 <= packed["bits_per_packed_weight"] < packed["bits_per_packed_weight_with_scales"]


def test_large_conv_net_reaches_about_one_bit_per_weight(tmp_path):
    import keras
    model = binarize(keras.Sequential([keras.Input((8, 8, 16)), keras.layers.Conv2D(64, 3, use_bias=False),
                                       keras.layers.BatchNormalization(), keras.layers.Conv2D(64, 3)]))
    report = tflite.export(model, tmp_path / "m.tflite", format="packed")
    assert report["bits_per_packed_weight"] <= 1.05
    assert report["ratio_to_float32"] < 1 / 10


@pytest.mark.parametrize("fmt", ["packed", "packed-int8", "int4"])
def test_conv1d(fmt):
    keras.utils.set_random_seed(0)  # the dense layer's initial weights: a fixed model, checked on held-out inputs too
    model = binarize(conv1d_net(), seed=5)
    report = tflite.export(model, None, format=fmt, calibration=_inputs((20, 3), seed=2))
    assert [l["layer"] for l in report["layers"] if l["packed"]] == ["conv1d_a", "conv1d_b"]


def test_non_binary_layers_stay_float_and_strict_refuses():
    model = binarize(odd_shapes_cnn(), seed=4)
    kernel = model.get_layer("pointwise").kernel
    kernel.assign(np.asarray(kernel) * np.linspace(0.5, 1.5, np.prod(kernel.shape)).reshape(kernel.shape))
    report = tflite.export(model, None, format="packed")
    kept = {l["layer"]: l for l in report["layers"] if not l["packed"]}
    assert set(kept) == {"pointwise", "dense"} and kept["pointwise"]["stored_as"] == "float32"
    assert kept["pointwise"]["keras_kernel"] == "not on a grid"
    with pytest.raises(tflite.ExportError, match="strict: 1 conv filter"):
        tflite.export(model, None, format="packed", strict=True)


class TutorialNet(keras.Model):
    """A tutorial-style subclassed model: no keras.Input, built by its first call in fit."""

    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3, use_bias=False)
        self.flat = keras.layers.Flatten()
        self.out = keras.layers.Dense(3)

    def call(self, x):
        return self.out(self.flat(self.conv(x)))


def test_a_subclassed_model_built_by_fit_exports_packed(tmp_path):
    model = TutorialNet()
    model.compile(tfquant.BCAdam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(16, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 16), verbose=0)
    assert not getattr(model, "inputs", None)  # only the shape recorded at build says what the input is
    report = tflite.export(model, tmp_path / "sub.tflite", format="packed")
    assert report["bytes_by_kind"]["packed_weights"] > 0  # the binary conv kernel, at 1 bit per weight
    assert [layer["op"] for layer in report["layers"]] == ["CONV_2D", "FULLY_CONNECTED"]
    assert interpreters.open_session((tmp_path / "sub.tflite").read_bytes(), "litert").input["shape"] == (1, 8, 8, 1)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_mixed_precision_model_exports_packed_computing_in_float32(policy):
    """Trained under a mixed-precision policy, a model traced float16 convs that the converter refused ("'tf.Conv2D'
    op is neither a custom op nor a flex op"). Its variables are float32: the export now converts and verifies it
    computing in float32, and gives each layer its policy back."""
    layers = keras.layers
    model = keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(4, 3, use_bias=False, dtype=policy),
                              layers.BatchNormalization(dtype=policy), layers.ReLU(dtype=policy),
                              layers.GlobalAveragePooling2D(dtype=policy), layers.Dense(4, dtype=policy),
                              layers.Activation("softmax", dtype="float32")])
    model.compile(optimizer=tfquant.BCAdam(1e-2, quantizer=tfquant.ScaledBinary()),
                  loss="sparse_categorical_crossentropy")
    x = _inputs((8, 8, 3), n=16)
    model.fit(x, np.arange(16) % 4, epochs=1, verbose=0)
    report = tflite.export(model, None, format="packed")
    assert [layer.stored_as for layer in report.layers] == ["1-bit", "float32"]
    assert model.layers[0].dtype_policy.name == policy and model.layers[0].compute_dtype != "float32"
    assert report.verification["relative_error"] <= 1e-4


def test_a_normalization_with_the_wrong_number_of_channels_is_refused_before_anything_is_written(tmp_path):
    """normalization=([m]*3, [s]*3) on a 1-channel model was recorded in the stamp, and tfquant-run then refused the
    file ("the normalisation mean has 3 values but the model's input has 1 channels") on every run."""
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten()])
    with pytest.raises(tflite.ExportError, match="mean has 3 values but the model's input has 1 channels"):
        tflite.export(model, tmp_path / "m.tflite", format="float32", normalization=([0.5] * 3, [0.2] * 3))
    assert not (tmp_path / "m.tflite").exists()
    report = tflite.export(model, None, format="float32", normalization=([0.5], 0.2))  # one value per channel
    assert report.metadata["input_normalization"] == {"mean": [0.5], "std": 0.2}


def test_the_report_describes_a_compiled_but_untrained_kernel_by_its_values():
    """Compiled with BCAdam but not trained, the conv kernel is still float: the report said its Keras kernel was
    "binary ±s per layer" next to "weights not ±s per channel" (the declared grid, not yet applied)."""
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="conv"), keras.layers.Flatten()])
    model.compile(optimizer=tfquant.BCAdam(), loss="mse")
    with pytest.warns(tflite.ExportWarning, match="packed nothing"):
        report = tflite.export(model, None, format="packed")
    assert (report.layers[0].keras_kernel, report.layers[0].packed) == ("not on a grid", False)
    lines = []
    [row] = [r for r in tfquant.summary(model, print_fn=lines.append) if r["weight"].endswith("conv/kernel")]
    assert row["quantizer"] == "Binary(delta=1.0)" and row["on_grid"] is False and "not on their grid yet" in lines[0]
    model.optimizer.build(model.trainable_variables)  # rounds the kernel onto the grid
    report = tflite.export(model, None, format="packed")
    assert (report.layers[0].keras_kernel, report.layers[0].packed) == ("binary ±s per layer", True)


def test_an_output_path_that_is_not_a_file_name_and_a_summary_of_no_model_are_refused_clearly():
    """export(model, 5) died in pathlib's TypeError; summary("m.keras") in AttributeError, summary of an unbuilt
    model printed an empty table."""
    from tfquant_lite.files import UnwritableOutput
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(UnwritableOutput, match="not a file name"):
        tflite.export(model, 5, format="float32")
    with pytest.raises(ValueError, match="takes a keras.Model"):
        tfquant.summary("m.keras")
    with pytest.raises(ValueError, match="no weights yet: build it"):
        tfquant.summary(keras.Sequential([keras.layers.Dense(2)]))

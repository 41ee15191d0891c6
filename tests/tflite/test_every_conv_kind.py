"""A stranger's check (issue 18): every Keras conv kind, trained with ScaledBinary (BC) and with Binary under BC, SR
and R, no extra call: each trained kernel lies on the grid per output channel along the kernel table's axes, and
`tfquant.summary` (declared, and detected on a model reloaded with compile=False) and the export report say the
same of each layer."""
import keras
import numpy as np
import pytest

import tfquant
import tfquant.tflite as tflite
from tfquant import grids, kernels

RNG = np.random.default_rng(0)
OPTIMIZERS = {
    "bc-scaled": lambda: tfquant.BCAdam(1e-2, quantizer=tfquant.ScaledBinary(), seed=0),
    "bc": lambda: tfquant.BCAdam(1e-2, quantizer=tfquant.Binary(0.5), seed=0),
    "sr": lambda: tfquant.SRAdam(1e-2, quantizer=tfquant.Binary(0.5), seed=0),
    "r": lambda: tfquant.RAdam(1e-2, quantizer=tfquant.Binary(0.5), seed=0),
}


def net_2d():
    """Conv2D, DepthwiseConv2D (multiplier 2), SeparableConv2D (multiplier 2), Conv2DTranspose, a float head."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv2d")(inputs)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    x = keras.layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same", name="separable")(x)
    x = keras.layers.Conv2DTranspose(3, 3, strides=2, padding="same", name="transposed")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


def net_1d():
    inputs = keras.Input((12, 3))
    x = keras.layers.Conv1D(4, 3, name="conv1d")(inputs)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


def net_3d():
    inputs = keras.Input((5, 5, 5, 2))
    x = keras.layers.Conv3D(4, 3, name="conv3d")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


def trained(make_net, optimizer):
    keras.utils.set_random_seed(0)
    model = make_net()
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = RNG.standard_normal((32, *model.input_shape[1:])).astype("float32")
    model.fit(x, RNG.integers(0, 2, 32), batch_size=16, epochs=1, verbose=0)
    return model, x


def check_on_the_grid(model, method):
    """Every conv kernel: ``s_c * sign(w_r)`` with ``s_c = mean |w_r|`` per output channel (ScaledBinary), or ±0.5."""
    optimizer = model.optimizer
    for layer, name, variable in kernels.model_kernels(model):
        if not kernels.is_conv(layer):
            continue
        axes = kernels.output_channel_axes(layer, name)
        w = np.asarray(variable)
        if method != "bc-scaled":
            assert grids.detect(w, axes) == grids.Grid(grids.BINARY, (0.5,) * int(np.prod(kernels.channel_shape(
                layer, name))), 1, 1, False), (layer.name, name)
            continue
        w_r = np.asarray(optimizer.full_precision(variable))
        scale = np.abs(w_r).mean(axis=kernels.reduction_axes(w.ndim, axes), keepdims=True)
        np.testing.assert_allclose(w, np.where(w_r >= 0, 1, -1) * scale, rtol=1e-6, err_msg=f"{layer.name}/{name}")
        found = grids.detect(w, axes)
        assert found.kind == grids.BINARY and found.per_channel, (layer.name, name, found)


def summary_texts(model):
    """{layer name: {grid text of each of its kernels}} from `tfquant.summary`."""
    out = {}
    for row in tfquant.summary(model, print_fn=lambda _: None):
        if row["grid"] is not None:
            out.setdefault(row["layer"], set()).add(row["grid"].text)
    return out


def check_summary_and_report_agree(model, x, formats, tmp_path):
    declared = summary_texts(model)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    assert summary_texts(loaded) == declared  # detection from the values gives the declared answer
    for fmt in formats:
        # int8 formats: verified on the calibration inputs (the untrained net's int8 error on fresh noise is the
        # converter's business, not the packing's, which is checked bit for bit against the unpacked file)
        int8 = fmt != "packed"
        report = tflite.export(model, None, format=fmt, calibration=x if int8 else None, samples=x if int8 else None)
        for layer in report.layers:
            if layer.layer == "head":
                continue
            assert layer.keras_kernel in declared[layer.layer], (fmt, layer)
            assert layer.packed, (fmt, layer)  # the file agrees: every conv filter is binary per channel


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_every_2d_conv_kind_is_on_the_grid_per_output_channel(method):
    model, _ = trained(net_2d, OPTIMIZERS[method]())
    check_on_the_grid(model, method)


def test_summary_and_the_packed_report_agree_on_every_2d_conv_kind(tmp_path):
    model, x = trained(net_2d, OPTIMIZERS["bc-scaled"]())
    check_summary_and_report_agree(model, x, ["packed"], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("method", OPTIMIZERS)
@pytest.mark.parametrize("make_net", [net_1d, net_3d])
def test_conv1d_and_conv3d_are_on_the_grid_and_reported_alike(make_net, method, tmp_path):
    model, x = trained(make_net, OPTIMIZERS[method]())
    check_on_the_grid(model, method)
    check_summary_and_report_agree(model, x, ["packed"], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("method", OPTIMIZERS)
def test_every_2d_conv_kind_in_every_packing_format(method, tmp_path):
    model, x = trained(net_2d, OPTIMIZERS[method]())
    check_summary_and_report_agree(model, x, ["packed", "packed-int8"], tmp_path)


def test_the_issue_example_gets_one_answer_from_summary_and_the_report():
    """A conv whose channels hold {±0.1, ±0.2} and {±0.15, ±0.3}: summary said "full precision", the export report
    "3-bit grid" (issue 18). Both now read one detector."""
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs))
    j = RNG.integers(1, 3, (3, 3, 2, 2)) * np.where(RNG.standard_normal((3, 3, 2, 2)) < 0, -1, 1)
    j[0, 0, 0] = [2, 2]
    j[0, 0, 1] = [1, 1]
    model.get_layer("conv").kernel.assign((j * np.array([0.1, 0.15])).astype("float32"))
    [row] = [r for r in tfquant.summary(model, print_fn=lambda _: None) if r["weight"].endswith("conv/kernel")]
    report = tflite.export(model, None, format="packed")
    assert row["quantizer"] == report.layers[0].keras_kernel == "3-bit grid (|j| <= 2) per channel"
    assert row["bits"] == 3 and not report.layers[0].packed  # a 3-bit grid is not binary: pack leaves it

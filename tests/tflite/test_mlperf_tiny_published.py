"""The Keras 3 ports of the MLPerf Tiny reference nets (benchmarks/mlperf_tiny_published.py) against the
published code (mlcommons/tiny at 1afd2c9820f795965a6134facd0b4dfae41ef23f, benchmark/training/), counted by
hand from that code: parameter totals, the layer list, input and output shapes. No training.

Counts (conv: kh*kw*cin*cout + cout bias; depthwise: kh*kw*c + c; dense: in*out + out; batch norm: 4 per
channel, 2 of them trainable):

ResNet-8 (keras_model.py, resnet_v1_eembc(conv_filters=26)):
  conv 3x3x3x26 + 26 = 728; stack 1: 2 x (3x3x26x26 + 26) = 2 x 6,110; stack 2: 3x3x26x52 + 52 = 12,220,
  3x3x52x52 + 52 = 24,388, 1x1x26x52 + 52 = 1,404; stack 3: 3x3x52x104 + 104 = 48,776,
  3x3x104x104 + 104 = 97,448, 1x1x52x104 + 104 = 5,512; dense 104x10 + 10 = 1,050  -> 203,746;
  7 batch norms over 26+26+26+52+52+104+104 = 390 channels -> 1,560;  total 205,306, 780 non-trainable.
DS-CNN (keras_model.py, get_model ds_cnn, 49x10x1):
  conv 10x4x1x64 + 64 = 2,624; 4 x (depthwise 3x3x64 + 64 = 640, pointwise 64x64 + 64 = 4,160);
  dense 64x12 + 12 = 780; 9 batch norms of 64 -> 2,304;  total 2,624 + 4 x 4,800 + 780 + 2,304 = 24,908,
  1,152 non-trainable.
MobileNetV1 0.25 (vww_model.py, mobilenet_v1):
  conv 3x3x3x8 + 8 = 224 + BN 32; each of the 13 blocks cin -> cout: depthwise 10 cin + BN 4 cin +
  pointwise cin cout + cout + BN 4 cout = 14 cin + cin cout + 5 cout: 8->16 320, 16->32 896, 32->32 1,632,
  32->64 2,816, 64->64 5,312, 64->128 9,728, 5 x 128->128 18,816, 128->256 35,840, 256->256 70,400
  (sum 221,024); dense 256x2 + 2 = 514;  total 221,794; batch-norm channels: 8, the blocks' cin
  (8+16+32+32+64+64+6x128+256 = 1,240) and cout (16+32+32+64+64+128+5x128+256+256 = 1,488): 2,736,
  non-trainable 2 x 2,736 = 5,472.
Autoencoder (keras_model.py, get_model(640)):
  640x128 + 128 = 82,048; 3 x (128x128 + 128) = 49,536; 128x8 + 8 = 1,032; 8x128 + 128 = 1,152;
  3 x 16,512 = 49,536; 128x640 + 640 = 82,560 -> 265,864; 8 BN of 128 + 1 of 8 -> 4,128;
  total 269,992, 2,064 non-trainable.
"""
import keras
import pytest

from benchmarks import mlperf_tiny_published as published

TOTALS = {"ic_resnet8": (205_306, 780), "kws_ds_cnn": (24_908, 1_152), "vww_mobilenet": (221_794, 5_472),
          "ad_autoencoder": (269_992, 2_064)}
SHAPES = {"ic_resnet8": ((32, 32, 3), (10,)), "kws_ds_cnn": ((49, 10, 1), (12,)),
          "vww_mobilenet": ((96, 96, 3), (2,)), "ad_autoencoder": ((640,), (640,))}


def conv(filters, kernel, strides=1, l2=1e-4, init="HeNormal"):
    return ("Conv2D", filters, kernel, strides, "same", True, "linear", l2, init)


def depthwise(strides=1):  # Keras 2 ignores kernel_* on DepthwiseConv2D: glorot-uniform, no regularizer
    return ("DepthwiseConv2D", 1, 3, strides, "same", True, "linear", None, "GlorotUniform")


BN, RELU = ("BatchNormalization",), ("Activation", "relu")


def resnet_layers():
    """The published code's layers, in the order it creates them."""
    layers = [("InputLayer",), conv(26, 3), BN, RELU]
    for filters, strides in ((26, 1), (52, 2), (104, 2)):
        layers += [conv(filters, 3, strides), BN, RELU, conv(filters, 3), BN]
        layers += [conv(filters, 1, strides)] if strides == 2 else []
        layers += [("Add",), RELU]
    return layers + [("AveragePooling2D", 8), ("Flatten",), ("Dense", 10, "softmax", True, "HeNormal")]


def ds_cnn_layers():
    layers = [("InputLayer",), conv(64, (10, 4), 2, init="GlorotUniform"), BN, RELU, ("Dropout", 0.2)]
    for _ in range(4):
        layers += [depthwise(), BN, RELU, conv(64, 1, init="GlorotUniform"), BN, RELU]
    return layers + [("Dropout", 0.4), ("AveragePooling2D", (24, 5)), ("Flatten",),
                     ("Dense", 12, "softmax", True, "GlorotUniform")]


def mobilenet_layers():
    layers = [("InputLayer",), conv(8, 3, 2), BN, RELU]
    blocks = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2)] + [(128, 1)] * 5 + [(256, 2), (256, 1)]
    for filters, strides in blocks:
        layers += [depthwise(strides), BN, RELU, conv(filters, 1), BN, RELU]
    return layers + [("AveragePooling2D", 3), ("Flatten",), ("Dense", 2, "softmax", True, "GlorotUniform")]


def autoencoder_layers():
    layers = [("InputLayer",)]
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        layers += [("Dense", units, "linear", True, "GlorotUniform"), BN, RELU]
    return layers + [("Dense", 640, "linear", True, "GlorotUniform")]


EXPECTED = {"ic_resnet8": resnet_layers, "kws_ds_cnn": ds_cnn_layers, "vww_mobilenet": mobilenet_layers,
            "ad_autoencoder": autoencoder_layers}


def _pair(value):
    value = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    return value


def describe(layer):
    """A layer as the tuples above: class and the settings the published code chooses."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind in ("Conv2D", "DepthwiseConv2D"):
        regularizer = config.get("kernel_regularizer") or config.get("depthwise_regularizer")
        initializer = config.get("kernel_initializer") or config.get("depthwise_initializer")
        size = config.get("filters") or config["depth_multiplier"]
        return (kind, size, config["kernel_size"], config["strides"], config["padding"], config["use_bias"],
                config["activation"], regularizer and regularizer["config"]["l2"], initializer["class_name"])
    if kind == "Dense":
        return (kind, config["units"], config["activation"], config["use_bias"],
                config["kernel_initializer"]["class_name"])
    if kind == "Activation":
        return (kind, config["activation"])
    if kind == "Dropout":
        return (kind, config["rate"])
    if kind == "AveragePooling2D":
        return (kind, _pair(config["pool_size"]))
    return (kind,)


def normalise(entry):
    """Expand the short forms of the expected tuples (ints for square kernels, strides and pools)."""
    if entry[0] in ("Conv2D", "DepthwiseConv2D"):
        return entry[:2] + (_pair(entry[2]), _pair(entry[3])) + entry[4:]
    if entry[0] == "AveragePooling2D":
        return (entry[0], _pair(entry[1]))
    return entry


@pytest.mark.parametrize("name", published.NAMES)
def test_port_has_the_published_parameter_count_layers_and_shapes(name):
    keras.backend.clear_session()
    model = published.BUILDERS[name]()
    total, frozen = TOTALS[name]
    assert model.count_params() == total
    assert sum(int(w.numpy().size) for w in model.non_trainable_weights) == frozen
    expected = [normalise(entry) for entry in EXPECTED[name]()]
    got = [describe(layer) for layer in model.layers]
    # Keras orders a functional model's layers by graph depth, not creation: ResNet's 1x1 projection
    # shortcut comes before the batch norm it is created after. Compare as ordered lists per branch-free
    # net, and as multisets plus the graph for ResNet.
    if name == "ic_resnet8":
        assert sorted(map(repr, got)) == sorted(map(repr, expected))
        adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
        shortcuts = [[type(t._keras_history[0]).__name__ for t in add.input] for add in adds]
        assert shortcuts == [["Activation", "BatchNormalization"], ["Conv2D", "BatchNormalization"],
                             ["Conv2D", "BatchNormalization"]]
    else:
        assert got == expected
    assert tuple(model.input_shape[1:]) == SHAPES[name][0]
    assert tuple(model.output_shape[1:]) == SHAPES[name][1]


def test_resnet_v1_filters_are_a_parameter_as_published():
    """conv_filters=16 builds the MLPerf Tiny v0.5 width: 3x3x3x16+16 = 448, 2 x 2,320, 4,640 + 9,248 +
    544, 18,496 + 36,928 + 2,112, 650 -> 77,706 + BN 4 x 240 = 78,666."""
    assert published.resnet_v1_eembc(conv_filters=16).count_params() == 78_666

"""tfquant.summary: grids from the optimizer or, on a deployment model (compile=False), from the values."""

import keras
import numpy as np

import tfquant
from tests.conftest import compile_model, small_cnn
from tfquant import grids, quantizers


def test_summary_detects_grids_from_the_values_of_a_model_loaded_without_compiling(tmp_path):
    keras.utils.set_random_seed(0)
    model = small_cnn()
    optimizer = tfquant.BCAdam(quantize={"conv1/kernel": tfquant.Binary(0.5),
                                         "conv2/kernel": tfquant.Uniform(0.1, bits=3)})
    optimizer.build(model.trainable_variables)  # rounds the two kernels onto their grids
    compile_model(model, optimizer).save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", compile=False)
    lines = []
    table = {"/".join(r["weight"].split("/")[-2:]): r for r in tfquant.summary(loaded, print_fn=lines.append)}
    assert table["conv1/kernel"]["quantizer"] == "Binary(delta=0.5)" and table["conv1/kernel"]["bits"] == 1
    assert table["conv1/kernel"]["source"] == "values"
    conv2 = quantizers.from_grid(grids.detect(np.asarray(loaded.get_layer("conv2").kernel), (3,)), (3,))
    assert isinstance(conv2, tfquant.Uniform) and conv2.bits in (2, 3) and abs(conv2.delta - 0.1) < 1e-6
    assert table["conv2/kernel"]["quantizer"] == repr(conv2)
    assert table["dense/kernel"]["bits"] == 32 and table["bn1/gamma"]["bits"] == 32
    text = lines[0]
    assert "# 1-bit" in text and "# k-bit" in text and "# 32-bit" in text
    conv1_line = next(line for line in text.splitlines() if line.startswith("conv1 "))
    assert conv1_line.split()[1:4] == ["54", "0", "6"]  # 3*3*1*6 kernel entries at 1 bit, 6 biases at 32


def detect(w, axes=(3,)):
    return quantizers.from_grid(grids.detect(w, axes), axes)


def test_detect_each_grid_and_refuse_the_rest():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3, 2, 4)).astype("float32")
    assert detect(np.where(w > 0, 0.3, -0.3)) == tfquant.Binary(0.3)
    scales = np.array([0.1, 0.173, 0.29, 0.41])
    assert detect(np.where(w > 0, 1, -1) * scales) == tfquant.ScaledBinary((3,))
    assert detect(np.where(w > 0, 1, -1) * scales, None) is None  # without the channel axes: no per-layer grid
    assert detect(np.where(w > 0, 1, -1) * np.array([0.1, 0.2, 0.3, 0.4]), None) == tfquant.Uniform(0.1, bits=4)
    ternary = np.round(np.clip(w, -1, 1)) * 0.05
    assert detect(ternary) == tfquant.Uniform(0.05, bits=2)
    assert detect(w) is None
    assert grids.detect(np.zeros(5)) is None
    assert grids.detect(np.arange(-300, 301) * 0.01) is None  # 601 levels: more than 8 bits

"""The paper's networks: parameter counts against appendix H.1, 28x28x1 inputs, tfquant's conv selection."""

import keras
import numpy as np
import pytest

import tfquant
from tfquant import models


@pytest.mark.parametrize("name", sorted(models.PAPER_COUNTS))
def test_parameter_counts_match_the_appendix(name):
    """Our counts have no conv bias before batch norm; they must agree within one unit of the last digit shown."""
    conv, dense = models.parameter_counts(models.build(name, *models.paper_input(name)))
    for ours, paper in zip((conv, dense), models.PAPER_COUNTS[name]):
        last_digit = 10.0 ** -len(paper.split(".")[1])
        assert abs(ours / 1e6 - float(paper)) < last_digit, (ours, paper)


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_runs_on_fashion_mnist_shapes(name):
    model = models.build(name, (28, 28, 1), 10)
    out = model(np.zeros((2, 28, 28, 1), np.float32), training=False)
    assert out.shape == (2, 10)
    np.testing.assert_allclose(np.sum(np.array(out), axis=1), 1.0, rtol=1e-5)


def test_default_rule_quantizes_exactly_the_conv_kernels():
    model = models.resnet56((28, 28, 1), 10)
    optimizer = tfquant.BCAdam()
    optimizer.build(model.trainable_variables)
    conv_kernels = {l.kernel.path for l in model.layers if isinstance(l, keras.layers.Conv2D)}
    chosen = {v.path for v in model.trainable_variables if optimizer.quantizer_for(v) is not None}
    assert chosen == conv_kernels and len(chosen) == 55


def test_rademacher_initialised_model_round_trips_through_keras_file(tmp_path):
    init = tfquant.initializers.Rademacher(scale=1.0, seed=3)
    model = models.resnet56((28, 28, 1), 10, conv_initializer=init)
    kernel = np.array(model.get_layer("s2b1_conv1").kernel)
    assert set(np.unique(kernel)) == {-1.0, 1.0}
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(np.array(loaded(x)), np.array(model(x)), rtol=1e-5, atol=1e-6)


def test_unknown_model_and_bad_width_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'vgg10'.*vgg9"):
        models.build("vgg10", (28, 28, 1), 10)
    with pytest.raises(ValueError, match="--width applies to vgg9 and vgg_bc only"):
        models.build("resnet56", (28, 28, 1), 10, width=0.5)

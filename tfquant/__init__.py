"""tfquant: train Keras 3 networks with binary or low-bit weights by R, SR and BC (Li et al., NeurIPS 2017).

    import keras, tfquant
    model.compile(optimizer=tfquant.BCAdam(learning_rate=1e-2), loss=..., metrics=[...])

``import tfquant`` imports Keras and registers tfquant's optimizers, quantizers and initializers with it, so
``keras.models.load_model`` finds them (TensorFlow's start-up banners are dropped while Keras loads,
`native_logs`; everything else it writes is shown). The TensorFlow-free device core (checking, expanding and
running exported files, ``tfquant-run``) is the separate package `tfquant_lite`, which imports neither
tfquant nor Keras.
"""

from tfquant.native_logs import TENSORFLOW_BANNERS, quiet_native_logs

with quiet_native_logs(drop=TENSORFLOW_BANNERS):
    import keras  # noqa: F401  (the backend loads here)

from tfquant import callbacks, grids, initializers, kernels, layers, quantizers, recipes, selection  # noqa: E402
from tfquant.optimizers import (  # noqa: E402
    BCSGD,
    RSGD,
    SRSGD,
    BCAdam,
    QuantizedOptimizer,
    RAdam,
    SRAdam,
    quantized,
)
from tfquant.quantizers import Binary, ScaledBinary, Uniform  # noqa: E402
from tfquant.selection import quantize_weights  # noqa: E402
from tfquant.summary import summary  # noqa: E402

__version__ = "0.1.0"

__all__ = ["BCAdam", "SRAdam", "RAdam", "BCSGD", "SRSGD", "RSGD", "QuantizedOptimizer", "quantized", "Binary",
           "Uniform", "ScaledBinary", "quantize_weights", "summary", "register", "callbacks", "grids",
           "initializers", "kernels", "layers", "quantizers", "recipes", "selection"]


def register():
    """Nothing left to do: ``import tfquant`` registers tfquant's Keras classes. Kept for code that calls it."""

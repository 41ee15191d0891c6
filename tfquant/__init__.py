"""tfquant: train Keras 3 networks with binary or low-bit weights by R, SR and BC (Li et al., NeurIPS 2017).

    model.compile(optimizer=tfquant.BCAdam(learning_rate=1e-2), loss=..., metrics=[...])
"""

from tfquant import callbacks, initializers, layers, quantizers, selection
from tfquant.selection import quantize_weights
from tfquant.optimizers import (
    BCSGD,
    RSGD,
    SRSGD,
    BCAdam,
    QuantizedOptimizer,
    RAdam,
    SRAdam,
    quantized,
)
from tfquant.quantizers import Binary, ScaledBinary, Uniform
from tfquant.summary import summary

__version__ = "0.1.0"

__all__ = [
    "BCAdam", "SRAdam", "RAdam", "BCSGD", "SRSGD", "RSGD", "QuantizedOptimizer", "quantized",
    "Binary", "Uniform", "ScaledBinary", "quantize_weights", "summary",
    "callbacks", "initializers", "layers", "quantizers", "selection",
]

"""The training plots now live in the package (`tfquant.cli.plots`); this name is kept for the experiments."""

from tfquant.cli.plots import errors, layer_series, per_layer

__all__ = ["errors", "layer_series", "per_layer"]

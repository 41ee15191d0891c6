"""Initializers for quantized weights."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfquant")
class Rademacher(keras.initializers.Initializer):
    """Independent random signs times `scale`: ``w = scale * s``, ``P(s = +1) = P(s = -1) = 1/2``.

    The paper initialises SR and R binary conv kernels this way (already on the grid {-Delta, +Delta}
    with ``scale = Delta``).
    """

    def __init__(self, scale=1.0, seed=None):
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
            raise ValueError(f"`scale` must be a positive finite number (the grid step Delta), got scale={scale!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` must be an int or None, got seed={seed!r}.")
        self.scale = float(scale)
        self.seed = seed
        self._generator = keras.random.SeedGenerator(seed) if seed is not None else None

    def __call__(self, shape, dtype=None):
        dtype = dtype or keras.config.floatx()
        noise = keras.random.uniform(shape, seed=self._generator)
        return ops.cast(ops.where(noise < 0.5, -self.scale, self.scale), dtype)

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}

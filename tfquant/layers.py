"""Deprecated alias of `tfquant.selection` (which variables are quantized); kept so old imports work."""

from tfquant.selection import *  # noqa: F401,F403
from tfquant.selection import TAG, check_rule, is_conv_kernel, quantize_weights, resolve  # noqa: F401

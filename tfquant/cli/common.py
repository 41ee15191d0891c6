"""The error discipline of tfquant's command-line tools (from `tfquant_lite.cli_common`), and native-log quieting.

The discipline (exit status, one-line ``error:`` messages, the argparse types, `run`) is
`tfquant_lite.cli_common`, which `tfquant-run` uses alone; its names are re-exported here for
``tfquant-train`` and ``tfquant-export``, with `quiet_native_logs` (`tfquant.native_logs`), which drops
LiteRT's INFO lines during an export; TensorFlow's start-up banners are dropped by ``import tfquant``.
"""

from tfquant.native_logs import NATIVE_INFO, TENSORFLOW_BANNERS, quiet_native_logs
from tfquant_lite.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ArgumentParser,
    BadInput,
    CheckFailed,
    add_common_arguments,
    bounded_int,
    check_outputs,
    error,
    existing_file,
    finite_float,
    non_negative_float,
    non_negative_int,
    normalization_mean,
    normalization_std,
    output_dir,
    output_file,
    positive_float,
    positive_int,
    quiet,
    run,
)

__all__ = ["EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_BAD_INPUT", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "ArgumentParser",
           "BadInput", "CheckFailed", "add_common_arguments", "bounded_int", "check_outputs", "error",
           "existing_file", "finite_float", "non_negative_float", "non_negative_int", "normalization_mean",
           "normalization_std", "output_dir", "output_file", "positive_float", "positive_int", "quiet", "run",
           "NATIVE_INFO", "TENSORFLOW_BANNERS", "quiet_native_logs"]

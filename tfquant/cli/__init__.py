"""The command-line tools behind the console scripts ``tfquant-train``, ``tfquant-export`` and ``tfquant-run``.

Every tool follows `tfquant_lite.cli_common` (re-exported by `tfquant.cli.common`): arguments and paths are
checked before any heavy import or work, errors are one line ``error: <what> (<how to fix>)``, and the exit
status means the same everywhere.
"""

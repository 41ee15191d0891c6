"""Train one of the paper's networks: ``python training/train.py --help`` (the same tool as ``tfquant-train``)."""

from tfquant.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())

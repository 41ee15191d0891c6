"""tfquant-train: train one of the paper's networks with Adam/SGD or their R, SR and BC quantized versions.

    tfquant-train --model vgg9 --dataset cifar10 --method bc --out runs/vgg9-bc
    tfquant-train --model vgg9 --width 0.25 --dataset fashion_mnist --method sr --epochs 8 --train-subset 12000

(``python training/train.py ...`` is the same tool.) Paper defaults (section 6, appendix H): Adam, learning
rate 0.01 divided by 10 at epochs 82 and 122 of 160 (CIFAR; ImageNet: 90 epochs, drops at 30 and 60), batch
128, no weight decay, only conv kernels quantized (binary {-1, +1} unless --quantizer says otherwise), and
SR/R conv kernels initialised with Rademacher +-delta. A run of E epochs gets the same schedule scaled to E
("proportional"): drops at round(82/160 E) and round(122/160 E). ``--recipe binary-adam`` trains BC-Adam by
`tfquant.recipes.binary_adam` (first conv in full precision, cosine schedule with warm-up).

The command line only builds a `TrainConfig` (tfquant/cli/train_config.py), the training API:
``train(TrainConfig(model="small_cnn", dataset="fashion_mnist", recipe="binary-adam", epochs=5))``.

Writes into --out (default runs/train/MODEL-DATASET-METHOD): ``history.json`` (per epoch: learning rate,
train/test loss and error in %, and for every quantized kernel the % of weights changed since the start and
in the last --window epochs, and BC's mean |Q(w_r) - w_r|), ``model.keras`` (the trained model, optimizer
state included), ``errors.png`` and ``weight_changes.png``. After every epoch it commits a checkpoint
(`tfquant.cli.run_state`); rerunning the same command continues from the last finished epoch and gives
the same result as an uninterrupted run, whenever the first one was killed.
"""

import argparse

from tfquant.cli import common
from tfquant.cli import train_config as settings
from tfquant.cli.train_config import TrainConfig

__all__ = ["DATASETS", "METHODS", "MODELS", "TrainConfig", "build_parser", "config_from_args", "main",
           "parse_args", "train"]
MODELS, DATASETS, METHODS = settings.MODELS, settings.DATASETS, settings.METHODS


def schedule(text):
    """argparse type of --schedule: 'proportional', 'none', 'cosine', or increasing epochs like '82,122'."""
    try:
        return settings.check_schedule(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def grid_bits(text):
    """argparse type of --bits: an integer >= 2 (2 is ternary)."""
    bits = common.positive_int(text)
    if bits < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a uniform grid needs at least 2 bits (2 is ternary)")
    return bits


def build_parser():
    p = common.ArgumentParser(prog="tfquant-train", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="vgg9", choices=MODELS, help="the network (tfquant.models)")
    p.add_argument("--width", type=common.positive_float, default=None,
                   help=f"width multiplier ({', '.join(settings.WIDTH_MODELS)} only; default: the paper's 1.0)")
    p.add_argument("--dataset", default="cifar10", choices=DATASETS, help="the data (tfquant.data)")
    p.add_argument("--method", default="bc", choices=METHODS,
                   help="adam: full precision; r, sr, bc: the paper's quantized training methods")
    p.add_argument("--optimizer", default="adam", choices=settings.OPTIMIZERS,
                   help="base optimizer (sgd: momentum 0.9)")
    p.add_argument("--quantizer", default="binary", choices=settings.QUANTIZERS,
                   help="binary: {-delta, +delta}; uniform: grid of step delta (--bits levels or unbounded); "
                        "scaled_binary: per-filter scale (BC only)")
    p.add_argument("--bits", type=grid_bits, default=None,
                   help="bits of the uniform grid (2 = ternary; default: unbounded)")
    p.add_argument("--delta", type=common.positive_float, default=1.0, help="quantization step")
    p.add_argument("--rounding", default="deterministic", choices=settings.ROUNDINGS,
                   help="BC's rounding of the full-precision buffer")
    p.add_argument("--no-clip", dest="clip", action="store_false",
                   help="BC without its clip of the full-precision weights to the grid's range (eq. 7 as printed)")
    p.add_argument("--recipe", default=None, choices=settings.RECIPES,
                   help="binary-adam: tfquant.recipes.binary_adam (BC-Adam, every conv kernel binary but the "
                        "first conv's, --schedule cosine; docs/RESULTS.md, '1-bit recipes')")
    p.add_argument("--batch-size", type=common.positive_int, default=128, help="images per step")
    p.add_argument("--epochs", type=common.positive_int, default=None, help="default: 160 (90 for imagenet)")
    p.add_argument("--lr", type=common.positive_float, default=0.01, help="initial (peak, for cosine) learning rate")
    p.add_argument("--schedule", type=schedule, default=None,
                   help="'proportional' (the paper's drops scaled to --epochs), 'none', epochs like '82,122', or "
                        "'cosine' (10%% linear warm-up, then cosine decay to 0); default: proportional "
                        "(cosine with --recipe)")
    p.add_argument("--weight-decay", type=common.non_negative_float, default=0.0,
                   help="L2 penalty (wd/2)|w|^2 on conv and dense kernels, added to the loss (Fig. 7)")
    p.add_argument("--full-precision-l2", type=common.non_negative_float, default=0.0,
                   help="BC only: add c*w_r to the gradient of the full-precision weights (Torch's weight decay, "
                        "as the paper's Fig. 7 ran it)")
    p.add_argument("--seed", type=common.non_negative_int, default=0, help="seeds weights, batches and SR")
    p.add_argument("--train-subset", type=common.positive_int, default=None,
                   help="train on a fixed random subset of N images (default: all)")
    p.add_argument("--window", type=common.positive_int, default=1,
                   help="epochs for the changed_in_window weight-flip %%")
    p.add_argument("--out", type=common.output_dir, default=None,
                   help="output folder; resumes the run it holds (default: runs/train/MODEL-DATASET-METHOD)")
    p.add_argument("--progress", default="bars", choices=settings.PROGRESS,
                   help="bars: a progress bar per epoch; epochs: one line per epoch; none: quiet")
    return common.add_common_arguments(p)


def config_from_args(args):
    """The `TrainConfig` of parsed arguments (raises `BadInput` for settings that do not go together)."""
    return TrainConfig(**{name: getattr(args, name) for name in settings.field_names()})


def parse_args(argv=None):
    """The checked `TrainConfig` of command line `argv`."""
    return config_from_args(build_parser().parse_args(argv))


def train(config):
    """Train (or resume) the run `config` describes; returns the history (a list of per-epoch dicts)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"train() takes a TrainConfig, not {type(config).__name__} "
                        "(build one with TrainConfig(...) or tfquant.cli.train.parse_args(argv))")
    from tfquant.cli import training

    return training.train(config)


def _main(args):
    config = config_from_args(args)
    history = train(config)
    last = history[-1]
    print(f"final: train error {last['train_error']:.2f}%  test error {last['test_error']:.2f}%  ({config.out})")


def main(argv=None):
    """Entry point of ``tfquant-train``; returns the exit status (see `tfquant.cli.common`)."""
    return common.run(_main, build_parser(), argv)

"""tfquant-train: train one of the paper's networks with Adam/SGD or their R, SR and BC quantized versions.

    tfquant-train --model vgg9 --dataset cifar10 --method bc --out runs/vgg9-bc
    tfquant-train --model vgg9 --width 0.25 --dataset fashion_mnist --method sr --epochs 8 --train-subset 12000

(``python training/train.py ...`` is the same tool.) Paper defaults (section 6, appendix H): Adam, learning
rate 0.01 divided by 10 at epochs 82 and 122 of 160 (CIFAR; ImageNet: 90 epochs, drops at 30 and 60), batch
128, no weight decay, only conv kernels quantized (binary {-1, +1} unless --quantizer says otherwise), and
SR/R conv kernels initialised with Rademacher +-delta. A run of E epochs gets the same schedule scaled to E
("proportional"): drops at round(82/160 E) and round(122/160 E).

Writes into --out (default runs/train/MODEL-DATASET-METHOD): ``history.json`` (per epoch: learning rate,
train/test loss and error in %, and for every quantized kernel the % of weights changed since the start and
in the last --window epochs, and BC's mean |Q(w_r) - w_r|), ``model.keras`` (the trained model, optimizer
state included), ``errors.png`` and ``weight_changes.png``. After every epoch it commits a checkpoint
(`tfquant.cli.run_state`); rerunning the same command continues from the last finished epoch and gives
the same result as an uninterrupted run, whenever the first one was killed.
"""

import argparse
from pathlib import Path

from tfquant.cli import common

# The names of tfquant.models.MODELS and tfquant.data.DATASETS (tests keep them equal): listed here so that
# --help and argument errors answer before the zoo and the data pipelines are imported.
MODELS = ("vgg9", "vgg_bc", "resnet56", "wrn56_2", "resnet18", "small_cnn")
WIDTH_MODELS = ("vgg9", "vgg_bc")
DATASETS = ("fashion_mnist", "cifar10", "cifar100", "imagenet")
METHODS = ("adam", "bc", "sr", "r")
PAPER_SCHEDULES = {"imagenet": (90, (30, 60))}  # (epochs, drop epochs); CIFAR's is the default
CIFAR_SCHEDULE = (160, (82, 122))


def schedule(text):
    """argparse type of --schedule: 'proportional', 'none', or increasing epochs like '82,122'."""
    if text in ("proportional", "none"):
        return text
    try:
        epochs = [int(e) for e in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'proportional', 'none' or comma-separated epochs like 82,122") from None
    if any(e < 1 for e in epochs) or epochs != sorted(set(epochs)):
        raise argparse.ArgumentTypeError(f"{text!r}: the drop epochs must be positive and increasing")
    return text


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
                   help=f"width multiplier ({', '.join(WIDTH_MODELS)} only; default: the paper's 1.0)")
    p.add_argument("--dataset", default="cifar10", choices=DATASETS, help="the data (tfquant.data)")
    p.add_argument("--method", default="bc", choices=METHODS,
                   help="adam: full precision; r, sr, bc: the paper's quantized training methods")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"),
                   help="base optimizer (sgd: momentum 0.9)")
    p.add_argument("--quantizer", default="binary", choices=("binary", "uniform", "scaled_binary"),
                   help="binary: {-delta, +delta}; uniform: grid of step delta (--bits levels or unbounded); "
                        "scaled_binary: per-filter scale (BC only)")
    p.add_argument("--bits", type=grid_bits, default=None,
                   help="bits of the uniform grid (2 = ternary; default: unbounded)")
    p.add_argument("--delta", type=common.positive_float, default=1.0, help="quantization step")
    p.add_argument("--rounding", default="deterministic", choices=("deterministic", "stochastic"),
                   help="BC's rounding of the full-precision buffer")
    p.add_argument("--batch-size", type=common.positive_int, default=128, help="images per step")
    p.add_argument("--epochs", type=common.positive_int, default=None, help="default: 160 (90 for imagenet)")
    p.add_argument("--lr", type=common.positive_float, default=0.01, help="initial learning rate")
    p.add_argument("--schedule", type=schedule, default="proportional",
                   help="'proportional' (the paper's drops scaled to --epochs), 'none', or epochs like '82,122'")
    p.add_argument("--weight-decay", type=common.non_negative_float, default=0.0,
                   help="L2 penalty (wd/2)|w|^2 on conv and dense kernels, added to the loss (Fig. 7)")
    p.add_argument("--seed", type=common.non_negative_int, default=0, help="seeds weights, batches and SR")
    p.add_argument("--train-subset", type=common.positive_int, default=None,
                   help="train on a fixed random subset of N images (default: all)")
    p.add_argument("--window", type=common.positive_int, default=1,
                   help="epochs for the changed_in_window weight-flip %%")
    p.add_argument("--out", type=common.output_dir, default=None,
                   help="output folder; resumes the run it holds (default: runs/train/MODEL-DATASET-METHOD)")
    p.add_argument("--progress", default="bars", choices=("bars", "epochs", "none"),
                   help="bars: a progress bar per epoch; epochs: one line per epoch; none: quiet")
    return common.add_common_arguments(p)


def check(args):
    """Settings that argparse cannot check one by one; fills in the defaults that depend on others."""
    if args.width is not None and args.model not in WIDTH_MODELS:
        raise common.BadInput(f"--width applies to {' and '.join(WIDTH_MODELS)} only, not {args.model} "
                              "(drop --width)")
    if args.quantizer == "scaled_binary" and args.method != "bc":
        raise common.BadInput("--quantizer scaled_binary works with --method bc only")
    if args.bits is not None and args.quantizer != "uniform":
        raise common.BadInput("--bits needs --quantizer uniform")
    if args.rounding == "stochastic" and args.method != "bc":
        raise common.BadInput("--rounding applies to --method bc only (SR always rounds stochastically, "
                              "R deterministically)")
    if args.method == "adam" and (args.quantizer != "binary" or args.bits is not None or args.delta != 1.0):
        raise common.BadInput("--method adam trains in full precision: drop --quantizer/--bits/--delta, "
                              "or choose --method bc, sr or r")
    if args.train_subset is not None and args.dataset == "imagenet":
        raise common.BadInput("--train-subset is not supported for imagenet (drop it)")
    if args.epochs is None:
        args.epochs = PAPER_SCHEDULES.get(args.dataset, CIFAR_SCHEDULE)[0]
    if args.out is None:
        args.out = common.output_dir(str(Path("runs") / "train" / f"{args.model}-{args.dataset}-{args.method}"))
    drops = drop_epochs(args)
    if drops and drops[-1] >= args.epochs:
        raise common.BadInput(f"--schedule {args.schedule}: every drop must come before the last epoch "
                              f"(--epochs {args.epochs})")
    return args


def drop_epochs(args):
    """Epochs after which the learning rate is divided by 10."""
    if args.schedule == "none":
        return []
    if args.schedule == "proportional":
        total, drops = PAPER_SCHEDULES.get(args.dataset, CIFAR_SCHEDULE)
        scaled = (round(d * args.epochs / total) for d in drops)
        return sorted({max(1, d) for d in scaled if d < args.epochs})
    return [int(e) for e in args.schedule.split(",")]


def parse_args(argv=None):
    """The checked settings of `argv` (for callers that train in-process, like the main job)."""
    return check(build_parser().parse_args(argv))


def config(args):
    """The settings a resumed run must share with the run it continues."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if k not in ("progress", "verbose", "debug")}


def train(args):
    """Train (or resume) as `args` say; returns the history (a list of per-epoch dicts)."""
    from tfquant.cli import training

    return training.train(args, drop_epochs(args), config(args))


def _main(args):
    history = train(check(args))
    last = history[-1]
    print(f"final: train error {last['train_error']:.2f}%  test error {last['test_error']:.2f}%  ({args.out})")


def main(argv=None):
    """Entry point of ``tfquant-train``; returns the exit status (see `tfquant.cli.common`)."""
    return common.run(_main, build_parser(), argv)

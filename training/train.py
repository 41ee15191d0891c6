"""Train one of the paper's networks with ADAM/SGD or their R, SR and BC quantized versions (tfquant).

    python training/train.py --model vgg9 --dataset cifar10 --method bc --out runs/vgg9-bc
    python -m training.train --model vgg9 --width 0.25 --dataset fashion_mnist --method sr \\
        --epochs 8 --train-subset 12000 --out runs/fm-sr

Paper defaults (section 6, appendix H): Adam, learning rate 0.01 divided by 10 at epochs 82 and 122 of 160
(CIFAR; ImageNet: 90 epochs, drops at 30 and 60), batch 128, no weight decay, only conv kernels quantized
(binary {-1, +1} unless --quantizer says otherwise), and SR/R conv kernels initialised with Rademacher
+-delta. A run of E epochs gets the same schedule scaled to E ("proportional"): drops at round(82/160 E)
and round(122/160 E).

Writes into --out: ``history.json`` (per epoch: learning rate, train/test loss and error in %, and for every
quantized kernel the % of weights changed since the start and in the last --window epochs, and BC's
mean |Q(w_r) - w_r|), ``model.keras`` (the trained model, optimizer state included), ``errors.png`` and
``weight_changes.png``. After every epoch it checkpoints model + optimizer + history; rerunning the same
command continues from the last finished epoch and produces the same result as an uninterrupted run.
"""

import argparse
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python training/train.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import keras  # noqa: E402

import tfquant  # noqa: E402
from tfquant import data as datasets  # noqa: E402
from tfquant import models
from training import plots  # noqa: E402

PAPER_SCHEDULES = {"imagenet": (90, (30, 60))}  # (epochs, drop epochs); CIFAR's is the default
CIFAR_SCHEDULE = (160, (82, 122))
METHODS = ("adam", "bc", "sr", "r")
QUANTIZED = {("bc", "adam"): tfquant.BCAdam, ("sr", "adam"): tfquant.SRAdam, ("r", "adam"): tfquant.RAdam,
             ("bc", "sgd"): tfquant.BCSGD, ("sr", "sgd"): tfquant.SRSGD, ("r", "sgd"): tfquant.RSGD}
CHECKPOINT, PROGRESS = "checkpoint.keras", "progress.json"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="vgg9", choices=sorted(models.MODELS))
    p.add_argument("--width", type=float, default=None, help="width multiplier (vgg9, vgg_bc only)")
    p.add_argument("--dataset", default="cifar10", choices=datasets.DATASETS)
    p.add_argument("--method", default="bc", choices=METHODS,
                   help="adam: full precision; r, sr, bc: the paper's quantized training methods")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"), help="base optimizer")
    p.add_argument("--quantizer", default="binary", choices=("binary", "uniform", "scaled_binary"),
                   help="binary: {-delta, +delta}; uniform: grid of step delta (--bits levels or unbounded); "
                        "scaled_binary: per-filter scale (BC only)")
    p.add_argument("--bits", type=int, default=None, help="bits of the uniform grid (2 = ternary)")
    p.add_argument("--delta", type=float, default=1.0, help="quantization step")
    p.add_argument("--rounding", default="deterministic", choices=("deterministic", "stochastic"),
                   help="BC's rounding of the full-precision buffer")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=None, help="default: 160 (90 for imagenet)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--schedule", default="proportional",
                   help="'proportional' (the paper's drops scaled to --epochs), 'none', or epochs like '82,122'")
    p.add_argument("--weight-decay", type=float, default=0.0,
                   help="L2 penalty (wd/2)|w|^2 on conv and dense kernels, added to the loss (Fig. 7)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-subset", type=int, default=None, help="train on a fixed random subset of N images")
    p.add_argument("--window", type=int, default=1, help="epochs for the changed_in_window weight-flip %%")
    p.add_argument("--out", required=True, type=Path, help="output directory (resumes if it holds a checkpoint)")
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: bars)")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = PAPER_SCHEDULES.get(args.dataset, CIFAR_SCHEDULE)[0]
    if args.quantizer == "scaled_binary" and args.method != "bc":
        p.error("--quantizer scaled_binary works with --method bc only")
    if args.bits is not None and args.quantizer != "uniform":
        p.error("--bits needs --quantizer uniform")
    if args.rounding == "stochastic" and args.method != "bc":
        p.error("--rounding applies to --method bc only (SR always rounds stochastically, R deterministically)")
    try:
        drop_epochs(args)
    except ValueError as e:
        p.error(str(e))
    return args


def drop_epochs(args):
    """Epochs after which the learning rate is divided by 10."""
    if args.schedule == "none":
        return []
    if args.schedule == "proportional":
        total, drops = PAPER_SCHEDULES.get(args.dataset, CIFAR_SCHEDULE)
        return sorted({max(1, round(d * args.epochs / total)) for d in drops if round(d * args.epochs / total) < args.epochs})
    try:
        return sorted(int(e) for e in args.schedule.split(","))
    except ValueError:
        raise ValueError(f"--schedule must be 'proportional', 'none' or comma-separated epochs, "
                         f"not {args.schedule!r}") from None


def make_quantizer(args):
    if args.quantizer == "binary":
        return tfquant.Binary(delta=args.delta)
    if args.quantizer == "uniform":
        return tfquant.Uniform(delta=args.delta, bits=args.bits)
    return tfquant.ScaledBinary()


def make_optimizer(args, steps_per_epoch):
    """The base optimizer (``method == "adam"``) or its tfquant R/SR/BC version, with the step schedule."""
    drops = drop_epochs(args)
    lr = keras.optimizers.schedules.PiecewiseConstantDecay(
        [d * steps_per_epoch for d in drops], [args.lr / 10**i for i in range(len(drops) + 1)]) if drops else args.lr
    base = {"learning_rate": lr}
    if args.optimizer == "sgd":
        base["momentum"] = 0.9
    if args.method == "adam":
        return (keras.optimizers.Adam if args.optimizer == "adam" else keras.optimizers.SGD)(**base)
    extra = {"rounding": args.rounding} if args.method == "bc" else {}
    return QUANTIZED[args.method, args.optimizer](quantizer=make_quantizer(args), seed=args.seed, **base, **extra)


def build_model(args, data):
    """The network, with Rademacher +-delta conv kernels for SR and R (appendix H.3) and optional L2."""
    init = tfquant.initializers.Rademacher(scale=args.delta, seed=args.seed) if args.method in ("sr", "r") \
        else "he_normal"
    model = models.build(args.model, data.input_shape, data.num_classes, conv_initializer=init, width=args.width)
    if args.weight_decay:
        l2 = keras.regularizers.L2(args.weight_decay / 2)
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                layer.kernel_regularizer = l2  # saved in the layer's config, so a resumed model keeps it
                layer.kernel.regularizer = l2  # what the loss reads
    return model


class EpochRecorder(keras.callbacks.Callback):
    """After each epoch: append a row to the history and checkpoint model, optimizer and history atomically."""

    def __init__(self, out, history, config):
        super().__init__()
        self.out, self.history, self.config = out, history, config

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        lr = self.model.optimizer.learning_rate
        row = {"epoch": epoch + 1, "lr": float(keras.ops.convert_to_numpy(lr)),
               "train_loss": logs.pop("loss"), "test_loss": logs.pop("val_loss"),
               "train_error": 100 * (1 - logs.pop("accuracy")), "test_error": 100 * (1 - logs.pop("val_accuracy"))}
        row.update({k: float(v) for k, v in logs.items() if k != "learning_rate"})
        self.history.append(row)
        self.model.save(self.out / (CHECKPOINT + ".tmp.keras"))
        os.replace(self.out / (CHECKPOINT + ".tmp.keras"), self.out / CHECKPOINT)
        _write_json(self.out / PROGRESS, {"config": self.config, "history": self.history})


def _write_json(path, obj):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _config(args):
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("verbose",)}


def run(args):
    """Train (or resume) as ``args`` say; returns the history (a list of per-epoch dicts)."""
    args.out.mkdir(parents=True, exist_ok=True)
    config = _config(args)
    data = datasets.load(args.dataset, args.train_subset)
    steps = data.steps_per_epoch(args.batch_size)
    history = []
    if (args.out / PROGRESS).exists():
        saved = json.loads((args.out / PROGRESS).read_text())
        if saved["config"] != config:
            diff = {k: (saved["config"].get(k), v) for k, v in config.items() if saved["config"].get(k) != v}
            raise SystemExit(f"{args.out} holds a run with other settings {diff} (saved, now): "
                             f"use another --out or delete {args.out}")
        history = saved["history"]
        model = keras.models.load_model(args.out / CHECKPOINT)
        print(f"resuming {args.out} after epoch {len(history)}")
    else:
        keras.utils.set_random_seed(args.seed)
        model = build_model(args, data)
        model.compile(optimizer=make_optimizer(args, steps), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    start = len(history)
    monitor = [tfquant.callbacks.QuantizationMonitor(args.window, start_file=args.out / "start_weights.npz")] if args.method != "adam" else []
    if start < args.epochs:
        model.fit(data.train(args.batch_size, args.seed, start, args.epochs), epochs=args.epochs,
                  initial_epoch=start, steps_per_epoch=steps, validation_data=data.test(),
                  callbacks=monitor + [EpochRecorder(args.out, history, config)],
                  verbose=args.verbose, shuffle=False)
    model.save(args.out / "model.keras")
    _write_json(args.out / "history.json", history)
    label = f"{args.method.upper()}-{args.optimizer.upper()}" if args.method != "adam" else args.optimizer.upper()
    plots.errors({label: history}, args.out / "errors.png", title=f"{args.model} on {args.dataset}")
    if args.method != "adam":
        plots.per_layer({label: history}, "changed_since_start", args.out / "weight_changes.png",
                        "changed weights (%)")
    return history


def main(argv=None):
    history = run(parse_args(argv))
    last = history[-1]
    print(f"final: train error {last['train_error']:.2f}%  test error {last['test_error']:.2f}%")


if __name__ == "__main__":
    main()

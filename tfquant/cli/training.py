"""The work behind ``tfquant-train`` (imported once the arguments are checked: it imports Keras and the data)."""

import json
import sys

import keras
from tqdm.auto import tqdm

import tfquant
from tfquant import data as datasets
from tfquant import models
from tfquant.callbacks import QuantizationMonitor
from tfquant.cli import plots, run_state
from tfquant.cli.common import BadInput
from tfquant_lite.files import replace_with, write_text

QUANTIZED = {("bc", "adam"): tfquant.BCAdam, ("sr", "adam"): tfquant.SRAdam, ("r", "adam"): tfquant.RAdam,
             ("bc", "sgd"): tfquant.BCSGD, ("sr", "sgd"): tfquant.SRSGD, ("r", "sgd"): tfquant.RSGD}


def make_quantizer(args):
    if args.quantizer == "binary":
        return tfquant.Binary(delta=args.delta)
    if args.quantizer == "uniform":
        return tfquant.Uniform(delta=args.delta, bits=args.bits)
    return tfquant.ScaledBinary()


def make_optimizer(args, drops, steps_per_epoch):
    """The base optimizer (``method == "adam"``) or its tfquant R/SR/BC version, with the step schedule."""
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


def load_data(args):
    try:
        return datasets.load(args.dataset, args.train_subset)
    except datasets.DatasetUnavailable as error:
        raise BadInput(str(error)) from None


def train(args, drops, config):
    """Train (or resume) the run in ``args.out``; returns its history (a list of per-epoch dicts)."""
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_data(args)
    steps = data.steps_per_epoch(args.batch_size)
    quantized = args.method != "adam"
    model, history = run_state.resume(args.out, config, steps, quantized)
    if model is None:
        run_state.start_fresh(args.out)
        keras.utils.set_random_seed(args.seed)
        model = build_model(args, data)
        model.compile(optimizer=make_optimizer(args, drops, steps), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    elif history:
        print(f"resuming {args.out} after epoch {len(history)}")
    start = len(history)
    callbacks = [QuantizationMonitor(args.window, start_file=args.out / run_state.START)] if quantized else []
    callbacks.append(run_state.EpochCommitter(args.out, history, config))
    if args.progress != "none":
        callbacks.append(EpochBars(steps, args.epochs, bars=args.progress == "bars"))
    if start < args.epochs:
        model.fit(data.train(args.batch_size, args.seed, start, args.epochs), epochs=args.epochs,
                  initial_epoch=start, steps_per_epoch=steps, validation_data=data.test(),
                  callbacks=callbacks, verbose=0, shuffle=False)
    write_outputs(args, model, history)
    return history


def write_outputs(args, model, history):
    """model.keras, history.json and the plots, each written atomically."""
    replace_with(args.out / "model.keras", model.save)
    write_text(args.out / "history.json", json.dumps(history, indent=1))
    label = f"{args.method.upper()}-{args.optimizer.upper()}" if args.method != "adam" else args.optimizer.upper()
    plots.errors({label: history}, args.out / "errors.png", title=f"{args.model} on {args.dataset}")
    if args.method != "adam":
        plots.per_layer({label: history}, "changed_since_start", args.out / "weight_changes.png",
                        "changed weights (%)")


class EpochBars(keras.callbacks.Callback):
    """A bar per epoch (steps done, loss and accuracy so far), then one line with the epoch's errors.

    Used instead of Keras' own bar, which lists every logged metric: with `QuantizationMonitor` that is
    three per quantized layer. `bars=False` keeps only the one line per epoch.
    """

    def __init__(self, steps_per_epoch, epochs, bars=True):
        super().__init__()
        self.steps, self.epochs, self.bars = steps_per_epoch, epochs, bars
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.bars:
            self._bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", unit="step",
                             file=sys.stderr, leave=False)

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            logs = logs or {}
            self._bar.set_postfix({k: f"{float(logs[k]):.4f}" for k in ("loss", "accuracy") if k in logs},
                                  refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        logs = logs or {}
        parts = [f"epoch {epoch + 1}/{self.epochs}:"]
        if "loss" in logs:
            parts.append(f"train loss {logs['loss']:.4f}")
        if "accuracy" in logs:
            parts.append(f"error {100 * (1 - logs['accuracy']):.2f}%")
        if "val_accuracy" in logs:
            parts.append(f"| test error {100 * (1 - logs['val_accuracy']):.2f}%")
        tqdm.write(" ".join(parts), file=sys.stdout)

"""The work behind ``tfquant-train``: `train(config)` for a checked `TrainConfig` (imports Keras and the data)."""

import json
import sys

import keras
from tqdm.auto import tqdm

import tfquant
from tfquant import data as datasets
from tfquant import models, recipes
from tfquant.callbacks import QuantizationMonitor
from tfquant.cli import plots, run_state
from tfquant.cli.common import BadInput
from tfquant_lite.files import replace_with, write_text

QUANTIZED = {("bc", "adam"): tfquant.BCAdam, ("sr", "adam"): tfquant.SRAdam, ("r", "adam"): tfquant.RAdam,
             ("bc", "sgd"): tfquant.BCSGD, ("sr", "sgd"): tfquant.SRSGD, ("r", "sgd"): tfquant.RSGD}


def make_quantizer(config):
    if config.quantizer == "binary":
        return tfquant.Binary(delta=config.delta)
    if config.quantizer == "uniform":
        return tfquant.Uniform(delta=config.delta, bits=config.bits)
    return tfquant.ScaledBinary()


def learning_rate(config, steps_per_epoch):
    """``config.lr`` under ``config.schedule``: constant, divided by 10 after each drop epoch, or cosine."""
    if config.schedule == "cosine":
        return recipes.cosine_warmup(config.lr, steps_per_epoch, config.epochs)
    drops = config.drop_epochs()
    if not drops:
        return config.lr
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [d * steps_per_epoch for d in drops], [config.lr / 10**i for i in range(len(drops) + 1)])


def make_optimizer(config, steps_per_epoch, model=None):
    """The base optimizer (``method == "adam"``), its tfquant R/SR/BC version with the schedule, or the
    recipe's optimizer (``recipe="binary-adam"``: `tfquant.recipes.binary_adam`, which needs the built model)."""
    if config.recipe == "binary-adam":
        if model is None:
            raise ValueError("recipe 'binary-adam' picks the first conv of the model: pass the built model")
        return recipes.binary_adam(model, steps_per_epoch, config.epochs, learning_rate=config.lr, seed=config.seed)
    base = {"learning_rate": learning_rate(config, steps_per_epoch)}
    if config.optimizer == "sgd":
        base["momentum"] = 0.9
    if config.method == "adam":
        return (keras.optimizers.Adam if config.optimizer == "adam" else keras.optimizers.SGD)(**base)
    extra = {"rounding": config.rounding, "clip_full_precision": config.clip,
             "full_precision_l2": config.full_precision_l2} if config.method == "bc" else {}
    return QUANTIZED[config.method, config.optimizer](quantizer=make_quantizer(config), seed=config.seed, **base,
                                                      **extra)


def build_model(config, data):
    """The network, with Rademacher +-delta conv kernels for SR and R (appendix H.3) and optional L2."""
    init = tfquant.initializers.Rademacher(scale=config.delta, seed=config.seed) if config.method in ("sr", "r") \
        else "he_normal"
    model = models.build(config.model, data.input_shape, data.num_classes, conv_initializer=init, width=config.width)
    if config.weight_decay:
        l2 = keras.regularizers.L2(config.weight_decay / 2)
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                layer.kernel_regularizer = l2  # saved in the layer's config, so a resumed model keeps it
                layer.kernel.regularizer = l2  # what the loss reads
    return model


def load_data(config):
    try:
        return datasets.load(config.dataset, config.train_subset)
    except datasets.DatasetUnavailable as error:
        raise BadInput(str(error)) from None


def train(config):
    """Train (or resume) the run of `config` (a `TrainConfig`) in ``config.out``; returns its history."""
    config.out.mkdir(parents=True, exist_ok=True)
    data = load_data(config)
    steps = data.steps_per_epoch(config.batch_size)
    quantized = config.method != "adam"
    model, history = run_state.resume(config.out, config, steps, quantized)
    if model is None:
        run_state.start_fresh(config.out)
        keras.utils.set_random_seed(config.seed)
        model = build_model(config, data)
        model.compile(optimizer=make_optimizer(config, steps, model), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    elif history:
        print(f"resuming {config.out} after epoch {len(history)}")
    start = len(history)
    callbacks = [QuantizationMonitor(config.window, start_file=config.out / run_state.START)] if quantized else []
    callbacks.append(run_state.EpochCommitter(config.out, history, config))
    if config.progress != "none":
        callbacks.append(EpochBars(steps, config.epochs, bars=config.progress == "bars"))
    if start < config.epochs:
        model.fit(data.train(config.batch_size, config.seed, start, config.epochs), epochs=config.epochs,
                  initial_epoch=start, steps_per_epoch=steps, validation_data=data.test(),
                  callbacks=callbacks, verbose=0, shuffle=False)
    write_outputs(config, model, history)
    return history


def write_outputs(config, model, history):
    """model.keras, history.json and the plots, each written atomically."""
    replace_with(config.out / "model.keras", model.save)
    write_text(config.out / "history.json", json.dumps(history, indent=1))
    plots.errors({config.label: history}, config.out / "errors.png", title=f"{config.model} on {config.dataset}")
    if config.method != "adam":
        plots.per_layer({config.label: history}, "changed_since_start", config.out / "weight_changes.png",
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

"""tqdm progress bars for long loops: one bar per training epoch, and a bar over any iterable."""

import sys

import keras
from tqdm.auto import tqdm


def bar(iterable, description, enabled=True, **kwargs):
    """``tqdm(iterable)`` on stderr, or `iterable` itself when not `enabled`."""
    return tqdm(iterable, desc=description, file=sys.stderr, leave=False, **kwargs) if enabled else iterable


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

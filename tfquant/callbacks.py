"""Watching quantized training: weight flips (paper Figs. 4-5) and BC's |w_b - w_r| (Fig. 7)."""

import collections
import pathlib

import keras
import numpy as np


def metric_key(variable):
    """The log key of a variable: its path with '/' as '.', e.g. ``conv1.kernel``."""
    return variable.path.replace("/", ".")


def quantizing_optimizer(model):
    """The model's tfquant optimizer, looking through a `LossScaleOptimizer`; None if it has none."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    return optimizer if hasattr(optimizer, "quantizer_for") else None


class QuantizationMonitor(keras.callbacks.Callback):
    """Adds, at the end of each epoch, for every quantized variable (key: `metric_key`):

    * ``changed_since_start/<key>``: % of weights that differ from their value when training started;
    * ``changed_in_window/<key>``: % that differ from their value `window` epochs earlier (Figs. 4-5 plot
      these per epoch with window=1, and per block of epochs);
    * ``bc_gap/<key>`` (BC only): mean ``|w_b - w_r|`` between the binary weights and the full-precision
      buffer (Fig. 7).

    The values land in ``logs``, so `History`, `CSVLogger` and `TensorBoard` (placed after this callback)
    record them.

    `start_file` (a ``.npz`` path) makes "since start" survive an interrupted and resumed run: the first
    ``fit`` writes the starting weights there, a later one (of the resumed run) reads them back. The window
    reference restarts at the resume point.
    """

    def __init__(self, window=1, start_file=None):
        super().__init__()
        if not isinstance(window, int) or window < 1:
            raise ValueError(f"`window` must be a positive int (epochs), got window={window!r}.")
        self.window = window
        self.start_file = start_file

    def on_train_begin(self, logs=None):
        optimizer = quantizing_optimizer(self.model)
        if optimizer is None:
            raise ValueError(
                "QuantizationMonitor needs a model compiled with a tfquant optimizer (e.g. tfquant.BCAdam())."
            )
        if not optimizer.built:  # TensorFlow's fit builds it later, while tracing; the start must be quantized
            optimizer.build(self.model.trainable_variables)
        self._optimizer = optimizer
        self._watched = [v for v in self.model.trainable_variables if optimizer.quantizer_for(v) is not None]
        now = [np.array(v) for v in self._watched]
        self._start = self._load_or_save_start(now)
        self._history = collections.deque([now], maxlen=self.window)

    def _load_or_save_start(self, now):
        if self.start_file is None:
            return now
        path = pathlib.Path(self.start_file)
        if not path.exists():
            np.savez(path, *now)
            return now
        with np.load(path) as saved:
            start = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if [s.shape for s in start] != [n.shape for n in now]:
            raise ValueError(
                f"{path} holds the starting weights of another model ({len(start)} arrays); delete it or pass "
                "another start_file."
            )
        return start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        now = [np.array(v) for v in self._watched]
        for variable, start, before, current in zip(self._watched, self._start, self._history[0], now):
            key = metric_key(variable)
            logs[f"changed_since_start/{key}"] = 100.0 * float(np.mean(current != start))
            logs[f"changed_in_window/{key}"] = 100.0 * float(np.mean(current != before))
            if self._optimizer.method == "bc":
                full_precision = np.array(self._optimizer.full_precision(variable))
                logs[f"bc_gap/{key}"] = float(np.mean(np.abs(current - full_precision)))
        self._history.append(now)

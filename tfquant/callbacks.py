"""Watching quantized training: weight flips (paper Figs. 4-5) and BC's |w_b - w_r| (Fig. 7)."""

import collections
import pathlib

import keras
import numpy as np

from tfquant import selection
from tfquant.optimizers import quantizing_optimizer
from tfquant_lite.files import atomic_write


def metric_key(variable):
    """The log key of a variable: its path with '/' as '.', e.g. ``conv1.kernel``."""
    return selection.path_of(variable).replace("/", ".")


class QuantizationMonitor(keras.callbacks.Callback):
    """Adds to ``logs`` at the end of each epoch, over all quantized weights (weighted by their count):

    * ``changed_since_start``: % of weights that differ from their value when training started;
    * ``changed_in_window``: % that differ from their value `window` epochs earlier (Figs. 4-5 plot these
      per epoch with window=1, and per block of epochs);
    * ``bc_gap`` (BC only): mean ``|w_b - w_r|`` between the binary weights and the full-precision buffer
      (Fig. 7);

    and, when `per_layer` is on, the same three per quantized variable as ``changed_since_start/<key>``,
    ``changed_in_window/<key>`` and ``bc_gap/<key>`` (key: `metric_key`, e.g. ``conv1.kernel``).
    ``per_layer="auto"`` (default) turns them on for nets with at most `AUTO_PER_LAYER` quantized variables,
    so a ResNet-56 puts 3 values on the progress bar, not 165.

    The values land in ``logs``, so `History`, `CSVLogger` and `TensorBoard` (placed after this callback)
    record them.

    `start_file` (a ``.npz`` path) makes "since start" survive an interrupted and resumed run: the first
    ``fit`` writes the starting weights there, a later one (of the resumed run) reads them back. The window
    reference restarts at the resume point.

    A model whose variables do not exist yet when `fit` starts (built inside the first train step, e.g. a
    ``Sequential`` without ``Input``) is watched from the end of its first step.
    """

    AUTO_PER_LAYER = 8

    def __init__(self, window=1, start_file=None, per_layer="auto"):
        super().__init__()
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"`window` must be a positive int (epochs), got window={window!r}.")
        if per_layer not in (True, False, "auto"):
            raise ValueError(f"`per_layer` must be True, False or 'auto', got per_layer={per_layer!r}.")
        self.window = window
        self.start_file = start_file
        self.per_layer = per_layer

    def on_train_begin(self, logs=None):
        optimizer = quantizing_optimizer(self.model)
        if optimizer is None:
            raise ValueError(
                "QuantizationMonitor needs a model compiled with a tfquant optimizer (e.g. tfquant.BCAdam())."
            )
        self._optimizer = optimizer
        self._watched = None
        if optimizer.built:
            self._start_watching()
        elif self.model.built and self.model.trainable_variables:
            # TensorFlow's fit builds the optimizer later, while tracing; the start must be quantized.
            optimizer.build(self.model.trainable_variables)
            self._start_watching()

    def on_train_batch_end(self, batch, logs=None):
        if self._watched is None:  # the model and the optimizer were built inside the first step
            self._start_watching()

    def _start_watching(self):
        optimizer = self._optimizer
        self._watched = [v for v in self.model.trainable_variables if optimizer.quantizer_for(v) is not None]
        if self.per_layer == "auto":
            self._per_layer = len(self._watched) <= self.AUTO_PER_LAYER
        else:
            self._per_layer = self.per_layer
        now = [np.array(v) for v in self._watched]
        self._start = self._load_or_save_start(now)
        self._history = collections.deque([now], maxlen=self.window)

    def _load_or_save_start(self, now):
        if self.start_file is None:
            return now
        path = pathlib.Path(self.start_file)
        if not path.exists():
            with atomic_write(path, "wb") as f:  # a kill while writing leaves no half-written file
                np.savez(f, *now)
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
        if logs is None or not self._watched:
            return
        now = [np.array(v) for v in self._watched]
        totals, count = collections.Counter(), 0
        for variable, start, before, current in zip(self._watched, self._start, self._history[0], now):
            values = {
                "changed_since_start": float(np.sum(current != start)),
                "changed_in_window": float(np.sum(current != before)),
            }
            if self._optimizer.method == "bc":
                full_precision = np.array(self._optimizer.full_precision(variable))
                values["bc_gap"] = float(np.sum(np.abs(current - full_precision)))
            totals.update(values)
            count += current.size
            if self._per_layer:
                key = metric_key(variable)
                for name, total in values.items():
                    logs[f"{name}/{key}"] = _as_logged(name, total / current.size)
        for name, total in totals.items():
            logs[name] = _as_logged(name, total / count)
        self._history.append(now)


def _as_logged(name, mean):
    """Flip counts as percentages, BC's gap as a mean distance."""
    return mean if name == "bc_gap" else 100.0 * mean

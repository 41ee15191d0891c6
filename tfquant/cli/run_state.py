"""A training run's state in its output folder, committed so that a kill at any instant resumes exactly.

Two files hold it: ``progress.json`` (``{"config": the run's settings, `TrainConfig.to_dict`, "history": one
row per finished epoch}``) and ``checkpoint.keras`` (model and optimizer). After epoch e the run commits

    1. progress.json with e rows (atomically: temporary file + os.replace), then
    2. checkpoint.keras (atomically).

The checkpoint decides how far the run got: epochs done = ``optimizer.iterations / steps_per_epoch``, and
progress rows beyond that are dropped. A kill between 1 and 2 thus retrains epoch e from the checkpoint of
epoch e-1; the batches of an epoch are a function of (seed, epoch) and the optimizer's random state is in
the checkpoint, so the retrained epoch is the same one. A checkpoint that is not a whole number of epochs,
that is ahead of progress.json, or a file that cannot be read is refused with a message.
"""

import json

import keras
import numpy as np

from tfquant.cli.common import BadInput
from tfquant.cli.train_config import saved_settings
from tfquant_lite.files import replace_with, write_text

CHECKPOINT, PROGRESS, START = "checkpoint.keras", "progress.json", "start_weights.npz"


def _damaged(out, what):
    return BadInput(f"the run in {out} cannot be resumed: {what} (delete {out} to start again, "
                    "or choose another --out)")


def _read_progress(out):
    try:
        saved = json.loads((out / PROGRESS).read_text())
        if not (isinstance(saved, dict) and isinstance(saved.get("config"), dict)
                and isinstance(saved.get("history"), list)):
            raise ValueError("it lacks 'config' or 'history'")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise _damaged(out, f"{PROGRESS} is damaged ({error})") from None
    return saved


def _load_checkpoint(out):
    try:
        return keras.models.load_model(out / CHECKPOINT)
    except Exception as error:  # Keras raises many kinds for a damaged zip or config
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise _damaged(out, f"{CHECKPOINT} cannot be loaded ({type(error).__name__}: {first})") from None


def _check_start_file(out):
    try:
        with np.load(out / START) as saved:
            [saved[name] for name in saved.files]
    except FileNotFoundError:
        raise _damaged(out, f"{START} (the weights the run started from) is missing") from None
    except Exception as error:  # numpy raises ValueError, BadZipFile, EOFError, ...
        raise _damaged(out, f"{START} is damaged ({type(error).__name__})") from None


def resume(out, config, steps_per_epoch, quantized):
    """``(model, history)`` of the run in `out` (``(None, [])`` when there is nothing to resume).

    `config` is the run's `TrainConfig`: its ``to_dict()`` must equal the saved settings (those of an older
    progress.json read by `saved_settings`). Raises `BadInput` when `out` holds a run with other settings, or
    state that is damaged or inconsistent. `quantized` runs also need their ``start_weights.npz`` (the
    reference of the weight-flip statistics).
    """
    settings = config.to_dict()
    has_progress, has_checkpoint = (out / PROGRESS).exists(), (out / CHECKPOINT).exists()
    if not has_progress:
        if has_checkpoint:
            raise _damaged(out, f"it holds {CHECKPOINT} but no {PROGRESS}")
        return None, []
    saved = _read_progress(out)
    before = saved_settings(saved["config"])
    if before != settings:
        diff = {k: (before.get(k), settings.get(k)) for k in sorted(set(before) | set(settings))
                if before.get(k) != settings.get(k)}
        raise BadInput(f"{out} holds a run with other settings {diff} (saved, now): use another --out, "
                       f"rerun with the saved settings, or delete {out}")
    if not has_checkpoint:  # killed before the first checkpoint: the run starts again, identically
        return None, []
    model = _load_checkpoint(out)
    iterations = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    done, rest = divmod(iterations, steps_per_epoch)
    if rest or done > len(saved["history"]) or done > config.epochs:
        raise _damaged(out, f"{CHECKPOINT} is at step {iterations}, which is not one of the "
                            f"{len(saved['history'])} epoch(s) of {steps_per_epoch} steps in {PROGRESS}")
    if quantized:
        _check_start_file(out)
    return model, saved["history"][:done]


def start_fresh(out):
    """Remove what an earlier start left that would be read back (the starting weights are rewritten)."""
    (out / START).unlink(missing_ok=True)


def commit(out, config, history, model):
    """Record a finished epoch: progress.json first, then the checkpoint (see the module docstring).

    `config` is the run's `TrainConfig`; progress.json holds its ``to_dict()``."""
    write_text(out / PROGRESS, json.dumps({"config": config.to_dict(), "history": history}, indent=1))
    replace_with(out / CHECKPOINT, model.save)


class EpochCommitter(keras.callbacks.Callback):
    """After each epoch: append a row to `history` and `commit` the run."""

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
        commit(self.out, self.config, self.history, self.model)

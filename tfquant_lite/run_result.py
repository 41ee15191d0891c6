"""What one run of a .tflite file on a set of images gave: `RunResult`, the runner's record.

A frozen record, built once by `runner.run`; `to_dict()` is what `tfquant-run --json` writes (arrays as lists,
the integrity state as its value) and `to_text()` what it prints. It is also a read-only mapping of its fields
(``result["accuracy"]``), as the runner's result was a dict before it was a record.
"""
import collections.abc
import dataclasses

import numpy as np

from .states import Integrity


@dataclasses.dataclass(frozen=True)
class RunResult(collections.abc.Mapping):
    """`interpreter` (the name used), `machine` (CPU architecture), `n` (images), `load_ms` (checking and
    opening the model, expansion included), `expanded`, `normalization` ({"mean", "std", "source"}), `integrity`
    (an `Integrity`), `predictions` (int array (n,)), `probabilities` ((n, classes)), `accuracy` (fraction
    correct, None without labels), `latency_ms` ({"p50", "p90", "p99", "mean"} of the per-image invoke times)."""
    interpreter: str
    machine: str
    n: int
    load_ms: float
    expanded: bool
    normalization: dict
    integrity: Integrity
    predictions: np.ndarray
    probabilities: np.ndarray
    accuracy: float | None
    latency_ms: dict

    def to_dict(self):
        """JSON-ready builtins, the keys in field order."""
        return {field.name: _builtin(getattr(self, field.name)) for field in dataclasses.fields(self)}

    def to_text(self, model, model_bytes, labels=None, show=10):
        """The lines `tfquant-run` prints: the model and its state, the input transform, the first `show`
        predictions (with `labels` when given), the accuracy and the latency."""
        norm, lat = self.normalization, self.latency_ms
        lines = [f"model {model} ({model_bytes} bytes, checksum {self.integrity}), interpreter {self.interpreter}, "
                 f"{self.n} images" + (f", loaded and expanded in {self.load_ms:.1f} ms" if self.expanded else ""),
                 f"input x = (p/255 - {norm['mean']}) / {norm['std']}  ({norm['source']})"]
        for i in range(min(show, self.n)):
            label = "" if labels is None else f"  label {labels[i]}"
            lines.append(f"  [{i}] class {self.predictions[i]}  p={self.probabilities[i].max():.3f}{label}")
        if self.accuracy is not None:
            lines.append(f"accuracy {self.accuracy:.4f}")
        lines.append(f"latency ms  p50 {lat['p50']:.3f}  p90 {lat['p90']:.3f}  p99 {lat['p99']:.3f}")
        return "\n".join(lines)

    # the read-only mapping: the fields, as they are
    def __getitem__(self, key):
        if key not in self._names():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self._names())

    def __len__(self):
        return len(self._names())

    @classmethod
    def _names(cls):
        return tuple(field.name for field in dataclasses.fields(cls))


def _builtin(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Integrity):
        return value.value
    return value

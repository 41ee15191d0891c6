"""One short Fashion-MNIST training run with every binary weight flip counted, for the reduced-scale studies.

A run is a fixed number of *updates* (not epochs), so that batch sizes can be compared at an equal number of
updates. The learning rate follows the paper's schedule scaled to the run: ``lr`` until 82/160 of the
updates, ``lr/10`` until 122/160, then ``lr/100``.

Flip accounting (binary conv kernels, values in {-1, +1}): after update t, ``flips_t`` is the number of
weights whose value differs from after update t-1. A weight flipped k times in all ends changed iff k is odd,
so with ``F = sum_t flips_t`` and ``N`` the weights changed since the start,

    flips per update = F / T,        share of flips later undone = (F - N) / F.

Batches come from numpy arrays (``tfquant.arrays``), not ``tf.data``, so that a run needs no TensorFlow: the same
code trains on TensorFlow here and on the JAX or PyTorch backend of a machine without it (a GPU machine, where
the studies at Table 1's scale ran). Epoch ``e`` is the permutation seeded by ``(seed, e)``.

Each run writes ``result.json`` in its directory (skipped when it exists, so a study resumes run by run).
"""

import concurrent.futures
import functools
import itertools
import json
import multiprocessing
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

import tfquant
from tfquant import arrays, models
from tfquant_lite import files

OPTIMIZERS = {("adam", "adam"): keras.optimizers.Adam, ("sgd", "adam"): keras.optimizers.SGD,
              ("bc", "adam"): tfquant.BCAdam, ("sr", "adam"): tfquant.SRAdam, ("r", "adam"): tfquant.RAdam,
              ("bc", "sgd"): tfquant.BCSGD, ("sr", "sgd"): tfquant.SRSGD, ("r", "sgd"): tfquant.RSGD}
INITS = ("he_normal", "uniform", "small")
CURVE_POINTS = 40  # samples of "changed since start" per run


@dataclass(frozen=True)
class Spec:
    """One run. ``init`` is BC's/ADAM's conv initialiser: he_normal, uniform (U(-1, 1)) or small (N(0, 0.01^2));
    SR and R always start from Rademacher +-1 (appendix H.3). BC only: ``wd`` is Torch-style weight decay on
    w_r (``full_precision_l2``: ``wd * w_r`` added to the gradient), ``clip`` BinaryConnect's clip of w_r to
    [-1, 1] (False: eq. 7 as printed)."""
    method: str
    optimizer: str = "adam"
    batch: int = 128
    updates: int = 400
    lr: float = 0.01
    seed: int = 0
    init: str = "he_normal"
    quantizer: str = "binary"
    width: float = 0.25
    train_subset: int = 10000
    wd: float = 0.0
    clip: bool = True

    def name(self):
        extra = (f"-wd{self.wd:g}" if self.wd else "") + ("" if self.clip else "-noclip")
        return (f"{self.method}-{self.optimizer}-b{self.batch}-u{self.updates}-lr{self.lr:g}-{self.init}"
                f"-{self.quantizer}{extra}-s{self.seed}")


class FlipCounter(keras.callbacks.Callback):
    """Counts, after every update, how many quantized weights changed value since the previous update, and
    every ``every`` updates how many differ from the start (Fig. 4's curve)."""

    def __init__(self, variables, every=1):
        super().__init__()
        self.variables, self.every = variables, every
        self.start = self.previous = self._now()
        self.flips, self.changed = [], []

    def _now(self):
        return np.concatenate([np.asarray(v).ravel() for v in self.variables])

    def on_train_batch_end(self, batch, logs=None):
        if hasattr(self.model, "jax_state_sync"):  # JAX's fit keeps the values outside the variables until synced
            self.model.jax_state_sync()
        now = self._now()
        self.flips.append(int(np.count_nonzero(now != self.previous)))
        self.previous = now
        if len(self.flips) % self.every == 0:
            self.changed.append(int(np.count_nonzero(now != self.start)))


class Arrays:
    """Fashion-MNIST as normalised float32 arrays: ``batches(batch, seed)`` endlessly yields training batches,
    epoch ``e`` in the order of the permutation seeded by ``(seed, e)`` (a partial last batch kept)."""

    def __init__(self, train_subset):
        (xtr, ytr), (xte, yte) = arrays.load_fashion_mnist()
        xtr, ytr = arrays.subset(xtr, ytr, train_subset)
        mean, std = arrays.channel_stats(xtr)
        self.x_train, self.x_test = (arrays.normalized(x, mean, std) for x in (xtr, xte))
        self.y_train, self.y_test = ytr.astype(np.int32), yte.astype(np.int32)
        self.train_size, self.input_shape = len(xtr), self.x_train.shape[1:]

    def batches(self, batch, seed):
        for epoch in itertools.count():
            order = np.random.default_rng([seed, epoch]).permutation(self.train_size)
            for start in range(0, self.train_size, batch):
                idx = order[start:start + batch]
                yield self.x_train[idx], self.y_train[idx]


@functools.lru_cache(maxsize=1)
def _arrays(train_subset):
    """``Arrays(train_subset)``, read once for the consecutive runs of a plan that share it."""
    return Arrays(train_subset)


def _conv_init(spec):
    if spec.method in ("sr", "r"):
        return tfquant.initializers.Rademacher(scale=1.0, seed=spec.seed)
    return {"he_normal": "he_normal", "uniform": keras.initializers.RandomUniform(-1.0, 1.0, seed=spec.seed),
            "small": keras.initializers.RandomNormal(stddev=0.01, seed=spec.seed)}[spec.init]


def _optimizer(spec):
    drops = [round(spec.updates * 82 / 160), round(spec.updates * 122 / 160)]
    lr = keras.optimizers.schedules.PiecewiseConstantDecay(drops, [spec.lr, spec.lr / 10, spec.lr / 100])
    base = {"learning_rate": lr, **({"momentum": 0.9} if spec.optimizer == "sgd" else {})}
    if spec.method == "adam":
        return OPTIMIZERS[spec.optimizer, "adam"](**base)
    quantizer = tfquant.ScaledBinary() if spec.quantizer == "scaled_binary" else tfquant.Binary()
    if spec.method == "bc":
        base.update(full_precision_l2=spec.wd, clip_full_precision=spec.clip)
    return OPTIMIZERS[spec.method, spec.optimizer](quantizer=quantizer, seed=spec.seed, **base)


def run(spec, root):
    """Train ``spec`` (or read its finished result) under ``root``; returns the result dict."""
    out = Path(root) / spec.name()
    if (out / "result.json").exists():
        return json.loads((out / "result.json").read_text())
    began = time.time()
    data = _arrays(spec.train_subset)
    keras.utils.set_random_seed(spec.seed)
    model = models.build("vgg9", data.input_shape, 10, conv_initializer=_conv_init(spec), width=spec.width)
    optimizer = _optimizer(spec)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = []
    if spec.method != "adam":
        optimizer.build(model.trainable_variables)
        counter = FlipCounter([v for v in model.trainable_variables if optimizer.quantizer_for(v) is not None],
                              every=max(1, spec.updates // CURVE_POINTS))
        callbacks.append(counter)
    model.fit(data.batches(spec.batch, spec.seed), epochs=1, steps_per_epoch=spec.updates, callbacks=callbacks,
              shuffle=False, verbose=0)  # the batches come shuffled
    test_loss, test_acc = model.evaluate(data.x_test, data.y_test, batch_size=1000, verbose=0)
    result = {"spec": asdict(spec), "test_error": 100 * (1 - test_acc), "test_loss": test_loss,
              "epochs_of_data": spec.updates * spec.batch / data.train_size, "seconds": time.time() - began,
              "backend": keras.backend.backend()}
    if callbacks:
        flips = np.array(counter.flips)
        net = int(np.count_nonzero(counter.previous != counter.start))
        total = int(flips.sum())
        result.update({"weights": int(counter.start.size), "flips_total": total, "changed_since_start": net,
                       "changed_since_start_pct": 100 * net / counter.start.size,
                       "flips_per_update": total / spec.updates,
                       "flips_per_update_by_phase": [float(f.mean()) for f in np.array_split(flips, 4)],
                       "share_undone": (total - net) / total if total else 0.0,
                       "changed_curve": {"every": counter.every, "changed": counter.changed}})
    if spec.method == "bc":  # Fig. 7's mean |w_b - w_r| over the quantized weights, and the largest |w_r|
        pairs = [(np.asarray(v), np.asarray(optimizer.full_precision(v))) for v in counter.variables]
        result["bc_gap"] = float(np.mean(np.concatenate([np.abs(b - r).ravel() for b, r in pairs])))
        result["max_abs_w_r"] = float(max(np.abs(r).max() for _, r in pairs))
    out.mkdir(parents=True, exist_ok=True)
    files.write_text(out / "result.json", json.dumps(result, indent=1))
    print(f"{spec.name()}: test error {result['test_error']:.2f}% ({result['seconds']:.0f} s)", flush=True)
    return result


def _run_or_report(spec, root):
    """``run``, with a failure printed (spec and traceback) and returned as None instead of raised."""
    try:
        return run(spec, root)
    except Exception:  # one failed run must not stop the others; main() reports the count
        print(f"{spec.name()}: FAILED\n{traceback.format_exc()}", flush=True)
        return None


def run_plan(specs, root, workers=1):
    """Run every spec (finished ones are read back); returns their results in the order of ``specs``, None for
    a run that failed (its traceback printed).

    With ``workers`` > 1 the runs go to that many processes (spawned, so each has its own backend state and,
    on a GPU, its own share of the device), started in the order given: put the longest runs first."""
    if workers <= 1:
        return [_run_or_report(spec, root) for spec in specs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(_run_or_report, specs, itertools.repeat(root)))

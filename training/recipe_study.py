"""Issue 20's study: which 1-bit recipe comes within a point of full precision on the main job's net and data.

    nohup nice -n 2 python -m training.recipe_study run --plan screen --seeds 0 > runs/recipe_study.log 2>&1 &
    python -m training.recipe_study run --arms "BC-ADAM ScaledBinary" --seeds 0 1 2
    python -m training.recipe_study report                   # the Markdown table of what has finished
    python -m training.recipe_study export --arm "BC-ADAM ScaledBinary"   # packed / packed-int8 vs Keras

Every run is the main job's (jobs/main_job.py): ``small_cnn`` (VGG-9 at 1/8 width, He-normal conv init),
all 60,000 Fashion-MNIST training images, batch 128, Adam at lr 0.01, 5 epochs, test error on all 10,000
test images. An arm changes one thing or a few: the schedule (the paper's steps, ``tfquant.recipes.step_decay``,
or cosine decay after a linear warm-up, ``cosine_warmup``), the quantizer (``Binary`` or per-channel
``ScaledBinary``), BC's rounding (deterministic or stochastic), BC's clip of w_r, the batch-norm momentum
(the models use Torch's 0.9; Keras' default is 0.99), the first conv binary or in full precision
(``all_but_first_conv``), and the epochs. Each BC arm is compared with ADAM at the same epochs, schedule and
batch-norm momentum (its *partner*, run with it) and with ADAM's best.

Batches are numpy arrays (``training.short_runs.Arrays``): epoch e is the permutation seeded by (seed, e),
so every arm of a seed sees the same images in the same order. A run writes ``result.json`` and
``model.keras`` into ``--out/<run name>/``; a finished run is read back, not retrained. ``report`` and
``export`` write ``recipe_study.json`` / ``recipe_export.json`` with their provenance (training/provenance.py).
"""

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tfquant_lite import files
from training import provenance

MAIN_TRAIN_IMAGES = 60_000
TEST_IMAGES = 10_000


@dataclass(frozen=True)
class Recipe:
    """One run of the main job's network and data; the defaults are the main job's BC-Adam."""
    method: str = "bc"  # "adam" (full precision) or "bc"
    epochs: int = 5
    schedule: str = "steps"  # "steps" (the paper's, scaled) or "cosine" (linear warm-up, then cosine decay)
    quantizer: str = "binary"  # or "scaled_binary"
    rounding: str = "deterministic"  # BC's, or "stochastic"
    clip: bool = True
    bn_momentum: float = 0.9
    first_conv: str = "binary"  # or "float" (kept in full precision)
    lr: float = 0.01
    batch: int = 128
    seed: int = 0
    train_subset: int = MAIN_TRAIN_IMAGES
    test_images: int = TEST_IMAGES

    def partner(self):
        """ADAM at the same epochs, schedule, batch-norm momentum, learning rate and data."""
        return Recipe("adam", self.epochs, self.schedule, bn_momentum=self.bn_momentum, lr=self.lr,
                      batch=self.batch, seed=self.seed, train_subset=self.train_subset, test_images=self.test_images)

    def name(self):
        default = Recipe(self.method)
        parts = [self.method, f"e{self.epochs}", self.schedule]
        if self.method == "bc":
            parts += [self.quantizer, self.rounding[:3], "clip" if self.clip else "noclip", f"first-{self.first_conv}"]
        parts += [f"bn{self.bn_momentum:g}", f"lr{self.lr:g}", f"b{self.batch}"]
        parts += [f"n{self.train_subset}"] if self.train_subset != default.train_subset else []
        parts += [f"t{self.test_images}"] if self.test_images != default.test_images else []
        return "-".join(parts + [f"s{self.seed}"])


def _arms():
    """Arm label -> Recipe at seed 0 (the screening order: the most telling first)."""
    bc = Recipe()
    scaled = replace(bc, quantizer="scaled_binary")
    first = replace(bc, first_conv="float")
    cosine = replace(bc, schedule="cosine")
    return {
        "BC-ADAM (main job)": bc,
        "BC-ADAM ScaledBinary": scaled,
        "BC-ADAM first conv float": first,
        "BC-ADAM cosine+warm-up": cosine,
        "BC-ADAM stochastic rounding": replace(bc, rounding="stochastic"),
        "BC-ADAM no clip": replace(bc, clip=False),
        "BC-ADAM BN momentum 0.99": replace(bc, bn_momentum=0.99),
        "BC-ADAM ScaledBinary, first conv float": replace(scaled, first_conv="float"),
        "BC-ADAM ScaledBinary, cosine+warm-up": replace(scaled, schedule="cosine"),
        "BC-ADAM ScaledBinary, first conv float, cosine+warm-up": replace(scaled, first_conv="float",
                                                                          schedule="cosine"),
        "BC-ADAM first conv float, cosine+warm-up": replace(first, schedule="cosine"),
        "BC-ADAM 10 epochs": replace(bc, epochs=10),
        "BC-ADAM ScaledBinary, first conv float, 10 epochs": replace(scaled, first_conv="float", epochs=10),
        # on top of the winner (issue 20.1, second round): a lower learning rate under the same cosine schedule
        "BC-ADAM first conv float, cosine+warm-up, lr 0.005": replace(first, schedule="cosine", lr=0.005),
        "BC-ADAM first conv float, cosine+warm-up, lr 0.02": replace(first, schedule="cosine", lr=0.02),
        "BC-ADAM first conv float, cosine+warm-up, 10 epochs": replace(first, schedule="cosine", epochs=10),
    }


ARMS = _arms()
PLANS = {"screen": list(ARMS)}


def specs(labels, seeds, **overrides):
    """The runs of arms ``labels`` at ``seeds``, each BC arm preceded by its ADAM partner (seeds outermost)."""
    runs = []
    for seed in seeds:
        for label in labels:
            recipe = replace(ARMS[label], seed=seed, **overrides)
            for r in (recipe.partner(), recipe):
                if r not in runs:
                    runs.append(r)
    return runs


def run(recipe, root):
    """Train ``recipe`` (or read its finished result) under ``root``; returns the result dict."""
    out = Path(root) / recipe.name()
    if (out / "result.json").exists():
        return json.loads((out / "result.json").read_text())
    import keras

    from training.short_runs import _arrays

    began = time.time()
    data = _arrays(recipe.train_subset)
    keras.utils.set_random_seed(recipe.seed)
    model = build_model(recipe, data.input_shape)
    steps = -(-data.train_size // recipe.batch)
    model.compile(optimizer=make_optimizer(recipe, model, steps), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(data.batches(recipe.batch, recipe.seed), epochs=recipe.epochs, steps_per_epoch=steps,
                        shuffle=False, verbose=2)  # the batches come shuffled; one line per epoch, with its time
    x_test, y_test = data.x_test[:recipe.test_images], data.y_test[:recipe.test_images]
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    result = {"recipe": asdict(recipe), "test_error": 100 * (1 - test_acc), "test_loss": test_loss,
              "train_loss": [float(v) for v in history.history["loss"]], "seconds": time.time() - began,
              "backend": keras.backend.backend(), "commit": provenance.commit()}
    out.mkdir(parents=True, exist_ok=True)
    files.replace_with(out / "model.keras", model.save)
    files.write_text(out / "result.json", json.dumps(result, indent=1))
    print(f"{recipe.name()}: test error {result['test_error']:.2f}% ({result['seconds']:.0f} s)", flush=True)
    return result


def build_model(recipe, input_shape):
    import keras

    from tfquant import models

    model = models.build("small_cnn", input_shape, 10, conv_initializer="he_normal")
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = recipe.bn_momentum  # read at every call, and saved in the layer's config
    return model


def make_optimizer(recipe, model, steps_per_epoch):
    import keras

    import tfquant
    from tfquant import recipes

    schedule = {"steps": recipes.step_decay, "cosine": recipes.cosine_warmup}[recipe.schedule]
    lr = schedule(recipe.lr, steps_per_epoch, recipe.epochs)
    if recipe.method == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    quantizer = tfquant.ScaledBinary() if recipe.quantizer == "scaled_binary" else tfquant.Binary()
    quantize = recipes.all_but_first_conv(model) if recipe.first_conv == "float" else "conv"
    return tfquant.BCAdam(learning_rate=lr, quantizer=quantizer, quantize=quantize, rounding=recipe.rounding,
                          clip_full_precision=recipe.clip, seed=recipe.seed)


def run_all(recipes, root):
    """Run every recipe in order (finished ones read back); a failure is printed and the others still run."""
    import traceback

    results = []
    for recipe in recipes:
        try:
            results.append(run(recipe, root))
        except Exception:  # one failed run must not stop the study; the report shows what is missing
            print(f"{recipe.name()}: FAILED\n{traceback.format_exc()}", flush=True)
            results.append(None)
    return results


# -- the table -----------------------------------------------------------------------------------------------
def _finished(recipe, root):
    path = Path(root) / recipe.name() / "result.json"
    return json.loads(path.read_text())["test_error"] if path.exists() else None


def _mean(values):
    return statistics.mean(values) if values else None


def summarize(root, seeds, labels=None, **overrides):
    """One row per arm: mean test error over the finished seeds, its ADAM partner's, and the gaps."""
    rows = []
    for label in labels or list(ARMS):
        errors, partners = [], []
        for seed in seeds:
            recipe = replace(ARMS[label], seed=seed, **overrides)
            error, partner = _finished(recipe, root), _finished(recipe.partner(), root)
            if error is not None and partner is not None:
                errors.append(error)
                partners.append(partner)
        if errors:
            rows.append({"arm": label, "seeds": len(errors), "errors": errors, "partner_errors": partners,
                         "error": _mean(errors), "partner_error": _mean(partners),
                         "gap": _mean(errors) - _mean(partners)})
    best_adam = min((r["partner_error"] for r in rows if r["seeds"] == max(x["seeds"] for x in rows)), default=None)
    for row in rows:
        row["gap_to_best_adam"] = None if best_adam is None else row["error"] - best_adam
    return rows


def markdown(rows):
    lines = ["| arm | seeds | BC test error | its ADAM (same schedule) | gap | gap to ADAM's best |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        spread = f" ({', '.join(f'{e:.2f}' for e in r['errors'])})" if r["seeds"] > 1 else ""
        lines.append(f"| {r['arm']} | {r['seeds']} | {r['error']:.2f}%{spread} | {r['partner_error']:.2f}% | "
                     f"{r['gap']:+.2f} | {r['gap_to_best_adam']:+.2f} |")
    return "\n".join(lines)


# -- export of a trained arm -------------------------------------------------------------------------------
def export(recipe, root, out):
    """``packed`` and ``packed-int8`` exports of ``recipe``'s model, each scored on the test images with the
    on-device runner (LiteRT) against the Keras model, as jobs/main_job.py exports and scores."""
    import keras
    import numpy as np

    from tfquant import arrays, tflite
    from tfquant_lite.runner import run as run_model

    (x_train, y_train), (x_test, y_test) = arrays.load_fashion_mnist()
    x_train, _ = arrays.subset(x_train, y_train, recipe.train_subset)
    mean, std = (float(v[0]) for v in arrays.channel_stats(x_train))
    calibration, samples = (arrays.normalized(x, mean, std) for x in (x_train[:256], x_test[-64:]))
    x_eval, y_eval = x_test[:recipe.test_images], y_test[:recipe.test_images]
    model = keras.models.load_model(Path(root) / recipe.name() / "model.keras", compile=False)
    keras_accuracy = float(np.mean(np.argmax(model.predict(arrays.normalized(x_eval, mean, std), batch_size=500,
                                                           verbose=0), axis=1) == y_eval))
    rows = {"keras": {"accuracy": keras_accuracy}}
    out.mkdir(parents=True, exist_ok=True)
    for fmt in ("packed", "packed-int8"):
        path = out / f"{recipe.name()}-{fmt}.tflite"
        tflite.export(model, path, format=fmt, calibration=calibration, samples=samples, normalization=(mean, std))
        scored = run_model(path, x_eval, y_eval, interpreter="litert", mean=mean, std=std)
        rows[fmt] = {"accuracy": scored["accuracy"], "file_bytes": path.stat().st_size,
                     "points_below_keras": 100 * (keras_accuracy - scored["accuracy"])}
        print(f"{fmt}: {100 * scored['accuracy']:.2f}% (Keras {100 * keras_accuracy:.2f}%), "
              f"{path.stat().st_size} bytes", flush=True)
    return rows


# -- command line ------------------------------------------------------------------------------------------
def build_parser():
    p = argparse.ArgumentParser(prog="python -m training.recipe_study", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("run", "report", "export"):
        s = sub.add_parser(name)
        s.add_argument("--root", type=Path, default=Path("runs") / "recipe_study", help="folder of the runs")
        s.add_argument("--seeds", type=int, nargs="+", default=[0])
        s.add_argument("--train-subset", type=int, default=MAIN_TRAIN_IMAGES, help="training images (tests: fewer)")
        s.add_argument("--test-images", type=int, default=TEST_IMAGES, help="test images scored (tests: fewer)")
        s.add_argument("--epochs", type=int, default=None, help="override every arm's epochs (tests: 1)")
        provenance.add_output_arguments(s, "recipe_study")
        if name == "run":
            s.add_argument("--plan", choices=sorted(PLANS), default=None, help="a named list of arms")
        s.add_argument("--arms", nargs="+", default=None, metavar="ARM",
                       help=f"arm labels (default: every arm); one of: {'; '.join(ARMS)}")
        if name == "export":
            s.add_argument("--arm", required=True, help="the arm whose first seed's model is exported")
    return p


def check(args):
    labels = args.arms or (PLANS[args.plan] if getattr(args, "plan", None) else list(ARMS))
    unknown = [a for a in labels + ([args.arm] if args.command == "export" else []) if a not in ARMS]
    if unknown:
        raise SystemExit(f"error: unknown arm {unknown[0]!r}; the arms are: {'; '.join(ARMS)}")
    if min(args.seeds) < 0 or args.train_subset <= 0 or args.test_images <= 0 or (args.epochs or 1) <= 0:
        raise SystemExit("error: --seeds must be >= 0, --train-subset, --test-images and --epochs positive")
    args.labels = labels
    args.overrides = {"train_subset": args.train_subset, "test_images": args.test_images,
                      **({"epochs": args.epochs} if args.epochs else {})}
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = check(build_parser().parse_args(argv))
    if args.command == "run":
        run_all(specs(args.labels, args.seeds, **args.overrides), args.root)
    if args.command in ("run", "report"):
        rows = summarize(args.root, args.seeds, args.labels, **args.overrides)
        print(markdown(rows))
        provenance.save(args, "recipe_study", {"seeds": args.seeds, "rows": rows}, None, "training.recipe_study",
                        argv)
    else:
        recipe = replace(ARMS[args.arm], seed=args.seeds[0], **args.overrides)
        rows = export(recipe, args.root, args.out / "export")
        provenance.save(args, "recipe_export", {"arm": args.arm, "run": recipe.name(), "formats": rows}, None,
                        "training.recipe_study", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

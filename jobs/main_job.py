"""The main job, end to end: train on Fashion-MNIST, export bit-packed, run on-device, bundle the demo.

    python -m jobs.main_job                # about 6 minutes on 2 CPU cores (`make main`); writes runs/main/
    python -m jobs.main_job --quick        # a 2,000-image, 1-epoch smoke run (what the tests run)
    python -m jobs.main_job --publish      # also into android_demo/models/ and docs/RESULTS.md

1. trains the small VGG-9 (1/8 width) with Adam (full precision, the reference) and with BC-Adam by
   `tfquant.recipes.binary_adam` (binary conv kernels but the first conv's), both under the same cosine
   schedule with warm-up, with tfquant-train's code (a `TrainConfig` each; progress bars; an interrupted run
   resumes);
2. exports the BC model as `float32`, `int8`, `packed` and `packed-int8` (and the Adam model as `int8`, for
   the int8 fidelity of float- vs BC-trained nets); every export verifies itself on LiteRT against Keras;
3. runs each file on the test set with the on-device runner (`tfquant-run`, LiteRT, 1 thread): packed files
   both as downloaded (unpacked in the graph at every call) and expanded at load (the runner's default);
4. bundles `packed`, `packed-int8` and `int8` as the phone demo's models (in --out; with --publish, in
   `android_demo/models/`, which the demo serves);
5. prints one table (Keras vs each exported model: accuracy, size, ratio to float32, median latency), the
   int8 fidelity (argmax agreement of Keras and its int8 file, Adam- and BC-trained) and, with --publish,
   writes both into docs/RESULTS.md with the date.

Without --publish nothing outside --out (default runs/main, ignored by git) is written. It prints no
TensorFlow/absl start-up lines (`import tfquant` drops them while Keras loads: `tfquant/native_logs.py`).
"""

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from android_demo import build_demo
from benchmarks.results_page import RESULTS, replace_section
from tfquant import arrays, tflite
from tfquant.arrays import normalized
from tfquant.cli import common, train
from tfquant.cli.progress import bar
from tfquant.cli.train_config import TrainConfig
from tfquant_lite.files import write_text
from tfquant_lite.runner import run as run_model

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_DEMO = ROOT / "android_demo" / "models"
FORMATS = ("float32", "int8", "packed", "packed-int8")
LEARNING_RATE = 0.01  # binary-adam's best peak (seed 0: BC 8.68% at 0.01, 9.48% at 0.005, 8.80% at 0.02)
QUICK_LEARNING_RATE = 0.003  # 16 cosine updates: Keras 58.6% (Adam) / 43.2% (BC) at 0.003, 37.2% / 29.0% at 1e-3
SCHEDULE = "cosine"  # binary-adam's, for Adam too: the reference at the same schedule
BC_RECIPE = "binary-adam"  # tfquant.recipes.binary_adam (docs/RESULTS.md, "1-bit recipes")
DEMO_FORMATS = ("packed", "packed-int8", "int8")
PACKED = ("packed", "packed-int8")
# (format, expand): packed files as downloaded (None would expand them: the runner's default) and expanded
RUNS = (("float32", None), ("int8", None), ("packed", False), ("packed", True), ("packed-int8", False),
        ("packed-int8", True))


@dataclass(frozen=True)
class Destinations:
    """Where --publish writes: the demo's models and the results page (tests give temporary ones)."""
    demo: Path = PUBLISHED_DEMO
    results: Path = RESULTS


def build_parser():
    p = common.ArgumentParser(prog="python -m jobs.main_job", description=__doc__.split("\n\n")[0],
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=common.positive_int, default=5, help="training epochs of each run")
    p.add_argument("--lr", type=common.positive_float, default=None,
                   help=f"peak learning rate of the cosine schedule, for both runs (default {LEARNING_RATE}, see "
                        f"docs/RESULTS.md; {QUICK_LEARNING_RATE} with --quick, whose 16 updates are too few for "
                        f"{LEARNING_RATE})")
    p.add_argument("--train-subset", type=common.positive_int, default=None,
                   help="train on N images only (default: all 60,000)")
    p.add_argument("--test-images", type=common.positive_int, default=10000,
                   help="test images the Keras and exported models are scored on")
    p.add_argument("--out", type=common.output_dir, default=ROOT / "runs" / "main",
                   help="folder for the runs, exports, demo bundle and summary (--quick appends -quick)")
    p.add_argument("--fresh", action="store_true", help="retrain instead of resuming finished runs in --out")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2,000 training images, 1 epoch, 500 test images")
    p.add_argument("--publish", action="store_true",
                   help="also write the demo models into android_demo/models/ and the table into "
                        "docs/RESULTS.md (refused with --quick)")
    return common.add_common_arguments(p)


def check(args, destinations=Destinations()):
    if args.quick:
        if args.publish:
            raise common.BadInput("--publish writes the shipped demo models and docs/RESULTS.md: a --quick "
                                  "smoke run is not published (drop one of them)")
        args.epochs, args.train_subset, args.test_images = 1, 2000, 500
        args.out = args.out.with_name(args.out.name + "-quick")
    if args.lr is None:
        args.lr = QUICK_LEARNING_RATE if args.quick else LEARNING_RATE
    args.demo_dir = destinations.demo if args.publish else args.out / "demo"
    args.results = destinations.results
    return args


def train_configs(args):
    """{method: TrainConfig}: Adam, and BC-Adam by the recipe, at the same schedule, data and seed."""
    shared = {"model": "small_cnn", "dataset": "fashion_mnist", "lr": args.lr, "epochs": args.epochs, "seed": 0,
              "train_subset": args.train_subset, "schedule": SCHEDULE, "verbose": args.verbose}
    return {"adam": TrainConfig(method="adam", out=args.out / "adam", **shared),
            "bc": TrainConfig(method="bc", recipe=BC_RECIPE, out=args.out / "bc", **shared)}


def train_both(args):
    """Adam and BC-Adam runs of the training CLI; returns {method: (history, model path)}."""
    runs = {}
    for method, config in train_configs(args).items():
        if args.fresh and config.out.exists():
            shutil.rmtree(config.out)
        print(f"== training {config.label}{f' ({config.recipe})' if config.recipe else ''} "
              f"({config.epochs} epochs) ==")
        history = train.train(config)
        runs[method] = (history, config.out / "model.keras")
    return runs


def export_all(model_path, calibration, samples, out, normalization):
    """Every format of the model in `model_path`, each verified on `samples` (real images the calibration
    did not see); a failed verification is a failed check (exit status 1)."""
    import keras

    model = keras.models.load_model(model_path, compile=False)
    return {fmt: export_one(model, out / f"{fmt}.tflite", fmt, calibration, samples, normalization)
            for fmt in bar(FORMATS, "exporting")}


def export_one(model, path, fmt, calibration, samples, normalization):
    """Export `model` (a Keras model or a .keras path) as `fmt` to `path`; a failed verification exits 1."""
    if not hasattr(model, "predict"):
        import keras

        model = keras.models.load_model(model, compile=False)
    try:
        report = tflite.export(model, path, format=fmt, calibration=calibration, samples=samples,
                               normalization=normalization)
    except tflite.VerificationError as error:
        raise common.CheckFailed(f"the {fmt} export to {path}: {error}") from None
    print(f"exported {fmt}: {path.stat().st_size} bytes, verified")
    return report


def _main(args, destinations=Destinations()):
    args = check(args, destinations)
    started = time.time()
    runs = train_both(args)

    (x_train, y_train), (x_test, y_test) = arrays.load_fashion_mnist()
    x_train, _ = arrays.subset(x_train, y_train, args.train_subset)  # the images (and statistics) trained on
    mean, std = (float(v[0]) for v in arrays.channel_stats(x_train))
    # calibrate on training images; verify on test images the calibration did not see
    calibration, samples = (normalized(x, mean, std) for x in (x_train[:256], x_test[-64:]))
    export_dir = args.out / "export"
    export_dir.mkdir(parents=True, exist_ok=True)
    reports = export_all(runs["bc"][1], calibration, samples, export_dir, (mean, std))

    adam_int8 = export_dir / "adam-int8.tflite"
    export_one(runs["adam"][1], adam_int8, "int8", calibration, samples, (mean, std))

    x_eval, y_eval = x_test[: args.test_images], y_test[: args.test_images]
    float_bytes = reports["float32"]["file_bytes"]
    keras_predictions = {method: keras_predict(runs[method][1], x_eval, mean, std) for method in ("adam", "bc")}
    rows = [
        ("Keras, Adam (full precision)", accuracy(keras_predictions["adam"], y_eval), None, None),
        ("Keras, BC-Adam (binary-adam: binary conv kernels but the first)", accuracy(keras_predictions["bc"], y_eval),
         None, None),
    ]
    int8_predictions = {}
    for fmt, expand in bar(RUNS, "running"):
        path = export_dir / f"{fmt}.tflite"
        result = run_model(path, x_eval, y_eval, interpreter="litert", mean=mean, std=std, expand=expand)
        loaded = "" if fmt not in PACKED else ", expanded at load" if result["expanded"] else ", as downloaded"
        rows.append((f"{fmt}.tflite ({result['interpreter']}{loaded})", result["accuracy"], path.stat().st_size,
                     result["latency_ms"]["p50"]))
        if fmt == "int8":
            int8_predictions["bc"] = result["predictions"]
    int8_predictions["adam"] = run_model(adam_int8, x_eval, interpreter="litert", mean=mean, std=std)["predictions"]
    fidelity = {m: float(np.mean(np.asarray(int8_predictions[m]) == np.argmax(keras_predictions[m], axis=1)))
                for m in ("adam", "bc")}

    build_demo.build_demo({fmt: export_dir / f"{fmt}.tflite" for fmt in DEMO_FORMATS}, args.demo_dir,
                          mean=mean, std=std)
    table = format_table(rows, float_bytes) + "\n\n" + format_fidelity(fidelity, len(y_eval))
    minutes = (time.time() - started) / 60
    print(f"\n{table}\n\nAccuracy on the first {len(y_eval)} test images (exported models: one at a time). "
          f"Demo models in {args.demo_dir}. Total {minutes:.1f} min.")
    write_text(args.out / "main_job.json", json.dumps({"rows": rows, "int8_fidelity": fidelity, "minutes": minutes},
                                                      indent=1))
    if args.publish:
        replace_section("Main job (end to end)", results_section(table, args, minutes, len(y_eval)), args.results)
        print(f"published: {args.demo_dir} and {args.results}")


def main(argv=None, destinations=Destinations()):
    """Run the main job; returns the exit status (`tfquant.cli.common`). --publish writes into `destinations`
    (the shipped demo models and docs/RESULTS.md unless a caller, e.g. a test, gives others)."""
    return common.run(lambda args: _main(args, destinations), build_parser(), argv)


def keras_predict(model_path, images, mean, std):
    """The Keras model's class probabilities for 8-bit `images`."""
    import keras

    model = keras.models.load_model(model_path, compile=False)
    return model.predict(normalized(images, mean, std), batch_size=500, verbose=0)


def accuracy(probabilities, labels):
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def format_fidelity(fidelity, count):
    return (f"int8 fidelity (argmax agreement of the Keras model and its `int8` file on {count} test images): "
            f"Adam-trained {fidelity['adam'] * 100:.2f}%, BC-Adam-trained {fidelity['bc'] * 100:.2f}%.")


def format_table(rows, float_bytes):
    lines = ["| model | test accuracy | file size | vs float32 | median latency |", "|---|---|---|---|---|"]
    for name, accuracy, size, latency in rows:
        size_text = "" if size is None else f"{size / 1024:.1f} KiB"
        ratio = "" if size is None else f"{float_bytes / size:.1f}x smaller" if size < float_bytes else "1x"
        latency_text = "" if latency is None else f"{latency:.3f} ms"
        lines.append(f"| {name} | {accuracy * 100:.2f}% | {size_text} | {ratio} | {latency_text} |")
    return "\n".join(lines)


def results_section(table, args, minutes, test_images):
    """The results page's section; `test_images`: how many were scored (--test-images, at most the test set's)."""
    return (
        f"`python -m jobs.main_job --publish`, run on {time.strftime('%Y-%m-%d')}: small VGG-9 "
        f"(1/8 width) on Fashion-MNIST, {args.epochs} epochs, batch 128, Adam and BC-Adam "
        f"(`tfquant.recipes.binary_adam`: first conv in full precision) at peak lr {args.lr:g} with the cosine "
        f"schedule (10% warm-up); the BC-Adam model "
        f"exported and run with `tfquant-run` on LiteRT, 1 thread; accuracies on the first "
        f"{test_images} test images; {minutes:.1f} minutes in all on 2 CPU cores (shared).\n\n{table}\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())

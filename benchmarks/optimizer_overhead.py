"""Step-time overhead of BC-, SR- and R-Adam against plain Adam on the paper's VGG-9 (Table 2).

Same process, same initial weights, same batch; optimizers interleaved round by round (in a rotating
order), so the machine's noise hits every optimizer alike. Reports the median step time of each optimizer
and its ratio to Adam's, with and without XLA (`jit_compile`).

    python -m benchmarks.optimizer_overhead                 # VGG-9 at half width, batch 128, 32x32x3
    python -m benchmarks.optimizer_overhead --width 1 --write   # the paper's width; table into docs/RESULTS.md
"""

import argparse
import itertools
import platform
import statistics
import time

import keras
import numpy as np

import tfquant
from benchmarks.export_results import replace_section
from training.models import vgg9

OPTIMIZERS = {
    "Adam": lambda: keras.optimizers.Adam(1e-3),
    "BC-Adam": lambda: tfquant.BCAdam(1e-3),
    "SR-Adam": lambda: tfquant.SRAdam(1e-3, seed=0),
    "R-Adam": lambda: tfquant.RAdam(1e-3),
}


def build(optimizer, width, jit, weights):
    model = vgg9(input_shape=(32, 32, 3), num_classes=10, width=width)
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=jit)
    return model


def measure(width, batch, rounds, steps, jit):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=batch)
    weights, models = None, {}
    for name, make in OPTIMIZERS.items():
        models[name] = build(make(), width, jit, weights)
        weights = weights or models[name].get_weights()
    for model in models.values():  # trace, compile and warm up
        for _ in range(3):
            model.train_on_batch(x, y)
    times = {name: [] for name in models}
    names = list(models)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            for _ in range(steps):
                start = time.perf_counter()
                models[name].train_on_batch(x, y)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=float, default=0.5, help="VGG-9 width multiplier (1 = the paper's)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3, help="steps per optimizer per round")
    parser.add_argument("--write", action="store_true", help="write the table into docs/RESULTS.md")
    args = parser.parse_args()

    rows = []
    for jit in (False, True):
        medians = measure(args.width, args.batch, args.rounds, args.steps, jit)
        for name, seconds in medians.items():
            rows.append((jit, name, seconds * 1e3, seconds / medians["Adam"]))
            print(f"jit_compile={jit!s:5}  {name:8} {seconds * 1e3:8.1f} ms/step  ratio {seconds / medians['Adam']:.3f}")

    table = "\n".join(
        ["| jit_compile | optimizer | median step (ms) | ratio to Adam |", "|---|---|---|---|"]
        + [f"| {jit} | {name} | {ms:.1f} | {ratio:.3f} |" for jit, name, ms, ratio in rows]
    )
    body = (
        f"`python -m benchmarks.optimizer_overhead --width {args.width:g} --write` (VGG-9 of Table 2 at width "
        f"{args.width:g}, 32x32x3 inputs, batch {args.batch}, {args.rounds} interleaved rounds of {args.steps} "
        f"steps per optimizer, Keras {keras.__version__} on {keras.backend.backend()}, "
        f"{platform.processor() or platform.machine()}, measured {time.strftime('%Y-%m-%d')}):\n\n{table}\n"
    )
    print(body)
    if args.write:
        replace_section("Optimizer overhead (issue: core)", body)


if __name__ == "__main__":
    main()

"""Step-time overhead of BC-, SR- and R-Adam against plain Adam on the paper's VGG-9 (Table 2).

Same process, same initial weights, same batch; optimizers interleaved round by round (in a rotating
order), so the machine's noise hits every optimizer alike. Reports the median step time of each optimizer
and its ratio to Adam's, with and without XLA (`jit_compile`), and, because a whole step is noisy on a shared
machine, the time of `optimizer.apply` alone on the same variables and gradients (a traced `tf.function`):
its difference to Adam's, divided by Adam's whole step, is each method's overhead with far less noise.

    python -m benchmarks.optimizer_overhead                 # VGG-9 at half width, batch 128, 32x32x3
    python -m benchmarks.optimizer_overhead --width 1 --write   # the paper's width; table into docs/RESULTS.md
"""

import argparse
import platform
import time

import keras
import numpy as np
import tensorflow as tf

import tfquant
from benchmarks.results_page import replace_section
from benchmarks.timing import add_arguments, interleaved_medians
from tfquant.models import vgg9

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
    return interleaved_medians({name: lambda m=m: m.train_on_batch(x, y) for name, m in models.items()}, rounds, steps)


def measure_apply(width, rounds):
    """Median time of `optimizer.apply` alone (traced, no XLA) on VGG-9's variables with fixed gradients."""
    variables = vgg9(input_shape=(32, 32, 3), num_classes=10, width=width).trainable_variables
    rng = np.random.default_rng(0)
    grads = [tf.constant(rng.normal(scale=1e-3, size=v.shape).astype("float32")) for v in variables]
    functions = {}
    for name, make in OPTIMIZERS.items():
        optimizer = make()
        optimizer.build(variables)
        functions[name] = tf.function(lambda optimizer=optimizer: optimizer.apply(grads, variables))
    return interleaved_medians(functions, rounds * 3, 1, warmup=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser, "optimizer")
    parser.add_argument("--write", action="store_true", help="write the table into docs/RESULTS.md")
    args = parser.parse_args()

    steps = {jit: measure(args.width, args.batch, args.rounds, args.steps, jit) for jit in (False, True)}
    applies = measure_apply(args.width, args.rounds)
    lines = ["| optimizer | step, no XLA (ms) | ratio | step, XLA (ms) | ratio | `apply` alone (ms) "
             "| (apply - Adam's) / Adam's step |", "|---|---|---|---|---|---|---|"]
    for name in OPTIMIZERS:
        plain, xla = steps[False], steps[True]
        extra = (applies[name] - applies["Adam"]) / plain["Adam"]
        lines.append(f"| {name} | {plain[name] * 1e3:.1f} | {plain[name] / plain['Adam']:.3f} | {xla[name] * 1e3:.1f} "
                     f"| {xla[name] / xla['Adam']:.3f} | {applies[name] * 1e3:.2f} | {1 + extra:.3f} |")
    table = "\n".join(lines)
    body = (
        f"`python -m benchmarks.optimizer_overhead --width {args.width:g} --write` (VGG-9 of Table 2 at width "
        f"{args.width:g}, 32x32x3 inputs, batch {args.batch}, {args.rounds} interleaved rounds of {args.steps} "
        f"steps per optimizer, and {args.rounds * 3} interleaved `apply` calls; Keras {keras.__version__} on "
        f"{keras.backend.backend()}, "
        f"{platform.processor() or platform.machine()}, measured {time.strftime('%Y-%m-%d')}):\n\n{table}\n"
    )
    print(body)
    if args.write:
        replace_section("Optimizer overhead (issue: core)", body)


if __name__ == "__main__":
    main()

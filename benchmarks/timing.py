"""Interleaved step timing, free of any framework so that Keras 3 and legacy tf-keras scripts share it.

Each of the named zero-argument ``step`` functions is first called ``warmup`` times (tracing, compiling),
then every round calls each ``steps`` times, in an order that rotates by one name per round, so that the
machine's slow and fast phases hit every candidate alike. The result is each name's median step time (s).
"""
import statistics
import time


def interleaved_medians(step_fns, rounds, steps, warmup=3):
    """{name: median seconds of one call of ``step_fns[name]``} over ``rounds`` x ``steps`` timed calls."""
    for step in step_fns.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in step_fns}
    names = list(step_fns)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            for _ in range(steps):
                start = time.perf_counter()
                step_fns[name]()
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def add_arguments(parser, unit="model"):
    """The options every VGG-9 step-time benchmark shares (its net, batch and interleaving)."""
    parser.add_argument("--width", type=float, default=0.5, help="VGG-9 width multiplier (1 = the paper's)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=3, help=f"steps per {unit} per round")

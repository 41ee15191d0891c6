"""tfquant's BC-Adam against larq's BinaryConnect: step time on the paper's VGG-9 (Table 2).

    bash benchmarks/larq_env.sh                       # once: .venv-larq (larq 0.14 needs legacy tf-keras)
    python -m benchmarks.larq_comparison              # VGG-9 at half width, batch 128, 32x32x3
    python -m benchmarks.larq_comparison --write      # table into docs/RESULTS.md

Both do the same arithmetic: a real latent kernel w_r, binary weights w_b = sign(w_r) in the forward pass,
the gradient taken at w_b applied to w_r by Adam, w_r clipped to [-1, 1]. (larq's straight-through
estimator also zeroes the gradient where |w_r| > 1, which the clip never lets happen.) tfquant does it in
the optimizer (`tfquant.BCAdam` over plain Conv2D layers, Keras 3); larq in the layer
(`QuantConv2D(kernel_quantizer="ste_sign", kernel_constraint="weight_clip")` + Adam, legacy tf-keras).

larq cannot be imported next to Keras 3, so it runs in `.venv-larq` as a subprocess
(`benchmarks/larq_step_time.py`), and this process measures BC-Adam and Keras 3 Adam with
`benchmarks.optimizer_overhead.measure`. The two alternate ``--alternations`` times (larq first on even
turns, tfquant first on odd ones), so slow phases of the shared machine hit both. Each side's overhead
is a same-process ratio to its own float baseline (reliable); tfquant BC-Adam / larq BC divides medians
taken in different processes at different moments (cross-process: only as good as the load was steady).
Every figure reported is the median over the alternations of that alternation's value (ratios with the
range over the alternations), so the ms columns' quotients need not equal the ratio columns.
"""

import argparse
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import time

import keras

from benchmarks.optimizer_overhead import measure
from benchmarks.results_page import replace_section
from benchmarks.timing import add_arguments
from tfquant.models import vgg9

ROOT = pathlib.Path(__file__).resolve().parent.parent
LARQ_PYTHON = ROOT / ".venv-larq" / "bin" / "python"
LARQ_MODULE = "benchmarks.larq_step_time"
SECTION = "Against larq (BC step time)"
JITS = (False, True)


def run_larq(width, batch, rounds, steps, python=LARQ_PYTHON):
    """Run `larq_step_time.py` in the legacy venv; its JSON result."""
    if not pathlib.Path(python).exists():
        raise SystemExit(f"{python} not found: create the larq venv with `bash benchmarks/larq_env.sh`")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([str(python), "-m", LARQ_MODULE, "--width", str(width), "--batch", str(batch),
                           "--rounds", str(rounds), "--steps", str(steps)],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"larq_step_time.py failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_tfquant(width, batch, rounds, steps):
    """{jit: {"BC-Adam": s, "Adam": s}} from `optimizer_overhead.measure` (same process, interleaved)."""
    out = {}
    for jit in JITS:
        medians = measure(width, batch, rounds, steps, jit)
        out[jit] = {name: medians[name] for name in ("BC-Adam", "Adam")}
    return out


def alternation(larq, tfq):
    """Step times (ms) and ratios of one alternation, per jit_compile setting."""
    rows = {}
    for jit in JITS:
        lq, tq = larq["median_s"][f"jit_compile={jit}"], tfq[jit]
        rows[jit] = {
            "larq BC (ms)": lq["larq BC"] * 1e3, "tf-keras float (ms)": lq["float"] * 1e3,
            "tfquant BC-Adam (ms)": tq["BC-Adam"] * 1e3, "Keras 3 Adam (ms)": tq["Adam"] * 1e3,
            "larq BC / its float": lq["larq BC"] / lq["float"],
            "BC-Adam / Adam": tq["BC-Adam"] / tq["Adam"],
            "BC-Adam / larq BC (cross-process)": tq["BC-Adam"] / lq["larq BC"],
            "Keras 3 Adam / tf-keras float (cross-process)": tq["Adam"] / lq["float"],
        }
    return rows


def check_mirror(larq, width):
    """The tf-keras copy of VGG-9 must have exactly the Keras 3 model's trainable parameters."""
    ours = sum(math.prod(v.shape)
               for v in vgg9(input_shape=(32, 32, 3), num_classes=10, width=width).trainable_variables)
    theirs = larq["trainable_params"]
    if any(n != ours for n in theirs.values()):
        raise SystemExit(f"larq_step_time.py's VGG-9 has {theirs} trainable parameters, tfquant.models.vgg9 "
                         f"{ours}: update its copy of the architecture")


def compare(width, batch, alternations, rounds, steps):
    """Alternate larq (subprocess) and tfquant (here); per jit setting, the median of each column."""
    runs, versions = [], None
    for turn in range(alternations):
        if turn % 2 == 0:
            larq = run_larq(width, batch, rounds, steps)
            tfq = run_tfquant(width, batch, rounds, steps)
        else:
            tfq = run_tfquant(width, batch, rounds, steps)
            larq = run_larq(width, batch, rounds, steps)
        check_mirror(larq, width)
        versions = larq["versions"]
        runs.append(alternation(larq, tfq))
        for jit, row in runs[-1].items():
            print(f"alternation {turn + 1}/{alternations} jit_compile={jit!s:5} "
                  + "  ".join(f"{col} {value:.3f}" for col, value in row.items() if "/" in col), flush=True)
    summary = {jit: {col: statistics.median(run[jit][col] for run in runs) for col in runs[0][jit]}
               for jit in JITS}
    spread = {jit: {col: (min(run[jit][col] for run in runs), max(run[jit][col] for run in runs))
                    for col in runs[0][jit]} for jit in JITS}
    return summary, spread, versions


def table(summary, spread):
    """Markdown table: step times (ms) as medians, ratios as 'median (min-max)' over the alternations."""
    cols = list(summary[JITS[0]])
    lines = ["| jit_compile | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for jit, row in summary.items():
        cells = [f"{row[c]:.1f}" if c.endswith("(ms)")
                 else f"{row[c]:.3f} ({spread[jit][c][0]:.2f}-{spread[jit][c][1]:.2f})"
                 for c in cols]
        lines.append(f"| {jit} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--alternations", type=int, default=3, help="larq/tfquant alternations")
    parser.add_argument("--write", action="store_true", help=f"write the table into docs/RESULTS.md ({SECTION})")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    summary, spread, versions = compare(args.width, args.batch, args.alternations, args.rounds, args.steps)
    load_after = os.getloadavg()[0]
    body = (
        f"`python -m benchmarks.larq_comparison --alternations {args.alternations} --rounds {args.rounds} "
        f"--steps {args.steps} --write` after `bash benchmarks/larq_env.sh` (VGG-9 of Table 2 at width "
        f"{args.width:g}, 32x32x3 random inputs, batch {args.batch}, Adam(1e-3), `train_on_batch`; "
        f"tfquant: Keras {keras.__version__} on {keras.backend.backend()}, `tfquant.BCAdam` vs `keras.optimizers.Adam` "
        f"through `benchmarks.optimizer_overhead.measure`; larq {versions['larq']} on tf-keras {versions['tf-keras']}, "
        f"tensorflow-cpu {versions['tensorflow-cpu']}, numpy {versions['numpy']}, "
        f"`QuantConv2D(kernel_quantizer=\"ste_sign\", kernel_constraint=\"weight_clip\")` + Adam vs tf-keras "
        f"`Conv2D` + Adam in a subprocess (`python -m benchmarks.larq_step_time`); {args.alternations} alternations "
        f"of the two processes, each with {args.rounds} interleaved rounds of {args.steps} steps per model after "
        f"a warm-up; medians over the alternations, ratios with their range; "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, 1-min load average {load_before:.1f} before and {load_after:.1f} after, "
        f"measured {time.strftime('%Y-%m-%d')}):\n\n{table(summary, spread)}\n\n"
        "Both implement BinaryConnect with the same arithmetic (sign of a clipped latent kernel forward, "
        "its gradient applied to the latent kernel): larq in the layer, tfquant in the optimizer over plain "
        "`Conv2D`. The two *overhead* columns (`larq BC / its float`, `BC-Adam / Adam`) are ratios inside one "
        "process, interleaved, so they are what to compare: the cost each library adds over its own float "
        "training. The *cross-process* columns divide medians measured in different processes (Keras 3 vs "
        "tf-keras) at different moments on a shared machine; they also include the two Keras versions' own "
        "speed difference, which `Keras 3 Adam / tf-keras float` shows.\n"
    )
    print(body)
    if args.write:
        replace_section(SECTION, body)


if __name__ == "__main__":
    main()

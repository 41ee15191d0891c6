"""Table 1, section 6.1 (big-batch SR) and Figs. 4, 5, 7 of the paper on Fashion-MNIST, on this machine's CPUs.

Every run is ``python -m training.train`` with the settings below (one process at a time, each resumable),
writing into ``runs/table1/<run>/``; then the report: a Markdown table of test error (mean and spread over
seeds) and the plots in ``docs/figures/``.

    nohup nice -n 5 python -m training.table1 > runs/table1.log 2>&1 &     # everything (70 minutes here)
    python -m training.table1 --report-only                                # tables and plots from finished runs
    python -m training.table1 --report-only --publish                      # ... also into docs/figures/
    python -m training.table1 --epochs 40 --root runs/t1_40 --runs ADAM BC-ADAM SR-ADAM R-ADAM   # some runs, longer
    python -m training.table1 --epochs 40 --root runs/t1_40 --runs "BC-ADAM no clip" --fig7-seeds 0 1 2
                                                                     # ... and Fig. 7's arms at 3 seeds

The configuration (VGG-9 at 1/4 width on 28x28x1, 30k training images, 8 epochs with the paper's learning
rate drops scaled to 8 epochs: 0.01, /10 after epoch 4 and 6) is what fits here: see docs/REPRODUCTION.md.
``--epochs`` scales the drops alike (the training CLI's 'proportional' schedule).
"""

import argparse
import itertools
import json
import statistics
import subprocess
import sys
from pathlib import Path

from tfquant_lite import files
from training import plots, provenance

COMMON = ["--model", "vgg9", "--width", "0.25", "--dataset", "fashion_mnist",
          "--train-subset", "30000", "--lr", "0.01", "--progress", "epochs"]
EPOCHS = 8
# Table 1's rows, in the paper's order: (label, train.py arguments).
ROWS = {
    "ADAM": ["--method", "adam"],
    "BC-ADAM": ["--method", "bc"],
    "Big SR-ADAM": ["--method", "sr", "--batch-size", "1024"],
    "SR-ADAM": ["--method", "sr"],
    "R-ADAM": ["--method", "r"],
}
BATCHES = (128, 256, 512, 1024)  # section 6.1: SR-ADAM at these batch sizes (128 and 1024 are rows above)
WEIGHT_DECAY = (1e-5, 1e-4)  # Fig. 7: BC-ADAM with L2 weight decay (0 is the BC-ADAM row)
FULL_PRECISION_DECAY = (1e-5,)  # Fig. 7 as Torch7 ran it: c * w_r added to BC's gradient (--full-precision-l2)
NO_CLIP = "BC-ADAM no clip"  # Fig. 7's other question: BC without its clip of w_r (eq. 7 as printed)
PAPER_CIFAR10_VGG9 = {"ADAM": 7.97, "BC-ADAM": 10.36, "Big SR-ADAM": 16.95, "SR-ADAM": 23.33, "R-ADAM": 23.99}


def run_dir(root, label, seed):
    return root / f"{label.lower().replace(' ', '_')}-s{seed}"


def plan(seeds, only=None, fig7_seeds=None):
    """[(run name, train.py arguments)] in the order they run: all rows for each seed first, then extras
    (the Fig. 7 arms at `fig7_seeds`, default the first seed only); ``only``: the labels to keep."""
    fig7_seeds = seeds[:1] if fig7_seeds is None else fig7_seeds
    runs = [(f"{label}|{seed}", args + ["--seed", str(seed)]) for seed in seeds for label, args in ROWS.items()]
    runs += [(f"SR-ADAM b{b}|{seed}", ["--method", "sr", "--batch-size", str(b), "--seed", str(seed)])
             for seed in seeds for b in BATCHES if b not in (128, 1024)]
    runs += [(f"BC-ADAM wd{wd:g}|{s}", ["--method", "bc", "--weight-decay", str(wd), "--seed", str(s)])
             for s in fig7_seeds for wd in WEIGHT_DECAY]
    runs += [(f"BC-ADAM wr-decay{wd:g}|{s}", ["--method", "bc", "--full-precision-l2", str(wd), "--seed", str(s)])
             for s in fig7_seeds for wd in FULL_PRECISION_DECAY]
    runs += [(f"{NO_CLIP}|{s}", ["--method", "bc", "--no-clip", "--seed", str(s)]) for s in fig7_seeds]
    return [run for run in runs if only is None or run[0].split("|")[0] in only]


def labels():
    """Every label `plan` can run, for --runs."""
    return list(dict.fromkeys(name.split("|")[0] for name, _ in plan([0])))


def run_all(root, seeds, epochs=EPOCHS, only=None, fig7_seeds=None):
    for name, args in plan(seeds, only, fig7_seeds):
        label, seed = name.split("|")
        out = run_dir(root, label, seed)
        if (out / "history.json").exists():
            continue
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "training.train", *COMMON, "--epochs", str(epochs), *args, "--out", str(out)]
        print("+", " ".join(cmd), flush=True)
        with open(out / "train.log", "a") as log:
            subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=True)


def histories(root, label, seeds):
    """The finished runs' histories of ``label``, one per seed that has finished."""
    found = [run_dir(root, label, s) / "history.json" for s in seeds]
    return [json.loads(p.read_text()) for p in found if p.exists()]


def _mean_spread(values, digits=2):
    if not values:
        return "not run", ""
    spread = f"± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.{digits}f}", spread


FIG7_ARMS = {"0": "BC-ADAM", **{f"{w:g}": f"BC-ADAM wd{w:g}" for w in WEIGHT_DECAY},
             **{f"{w:g} on w_r": f"BC-ADAM wr-decay{w:g}" for w in FULL_PRECISION_DECAY}, "0, no clip": NO_CLIP}


def _gap(history):
    """Fig. 7(b)'s figure: mean |w_b - w_r| over the conv layers after the last epoch."""
    return statistics.mean(v[-1] for v in plots.layer_series(history, "bc_gap").values())


def report(root, seeds, figures, fig7_seeds=None):
    fig7_seeds = seeds[:1] if fig7_seeds is None else fig7_seeds
    figures.mkdir(parents=True, exist_ok=True)
    lines = ["| method | test error (%) mean | ± std | seeds | final train error (%) | paper, VGG-9 CIFAR-10 |",
             "|---|---|---|---|---|---|"]
    means = {}
    for label in ROWS:
        hs = histories(root, label, seeds)
        test = [h[-1]["test_error"] for h in hs]
        mean, spread = _mean_spread(test)
        train_mean, _ = _mean_spread([h[-1]["train_error"] for h in hs])
        means[label] = statistics.mean(test) if test else None
        lines.append(f"| {label} | {mean} | {spread} | {len(hs)} | {train_mean} | {PAPER_CIFAR10_VGG9[label]} |")
    order = [m for m in means.values() if m is not None]
    missing = [label for label, m in means.items() if m is None]
    if len(order) < 2:
        verdict = "fewer than two rows have finished"
    else:
        verdict = "holds" if all(a < b for a, b in itertools.pairwise(order)) else "does NOT hold"
        verdict += f" on the {len(order)} rows run" + (f" ({', '.join(missing)}: not run)" if missing else "")
    lines.append(f"\nPaper's ordering ADAM < BC < Big SR < SR < R on the means: {verdict}")

    lines += ["\n| SR-ADAM batch | test error (%) mean | ± std | seeds "
              "| changed since start, mean over conv layers (%) |",
              "|---|---|---|---|---|"]
    batch_curves = {}
    for b in BATCHES:
        label = {128: "SR-ADAM", 1024: "Big SR-ADAM"}.get(b, f"SR-ADAM b{b}")
        hs = histories(root, label, seeds)
        mean, spread = _mean_spread([h[-1]["test_error"] for h in hs])
        changed = [statistics.mean(plots.layer_series(h, "changed_since_start")[k][-1]
                                   for k in plots.layer_series(h, "changed_since_start")) for h in hs]
        lines.append(f"| {b} | {mean} | {spread} | {len(hs)} | {_mean_spread(changed)[0]} |")
        if hs:
            batch_curves[f"batch {b}"] = hs[0]

    first = {label: hs[0] for label in ROWS if (hs := histories(root, label, seeds))}
    arms = {k: hs for k, label in FIG7_ARMS.items() if (hs := histories(root, label, fig7_seeds))}
    curves = {f"WD={k}": hs[0] for k, hs in arms.items()}  # the plots: each arm's first finished seed
    quantized = {k: first[k] for k in ("R-ADAM", "SR-ADAM", "BC-ADAM") if k in first}
    if first:  # a plot with no finished run is not drawn
        plots.errors(first, figures / "table1_errors.png", title=f"VGG-9/4 on Fashion-MNIST, seed {seeds[0]}")
    if quantized:
        plots.per_layer(quantized, "changed_since_start", figures / "fig4_changed_since_start.png",
                        "weights changed since start (%)", "Fig. 4: weight changes per conv layer")
    if batch_curves:
        plots.per_layer(batch_curves, "changed_since_start", figures / "fig5b_sr_batch_changed.png",
                        "weights changed since start (%)", "Fig. 5(b): SR-ADAM, by batch size")
        plots.per_layer(batch_curves, "changed_in_window", figures / "fig5c_sr_batch_changed_per_epoch.png",
                        "weights changed in the epoch (%)", "Fig. 5(c): SR-ADAM, changes per epoch")
        plots.errors(batch_curves, figures / "fig5a_sr_batch_errors.png", title="Fig. 5(a): SR-ADAM by batch size")
    if curves:
        plots.per_layer(curves, "bc_gap", figures / "fig7_bc_gap.png", "mean |w_b - w_r|",
                        "Fig. 7: BC-ADAM, weight decay")
        plots.errors(curves, figures / "fig7_bc_wd_errors.png", title="Fig. 7(a): BC-ADAM with weight decay")
    lines += [f"\n| BC-ADAM weight decay (seeds {', '.join(map(str, fig7_seeds))}) | seeds | test error (%) mean "
              "| ± std | mean \\|w_b - w_r\\| over conv layers, last epoch | ± std |", "|---|---|---|---|---|---|"]
    for k, hs in arms.items():
        error, gap = _mean_spread([h[-1]["test_error"] for h in hs]), _mean_spread([_gap(h) for h in hs], 3)
        lines.append(f"| {k} | {len(hs)} | {error[0]} | {error[1]} | {gap[0]} | {gap[1]} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path("runs/table1"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=EPOCHS, help=f"epochs of every run (default: {EPOCHS})")
    p.add_argument("--runs", nargs="+", choices=labels(), metavar="LABEL",
                   help=f"run only these (default: all): {', '.join(labels())}")
    p.add_argument("--fig7-seeds", type=int, nargs="+", default=None,
                   help="seeds of the Fig. 7 arms (weight decay, no clip; default: the first of --seeds)")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--publish", action="store_true", help=f"write the plots into {provenance.FIGURES}/ too")
    args = p.parse_args(argv)
    if not args.report_only:
        run_all(args.root, args.seeds, args.epochs, args.runs, args.fig7_seeds)
    elif not any(histories(args.root, label, args.seeds) for label in ROWS):
        p.error(f"no finished runs in {args.root} for seeds {args.seeds}: run `python -m training.table1` first "
                "(70 minutes), or point --root at a folder of finished runs")
    for figures in [args.root / "figures"] + ([provenance.FIGURES] if args.publish else []):
        text = report(args.root, args.seeds, figures, args.fig7_seeds)
        record = provenance.record("training.table1", argv)
        files.write_text(figures / "table1.json", json.dumps({"report": text, "provenance": record}, indent=1) + "\n")
    files.write_text(args.root / "report.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()

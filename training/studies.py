"""The studies of issue 11 on Fashion-MNIST (VGG-9 at 1/4 width, all 10,000 test images), each run a fixed number
of updates with every binary weight flip counted (training/short_runs.py).

    nohup nice -n 10 python -m training.studies run --seeds 0 1 2 > runs/studies.log 2>&1 &
    python -m training.studies report                      # Markdown tables of what has finished

Reduced scale (10,000 training images, 200 updates; CPU):

* ``bigbatch``: SR-ADAM at batch 128, 256, 512, 1024 with the *same number of updates* (so the bigger batches
  see proportionally more epochs), and an SR-SGD arm (momentum 0.9, lr 0.1) at 128 and 1024.
* ``bc``: Fig. 4's regime, the BC recipe and Fig. 7 at batch 128, 200 updates: ADAM, SR-ADAM, BC-ADAM with
  its w_r initialised He-normal / U(-1, 1) / N(0, 0.01^2), BC-ADAM with ScaledBinary, BC-ADAM and ADAM at
  lr 1e-3, BC-ADAM without the clip of w_r (eq. 7 as printed), with Torch-style weight decay 1e-4 on w_r, both.

At Table 1's scale (30,000 training images; 1,880 updates = Table 1's 8 epochs at batch 128; run on a GPU with
the JAX backend, ``--workers 12 --order longest``):

* ``bigbatch_t1``: SR-ADAM and SR-SGD at batch 128, 256, 512, 1024, 1,880 updates each (batch 1024 sees 64
  epochs of data), seeds 0-4.
* ``fig4_t1``: Fig. 4's regime, 40 epochs (9,400 updates) at batch 128: ADAM, SR-ADAM, BC-ADAM with w_r
  He-normal / U(-1, 1) / N(0, 0.01^2), BC-ADAM ScaledBinary; seeds 0-2.
* ``fig7_t1``: Table 1's 8 epochs: ADAM, BC-ADAM with and without the clip of w_r, with Torch-style weight decay
  1e-4 on w_r, both; seeds 0-2.

Seeds run outermost (all of seed 0's runs, then seed 1's, ...), the most telling runs of a seed first (FIRST),
so that an interrupted study still has complete seeds; every finished run is kept and skipped next time.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

from tfquant_lite import files
from training import provenance
from training.short_runs import Spec, run_plan

BIGBATCH_UPDATES = 200
BC_UPDATES = 200  # = BIGBATCH_UPDATES, so the bc study's SR-ADAM is the bigbatch study's batch-128 run


def bigbatch(seed, updates=BIGBATCH_UPDATES):
    sr_adam = [Spec("sr", batch=b, updates=updates, seed=seed) for b in (128, 256, 512, 1024)]
    sr_sgd = [Spec("sr", "sgd", batch=b, updates=updates, lr=0.1, seed=seed) for b in (128, 1024)]
    return {f"SR-ADAM b{s.batch}": s for s in sr_adam} | {f"SR-SGD b{s.batch}": s for s in sr_sgd}


def bc(seed, updates=BC_UPDATES):
    return {
        "ADAM": Spec("adam", updates=updates, seed=seed),
        "SR-ADAM": Spec("sr", updates=updates, seed=seed),
        "BC-ADAM (w_r He-normal)": Spec("bc", updates=updates, seed=seed),
        "BC-ADAM (w_r U(-1,1))": Spec("bc", updates=updates, seed=seed, init="uniform"),
        "BC-ADAM (w_r N(0,0.01^2))": Spec("bc", updates=updates, seed=seed, init="small"),
        "BC-ADAM ScaledBinary": Spec("bc", updates=updates, seed=seed, quantizer="scaled_binary"),
        "BC-ADAM lr 1e-3": Spec("bc", updates=updates, seed=seed, lr=1e-3),
        "ADAM lr 1e-3": Spec("adam", updates=updates, seed=seed, lr=1e-3),
        "BC-ADAM no clip (eq. 7)": Spec("bc", updates=updates, seed=seed, clip=False),
        "BC-ADAM wd 1e-4 on w_r": Spec("bc", updates=updates, seed=seed, wd=1e-4),
        "BC-ADAM wd 1e-4 on w_r, no clip": Spec("bc", updates=updates, seed=seed, wd=1e-4, clip=False),
    }


T1_SUBSET = 30_000
T1_UPDATES = 1_880  # Table 1: 8 epochs of 235 batches of 128 (the last one partial)
LONG_UPDATES = 9_400  # 40 epochs


def _table1_scale(seed, updates=T1_UPDATES):
    """The Spec arguments shared by the Table-1-scale studies."""
    return {"train_subset": T1_SUBSET, "updates": updates, "seed": seed}


def bigbatch_t1(seed):
    t1 = _table1_scale(seed)
    return ({f"SR-ADAM b{b}": Spec("sr", batch=b, **t1) for b in (128, 256, 512, 1024)}
            | {f"SR-SGD b{b}": Spec("sr", "sgd", batch=b, lr=0.1, **t1) for b in (128, 256, 512, 1024)})


def fig4_t1(seed):
    long = _table1_scale(seed, LONG_UPDATES)
    return {
        "ADAM": Spec("adam", **long),
        "SR-ADAM": Spec("sr", **long),
        "BC-ADAM (w_r He-normal)": Spec("bc", **long),
        "BC-ADAM (w_r U(-1,1))": Spec("bc", init="uniform", **long),
        "BC-ADAM (w_r N(0,0.01^2))": Spec("bc", init="small", **long),
        "BC-ADAM ScaledBinary": Spec("bc", quantizer="scaled_binary", **long),
    }


def fig7_t1(seed):
    t1 = _table1_scale(seed)
    return {
        "ADAM": Spec("adam", **t1),
        "BC-ADAM (clip, eq. 7 + BinaryConnect)": Spec("bc", **t1),
        "BC-ADAM no clip (eq. 7)": Spec("bc", clip=False, **t1),
        "BC-ADAM wd 1e-4 on w_r": Spec("bc", wd=1e-4, **t1),
        "BC-ADAM wd 1e-4 on w_r, no clip": Spec("bc", wd=1e-4, clip=False, **t1),
    }


STUDIES = {"bigbatch": bigbatch, "bc": bc, "bigbatch_t1": bigbatch_t1, "fig4_t1": fig4_t1, "fig7_t1": fig7_t1}
SEEDS = {"bigbatch_t1": range(5), "fig4_t1": range(3), "fig7_t1": range(3)}  # the rest: --seeds (0 1 2)
FIRST = [("bigbatch", "SR-ADAM b128"), ("bigbatch", "SR-ADAM b1024"), ("bc", "BC-ADAM (w_r He-normal)"),
         ("bc", "BC-ADAM (w_r U(-1,1))"), ("bc", "ADAM"), ("bc", "SR-ADAM"), ("bc", "BC-ADAM (w_r N(0,0.01^2))"),
         ("bc", "BC-ADAM no clip (eq. 7)"), ("bc", "BC-ADAM wd 1e-4 on w_r"), ("bc", "BC-ADAM ScaledBinary"),
         ("bc", "BC-ADAM lr 1e-3"), ("bc", "ADAM lr 1e-3"), ("bigbatch", "SR-SGD b128"), ("bigbatch", "SR-SGD b1024")]


def seeds_of(study, seeds=None):
    """The seeds ``study`` runs: ``seeds`` when given, else its own (SEEDS), else 0, 1, 2."""
    return list(seeds if seeds is not None else SEEDS.get(study, range(3)))


def plan(studies, seeds=None, order="seeds"):
    """The specs in the order they start. ``order="seeds"``: per seed, the FIRST runs in that order, then the
    rest of that seed's, so an interrupted sequential study has whole seeds. ``order="longest"``: by the number
    of updates weighted by batch size, most first (for ``--workers``: the long runs start at once and the short ones
    fill in). Runs shared by two studies appear once."""
    ordered = []
    for seed in sorted({s for study in studies for s in seeds_of(study, seeds)}):
        runs = {(study, label): spec for study in studies if seed in seeds_of(study, seeds)
                for label, spec in STUDIES[study](seed).items()}
        first = [key for key in FIRST if key in runs]
        ordered += [runs[k] for k in first] + [spec for k, spec in runs.items() if k not in first]
    unique = list(dict.fromkeys(ordered))
    if order == "longest":
        unique.sort(key=lambda spec: spec.updates * (512 + spec.batch), reverse=True)  # an update costs ~512 images
    return unique


COLUMNS = [("test error (%)", "test_error", "{:.2f}"), ("epochs of data", "epochs_of_data", "{:.1f}"),
           ("changed since start (%)", "changed_since_start_pct", "{:.1f}"),
           ("flips per update", "flips_per_update", "{:.1f}"), ("share of flips undone", "share_undone", "{:.3f}"),
           ("mean \\|w_b − w_r\\|", "bc_gap", "{:.3f}"), ("max \\|w_r\\|", "max_abs_w_r", "{:.2f}")]


def _cell(values, fmt):
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def collect(study, seeds, root):
    """{label: [result dict of each seed that finished]} for ``study``'s runs under ``root``."""
    per_seed = [STUDIES[study](s) for s in seeds_of(study, seeds)]
    paths = {label: [Path(root) / runs[label].name() / "result.json" for runs in per_seed] for label in per_seed[0]}
    return {label: [json.loads(p.read_text()) for p in found if p.exists()] for label, found in paths.items()}


def table(results):
    """A Markdown table of one study's ``{label: [results]}``: mean ± std over the seeds that finished."""
    lines = ["| run | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for label, runs in results.items():
        cells = [_cell([r[key] for r in runs if key in r], fmt) for _, key, fmt in COLUMNS]
        lines.append(f"| {label} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(collected):
    """The Markdown report of ``{study: {label: [results]}}``: a table per study."""
    return "\n\n".join(f"### {study}\n\n{table(results)}" for study, results in collected.items())


def _mean_curve(runs):
    """Epochs and the mean over ``runs`` of "changed since start" (%), from their ``changed_curve``."""
    first = runs[0]
    every, weights = first["changed_curve"]["every"], first["weights"]
    length = min(len(r["changed_curve"]["changed"]) for r in runs)
    epochs_per_update = first["epochs_of_data"] / first["spec"]["updates"]
    epochs = [(i + 1) * every * epochs_per_update for i in range(length)]
    changed = [100 * statistics.mean(r["changed_curve"]["changed"][i] for r in runs) / weights for i in range(length)]
    return epochs, changed


def plot(data, path):
    """Fig. 4 at 40 epochs (changed since start), and big-batch SR at equal updates (test error, flips)."""
    from matplotlib.figure import Figure

    studies = data["studies"]
    fig = Figure(figsize=(13, 3.8))
    axes = fig.subplots(1, 3)
    for label, runs in studies.get("fig4_t1", {}).items():
        if runs and "changed_curve" in runs[0] and "ScaledBinary" not in label:
            axes[0].plot(*_mean_curve(runs), label=label)
    axes[0].set(xlabel="epoch", ylabel="binary weights changed since start (%)",
                title="Fig. 4's regime: 40 epochs (mean of seeds)")
    axes[0].legend(fontsize=7)
    for arm, marker in (("SR-ADAM", "o"), ("SR-SGD", "s")):
        rows = [(int(label.split("b")[-1]), runs) for label, runs in studies.get("bigbatch_t1", {}).items()
                if label.startswith(arm) and runs]
        batches = [b for b, _ in rows]
        for ax, key in ((axes[1], "test_error"), (axes[2], "flips_per_update")):
            means = [statistics.mean(r[key] for r in runs) for _, runs in rows]
            spread = [statistics.stdev(r[key] for r in runs) if len(runs) > 1 else 0 for _, runs in rows]
            ax.errorbar(batches, means, yerr=spread, marker=marker, capsize=3, label=arm)
    axes[1].set(xscale="log", xlabel="batch size", ylabel="test error (%)",
                title=f"SR at an equal number of updates ({T1_UPDATES})")
    axes[2].set(xscale="log", yscale="log", xlabel="batch size", ylabel="binary weights flipped per update",
                title="flips per update")
    for ax in axes[1:]:
        ax.set_xticks([], minor=True)
        ax.set_xticks([128, 256, 512, 1024], labels=["128", "256", "512", "1024"])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("run", "report", "publish"),
                   help="publish: collect the finished runs into <stem>.json and .png (see --made-by)")
    p.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    p.add_argument("--seeds", type=int, nargs="+", help="default: each study's own (0-4 for bigbatch_t1, else 0-2)")
    p.add_argument("--root", type=Path, default=Path("runs/studies"))
    p.add_argument("--workers", type=int, default=1, help="runs at a time, each in its own process")
    p.add_argument("--order", choices=("seeds", "longest"), default="seeds", help="see plan()")
    p.add_argument("--from", dest="published", type=Path,
                   help="report: read the results from this published JSON instead of --root")
    p.add_argument("--stem", default="studies_t1", help="publish: the data file's and figure's name")
    p.add_argument("--made-by", default="", help="publish: the command and machine that ran the runs")
    provenance.add_output_arguments(p, "studies")
    args = p.parse_args(argv)
    if args.published is not None and not args.published.is_file():
        p.error(f"--from {args.published}: no such file (the published one is docs/figures/studies_t1.json)")
    if args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")
    failed = 0
    if args.action == "run":
        failed = run_plan(plan(args.studies, args.seeds, args.order), args.root, args.workers).count(None)
    if args.published:
        try:
            published = json.loads(args.published.read_text())["studies"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            p.error(f"--from {args.published}: not a file written by `training.studies publish` "
                    f"({type(e).__name__}: {e})")
        collected = {study: results for study, results in published.items() if study in args.studies}
    else:
        collected = {study: collect(study, args.seeds, args.root) for study in args.studies}
    if args.action == "publish":
        provenance.save(args, args.stem, {"studies": collected, "made_by": args.made_by}, plot, "training.studies",
                        argv)
    text = report(collected)
    args.root.mkdir(parents=True, exist_ok=True)
    files.write_text(args.root / "report.md", text + "\n")
    print(text)
    if failed:
        print(f"{failed} run(s) failed: their tracebacks are above", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

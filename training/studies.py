"""Reduced-scale studies of issue 11 on Fashion-MNIST (VGG-9 at 1/4 width, 10,000 training images, all 10,000
test images), each run a fixed number of updates with every binary weight flip counted (training/short_runs.py).

    nohup nice -n 10 python -m training.studies run --seeds 0 1 2 > runs/studies.log 2>&1 &
    python -m training.studies report                      # Markdown tables of what has finished

* ``bigbatch``: SR-ADAM at batch 128, 256, 512, 1024 with the *same number of updates* (so the bigger batches
  see proportionally more epochs), and an SR-SGD arm (momentum 0.9, lr 0.1) at 128 and 1024.
* ``bc``: Fig. 4's regime, the BC recipe and Fig. 7 at batch 128, 200 updates: ADAM, SR-ADAM, BC-ADAM with
  its w_r initialised He-normal / U(-1, 1) / N(0, 0.01^2), BC-ADAM with ScaledBinary, BC-ADAM and ADAM at
  lr 1e-3, BC-ADAM without the clip of w_r (eq. 7 as printed), with Torch-style weight decay 1e-4 on w_r, both.

Seeds run outermost (all of seed 0's runs, then seed 1's, ...), the most telling runs of a seed first (FIRST),
so that an interrupted study still has complete seeds; every finished run is kept and skipped next time.
"""

import argparse
import json
import statistics
from pathlib import Path

from tfquant import files
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


STUDIES = {"bigbatch": bigbatch, "bc": bc}
FIRST = [("bigbatch", "SR-ADAM b128"), ("bigbatch", "SR-ADAM b1024"), ("bc", "BC-ADAM (w_r He-normal)"),
         ("bc", "BC-ADAM (w_r U(-1,1))"), ("bc", "ADAM"), ("bc", "SR-ADAM"), ("bc", "BC-ADAM (w_r N(0,0.01^2))"),
         ("bc", "BC-ADAM no clip (eq. 7)"), ("bc", "BC-ADAM wd 1e-4 on w_r"), ("bc", "BC-ADAM ScaledBinary"),
         ("bc", "BC-ADAM lr 1e-3"), ("bc", "ADAM lr 1e-3"), ("bigbatch", "SR-SGD b128"), ("bigbatch", "SR-SGD b1024")]


def plan(studies, seeds):
    """The specs in the order they run: per seed, the FIRST runs in that order, then the rest of that seed's."""
    order = []
    for seed in seeds:
        runs = {(study, label): spec for study in studies for label, spec in STUDIES[study](seed).items()}
        first = [key for key in FIRST if key in runs]
        order += [runs[k] for k in first] + [spec for k, spec in runs.items() if k not in first]
    return order
COLUMNS = [("test error (%)", "test_error", "{:.2f}"), ("epochs of data", "epochs_of_data", "{:.1f}"),
           ("changed since start (%)", "changed_since_start_pct", "{:.1f}"),
           ("flips per update", "flips_per_update", "{:.0f}"), ("share of flips undone", "share_undone", "{:.3f}"),
           ("mean \\|w_b − w_r\\|", "bc_gap", "{:.3f}"), ("max \\|w_r\\|", "max_abs_w_r", "{:.2f}")]


def _cell(values, fmt):
    if not values:
        return "-"
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(statistics.stdev(values))}"


def table(study, seeds, root):
    """A Markdown table of ``study``'s finished runs: mean ± std over the seeds that finished."""
    labels = list(STUDIES[study](0))
    lines = ["| run | seeds | " + " | ".join(c[0] for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for label in labels:
        found = [Path(root) / STUDIES[study](s)[label].name() / "result.json" for s in seeds]
        results = [json.loads(p.read_text()) for p in found if p.exists()]
        cells = [_cell([r[key] for r in results if key in r], fmt) for _, key, fmt in COLUMNS]
        lines.append(f"| {label} | {len(results)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("run", "report"))
    p.add_argument("--studies", nargs="+", default=list(STUDIES), choices=list(STUDIES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--root", type=Path, default=Path("runs/studies"))
    args = p.parse_args(argv)
    if args.action == "run":
        run_plan(plan(args.studies, args.seeds), args.root)
    text = "\n\n".join(f"### {s}\n\n{table(s, args.seeds, args.root)}" for s in args.studies)
    args.root.mkdir(parents=True, exist_ok=True)
    files.write_text(args.root / "report.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()

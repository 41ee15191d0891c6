"""Fig. 2 of the paper: SR vs BC on the 1-D non-convex problem of eq. (8), as the learning rate shrinks.

    f(w) = w^2 + 2             if w < 1
           (w - 2.5)^2 + 0.75  if 1 <= w < 3.5
           (w - 4.75)^2 + 0.19 if w >= 3.5          (global minimum 0.19 at 4.75; its basin is w >= 3.5)

Every chain starts at w = 4.0 and runs tfquant's ``SRSGD`` (eq. 6, ``w <- Qs(w - a g)``) or ``BCSGD``
(eq. 7, ``w_r <- w_r - a g(Q(w_r))``) with Delta = 0.5 at a in {1, 0.1, 0.01, 0.001}; ``--chains``
independent chains are the entries of one vector variable, so one optimizer step advances all of them.

Gradient noise model: ``g = f'(w) + sigma * xi`` with ``xi ~ N(0, 1)`` i.i.d. per chain and step, sigma = 3.
The paper does not state its noise. A Gaussian is what a mini-batch mean of many per-example gradients
tends to (central limit), it has the light tails Theorem 5 assumes, and it has mass on both signs, so SR can
leave every state. sigma = 3 is about the largest |f'| on the grid points of the two right-hand basins
(|f'(3.5)| = |f'(6)| = 2.5): noise as large as the signal, as for mini-batch gradients late in training.
(sigma = 2 and 4 give the same picture: BC's loss falls to the grid's best as a shrinks, SR's stalls.)

The grid is Uniform(0.5, bits=5) = {-7.5, ..., 7.5}: the paper's finite-domain clipping keeps the a = 1
chains (whose steps overshoot: |1 - 2a| = 1) inside the plotted range.

    python -m training.toy                    # Fig. 2: runs/toy/fig2_toy.png, .json and the table
    python -m training.toy --publish          # also into docs/figures/
    python -m training.toy --quick --publish  # a smaller run (tests/core/test_toy.py reruns it)
"""

import argparse

import keras
import numpy as np
import tensorflow as tf

import tfquant
from training import provenance

DELTA, BITS, START, SIGMA = 0.5, 5, 4.0, 3.0
ALPHAS = (1.0, 0.1, 0.01, 0.001)
QUICK = (10_000, 50, (0.1, 0.01, 0.001))  # steps, chains, alphas of --quick (tests/core/test_toy.py)
GRID = np.arange(-(2 ** (BITS - 1) - 1), 2 ** (BITS - 1)) * DELTA  # the 31 representable weights
BASIN = 3.5  # the global minimum's basin is w >= 3.5


def f(w):
    """Eq. (8), elementwise (NumPy or TF)."""
    w = tf.convert_to_tensor(w, tf.float32)
    return tf.where(w < 1, w**2 + 2, tf.where(w < 3.5, (w - 2.5) ** 2 + 0.75, (w - 4.75) ** 2 + 0.19))


def grad_f(w):
    """f'(w) of eq. (8)."""
    return tf.where(w < 1, 2 * w, tf.where(w < 3.5, 2 * (w - 2.5), 2 * (w - 4.75)))


def simulate(method, alpha, steps, chains, seed=0, sigma=SIGMA, burn_in=0):
    """Runs ``chains`` chains for ``steps`` steps; over the steps after ``burn_in`` returns the counts of the
    quantized iterates on ``GRID`` and, per chain, the mean of f and the share of iterates in the global basin
    (the chains are independent, so the spread of these per-chain means gives a statistical tolerance)."""
    cls = {"sr": tfquant.SRSGD, "bc": tfquant.BCSGD}[method]
    opt = cls(learning_rate=alpha, quantizer=tfquant.Uniform(DELTA, bits=BITS), quantize="all", seed=seed)
    w = keras.Variable(np.full(chains, START, np.float32), name="w")
    opt.build([w])
    counts = tf.Variable(tf.zeros(len(GRID), tf.int64))
    loss, basin = tf.Variable(tf.zeros(chains, tf.float64)), tf.Variable(tf.zeros(chains, tf.float64))

    @tf.function
    def run():
        for t in tf.range(steps):
            noise = tf.random.stateless_normal([chains], seed=tf.stack([seed, t]))
            opt.apply([grad_f(w.value) + sigma * noise], [w])
            if t >= burn_in:
                idx = tf.cast(tf.round(w.value / DELTA), tf.int32) + len(GRID) // 2
                counts.assign_add(tf.math.bincount(idx, minlength=len(GRID), maxlength=len(GRID), dtype=tf.int64))
                loss.assign_add(tf.cast(f(w.value), tf.float64))
                basin.assign_add(tf.cast(w.value >= BASIN, tf.float64))

    run()
    kept = steps - burn_in
    return {"counts": counts.numpy(), "chain_mean_loss": loss.numpy() / kept,
            "chain_basin_share": basin.numpy() / kept}


def histogram(method, alpha, steps, chains, seed=0, sigma=SIGMA):
    """Counts of the quantized iterates over ``GRID`` after each of ``steps`` steps of ``chains`` chains."""
    return simulate(method, alpha, steps, chains, seed, sigma)["counts"]


def summarize(counts):
    """Mean loss and share (%) of iterates in the global minimum's basin, from grid counts."""
    p = counts / counts.sum()
    return {"mean_loss": float(np.sum(p * f(GRID).numpy())), "basin_pct": float(100 * p[GRID >= BASIN].sum())}


def experiment(steps, chains, alphas=ALPHAS, seed=0):
    """{method: {alpha: counts}} for SR and BC."""
    return {m: {a: histogram(m, a, steps, chains, seed) for a in alphas} for m in ("bc", "sr")}


def plot(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    alphas = list(results["bc"])
    fig = plt.figure(figsize=(3 + 2.4 * len(alphas), 4.6))
    grid = fig.add_gridspec(2, len(alphas) + 1, width_ratios=[1.4] + [1] * len(alphas))
    ax = fig.add_subplot(grid[:, 0])
    xs = np.linspace(-1, 6.5, 400)
    ax.plot(xs, f(xs).numpy())
    ax.set(title="f(w), eq. (8)", xlabel="w")
    for row, method in enumerate(("bc", "sr")):
        for col, alpha in enumerate(alphas):
            ax = fig.add_subplot(grid[row, col + 1])
            counts = results[method][alpha]
            ax.bar(GRID, counts / counts.sum(), width=DELTA * 0.8)
            ax.set_xlim(GRID[0] - DELTA, GRID[-1] + DELTA)
            ax.set_ylim(0, 1)
            ax.set_title(f"{method.upper()}  α={alpha:g}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_saved(data, path):
    plot({m: {float(a): np.asarray(c["counts"]) for a, c in r.items()} for m, r in data["results"].items()}, path)


def table(results):
    lines = ["| α | BC mean loss | BC in global basin (%) | SR mean loss | SR in global basin (%) |",
             "|---|---|---|---|---|"]
    for alpha in results["bc"]:
        bc, sr = summarize(results["bc"][alpha]), summarize(results["sr"][alpha])
        lines.append(f"| {alpha:g} | {bc['mean_loss']:.4f} | {bc['basin_pct']:.1f} | "
                     f"{sr['mean_loss']:.4f} | {sr['basin_pct']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description="Fig. 2: SR vs BC on the toy problem of eq. (8)")
    p.add_argument("--steps", type=int, default=50_000, help="iterations per chain")
    p.add_argument("--chains", type=int, default=100, help="independent chains (entries of one variable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="10k steps x 50 chains, alpha 0.1, 0.01, 0.001 (the test's)")
    provenance.add_output_arguments(p, "toy")
    args = p.parse_args(argv)
    tf.get_logger().setLevel("ERROR")  # each (method, alpha) traces its own loop: expected, not a problem
    steps, chains, alphas = QUICK if args.quick else (args.steps, args.chains, ALPHAS)
    results = experiment(steps, chains, alphas, seed=args.seed)
    print(f"{steps} steps x {chains} chains per (method, α); noise N(0, {SIGMA}^2); Δ = {DELTA}")
    print(table(results))
    data = {"steps": steps, "chains": chains, "sigma": SIGMA, "delta": DELTA,
            "results": {m: {str(a): {**summarize(c), "counts": c.tolist()} for a, c in r.items()}
                        for m, r in results.items()}}
    stem = "fig2_toy_quick" if args.quick else "fig2_toy"
    return provenance.save(args, stem, data, _plot_saved, "training.toy", argv)


if __name__ == "__main__":
    main()

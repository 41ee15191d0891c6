"""Section 4 of the paper on convex problems: accuracy floors of SR and BC, and Corollary 1.

Two strongly convex finite sums over n = 500 examples (a_i, y_i) in d = 10 dimensions, mu = 0.1:

    quadratic:  F(w) = 1/n sum_i 1/2 (a_i.w - y_i)^2        + mu/2 |w|^2   (Hessian constant: L2 = 0)
    logistic:   F(w) = 1/n sum_i log(1 + exp(-y_i a_i.w))    + mu/2 |w|^2   (L2 > 0)

SGD with one example per step and alpha_t = 1 / (mu_F (t + t0)) (Theorems 1 and 4's schedule; the offset t0
keeps the first steps stable), through tfquant's optimizers on an unbounded grid of step Delta
(``Uniform(delta)``), ``--replicas`` independent runs as the rows of one (replicas, d) variable:

- SGD (full precision, ``keras.optimizers.SGD``): E[F(w̄_T) - F*] = O(log T / T).
- SR (``SRSGD``), w̄_T averages the quantized iterates. Theorem 1: <= O(log T / T) + sqrt(d) Delta G / 2,
  a floor that grows with Delta.
- BC (``BCSGD``), w̄_T averages the full-precision buffer w_r. Theorem 4: floor D L2 sqrt(d) Delta / 2,
  zero for a quadratic (Corollary 1) -- when the rounding is stochastic, so that E[Q(w_r)] = w_r. With
  deterministic rounding the gradient at Q(w_r) is biased and w_r settles at a rounding threshold instead.

    python -m training.convex            # docs/figures/convex_vs_T.png, convex_vs_delta.png, table
    python -m training.convex --quick    # quadratic only, fewer steps (the test uses it)
"""

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

import tfquant  # noqa: E402

N, D, MU = 500, 10, 0.1
METHODS = ("sgd", "sr", "bc", "bc_stochastic")


class Problem:
    """A strongly convex finite sum: data, F in float64, its minimiser, and a per-example gradient in TF."""

    def __init__(self, kind, seed=0):
        rng = np.random.default_rng(seed)
        self.kind = kind
        self.a = rng.normal(size=(N, D)) / np.sqrt(D) * 2
        w_true = rng.normal(size=D)
        if kind == "quadratic":
            self.y = self.a @ w_true + 0.5 * rng.normal(size=N)
        elif kind == "logistic":
            self.y = np.where(self.a @ w_true + 0.5 * rng.normal(size=N) > 0, 1.0, -1.0)
        else:
            raise ValueError(f"unknown problem {kind!r}: quadratic or logistic")
        self.w_star = self._minimise()
        self.f_star = self.value(self.w_star)
        hess = self.a.T @ self.a / N if kind == "quadratic" else self._hessian(self.w_star)
        self.mu = float(np.linalg.eigvalsh(hess).min()) + MU  # strong convexity of F near w*
        self.smooth = float(np.max(np.sum(self.a**2, axis=1))) + MU  # Lipschitz constant of one f_i's gradient

    def value(self, w):
        """F(w) for w of shape (..., d), in float64."""
        z = np.asarray(w, np.float64) @ self.a.T
        data = 0.5 * (z - self.y) ** 2 if self.kind == "quadratic" else np.logaddexp(0, -self.y * z)
        return data.mean(-1) + MU / 2 * np.sum(np.asarray(w, np.float64) ** 2, -1)

    def _hessian(self, w):
        s = 1 / (1 + np.exp(-self.a @ w))
        return (self.a.T * (s * (1 - s))) @ self.a / N + MU * np.eye(D)

    def _minimise(self):
        if self.kind == "quadratic":
            return np.linalg.solve(self.a.T @ self.a / N + MU * np.eye(D), self.a.T @ self.y / N)
        w = np.zeros(D)
        for _ in range(50):  # Newton's method
            s = 1 / (1 + np.exp(self.y * (self.a @ w)))
            grad = -(self.a.T @ (self.y * s)) / N + MU * w
            w -= np.linalg.solve(self._hessian(w), grad)
        return w

    def stochastic_gradient(self, w, idx):
        """Rows of grad f_i(w) for replica r using example idx[r]; w: (R, d) float32."""
        a = tf.gather(tf.constant(self.a, tf.float32), idx)
        y = tf.gather(tf.constant(self.y, tf.float32), idx)
        z = tf.reduce_sum(a * w, axis=1)
        scale = z - y if self.kind == "quadratic" else -y * tf.sigmoid(-y * z)
        return a * scale[:, None] + MU * w


def make_optimizer(method, delta, problem, seed):
    """SGD or its SR/BC version with alpha_t = 1/(mu (t + t0)), t0 = ceil(L/mu) so that alpha_0 <= 1/L."""
    t0 = float(np.ceil(problem.smooth / problem.mu))
    lr = keras.optimizers.schedules.InverseTimeDecay(1 / (problem.mu * t0), decay_steps=t0, decay_rate=1.0)
    if method == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)
    quantizer = tfquant.Uniform(delta)
    if method == "sr":
        return tfquant.SRSGD(learning_rate=lr, quantizer=quantizer, quantize="all", seed=seed)
    rounding = "stochastic" if method == "bc_stochastic" else "deterministic"
    return tfquant.BCSGD(learning_rate=lr, quantizer=quantizer, quantize="all", seed=seed, rounding=rounding)


def gaps(problem, method, delta, checkpoints, replicas, seed=0):
    """E[F(w̄_T)] - F(w*) at each T in ``checkpoints`` (mean over replicas); w̄ of w_r for BC."""
    opt = make_optimizer(method, delta, problem, seed)
    w = keras.Variable(np.zeros((replicas, D), np.float32), name="w")
    opt.build([w])
    tracked = opt.full_precision(w) if method.startswith("bc") else w
    total = tf.Variable(tf.zeros((replicas, D), tf.float64))

    @tf.function
    def advance(start, stop):
        for t in tf.range(start, stop):
            idx = tf.random.stateless_uniform([replicas], seed=tf.stack([seed, t]), maxval=N, dtype=tf.int32)
            opt.apply([problem.stochastic_gradient(w.value, idx)], [w])
            total.assign_add(tf.cast(tf.convert_to_tensor(tracked), tf.float64))

    out, done = [], 0
    for t in checkpoints:
        advance(tf.constant(done, tf.int32), tf.constant(t, tf.int32))
        done = t
        out.append(float(np.mean(problem.value(total.numpy() / t)) - problem.f_star))
    return out


def experiment(problems, deltas, delta_vs_t, checkpoints, replicas, seed=0):
    """{"vs_T": {problem: {method: gaps}}, "vs_delta": {problem: {method: [gap at T_max per delta]}}}."""
    res = {"checkpoints": list(checkpoints), "deltas": list(deltas), "delta_vs_T": delta_vs_t,
           "vs_T": {}, "vs_delta": {}}
    for kind in problems:
        problem = Problem(kind, seed)
        res["vs_T"][kind] = {m: gaps(problem, m, delta_vs_t, checkpoints, replicas, seed) for m in METHODS}
        res["vs_delta"][kind] = {m: [gaps(problem, m, d, checkpoints[-1:], replicas, seed)[0] for d in deltas]
                                 for m in METHODS[1:]}
    return res


def plot(res, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(res["vs_T"])
    ts = np.array(res["checkpoints"], float)
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for m, g in res["vs_T"][kind].items():
            ax.loglog(ts, np.maximum(g, 1e-12), "o-", label=m)
        shape = np.log(ts + 1) / ts
        ax.loglog(ts, shape * res["vs_T"][kind]["sgd"][0] / shape[0], "k:", label="∝ log(T)/T")
        ax.set(title=f"{kind}, Δ = {res['delta_vs_T']}", xlabel="T (steps)", ylabel="F(w̄_T) - F(w*)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(Path(folder) / "convex_vs_T.png", dpi=110)
    plt.close(fig)

    deltas = np.array(res["deltas"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 3.8), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for m, g in res["vs_delta"][kind].items():
            ax.loglog(deltas, np.maximum(g, 1e-12), "o-", label=m)
        sr = res["vs_delta"][kind]["sr"]
        ax.loglog(deltas, deltas * sr[-1] / deltas[-1], "k:", label="∝ Δ (bounds' floor)")
        ax.set(title=f"{kind}, T = {res['checkpoints'][-1]}", xlabel="Δ", ylabel="F(w̄_T) - F(w*)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(Path(folder) / "convex_vs_delta.png", dpi=110)
    plt.close(fig)


def table(res):
    lines = []
    for kind, by_method in res["vs_T"].items():
        lines += [f"\n{kind}: F(w̄_T) - F(w*) vs T (Δ = {res['delta_vs_T']})",
                  "| method | " + " | ".join(f"T={t}" for t in res["checkpoints"]) + " |",
                  "|---|" + "---|" * len(res["checkpoints"])]
        lines += [f"| {m} | " + " | ".join(f"{g:.2e}" for g in gs) + " |" for m, gs in by_method.items()]
        lines += [f"\n{kind}: F(w̄_T) - F(w*) vs Δ (T = {res['checkpoints'][-1]})",
                  "| method | " + " | ".join(f"Δ={d:g}" for d in res["deltas"]) + " |",
                  "|---|" + "---|" * len(res["deltas"])]
        lines += [f"| {m} | " + " | ".join(f"{g:.2e}" for g in gs) + " |"
                  for m, gs in res["vs_delta"][kind].items()]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description="Theorems 1-4 and Corollary 1 on convex problems")
    p.add_argument("--quick", action="store_true", help="quadratic only, T up to 4000, 3 deltas")
    p.add_argument("--replicas", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = p.parse_args(argv)
    if args.quick:
        res = experiment(["quadratic"], [0.125, 0.5, 1.0], 0.5, [250, 1000, 4000], args.replicas, args.seed)
    else:
        res = experiment(["quadratic", "logistic"], [0.0625, 0.125, 0.25, 0.5, 1.0], 0.5,
                         [100, 300, 1000, 3000, 10_000, 30_000], args.replicas, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(res, args.out)
    (args.out / "convex.json").write_text(json.dumps(res, indent=1))
    print(table(res))
    return res


if __name__ == "__main__":
    main()

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

    python -m training.convex                      # runs/convex/convex.json, convex.png, tables
    python -m training.convex --publish            # also into docs/figures/
    python -m training.convex --quick --publish    # quadratic only, fewer steps: convex_quick.json
"""

import argparse
import json

import keras
import numpy as np
import tensorflow as tf

import tfquant
from training import provenance

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


class InverseSqrt(keras.optimizers.schedules.LearningRateSchedule):
    """alpha_t = c / sqrt(t), t = 1, 2, ... (Theorems 2 and 3); the optimizer's step counter is t - 1."""

    def __init__(self, c):
        self.c = float(c)

    def __call__(self, step):
        return self.c * tf.math.rsqrt(tf.cast(step, tf.float32) + 1.0)

    def get_config(self):
        return {"c": self.c}


def t0(problem):
    """The offset of the strongly convex schedule, ceil(L/mu), so that alpha_1 = 1/(mu t0) <= 1/L."""
    return float(np.ceil(problem.smooth / problem.mu))


def learning_rate(problem, schedule="strong", c=None):
    """"strong": alpha_t = 1/(mu (t + t0 - 1)) (Theorems 1, 4); "sqrt": alpha_t = c/sqrt(t) (Theorems 2, 3),
    c = 1/L by default (L: the largest per-example smoothness)."""
    if schedule == "sqrt":
        return InverseSqrt(1 / problem.smooth if c is None else c)
    start = t0(problem)
    return keras.optimizers.schedules.InverseTimeDecay(1 / (problem.mu * start), decay_steps=start, decay_rate=1.0)


def make_optimizer(method, delta, problem, seed, schedule="strong"):
    """SGD or its SR/BC version on the unbounded grid of step delta, with ``learning_rate(problem, schedule)``."""
    lr = learning_rate(problem, schedule)
    if method == "sgd":
        return keras.optimizers.SGD(learning_rate=lr)
    quantizer = tfquant.Uniform(delta)
    if method == "sr":
        return tfquant.SRSGD(learning_rate=lr, quantizer=quantizer, quantize="all", seed=seed)
    rounding = "stochastic" if method == "bc_stochastic" else "deterministic"
    return tfquant.BCSGD(learning_rate=lr, quantizer=quantizer, quantize="all", seed=seed, rounding=rounding)


def trajectory(problem, method, delta, checkpoints, replicas, seed=0, schedule="strong"):
    """Runs ``replicas`` independent chains up to T = checkpoints[-1]. Returns

    * ``gaps``: E[F(w̄_T)] - F(w*) at each T in ``checkpoints`` (mean over replicas; w̄ averages w_r for BC);
    * ``D``: max over steps and replicas of |w_t - w*| for the averaged point (w_r for BC): the radius the
      proofs use (|w_t - w*| <= D);
    * ``G2``: max over steps of E|grad f_i(w_t)|^2 at the weights the gradient is taken at (mean over the n
      examples, exactly, and over replicas): the paper's E|grad f~(w_t)|^2 <= G^2 along this run;
    * ``start_distance``: |w_1 - w*| (w_1 = 0).
    """
    opt = make_optimizer(method, delta, problem, seed, schedule)
    w = keras.Variable(np.zeros((replicas, D), np.float32), name="w")
    opt.build([w])
    tracked = opt.full_precision(w) if method.startswith("bc") else w
    total = tf.Variable(tf.zeros((replicas, D), tf.float64))
    radius, g2 = tf.Variable(0.0, dtype=tf.float64), tf.Variable(0.0, dtype=tf.float64)
    a, y = tf.constant(problem.a), tf.constant(problem.y)
    a_sq, w_star = tf.reduce_sum(a**2, axis=1), tf.constant(problem.w_star)

    def mean_squared_gradient(v):  # E_i |grad f_i(v)|^2 = E_i[s_i^2 |a_i|^2 + 2 mu s_i a_i.v] + mu^2 |v|^2
        z = tf.matmul(v, a, transpose_b=True)
        s = z - y if problem.kind == "quadratic" else -y * tf.sigmoid(-y * z)
        per_replica = tf.reduce_mean(s**2 * a_sq + 2 * MU * s * z, 1) + MU**2 * tf.reduce_sum(v**2, 1)
        return tf.reduce_mean(per_replica)

    @tf.function
    def advance(start, stop):
        for t in tf.range(start, stop):
            g2.assign(tf.maximum(g2, mean_squared_gradient(tf.cast(w.value, tf.float64))))
            idx = tf.random.stateless_uniform([replicas], seed=tf.stack([seed, t]), maxval=N, dtype=tf.int32)
            opt.apply([problem.stochastic_gradient(w.value, idx)], [w])
            point = tf.cast(tf.convert_to_tensor(tracked), tf.float64)
            radius.assign(tf.maximum(radius, tf.reduce_max(tf.norm(point - w_star, axis=1))))
            total.assign_add(point)

    out, done = [], 0
    for t in checkpoints:
        advance(tf.constant(done, tf.int32), tf.constant(t, tf.int32))
        done = t
        out.append(float(np.mean(problem.value(total.numpy() / t)) - problem.f_star))
    return {"gaps": out, "D": float(radius.numpy()), "G2": float(g2.numpy()),
            "start_distance": float(np.linalg.norm(problem.w_star))}


def gaps(problem, method, delta, checkpoints, replicas, seed=0):
    """E[F(w̄_T)] - F(w*) at each T in ``checkpoints`` (mean over replicas); w̄ of w_r for BC."""
    return trajectory(problem, method, delta, checkpoints, replicas, seed)["gaps"]


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


def plot(res, path):
    """Top: F(w̄_T) - F(w*) against T (log-log); bottom: against Delta at the largest T."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = list(res["vs_T"])
    ts, deltas = np.array(res["checkpoints"], float), np.array(res["deltas"])
    fig, axes = plt.subplots(2, len(kinds), figsize=(5 * len(kinds), 7.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        for m, g in res["vs_T"][kind].items():
            ax.loglog(ts, np.maximum(g, 1e-12), "o-", label=m)
        shape = np.log(ts + 1) / ts
        ax.loglog(ts, shape * res["vs_T"][kind]["sgd"][0] / shape[0], "k:", label="∝ log(T)/T")
        ax.set(title=f"{kind}, Δ = {res['delta_vs_T']}", xlabel="T (steps)", ylabel="F(w̄_T) - F(w*)")
        ax.legend(fontsize=7)
    for ax, kind in zip(axes[1], kinds):
        for m, g in res["vs_delta"][kind].items():
            ax.loglog(deltas, np.maximum(g, 1e-12), "o-", label=m)
        sr = res["vs_delta"][kind]["sr"]
        ax.loglog(deltas, deltas * sr[-1] / deltas[-1], "k:", label="∝ Δ (bounds' floor)")
        ax.set(title=f"{kind}, T = {res['checkpoints'][-1]}", xlabel="Δ", ylabel="F(w̄_T) - F(w*)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def slopes(res):
    """{problem: {method: log-log slope of the floor against Delta}} (least squares over all Delta)."""
    logd = np.log(res["deltas"])
    return {kind: {m: float(np.polyfit(logd, np.log(g), 1)[0]) for m, g in by.items()}
            for kind, by in res["vs_delta"].items()}


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


QUICK = (["quadratic"], [0.125, 1.0], 0.5, [250, 4000])  # tests/core/test_convex.py runs this
FULL = (["quadratic", "logistic"], [0.0625, 0.125, 0.25, 0.5, 1.0], 0.5, [100, 300, 1000, 3000, 10_000, 30_000])


def main(argv=None):
    p = argparse.ArgumentParser(description="Theorems 1-4 and Corollary 1 on convex problems")
    p.add_argument("--quick", action="store_true", help="quadratic only, T up to 4000, 2 more deltas, 16 replicas")
    p.add_argument("--replicas", type=int, default=None, help="default 32 (16 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    provenance.add_output_arguments(p, "convex")
    args = p.parse_args(argv)
    replicas = args.replicas or (16 if args.quick else 32)
    res = experiment(*(QUICK if args.quick else FULL), replicas, args.seed)
    res["slopes_vs_delta"] = slopes(res)
    print(table(res))
    print("log-log slopes against Δ:", json.dumps(res["slopes_vs_delta"]))
    return provenance.save(args, "convex_quick" if args.quick else "convex", res, plot, "training.convex", argv)


if __name__ == "__main__":
    main()

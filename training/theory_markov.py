"""Theorems 5 and 6 of the paper, computed exactly on Fig. 2's toy problem: SR as a Markov chain on the grid.

SR-SGD on the toy problem (training/toy.py) moves w on the grid x_1 < ... < x_K (K = 31, Delta = 0.5) by

    w' = clip(Qs(v)),   v = w - alpha g,   g ~ N(f'(w), sigma^2),

and stochastic rounding puts v on grid point y with probability hat((v - y) / Delta), hat(s) = max(0, 1 - |s|)
(clipping v to [x_1, x_K] first gives the same result as clipping after rounding). With v ~ N(m, s^2),
m = w - alpha f'(w), s = alpha sigma, and R(a) = E[(v - a)_+] = (m - a) Phi((m - a)/s) + s phi((m - a)/s):

    T_alpha(w, y) = [R(y - Delta) - 2 R(y) + R(y + Delta)] / Delta      (interior y)
    T_alpha(w, x_K) = [R(x_K - Delta) - R(x_K)] / Delta,  and symmetrically at x_1,

exactly (no simulation, no quadrature). From it:

* ``stationary(T)``: pi_alpha, the left eigenvector of T for eigenvalue 1;
* Theorem 5: the limit pi~ of pi_alpha as alpha -> 0 is the stationary law of the generator
  U(w, w +- Delta) = E[(-+g)_+] / Delta (the expected move in grid steps per unit of alpha, eq. 9), and it puts
  mass on every state, so SR does not concentrate on the minimiser however small alpha;
* Theorem 6: the epsilon-mixing time M_eps(alpha) = min{t : max_w TV(T^t(w, .), pi_alpha) <= eps} (eq. 10)
  grows without bound as alpha -> 0; since T_alpha = I + alpha U + O(alpha^2), like 1/alpha.

    python -m training.theory_markov            # runs/theory/markov.json and the table
    python -m training.theory_markov --publish  # also docs/figures/theory_markov.json and .png
"""

import argparse
import math

import numpy as np
from scipy.special import ndtr

from training import provenance, toy

GRID, DELTA, SIGMA = toy.GRID, toy.DELTA, toy.SIGMA


def _f(w):
    return np.asarray(toy.f(w), np.float64)


def _grad(w):
    return np.asarray(toy.grad_f(np.asarray(w, np.float32)), np.float64)


def _positive_part_mean(m, s, a):
    """E[(v - a)_+] for v ~ N(m, s^2) (broadcasting)."""
    z = (m - a) / s
    return (m - a) * ndtr(z) + s * np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)


def transition_matrix(alpha, sigma=SIGMA, grid=GRID, delta=DELTA):
    """T_alpha(w, y) of SR-SGD on the toy problem (rows: w, columns: y; each row sums to 1)."""
    m = (grid - alpha * _grad(grid))[:, None]
    s = alpha * sigma

    def _r(a):  # R(a) = E[(v - a)_+]
        return _positive_part_mean(m, s, a)

    y = grid[None, :]
    t = (_r(y - delta) - 2 * _r(y) + _r(y + delta)) / delta
    t[:, -1:] = (_r(y[:, -1:] - delta) - _r(y[:, -1:])) / delta
    # lower end, by symmetry: [L(x_1 + Delta) - L(x_1)] / Delta with L(a) = E[(a - v)_+] = R(a) - (m - a)
    low = grid[0]
    t[:, :1] = ((_r(low + delta) - (m - low - delta)) - (_r(low) - (m - low))) / delta
    return np.clip(t, 0.0, 1.0)


def generator(sigma=SIGMA, grid=GRID, delta=DELTA):
    """Theorem 5's U - diag(U 1): rates of moving one grid step up/down per unit alpha, as alpha -> 0."""
    mean = _grad(grid)
    up = _positive_part_mean(-mean, sigma, 0.0) / delta  # E[(-g)_+] / Delta
    down = _positive_part_mean(mean, sigma, 0.0) / delta  # E[(g)_+] / Delta
    k = len(grid)
    u = np.zeros((k, k))
    u[np.arange(k - 1), np.arange(1, k)] = up[:-1]
    u[np.arange(1, k), np.arange(k - 1)] = down[1:]
    return u - np.diag(u.sum(1))


def stationary(matrix, generator_matrix=False):
    """The stationary distribution: pi T = pi (or pi Q = 0 for a generator), normalised to sum 1."""
    a = matrix.T - (0 if generator_matrix else np.eye(len(matrix)))
    a = np.vstack([a, np.ones(len(matrix))])
    b = np.zeros(len(matrix) + 1)
    b[-1] = 1
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.clip(pi, 0, None) / np.clip(pi, 0, None).sum()


def summary(pi, grid=GRID):
    """Mean loss and share (%) in the global minimum's basin (w >= 3.5) of a distribution over the grid."""
    return {"mean_loss": float(pi @ _f(grid)), "basin_pct": float(100 * pi[grid >= toy.BASIN].sum())}


def total_variation(p, q):
    return 0.5 * np.abs(p - q).sum(-1)


def worst_distance(matrix, pi, t):
    """max over starting states of TV(T^t(w, .), pi): d(t), nonincreasing in t."""
    return float(total_variation(np.linalg.matrix_power(matrix, t), pi[None, :]).max())


def mixing_time(matrix, eps=0.25):
    """Eq. (10)'s eps-mixing time: the smallest t with d(t) <= eps (doubling, then bisection)."""
    pi = stationary(matrix)
    hi = 1
    while worst_distance(matrix, pi, hi) > eps:
        hi *= 2
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if worst_distance(matrix, pi, mid) <= eps else (mid, hi)
    return hi


def mixing_slope(alphas, eps=0.25):
    """(mixing times, slope of log M_eps against log(1/alpha)) over ``alphas``."""
    times = [mixing_time(transition_matrix(a), eps) for a in alphas]
    slope = np.polyfit(np.log(1 / np.asarray(alphas)), np.log(times), 1)[0]
    return times, float(slope)


def compute(alphas=(1.0, 0.1, 0.01, 0.001), mixing_alphas=(0.1, 0.03, 0.01, 0.003, 0.001, 0.0003), eps=0.25):
    limit = stationary(generator(), generator_matrix=True)
    res = {"sigma": SIGMA, "delta": DELTA, "grid": GRID.tolist(), "eps": eps,
           "limit": {"pi": limit.tolist(), **summary(limit)}, "by_alpha": {}}
    for a in alphas:
        pi = stationary(transition_matrix(a))
        res["by_alpha"][str(a)] = {"pi": pi.tolist(), **summary(pi), "tv_to_limit": float(total_variation(pi, limit))}
    times, slope = mixing_slope(mixing_alphas, eps)
    res["mixing"] = {"alphas": list(mixing_alphas), "times": times, "slope_log_time_vs_log_inv_alpha": slope}
    return res


def table(res, measured=None):
    """Markdown: exact stationary law per alpha beside the measured SR rows of fig2_toy.json (if given)."""
    head = ("| α | exact SR mean loss | exact SR in global basin (%) | measured mean loss | measured in basin (%) "
            "| TV(π_α, π̃) |")
    lines = [head, "|---|---|---|---|---|---|"]
    for a, row in res["by_alpha"].items():
        m = (measured or {}).get(a, {})
        lines.append(f"| {float(a):g} | {row['mean_loss']:.4f} | {row['basin_pct']:.2f} | "
                     f"{m.get('mean_loss', float('nan')):.4f} | {m.get('basin_pct', float('nan')):.2f} | "
                     f"{row['tv_to_limit']:.1e} |")
    lim = res["limit"]
    lines.append(f"| → 0 (π̃, Theorem 5) | {lim['mean_loss']:.4f} | {lim['basin_pct']:.2f} | | | 0 |")
    mix = res["mixing"]
    lines += ["", f"| α | {res['eps']}-mixing time (steps) | α · M |", "|---|---|---|"]
    lines += [f"| {a:g} | {t:,} | {a * t:.1f} |" for a, t in zip(mix["alphas"], mix["times"])]
    lines.append(f"\nslope of log M against log(1/α): {mix['slope_log_time_vs_log_inv_alpha']:.3f}")
    return "\n".join(lines)


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    grid = np.asarray(res["grid"])
    for a, row in res["by_alpha"].items():
        ax1.plot(grid, row["pi"], "o-", ms=3, label=f"π_α, α={float(a):g}")
    ax1.plot(grid, res["limit"]["pi"], "k:", label="π̃ (α → 0)")
    ax1.set(xlabel="w", ylabel="stationary probability", title="Theorem 5: SR on the toy problem, exact")
    ax1.legend(fontsize=7)
    mix = res["mixing"]
    ax2.loglog(1 / np.asarray(mix["alphas"]), mix["times"], "o-",
               label=f"slope {mix['slope_log_time_vs_log_inv_alpha']:.2f}")
    ax2.set(xlabel="1/α", ylabel=f"{res['eps']}-mixing time (steps)", title="Theorem 6: mixing time")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description="Theorems 5-6: SR on the toy problem as an exact Markov chain")
    provenance.add_output_arguments(p, "theory")
    args = p.parse_args(argv)
    res = compute()
    measured = provenance.read_json(args.figures / "fig2_toy.json", {}).get("results", {}).get("sr")
    print(table(res, measured))
    provenance.save(args, "theory_markov", res, plot, "training.theory_markov", argv)


if __name__ == "__main__":
    main()

"""Plots of training histories (``history.json``: a list of per-epoch dicts), in the style of the paper's figures.

Drawn with matplotlib's object API (no pyplot, no display backend) and written atomically.
"""

from matplotlib.figure import Figure

from tfquant_lite.files import replace_with


def _save(fig, path):
    fig.tight_layout()
    replace_with(path, lambda temporary: fig.savefig(temporary, dpi=110))


def errors(curves, path, title="Error per epoch"):
    """Train (solid) and test (dashed) error per epoch; ``curves`` maps a label to a history list."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for i, (label, history) in enumerate(curves.items()):
        epochs = [h["epoch"] for h in history]
        color = f"C{i}"
        ax.plot(epochs, [h["train_error"] for h in history], color=color, label=f"{label} (train)")
        ax.plot(epochs, [h["test_error"] for h in history], "--", color=color, label=f"{label} (test)")
    ax.set(xlabel="epoch", ylabel="error (%)", title=title)
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)


def layer_series(history, prefix):
    """{layer key: [value per epoch]} for every log key ``prefix/<layer key>`` in ``history``."""
    keys = sorted({k for h in history for k in h if k.startswith(prefix + "/")})
    return {k[len(prefix) + 1:]: [h.get(k, float("nan")) for h in history] for k in keys}


def per_layer(panels, prefix, path, ylabel, title=""):
    """One panel per (label, history) in ``panels`` showing every layer's ``prefix/<layer>`` curve (Figs 4, 5, 7)."""
    fig = Figure(figsize=(4 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)
    for ax, (label, history) in zip(axes[0], panels.items()):
        epochs = [h["epoch"] for h in history]
        for layer, values in layer_series(history, prefix).items():
            ax.plot(epochs, values, label=layer.removesuffix(".kernel"))
        ax.set(xlabel="epoch", title=label)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    _save(fig, path)

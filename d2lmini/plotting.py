"""Small plotting helpers so pages stay about the ideas, not matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt


def use_png(retina: bool = True) -> None:
    """Make Jupyter show figures as PNG (sharp on high-DPI screens when ``retina``)."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not in a notebook environment
        return
    set_matplotlib_formats("retina" if retina else "png")


def plot(X, Y=None, xlabel: str | None = None, ylabel: str | None = None, legend: Sequence[str] = (),
         xlim=None, ylim=None, xscale: str = "linear", yscale: str = "linear",
         fmts: Sequence[str] = ("-", "m--", "g-.", "r:", "c-", "y--"), figsize=(6, 3), axes=None,
         title: str | None = None):
    """Plot one or several curves and return the matplotlib ``Axes``.

    ``X`` and ``Y`` are each a sequence of values or a list of such sequences.
    With ``Y`` omitted, ``X`` holds the y values and x is ``0, 1, 2, ...``.
    A single ``X`` is shared by every curve in ``Y``.
    """
    def is_series_list(v) -> bool:
        return isinstance(v, (list, tuple)) and len(v) > 0 and hasattr(v[0], "__len__")

    if Y is None:
        X, Y = None, X
    Y = list(Y) if is_series_list(Y) else [Y]
    if X is None:
        X = [range(len(y)) for y in Y]
    elif not is_series_list(X):
        X = [X] * len(Y)
    if len(X) != len(Y):
        raise ValueError(f"got {len(X)} x series for {len(Y)} y series")
    if axes is None:
        _, axes = plt.subplots(figsize=figsize)
    for i, (x, y) in enumerate(zip(X, Y)):
        axes.plot(x, y, fmts[i % len(fmts)], label=legend[i] if i < len(legend) else None)
    axes.set_xlabel(xlabel or "")
    axes.set_ylabel(ylabel or "")
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    if xlim is not None:
        axes.set_xlim(xlim)
    if ylim is not None:
        axes.set_ylim(ylim)
    if legend:
        axes.legend()
    if title:
        axes.set_title(title)
    axes.grid(alpha=0.3)
    return axes


def plot_training(history: dict, baselines: dict[str, float] | None = None, lr_drop_epoch: int | None = None,
                  ylim: tuple[float, float] | None = (3.5, 5.0), figsize=(6.5, 3.2)):
    """Plot a ``Trainer.history``'s training and validation perplexity per epoch; return the ``Axes``.

    Args:
        history: ``Trainer.history`` (``'epoch'``, ``'train_ppl'``, ``'val_ppl'``).
        baselines: horizontal reference lines, ``{label: perplexity}`` (e.g. the best n-gram).
        lr_drop_epoch: the last epoch at the full learning rate; a vertical line marks the drop after it.
        ylim: the y range; the default makes the 3.5 to 5 region, where the models compete, readable.
            Values above it are clipped at the top, and the first epochs usually are.
    """
    _, ax = plt.subplots(figsize=figsize)
    ax.plot(history["epoch"], history["train_ppl"], "-o", ms=3, label="training")
    ax.plot(history["epoch"], history["val_ppl"], "--s", ms=3, label="validation")
    for (label, value), (color, ls) in zip((baselines or {}).items(), [("k", ":"), ("C3", "-."), ("C4", ":")]):
        ax.axhline(value, color=color, ls=ls, lw=1.2, label=f"{label} ({value:.2f})")
    if lr_drop_epoch is not None:
        ax.axvline(lr_drop_epoch + 0.5, color="0.5", lw=1, ls="--")
        ax.annotate("learning rate / 10", (lr_drop_epoch + 0.5, 0), xycoords=("data", "axes fraction"),
                    xytext=(-4, 4), textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.35")
    ax.set(xlabel="epoch", ylabel="perplexity")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(alpha=0.3)
    return ax

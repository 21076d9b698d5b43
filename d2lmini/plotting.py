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

"""Schematic figures: rounded boxes, arrows between them, and an RNN unrolled in time.

The pages draw their diagrams from these pieces, so every figure of the chapter has the
same shapes and colours: inputs blue, states orange, outputs green, losses purple, values
given from outside grey; the weights ``W_xh``, ``W_hh``, ``W_hq`` are blue, red and green arrows.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

COLORS = {"input": "#dbe9f6", "state": "#fde2c8", "output": "#e3f1dc", "loss": "#f3dcef",
          "given": "#eeeeee", "total": "#fff2cc", "target": "white"}
WEIGHT_COLORS = {"xh": "tab:blue", "hh": "tab:red", "hq": "tab:green"}

Point = tuple[float, float]


def box(ax: Axes, x: float, y: float, text: str | None, color: str = COLORS["input"], *, width: float = 0.84,
        height: float = 0.56, fontsize: float = 11, **text_kw) -> FancyBboxPatch:
    """Draw a rounded box centred at ``(x, y)`` (data units) with ``text`` in its middle.

    ``text_kw`` goes to ``ax.text`` (for example ``weight="bold"``); ``text=None`` leaves the box empty.

    Returns:
        The box; give it to ``arrow`` to start or end an arrow at its edge.
    """
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03,rounding_size=0.1",
                           facecolor=color, edgecolor="0.25", lw=1.1)
    ax.add_patch(patch)
    if text is not None:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **text_kw)
    return patch


def _anchor(end: Point | FancyBboxPatch, which: str) -> tuple[Point, FancyBboxPatch | None]:
    """The point an arrow aims at, and the box that clips it (``None`` for a bare point)."""
    if isinstance(end, FancyBboxPatch):
        return (end.get_x() + end.get_width() / 2, end.get_y() + end.get_height() / 2), end
    try:
        x, y = end
        return (float(x), float(y)), None
    except (TypeError, ValueError):
        raise TypeError(f"{which} must be an (x, y) pair or a box from diagrams.box, got {end!r}") from None


def arrow(ax: Axes, start: Point | FancyBboxPatch, end: Point | FancyBboxPatch, color: str = "0.2", *,
          label: str | None = None, label_offset: Point = (0.12, 0.0), lw: float = 1.3, ls: str = "-",
          rad: float = 0.0, fontsize: float = 9, **label_kw) -> FancyArrowPatch:
    """Draw an arrow from ``start`` to ``end``, each a point ``(x, y)`` or a box made by ``box``.

    An arrow from or to a box aims at its centre and stops just outside its edge.

    Args:
        color: of the arrow and its label.
        label: text at the midpoint moved by ``label_offset`` (data units); it sits to the
            right of that spot for a positive x offset, left for a negative one, centred for 0.
        lw, ls: line width and style (``"--"`` for dashed).
        rad: curvature; 0 is straight, a positive value bends the arrow to its right.
        label_kw: passed to ``ax.text`` for the label (for example ``family="monospace"``).

    Returns:
        The arrow patch.

    Raises:
        TypeError: ``start`` or ``end`` is neither a point nor a box.
    """
    (xa, ya), patch_a = _anchor(start, "start")
    (xb, yb), patch_b = _anchor(end, "end")
    patch = FancyArrowPatch((xa, ya), (xb, yb), patchA=patch_a, patchB=patch_b, arrowstyle="-|>",
                            mutation_scale=12, color=color, lw=lw, ls=ls, connectionstyle=f"arc3,rad={rad}",
                            shrinkA=2 if patch_a is not None else 0, shrinkB=2 if patch_b is not None else 0)
    ax.add_patch(patch)
    if label:
        dx, dy = label_offset
        ha = "left" if dx > 0 else "right" if dx < 0 else "center"
        ax.text((xa + xb) / 2 + dx, (ya + yb) / 2 + dy, label, color=color, fontsize=fontsize, ha=ha, va="center",
                **label_kw)
    return patch


def unrolled_rnn(inputs: Sequence[str], states: Sequence[str], outputs: Sequence[str], *,
                 before: str | None = None, targets: Sequence[str] | None = None, continues: bool = False,
                 weights: bool = True, row_names: Sequence[str] | None = None, box_size: Point = (0.9, 0.6),
                 step: float = 2.2, fontsize: float = 11, title: str | None = None,
                 figsize: Point | None = None, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Draw an RNN unrolled over ``len(inputs)`` steps: one column per step, inputs at the bottom.

    Each column holds an input, a state and an output box (and a target above when
    ``targets`` is given). Blue arrows (``W_xh``) lead from input to state, red ones
    (``W_hh``) from each state to the next, green ones (``W_hq``) from state to output,
    dashed grey ones from output to target.

    Args:
        inputs, states, outputs: one label per step (matplotlib mathtext such as ``"$h_1$"`` works).
        before: label of the state before the first step, drawn as a grey box that feeds it.
        targets: labels of a fourth row, what each output is compared with.
        continues: draw a red arrow leaving the last state: the sequence goes on.
        weights: write the weight matrix beside each arrow.
        row_names: names written to the right of the rows, bottom row first.
        box_size: (width, height) of every box; widen it for two-line labels.
        step: distance between columns. fontsize: of the box labels.
        title: the axes title.
        figsize: size of a new figure (default: from the number of steps).
        ax: draw into these axes instead of a new figure.

    Returns:
        ``(fig, ax)``.

    Raises:
        ValueError: no steps, label lists of different lengths, or ``row_names`` not one per row.
    """
    rows = [("input", inputs), ("state", states), ("output", outputs)]
    if targets is not None:
        rows.append(("target", targets))
    lengths = {name: len(labels) for name, labels in rows}
    if len(set(lengths.values())) != 1 or not len(inputs):
        raise ValueError(f"give one label per step in every row, at least one step; got {lengths}")
    if row_names is not None and len(row_names) != len(rows):
        raise ValueError(f"row_names needs {len(rows)} names (one per row, bottom first), got {len(row_names)}")
    width, height = box_size
    num_steps, top = len(inputs), 1.7 * (len(rows) - 1)  # rows are 1.7 apart
    left, right = (-step if before is not None else 0) - width / 2, (num_steps - 1) * step + width / 2
    if figsize is None:
        scale = min(0.75, 9 / (right - left + 2.5))  # inches per data unit: at most 9 inches wide
        figsize = (scale * (right - left + 2.5), scale * (top + 1.4))
    fig, ax = plt.subplots(figsize=figsize) if ax is None else (ax.figure, ax)
    size = dict(width=width, height=height, fontsize=fontsize)
    previous = box(ax, -step, 1.7, before, COLORS["given"], **size) if before is not None else None
    for i in range(num_steps):
        x = i * step
        column = [box(ax, x, 1.7 * r, labels[i], COLORS[name], **size) for r, (name, labels) in enumerate(rows)]
        arrow(ax, column[0], column[1], WEIGHT_COLORS["xh"], label=r"$W_{xh}$" if weights else None)
        arrow(ax, column[1], column[2], WEIGHT_COLORS["hq"], label=r"$W_{hq}$" if weights else None)
        if previous is not None:
            arrow(ax, previous, column[1], WEIGHT_COLORS["hh"], label=r"$W_{hh}$" if weights else None,
                  label_offset=(0.0, 0.25))
        if targets is not None:
            arrow(ax, column[2], column[3], "gray", ls="--")
        previous = column[1]
    if continues:
        arrow(ax, previous, (right + 0.8, 1.7), WEIGHT_COLORS["hh"])
        right += 0.8
    for r, name in enumerate(row_names or []):
        ax.text(right + 0.4, 1.7 * r, name, ha="left", va="center", fontsize=10, color="dimgray")
    ax.set(xlim=(left - 0.2, right + 0.2), ylim=(-height / 2 - 0.2, top + height / 2 + 0.2))
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return fig, ax

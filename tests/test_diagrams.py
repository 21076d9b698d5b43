"""d2lmini.diagrams: every figure draws the boxes, arrows and labels it promises."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from matplotlib.path import Path  # noqa: E402

from d2lmini.diagrams import COLORS, WEIGHT_COLORS, arrow, box, unrolled_rnn  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    ax.set(xlim=(-1, 3), ylim=(-1, 1))
    yield ax
    plt.close(fig)


def kinds(ax):
    """(boxes, arrows, texts) drawn in ``ax``."""
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    return boxes, arrows, ax.texts


def test_box_is_centred_and_labelled(ax):
    patch = box(ax, 2.0, -0.5, "$h_1$", COLORS["state"], width=1.0, height=0.4)
    assert (patch.get_x(), patch.get_y(), patch.get_width(), patch.get_height()) == pytest.approx((1.5, -0.7, 1, 0.4))
    assert [t.get_text() for t in ax.texts] == ["$h_1$"] and ax.texts[0].get_position() == (2.0, -0.5)
    box(ax, 0, 0, None)
    assert len(ax.patches) == 2 and len(ax.texts) == 1  # text=None: an empty box


def test_arrow_between_boxes_stops_outside_both(ax):
    a, b = box(ax, 0, 0, "a"), box(ax, 2, 0, "b")  # each 0.84 wide plus a 0.03 pad: edges at 0.45 and 1.55
    patch = arrow(ax, a, b, label="$W$", label_offset=(0, 0.3))
    ax.figure.canvas.draw()
    path = patch.get_path()
    xs = path.vertices[path.codes != Path.CLOSEPOLY, 0]
    assert 0.45 < xs.min() and xs.max() < 1.55
    label = ax.texts[-1]
    assert label.get_text() == "$W$" and label.get_position() == pytest.approx((1.0, 0.3))
    assert label.get_ha() == "center"


def test_arrow_between_points_reaches_them(ax):
    patch = arrow(ax, (0, 0), (2, 0), "tab:red", ls="--", rad=0.3)
    ax.figure.canvas.draw()
    path = patch.get_path()
    xs = path.vertices[path.codes != Path.CLOSEPOLY, 0]
    assert xs.min() == pytest.approx(0, abs=1e-6) and xs.max() == pytest.approx(2, abs=0.05)
    assert len(ax.texts) == 0  # no label asked for


def test_arrow_rejects_what_is_not_a_point_or_a_box(ax):
    with pytest.raises(TypeError, match="end must be an"):
        arrow(ax, (0, 0), "h1")
    with pytest.raises(TypeError, match="start must be an"):
        arrow(ax, (0, 0, 0), (1, 1))


def test_unrolled_rnn_draws_one_column_per_step():
    fig, ax = unrolled_rnn(["a", "b", "c"], ["h1", "h2", "h3"], ["o1", "o2", "o3"])
    boxes, arrows, texts = kinds(ax)
    assert len(boxes) == 9 and len(arrows) == 3 + 3 + 2  # W_xh and W_hq per step, W_hh between steps
    labels = [t.get_text() for t in texts]
    assert labels.count(r"$W_{xh}$") == 3 and labels.count(r"$W_{hq}$") == 3 and labels.count(r"$W_{hh}$") == 2
    assert {"a", "h2", "o3"} <= set(labels) and len(texts) == 9 + 8
    colors = [matplotlib.colors.to_hex(a.get_edgecolor()) for a in arrows]
    assert colors.count(matplotlib.colors.to_hex(WEIGHT_COLORS["hh"])) == 2
    plt.close(fig)


def test_unrolled_rnn_with_every_option():
    fig, ax = plt.subplots()
    returned, _ = unrolled_rnn(list("machin"), [f"$H_{t}$" for t in range(1, 7)], [f"$O_{t}$" for t in range(1, 7)],
                               before="$H_0$", targets=list("achine"), continues=True, weights=False,
                               row_names=["input", "state", "logits", "target"], title="six steps", ax=ax)
    assert returned is fig
    boxes, arrows, texts = kinds(ax)
    assert len(boxes) == 1 + 4 * 6  # the state before, then four rows of six
    assert len(arrows) == 6 * 3 + 6 + 1  # per step: W_xh, W_hq, to the target; W_hh into every state; one leaving
    assert sorted(t.get_text() for t in texts if t.get_color() == "dimgray") == ["input", "logits", "state", "target"]
    assert len(texts) == 1 + 4 * 6 + 4 and ax.get_title() == "six steps"  # weights=False: no weight labels
    dashed = [a for a in arrows if a.get_linestyle() == "--"]
    assert len(dashed) == 6
    plt.close(fig)


@pytest.mark.parametrize("kwargs, message", [
    ({"states": ["h1"]}, "one label per step"), ({"targets": ["y1"]}, "one label per step"),
    ({"inputs": [], "states": [], "outputs": []}, "at least one step"),
    ({"row_names": ["x", "h"]}, "row_names needs 3"),
])
def test_unrolled_rnn_bad_labels(kwargs, message):
    args = {"inputs": ["a", "b"], "states": ["h1", "h2"], "outputs": ["o1", "o2"]} | kwargs
    with pytest.raises(ValueError, match=message):
        unrolled_rnn(**args)

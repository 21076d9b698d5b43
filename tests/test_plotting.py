"""plot_training: the curves, the reference lines and the marked learning-rate drop."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import d2lmini as d2l  # noqa: E402


def test_plot_training_draws_curves_baselines_and_the_drop():
    history = {"epoch": [1, 2, 3, 4], "train_ppl": [9.0, 5.0, 4.4, 4.0], "val_ppl": [8.0, 5.5, 4.6, 4.3]}
    ax = d2l.plot_training(history, baselines={"Kneser-Ney": 3.6, "add-0.1": 4.45}, lr_drop_epoch=3)
    lines = ax.get_lines()
    assert [list(line.get_ydata()) for line in lines[:2]] == [history["train_ppl"], history["val_ppl"]]
    horizontal = [line.get_ydata()[0] for line in lines[2:4]]
    assert horizontal == [3.6, 4.45]
    assert list(lines[4].get_xdata()) == [3.5, 3.5]          # the drop, between epochs 3 and 4
    assert ax.get_ylim() == (3.5, 5.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["training", "validation", "Kneser-Ney (3.60)", "add-0.1 (4.45)"]
    plt.close(ax.figure)


def test_plot_training_without_extras_keeps_the_full_range():
    history = {"epoch": [1, 2], "train_ppl": [20.0, 10.0], "val_ppl": [18.0, 9.0]}
    ax = d2l.plot_training(history, ylim=None)
    assert len(ax.get_lines()) == 2 and ax.get_ylim()[1] >= 20
    plt.close(ax.figure)

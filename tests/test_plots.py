"""The course's figures: one colour per method or run, in every panel."""
import math

import matplotlib
import pytest

matplotlib.use("Agg")

from fsc_teach import plots  # noqa: E402


def _history(n=3, train=0.5):
    return {"epoch": list(range(1, n + 1)), "train_loss": [1.0] * n, "train_acc": [train] * n, "val_acc": [0.6] * n,
            "time": [0.1] * n}


def test_a_method_has_one_colour_everywhere_and_a_run_label_keeps_it():
    assert plots.color("Ours") == plots.PALETTE["Ours"] != plots.color("Ours-S") == plots.PALETTE["Ours-S"]
    assert plots.color("KD (seed 0)") == plots.PALETTE["KD"] and plots.color("Iter-KD") == plots.PALETTE["Iter-KD"]
    assert plots.color("something else") == plots.color("something else")  # stable for unknown labels
    # notebook 04: the paper's two-stage FitNet keeps FitNet's colour, the library variant gets its own
    assert plots.color("FitNet two-stage") == plots.PALETTE["FitNet"] != plots.color("FitNet single-stage")
    assert plots.color("CE only") == plots.color("scratch")  # the same method: labels alone
    with pytest.raises(TypeError, match="label"):
        plots.color(3)


def test_training_curves_draw_each_run_in_one_colour_and_skip_unmeasured_training_accuracy():
    fig = plots.training_curves({"scratch (seed 0)": _history(), "KD (seed 0)": _history(train=math.nan)})
    loss, acc = fig.axes
    colours = {line.get_label(): line.get_color() for ax in (loss, acc) for line in ax.get_lines()}
    assert colours["scratch (seed 0)"] == colours["scratch (seed 0) (train)"] == colours["scratch (seed 0) (test)"]
    assert colours["KD (seed 0)"] == colours["KD (seed 0) (test)"] == plots.PALETTE["KD"]
    assert "KD (seed 0) (train)" not in colours  # NaN training accuracy (e.g. on mixed views) is not drawn


def test_training_curves_tick_whole_epochs_only():
    fig = plots.training_curves({"scratch": _history(n=2)})  # two epochs: matplotlib's default gives 1.0, 1.2, …
    for ax in fig.axes:
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks

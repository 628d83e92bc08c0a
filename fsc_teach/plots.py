"""How results are shown: figures, tables with mean ± std, and widgets with a static fallback.

Widgets: ``explore(fn, T=Slider(1, 20, 0.5, 4))`` shows an ipywidgets control in a live notebook. In headless
runs (papermill/CI, or ``FSC_STATIC=1``, which the course runner sets) it draws ``fn`` once at the default
values instead, so the executed notebook on GitHub shows a real figure rather than a dead widget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import torch
from torch import Tensor

from . import progress, validate

__all__ = ["PALETTE", "color", "Slider", "explore", "image_grid", "training_curves", "confusion_matrix", "plot_confusion", "accuracy_vs",
           "mean_std", "markdown_table", "show_table"]


@dataclass(frozen=True)
class Slider:
    """A numeric control: ``Slider(min, max, step, value)``; integers give an integer slider."""

    min: float
    max: float
    step: float
    value: float

    def __post_init__(self):
        for name in ("min", "max", "value"):
            validate.real(name, getattr(self, name))
        validate.real("step", self.step, low=0.0, low_open=True)
        validate.real("max", self.max, low=self.min)
        validate.real("value", self.value, low=self.min, high=self.max)


def _static() -> bool:
    if progress.static():
        return True
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return True
    ip = get_ipython()
    return ip is None or not hasattr(ip, "kernel")


def explore(fn: Callable[..., None], **controls) -> None:
    """Call ``fn(**values)`` from widgets (``Slider`` or a list of choices, first = default), or once statically."""
    validate.function("fn", fn, "fn(**values), one keyword argument per control")
    for k, c in controls.items():  # a Slider, or choices: any collection but a string (its letters)
        if not isinstance(c, Slider) and (isinstance(c, (str, bytes, Tensor)) or not hasattr(c, "__len__")
                                          or not hasattr(c, "__iter__") or len(c) == 0):
            raise TypeError(f"{k} must be a Slider or a non-empty list of choices, got {validate.describe(c)}")
    defaults = {k: (c.value if isinstance(c, Slider) else list(c)[0]) for k, c in controls.items()}
    if _static():
        fn(**defaults)
        return
    import ipywidgets as widgets
    from IPython.display import display

    made = {}
    for k, c in controls.items():
        if isinstance(c, Slider):
            is_int = all(float(v).is_integer() for v in (c.min, c.max, c.step, c.value))
            cls = widgets.IntSlider if is_int else widgets.FloatSlider
            made[k] = cls(min=c.min, max=c.max, step=c.step, value=c.value, description=k,
                          continuous_update=False)
        else:
            made[k] = widgets.Dropdown(options=list(c), value=defaults[k], description=k)
    display(widgets.interactive(fn, **made))


def image_grid(x: Tensor, y: Tensor, class_names: Sequence[str], per_class: int = 8,
               mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)):
    """One row per class with ``per_class`` example images (un-normalised for display)."""
    _check_images(x, y, class_names, per_class, mean, std)
    n_cls = len(class_names)
    fig, axes = plt.subplots(n_cls, per_class, figsize=(per_class * 0.9, n_cls * 0.95), squeeze=False)
    m = torch.tensor(mean).view(-1, 1, 1)
    s = torch.tensor(std).view(-1, 1, 1)
    for c in range(n_cls):
        idx = torch.nonzero(y == c).flatten()[:per_class]
        for j in range(per_class):
            ax = axes[c, j]
            ax.axis("off")
            if j < len(idx):
                img = (x[idx[j]] * s + m).clamp(0, 1)
                ax.imshow(img.permute(1, 2, 0).squeeze(-1).numpy(), cmap="gray" if img.shape[0] == 1 else None)
        axes[c, 0].text(-3, 14, class_names[c], ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.2, wspace=0.05, hspace=0.05)
    return fig


def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]):
    """Loss and accuracy per epoch for several runs: ``{"label": history_from_fit}``."""
    validate.mapping("histories", histories, "{label: history from train.fit}")
    for label, h in histories.items():
        validate.mapping(f"histories[{label!r}]", h, "(a history from train.fit)")
        missing = [k for k in ("epoch", "train_loss", "train_acc", "val_acc") if k not in h]
        if missing or len({len(h[k]) for k in ("epoch", "train_loss", "train_acc", "val_acc")}) != 1:
            raise ValueError(f"histories[{label!r}] must be a train.fit history, one value per epoch under "
                             f"'epoch', 'train_loss', 'train_acc' and 'val_acc'; "
                             + (f"it lacks {missing}" if missing else "their lengths differ"))
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
    for label, h in histories.items():  # one colour per run in both panels; train dashed, test solid
        c = color(label)
        ax_loss.plot(h["epoch"], h["train_loss"], marker="o", color=c, label=label)
        if not all(math.isnan(a) for a in h["train_acc"]):
            ax_acc.plot(h["epoch"], [100 * a for a in h["train_acc"]], marker="o", ls="--", color=c,
                        label=f"{label} (train)")
        if not all(math.isnan(a) for a in h["val_acc"]):
            ax_acc.plot(h["epoch"], [100 * a for a in h["val_acc"]], marker="o", color=c, label=f"{label} (test)")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers: no 0.5-epoch ticks
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# One colour per method (or run) in every figure of the course: the same method looks the same everywhere.
PALETTE = {"teacher": "#555555", "L1-norm": "#9e9e9e", "L1+BN": "#17becf", "scratch": "#8c564b", "BP": "#8c564b",
           "KD": "#ff7f0e", "Iter-KD": "#bcbd22", "FitNet": "#9467bd", "FSKD": "#2ca02c", "Ours-NC": "#1f77b4",
           "Ours": "#d62728", "Ours-S": "#e377c2", "function matching": "#2ca02c", "standard KD": "#ff7f0e",
           "CE only": "#8c564b", "FitNet single-stage": "#404096",  # CE only = scratch; FitNets' library variant
           # notebook 01: pruning rules, quantization grids, and the two data sources of a sensitivity scan
           "layer-wise magnitude": "#393b79", "global magnitude": "#e6550d", "global on std-normalised weights": "#7b4173",
           "sensitivity-guided": "#31a354", "per tensor": "#8c6d31", "per channel": "#3182bd",
           "scan on the test set": "#636363", "few-shot scan": "#fd8d3c",
           # notebook 08: the Gram-matrix family; with error feedback through H⁻¹ (SparseGPT, GPTQ) one colour,
           # without (magnitude, round to nearest) another
           "magnitude": "#9e9e9e", "RTN": "#9e9e9e", "Wanda": "#a6761d", "SparseGPT": "#4d004b", "GPTQ": "#4d004b",
           "OBC": "#c51b7d", "MiR": "#00441b"}
_OTHERS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")


def color(label: str) -> str:
    """The course's colour for a method or run: its own in ``PALETTE`` (a label that starts with a known name gets
    that name's colour, e.g. "KD (seed 0)"), else a stable colour from the label's characters."""
    if not isinstance(label, str):
        raise TypeError(f"label must be a method or run name (str), got {validate.describe(label)}")
    for name in sorted(PALETTE, key=len, reverse=True):
        if label == name or label.startswith(name + " ") or label.startswith(name + ","):
            return PALETTE[name]
    return _OTHERS[sum(map(ord, label)) % len(_OTHERS)]


def accuracy_vs(x: Sequence[float], series: Mapping[str, Sequence[float]], xlabel: str, *,
                cost: Sequence[float] | None = None, cost_label: str = "", reference: float | None = None,
                title: str = "", ax=None):
    """Accuracy curves (values in [0, 1], drawn in %) against ``x``, with an optional cost curve on a second axis.

    Each curve has the course's colour for its label (``color``); the legend (cost curve included) sits below
    the axes, outside the data.
    """
    _check_curves(x, series, cost, reference, ax)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.6))
    for label, acc in series.items():
        ax.plot(x, [100 * a for a in acc], marker="o", label=label, color=color(label))
    if reference is not None:
        ax.axhline(100 * reference, color="grey", ls=":", label=f"unpruned ({100 * reference:.2f} %)")
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if cost is not None:
        twin = ax.twinx()
        handles += twin.plot(x, cost, color="tab:red", ls="--", marker=".", label=cost_label)
        labels.append(cost_label)
        twin.set_ylabel(cost_label, color="tab:red")
        twin.tick_params(axis="y", colors="tab:red")
        twin.set_ylim(bottom=0)
    ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.figure.tight_layout()
    return ax


def confusion_matrix(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """Counts ``cm[i, j]`` of true class ``i`` predicted as ``j``."""
    validate.integer("num_classes", num_classes, low=1)
    validate.labels("y_true", y_true, num_classes=num_classes)
    validate.labels("y_pred", y_pred, rows=len(y_true), num_classes=num_classes)
    return torch.bincount(y_true * num_classes + y_pred, minlength=num_classes ** 2).view(num_classes, num_classes)


def plot_confusion(cm: Tensor, class_names: Sequence[str], title: str = "confusion matrix"):
    """Row-normalised confusion matrix (percent of each true class) with counts written in the cells."""
    validate.tensor("cm", cm, ndim=2)
    validate.sequence("class_names", class_names, "class names", min_len=1)
    if tuple(cm.shape) != (len(class_names),) * 2:
        raise ValueError(f"cm must be a square (classes, classes) matrix with one row per name in class_names "
                         f"({len(class_names)}), got shape {tuple(cm.shape)}")
    pct = 100 * cm.double() / cm.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(pct.numpy(), cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if pct[i, j] > 50 else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.colorbar(im, ax=ax, label="% of true class")
    fig.tight_layout()
    return fig


def mean_std(values: Sequence[float], scale: float = 100.0, digits: int = 2) -> str:
    """``"91.23 ± 0.45"`` (sample std, n−1) of values in [0, 1] shown as percent; a single value has no ± part."""
    _numbers("values", values)
    validate.real("scale", scale)
    validate.integer("digits", digits, low=0)
    v = np.asarray(values, dtype=float) * scale
    if len(v) == 0:
        return "—"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def markdown_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> str:
    """A Markdown table from a list of dicts (the notebooks' results tables)."""
    validate.sequence("rows", rows, "dicts {column: value}")
    for i, r in enumerate(rows):
        validate.mapping(f"rows[{i}]", r, "{column: value}")
    if columns is not None:
        validate.sequence("columns", columns, "column names")
    columns = list(columns or (rows[0].keys() if rows else []))
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else (f"{v:.4g}" if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def show_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str] | None = None) -> None:
    """Display ``markdown_table`` as rendered Markdown in a notebook (plain text elsewhere)."""
    try:
        from IPython.display import Markdown, display
        display(Markdown(markdown_table(rows, columns)))
    except ImportError:
        print(markdown_table(rows, columns))


def _check_images(x, y, class_names, per_class, mean, std) -> None:
    """``image_grid``'s arguments: images ``imshow`` can show, labels into ``class_names``, per-channel statistics."""
    validate.tensor("x", x, ndim=4, kind="float")
    if x.shape[1] not in (1, 3, 4):
        raise ValueError(f"x must hold grey (N, 1, H, W) or colour (N, 3, H, W) images, got shape {tuple(x.shape)}")
    validate.sequence("class_names", class_names, "class names", min_len=1)
    validate.labels("y", y, rows=len(x))
    validate.integer("per_class", per_class, low=1)
    for name, stats in (("mean", mean), ("std", std)):
        if _numbers(name, stats) not in (1, x.shape[1]):
            raise ValueError(f"{name} must hold one number or one per channel ({x.shape[1]}), got {list(stats)}")


def _check_curves(x, series, cost, reference, ax) -> None:
    """``accuracy_vs``'s arguments: every curve has one value per ``x``."""
    n = _numbers("x", x)
    validate.mapping("series", series, "{label: accuracies, one per x}")
    for label, acc in [*series.items(), *([] if cost is None else [(None, cost)])]:
        name = "cost" if label is None else f"series[{label!r}]"
        if _numbers(name, acc) != n:
            raise ValueError(f"{name} must hold one value per x ({n}), got {len(acc)}")
    if reference is not None:
        validate.real("reference", reference)
    if ax is not None and not isinstance(ax, plt.Axes):
        raise TypeError(f"ax must be a matplotlib Axes (fig, ax = plt.subplots()), got {validate.describe(ax)}")


def _numbers(name: str, values) -> int:
    """How many numbers ``values`` holds (a list, tuple, array or 1-D tensor of them); else a ``TypeError``."""
    try:
        v = np.asarray(values, dtype=float) if not isinstance(values, (str, bytes, Mapping)) else None
    except (TypeError, ValueError, RuntimeError):
        v = None
    if v is None or v.ndim != 1:
        raise TypeError(f"{name} must be a list of numbers, got {validate.describe(values)}")
    return len(v)

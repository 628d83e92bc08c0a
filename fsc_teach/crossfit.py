"""Cross-fitting: choose on one half of the held-out images, report on the other half, then swap the halves.

A choice made on held-out images — where a chain stops, which of several children to keep — flatters the chosen
model on exactly those images: among candidates of equal quality, the one that looks best there was partly lucky
there. Reporting on other images avoids that, but a fixed validation split leaves fewer images to report on.
Cross-fitting uses them all: split the held-out images into halves 0 and 1, choose on half 0 and report on half 1,
choose on half 1 and report on half 0. Every held-out image is then reported exactly once, by a model chosen
without it. The pooled result measures the *rule* (the two halves may choose different models), not one model.
A comparison that chooses nothing reports on both halves pooled, i.e. on every held-out image (``pooled``).

Notebook 03 (iterative distillation) uses it for the chain's stopping point and the best of several children.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Sequence, TypeVar

import torch
from torch import Tensor, nn

from . import validate
from .train import evaluate

__all__ = ["split", "check_halves", "accuracies", "pooled", "CrossFit", "cross_fit"]

Item = TypeVar("Item")
Pair = tuple[Tensor, Tensor]


def split(x: Tensor, y: Tensor, *, seed: int = 0) -> tuple[Pair, Pair]:
    """Two disjoint halves ``((x0, y0), (x1, y1))`` of the held-out ``(x, y)``, in a random order fixed by ``seed``.

    Half 0 gets the extra image when ``len(x)`` is odd.
    """
    validate.tensor("x", x, min_ndim=2, kind="float")
    validate.labels("y", y, rows=len(x))
    validate.integer("seed", seed)
    if len(x) < 2:
        raise ValueError(f"x must hold at least 2 held-out images to split into halves, got {len(x)}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    first, second = order[:(len(x) + 1) // 2], order[(len(x) + 1) // 2:]
    return (x[first], y[first]), (x[second], y[second])


def check_halves(halves: Sequence[Pair], ndim: int | None = None) -> Sequence[Pair]:
    """``halves`` if it is two ``(x, y)`` pairs (``split``'s result), the inputs ``ndim``-D when given."""
    validate.sequence("halves", halves, "held-out (x, y) pairs (exactly two: crossfit.split)", min_len=2)
    if len(halves) != 2:
        raise ValueError(f"halves must hold exactly two (x, y) pairs (crossfit.split), got {len(halves)}")
    for k, h in enumerate(halves):
        validate.pair(f"halves[{k}]", h, ndim=ndim)
    return halves


def accuracies(model: nn.Module, halves: Sequence[Pair], batch_size: int = 256) -> tuple[float, float]:
    """``model``'s top-1 accuracy in [0, 1] on each half (``train.evaluate``)."""
    check_halves(halves)
    return tuple(evaluate(model, *h, batch_size=batch_size) for h in halves)


def pooled(accs: Sequence[float], sizes: Sequence[int]) -> float:
    """Accuracy on all the images of both halves: ``(acc_0 · n_0 + acc_1 · n_1) / (n_0 + n_1)``."""
    validate.sequence("accs", accs, "accuracies, one per half", min_len=2)
    validate.sequence("sizes", sizes, "image counts, one per half", min_len=2)
    for k in range(2):
        validate.real(f"accs[{k}]", accs[k], low=0.0, high=1.0)
        validate.integer(f"sizes[{k}]", sizes[k], low=1)
    return (accs[0] * sizes[0] + accs[1] * sizes[1]) / (sizes[0] + sizes[1])


@dataclass(frozen=True)
class CrossFit(Generic[Item]):
    """The choice made on each half, and what each choice scores on the other half."""

    chosen: tuple[Item, Item]  # chosen[k]: what the rule picks looking at half k only
    reported: tuple[float, float]  # reported[k]: chosen[k]'s accuracy on half 1 − k
    sizes: tuple[int, int]  # images in half 0 and half 1

    @property
    def acc(self) -> float:
        """Accuracy on every held-out image, each scored by the model chosen on the *other* half."""
        return (self.reported[0] * self.sizes[1] + self.reported[1] * self.sizes[0]) / sum(self.sizes)


def cross_fit(choose: Callable[[int], Item], accs: Callable[[Item], Sequence[float]],
              sizes: Sequence[int]) -> CrossFit[Item]:
    """Run a selection rule on each half and report each choice on the other half.

    ``choose(k)`` returns what the rule picks when it may look at half ``k`` only (``k`` = 0, 1); ``accs(item)``
    returns an item's accuracies on halves 0 and 1; ``sizes``: the images in each half. When both halves pick the
    same item, ``CrossFit.acc`` equals its ``pooled`` accuracy: nothing was chosen on the reported images.
    """
    validate.function("choose", choose, "choose(k) -> the item picked on half k")
    validate.function("accs", accs, "accs(item) -> (accuracy on half 0, accuracy on half 1)")
    validate.sequence("sizes", sizes, "image counts, one per half", min_len=2)
    for k in range(2):
        validate.integer(f"sizes[{k}]", sizes[k], low=1)
    chosen = (choose(0), choose(1))
    return CrossFit(chosen, (float(accs(chosen[0])[1]), float(accs(chosen[1])[0])), (int(sizes[0]), int(sizes[1])))

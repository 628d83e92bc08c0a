"""Layer sensitivity: how much accuracy each layer loses when it alone is pruned, and what to prune under a budget.

A *sensitivity scan* (Han et al., NeurIPS 2015, Fig. 6; Li et al., ICLR 2017, Sec. 4.1) prunes one conv or linear
weight at a time by magnitude, the others dense, and measures the accuracy at each sparsity of a grid. Its
curves answer two questions:

* which layers are fragile — ``sensitivity``: each layer's mean accuracy drop over the grid;
* how to spend a size budget — ``allocate``: one sparsity per layer (from the scanned grid, or 0) that removes at
  least ``budget`` of all prunable weights with the least *summed* single-layer drop. The sum assumes that the
  layers' drops add up; the accuracy of the chosen network has to be measured, not predicted.

``rank_agreement`` (Kendall's τ-b) says whether a cheap scan (a few images per class) orders the layers as an
expensive one (the whole test set) does. Introduced in notebook 01, §6.
"""
from __future__ import annotations

import copy
import math
from typing import Mapping, Sequence

import torch
from torch import Tensor, nn

from . import validate
from .models import BlockNet, block_input, run_blocks
from .prune import count, keep_top, prunable_weights

__all__ = ["layer_scan", "sensitivity", "allocate", "allocation_masks", "kendall_tau", "rank_agreement"]


def _first_block(model: nn.Module, name: str) -> int | None:
    """The block a weight lives in (``len(blocks)`` for the head) — where a forward pass may start; else None."""
    if not isinstance(model, BlockNet):
        return None
    parts = name.split(".")
    if parts[0] == "blocks":
        return int(parts[1])
    return len(model.blocks) if parts[0] == "head" else None


@torch.no_grad()
def _with_one_layer_pruned(model: nn.Module, name: str, sparsity: float) -> nn.Module:
    """A copy of ``model`` whose weight ``name`` keeps its ``(1 − sparsity)`` largest-magnitude entries."""
    net = copy.deepcopy(model)
    w = prunable_weights(net)[name]
    w.mul_(keep_top(w.abs(), w.numel() - count(sparsity, w.numel())))
    return net


def _check_scan(model, x, y, sparsities, batch_size) -> None:
    validate.module("model", model, nn.Module)
    validate.images("x", x, "model", model)
    validate.labels("y", y, rows=len(x))
    validate.sequence("sparsities", sparsities, "fractions in [0, 1)", min_len=1)
    for s in sparsities:
        validate.real("every sparsity", s, low=0.0, high=1.0, high_open=True)
    validate.integer("batch_size", batch_size, low=1)


@torch.no_grad()
def layer_scan(model: nn.Module, x: Tensor, y: Tensor, sparsities: Sequence[float], *,
               batch_size: int = 250) -> dict[str, list[float]]:
    """``{weight name: [accuracy with only that weight pruned to s, for s in sparsities]}``, accuracies in [0, 1].

    Every conv and linear weight (``prune.prunable_weights``) is pruned alone by magnitude (``scope="layer"``'s
    rule), the rest of the network dense, in eval mode. For a ``BlockNet`` the unpruned blocks before the
    weight are run once per batch and shared by every sparsity (``models.block_input``), so a scan costs about
    half of ``len(weights) · len(sparsities)`` full evaluations. ``x``: ``(N, C, H, W)`` images, ``y``: labels.
    """
    _check_scan(model, x, y, sparsities, batch_size)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        curves = {}
        for name in prunable_weights(model):
            start = _first_block(model, name)
            nets = [_with_one_layer_pruned(model, name, float(s)) for s in sparsities]
            correct = [0] * len(nets)
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
                h = xb if start is None else block_input(model, xb, start)  # (B, C_l, H_l, W_l), shared
                for k, net in enumerate(nets):
                    logits = net(h) if start is None else net.head(run_blocks(net, h, start, len(net.blocks)))
                    correct[k] += int((logits.argmax(1) == yb).sum())
            curves[name] = [c / len(x) for c in correct]
    finally:
        model.train(was_training)
    return curves


def sensitivity(curves: Mapping[str, Sequence[float]], dense: float) -> dict[str, float]:
    """Each layer's mean accuracy drop over the scanned grid, ``dense − mean(curve)``: larger = more fragile."""
    validate.mapping("curves", curves, "{weight name: accuracies}")
    validate.real("dense", dense)
    return {name: dense - sum(acc) / len(acc) for name, acc in curves.items()}


def _check_allocate(drops, sparsities, sizes, budget) -> None:
    validate.mapping("drops", drops, "{weight name: accuracy drops, one per sparsity}")
    validate.mapping("sizes", sizes, "{weight name: number of weights}")
    validate.sequence("sparsities", sparsities, "fractions in [0, 1)", min_len=1)
    for s in sparsities:
        validate.real("every sparsity", s, low=0.0, high=1.0, high_open=True)
    validate.real("budget", budget, low=0.0, high=1.0, high_open=True)
    for name, d in drops.items():
        if name not in sizes:
            raise ValueError(f"sizes has no entry for {name!r}: give the number of weights of every scanned layer")
        validate.integer(f"sizes[{name!r}]", sizes[name], low=1)
        validate.sequence(f"drops[{name!r}]", d, "numbers")
        if len(d) != len(sparsities):
            raise ValueError(f"drops[{name!r}] has {len(d)} values for {len(sparsities)} sparsities")


def allocate(drops: Mapping[str, Sequence[float]], sparsities: Sequence[float], sizes: Mapping[str, int],
             budget: float) -> dict[str, float]:
    """The per-layer sparsities (each 0 or one of ``sparsities``) that prune at least ``budget`` of all the weights
    with the least summed drop ``Σ drops[name][s]``; exact over the grid.

    ``drops[name][i]``: the accuracy lost when layer ``name`` alone is pruned to ``sparsities[i]`` (from
    ``layer_scan``); ``sizes[name]``: its number of weights. Layer ``name`` pruned to ``s`` removes
    ``prune.count(s, sizes[name])`` weights, as magnitude pruning does. Dynamic programming over the layers that
    keeps only Pareto-optimal partial choices (no other prunes as many weights for a smaller summed drop), so it
    never enumerates the whole grid. Ties: the smaller drop, then more weights removed, then the first found.
    """
    _check_allocate(drops, sparsities, sizes, budget)
    need = count(budget, sum(sizes[name] for name in drops))
    frontier = [(0, 0.0, ())]  # (weights removed, summed drop, sparsity per layer so far)
    for name, d in drops.items():
        options = [(0.0, 0.0)] + [(float(s), float(v)) for s, v in zip(sparsities, d) if s > 0]
        merged = [(n + count(s, sizes[name]), loss + v, chosen + (s,))
                  for n, loss, chosen in frontier for s, v in options]
        merged.sort(key=lambda t: (-t[0], t[1]))  # most removed first; among equals, the smallest drop
        frontier, best = [], math.inf
        for t in merged:
            if t[1] < best:  # strictly better than everything that removes at least as many weights
                frontier.append(t)
                best = t[1]
    feasible = [t for t in frontier if t[0] >= need]
    if not feasible:
        raise ValueError(f"budget={budget} cannot be met: even the largest scanned sparsity in every layer removes "
                         f"fewer than {need} weights; scan larger sparsities or lower the budget")
    best_choice = min(feasible, key=lambda t: (t[1], -t[0]))[2]
    return dict(zip(drops, best_choice))


@torch.no_grad()
def allocation_masks(model: nn.Module, allocation: Mapping[str, float]) -> dict[str, Tensor]:
    """Magnitude masks ``{weight name: bool keep-mask}`` pruning each named weight to its own sparsity."""
    validate.module("model", model, nn.Module)
    validate.mapping("allocation", allocation, "{weight name: sparsity}")
    weights = prunable_weights(model)
    masks = {}
    for name, s in allocation.items():
        if name not in weights:
            raise ValueError(f"allocation names {name!r}, which is not a conv or linear weight of model; "
                             f"choose from {list(weights)}")
        validate.real(f"allocation[{name!r}]", s, low=0.0, high=1.0, high_open=True)
        w = weights[name].detach()
        masks[name] = keep_top(w.abs(), w.numel() - count(s, w.numel()))
    return masks


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's τ-b of two paired score lists: +1 same order, −1 reversed, about 0 unrelated; ties count half-way.

    ``τ_b = (C − D) / √((n₀ − t_a)(n₀ − t_b))`` over the ``n₀ = n(n−1)/2`` pairs, with ``C``/``D`` the concordant /
    discordant pairs and ``t_a``/``t_b`` the pairs tied in ``a``/``b`` (Kendall 1945). NaN when either list is
    constant. The same number as ``scipy.stats.kendalltau``, without needing SciPy.
    """
    validate.sequence("a", a, "numbers", min_len=2)
    validate.sequence("b", b, "numbers", min_len=2)
    if len(a) != len(b):
        raise ValueError(f"a and b must be paired, one score each per item; got {len(a)} and {len(b)} scores")
    concordant = discordant = tied_a = tied_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = float(a[i]) - float(a[j]), float(b[i]) - float(b[j])
            tied_a += da == 0
            tied_b += db == 0
            if da * db > 0:
                concordant += 1
            elif da * db < 0:
                discordant += 1
    pairs = len(a) * (len(a) - 1) // 2
    denominator = math.sqrt((pairs - tied_a) * (pairs - tied_b))
    return (concordant - discordant) / denominator if denominator else math.nan


def rank_agreement(scores: Mapping[str, float], reference: Mapping[str, float]) -> float:
    """``kendall_tau`` of two ``{layer: sensitivity}`` dicts over their common layers (same keys required)."""
    validate.mapping("scores", scores, "{layer: sensitivity}")
    validate.mapping("reference", reference, "{layer: sensitivity}")
    if set(scores) != set(reference):
        raise ValueError(f"scores and reference must name the same layers; they differ in "
                         f"{sorted(set(scores) ^ set(reference))}")
    names = list(reference)
    return kendall_tau([scores[n] for n in names], [reference[n] for n in names])

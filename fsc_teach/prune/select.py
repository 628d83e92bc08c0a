"""Score and select: what to keep, as counts, index lists or boolean masks — the one vocabulary of pruning.

* ``count(fraction, n)``: how many of ``n`` units a fraction means (round half up, the same on every platform);
* ``keep_top(scores, n_keep)``: the one top-k, a boolean mask of the ``n_keep`` largest scores; ``top_indices``
  is the same choice as sorted indices;
* scores: ``|w|`` (magnitude, Han et al., NeurIPS 2015), ``l1_norms`` of filters (Li et al., ICLR 2017, Eq. 1),
  ``group_norms`` (L2 norm of slices, the groups of Bai et al.'s structured prox);
* selections built on them: ``magnitude_masks``, ``topk_mask``, ``select_filters``, and the named per-block filter
  ratios ``FILTER_RATIOS``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import validate
from ..models import BasicBlock, BlockNet, ConvBlock
from .masks import prunable_weights

__all__ = ["count", "keep_top", "top_indices", "l1_norms", "group_norms", "l1_filter_scores", "magnitude_masks",
           "topk_mask", "select_filters", "FILTER_RATIOS", "filter_ratios"]


def count(fraction: float, n: int) -> int:
    """``round(fraction · n)`` with halves rounded up, the same on every platform: how many units a fraction is."""
    return int(math.floor(fraction * n + 0.5))


def keep_top(scores: Tensor, n_keep: int) -> Tensor:
    """Boolean mask (``scores``' shape) of the ``n_keep`` largest entries: exact count, ties broken arbitrarily."""
    mask = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    if n_keep > 0:
        mask[torch.topk(scores.flatten(), n_keep).indices] = True
    return mask.view_as(scores)


def top_indices(scores: Tensor, n_keep: int) -> Tensor:
    """The sorted indices of the ``n_keep`` largest entries of a 1-D ``scores``: ``keep_top`` as an index list."""
    return keep_top(scores, n_keep).nonzero().flatten()


def l1_norms(weight: Tensor) -> Tensor:
    """Li et al. (2017) Eq. (1): ``s_j = Σ|F_j|`` for every output filter ``j`` of a conv weight ``(C_out, …)``."""
    return weight.detach().abs().flatten(1).sum(1)


def group_norms(w: Tensor, dim: int) -> Tensor:
    """L2 norm of every slice ``w.select(dim, i)``, shape ``(w.shape[dim],)``."""
    return w.movedim(dim, 0).reshape(w.shape[dim], -1).norm(dim=1)


def group_shape(w: Tensor, dim: int) -> list[int]:
    """``[1, …, w.shape[dim], …, 1]``: a per-group vector broadcast against ``w``."""
    shape = [1] * w.ndim
    shape[dim] = w.shape[dim]
    return shape


def pruned_conv(block: nn.Module) -> nn.Conv2d:
    """The conv whose filters a block prunes: ``ConvBlock.conv``, or a residual block's inner ``conv1``."""
    if isinstance(block, ConvBlock):
        return block.conv
    if isinstance(block, BasicBlock):
        return block.conv1
    raise TypeError(f"cannot prune filters of a {type(block).__name__}; expected ConvBlock or BasicBlock")


@torch.no_grad()
def l1_filter_scores(model: BlockNet) -> list[Tensor]:
    """``l1_norms`` of each block's pruned conv (``pruned_conv``): a list of ``(width_i,)`` tensors on the CPU."""
    return [l1_norms(pruned_conv(block).weight).cpu() for block in model.blocks]


def magnitude_masks(model: nn.Module, sparsity: float, scope: str = "layer") -> dict[str, Tensor]:
    """Han et al. (2015) magnitude pruning: ``{weight name: bool mask}``, True = keep, ``sparsity`` = fraction zeroed.

    ``scope="layer"`` removes the same fraction of every conv/linear weight; ``scope="global"`` ranks all of them
    together, so layers with large weights keep more. Exactly ``count(sparsity, n)`` weights are pruned (per layer
    or in total). Weights that are already zero rank lowest, so repeated calls prune iteratively.
    """
    validate.module("model", model, nn.Module)
    validate.real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    validate.choice("scope", scope, ("layer", "global"))
    weights = prunable_weights(model)
    if scope == "layer":
        return {name: keep_top(w.detach().abs(), w.numel() - count(sparsity, w.numel()))
                for name, w in weights.items()}
    flat = torch.cat([w.detach().abs().flatten().float() for w in weights.values()])
    keep = keep_top(flat, flat.numel() - count(sparsity, flat.numel()))
    masks, start = {}, 0
    for name, w in weights.items():
        masks[name] = keep[start:start + w.numel()].view_as(w).to(w.device)
        start += w.numel()
    return masks


def topk_mask(w: Tensor, keep_fraction: float, structured: bool = False, dim: int = 0) -> Tensor:
    """Boolean mask keeping exactly ``round(keep_fraction · n)`` entries of ``w`` with the largest ``|w|``.

    ``structured=True``: the n units are the slices along ``dim`` (``dim=1``: input channels of a conv weight),
    ranked by their L2 norm (``group_norms``), and the mask has ``w``'s shape. Ties are broken arbitrarily but
    the count is exact. The budgeted mask of Bai et al.'s public code for cross distillation, whose budget
    moves step by step: Python's ``round`` (halves to even) gives the count, as it did when the course's results
    were made (``count``, halves up, would move some steps' budgets by one weight).
    """
    validate.real("keep_fraction", keep_fraction, low=0.0, high=1.0)
    if structured:
        check_groups(w, dim)
    else:
        validate.tensor("w", w, kind="float", non_empty=False)
    return topk_mask_unchecked(w, keep_fraction, structured, dim)


def check_groups(w: Tensor, dim: int) -> None:
    validate.tensor("w", w, min_ndim=1, kind="float", non_empty=False)
    validate.integer("dim", dim, low=-w.ndim, high=w.ndim - 1)


def topk_mask_unchecked(w: Tensor, keep_fraction: float, structured: bool = False, dim: int = 0) -> Tensor:
    """``topk_mask`` without the argument checks: the inner loop's step (checked once, before the loop)."""
    scores = group_norms(w.detach(), dim) if structured else w.detach().abs().flatten()
    keep = keep_top(scores, round(keep_fraction * scores.numel()))
    if structured:
        return keep.view(group_shape(w, dim)).expand_as(w).clone()
    return keep.view_as(w)


def select_filters(scores: list[Tensor], ratios: float | dict[int, float]) -> dict[int, Tensor]:
    """Keep the highest-scoring filters: ``{block: sorted LongTensor of kept filters}`` for every block.

    ``ratios`` is the fraction of filters *removed*: one float for every block, or ``{block index: fraction}``
    (other blocks keep everything). ``count(ratio, width)`` filters go, but at least one filter always stays.
    Each block is scored independently on the original weights (Li et al.'s "independent" strategy).
    """
    if not isinstance(scores, (list, tuple)):
        raise TypeError(f"scores must be a list of 1-D tensors, one per block, got {validate.describe(scores)}")
    for i, s in enumerate(scores):
        validate.tensor(f"scores[{i}]", s, ndim=1, kind="float")
    if not isinstance(ratios, dict):
        validate.real("ratios", ratios, low=0.0, high=1.0)
        ratios = {i: float(ratios) for i in range(len(scores))}
    for i, r in ratios.items():
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(scores):
            raise ValueError(f"block index {i!r} out of range: the network has {len(scores)} blocks")
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0.0 <= r <= 1.0:
            raise ValueError(f"block {i}: the fraction of filters removed must lie in [0, 1], got {r!r}")
    return {i: top_indices(s, max(1, s.numel() - count(ratios.get(i, 0.0), s.numel()))).long()
            for i, s in enumerate(scores)}


# Named filter ratios: for each block, the fraction of its filters removed (``select_filters``' ``ratios``).
FILTER_RATIOS: dict[str, dict] = {
    # Li et al. (2017) Table 2, VGG-16 "pruned-A": half the filters of conv1_1 and conv4_1 ... conv5_3
    # (5.26 M params, 2.06e8 FLOPs with a single Linear(512, 10) head; the paper: 5.3 M, 2.06e8).
    "vgg16-A": {"model": "vgg16_cifar", "blocks": 13, "ratios": {i: 0.5 for i in (0, 7, 8, 9, 10, 11, 12)}},
    # Cross distillation's (Bai et al., AAAI 2020) "VGG-50%": half the input channels of conv2 ... conv13, i.e. half
    # the filters of conv1 ... conv12 while conv13 keeps 512 (4.53 M params, 0.082 GFLOPs with the MLP head).
    "vgg16-50%": {"model": "vgg16_cifar", "blocks": 13, "ratios": {i: 0.5 for i in range(12)}},
    # The course teacher vgg_fmnist() (32,32 | 64,64 | 128,128). "A" follows Li et al.'s pattern (the first conv
    # and the last, least sensitive stage): 38 % of the FLOPs (53 % of the params) removed. "B" also halves the
    # middle stage: 65 % of the FLOPs (72 % params). "C" halves the first two stages and keeps a quarter of the
    # last: 81 % of the FLOPs (87 % params).
    "A": {"model": "vgg_fmnist", "blocks": 6, "ratios": {0: 0.5, 4: 0.5, 5: 0.5}},
    "B": {"model": "vgg_fmnist", "blocks": 6, "ratios": {0: 0.5, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.5}},
    "C": {"model": "vgg_fmnist", "blocks": 6, "ratios": {0: 0.5, 1: 0.5, 2: 0.5, 3: 0.5, 4: 0.75, 5: 0.75}},
    # Every block of the course teacher at half width, the shape of vgg_fmnist(width=0.5): 75 % of the FLOPs removed.
    "50%": {"model": "vgg_fmnist", "blocks": 6, "ratios": {i: 0.5 for i in range(6)}},
}


def filter_ratios(name: str, model: BlockNet | None = None) -> dict[int, float]:
    """A copy of ``FILTER_RATIOS[name]["ratios"]``, checked against ``model``'s block count when given."""
    if name not in FILTER_RATIOS:
        raise ValueError(f"unknown filter ratios {name!r}; known: {', '.join(FILTER_RATIOS)}")
    entry = FILTER_RATIOS[name]
    if model is not None and len(model.blocks) != entry["blocks"]:
        raise ValueError(f"filter ratios {name!r} are for {entry['model']}() with {entry['blocks']} blocks; "
                         f"this network has {len(model.blocks)}")
    return dict(entry["ratios"])

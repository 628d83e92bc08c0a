"""Ways to make a student from a teacher, besides pruning its filters or weights (``prune``).

* ``slimming_keep``: network slimming's channel choice (Liu et al., ICCV 2017), ranked by BatchNorm ``|γ|``; its
  output is the ``kept`` format of ``prune.prune_filters`` and ``fskd.fskd``.
* ``decouple_conv``/``decouple``: network decoupling (Guo, Li and Lin, BMVC 2018), each conv as a depthwise conv
  and a pointwise conv: the student FSKD's Fig. 5 merges into (Li et al., CVPR 2020).
* ``shrink_width``/``shrink_blocks``: builders of narrower or shallower networks of the teacher's architecture,
  the two ways Yalburgi (2019) §4.2 makes each generation's child.
* ``l1_to_widths``: the teacher L1-pruned to exactly the given widths (Li et al., ICLR 2017).
"""
from __future__ import annotations

import copy
import numbers
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from . import validate
from .models import VGG, BlockNet
from .prune import count, l1_filter_scores, prune_filters, top_indices
from .train import trainable_copy

__all__ = ["slimming_keep", "decouple_conv", "decouple", "shrink_width", "shrink_blocks", "l1_to_widths"]


@torch.no_grad()
def slimming_keep(model: nn.Module, ratio: float | Sequence[float]) -> dict[int, Tensor]:
    """Network slimming (Liu et al., ICCV 2017; FSKD's Tables 3–5): channels to keep, ranked by BatchNorm ``|γ|``.

    ``ratio``: the fraction of all channels removed, with one global threshold over every block (the paper's
    "filter-prune-ratio"), or one fraction per block. Every block keeps at least one channel. Returns
    ``{block: sorted kept indices}``, the ``kept`` format of ``fskd``. Needs blocks with a ``.bn`` BatchNorm2d.
    """
    validate.module("model", model, BlockNet)
    if not isinstance(ratio, (numbers.Real, Sequence)) or isinstance(ratio, (bool, str)):
        raise TypeError(f"ratio must be a fraction or one fraction per block, got {validate.describe(ratio)}")
    gammas = []
    for j, block in enumerate(model.blocks):
        if not isinstance(getattr(block, "bn", None), nn.BatchNorm2d):
            raise ValueError(f"model's block {j} has no .bn BatchNorm2d: network slimming ranks channels by BN's γ")
        gammas.append(block.bn.weight.detach().abs().cpu())
    if isinstance(ratio, numbers.Real):
        validate.real("ratio", ratio, low=0.0, high=1.0, high_open=True)
        flat = torch.cat(gammas)
        removed = torch.zeros(len(flat), dtype=torch.bool)
        removed[flat.argsort(stable=True)[:count(ratio, len(flat))]] = True
        masks = list(torch.split(~removed, [len(g) for g in gammas]))
    else:
        if len(ratio) != len(gammas):
            raise ValueError(f"ratio must hold one fraction in [0, 1) per block ({len(gammas)}), got {list(ratio)}")
        for j, r in enumerate(ratio):
            validate.real(f"ratio[{j}]", r, low=0.0, high=1.0, high_open=True)
        masks = []
        for g, r in zip(gammas, ratio):
            mask = torch.ones(len(g), dtype=torch.bool)
            mask[g.argsort(stable=True)[:count(r, len(g))]] = False
            masks.append(mask)
    kept = {}
    for j, (g, mask) in enumerate(zip(gammas, masks)):
        if not mask.any():
            mask[g.argmax()] = True  # never empty a block
        kept[j] = mask.nonzero().flatten()
    return kept


@torch.no_grad()
def decouple_conv(conv: nn.Conv2d, rank: int) -> nn.Sequential:
    """Network decoupling (Guo et al., BMVC 2018; FSKD's Fig. 5): a conv as depthwise k×k + pointwise 1x1.

    For each input channel ``c`` the slice ``W[:, c]`` (C_out × k²) has an SVD ``Σ_t s_t u_t v_tᵀ``; term ``t``
    is a depthwise filter ``v_t`` followed by a pointwise column ``s_t u_t``. Keeping ``rank`` terms gives a
    depthwise conv with ``rank`` outputs per input channel and one pointwise conv; ``rank ≥ min(C_out, k²)`` is
    exact (rank is capped there). Parameters: ``C_in·rank·k² + rank·C_in·C_out`` instead of ``C_out·C_in·k²``.
    """
    validate.module("conv", conv, nn.Conv2d)
    validate.integer("rank", rank, low=1)
    if conv.groups != 1:
        raise ValueError(f"conv must be an ordinary (groups=1) conv to be decoupled, got groups={conv.groups}")
    cout, cin, kh, kw = conv.weight.shape
    rank = max(1, min(int(rank), cout, kh * kw))
    w = conv.weight.double().permute(1, 0, 2, 3).reshape(cin, cout, kh * kw)  # per input channel: (C_out, k²)
    u, s, vh = torch.linalg.svd(w, full_matrices=False)  # (cin, cout, r), (cin, r), (cin, r, k²)
    depthwise = nn.Conv2d(cin, cin * rank, (kh, kw), stride=conv.stride, padding=conv.padding,
                          dilation=conv.dilation, groups=cin, bias=False, padding_mode=conv.padding_mode,
                          device=conv.weight.device, dtype=conv.weight.dtype)
    pointwise = nn.Conv2d(cin * rank, cout, 1, bias=conv.bias is not None, device=conv.weight.device,
                          dtype=conv.weight.dtype)
    # depthwise output channel c·rank + t is v_t of input channel c (groups=cin: `rank` outputs per group)
    depthwise.weight.copy_(vh[:, :rank].reshape(cin * rank, 1, kh, kw))
    pointwise.weight.copy_((u[:, :, :rank] * s[:, None, :rank]).permute(1, 0, 2).reshape(cout, cin * rank, 1, 1))
    if conv.bias is not None:
        pointwise.bias.copy_(conv.bias)
    return nn.Sequential(depthwise, pointwise)


def decouple(model: nn.Module, rank: int, blocks: Sequence[int] | None = None) -> nn.Module:
    """A decoupled copy of ``model`` (Li et al., CVPR 2020, §4.2): each chosen block's 3x3 conv(s) -> ``decouple_conv``.

    ``ConvBlock.conv`` becomes ``nn.Sequential(depthwise, pointwise)``; in a ``BasicBlock`` both convs are
    decoupled. FSKD then merges ``Q`` into the pointwise conv, an ordinary 1x1 conv (Theorem 1 needs no more).
    The copy has a different structure from ``model.config``: save its ``state_dict`` only together with this
    recipe (``build_model`` rebuilds the undecoupled network).
    """
    validate.module("model", model, BlockNet)
    validate.integer("rank", rank, low=1)
    if blocks is not None:
        validate.indices("blocks", blocks, len(model.blocks))
    student = copy.deepcopy(model)
    for j in (range(len(student.blocks)) if blocks is None else blocks):
        block = student.blocks[j]
        for name in ("conv1", "conv2") if hasattr(block, "conv2") else ("conv",):
            setattr(block, name, decouple_conv(getattr(block, name), rank))
    return student


def shrink_width(model: VGG, factor: float) -> Callable[[], VGG]:
    """Yalburgi (2019) §4.2 "reduce block size": a builder of ``model``'s architecture, every block ``factor`` as wide."""
    validate.module("model", model, VGG)
    validate.real("factor", factor, low=0.0, low_open=True)
    config = dict(model.config)
    config["widths"] = [max(1, round(w * factor)) for w in config["widths"]]
    return lambda: VGG(**config)


def shrink_blocks(model: VGG, drop: int) -> Callable[[], VGG]:
    """Yalburgi (2019) §4.2 "reduce number of blocks": a builder of ``model``'s architecture, ``drop`` fewer blocks.

    A stage is the run of blocks up to a pool. Blocks are removed from the deepest stage first (the widest, the
    most parameters), one per stage in turn, never emptying a stage; a stage loses one conv but keeps its output
    width and its pool, so the head's input size is unchanged.
    """
    validate.module("model", model, VGG)
    validate.integer("drop", drop, low=0)
    config = dict(model.config)
    widths, pools = config["widths"], sorted(config["pools"])
    stages, start = [], 0
    for p in pools:
        stages.append(list(widths[start:p + 1]))
        start = p + 1
    if start < len(widths):
        stages.append(list(widths[start:]))
    removable = sum(len(s) - 1 for s in stages)
    if not 0 <= drop <= removable:
        raise ValueError(f"drop must lie between 0 and {removable}, the blocks that can go without emptying a stage, "
                         f"got {drop}")
    order = [i for rnd in range(max(len(s) for s in stages)) for i in reversed(range(len(stages)))
             if len(stages[i]) - 1 > rnd]
    for i in order[:drop]:
        stages[i].pop(0)
    config["widths"] = [w for s in stages for w in s]
    config["pools"], pos = [], -1
    for s in stages[:len(pools)]:
        pos += len(s)
        config["pools"].append(pos)
    return lambda: VGG(**config)


def l1_to_widths(model: BlockNet, widths: Sequence[int]) -> BlockNet:
    """A trainable copy of ``model`` L1-pruned to exactly ``widths``: per block, the filters of largest L1 norm."""
    validate.module("model", model, BlockNet)
    validate.sequence("widths", widths, "widths, one per block")
    if len(widths) != len(model.blocks):
        raise ValueError(f"widths must hold one width per block ({len(model.blocks)}), got {list(widths)}")
    for i, (w, full) in enumerate(zip(widths, model.widths)):
        validate.integer(f"widths[{i}]", w, low=1, high=full)
    keep = {i: top_indices(scores, w) for i, (scores, w) in enumerate(zip(l1_filter_scores(model), widths))}
    return trainable_copy(prune_filters(model, keep))

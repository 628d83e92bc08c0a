"""Physically smaller networks: remove pruned filters and rebuild with ``models.build_model``.

``prune_filters`` keeps given filters of every block (Li et al., ICLR 2017, Sec. 3.2); ``l1_prune`` scores,
selects and rebuilds in one call; ``shrink`` removes the channels a structured mask set killed (cross
distillation's result) through ``prune_filters``; ``report`` measures a pruned network.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from .. import validate
from ..models import BlockNet, build_model, count_flops, count_params
from .masks import alive_channels, block_kind, sparsity, state_tensors, zero_masked_
from .select import l1_filter_scores, select_filters

__all__ = ["prune_filters", "l1_prune", "shrink", "report"]


def _check_keep(model: BlockNet, keep: dict[int, Tensor]) -> list[Tensor]:
    validate.module("model", model, BlockNet)
    if not isinstance(keep, dict):
        raise TypeError(f"keep must be a dict {{block: kept filter indices}}, got {validate.describe(keep)}")
    widths = model.widths
    out = []
    for i, w in enumerate(widths):
        k = torch.as_tensor(keep.get(i, torch.arange(w))).long().flatten().cpu()
        k = torch.sort(k).values
        if k.numel() == 0 or k.unique().numel() != k.numel() or k[0] < 0 or k[-1] >= w:
            raise ValueError(f"block {i}: kept filters must be distinct indices in [0, {w}) and at least one; "
                             f"got {k.tolist()}")
        out.append(k)
    if set(keep) - set(range(len(widths))):
        raise ValueError(f"keep names blocks {sorted(set(keep) - set(range(len(widths))))}, "
                         f"but the network has {len(widths)} blocks")
    return out


def _first_linear_key(model: BlockNet) -> str:
    for name, mod in model.head.named_modules():
        if isinstance(mod, nn.Linear):
            return f"head.{name}.weight"
    raise ValueError("the head has no Linear layer whose inputs could be sliced")


_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def _slice_(sd: dict[str, Tensor], key: str, index: Tensor, dim: int) -> None:
    if key in sd:
        sd[key] = sd[key].index_select(dim, index.to(sd[key].device)).clone()


@torch.no_grad()
def prune_filters(model: BlockNet, keep: dict[int, Tensor]) -> BlockNet:
    """Li et al. (2017) Sec. 3.2: a physically smaller copy of ``model`` that keeps filters ``keep[i]`` of block i.

    ``keep`` maps block index -> LongTensor of surviving filters (missing blocks keep all). For a chain of
    ``ConvBlock``\\ s (VGG, SmallCNN) block i's conv loses output filters (weight rows, bias, BatchNorm weight,
    bias and running statistics) and block i+1's conv the matching input channels; the last block's survivors
    select the head's first Linear inputs, which ``Flatten`` orders channel-major (``c·s·s + spatial``). In a
    residual block only the inner width is pruned: ``conv1`` outputs, ``bn1`` and ``conv2`` inputs, so block
    outputs and shortcuts are untouched. The new network is ``build_model(arch, config with new widths)``; the
    original is not modified. Adapters must be merged (or removed) first.
    """
    kept = _check_keep(model, keep)
    for i, block in enumerate(model.blocks):
        if not isinstance(block.adapter, nn.Identity):
            raise ValueError(f"block {i} has an adapter ({type(block.adapter).__name__}); merge it first")
    device, dtype = next(model.parameters()).device, next(model.parameters()).dtype
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    chain = block_kind(model) == "conv"
    for i, k in enumerate(kept):
        p = f"blocks.{i}."
        if chain:
            _slice_(sd, p + "conv.weight", k, 0)  # (Cout, Cin, kh, kw): drop filters ...
            _slice_(sd, p + "conv.bias", k, 0)
            for s in _BN_KEYS:
                _slice_(sd, p + f"bn.{s}", k, 0)
            if i + 1 < len(kept):
                _slice_(sd, f"blocks.{i + 1}.conv.weight", k, 1)  # ... and the next conv's input channels
        else:
            _slice_(sd, p + "conv1.weight", k, 0)
            for s in _BN_KEYS:
                _slice_(sd, p + f"bn1.{s}", k, 0)
            _slice_(sd, p + "conv2.weight", k, 1)
    if chain:  # Flatten is channel-major: feature index = c * (s*s) + spatial position
        key = _first_linear_key(model)
        w = sd[key]
        w = w.view(w.shape[0], model.widths[-1], -1)  # (out, C, s*s)
        sd[key] = w.index_select(1, kept[-1].to(w.device)).reshape(w.shape[0], -1).clone()
    config = copy.deepcopy(model.config)
    config["widths"] = [len(k) for k in kept]
    new = build_model(model.arch, config)
    new.load_state_dict(sd, strict=True)  # any tensor we forgot to slice fails loudly here
    return new.to(device=device, dtype=dtype).train(model.training)


def l1_prune(model: BlockNet, ratios: float | dict[int, float]) -> tuple[BlockNet, dict[int, Tensor]]:
    """Li et al. (2017): score by L1 norm, keep the top filters, rebuild; returns ``(pruned, kept)``.

    ``ratios``: fraction of filters removed, one float or ``{block: fraction}``. ``kept[i]`` is the sorted
    LongTensor of the *original* block i's output channels that survive (FSKD aligns teacher channels with it).
    """
    validate.module("model", model, BlockNet)
    kept = select_filters(l1_filter_scores(model), ratios)
    return prune_filters(model, kept), kept


@torch.no_grad()
def shrink(model: BlockNet, masks: dict[str, Tensor]) -> BlockNet:
    """The physically smaller network: the channels ``masks`` killed removed, through ``prune_filters``.

    A channel is removed when ``masks`` zero its producer completely (``structured_masks`` does); it then outputs
    exactly zero, so dropping it and the consumer's matching input slice computes the same function. Unstructured
    masks remove nothing here (their zeros stay zeros; count them with ``count_params(..., nonzero=True)``).
    """
    kind = block_kind(model)
    if any(not isinstance(getattr(b, "adapter", nn.Identity()), nn.Identity) for b in model.blocks):
        raise ValueError("merge FSKD adapters before shrinking")
    kept = [alive_channels(model, masks, j) for j in range(len(model.blocks))]
    if kind == "conv" and not bool(kept[-1].all()):
        raise ValueError("the last block's channels feed the head and cannot be removed")
    masked = copy.deepcopy(model)
    zero_masked_(state_tensors(masked), masks)
    return prune_filters(masked, {j: k.nonzero().flatten().cpu() for j, k in enumerate(kept)})


def report(model: nn.Module, input_size: tuple[int, ...] = (1, 28, 28)) -> dict[str, float]:
    """Size of a (pruned) network: params, non-zero params, FLOPs (MACs) dense and non-zero, weight sparsity."""
    validate.module("model", model, nn.Module)
    return {
        "params": count_params(model),
        "nonzero_params": count_params(model, nonzero=True),
        "flops": count_flops(model, input_size),
        "nonzero_flops": count_flops(model, input_size, nonzero=True),
        "sparsity": sparsity(model),
    }

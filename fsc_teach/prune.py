"""Pruning as three small steps: score -> select -> apply.

Unstructured (weights set to zero, the network keeps its shape)
    ``magnitude_masks`` scores every conv/linear weight by ``|w|`` and selects the largest, layer by layer or over
    the whole network; ``apply_masks_`` zeroes the rest and keeps them at zero while training (see below);
    ``sparsity`` and ``report`` measure the result. Only conv and linear *weights* are pruned: biases and
    BatchNorm are left alone.

Structured (filters removed, the network gets physically smaller)
    ``l1_filter_scores`` scores each block's filters by the L1 norm of their weights (Li et al. 2017, "Pruning
    Filters for Efficient ConvNets", Sec. 3.1); ``select_filters`` keeps the highest-scoring ones per block;
    ``prune_filters`` builds the smaller network with ``models.build_model`` and copies the surviving slices of
    every tensor; ``l1_prune`` chains the three. ``SCHEMES`` holds the papers' named ratios.

How masks persist through training
    ``apply_masks_`` stores each mask as a non-persistent buffer ``weight_mask`` on the conv/linear module (it
    follows ``.to(device)``, stays out of ``state_dict``, so checkpoints still load into ``build_model``) and
    registers a gradient hook ``grad * mask`` on the weight. A masked weight then gets a zero gradient, so with a
    *fresh* optimizer (``train.fit`` creates one per call) its SGD momentum, weight decay (``0 · wd``) and Adam
    moments all stay exactly zero and the weight never moves. Two cases need ``reapply_masks_(model)``, which
    re-zeroes the masked weights and re-installs the hooks:

    * an optimizer that already holds state from before the masks (its momentum would revive pruned weights —
      cross distillation's code zeroes Adam's moments for this reason, method notes §4): call it after every step;
    * ``copy.deepcopy`` of a masked model: PyTorch does not copy tensor hooks (the buffers are copied).

    ``remove_masks_`` drops hooks and buffers (the zeros stay, but nothing enforces them any more).
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from . import validate
from .models import BasicBlock, BlockNet, ConvBlock, build_model, count_flops, count_params

__all__ = [
    "prunable_weights", "magnitude_masks", "apply_masks_", "reapply_masks_", "remove_masks_", "get_masks",
    "sparsity", "l1_filter_scores", "select_filters", "prune_filters", "l1_prune", "SCHEMES", "scheme_ratios",
    "report",
]


# ---------------------------------------------------------------------------------------------------------------
# Unstructured magnitude pruning with persistent masks
# ---------------------------------------------------------------------------------------------------------------

def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Every conv and linear weight, by its ``named_parameters`` name (biases and BatchNorm excluded)."""
    return {f"{name}.weight" if name else "weight": mod.weight for name, mod in model.named_modules()
            if isinstance(mod, (nn.Conv2d, nn.Linear))}


def _keep_largest(scores: Tensor, n_keep: int) -> Tensor:
    """Boolean mask of the ``n_keep`` largest entries of ``scores`` (exact count, ties broken arbitrarily)."""
    mask = torch.zeros(scores.numel(), dtype=torch.bool, device=scores.device)
    if n_keep > 0:
        mask[torch.topk(scores.flatten(), n_keep).indices] = True
    return mask.view_as(scores)


def magnitude_masks(model: nn.Module, sparsity: float, scope: str = "layer") -> dict[str, Tensor]:
    """Han et al. (2015) magnitude pruning: ``{weight name: bool mask}``, True = keep, ``sparsity`` = fraction zeroed.

    ``scope="layer"`` removes the same fraction of every conv/linear weight; ``scope="global"`` ranks all of them
    together, so layers with large weights keep more. Exactly ``round(sparsity · n)`` weights are pruned (per layer
    or in total). Weights that are already zero rank lowest, so repeated calls prune iteratively.
    """
    validate.module("model", model, nn.Module)
    validate.real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    validate.choice("scope", scope, ("layer", "global"))
    weights = prunable_weights(model)
    if scope == "layer":
        return {name: _keep_largest(w.detach().abs(), w.numel() - _count(sparsity, w.numel()))
                for name, w in weights.items()}
    if scope == "global":
        flat = torch.cat([w.detach().abs().flatten().float() for w in weights.values()])
        keep = _keep_largest(flat, flat.numel() - _count(sparsity, flat.numel()))
        masks, start = {}, 0
        for name, w in weights.items():
            masks[name] = keep[start:start + w.numel()].view_as(w).to(w.device)
            start += w.numel()
        return masks
    raise ValueError(f"unknown scope {scope!r}; use 'layer' or 'global'")


def _count(fraction: float, n: int) -> int:
    return int(math.floor(fraction * n + 0.5))  # round half up, the same on every platform


def _owner(model: nn.Module, name: str) -> nn.Module:
    module_name, _, attr = name.rpartition(".")
    if attr != "weight":
        raise ValueError(f"masks apply to conv/linear weights, got {name!r}")
    module = model.get_submodule(module_name)
    if not isinstance(module, (nn.Conv2d, nn.Linear)):
        raise ValueError(f"{name!r} is not the weight of a conv or linear layer")
    return module


def _hook(module: nn.Module) -> None:
    """(Re)install the gradient hook ``grad * mask`` on ``module.weight``; idempotent.

    A frozen weight (``requires_grad=False``, e.g. a teacher's) gets no hook: it cannot be trained anyway; call
    ``reapply_masks_`` after making it trainable.
    """
    handle = getattr(module, "_mask_hook", None)
    if handle is not None:
        handle.remove()  # after a deepcopy this removes from a stale copy: harmless
        module._mask_hook = None
    if not module.weight.requires_grad:
        return
    # the hook reads the buffer at call time, so it follows .to(device) and later reapply_masks_ calls
    module._mask_hook = module.weight.register_hook(lambda grad, m=module: grad * m.weight_mask)


@torch.no_grad()
def apply_masks_(model: nn.Module, masks: dict[str, Tensor]) -> nn.Module:
    """Zero the weights where ``mask`` is False and keep them zero while training (see the module docstring)."""
    validate.module("model", model, nn.Module)
    if not isinstance(masks, dict):
        raise TypeError(f"masks must be a dict {{weight name: bool mask}}, got {validate.describe(masks)}")
    for name, mask in masks.items():
        if not isinstance(name, str):
            raise TypeError(f"masks keys must be weight names such as 'blocks.0.conv.weight', got {name!r}")
        validate.tensor(f"masks[{name!r}]", mask, non_empty=False)
        try:
            _owner(model, name)
        except AttributeError as err:  # get_submodule: no such module
            raise ValueError(f"masks[{name!r}] names no layer of model ({err})") from None
    for name, mask in masks.items():
        module = _owner(model, name)
        if mask.shape != module.weight.shape:
            raise ValueError(f"mask for {name!r} has shape {tuple(mask.shape)}, weight {tuple(module.weight.shape)}")
        mask = mask.to(device=module.weight.device, dtype=torch.bool)
        if "weight_mask" in module._buffers:
            mask = mask & module.weight_mask  # a second round of pruning never revives weights
        module.register_buffer("weight_mask", mask, persistent=False)
        module.weight.mul_(mask)
        _hook(module)
    return model


@torch.no_grad()
def reapply_masks_(model: nn.Module) -> nn.Module:
    """Re-zero every masked weight and re-install its gradient hook (after steps with a stale optimizer, a deepcopy)."""
    for module in model.modules():
        if "weight_mask" in module._buffers:
            module.weight.mul_(module.weight_mask)
            _hook(module)
    return model


def remove_masks_(model: nn.Module) -> nn.Module:
    """Stop enforcing the masks: drop the hooks and ``weight_mask`` buffers (the zeroed weights stay zero)."""
    for module in model.modules():
        if "weight_mask" in module._buffers:
            handle = getattr(module, "_mask_hook", None)
            if handle is not None:
                handle.remove()
                del module._mask_hook
            del module._buffers["weight_mask"]
    return model


def get_masks(model: nn.Module) -> dict[str, Tensor]:
    """The masks ``apply_masks_`` installed, ``{weight name: bool mask}`` (empty if none)."""
    return {f"{name}.weight" if name else "weight": mod.weight_mask.clone()
            for name, mod in model.named_modules() if "weight_mask" in mod._buffers}


def sparsity(model: nn.Module) -> float:
    """Fraction of conv and linear weights that are exactly zero."""
    weights = list(prunable_weights(model).values())
    total = sum(w.numel() for w in weights)
    return sum(w.numel() - int(torch.count_nonzero(w)) for w in weights) / max(1, total)


# ---------------------------------------------------------------------------------------------------------------
# Structured L1-norm filter pruning (Li et al. 2017)
# ---------------------------------------------------------------------------------------------------------------

def _pruned_conv(block: nn.Module) -> nn.Conv2d:
    """The conv whose filters a block prunes: ``ConvBlock.conv``, or a residual block's inner ``conv1``."""
    if isinstance(block, ConvBlock):
        return block.conv
    if isinstance(block, BasicBlock):
        return block.conv1
    raise TypeError(f"cannot prune filters of a {type(block).__name__}; expected ConvBlock or BasicBlock")


@torch.no_grad()
def l1_filter_scores(model: BlockNet) -> list[Tensor]:
    """Li et al. (2017) Eq. (1): ``s_j = Σ|F_j|`` for each output filter of each block; a list of ``(width_i,)``."""
    return [_pruned_conv(block).weight.detach().abs().sum(dim=(1, 2, 3)).cpu() for block in model.blocks]


def select_filters(scores: list[Tensor], ratios: float | dict[int, float]) -> dict[int, Tensor]:
    """Keep the highest-scoring filters: ``{block: sorted LongTensor of kept filters}`` for every block.

    ``ratios`` is the fraction of filters *removed*: one float for every block, or ``{block index: fraction}``
    (other blocks keep everything). ``round(ratio · width)`` filters go, but at least one filter always stays.
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
    keep = {}
    for i, s in enumerate(scores):
        n = s.numel()
        n_keep = max(1, n - _count(ratios.get(i, 0.0), n))
        keep[i] = torch.sort(torch.topk(s, n_keep).indices).values.long()
    return keep


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
    chain = all(isinstance(b, ConvBlock) for b in model.blocks)
    if not chain and not all(isinstance(b, BasicBlock) for b in model.blocks):
        raise TypeError("prune_filters supports networks made of ConvBlocks (VGG, SmallCNN) or BasicBlocks (ResNet)")
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


# ---------------------------------------------------------------------------------------------------------------
# Named schemes: fraction of filters removed per block
# ---------------------------------------------------------------------------------------------------------------

SCHEMES: dict[str, dict] = {
    # Li et al. (2017) Table 2, VGG-16 "pruned-A": half the filters of conv1_1 and conv4_1 ... conv5_3
    # (5.26 M params, 2.06e8 FLOPs with a single Linear(512, 10) head; paper: 5.3 M, 2.06e8; method notes §3).
    "vgg16-A": {"model": "vgg16_cifar", "blocks": 13, "ratios": {i: 0.5 for i in (0, 7, 8, 9, 10, 11, 12)}},
    # Cross distillation (seed 002) "VGG-50%": half the input channels of conv2 ... conv13, i.e. half the filters
    # of conv1 ... conv12 while conv13 keeps 512 (4.53 M params, 0.082 GFLOPs with the MLP head).
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


def scheme_ratios(name: str, model: BlockNet | None = None) -> dict[int, float]:
    """A copy of ``SCHEMES[name]["ratios"]``, checked against ``model``'s block count when given."""
    if name not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; known: {', '.join(SCHEMES)}")
    scheme = SCHEMES[name]
    if model is not None and len(model.blocks) != scheme["blocks"]:
        raise ValueError(f"scheme {name!r} is for {scheme['model']}() with {scheme['blocks']} blocks; "
                         f"this network has {len(model.blocks)}")
    return dict(scheme["ratios"])


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

"""The one mask system: ``{state_dict name: bool tensor of that entry's shape}``, True = keep, False = held at zero.

A mask set may name weights, biases and BatchNorm buffers, so one dict describes an unstructured cut (conv/linear
weights) as completely as a structured one (``structured_masks``: a channel's filter, bias, BatchNorm ``γ, β``
and running statistics). Two ways to hold masked entries at zero while training:

* ``apply_masks_`` (for ``train.fit``): stores each weight's mask as a non-persistent buffer ``weight_mask`` on
  its conv/linear module (it follows ``.to(device)``, stays out of ``state_dict``, so checkpoints still load into
  ``build_model``) and registers a gradient hook ``grad * mask``. A masked weight then gets a zero gradient, so
  with a *fresh* optimizer (``fit`` creates one per call) its SGD momentum, weight decay (``0 · wd``) and Adam
  moments all stay exactly zero and the weight never moves. ``reapply_masks_`` re-zeroes and re-installs the
  hooks: after steps with an optimizer that holds state from before the masks (its momentum would revive pruned
  weights), and after ``copy.deepcopy`` (PyTorch does not copy tensor hooks). ``remove_masks_`` drops them.
* ``remask_(model, masks, optimizer)`` (for hand-written loops such as cross distillation's): zeroes the masked
  entries, their gradients and the optimizer's moment estimates; call it after ``backward()`` and after ``step()``.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import validate
from ..models import BasicBlock, BlockNet, ConvBlock

__all__ = ["prunable_weights", "apply_masks_", "reapply_masks_", "remove_masks_", "get_masks", "remask_",
           "merge_masks", "structured_masks", "channel_site", "alive_channels", "block_kind", "sparsity"]


def prunable_weights(model: nn.Module) -> dict[str, nn.Parameter]:
    """Every conv and linear weight, by its ``named_parameters`` name (biases and BatchNorm excluded)."""
    return {f"{name}.weight" if name else "weight": mod.weight for name, mod in model.named_modules()
            if isinstance(mod, (nn.Conv2d, nn.Linear))}


def state_tensors(model: nn.Module) -> dict[str, Tensor]:
    """Every parameter and buffer by its ``state_dict`` name: what a mask set may name."""
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def merge_masks(masks: dict[str, Tensor], new: dict[str, Tensor]) -> dict[str, Tensor]:
    """Union of two cuts: an entry pruned in either mask set stays pruned."""
    out = dict(masks)
    for name, m in new.items():
        out[name] = out[name] & m if name in out else m
    return out


@torch.no_grad()
def zero_masked_(state: dict[str, Tensor], masks: dict[str, Tensor], optimizer=None) -> None:
    """Zero every masked entry of ``state``'s tensors, of their gradients and of ``optimizer``'s per-entry state."""
    for name, mask in masks.items():
        t = state[name]
        mask = mask.to(t.device)
        t.mul_(mask)
        if isinstance(t, nn.Parameter):
            if t.grad is not None:
                t.grad.mul_(mask)
            if optimizer is not None:
                for v in optimizer.state.get(t, {}).values():
                    if torch.is_tensor(v) and v.shape == t.shape:
                        v.mul_(mask)  # Adam's exp_avg, exp_avg_sq; SGD's momentum_buffer


@torch.no_grad()
def remask_(model: nn.Module, masks: dict[str, Tensor], optimizer: torch.optim.Optimizer | None = None) -> nn.Module:
    """Zero every masked entry of ``model`` (weights and buffers), of its gradient and of the optimiser's state.

    Call it after ``backward()`` and again after ``optimizer.step()``: a zero gradient with zero Adam moments (or
    SGD momentum) gives a zero update, and the second call makes the zeros exact whatever the optimiser does.
    """
    zero_masked_(state_tensors(model), masks, optimizer)
    return model


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
# Structured cuts of a BlockNet: which tensors a channel lives in
# ---------------------------------------------------------------------------------------------------------------

def block_kind(model: BlockNet) -> str:
    """``"conv"`` for a chain of ``ConvBlock``\\ s (VGG, SmallCNN), ``"residual"`` for ``BasicBlock``\\ s (ResNet)."""
    if all(isinstance(b, ConvBlock) for b in model.blocks):
        return "conv"
    if all(isinstance(b, BasicBlock) for b in model.blocks):
        return "residual"
    raise TypeError("structured pruning handles networks made of ConvBlocks (VGG, SmallCNN) or BasicBlocks "
                    "(ResNetCIFAR)")


def producer(model: BlockNet, j: int) -> tuple[str, str]:
    """``(conv, bn)`` module names of the filters block ``j`` prunes: ``conv``/``bn``, or a residual ``conv1``/``bn1``."""
    if isinstance(model.blocks[j], BasicBlock):
        return f"blocks.{j}.conv1", f"blocks.{j}.bn1"
    return f"blocks.{j}.conv", f"blocks.{j}.bn"


def channel_site(model: BlockNet, l: int) -> tuple[str, str, str]:
    """``(consumer weight, producer conv, producer bn)`` names for the channels pruned at block ``l``.

    VGG: the input channels of block l's conv, produced by block l−1. ResNet: the inner channels of block l
    (inputs of conv2, produced by conv1/bn1), so block outputs and shortcuts keep their widths.
    """
    if isinstance(model.blocks[l], BasicBlock):
        return (f"blocks.{l}.conv2.weight", *producer(model, l))
    if l == 0:
        raise ValueError("block 0's input channels are the image's channels; they cannot be pruned")
    if not isinstance(model.blocks[l - 1].adapter, nn.Identity):
        raise ValueError(f"block {l - 1} has an adapter (FSKD's 1x1 conv): merge it before pruning its channels")
    return (f"blocks.{l}.conv.weight", *producer(model, l - 1))


def structured_masks(model: BlockNet, l: int, keep: Tensor) -> dict[str, Tensor]:
    """Masks removing the channels ``~keep`` at block ``l``: the consumer's input channels and their producer.

    The producer's filters, conv bias and BatchNorm ``γ, β``, running mean and running variance are all masked:
    a dead channel must output exactly 0, not BatchNorm's constant ``β − γμ/σ``.
    """
    consumer, conv, bn = channel_site(model, l)
    state = state_tensors(model)
    keep = keep.to(device=state[consumer].device, dtype=torch.bool).flatten()
    masks = {consumer: keep.view(1, -1, 1, 1).expand_as(state[consumer]).clone(),
             f"{conv}.weight": keep.view(-1, 1, 1, 1).expand_as(state[f"{conv}.weight"]).clone()}
    for name in (f"{conv}.bias", f"{bn}.weight", f"{bn}.bias", f"{bn}.running_mean", f"{bn}.running_var"):
        if name in state:
            masks[name] = keep.clone()
    return masks


def alive_channels(model: BlockNet, masks: dict[str, Tensor], j: int) -> Tensor:
    """Channels block ``j`` produces that may be non-zero: dead when its filter, bias and BN γ, β are all masked."""
    conv, bn = producer(model, j)
    state = state_tensors(model)
    width = state[f"{conv}.weight"].shape[0]
    dead = torch.ones(width, dtype=torch.bool, device=state[f"{conv}.weight"].device)
    for name in (f"{conv}.weight", f"{conv}.bias", f"{bn}.weight", f"{bn}.bias"):
        if name not in state:
            continue
        if name not in masks:
            return torch.ones_like(dead)
        dead &= ~masks[name].to(dead.device).reshape(width, -1).any(1)
    return ~dead

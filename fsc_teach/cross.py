"""Cross distillation (Bai, Wu, King and Lyu, AAAI 2020; seed 002): layer-wise distillation that crosses the nets.

Layer-wise distillation trains the student one layer at a time, earlier layers fixed, so that the layer's output
matches the teacher's (Eq. 1). With few samples the student over-fits and its errors pile up from layer to layer.
Cross distillation feeds the *teacher's* features to the student layer (correction, Eq. 2) and the *student's*
features to the teacher layer (imitation, Eq. 3), and mixes the two (Eq. 4) or mixes the features (Eq. 7–8).

Read top to bottom:

1. Layer-wise losses ``nc_loss``, ``correction_loss``, ``imitation_loss``, ``cross_loss``, ``soft_cross_loss``.
   A "layer" is any callable mapping a feature map to the next one; in this package it is a block,
   ``student.blocks[l]``, whose output is post-activation: the paper's ``σ(W * h)``. Every loss is the squared
   Frobenius norm divided by the batch size (Eq. 1's ``1/N``); gradients reach only the student layer.
2. Pruning by proximal gradient (Eq. 9–11): ``prox_l1`` (unstructured), ``prox_group_l2`` (structured), the
   linear ``lambda_schedule``; and the authors' code's variant, a magnitude ``topk_mask`` whose budget follows
   ``sparsity_schedule``, which reaches an exact sparsity.
3. Masks: ``structured_masks`` (an input channel of block ``l`` and everything that produces it), ``remask_``
   (zero masked entries, their gradients and the optimiser's moment estimates), ``shrink`` (the physically
   smaller network, rebuilt with ``models.build_model``).
4. Algorithm 1: ``cross_distill`` — pruning (structured or not) or quantization (``quantize=B``: the appendix's
   projection ``quantize.quantize_clipped`` applied lazily, as in STE), optionally on mini-batches, on an
   augmented pool of the few images (``augmented_pool``: Table 14's crops and mixup) or with Gaussian noise on
   the student's features (Table 14's "Gauss."), and crossing only at chosen blocks (``cross_layers``, Table 19).
5. Analysis: ``layer_errors`` (ε^T, ε^S and L^r of Figures 2–3) and ``theorem1_bound`` (both sides of Theorem 1
   with every constant computed on the real layers, via ``lipschitz_bound``).

How a pruned student layer takes the teacher's features
    The student keeps the teacher's shapes during layer-wise training: a pruned weight or input channel is a zero
    under a mask, never a missing slice. So ``student.blocks[l](h_t)`` is always defined — the masked input
    channels of ``h_t`` simply meet zero weights — and the soft mixtures ``α h_t + (1 − α) h_s`` need no index
    bookkeeping. ``shrink(student, info["masks"])`` removes the dead channels at the end; it computes the same
    function (a test checks it).

Paper versus the authors' code (method notes §4), and what this module does
    * Targets: the paper's ``σ(W * h)`` (block outputs, BatchNorm in eval mode with the teacher's statistics);
      the code regresses raw conv outputs. Here: block outputs, as the paper.
    * Only the layer's conv weight is optimised (BatchNorm and biases keep the teacher's values), with Adam on
      one cached few-shot batch; defaults are the code's VGG settings (3000 steps, lr 5e-4, μ = 0.6), and
      (α, β) = (0.9, 0.3) from the paper (the code never implemented the soft variant).
    * Both nets run in eval mode and the features are computed once per layer: earlier layers are fixed, so
      Algorithm 1's per-step forward pass gives the same tensors (``batch_size`` then only picks which of them a
      step sees; an augmented pool is drawn once, so its features are computed once too). BatchNorm statistics
      are *not* re-estimated (the code's VGG features were collected in train mode, which did it silently);
      ``recalibrate_bn=True`` does it deliberately, once, after the layer-wise pass.
    * The first block is not regressed by default (the code skips the first conv; its input is the image, so
      ``h_s = h_t`` and every loss equals Ours-NC there; structured pruning cannot remove image channels).
    * Pruning: the paper's proximal operators with λ growing linearly, or the code's budgeted top-k. Either way
      the kept set is frozen exactly at the target sparsity, at the latest after the first third of the steps
      (``ramp``): the prox's own ranking decides (it zeroes the smallest groups first) as soon as λ has zeroed the
      budget, or at the end of the ramp. The remaining steps train the survivors under the frozen mask (top-k
      with the learning rate divided by 10, as in the code; the prox at full rate, to undo the lasso's shrinkage
      of the survivors).
    * The code's unstructured fine-tune forgot to re-apply masks; ``cross_distill``'s fine-tune re-masks after
      every step.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from . import validate
from .models import BasicBlock, BlockNet, ConvBlock, build_model
from .quantize import clip_range, quantize_clipped
from .train import set_seed

__all__ = [
    "nc_loss", "correction_loss", "imitation_loss", "cross_loss", "soft_cross_loss",
    "prox_l1", "prox_group_l2", "lambda_schedule", "sparsity_schedule", "topk_mask",
    "structured_masks", "remask_", "shrink", "augmented_pool", "cross_distill",
    "layer_errors", "lipschitz_bound", "theorem1_bound",
]

Layer = Callable[[Tensor], Tensor]
LOSSES = ("nc", "correction", "imitation", "cross", "soft")


# ---------------------------------------------------------------------------------------------------------------
# 1. Layer-wise losses (Eq. 1–4, 7–8)
# ---------------------------------------------------------------------------------------------------------------

def _sq(a: Tensor, b: Tensor) -> Tensor:
    """``‖a − b‖²_F / N`` with N the batch size (Eq. 1's 1/N)."""
    return (a - b).pow(2).sum() / a.shape[0]


@torch.no_grad()
def _terms(t_layer: Layer, h_s: Tensor, h_t: Tensor, loss: str, mu: float = 0.6, alpha: float = 0.9,
           beta: float = 0.3) -> list[tuple[float, Tensor, Tensor]]:
    """A layer loss as ``[(weight, student input, teacher target)]``; the loss is ``Σ w ‖target − s(input)‖²/N``.

    Inputs are detached and targets computed without gradient, so only the student layer is trained. Splitting
    the loss this way lets ``cross_distill`` compute the teacher's targets once per layer instead of every step.
    """
    h_s, h_t = h_s.detach(), h_t.detach()
    if loss == "nc":  # Eq. 1, "Ours-NC": each net on its own features
        return [(1.0, h_s, t_layer(h_t))]
    if loss == "correction":  # Eq. 2: the student layer takes the teacher's features
        return [(1.0, h_t, t_layer(h_t))]
    if loss == "imitation":  # Eq. 3: the teacher layer takes the student's features
        return [(1.0, h_s, t_layer(h_s))]
    if loss == "cross":  # Eq. 4 (a term of weight 0 adds nothing: μ = 1 costs what correction costs)
        return [(w, h, t_layer(h)) for w, h in ((mu, h_t), (1.0 - mu, h_s)) if w != 0]
    if loss == "soft":  # Eq. 7–8: ĥ_t = α h_t + (1 − α) h_s feeds the teacher, ĥ_s = (1 − β) h_t + β h_s the student
        return [(1.0, (1.0 - beta) * h_t + beta * h_s, t_layer(alpha * h_t + (1.0 - alpha) * h_s))]
    raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")


def _objective(s_layer: Layer, terms: list[tuple[float, Tensor, Tensor]]) -> Tensor:
    return sum(w * _sq(target, s_layer(inp)) for w, inp, target in terms)


def _check_layers(s_layer: Layer, t_layer: Layer, **features: Tensor) -> None:
    """Two callable layers and their input features: float tensors with a batch, all of one shape."""
    for name, layer in (("s_layer", s_layer), ("t_layer", t_layer)):
        if not callable(layer):
            raise TypeError(f"{name} must be a layer (an nn.Module or a function of a tensor), got "
                            f"{validate.describe(layer)}")
    first = None
    for name, h in features.items():
        validate.tensor(name, h, min_ndim=2, kind="float")
        if first is not None:
            validate.same_shape(name, h, *first)
        first = name, h
        if isinstance(s_layer, nn.Module):
            validate.dtype_of(name, h, "s_layer", s_layer)


def nc_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor, h_t: Tensor) -> Tensor:
    """Eq. 1's estimation error L^r, "Ours-NC": ``‖t(h_t) − s(h_s)‖² / N``; h (N, C, H, W) are the layers' inputs."""
    _check_layers(s_layer, t_layer, h_s=h_s, h_t=h_t)
    return _objective(s_layer, _terms(t_layer, h_s, h_t, "nc"))


def correction_loss(s_layer: Layer, t_layer: Layer, h_t: Tensor) -> Tensor:
    """Eq. 2, correction L^c: ``‖t(h_t) − s(h_t)‖² / N`` (the student layer is fed the teacher's features)."""
    _check_layers(s_layer, t_layer, h_t=h_t)
    return _objective(s_layer, _terms(t_layer, h_t, h_t, "correction"))


def imitation_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor) -> Tensor:
    """Eq. 3, imitation L^i: ``‖t(h_s) − s(h_s)‖² / N`` (the teacher layer is fed the student's features)."""
    _check_layers(s_layer, t_layer, h_s=h_s)
    return _objective(s_layer, _terms(t_layer, h_s, h_s, "imitation"))


def cross_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor, h_t: Tensor, mu: float = 0.6) -> Tensor:
    """Eq. 4, cross distillation: ``μ L^c + (1 − μ) L^i`` (μ = 1: correction, μ = 0: imitation)."""
    _check_layers(s_layer, t_layer, h_s=h_s, h_t=h_t)
    validate.real("mu", mu, low=0.0, high=1.0)
    return _objective(s_layer, _terms(t_layer, h_s, h_t, "cross", mu=mu))


def soft_cross_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor, h_t: Tensor, alpha: float = 0.9,
                    beta: float = 0.3) -> Tensor:
    """Eq. 7–8, soft cross distillation: ``‖t(α h_t + (1−α) h_s) − s((1−β) h_t + β h_s)‖² / N``.

    α = β = 1 is Ours-NC; α = β = 0 crosses fully, ``‖t(h_s) − s(h_t)‖² / N``.
    """
    _check_layers(s_layer, t_layer, h_s=h_s, h_t=h_t)
    validate.real("alpha", alpha, low=0.0, high=1.0)
    validate.real("beta", beta, low=0.0, high=1.0)
    return _objective(s_layer, _terms(t_layer, h_s, h_t, "soft", alpha=alpha, beta=beta))


# ---------------------------------------------------------------------------------------------------------------
# 2. Proximal operators (Eq. 9–11), the λ schedule, and the budgeted top-k of the authors' code
# ---------------------------------------------------------------------------------------------------------------

def _group_shape(w: Tensor, dim: int) -> list[int]:
    shape = [1] * w.ndim
    shape[dim] = w.shape[dim]
    return shape


def _group_norms(w: Tensor, dim: int) -> Tensor:
    """L2 norm of every slice ``w.select(dim, i)``, shape ``(w.shape[dim],)``."""
    return w.movedim(dim, 0).reshape(w.shape[dim], -1).norm(dim=1)


def prox_l1(w: Tensor, lam: float) -> Tensor:
    """Eq. 10, the prox of ``λ‖·‖₁``: elementwise soft threshold ``sign(w) · max(|w| − λ, 0)``."""
    validate.tensor("w", w, kind="float", non_empty=False)
    validate.real("lam", lam, low=0.0)
    return _prox_l1(w, lam)


def _prox_l1(w: Tensor, lam: float) -> Tensor:  # unchecked: the inner loop's step (checked once, before it)
    return torch.sign(w) * (w.abs() - lam).clamp_min(0)


def prox_group_l2(w: Tensor, lam: float, dim: int = 0) -> Tensor:
    """Eq. 11, the prox of ``λ Σ_i ‖W_i‖₂``: each group scaled by ``max(1 − λ/‖W_i‖₂, 0)``.

    A group is one slice along ``dim``. The paper's ``W_i`` (``dim=0``, the default) is one output filter
    ``(C_in, k, k)`` of a conv weight ``(C_out, C_in, k, k)``; channel pruning of the *input* channels, as the
    paper's VGG schemes and ``cross_distill`` do, uses ``dim=1``. Groups with ``‖W_i‖ ≤ λ`` become exactly zero.
    """
    _check_groups(w, dim)
    validate.real("lam", lam, low=0.0)
    return _prox_group_l2(w, lam, dim)


def _check_groups(w: Tensor, dim: int) -> None:
    validate.tensor("w", w, min_ndim=1, kind="float", non_empty=False)
    validate.integer("dim", dim, low=-w.ndim, high=w.ndim - 1)


def _prox_group_l2(w: Tensor, lam: float, dim: int = 0) -> Tensor:
    norms = _group_norms(w, dim)
    factor = torch.where(norms > lam, 1 - lam / norms.clamp_min(torch.finfo(w.dtype).tiny), torch.zeros_like(norms))
    return w * factor.view(_group_shape(w, dim))


def lambda_schedule(step: int, ramp_steps: int, lam_max: float) -> float:
    """λ_t growing linearly from 0 to ``lam_max`` over steps 1 … ``ramp_steps``, then held (Algorithm 1, line 7).

    The paper prints ``λ_t = r + (1 − r) t / T``, which cannot be a threshold (it starts at the sparsity ratio r
    and ends at 1 whatever the weights' scale); its appendix says the sparsity "linearly increases within the
    first 1,000 iterations" of 3,000, which is what this schedule and ``sparsity_schedule`` do.
    """
    validate.integer("step", step, low=0)
    validate.integer("ramp_steps", ramp_steps, low=0)
    validate.real("lam_max", lam_max, low=0.0)
    return _lambda_schedule(step, ramp_steps, lam_max)


def _lambda_schedule(step: int, ramp_steps: int, lam_max: float) -> float:
    return lam_max * min(1.0, step / max(1, ramp_steps))


def sparsity_schedule(step: int, ramp_steps: int, sparsity: float) -> float:
    """Fraction to remove at step ``step`` (1-based): linear from 0 to ``sparsity`` over ``ramp_steps``, then held."""
    validate.integer("step", step, low=0)
    validate.integer("ramp_steps", ramp_steps, low=0)
    validate.real("sparsity", sparsity, low=0.0, high=1.0)
    return _sparsity_schedule(step, ramp_steps, sparsity)


def _sparsity_schedule(step: int, ramp_steps: int, sparsity: float) -> float:
    return sparsity * min(1.0, step / max(1, ramp_steps))


def topk_mask(w: Tensor, keep_fraction: float, structured: bool = False, dim: int = 0) -> Tensor:
    """Boolean mask keeping exactly ``round(keep_fraction · n)`` entries of ``w`` with the largest ``|w|``.

    ``structured=True``: the n units are the slices along ``dim`` (``dim=1``: input channels of a conv weight),
    ranked by their L2 norm, and the mask has ``w``'s shape. Ties are broken arbitrarily but the count is exact.
    """
    validate.real("keep_fraction", keep_fraction, low=0.0, high=1.0)
    if structured:
        _check_groups(w, dim)
    else:
        validate.tensor("w", w, kind="float", non_empty=False)
    return _topk_mask(w, keep_fraction, structured, dim)


def _topk_mask(w: Tensor, keep_fraction: float, structured: bool = False, dim: int = 0) -> Tensor:
    scores = _group_norms(w.detach(), dim) if structured else w.detach().abs().flatten()
    keep = torch.zeros(scores.numel(), dtype=torch.bool, device=w.device)
    keep[torch.topk(scores, round(keep_fraction * scores.numel())).indices] = True
    if structured:
        return keep.view(_group_shape(w, dim)).expand_as(w).clone()
    return keep.view_as(w)


# ---------------------------------------------------------------------------------------------------------------
# 3. Masks: what structured pruning removes, keeping masked entries at zero, and the physically smaller network
# ---------------------------------------------------------------------------------------------------------------
# A mask set is ``{state_dict name: bool tensor of that entry's shape}``; False means "pruned, held at zero". It
# covers BatchNorm buffers as well as weights, so one dict describes a structured cut completely.

def _kind(model: BlockNet) -> str:
    if all(isinstance(b, ConvBlock) for b in model.blocks):
        return "conv"
    if all(isinstance(b, BasicBlock) for b in model.blocks):
        return "residual"
    raise ValueError("cross distillation handles networks of ConvBlocks (VGG, SmallCNN) or BasicBlocks (ResNetCIFAR)")


def _trained(model: BlockNet, l: int) -> list[str]:
    """Names of the weights optimised when block ``l`` is distilled (its conv weights; BN keeps the teacher's)."""
    if isinstance(model.blocks[l], BasicBlock):
        return [f"blocks.{l}.conv1.weight", f"blocks.{l}.conv2.weight"]
    return [f"blocks.{l}.conv.weight"]


def _channel_site(model: BlockNet, l: int) -> tuple[str, str, str]:
    """``(consumer weight, producer conv, producer bn)`` names for the channels pruned at block ``l``.

    VGG: the input channels of block l's conv, produced by block l−1. ResNet: the inner channels of block l
    (inputs of conv2, produced by conv1/bn1), so block outputs and shortcuts keep their widths.
    """
    if isinstance(model.blocks[l], BasicBlock):
        return f"blocks.{l}.conv2.weight", f"blocks.{l}.conv1", f"blocks.{l}.bn1"
    if l == 0:
        raise ValueError("block 0's input channels are the image's channels; they cannot be pruned")
    if not isinstance(model.blocks[l - 1].adapter, nn.Identity):
        raise ValueError(f"block {l - 1} has an adapter (FSKD's 1x1 conv): merge it before pruning its channels")
    return f"blocks.{l}.conv.weight", f"blocks.{l - 1}.conv", f"blocks.{l - 1}.bn"


def _state(model: nn.Module) -> dict[str, Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def _merge(masks: dict[str, Tensor], new: dict[str, Tensor]) -> dict[str, Tensor]:
    """Union of two mask sets: an entry pruned in either stays pruned."""
    out = dict(masks)
    for name, m in new.items():
        out[name] = out[name] & m if name in out else m
    return out


def structured_masks(model: BlockNet, l: int, keep: Tensor) -> dict[str, Tensor]:
    """Masks removing the channels ``~keep`` at block ``l``: the consumer's input channels and their producer.

    The producer's filters, conv bias and BatchNorm ``γ, β``, running mean and running variance are all masked:
    a dead channel must output exactly 0, not BatchNorm's constant ``β − γμ/σ`` (method notes §4).
    """
    consumer, conv, bn = _channel_site(model, l)
    state = _state(model)
    keep = keep.to(device=state[consumer].device, dtype=torch.bool).flatten()
    masks = {consumer: keep.view(1, -1, 1, 1).expand_as(state[consumer]).clone(),
             f"{conv}.weight": keep.view(-1, 1, 1, 1).expand_as(state[f"{conv}.weight"]).clone()}
    for name in (f"{conv}.bias", f"{bn}.weight", f"{bn}.bias", f"{bn}.running_mean", f"{bn}.running_var"):
        if name in state:
            masks[name] = keep.clone()
    return masks


@torch.no_grad()
def remask_(model: nn.Module, masks: dict[str, Tensor], optimizer: torch.optim.Optimizer | None = None) -> nn.Module:
    """Zero every masked entry of ``model`` (weights and buffers), of its gradient and of the optimiser's state.

    Call it after ``backward()`` and again after ``optimizer.step()``: a zero gradient with zero Adam moments (or
    SGD momentum) gives a zero update, and the second call makes the zeros exact whatever the optimiser does.
    """
    _apply_masks_(_state(model), masks, optimizer)
    return model


@torch.no_grad()
def _apply_masks_(state: dict[str, Tensor], masks: dict[str, Tensor], optimizer=None) -> None:
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


def _alive(model: BlockNet, masks: dict[str, Tensor], j: int) -> Tensor:
    """Channels of width ``j`` that may be non-zero: a channel is dead when its filter, bias and BN γ, β are masked."""
    block = model.blocks[j]
    conv, bn = (f"blocks.{j}.conv1", f"blocks.{j}.bn1") if isinstance(block, BasicBlock) else \
        (f"blocks.{j}.conv", f"blocks.{j}.bn")
    state = _state(model)
    width = state[f"{conv}.weight"].shape[0]
    dead = torch.ones(width, dtype=torch.bool, device=state[f"{conv}.weight"].device)
    for name in (f"{conv}.weight", f"{conv}.bias", f"{bn}.weight", f"{bn}.bias"):
        if name not in state:
            continue
        if name not in masks:
            return torch.ones_like(dead)
        dead &= ~masks[name].to(dead.device).reshape(width, -1).any(1)
    return ~dead


@torch.no_grad()
def shrink(model: BlockNet, masks: dict[str, Tensor]) -> BlockNet:
    """The physically smaller network: dead channels removed, rebuilt with ``build_model(arch, new widths)``.

    A channel is removed when ``masks`` zero its producer completely (``structured_masks`` does); it then outputs
    exactly zero, so dropping it and the consumer's matching input slice computes the same function. Unstructured
    masks remove nothing here (their zeros stay zeros; count them with ``count_params(..., nonzero=True)``).
    """
    kind = _kind(model)
    if any(not isinstance(getattr(b, "adapter", nn.Identity()), nn.Identity) for b in model.blocks):
        raise ValueError("merge FSKD adapters before shrinking")
    kept = [_alive(model, masks, j) for j in range(len(model.blocks))]
    if kind == "conv" and not bool(kept[-1].all()):
        raise ValueError("the last block's channels feed the head and cannot be removed")
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, mask in masks.items():
        state[name] = state[name] * mask.to(state[name].device).to(state[name].dtype)
    for j, keep in enumerate(kept):
        idx = keep.nonzero().flatten().to(next(iter(state.values())).device)
        if kind == "conv":
            p = f"blocks.{j}."
            rows = [p + "conv.weight", p + "conv.bias", p + "bn.weight", p + "bn.bias", p + "bn.running_mean",
                    p + "bn.running_var"]
            cols = [f"blocks.{j + 1}.conv.weight"] if j + 1 < len(kept) else []
        else:
            p = f"blocks.{j}."
            rows = [p + "conv1.weight", p + "bn1.weight", p + "bn1.bias", p + "bn1.running_mean", p + "bn1.running_var"]
            cols = [p + "conv2.weight"]
        for name in rows:
            if name in state:
                state[name] = state[name].index_select(0, idx)
        for name in cols:
            state[name] = state[name].index_select(1, idx)
    small = build_model(model.arch, {**model.config, "widths": [int(k.sum()) for k in kept]})
    small.load_state_dict(state)
    return small.to(next(model.parameters()).device).train(model.training)


# ---------------------------------------------------------------------------------------------------------------
# 4. Algorithm 1
# ---------------------------------------------------------------------------------------------------------------

@torch.no_grad()
def _block_input(model: BlockNet, x: Tensor, l: int) -> Tensor:
    h = model.stem(x)
    for block in model.blocks[:l]:
        h = block(h)
    return h


def _make_optimizer(params: list[Tensor], name: str, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'sgd'")


@torch.no_grad()
def _recalibrate_bn_(model: nn.Module, x: Tensor) -> None:
    """Re-estimate every BatchNorm's running statistics on ``x`` (one cumulative pass), then back to eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: the statistics of exactly this batch
    model.train()
    model(x)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    model.eval()


def _prune_targets(model: BlockNet, l: int, prune: str | None) -> list[tuple[str, int | None]]:
    """``[(weight name, group dim or None)]`` pruned at block ``l``: input channels (dim 1) or single weights."""
    if prune is None:
        return []
    if prune == "structured":
        if isinstance(model.blocks[l], ConvBlock) and l == 0:
            return []  # block 0's input channels are the image's
        return [(_channel_site(model, l)[0], 1)]
    if prune == "unstructured":
        return [(name, None) for name in _trained(model, l)]
    raise ValueError(f"unknown prune {prune!r}; use 'structured', 'unstructured' or None")


def _batches(n: int, batch_size: int | None, generator: torch.Generator) -> Iterator[Tensor | None]:
    """Each step's mini-batch: slices of fresh permutations, every image once per pass; ``None``: the whole set."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


def _distill_layer(student: BlockNet, teacher: BlockNet, l: int, x: Tensor, masks: dict[str, Tensor], *,
                   loss: str, mu: float, alpha: float, beta: float, steps: int, lr: float, optimizer: str,
                   prune: str | None, sparsity: float, method: str, lam: float | None, ramp: float,
                   batch_size: int | None, feature_noise: float, bits: int | None,
                   generator: torch.Generator) -> tuple:
    """Algorithm 1's inner loop for block ``l``; returns ``(masks, loss history, layer info)``."""
    s_block, t_block = student.blocks[l], teacher.blocks[l]
    h_s_all, h_t_all = _block_input(student, x, l), _block_input(teacher, x, l)
    # Earlier blocks are fixed, so every target can be computed once; only feature noise (fresh every step,
    # and seen by the teacher layer in imitation) needs the teacher layer inside the loop.
    fixed = None if feature_noise > 0 else _terms(t_block, h_s_all, h_t_all, loss, mu, alpha, beta)
    batches = _batches(len(x), batch_size, generator)
    state = _state(student)
    names = _trained(student, l)
    for p in student.parameters():
        p.requires_grad_(False)
    params = [state[n].requires_grad_(True) for n in names]
    opt = _make_optimizer(params, optimizer, lr)
    # the quantization grid Q: fixed from the layer's starting weights, so that each step projects onto one set
    bounds = [clip_range(w) for w in params] if bits is not None else []

    targets = _prune_targets(student, l, prune) if sparsity > 0 else []
    ramp_steps = max(1, round(ramp * steps))
    units = {n: (state[n].shape[d] if d is not None else state[n].numel()) for n, d in targets}
    n_keep = {n: max(1 if d is not None else 0, round((1 - sparsity) * units[n])) for n, d in targets}
    lam_max = {}
    if method == "prox":
        for n, d in targets:
            scores = _group_norms(state[n].detach(), d) if d is not None else state[n].detach().abs().flatten()
            n_remove = units[n] - n_keep[n]
            q = scores.kthvalue(n_remove).values.item() if n_remove > 0 else 0.0
            group = state[n].numel() // units[n]
            # λ is the per-step threshold (the paper's ηλ). Default: 2(q/R + lr√m). The first term alone would zero
            # the target fraction of the initial weights by the end of the ramp (Σ_t λ_t ≈ q); the second outgrows
            # the largest push-back an Adam step gives a group of m weights (≈ lr√m), so the prox gets there.
            lam_max[n] = lam if lam is not None else 2 * (q / ramp_steps + lr * math.sqrt(group))
    elif method != "topk":
        raise ValueError(f"unknown method {method!r}; use 'prox' or 'topk'")

    current: dict[str, Tensor] = {}  # this layer's masks while the budget still moves
    frozen = not targets
    info = {"freeze_step": 0 if frozen else None, "prox_sparsity": {}, "lam": dict(lam_max), "loss": loss}
    history = []
    for t in range(1, steps + 1):
        idx = next(batches)
        if fixed is not None:
            terms = fixed if idx is None else [(w, inp[idx], tgt[idx]) for w, inp, tgt in fixed]
        else:  # Table 14's "Gauss.": ε ~ N(0, (feature_noise · max h^S)²) on the student's features, per step
            h_s = h_s_all if idx is None else h_s_all[idx]
            h_s = h_s + feature_noise * h_s.amax() * torch.randn(h_s.shape, generator=generator).to(h_s)
            terms = _terms(t_block, h_s, h_t_all if idx is None else h_t_all[idx], loss, mu, alpha, beta)
        if bits is not None:  # lazy projection (STE): the loss and its gradient at Π_Q(W), the step on latent W
            latent = [w.detach().clone() for w in params]
            with torch.no_grad():
                for w, b in zip(params, bounds):
                    w.copy_(quantize_clipped(w, bits, amax=b))
        # only the trained weights change inside this loop; every other masked entry was zeroed when its mask was set
        active = {n: m for n, m in _merge(masks, current).items() if n in names}
        objective = _objective(s_block, terms)
        opt.zero_grad(set_to_none=True)
        objective.backward()
        if bits is not None:
            with torch.no_grad():
                for w, w_latent in zip(params, latent):
                    w.copy_(w_latent)
        _apply_masks_(state, active, opt)
        opt.step()
        history.append(objective.detach())
        with torch.no_grad():
            if not frozen:
                freeze = t >= ramp_steps
                for n, d in targets:
                    w = state[n]
                    if method == "topk":
                        keep = 1 - _sparsity_schedule(t, ramp_steps, 1 - n_keep[n] / units[n])
                        current[n] = _topk_mask(w, keep, structured=d is not None, dim=d or 0)
                        continue
                    lam_t = _lambda_schedule(t, ramp_steps, lam_max[n])
                    w_prox = _prox_l1(w, lam_t) if d is None else _prox_group_l2(w, lam_t, dim=d)
                    zeros = (w_prox == 0).flatten() if d is None else _group_norms(w_prox, d) == 0
                    if int(zeros.sum()) >= units[n] - n_keep[n]:
                        freeze = True
                    if freeze:  # cut exactly at the budget: the prox's own ranking (it zeroes smallest first)
                        info["prox_sparsity"][n] = float(zeros.float().mean())  # what λ alone had removed
                        current[n] = _topk_mask(w, n_keep[n] / units[n], structured=d is not None, dim=d or 0)
                    else:
                        w.copy_(w_prox)
                if freeze:
                    for n, d in targets:
                        if n not in current:  # prox: another target triggered the freeze first
                            current[n] = _topk_mask(state[n], n_keep[n] / units[n], structured=d is not None,
                                                   dim=d or 0)
                    frozen, info["freeze_step"] = True, t
                    for n, d in targets:
                        if d is not None:  # also kill the producer of the removed channels (and its BN)
                            keep = current.pop(n).movedim(d, 0).reshape(units[n], -1).any(1)
                            current = _merge(current, structured_masks(student, l, keep))
                    masks = _merge(masks, current)
                    current = {}
                    if method == "topk":  # the authors' code: mask frozen, learning rate divided by 10
                        for group in opt.param_groups:
                            group["lr"] = lr / 10
                    # the prox keeps its rate: every survivor was shrunk by Σ λ_t (the lasso's bias) and must regrow
                    _apply_masks_(state, masks, opt)  # the new producer masks (block l−1's filters, BN) included
            _apply_masks_(state, {n: m for n, m in _merge(masks, current).items() if n in names}, opt)
    if bits is not None:  # the result lies on the grid
        with torch.no_grad():
            for w, b in zip(params, bounds):
                w.copy_(quantize_clipped(w, bits, amax=b))
        info["bits"] = bits
    return masks, torch.stack(history).tolist(), info


def augmented_pool(x: Tensor, augment: Callable[..., Tensor] | None, views: int, seed: int = 0) -> Tensor:
    """``x`` followed by ``views`` augmented copies ``augment(x, generator=g)`` (Table 14), drawn once, fixed by seed.

    Layer-wise distillation needs no labels, so an augmented view is just another image; drawing the views once
    lets every layer's features and targets be computed once as well (``data.augment_batch`` for crop/flip,
    ``data.mixup_batch`` for mixup).
    """
    if augment is None or views <= 0:
        return x
    gen = torch.Generator().manual_seed(seed)
    return torch.cat([x] + [augment(x, generator=gen).to(x) for _ in range(views)])


def cross_distill(student: BlockNet | None, teacher: BlockNet, x: Tensor, *, loss: str = "cross", mu: float = 0.6,
                  alpha: float = 0.9, beta: float = 0.3, steps: int = 3000, lr: float = 5e-4,
                  optimizer: str = "adam", prune: str | None = None, sparsity: float | dict[int, float] = 0.5,
                  method: str = "prox", lam: float | None = None, ramp: float = 1 / 3,
                  layers: Sequence[int] | None = None, cross_layers: Sequence[int] | None = None,
                  masks: dict[str, Tensor] | None = None, batch_size: int | None = None,
                  augment: Callable[..., Tensor] | None = None, views: int = 0, feature_noise: float = 0.0,
                  quantize: int | None = None, recalibrate_bn: bool = False, finetune_steps: int = 0,
                  finetune_lr: float = 1e-4, y: Tensor | None = None, seed: int = 0,
                  progress: bool = True) -> tuple[BlockNet, dict]:
    """Algorithm 1 of seed 002: distil (and prune or quantize) the student block by block on the few images ``x``.

    ``x``: (N, C, H, W). ``student=None`` starts from a deep copy of ``teacher`` (as the authors' code does); a
    given student must have the teacher's widths (prune it with ``masks`` instead of slicing). The teacher is only
    read.

    * ``loss``: ``"cross"`` (Eq. 4, ``mu``), ``"soft"`` (Eq. 8, ``alpha``, ``beta``), ``"nc"`` (Eq. 1),
      ``"correction"`` (Eq. 2), ``"imitation"`` (Eq. 3).
    * ``layers``: blocks to distil, in order (default: all but block 0 for VGG, every block for ResNet).
      ``cross_layers``: the blocks that use ``loss``; the others use the no-cross loss (Table 19's crossing
      points; default: every distilled block crosses).
    * ``prune``: ``"structured"`` (input channels of block l's conv — VGG-50%'s scheme — or a residual block's
      inner channels), ``"unstructured"`` (single weights of the trained convs), or None. ``sparsity``: fraction
      removed per layer (a float, or ``{block: fraction}``). ``method``: ``"prox"`` (Eq. 10/11, λ growing
      linearly to ``lam`` — by default a scale set from the weights, see ``_distill_layer``) or ``"topk"`` (the
      code's budgeted magnitude mask). Both freeze the kept set, exactly at the target sparsity, at the latest
      after ``ramp`` of the steps (the prox as soon as λ has zeroed the budget), then train the survivors under
      the mask; ``"topk"`` divides the learning rate by 10 there, as the code does.
    * ``quantize``: bits of the trained convs' weights (appendix, Tables 17–18): the regulariser is the
      projection ``quantize.quantize_clipped``, applied lazily as in STE — each step's loss and gradient are taken
      at the projected weights and the step updates the latent full-precision ones; the result is projected.
      Not combined with ``prune`` (run two passes).
    * ``masks``: masks to respect from the start (e.g. an L1-pruned student); the result's are in ``info``.
    * ``batch_size``: images per step, drawn without replacement from the (augmented) set; ``None`` uses every
      image at every step, as the authors' code does with its one cached few-shot batch.
    * Table 14: ``augment`` and ``views`` add ``views`` augmented copies of ``x`` (``augmented_pool``);
      ``feature_noise`` adds ``ε ~ N(0, (feature_noise · max h^S)²)`` to the student's features at every step
      (the paper: 0.2).
    * ``recalibrate_bn``: re-estimate the student's BatchNorm statistics on ``x`` after the layer-wise pass.
    * ``finetune_steps``: full-batch steps on the whole student afterwards (eval mode, cross-entropy on ``y`` if
      given, else squared error to the teacher's logits), masks re-applied after every step.

    Returns ``(student, info)`` with the student still masked (teacher-shaped, in eval mode; pass it to
    ``layer_errors``), and ``info``: ``masks``, ``widths`` (what ``shrink(student, info["masks"])`` will have),
    ``loss`` (per-step objective per block), ``layers`` (per block: the loss used, freeze step, sparsity the prox
    reached on its own, λ), ``time`` (seconds). The same ``seed`` gives the same student on the CPU.
    """
    _check_cross_distill(student, teacher, x, loss=loss, mu=mu, alpha=alpha, beta=beta, steps=steps, lr=lr,
                         optimizer=optimizer, prune=prune, sparsity=sparsity, method=method, lam=lam, ramp=ramp,
                         views=views, feature_noise=feature_noise, quantize=quantize, finetune_steps=finetune_steps,
                         finetune_lr=finetune_lr, y=y, seed=seed)
    start = time.perf_counter()
    set_seed(seed)
    kind = _kind(teacher)
    device = next(teacher.parameters()).device
    x = x.to(device)
    pool = augmented_pool(x, augment, views, seed)  # what the layers are distilled on; x alone for BN and fine-tune
    student = copy.deepcopy(teacher) if student is None else student.to(device)
    if student.widths != teacher.widths or len(student.blocks) != len(teacher.blocks):
        raise ValueError(f"the student must keep the teacher's widths during layer-wise training (got "
                         f"{student.widths} vs {teacher.widths}); express pruning with masks")
    if layers is None:
        layers = range(1 if kind == "conv" else 0, len(teacher.blocks))
    layers = list(layers)
    if any(not 0 <= l < len(teacher.blocks) for l in layers + list(cross_layers or [])):
        raise ValueError(f"layers and cross_layers index blocks 0..{len(teacher.blocks) - 1}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    if quantize is not None and prune is not None:
        raise ValueError("quantize and prune in one pass are not supported: prune first, then quantize the result")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be a positive number of images or None, got {batch_size}")
    generator = torch.Generator().manual_seed(seed)  # mini-batches and feature noise
    masks = dict(masks or {})
    teacher_mode = teacher.training
    teacher.eval()
    student.eval()  # BatchNorm uses the (teacher's) running statistics; nothing is re-estimated silently
    remask_(student, masks)
    info: dict = {"loss": {}, "layers": {}}
    try:
        for l in tqdm(layers, desc="cross distillation", disable=not progress, leave=False):
            r = sparsity.get(l, 0.0) if isinstance(sparsity, dict) else float(sparsity)
            layer_loss = loss if cross_layers is None or l in cross_layers else "nc"
            masks, history, layer_info = _distill_layer(
                student, teacher, l, pool, masks, loss=layer_loss, mu=mu, alpha=alpha, beta=beta, steps=steps,
                lr=lr, optimizer=optimizer, prune=prune, sparsity=r, method=method, lam=lam, ramp=ramp,
                batch_size=batch_size, feature_noise=feature_noise, bits=quantize, generator=generator)
            info["loss"][l], info["layers"][l] = history, layer_info
        for p in student.parameters():
            p.requires_grad_(True)
        if recalibrate_bn:
            _recalibrate_bn_(student, x)
            remask_(student, masks)
        if finetune_steps > 0:
            _finetune_(student, teacher, x, y, masks, steps=finetune_steps, lr=finetune_lr, optimizer=optimizer)
    finally:
        teacher.train(teacher_mode)
    student.eval()
    info["masks"] = masks
    info["widths"] = [int(_alive(student, masks, j).sum()) for j in range(len(student.blocks))]
    info["time"] = time.perf_counter() - start
    return student, info


def _check_cross_distill(student, teacher, x, *, loss, mu, alpha, beta, steps, lr, optimizer, prune, sparsity,
                         method, lam, ramp, views, feature_noise, quantize, finetune_steps, finetune_lr, y,
                         seed) -> None:
    """``cross_distill``'s arguments, once, before any layer is trained."""
    validate.module("teacher", teacher, BlockNet)
    if student is not None:
        validate.module("student", student, BlockNet)
    validate.tensor("x", x, ndim=4, kind="float")
    validate.choice("loss", loss, LOSSES)
    for name, value in (("mu", mu), ("alpha", alpha), ("beta", beta), ("ramp", ramp)):
        validate.real(name, value, low=0.0, high=1.0)
    validate.integer("steps", steps, low=0)
    validate.real("lr", lr, low=0.0, low_open=True)
    validate.choice("optimizer", optimizer, ("adam", "sgd"))
    validate.choice("prune", prune, (None, "structured", "unstructured"))
    if isinstance(sparsity, dict):
        validate.indices("sparsity's blocks", list(sparsity), len(teacher.blocks))
        for l, r in sparsity.items():
            validate.real(f"sparsity[{l}]", r, low=0.0, high=1.0, high_open=True)
    else:
        validate.real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    validate.choice("method", method, ("prox", "topk"))
    if lam is not None:
        validate.real("lam", lam, low=0.0)
    validate.integer("views", views, low=0)
    validate.real("feature_noise", feature_noise, low=0.0)
    if quantize is not None:
        validate.integer("quantize", quantize, low=2)
    validate.integer("finetune_steps", finetune_steps, low=0)
    validate.real("finetune_lr", finetune_lr, low=0.0, low_open=True)
    if y is not None:
        validate.labels("y", y, rows=len(x))
    validate.integer("seed", seed)


def _finetune_(student: BlockNet, teacher: BlockNet, x: Tensor, y: Tensor | None, masks: dict[str, Tensor], *,
               steps: int, lr: float, optimizer: str) -> None:
    """A short full-batch fine-tune in eval mode that re-applies the masks after every step (method notes §4)."""
    with torch.no_grad():
        target = teacher(x) if y is None else y.to(x.device)
    opt = _make_optimizer([p for p in student.parameters() if p.requires_grad], optimizer, lr)
    student.eval()  # ten images would wreck BatchNorm's statistics in train mode
    for _ in range(steps):
        logits = student(x)
        objective = F.cross_entropy(logits, target) if y is not None else _sq(target, logits)
        opt.zero_grad(set_to_none=True)
        objective.backward()
        remask_(student, masks, opt)
        opt.step()
        remask_(student, masks, opt)


# ---------------------------------------------------------------------------------------------------------------
# 5. Analysis: the inconsistencies of Figure 2 and Theorem 1
# ---------------------------------------------------------------------------------------------------------------

def _check_shapes(student: BlockNet, teacher: BlockNet) -> None:
    validate.module("student", student, BlockNet)
    validate.module("teacher", teacher, BlockNet)
    if student.widths != teacher.widths or len(student.blocks) != len(teacher.blocks):
        raise ValueError("crossing layers needs the masked, teacher-shaped student (call it before shrink)")


@torch.no_grad()
def layer_errors(student: BlockNet, teacher: BlockNet, x: Tensor) -> dict[str, list[float]]:
    """Per block, on ``x``: ε^T, ε^S, L^r (Section 3, Figures 2–3), L^c and L^i, each ``‖·‖²_F / N``.

    ``eps_t = ‖t(h_s) − t(h_t)‖²``, ``eps_s = ‖s(h_t) − s(h_s)‖²``, ``estimation = ‖t(h_t) − s(h_s)‖²``,
    ``correction = ‖t(h_t) − s(h_t)‖²``, ``imitation = ‖t(h_s) − s(h_s)‖²``, where ``h_s``/``h_t`` are each net's own
    input to the block; ``logits`` is ``‖o^T − o^S‖² / N``. Both nets are evaluated in eval mode.
    """
    _check_shapes(student, teacher)
    validate.tensor("x", x, ndim=4, kind="float")
    modes = student.training, teacher.training
    student.eval()
    teacher.eval()
    out: dict[str, list[float]] = {k: [] for k in ("eps_t", "eps_s", "estimation", "correction", "imitation")}
    try:
        h_s, h_t = student.stem(x), teacher.stem(x)
        for s_block, t_block in zip(student.blocks, teacher.blocks):
            t_t, t_s, s_t, s_s = t_block(h_t), t_block(h_s), s_block(h_t), s_block(h_s)
            out["eps_t"].append(_sq(t_s, t_t).item())
            out["eps_s"].append(_sq(s_t, s_s).item())
            out["estimation"].append(_sq(t_t, s_s).item())
            out["correction"].append(_sq(t_t, s_t).item())
            out["imitation"].append(_sq(t_s, s_s).item())
            h_s, h_t = s_s, t_t
        out["logits"] = _sq(teacher.head(h_t), student.head(h_s)).item()
    finally:
        student.train(modes[0])
        teacher.train(modes[1])
    return out


_AFFINE = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.Identity, nn.Flatten, nn.ZeroPad2d,
           nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.Dropout)


def _operator_norm(f: Callable[[Tensor], Tensor], x: Tensor, iters: int) -> float:
    """Largest singular value of the linear part of the affine map ``f`` at ``x``'s shape, by power iteration."""
    offset = f(torch.zeros_like(x)).detach()
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(x)
    v = v / v.norm()
    sigma = 0.0
    with torch.enable_grad():
        for _ in range(iters):
            v.requires_grad_(True)
            u = f(v) - offset  # J v
            (w,) = torch.autograd.grad(u, v, grad_outputs=u.detach())  # Jᵀ J v
            sigma = u.detach().norm().item()
            if w.norm() == 0:
                return 0.0
            v = (w / w.norm()).detach()
        return max(sigma, (f(v) - offset).detach().norm().item())


def _leaves(modules: Sequence[nn.Module]) -> list[nn.Module]:
    out = []
    for m in modules:
        out.extend(_leaves(list(m)) if isinstance(m, nn.Sequential) else [m])
    return out


def _chain_lipschitz(modules: Sequence[nn.Module], x: Tensor, iters: int) -> float:
    """Product of the constants of a chain: each run of affine modules by power iteration, ReLUs 1, max-pools ≤ √k."""
    total, run, run_input, h = 1.0, [], x, x
    for m in _leaves(modules) + [None]:
        if m is not None and isinstance(m, _AFFINE):
            if not run:
                run_input = h
            run.append(m)
            h = m(h)
            continue
        if run:
            total *= _operator_norm(lambda v, ms=tuple(run): _apply(ms, v), run_input, iters)
            run = []
        if m is None:
            break
        if isinstance(m, nn.ReLU):
            factor = 1.0
        elif isinstance(m, nn.LeakyReLU):
            factor = max(1.0, abs(m.negative_slope))
        elif isinstance(m, nn.MaxPool2d):
            # |max a − max b| ≤ max |a − b| per window, and each input lies in ≤ ⌈k/s⌉² windows
            k, s = nn.modules.utils._pair(m.kernel_size), nn.modules.utils._pair(m.stride or m.kernel_size)
            factor = math.sqrt(math.ceil(k[0] / s[0]) * math.ceil(k[1] / s[1]))
        else:
            raise NotImplementedError(f"no Lipschitz constant for {type(m).__name__}")
        total *= factor
        h = m(h)
    return total


def _apply(modules: Sequence[nn.Module], v: Tensor) -> Tensor:
    for m in modules:
        v = m(v)
    return v


@torch.no_grad()
def lipschitz_bound(module: nn.Module, h: Tensor, iters: int = 100) -> float:
    """Lipschitz constant (ℓ2, per sample) of a block or head in eval mode; ``h``: an input, for its shape.

    Affine runs (conv, BN, linear, flatten, average pooling) get their operator norm by power iteration (which
    approaches it from below: 100 iterations are plenty on these sizes); ReLU is 1-Lipschitz, a max-pool with
    kernel k and stride s at most ⌈k/s⌉. A residual block ``relu(x + branch(x))`` with a parameter-free
    shortcut gives ``1 + Lip(branch)``.
    """
    h = h[:1].detach()
    if isinstance(module, BasicBlock):
        branch = [module.conv1, module.bn1, module.relu1, module.conv2, module.bn2, module.adapter]
        return 1.0 + _chain_lipschitz(branch, h, iters)
    if isinstance(module, ConvBlock):
        return _chain_lipschitz([module.conv, module.bn, module.adapter, module.act, module.pool], h, iters)
    return _chain_lipschitz([module], h, iters)


@torch.no_grad()
def theorem1_bound(student: BlockNet, teacher: BlockNet, x: Tensor, y: Tensor | None = None, mu: float = 0.6,
                   iters: int = 100) -> dict:
    """Both sides of Theorem 1 (Eq. 6) on the real layers, every constant computed; returns each link of the chain.

    Derivation (the appendix's proof, with its index slips fixed). All norms are *unsquared* Frobenius norms over
    the batch; ``r_l = ‖h^T_l − h^S_l‖``, ``c_l``/``i_l`` the unsquared correction/imitation errors of block l,
    ``Lip`` a block's Lipschitz constant (``lipschitz_bound``):

    * ``r_l ≤ c_l + ‖s(h^T) − s(h^S)‖ ≤ c_l + Lip(S_l) r_{l−1}`` and ``r_l ≤ i_l + Lip(T_l) r_{l−1}``; their
      μ-mixture gives ``r_l ≤ L̃_l + C_l(μ) r_{l−1}`` with ``L̃_l = μ c_l + (1 − μ) i_l`` and
      ``C_l(μ) = μ Lip(S_l) + (1 − μ) Lip(T_l)`` (linear in μ; the proof pairs μ with the student's norm).
      Unrolled: ``r_L ≤ Σ_l (Π_{k>l} C_k(μ)) L̃_l + (Π_k C_k) r_0`` (the paper's product starts at k = l: a slip).
    * Lemma 1: per sample ``ce(o^T) − ce(o^S) = (p̄ − y)·(o^T − o^S)`` for some softmax p̄, and ``‖p̄ − y‖₂ ≤ √2``.
      Averaging over N samples and Cauchy–Schwarz: ``mean |Δce| ≤ √(2/N) ‖O^T − O^S‖_F ≤ √(2/N) Lip(head) r_L``.
      The head must be shared and un-pruned, as the theorem assumes (checked).

    So ``ce_gap ≤ mean_abs_ce_gap ≤ logit_bound ≤ feature_bound ≤ rhs``. ``y`` defaults to the teacher's
    predictions. The training losses are the *squares* of c_l, i_l; the theorem bounds with the norms.
    """
    _check_shapes(student, teacher)
    t_head, s_head = teacher.head.state_dict(), student.head.state_dict()
    if any(not torch.equal(t_head[k], s_head[k]) for k in t_head):
        raise ValueError("Theorem 1 assumes the student shares the teacher's un-pruned head (a fine-tune changed it)")
    modes = student.training, teacher.training
    student.eval()
    teacher.eval()
    try:
        n = x.shape[0]
        h_s, h_t = student.stem(x), teacher.stem(x)
        r = [(h_t - h_s).norm().item()]
        out = {k: [] for k in ("c", "i", "lip_s", "lip_t", "C", "r_bound", "step_rhs")}
        bound = r[0]
        for s_block, t_block in zip(student.blocks, teacher.blocks):
            t_t, t_s, s_t, s_s = t_block(h_t), t_block(h_s), s_block(h_t), s_block(h_s)
            c, i = (t_t - s_t).norm().item(), (t_s - s_s).norm().item()
            lip_s, lip_t = lipschitz_bound(s_block, h_s, iters), lipschitz_bound(t_block, h_t, iters)
            C = mu * lip_s + (1 - mu) * lip_t
            out["step_rhs"].append(mu * c + (1 - mu) * i + C * r[-1])  # one step, with the measured r_{l−1}
            bound = mu * c + (1 - mu) * i + C * bound  # the recursion is the unrolled sum, evaluated
            for key, val in zip(("c", "i", "lip_s", "lip_t", "C", "r_bound"), (c, i, lip_s, lip_t, C, bound)):
                out[key].append(val)
            h_s, h_t = s_s, t_t
            r.append((t_t - s_s).norm().item())
        o_t, o_s = teacher.head(h_t), student.head(h_s)
        y = o_t.argmax(1) if y is None else y.to(o_t.device)
        ce_t, ce_s = F.cross_entropy(o_t, y, reduction="none"), F.cross_entropy(o_s, y, reduction="none")
        lip_head = lipschitz_bound(teacher.head, h_t, iters)
        scale = math.sqrt(2.0 / n)
        out.update(r=r, lip_head=lip_head, mu=mu,
                   ce_gap=(ce_t.mean() - ce_s.mean()).abs().item(),
                   mean_abs_ce_gap=(ce_t - ce_s).abs().mean().item(),
                   logit_bound=scale * (o_t - o_s).norm().item(),
                   feature_bound=scale * lip_head * r[-1],
                   rhs=scale * lip_head * bound)
    finally:
        student.train(modes[0])
        teacher.train(modes[1])
    return out

"""Pruning by proximal gradient (Bai et al., AAAI 2020, Eq. 9–11): the prox operators and their schedules.

After each gradient step on a layer loss, a proximal operator applies the sparsity penalty: ``prox_l1``
(unstructured, Eq. 10) or ``prox_group_l2`` (structured, Eq. 11), with λ growing linearly (``lambda_schedule``).
The authors' code instead shrinks a budgeted top-k mask (``select.topk_mask``) on ``sparsity_schedule``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .. import validate
from .select import check_groups, group_norms, group_shape

__all__ = ["prox_l1", "prox_group_l2", "lambda_schedule", "sparsity_schedule"]


def prox_l1(w: Tensor, lam: float) -> Tensor:
    """Eq. 10, the prox of ``λ‖·‖₁``: elementwise soft threshold ``sign(w) · max(|w| − λ, 0)``."""
    validate.tensor("w", w, kind="float", non_empty=False)
    validate.real("lam", lam, low=0.0)
    return prox_l1_unchecked(w, lam)


def prox_l1_unchecked(w: Tensor, lam: float) -> Tensor:
    """``prox_l1`` without the argument checks: the inner loop's step (checked once, before the loop)."""
    return torch.sign(w) * (w.abs() - lam).clamp_min(0)


def prox_group_l2(w: Tensor, lam: float, dim: int = 0) -> Tensor:
    """Eq. 11, the prox of ``λ Σ_i ‖W_i‖₂``: each group scaled by ``max(1 − λ/‖W_i‖₂, 0)``.

    A group is one slice along ``dim``. The paper's ``W_i`` (``dim=0``, the default) is one output filter
    ``(C_in, k, k)`` of a conv weight ``(C_out, C_in, k, k)``; channel pruning of the *input* channels, as the
    paper's VGG schemes and ``cross.cross_distill`` do, uses ``dim=1``. Groups with ``‖W_i‖ ≤ λ`` become exactly
    zero.
    """
    check_groups(w, dim)
    validate.real("lam", lam, low=0.0)
    return prox_group_l2_unchecked(w, lam, dim)


def prox_group_l2_unchecked(w: Tensor, lam: float, dim: int = 0) -> Tensor:
    """``prox_group_l2`` without the argument checks (the inner loop's step)."""
    norms = group_norms(w, dim)
    factor = torch.where(norms > lam, 1 - lam / norms.clamp_min(torch.finfo(w.dtype).tiny), torch.zeros_like(norms))
    return w * factor.view(group_shape(w, dim))


def lambda_schedule(step: int, ramp_steps: int, lam_max: float) -> float:
    """λ_t growing linearly from 0 to ``lam_max`` over steps 1 … ``ramp_steps``, then held (Algorithm 1, line 7).

    The paper prints ``λ_t = r + (1 − r) t / T``, which cannot be a threshold (it starts at the sparsity ratio r
    and ends at 1 whatever the weights' scale); its appendix says the sparsity "linearly increases within the
    first 1,000 iterations" of 3,000, which is what this schedule and ``sparsity_schedule`` do.
    """
    validate.integer("step", step, low=0)
    validate.integer("ramp_steps", ramp_steps, low=0)
    validate.real("lam_max", lam_max, low=0.0)
    return linear_ramp(step, ramp_steps, lam_max)


def sparsity_schedule(step: int, ramp_steps: int, sparsity: float) -> float:
    """Fraction to remove at step ``step`` (1-based): linear from 0 to ``sparsity`` over ``ramp_steps``, then held."""
    validate.integer("step", step, low=0)
    validate.integer("ramp_steps", ramp_steps, low=0)
    validate.real("sparsity", sparsity, low=0.0, high=1.0)
    return linear_ramp(step, ramp_steps, sparsity)


def linear_ramp(step: int, ramp_steps: int, end: float) -> float:
    """``end · min(1, step / ramp_steps)``: both schedules, unchecked (the inner loop's per-step value)."""
    return end * min(1.0, step / max(1, ramp_steps))

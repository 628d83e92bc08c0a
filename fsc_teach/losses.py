"""Every loss of the course as a plain function: student first, scalar result, paper equation cited.

1. Output distillation (Hinton et al. 2015): ``kd_loss``, ``soft_cross_entropy``. They avoid three known bugs of
   popular implementations: ``nn.KLDivLoss()``'s default ``reduction="mean"`` (it divides by the class count
   too), a missing ``T**2``, and probabilities instead of log-probabilities passed to ``kl_div``.
2. Feature hints (FitNets, Romero et al., ICLR 2015, Eq. 3): ``hint_loss``.
3. Layer-wise losses of cross distillation (Bai et al., AAAI 2020, Eq. 1–4 and 7–8): ``nc_loss``,
   ``correction_loss``, ``imitation_loss``, ``cross_loss``, ``soft_cross_loss``. A "layer" is any callable mapping
   a feature map to the next one; in this package it is a block, ``student.blocks[l]``, whose output is
   post-activation: the paper's ``σ(W * h)``. Every one is the squared Frobenius norm divided by the batch size
   (Eq. 1's ``1/N``); gradients reach only the student layer. ``layer_terms`` and ``layer_objective`` are their
   common form, which ``cross.cross_distill`` uses to compute the teacher's targets once per layer.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate

__all__ = ["kd_loss", "soft_cross_entropy", "hint_loss", "mean_sq_norm", "LAYER_LOSSES", "layer_terms", "layer_objective", "nc_loss",
           "correction_loss", "imitation_loss", "cross_loss", "soft_cross_loss"]

Layer = Callable[[Tensor], Tensor]
LAYER_LOSSES = ("nc", "correction", "imitation", "cross", "soft")


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, T: float = 4.0, alpha: float = 1.0,
            targets: Tensor | None = None) -> Tensor:
    """Hinton et al. (2015): ``alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha)·CE(s, y)``.

    Logits are ``(B, classes)``. The KL is summed over classes and averaged over the batch
    (``reduction="batchmean"``); ``T²`` keeps the soft-target gradients' size independent of ``T``. The teacher
    logits are detached: no gradient ever reaches the teacher. Without ``targets`` the CE term is dropped.
    """
    _check_logits(student_logits, teacher_logits, T)
    validate.real("alpha", alpha, low=0.0, high=1.0)
    if targets is not None:
        validate.labels("targets", targets, rows=len(student_logits), num_classes=student_logits.shape[1])
    teacher_logits = teacher_logits.detach()
    soft = F.kl_div(F.log_softmax(student_logits / T, dim=1), F.log_softmax(teacher_logits / T, dim=1),
                    log_target=True, reduction="batchmean") * (T * T)
    if targets is None:
        if alpha != 1.0:
            raise ValueError("alpha < 1 weights a cross-entropy term: pass the labels as targets=")
        return soft
    return alpha * soft + (1.0 - alpha) * F.cross_entropy(student_logits, targets)


def soft_cross_entropy(student_logits: Tensor, teacher_logits: Tensor, T: float = 4.0) -> Tensor:
    """``T²·H(softmax(t/T), softmax(s/T))``: same gradient as the KD term, larger by the teacher's entropy."""
    _check_logits(student_logits, teacher_logits, T)
    p_t = F.softmax(teacher_logits.detach() / T, dim=1)
    return -(p_t * F.log_softmax(student_logits / T, dim=1)).sum(1).mean() * (T * T)


def _check_logits(student_logits: Tensor, teacher_logits: Tensor, T: float) -> None:
    """Both ``(B, classes)`` float logits of one shape, ``T > 0``: metadata only, cheap enough for every step."""
    validate.tensor("student_logits", student_logits, ndim=2, kind="float")
    validate.tensor("teacher_logits", teacher_logits, ndim=2, kind="float")
    validate.same_shape("teacher_logits", teacher_logits, "student_logits", student_logits)
    validate.real("T", T, low=0.0, low_open=True)


def hint_loss(regressed_student: Tensor, teacher_hint: Tensor, reduction: str = "mean") -> Tensor:
    """FitNets Eq. 3: ``½‖u_h − r(v_g)‖²`` between ``(B, C, H, W)`` maps; the teacher's side is detached.

    ``reduction="mean"`` (default): the mean squared error over every element (``F.mse_loss``, what libraries
    use; the same gradient direction as the paper's, smaller by a constant, so it suits one learning rate across
    layers). ``reduction="paper"``: ``½`` the squared norm per sample, averaged over the batch.
    """
    validate.tensor("regressed_student", regressed_student, min_ndim=2, kind="float")
    validate.tensor("teacher_hint", teacher_hint, min_ndim=2, kind="float")
    validate.choice("reduction", reduction, ("mean", "paper"))
    if regressed_student.shape != teacher_hint.shape:
        raise ValueError(f"regressed student {tuple(regressed_student.shape)} and hint {tuple(teacher_hint.shape)} "
                         "differ: the regressor must match the hint's channels and spatial size")
    teacher_hint = teacher_hint.detach()
    if reduction == "mean":
        return F.mse_loss(regressed_student, teacher_hint)
    if reduction == "paper":
        return 0.5 * (regressed_student - teacher_hint).pow(2).flatten(1).sum(1).mean()
    raise ValueError(f"unknown reduction {reduction!r}; use 'mean' or 'paper'")


def mean_sq_norm(a: Tensor, b: Tensor) -> Tensor:
    """``‖a − b‖²_F / N`` with N the batch size (Eq. 1's 1/N)."""
    return (a - b).pow(2).sum() / a.shape[0]


@torch.no_grad()
def layer_terms(t_layer: Layer, h_s: Tensor, h_t: Tensor, loss: str, mu: float = 0.6, alpha: float = 0.9,
           beta: float = 0.3) -> list[tuple[float, Tensor, Tensor]]:
    """A layer loss as ``[(weight, student input, teacher target)]``; the loss is ``Σ w ‖target − s(input)‖²/N``.

    ``h_s``/``h_t``: the student's and the teacher's inputs to the layer. Inputs are detached and targets computed
    without gradient, so only the student layer is trained. Splitting the loss this way lets
    ``cross.cross_distill`` compute the teacher's targets once per layer instead of every step.
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
    raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LAYER_LOSSES)}")


def layer_objective(s_layer: Layer, terms: list[tuple[float, Tensor, Tensor]]) -> Tensor:
    """``Σ w ‖target − s_layer(input)‖² / N`` over ``layer_terms``' terms: the loss the student layer minimises."""
    return sum(w * mean_sq_norm(target, s_layer(inp)) for w, inp, target in terms)


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
    return layer_objective(s_layer, layer_terms(t_layer, h_s, h_t, "nc"))


def correction_loss(s_layer: Layer, t_layer: Layer, h_t: Tensor) -> Tensor:
    """Eq. 2, correction L^c: ``‖t(h_t) − s(h_t)‖² / N`` (the student layer is fed the teacher's features)."""
    _check_layers(s_layer, t_layer, h_t=h_t)
    return layer_objective(s_layer, layer_terms(t_layer, h_t, h_t, "correction"))


def imitation_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor) -> Tensor:
    """Eq. 3, imitation L^i: ``‖t(h_s) − s(h_s)‖² / N`` (the teacher layer is fed the student's features)."""
    _check_layers(s_layer, t_layer, h_s=h_s)
    return layer_objective(s_layer, layer_terms(t_layer, h_s, h_s, "imitation"))


def cross_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor, h_t: Tensor, mu: float = 0.6) -> Tensor:
    """Eq. 4, cross distillation: ``μ L^c + (1 − μ) L^i`` (μ = 1: correction, μ = 0: imitation)."""
    _check_layers(s_layer, t_layer, h_s=h_s, h_t=h_t)
    validate.real("mu", mu, low=0.0, high=1.0)
    return layer_objective(s_layer, layer_terms(t_layer, h_s, h_t, "cross", mu=mu))


def soft_cross_loss(s_layer: Layer, t_layer: Layer, h_s: Tensor, h_t: Tensor, alpha: float = 0.9,
                    beta: float = 0.3) -> Tensor:
    """Eq. 7–8, soft cross distillation: ``‖t(α h_t + (1−α) h_s) − s((1−β) h_t + β h_s)‖² / N``.

    α = β = 1 is Ours-NC; α = β = 0 crosses fully, ``‖t(h_s) − s(h_t)‖² / N``.
    """
    _check_layers(s_layer, t_layer, h_s=h_s, h_t=h_t)
    validate.real("alpha", alpha, low=0.0, high=1.0)
    validate.real("beta", beta, low=0.0, high=1.0)
    return layer_objective(s_layer, layer_terms(t_layer, h_s, h_t, "soft", alpha=alpha, beta=beta))

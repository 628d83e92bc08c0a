"""Distillation losses as plain functions on tensors: student first, scalar result, paper equation cited.

Method notes §1 lists the bugs these avoid: ``nn.KLDivLoss()``'s default ``reduction="mean"`` (divides by the
class count too), a missing ``T**2``, and passing probabilities instead of log-probabilities to ``kl_div``.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from . import validate

__all__ = ["kd_loss", "soft_cross_entropy"]


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, T: float = 4.0, alpha: float = 1.0,
            targets: Tensor | None = None) -> Tensor:
    """Hinton et al. (2015) / seed 004: ``alpha·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − alpha)·CE(s, y)``.

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

"""Distillation training, built on ``train.fit``: the teacher enters only through ``fit``'s ``loss_fn``.

``distill`` is Hinton et al.'s knowledge distillation (2015): the teacher's logits are computed on *exactly* the
batch the student sees — the same samples, in the same order, with the same random crop and flip when
``augment`` is on, because the loss ``fit`` calls runs both networks on that batch — never from a cache.

``function_matching`` is Beyer et al. (CVPR 2022), "Knowledge distillation: A good teacher is patient and
consistent": no labels, teacher and student see the *same* augmented view — one crop/flip (``fit``'s augment) and
then one mixup of that batch, made inside the loss — and the student matches the teacher's predictions by KL.

An optional FitNets-style hint (``hint=fitnets.Hint(...)``, Romero et al., ICLR 2015) adds
``weight · MSE(regressor(student block), teacher block)`` to the KD loss; both networks' features are read with
``models.block_io`` inside the loss (iterative KD's three-term loss, Yalburgi 2019).

Teacher hygiene: the teacher must be a different network from the student (no shared parameters: a popular
library once distilled a network into itself), it is frozen (``train.freeze``: eval mode, ``requires_grad=False``;
it stays frozen afterwards), its logits are computed under ``torch.no_grad()``, and it is never in the optimizer.
``fit`` puts the student back in train mode after each evaluation.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from . import validate
from .losses import kd_loss
from .models import BlockNet, block_io
from .train import fit, freeze, get_device, predict

if TYPE_CHECKING:
    from .fitnets import Hint

__all__ = ["check_teacher", "distill", "distill_from_logits", "function_matching"]


def check_teacher(student: nn.Module, teacher: nn.Module, params=None) -> None:
    """Raise ``ValueError`` if ``teacher`` is ``student`` or shares a parameter (or its memory) with it / ``params``."""
    if teacher is student:
        raise ValueError("teacher is student: distil from a separate network (copy.deepcopy the teacher)")
    teacher_params = list(teacher.parameters())
    ids = {id(p) for p in teacher_params}
    ptrs = {p.data_ptr() for p in teacher_params if p.numel() > 0}
    for p in itertools.chain(student.parameters(), params or []):
        if id(p) in ids or (p.numel() > 0 and p.data_ptr() in ptrs):
            raise ValueError("teacher and student share parameters: the teacher would be trained with the student; "
                             "distil from a deep copy")


_NO_ALPHA = object()  # function_matching has no alpha (None is a wrong alpha, not a missing one)


def _check(student: nn.Module | None, x: Tensor, y: Tensor | None, T: float, alpha: float = _NO_ALPHA) -> None:
    """The distillation arguments ``fit`` does not see; ``fit`` checks the rest (epochs, lr, ...) before training."""
    if student is not None:
        validate.module("student", student, nn.Module)
    validate.tensor("x", x, min_ndim=2, kind="float")
    if isinstance(student, BlockNet):  # a network of the course: its images' channels, its classes
        validate.images("x", x, "student", student)
    if y is not None:
        classes = getattr(student, "config", {}).get("num_classes") if isinstance(student, BlockNet) else None
        validate.labels("y", y, rows=len(x), num_classes=classes)
    validate.real("T", T, low=0.0, low_open=True)
    if alpha is not _NO_ALPHA:
        validate.real("alpha", alpha, low=0.0, high=1.0)


def _no_loss_override(fit_kwargs: dict) -> None:
    for key in ("loss_fn", "extra"):
        if key in fit_kwargs:
            raise TypeError(f"{key}= is set by distillation itself; it cannot be passed through")


def _prepare(student: nn.Module, teacher: nn.Module, fit_kwargs: dict) -> torch.device:
    validate.module("student", student, nn.Module)
    validate.module("teacher", teacher, nn.Module)
    _no_loss_override(fit_kwargs)
    if fit_kwargs.get("params") is not None:
        fit_kwargs["params"] = list(fit_kwargs["params"])  # a generator would be used up by the check below
    check_teacher(student, teacher, fit_kwargs.get("params"))
    device = fit_kwargs.get("device")
    device = device if isinstance(device, torch.device) else get_device(device)
    fit_kwargs["device"] = device
    freeze(teacher).to(device)
    return device


def distill(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor | None = None, *, T: float = 4.0,
            alpha: float = 0.9, epochs: int = 10, hint: Hint | None = None, **fit_kwargs) -> dict[str, list[float]]:
    """Hinton et al. (2015): train ``student`` in place on ``alpha·T²·KL(teacher ‖ student) + (1-alpha)·CE``.

    ``x``: ``(N, C, H, W)``, ``y``: ``(N,)`` labels or ``None`` for pure distillation (then ``alpha`` is 1). The
    teacher sees exactly the batch the student sees (augmented views included). Other keyword arguments go to
    ``train.fit`` (``augment``, ``lr``, ``val``, ...). ``hint`` (a ``fitnets.Hint``) adds
    ``hint.weight · MSE(hint.regressor(student block), teacher block)``; its regressor is trained with the student.
    Without labels, the history's ``train_acc`` is agreement with the teacher's predicted class on the
    un-augmented images. Returns ``fit``'s ``History``.
    """
    _check(student, x, y, T, alpha)
    _prepare(student, teacher, fit_kwargs)
    if y is None:
        alpha = 1.0
        y = predict(teacher, x).argmax(1)  # only for fit's train_acc: agreement with the teacher
    labelled = alpha < 1.0

    def loss_fn(model: nn.Module, xb: Tensor, yb: Tensor, _extra: None) -> tuple[Tensor, Tensor]:
        if hint is None:
            logits = model(xb)
            with torch.no_grad():
                teacher_logits = teacher(xb)  # the student's own batch: same samples, same augmentation
            return kd_loss(logits, teacher_logits, T=T, alpha=alpha, targets=yb if labelled else None), logits
        s_io = block_io(model, xb)
        logits = model.head(s_io[-1][1])
        with torch.no_grad():
            t_io = block_io(teacher, xb)
            teacher_logits = teacher.head(t_io[-1][1])
        loss = kd_loss(logits, teacher_logits, T=T, alpha=alpha, targets=yb if labelled else None)
        return loss + hint.weight * hint.loss(s_io, t_io), logits

    if hint is not None:
        fit_kwargs["modules"] = [*fit_kwargs.get("modules", ()), hint.regressor]
    fit_kwargs.setdefault("desc", "distill")
    return fit(student, x, y, epochs=epochs, loss_fn=loss_fn, **fit_kwargs)


def distill_from_logits(student: nn.Module, x: Tensor, teacher_logits: Tensor, y: Tensor | None = None, *,
                        T: float = 4.0, alpha: float = 0.9, epochs: int = 10,
                        **fit_kwargs) -> dict[str, list[float]]:
    """``distill`` with the teacher's logits computed once, ahead of time (``teacher_logits[i]`` belongs to ``x[i]``).

    Saves one teacher forward pass per sample per epoch — the whole cost of KD with a big teacher on a CPU. It is
    exact only without augmentation (cached logits must describe the very view the student sees),
    so ``augment`` is refused by ``fit``. Row ``i`` of the cache follows sample ``i`` through every shuffle because
    ``fit`` indexes ``x``, ``y`` and the cache with the same batch indices.
    """
    _check(student, x, y, T, alpha)
    validate.tensor("teacher_logits", teacher_logits, ndim=2, kind="float")
    if len(teacher_logits) != len(x):
        raise ValueError(f"teacher_logits has {len(teacher_logits)} rows for {len(x)} samples; compute them with "
                         "train.predict(teacher, x)")
    if fit_kwargs.get("augment"):
        raise ValueError("cached teacher logits cannot follow random crops/flips; use distill(..., augment=...) "
                         "to run the teacher on every augmented batch")
    _no_loss_override(fit_kwargs)
    teacher_logits = teacher_logits.detach().float().cpu()
    if y is None:
        alpha = 1.0
        y = teacher_logits.argmax(1)
    labelled = alpha < 1.0

    def loss_fn(model: nn.Module, xb: Tensor, yb: Tensor, t_logits: Tensor) -> tuple[Tensor, Tensor]:
        logits = model(xb)
        return kd_loss(logits, t_logits, T=T, alpha=alpha, targets=yb if labelled else None), logits

    fit_kwargs.setdefault("desc", "distill (cached teacher)")
    return fit(student, x, y, epochs=epochs, loss_fn=loss_fn, extra=teacher_logits, **fit_kwargs)


def function_matching(student: nn.Module, teacher: nn.Module, x: Tensor, *, epochs: int = 10, T: float = 1.0,
                      augment: bool | int = True, mixup: bool = True, mixup_alpha: float = 1.0,
                      **fit_kwargs) -> dict[str, list[float]]:
    """Beyer et al. (2022) function matching: KL(teacher ‖ student) on one shared, augmented and mixed view.

    No labels are used. Each step ``fit`` crops and flips the batch (``augment``), the batch is mixed once
    (``mixup``: one ``λ ~ Beta(mixup_alpha, mixup_alpha)`` per batch, image i mixed with image i-1), and the
    teacher receives the identical mixed tensor the student received. The paper's recipe is long ("patient")
    schedules. ``train_acc`` in the history is a rough signal only: agreement with the teacher's class for the
    un-mixed image. Other keyword arguments go to ``train.fit``. Returns ``fit``'s history.
    """
    _check(student, x, None, T)
    if mixup:
        validate.real("mixup_alpha", mixup_alpha, low=0.0, low_open=True)
    _prepare(student, teacher, fit_kwargs)
    rng = np.random.default_rng(fit_kwargs.get("seed", 0))
    y = predict(teacher, x).argmax(1)

    def loss_fn(model: nn.Module, xb: Tensor, _yb: Tensor, _extra: None) -> tuple[Tensor, Tensor]:
        if mixup:  # big_vision's mixup: one λ ~ Beta(a, a) per batch, each image mixed with its neighbour
            lam = float(rng.beta(mixup_alpha, mixup_alpha))
            xb = lam * xb + (1.0 - lam) * xb.roll(1, dims=0)
        logits = model(xb)
        with torch.no_grad():
            teacher_logits = teacher(xb)  # the very tensor the student saw: same crop, flip and mixup
        return kd_loss(logits, teacher_logits, T=T), logits

    fit_kwargs.setdefault("desc", "function matching")
    return fit(student, x, y, epochs=epochs, augment=augment, loss_fn=loss_fn, **fit_kwargs)

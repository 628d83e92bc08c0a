"""Distillation training, built on ``train.fit``: the teacher enters only through ``fit``'s ``loss_fn``.

``distill`` is Hinton et al.'s knowledge distillation (2015): the teacher's logits are computed on *exactly* the
batch the student sees — the same samples, in the same order, with the same random crop and flip when
``augment`` is on, because ``fit`` passes that batch to ``loss_fn(logits, xb, yb)`` — never from a cache.

``function_matching`` is Beyer et al. (2022), "Knowledge distillation: A good teacher is patient and consistent"
(seed 004): no labels, teacher and student see the *same* augmented view — one crop/flip (``fit``'s augment) and
then one mixup of that batch — and the student matches the teacher's predictions by KL.
The mixup happens inside a thin wrapper around the student (``fit`` calls it in place of the student), which keeps
the mixed batch it fed the student so that ``loss_fn`` hands the very same tensor to the teacher.

Teacher hygiene (method notes §1): the teacher must be a different network from the student (no shared
parameters: a popular library once distilled a network into itself), it is frozen (``checkpoint.freeze``: eval
mode, ``requires_grad=False``; it stays frozen afterwards), its logits are computed under ``torch.no_grad()``, and
it is never in the optimizer. ``fit`` puts the student back in train mode after each evaluation.
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from . import validate
from .checkpoint import freeze
from .losses import kd_loss
from .train import fit, get_device, predict

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


def _check(student: nn.Module | None, x: Tensor, y: Tensor | None, T: float, alpha: float | None = None) -> None:
    """The distillation arguments ``fit`` does not see; ``fit`` checks the rest (epochs, lr, ...) before training."""
    if student is not None:
        validate.module("student", student, nn.Module)
    validate.tensor("x", x, min_ndim=2, kind="float")
    if y is not None:
        validate.labels("y", y, rows=len(x))
    validate.real("T", T, low=0.0, low_open=True)
    if alpha is not None:
        validate.real("alpha", alpha, low=0.0, high=1.0)


def _prepare(student: nn.Module, teacher: nn.Module, fit_kwargs: dict) -> torch.device:
    validate.module("student", student, nn.Module)
    validate.module("teacher", teacher, nn.Module)
    for key in ("loss_fn", "aux"):
        if key in fit_kwargs:
            raise TypeError(f"{key}= is set by distillation itself; it cannot be passed through")
    if fit_kwargs.get("params") is not None:
        fit_kwargs["params"] = list(fit_kwargs["params"])  # a generator would be used up by the check below
    check_teacher(student, teacher, fit_kwargs.get("params"))
    device = fit_kwargs.get("device")
    device = device if isinstance(device, torch.device) else get_device(device)
    fit_kwargs["device"] = device
    freeze(teacher).to(device)
    return device


def distill(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor | None = None, *, T: float = 4.0,
            alpha: float = 0.9, epochs: int = 10, extra_loss: Callable[[], Tensor] | None = None,
            **fit_kwargs) -> dict[str, list[float]]:
    """Hinton et al. (2015): train ``student`` in place on ``alpha·T²·KL(teacher ‖ student) + (1-alpha)·CE``.

    ``x``: ``(N, C, H, W)``, ``y``: ``(N,)`` labels or ``None`` for pure distillation (then ``alpha`` is 1). The
    teacher sees exactly the batch the student sees (augmented views included). Other keyword arguments go to
    ``train.fit`` (``augment``, ``lr``, ``val``, ...). ``extra_loss()``, if given, is added to every batch's loss
    after both forward passes (e.g. a FitNets hint read from forward hooks; put its parameters in ``params=``).
    Without labels, the history's ``train_acc`` is agreement with the teacher's predicted class on the
    un-augmented images. Returns ``fit``'s history.
    """
    _check(student, x, y, T, alpha)
    if extra_loss is not None and not callable(extra_loss):
        raise TypeError(f"extra_loss must be a function of no arguments returning a loss, got "
                        f"{validate.describe(extra_loss)}")
    _prepare(student, teacher, fit_kwargs)
    if y is None:
        alpha = 1.0
        y = predict(teacher, x).argmax(1)  # only for fit's train_acc: agreement with the teacher
    labelled = alpha < 1.0

    def loss_fn(logits: Tensor, xb: Tensor, yb: Tensor) -> Tensor:
        with torch.no_grad():
            teacher_logits = teacher(xb)  # the student's own batch: same samples, same augmentation
        loss = kd_loss(logits, teacher_logits, T=T, alpha=alpha, targets=yb if labelled else None)
        return loss if extra_loss is None else loss + extra_loss()

    fit_kwargs.setdefault("desc", "distill")
    return fit(student, x, y, epochs=epochs, loss_fn=loss_fn, **fit_kwargs)


def distill_from_logits(student: nn.Module, x: Tensor, teacher_logits: Tensor, y: Tensor | None = None, *,
                        T: float = 4.0, alpha: float = 0.9, epochs: int = 10,
                        **fit_kwargs) -> dict[str, list[float]]:
    """``distill`` with the teacher's logits computed once, ahead of time (``teacher_logits[i]`` belongs to ``x[i]``).

    Saves one teacher forward pass per sample per epoch — the whole cost of KD with a big teacher on a CPU. It is
    exact only without augmentation (method notes §1: cached logits must describe the very view the student sees),
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
    for key in ("loss_fn", "aux"):
        if key in fit_kwargs:
            raise TypeError(f"{key}= is set by distillation itself; it cannot be passed through")
    teacher_logits = teacher_logits.detach().float().cpu()
    if y is None:
        alpha = 1.0
        y = teacher_logits.argmax(1)
    labelled = alpha < 1.0

    def loss_fn(logits: Tensor, _xb: Tensor, yb: Tensor, t_logits: Tensor) -> Tensor:
        return kd_loss(logits, t_logits, T=T, alpha=alpha, targets=yb if labelled else None)

    fit_kwargs.setdefault("desc", "distill (cached teacher)")
    return fit(student, x, y, epochs=epochs, loss_fn=loss_fn, aux=teacher_logits, **fit_kwargs)


class _SharedView(nn.Module):
    """The student behind one mixup per training batch; ``view`` keeps the exact tensor the student was given."""

    def __init__(self, student: nn.Module, mixup_alpha: float | None, seed: int):
        super().__init__()
        self.student = student
        self.mixup_alpha = mixup_alpha
        self.rng = np.random.default_rng(seed)
        self.view: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        if self.training and self.mixup_alpha:
            # big_vision's mixup: one λ ~ Beta(a, a) per batch, each image mixed with its neighbour in the batch
            lam = float(self.rng.beta(self.mixup_alpha, self.mixup_alpha))
            x = lam * x + (1.0 - lam) * x.roll(1, dims=0)
        self.view = x
        return self.student(x)


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
    wrapped = _SharedView(student, mixup_alpha if mixup else None, seed=fit_kwargs.get("seed", 0))
    y = predict(teacher, x).argmax(1)

    def loss_fn(logits: Tensor, _xb: Tensor, _yb: Tensor) -> Tensor:
        with torch.no_grad():
            teacher_logits = teacher(wrapped.view)  # the very tensor the student saw: same crop, flip and mixup
        return kd_loss(logits, teacher_logits, T=T)

    fit_kwargs.setdefault("desc", "function matching")
    return fit(wrapped, x, y, epochs=epochs, augment=augment, loss_fn=loss_fn, **fit_kwargs)

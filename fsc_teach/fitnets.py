"""FitNets (Romero et al., ICLR 2015; method notes §2): a teacher's middle layer as a hint for a thin student.

The paper's method has two stages:

1. **Hint training** (Eq. 3): the student's lower part, up to its *guided* block, plus a regressor ``r`` learn
   ``min ½‖u_h(x) − r(v_g(x))‖²``, where ``u_h`` is the teacher up to its *hint* block. No labels are needed.
2. **Knowledge distillation** (Eq. 2) of the whole student: ``H(y, P_s) + λ·H(P_t^τ, P_s^τ)`` with ``τ = 3`` and
   ``λ`` decayed linearly from 4 to 1 during training.

Most libraries (RepDistiller, mdistiller, the PyTorch KD tutorial) instead train one stage,
``CE + β·MSE(r(f_s), f_t)`` with ``β ≈ 100``, and call it FitNet: ``fitnet_single_stage``, the "library variant".

Both use ``train.fit``; the student's features are reached by running its ``blocks`` one by one (no hooks on the
student), and the teacher is only run in eval mode under ``torch.no_grad()``. Without augmentation the teacher's
hints and logits never change, so ``cache=True`` computes them once and hands them to ``fit`` as per-sample
``aux`` targets (the same numbers, one teacher pass instead of one per epoch: most of the cost on a CPU).
"""
from __future__ import annotations

import contextlib
import math
import numbers

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate
from .losses import kd_loss
from .models import BlockNet
from .train import fit, seeded

__all__ = ["Regressor", "hint_loss", "fitnet_two_stage", "fitnet_single_stage"]


def _pair(hw: int | tuple[int, int]) -> tuple[int, int]:
    return (int(hw), int(hw)) if isinstance(hw, int) else (int(hw[0]), int(hw[1]))


class Regressor(nn.Module):
    """FitNets' convolutional regressor: student guided features ``(B, C_s, H_s, W_s)`` -> ``(B, C_t, H_t, W_t)``.

    A 1x1 conv when the spatial sizes agree, else the paper's "valid" conv with kernel ``H_s − H_t + 1``
    (fewer weights than a fully connected regressor). ``relu=True`` ends with a ReLU, for a post-ReLU hint: the
    regressor must produce the same kind of tensor as the hint (method notes §2).
    """

    def __init__(self, student_channels: int, teacher_channels: int, student_hw: int | tuple[int, int],
                 teacher_hw: int | tuple[int, int], relu: bool = True):
        super().__init__()
        validate.integer("student_channels", student_channels, low=1)
        validate.integer("teacher_channels", teacher_channels, low=1)
        for name, hw in (("student_hw", student_hw), ("teacher_hw", teacher_hw)):
            sizes = [hw] if isinstance(hw, numbers.Integral) else hw
            if (not isinstance(sizes, (list, tuple)) or len(sizes) not in (1, 2)
                    or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in sizes)):
                raise TypeError(f"{name} must be a positive int or a pair (H, W), got {validate.describe(hw)}")
        (hs, ws), (ht, wt) = _pair(student_hw), _pair(teacher_hw)
        if hs < ht or ws < wt:
            raise ValueError(f"the guided layer ({hs}x{ws}) is smaller than the hint ({ht}x{wt}): pick a hint "
                             "block deeper in the teacher or a guided block earlier in the student")
        self.conv = nn.Conv2d(student_channels, teacher_channels, (hs - ht + 1, ws - wt + 1))
        self.act = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


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


def _up_to(model: nn.Module, x: Tensor, block: int) -> Tensor:
    """The output of ``model.blocks[block]`` (as ``models.block_io`` defines it)."""
    h = model.stem(x)
    for b in model.blocks[:block + 1]:
        h = b(h)
    return h


@torch.no_grad()
def _teacher(teacher: nn.Module, xb: Tensor, hint_block: int | None) -> Tensor:
    """Teacher logits (``hint_block=None``) or hint for the student's batch, on the student's device."""
    dev = next(teacher.parameters()).device
    out = teacher(xb.to(dev)) if hint_block is None else _up_to(teacher, xb.to(dev), hint_block)
    return out.to(xb.device)


@torch.no_grad()
def _teacher_cache(teacher: nn.Module, x: Tensor, hint_block: int | None, batch_size: int = 500) -> Tensor:
    """``_teacher`` over all of ``x`` in batches, on the CPU: cached hints or logits, row ``i`` for ``x[i]``."""
    return torch.cat([_teacher(teacher, x[i:i + batch_size], hint_block).cpu()
                      for i in range(0, len(x), batch_size)])


def _check_fitnet(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor | None, guided_block: int,
                  hint_block: int, regressor: nn.Module | None, **numbers_: float) -> None:
    """The FitNets arguments ``fit`` does not see, once before training (``fit`` checks lr, epochs, ...)."""
    validate.module("student", student, BlockNet)
    validate.module("teacher", teacher, BlockNet)
    validate.tensor("x", x, ndim=4, kind="float")
    if y is not None:
        validate.labels("y", y, rows=len(x))
    validate.integer("guided_block", guided_block, low=0, high=len(student.blocks) - 1)
    validate.integer("hint_block", hint_block, low=0, high=len(teacher.blocks) - 1)
    if regressor is not None:
        validate.module("regressor", regressor, nn.Module)
    for name, value in numbers_.items():
        if name == "T":
            validate.real(name, value, low=0.0, low_open=True)
        elif name.endswith("epochs"):
            validate.integer(name, value, low=0)
        else:
            validate.real(name, value, low=0.0)


def _check_cache(cache: bool, augment: bool | int) -> None:
    if cache and augment:
        raise ValueError("cache=True stores the teacher's outputs for the un-augmented images; with augment the "
                         "student sees other views (method notes §1), so run the teacher per batch (cache=False)")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """``model`` in eval mode inside the block; its own mode (train or eval) is restored afterwards."""
    mode = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(mode)


@torch.no_grad()
def _make_regressor(student: nn.Module, teacher: nn.Module, x: Tensor, guided_block: int, hint_block: int,
                    seed: int) -> Regressor:
    """A regressor sized by one probe batch; ``relu`` when the hint is non-negative (a post-ReLU hint)."""
    with _eval_mode(student):
        probe = x[:2].to(next(student.parameters()).device)
        fs, ft = _up_to(student, probe, guided_block), _teacher(teacher, probe, hint_block)
    with seeded(seed):  # the initialisation draws from the global RNG: keep other threads out (grid.run_grid)
        return Regressor(fs.shape[1], ft.shape[1], tuple(fs.shape[2:]), tuple(ft.shape[2:]),
                         relu=bool((ft >= 0).all())).to(probe.device)


class _GuidedPart(nn.Module):
    """Stage 1's network: the student's stem and blocks up to the guided one, then the regressor.

    ``forward`` flattens its output to ``(B, C·H·W)`` because ``fit`` reads ``output.argmax(1)`` for accuracy.
    The modules are shared with the student, so training this trains the student's lower part in place.
    """

    def __init__(self, student: nn.Module, guided_block: int, regressor: nn.Module):
        super().__init__()
        self.stem, self.regressor = student.stem, regressor
        self.blocks = nn.ModuleList(student.blocks[:guided_block + 1])

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.regressor(h).flatten(1)


def fitnet_two_stage(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor | None = None, *,
                     guided_block: int, hint_block: int, stage1_epochs: int, stage2_epochs: int, T: float = 3.0,
                     lambda_start: float = 4.0, lambda_end: float = 1.0, regressor: nn.Module | None = None,
                     lr: float = 0.05, batch_size: int = 128, optimizer: str = "sgd", weight_decay: float = 5e-4,
                     augment: bool | int = False, val: tuple[Tensor, Tensor] | None = None, seed: int = 0,
                     cache: bool = False, progress: bool = True
                     ) -> tuple[nn.Module, dict[str, dict[str, list[float]]]]:
    """FitNets' Algorithm 1 (Romero et al. 2015): hint training, then KD of the whole student, in place.

    Stage 1 trains only the student's stem and blocks ``≤ guided_block`` plus ``regressor`` (built to fit if
    ``None``) on ``hint_loss`` against the teacher's ``blocks[hint_block]`` output — no labels. Stage 2 trains the
    whole student on ``λ·H(P_t^τ, P_s^τ)`` (+ ``CE(y)`` when labels are given) with ``τ = T`` and ``λ`` decayed
    linearly per step from ``lambda_start`` to ``lambda_end``. Eq. 2 has no ``τ²`` factor, so ``kd_loss`` (which
    has it) is divided by ``T²``; its KL differs from the paper's cross-entropy by the teacher's entropy, a constant.

    ``cache=True`` (no ``augment``): the teacher's hints (stage 1) and logits (stage 2) are computed once before
    each stage instead of on every batch — the same targets, far fewer teacher passes.

    Returns ``(student, {"stage1": history, "stage2": history})``; histories are ``train.fit``'s (stage 1 without
    accuracy; stage 2's ``lambda`` lists the per-step weights, and ``train_acc`` is absent without labels).
    """
    _check_fitnet(student, teacher, x, y, guided_block, hint_block, regressor, stage1_epochs=stage1_epochs,
                  stage2_epochs=stage2_epochs, T=T, lambda_start=lambda_start, lambda_end=lambda_end)
    _check_cache(cache, augment)
    labels = y if y is not None else torch.zeros(len(x), dtype=torch.long)  # fit wants labels; stage 1 ignores them
    with _eval_mode(teacher):
        if regressor is None:
            regressor = _make_regressor(student, teacher, x, guided_block, hint_block, seed)
        guided = _GuidedPart(student, guided_block, regressor)

        def stage1_loss(out: Tensor, xb: Tensor, _yb: Tensor, cached: Tensor | None = None) -> Tensor:
            hint = _teacher(teacher, xb, hint_block) if cached is None else cached
            return hint_loss(out.view_as(hint), hint)

        aux1 = _teacher_cache(teacher, x, hint_block) if cache and stage1_epochs > 0 else None
        h1 = fit(guided, x, labels, epochs=stage1_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                 weight_decay=weight_decay, augment=augment, loss_fn=stage1_loss, aux=aux1, seed=seed,
                 progress=progress, desc="FitNet stage 1 (hint)")
        del aux1
        h1.pop("train_acc")

        total = max(1, stage2_epochs * math.ceil(len(x) / batch_size))
        lambdas: list[float] = []

        def stage2_loss(logits: Tensor, xb: Tensor, yb: Tensor, cached: Tensor | None = None) -> Tensor:
            lam = lambda_start + (lambda_end - lambda_start) * min(len(lambdas) / max(total - 1, 1), 1.0)
            lambdas.append(lam)  # fit calls the loss once per step, so this counts the steps
            t_logits = _teacher(teacher, xb, None) if cached is None else cached
            loss = lam * kd_loss(logits, t_logits, T) / (T * T)
            return (loss + F.cross_entropy(logits, yb)) if y is not None else loss

        aux2 = _teacher_cache(teacher, x, None) if cache and stage2_epochs > 0 else None
        h2 = fit(student, x, labels, epochs=stage2_epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                 weight_decay=weight_decay, augment=augment, loss_fn=stage2_loss, aux=aux2, val=val, seed=seed,
                 progress=progress, desc="FitNet stage 2 (KD)")
        h2["lambda"] = lambdas
        if y is None:
            h2.pop("train_acc")
    return student, {"stage1": h1, "stage2": h2}


class _WithHint(nn.Module):
    """The student plus a regressor: ``forward`` returns the logits and keeps ``r(guided features)`` in ``.hint``."""

    def __init__(self, student: nn.Module, guided_block: int, regressor: nn.Module):
        super().__init__()
        self.student, self.regressor, self.guided_block = student, regressor, guided_block
        self.hint: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        h = self.student.stem(x)
        for i, block in enumerate(self.student.blocks):
            h = block(h)
            if i == self.guided_block:
                self.hint = self.regressor(h)
        return self.student.head(h)


def fitnet_single_stage(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor, *, guided_block: int,
                        hint_block: int, epochs: int, beta: float = 100.0, regressor: nn.Module | None = None,
                        lr: float = 0.05, batch_size: int = 128, optimizer: str = "sgd", weight_decay: float = 5e-4,
                        augment: bool | int = False, val: tuple[Tensor, Tensor] | None = None, seed: int = 0,
                        cache: bool = False, progress: bool = True) -> tuple[nn.Module, dict[str, list[float]]]:
    """The library variant of FitNets (RepDistiller, mdistiller): ``CE(s, y) + β·MSE(r(f_s), f_t)``, ``β ≈ 100``.

    One stage, student and regressor trained together from the start; ``f_s`` is the student's
    ``blocks[guided_block]`` output, ``f_t`` the teacher's ``blocks[hint_block]`` output. ``cache=True`` (no
    ``augment``) computes the teacher's hints once. Trains in place and returns ``(student, history)``.
    """
    validate.labels("y", y, rows=len(validate.tensor("x", x, ndim=4, kind="float")))
    _check_fitnet(student, teacher, x, y, guided_block, hint_block, regressor, epochs=epochs, beta=beta)
    _check_cache(cache, augment)
    with _eval_mode(teacher):
        if regressor is None:
            regressor = _make_regressor(student, teacher, x, guided_block, hint_block, seed)
        wrapped = _WithHint(student, guided_block, regressor)

        def loss_fn(logits: Tensor, xb: Tensor, yb: Tensor, cached: Tensor | None = None) -> Tensor:
            hint = _teacher(teacher, xb, hint_block) if cached is None else cached
            return F.cross_entropy(logits, yb) + beta * hint_loss(wrapped.hint, hint)

        aux = _teacher_cache(teacher, x, hint_block) if cache and epochs > 0 else None
        history = fit(wrapped, x, y, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                      weight_decay=weight_decay, augment=augment, loss_fn=loss_fn, aux=aux, val=val, seed=seed,
                      progress=progress, desc="FitNet (single stage)")
    return student, history

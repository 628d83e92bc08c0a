"""FitNets (Romero et al., ICLR 2015): a teacher's middle layer as a hint for a thin student.

The paper's method has two stages:

1. **Hint training** (Eq. 3): the student's lower part, up to its *guided* block, plus a regressor ``r`` learn
   ``min ½‖u_h(x) − r(v_g(x))‖²``, where ``u_h`` is the teacher up to its *hint* block. No labels are needed.
2. **Knowledge distillation** (Eq. 2) of the whole student: ``H(y, P_s) + λ·H(P_t^τ, P_s^τ)`` with ``τ = 3`` and
   ``λ`` decayed linearly from 4 to 1 during training.

Most libraries (RepDistiller, mdistiller, the PyTorch KD tutorial) instead train one stage,
``CE + β·MSE(r(f_s), f_t)`` with ``β ≈ 100``, and call it FitNet: ``fitnet_single_stage``, the "library variant".

Both use ``train.fit`` with a loss that reads both networks' features through ``models.block_io``; the teacher is
only run in eval mode under ``torch.no_grad()``. A ``Hint`` (block pair, regressor, weight) is the one hint term,
also used by iterative KD's three-term loss (``kd.distill(..., hint=...)``). Without augmentation the teacher's
hints and logits never change, so ``cache=True`` computes them once and hands them to ``fit`` as per-sample
``extra`` targets (the same numbers, one teacher pass instead of one per epoch: most of the cost on a CPU).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate
from .losses import hint_loss, kd_loss
from .models import BlockNet, block_io
from .train import eval_mode, fit, seeded

__all__ = ["Regressor", "Hint", "kd_weights", "fitnet_two_stage", "fitnet_single_stage"]


def _pair(hw: int | tuple[int, int]) -> tuple[int, int]:
    return (int(hw), int(hw)) if isinstance(hw, int) else (int(hw[0]), int(hw[1]))


class Regressor(nn.Module):
    """FitNets' convolutional regressor: student guided features ``(B, C_s, H_s, W_s)`` -> ``(B, C_t, H_t, W_t)``.

    A 1x1 conv when the spatial sizes agree, else the paper's "valid" conv with kernel ``H_s − H_t + 1``
    (fewer weights than a fully connected regressor). ``relu=True`` ends with a ReLU, for a post-ReLU hint: the
    regressor must produce the same kind of tensor as the hint (Romero et al.: the hint is post-ReLU).
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
            raise ValueError(f"the guided layer ({hs}x{ws}) is smaller than the hint ({ht}x{wt}): pick a hint_block "
                             "deeper in the teacher or a guided_block earlier in the student")
        self.conv = nn.Conv2d(student_channels, teacher_channels, (hs - ht + 1, ws - wt + 1))
        self.act = nn.ReLU() if relu else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


@torch.no_grad()
def _teacher(teacher: nn.Module, xb: Tensor, hint_block: int | None) -> Tensor:
    """Teacher logits (``hint_block=None``) or hint for the student's batch, on the student's device."""
    dev = next(teacher.parameters()).device
    out = teacher(xb.to(dev)) if hint_block is None else block_io(teacher, xb.to(dev), upto=hint_block)[-1][1]
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
    validate.images("x", x, "student", student)
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
                         "student sees other views, so run the teacher per batch (cache=False)")


@dataclass
class Hint:
    """One hint term: ``weight · hint_loss(regressor(student block output), teacher block output)`` (Eq. 3).

    ``student_block``/``teacher_block`` index ``models.block_io``'s list (``-1``: the last block). ``loss`` takes
    both networks' ``block_io`` lists, so the caller runs each network once per batch.
    """

    student_block: int
    teacher_block: int
    regressor: nn.Module
    weight: float = 1.0
    reduction: str = "mean"

    def loss(self, student_io: list[tuple[Tensor, Tensor]], teacher_io: list[tuple[Tensor, Tensor]]) -> Tensor:
        return hint_loss(self.regressor(student_io[self.student_block][1]), teacher_io[self.teacher_block][1],
                         self.reduction)

    @classmethod
    @torch.no_grad()
    def build(cls, student: BlockNet, teacher: nn.Module, x: Tensor, student_block: int, teacher_block: int, *,
              weight: float = 1.0, relu: bool | None = None, seed: int | None = None) -> Hint:
        """A hint whose ``Regressor`` is sized by one probe batch of ``x`` (both networks in eval mode).

        ``relu=None``: a ReLU when the hint is non-negative (a post-ReLU hint). ``seed``: the regressor's
        initialisation, drawn under ``train.seeded(seed)``; ``None`` draws from the global RNG as it stands.
        """
        with eval_mode(student):
            probe = x[:2].to(next(student.parameters()).device)
            fs = block_io(student, probe, upto=student_block)[-1][1]
            ft = _teacher(teacher, probe, teacher_block)
        relu = bool((ft >= 0).all()) if relu is None else relu
        shape = fs.shape[1], ft.shape[1], tuple(fs.shape[2:]), tuple(ft.shape[2:])
        if seed is None:
            regressor = Regressor(*shape, relu=relu)
        else:
            with seeded(seed):  # the initialisation draws from the global RNG: keep other threads out (grid)
                regressor = Regressor(*shape, relu=relu)
        return cls(student_block, teacher_block, regressor.to(probe.device), weight)


def kd_weights(steps: int, start: float = 4.0, end: float = 1.0) -> list[float]:
    """FitNets' stage-2 weight λ of the KD term, decayed linearly from ``start`` to ``end`` over ``steps`` steps."""
    return [start + (end - start) * min(i / max(steps - 1, 1), 1.0) for i in range(steps)]


def _hint_part(student: BlockNet, guided_block: int, regressor: nn.Module) -> list[nn.Parameter]:
    """Stage 1's parameters: the student's stem and blocks up to the guided one, then the regressor."""
    return [p for m in (student.stem, regressor, *student.blocks[:guided_block + 1]) for p in m.parameters()]


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
    linearly per step from ``lambda_start`` to ``lambda_end`` (``kd_weights``). Eq. 2 has no ``τ²`` factor, so
    ``kd_loss`` (which has it) is divided by ``T²``; its KL differs from the paper's cross-entropy by the
    teacher's entropy, a constant.

    ``cache=True`` (no ``augment``): the teacher's hints (stage 1) and logits (stage 2) are computed once before
    each stage instead of on every batch — the same targets, far fewer teacher passes.

    Returns ``(student, {"stage1": History, "stage2": History})``, one ``train.fit`` history per stage: stage 1's
    ``train_acc`` is NaN (the hint has no classes); without labels, stage 2's is agreement with the teacher.
    """
    _check_fitnet(student, teacher, x, y, guided_block, hint_block, regressor, stage1_epochs=stage1_epochs,
                  stage2_epochs=stage2_epochs, T=T, lambda_start=lambda_start, lambda_end=lambda_end)
    _check_cache(cache, augment)
    common = dict(batch_size=batch_size, lr=lr, optimizer=optimizer, weight_decay=weight_decay, augment=augment,
                  seed=seed, progress=progress)
    with eval_mode(teacher):
        hint = Hint.build(student, teacher, x, guided_block, hint_block, seed=seed) if regressor is None else \
            Hint(guided_block, hint_block, regressor)

        def stage1_loss(model: nn.Module, xb: Tensor, _yb: Tensor, cached: Tensor | None) -> tuple[Tensor, None]:
            hint_target = _teacher(teacher, xb, hint_block) if cached is None else cached
            return hint_loss(hint.regressor(block_io(model, xb, upto=guided_block)[-1][1]), hint_target), None

        labels = y if y is not None else torch.zeros(len(x), dtype=torch.long)  # stage 1 ignores them
        h1 = fit(student, x, labels, epochs=stage1_epochs, loss_fn=stage1_loss, modules=[hint.regressor],
                 params=_hint_part(student, guided_block, hint.regressor),
                 extra=_teacher_cache(teacher, x, hint_block) if cache and stage1_epochs > 0 else None,
                 desc="FitNet stage 1 (hint)", **common)

        lambdas = iter(kd_weights(max(1, stage2_epochs * math.ceil(len(x) / batch_size)), lambda_start, lambda_end))

        def stage2_loss(model: nn.Module, xb: Tensor, yb: Tensor, cached: Tensor | None) -> tuple[Tensor, Tensor]:
            logits = model(xb)
            t_logits = _teacher(teacher, xb, None) if cached is None else cached
            loss = next(lambdas) * kd_loss(logits, t_logits, T) / (T * T)  # fit calls the loss once per step
            return ((loss + F.cross_entropy(logits, yb)) if y is not None else loss), logits

        cached = _teacher_cache(teacher, x, None) if (cache and stage2_epochs > 0) or y is None else None
        if y is None:  # train_acc: agreement with the teacher's class
            labels = cached.argmax(1)
        h2 = fit(student, x, labels, epochs=stage2_epochs, loss_fn=stage2_loss, val=val,
                 extra=cached if cache and stage2_epochs > 0 else None, desc="FitNet stage 2 (KD)", **common)
    return student, {"stage1": h1, "stage2": h2}


def fitnet_single_stage(student: nn.Module, teacher: nn.Module, x: Tensor, y: Tensor, *, guided_block: int,
                        hint_block: int, epochs: int, beta: float = 100.0, regressor: nn.Module | None = None,
                        lr: float = 0.05, batch_size: int = 128, optimizer: str = "sgd", weight_decay: float = 5e-4,
                        augment: bool | int = False, val: tuple[Tensor, Tensor] | None = None, seed: int = 0,
                        cache: bool = False, progress: bool = True) -> tuple[nn.Module, dict[str, list[float]]]:
    """The library variant of FitNets (RepDistiller, mdistiller): ``CE(s, y) + β·MSE(r(f_s), f_t)``, ``β ≈ 100``.

    One stage, student and regressor trained together from the start; ``f_s`` is the student's
    ``blocks[guided_block]`` output, ``f_t`` the teacher's ``blocks[hint_block]`` output. ``cache=True`` (no
    ``augment``) computes the teacher's hints once. Trains in place and returns ``(student, History)``.
    """
    validate.labels("y", y, rows=len(validate.tensor("x", x, ndim=4, kind="float")))
    _check_fitnet(student, teacher, x, y, guided_block, hint_block, regressor, epochs=epochs, beta=beta)
    _check_cache(cache, augment)
    with eval_mode(teacher):
        hint = Hint.build(student, teacher, x, guided_block, hint_block, weight=beta, seed=seed) \
            if regressor is None else Hint(guided_block, hint_block, regressor, beta)

        def loss_fn(model: nn.Module, xb: Tensor, yb: Tensor, cached: Tensor | None) -> tuple[Tensor, Tensor]:
            s_io = block_io(model, xb)
            logits = model.head(s_io[-1][1])
            target = _teacher(teacher, xb, hint_block) if cached is None else cached
            return F.cross_entropy(logits, yb) + hint.weight * hint_loss(hint.regressor(s_io[guided_block][1]),
                                                                         target), logits

        history = fit(student, x, y, epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                      weight_decay=weight_decay, augment=augment, loss_fn=loss_fn, modules=[hint.regressor],
                      extra=_teacher_cache(teacher, x, hint_block) if cache and epochs > 0 else None, val=val,
                      seed=seed, progress=progress, desc="FitNet (single stage)")
    return student, history

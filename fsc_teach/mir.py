"""MiR, "Mimicking then Replacing" (Wang et al., CVPR 2022): few-sample compression at the network's far end.

The pruned student's backbone (stem and blocks) is trained, without labels, to reproduce the teacher's features
*before the classifier* — the last block's output, which the head flattens (or globally pools) — with a mean
squared error on the few images; then the student's head is *replaced* by the teacher's, unchanged. Only the
student's final features are constrained, so every layer is free to change as long as the whole backbone ends
where the teacher's does: the network-level end of the granularity axis whose layer-level end is FSKD, OBS,
SparseGPT and GPTQ (``reconstruct``), with cross distillation's block-by-block pass in between.

The student must end with the teacher's feature shape (the course's structured students keep the last block's
width; unstructured students keep every width). Training uses ``train.fit`` (the same optimiser, schedule and
budget rule as the label-using baselines) with the teacher's features computed once (``extra``): the same targets,
far fewer teacher passes. Masks registered by ``prune.apply_masks_`` are held by ``fit``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import validate
from .models import BlockNet, block_input
from .train import eval_mode, fit

__all__ = ["features", "mimic_then_replace"]


@torch.no_grad()
def features(model: BlockNet, x: Tensor, batch_size: int = 500) -> Tensor:
    """The head's input (the last block's output) for every image of ``x``, in eval mode, on the CPU."""
    validate.module("model", model, BlockNet)
    dev = next(model.parameters()).device
    with eval_mode(model):
        return torch.cat([block_input(model, x[i:i + batch_size].to(dev), len(model.blocks)).cpu()
                          for i in range(0, len(x), batch_size)])


def _check(student: BlockNet, teacher: BlockNet, x: Tensor) -> None:
    validate.module("student", student, BlockNet)
    validate.module("teacher", teacher, BlockNet)
    validate.images("x", x, "student", student)
    with torch.no_grad(), eval_mode(student, teacher):
        probe = x[:2].to(next(student.parameters()).device)
        fs = block_input(student, probe, len(student.blocks)).shape[1:]
        ft = block_input(teacher, probe.to(next(teacher.parameters()).device), len(teacher.blocks)).shape[1:]
    if fs != ft:
        raise ValueError(f"MiR replaces the student's head by the teacher's, so the student must end with the "
                         f"teacher's feature shape: student {tuple(fs)}, teacher {tuple(ft)}; keep the last block's "
                         "width when pruning")


def mimic_then_replace(student: BlockNet, teacher: BlockNet, x: Tensor, *, epochs: int, batch_size: int = 32,
                       lr: float = 0.01, seed: int = 0, progress: bool = True) -> tuple[BlockNet, dict]:
    """Train ``student``'s stem and blocks on ``MSE(f_s(x), f_t(x))`` (features before the head, no labels), then
    give it a copy of the teacher's head. In place; returns ``(student, history)`` (``train.fit``'s; its
    ``train_acc`` is NaN: the mimicking loss has no classes).

    The teacher is only read. ``epochs``, ``batch_size``, ``lr`` and ``seed`` are ``train.fit``'s.
    """
    _check(student, teacher, x)
    target = features(teacher, x)

    def mimic(model: nn.Module, xb: Tensor, _yb: Tensor, cached: Tensor) -> tuple[Tensor, None]:
        return F.mse_loss(block_input(model, xb, len(model.blocks)), cached), None

    backbone = [p for name, p in student.named_parameters() if not name.startswith("head.")]
    history = fit(student, x, torch.zeros(len(x), dtype=torch.long), epochs=epochs, batch_size=batch_size, lr=lr,
                  loss_fn=mimic, extra=target, params=backbone, seed=seed, progress=progress, desc="MiR (mimic)")
    device = next(student.parameters()).device
    student.head = copy.deepcopy(teacher.head).to(device)  # "then replacing"
    for p in student.head.parameters():
        p.requires_grad_(True)
    return student.eval(), history

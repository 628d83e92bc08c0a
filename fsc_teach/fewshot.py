"""Few-shot compression with every method of the course on one footing (Bai et al.'s protocol; notebooks 06, 07).

Bai et al. (AAAI 2020) compare methods on *the same* pruned student and *the same* K images per class. Here a
``Scheme`` fixes the student and ``compress(method, teacher, scheme, x, y)`` runs one method on the few samples:

* ``Scheme("structured", 0.5)``: half the *input channels* of blocks 1 … L−1 removed (VGG-50%'s pattern: block
  l−1 loses half its filters; the last block keeps its width). Every method ends with the same widths: the
  baselines start from the L1-norm student (Li et al. 2017), cross distillation chooses its own channels while
  it distils and is then physically shrunk (``prune.shrink``). For a ResNet the inner channels of every block.
* ``Scheme("unstructured", 0.9)``: 90 % of the weights of those blocks' convs set to zero; the baselines start
  from layer-wise magnitude masks, which training keeps (``prune.apply_masks_``).

``METHODS`` (in the order of the papers' tables): ``L1-norm`` (no data), ``L1+BN`` (the same student with only its
BatchNorm statistics re-estimated on the K-shot images: the data-free baseline every gain is measured against),
``BP`` (fine-tune with the K-shot labels),
``KD`` (Hinton KD, notebook 02), ``Iter-KD`` (a two-step Parent → Child chain, Yalburgi 2019: prune half-way,
distil, prune to the target, distil), ``FitNet`` (two-stage, notebook 04), ``FSKD`` (notebook 05; structured
only — its 1x1 merge would densify a sparse conv), ``Ours-NC``, ``Ours``, ``Ours-S`` (cross distillation, Eq. 1,
4, 8), and from where few-sample compression went next (notebook 08): ``Wanda`` and ``SparseGPT`` (one-shot
layer-wise pruning from the images' Gram matrix; unstructured only) and ``MiR`` (mimic the teacher's features
before the head, then reuse its head).

``run_cell`` compresses and measures (test accuracy, parameters, FLOPs, time): the unit of ``grid.run_grid``.
Every method draws randomness only from its own seeded generators (FitNet's regressor is built under
``train.seeded``), so cells can run side by side and the same seed gives the same numbers.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from torch import Tensor

from . import cross, fitnets, fskd, kd, layerwise, mir, prune, validate
from .models import BasicBlock, BlockNet, count_flops, count_params
from .students import l1_to_widths
from .train import evaluate, fit, predict, recalibrate_bn_, trainable_copy

__all__ = ["Scheme", "Settings", "METHODS", "applicable", "compress", "run_cell"]


@dataclass(frozen=True)
class Scheme:
    """Which student: ``kind`` "structured" or "unstructured", the fraction ``sparsity`` removed, and where.

    ``blocks``: the blocks whose input channels (structured, VGG), inner channels (structured, ResNet) or conv
    weights (unstructured) are pruned; default: every block but the first for a VGG (its input is the image),
    every block for a ResNet.
    """

    kind: str
    sparsity: float
    blocks: tuple[int, ...] | None = None

    def __post_init__(self):
        validate.choice("kind", self.kind, ("structured", "unstructured"))
        validate.real("sparsity", self.sparsity, low=0, high=1, low_open=True, high_open=True)
        if self.blocks is not None:
            validate.sequence("blocks", self.blocks, "block indices")
            for i, b in enumerate(self.blocks):
                validate.integer(f"blocks[{i}]", b, low=0)

    @property
    def name(self) -> str:
        return f"{self.kind} {100 * self.sparsity:g} %"

    def pruned_blocks(self, model: BlockNet) -> list[int]:
        residual = isinstance(model.blocks[0], BasicBlock)
        blocks = list(self.blocks) if self.blocks is not None else list(range(0 if residual else 1, len(model.blocks)))
        if any(not 0 <= b < len(model.blocks) for b in blocks) or (self.kind == "structured" and not residual
                                                                    and 0 in blocks):
            raise ValueError(f"scheme blocks {blocks} do not fit a network of {len(model.blocks)} blocks "
                             f"(a VGG's block 0 reads the image: its input channels cannot be pruned)")
        return blocks

    def filter_ratios(self, model: BlockNet) -> dict[int, float]:
        """``{block: fraction of its filters removed}`` for ``prune.l1_prune`` (VGG: the block before each consumer)."""
        residual = isinstance(model.blocks[0], BasicBlock)
        return {(b if residual else b - 1): self.sparsity for b in self.pruned_blocks(model)}


@dataclass(frozen=True)
class Settings:
    """The methods' budgets. Defaults are the papers'/authors' code's; notebooks shrink them per scale."""

    steps: int = 3000  # cross distillation: Adam steps per layer (the code: 3000)
    lr: float = 5e-4  # the code's VGG rate
    batch_size: int | None = None  # images per step (None: the whole few-shot set, as the code)
    prune_method: str = "topk"  # "topk" (the code) or "prox" (the paper's Eq. 10/11)
    mu: float = 0.6
    alpha: float = 0.9
    beta: float = 0.3
    epochs: int = 100  # BP, KD, each Iter-KD step and each FitNet stage ...
    train_steps: int | None = None  # ... or this many optimiser steps instead, whatever K (a fair budget at K = 1)
    train_batch: int = 64  # images per step of those methods
    cache_teacher: bool = False  # KD, Iter-KD, FitNet: the teacher's outputs computed once, not per batch (exact)
    train_lr: float = 0.01
    kd_T: float = 4.0
    kd_alpha: float = 0.9
    fitnet_block: int | None = None  # guided = hint block; default the middle block
    # Every method's student gets its BatchNorm statistics re-estimated on the K-shot images at the end (the same
    # chance for all; cross distillation's paper closes with a fine-tune for the same reason).
    recalibrate_bn: bool = False
    extra: dict = field(default_factory=dict)  # passed on to cross_distill (augment, views, cross_layers, ...)

    def __post_init__(self):
        for name in ("steps", "epochs"):
            validate.integer(name, getattr(self, name), low=0)
        for name in ("lr", "train_lr", "kd_T"):
            validate.real(name, getattr(self, name), low=0.0, low_open=True)
        for name in ("mu", "alpha", "beta", "kd_alpha"):
            validate.real(name, getattr(self, name), low=0.0, high=1.0)
        for name in ("batch_size", "train_steps", "train_batch", "fitnet_block"):
            if name == "train_batch" or getattr(self, name) is not None:
                validate.integer(name, getattr(self, name), low=0 if name == "fitnet_block" else 1)
        validate.choice("prune_method", self.prune_method, ("topk", "prox"))
        validate.flag("cache_teacher", self.cache_teacher)
        validate.mapping("extra", self.extra, "of cross_distill options (CrossOptions fields)")
        own = {"loss", "mu", "alpha", "beta", "steps", "lr", "batch_size", "method", "prune", "sparsity"}
        for key in self.extra:  # the CrossOptions fields that the settings above do not already set
            validate.choice("a key of extra", key, [f.name for f in dataclasses.fields(cross.CrossOptions)
                                                    if f.name not in own])

    def as_dict(self) -> dict:
        return asdict(self)


def _cross(loss: str) -> Callable:
    def method(teacher: BlockNet, scheme: Scheme, x: Tensor, y: Tensor, seed: int, s: Settings) -> BlockNet:
        blocks = scheme.pruned_blocks(teacher)
        student, info = cross.cross_distill(
            None, teacher, x, loss=loss, mu=s.mu, alpha=s.alpha, beta=s.beta, steps=s.steps, lr=s.lr,
            batch_size=s.batch_size, method=s.prune_method, prune=scheme.kind,
            sparsity={b: scheme.sparsity for b in blocks}, seed=seed, progress=False, **s.extra)
        return student, info["masks"]  # teacher-shaped; compress() shrinks a structured one with the masks
    method.__doc__ = f"Cross distillation with the {loss!r} loss, pruning while it distils (Bai et al., Algorithm 1)."
    return method


def _epochs(s: Settings, n: int) -> int:
    """Epochs for ``n`` images: ``s.epochs``, or enough passes for ``s.train_steps`` steps of ``s.train_batch``."""
    if s.train_steps is None:
        return s.epochs
    return max(1, math.ceil(s.train_steps / math.ceil(n / min(n, s.train_batch))))


def _fit_kw(s: Settings, n: int, seed: int) -> dict:
    """``train.fit``'s budget for the label-using baselines on ``n`` images."""
    return dict(epochs=_epochs(s, n), batch_size=min(n, s.train_batch), lr=s.train_lr, seed=seed, progress=False)


def _distill(student: BlockNet, teacher: BlockNet, x: Tensor, y: Tensor, seed: int, s: Settings) -> None:
    """Hinton KD on the few images; with ``cache_teacher`` the teacher's logits are computed once (no augmentation,
    so the cache describes exactly the images the student sees: the same result, fewer teacher passes)."""
    kw = dict(T=s.kd_T, alpha=s.kd_alpha, **_fit_kw(s, len(x), seed))
    if s.cache_teacher:
        kd.distill_from_logits(student, x, predict(teacher, x), y, **kw)
    else:
        kd.distill(student, teacher, x, y, **kw)


def _conv_names(model: BlockNet, b: int) -> list[str]:
    """The convs of block ``b`` that an unstructured scheme prunes: ``conv`` (VGG) or ``conv1``, ``conv2`` (ResNet)."""
    return [f"blocks.{b}.{c}" for c in ("conv", "conv1", "conv2") if hasattr(model.blocks[b], c)]


def _magnitude_student(teacher: BlockNet, scheme: Scheme, sparsity: float | None = None) -> BlockNet:
    names = {f"{n}.weight" for b in scheme.pruned_blocks(teacher) for n in _conv_names(teacher, b)}
    masks = {n: m for n, m in prune.magnitude_masks(teacher, scheme.sparsity if sparsity is None else sparsity).items()
             if n in names}
    return prune.apply_masks_(trainable_copy(teacher), masks)


def _start(teacher: BlockNet, scheme: Scheme) -> tuple[BlockNet, dict | None]:
    """The data-free student every baseline starts from: L1-norm filters (structured) or magnitude masks."""
    if scheme.kind == "structured":
        student, kept = prune.l1_prune(teacher, scheme.filter_ratios(teacher))
        return trainable_copy(student), kept
    return _magnitude_student(teacher, scheme), None


def _l1(teacher, scheme, x, y, seed, s):
    """Li et al. (2017) / magnitude pruning: no data at all."""
    return _start(teacher, scheme)[0], None


def _l1_bn(teacher, scheme, x, y, seed, s):
    """The data-free student with its BatchNorm statistics re-estimated on the K-shot images (no labels)."""
    return recalibrate_bn_(_start(teacher, scheme)[0], x), None


def _bp(teacher, scheme, x, y, seed, s):
    """Few-shot fine-tuning ("BP"): cross-entropy on the K-shot labels, masks held."""
    student = _start(teacher, scheme)[0]
    fit(student, x, y, **_fit_kw(s, len(x), seed))
    return student, None


def _kd(teacher, scheme, x, y, seed, s):
    """Hinton KD of the pruned student on the K-shot images, ``α·T²·KL + (1 − α)·CE`` (notebook 02)."""
    student = _start(teacher, scheme)[0]
    _distill(student, teacher, x, y, seed, s)
    return student, None


def _iter_kd(teacher, scheme, x, y, seed, s):
    """Yalburgi's (2019) Parent → Child chain in two steps of equal keep ratio, each child the pruned parent, KD each."""
    target = _start(teacher, scheme)[0]  # each of the two steps gets KD's budget
    if scheme.kind == "structured":
        mid_widths = [max(t, min(w, round(w * math.sqrt(t / w)))) for w, t in zip(teacher.widths, target.widths)]
        child = l1_to_widths(teacher, mid_widths)
        _distill(child, teacher, x, y, seed, s)
        parent = copy.deepcopy(child).eval()
        child = l1_to_widths(parent, target.widths)
    else:
        child = _magnitude_student(teacher, scheme, 1 - math.sqrt(1 - scheme.sparsity))
        _distill(child, teacher, x, y, seed, s)
        parent = copy.deepcopy(child).eval()
        masks = {n: m for n, m in prune.magnitude_masks(child, scheme.sparsity).items() if n in prune.get_masks(child)}
        prune.apply_masks_(child, masks)  # intersected with the first step's masks: nothing pruned grows back
    _distill(child, parent, x, y, seed, s)
    return child, None


def _fitnet(teacher, scheme, x, y, seed, s):
    """Two-stage FitNet (Romero et al. 2015): hint on the middle block, then KD (notebook 04)."""
    student = _start(teacher, scheme)[0]
    block = s.fitnet_block if s.fitnet_block is not None else len(teacher.blocks) // 2
    kw = _fit_kw(s, len(x), seed)
    fitnets.fitnet_two_stage(student, teacher, x, y, guided_block=block, hint_block=block, stage1_epochs=kw["epochs"],
                             stage2_epochs=kw["epochs"], lr=s.train_lr, batch_size=kw["batch_size"], seed=seed,
                             cache=s.cache_teacher, progress=False)
    return student, None


def _fskd(teacher, scheme, x, y, seed, s):
    """FSKD (Li et al., CVPR 2020): a 1x1 conv per block solved by least squares on the images, merged (notebook 05)."""
    if scheme.kind != "structured":
        raise ValueError("FSKD applies to structured pruning only: merging its 1x1 conv Q into a sparse conv "
                         "(W' = Q W) fills in the zeros; use a structured scheme")
    student, kept = _start(teacher, scheme)
    if isinstance(teacher.blocks[0], BasicBlock):
        kept = None  # a pruned ResNet keeps every block's output width: FSKD aligns all channels
    return fskd.fskd(student, teacher, x, kept=kept, progress=False), None


def _one_shot(method: str) -> Callable:
    def run(teacher, scheme, x, y, seed, s):
        if scheme.kind != "unstructured":
            raise ValueError(f"{method} prunes single weights (unstructured); use an unstructured scheme")
        student = trainable_copy(teacher)
        layerwise.compress_blocks(student, x.to(next(student.parameters()).device), method.lower(),
                                  scheme.pruned_blocks(teacher), sparsity=scheme.sparsity)
        return student, None
    run.__doc__ = {"Wanda": "Wanda (Sun et al., ICLR 2024): per output row, drop the weights of least |w|·‖x‖ on the "
                            "images; no update, no labels (notebook 08).",
                   "SparseGPT": "SparseGPT (Frantar & Alistarh, ICML 2023): per layer, prune by OBS saliency and "
                                "correct the remaining weights with the images' inverse Gram matrix; no labels "
                                "(notebook 08)."}[method]
    return run


def _mir(teacher, scheme, x, y, seed, s):
    """MiR (Wang et al., CVPR 2022): the pruned backbone mimics the teacher's features before the head (MSE, no
    labels), then the teacher's head replaces the student's (notebook 08)."""
    student = _start(teacher, scheme)[0]
    mir.mimic_then_replace(student, teacher, x, **_fit_kw(s, len(x), seed))
    return student, None


# Each method: (teacher, scheme, x, y, seed, settings) -> (student, cross-distillation masks or None).
METHODS: dict[str, Callable] = {
    "L1-norm": _l1, "L1+BN": _l1_bn, "BP": _bp, "KD": _kd, "Iter-KD": _iter_kd, "FitNet": _fitnet, "FSKD": _fskd,
    "Ours-NC": _cross("nc"), "Ours": _cross("cross"), "Ours-S": _cross("soft"),
    "Wanda": _one_shot("Wanda"), "SparseGPT": _one_shot("SparseGPT"), "MiR": _mir,
}
STRUCTURED_ONLY = ("FSKD",)  # its 1x1 merge would fill in a sparse conv's zeros
UNSTRUCTURED_ONLY = ("Wanda", "SparseGPT")  # they choose single weights


def applicable(method: str, scheme: Scheme) -> bool:
    """Whether ``method`` applies to ``scheme`` (FSKD needs a structured student, Wanda and SparseGPT an
    unstructured one)."""
    validate.choice("method", method, METHODS)
    validate.module("scheme", scheme, Scheme)
    return not ((method in STRUCTURED_ONLY and scheme.kind != "structured")
                or (method in UNSTRUCTURED_ONLY and scheme.kind != "unstructured"))


def compress(method: str, teacher: BlockNet, scheme: Scheme, x: Tensor, y: Tensor, *, seed: int = 0,
             settings: Settings = Settings()) -> BlockNet:
    """The student of ``scheme`` compressed by ``method`` from ``teacher`` with the few images ``(x, y)``, in eval mode.

    The teacher is only read. ``y`` (the K-shot labels) is used by BP, KD, Iter-KD and FitNet; the layer-wise
    methods (FSKD, cross distillation) use the images only.
    """
    return _shrunk(_compress_masked(method, teacher, scheme, x, y, seed, settings), scheme)


def _compress_masked(method, teacher, scheme, x, y, seed, settings) -> tuple[BlockNet, dict | None]:
    """The method's student and, for cross distillation, its masks: teacher-shaped before ``prune.shrink``."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    _check_compress(method, teacher, scheme, x, y, seed, settings)
    teacher.eval()
    student, masks = METHODS[method](teacher, scheme, x, y, seed, settings)
    if settings.recalibrate_bn and method not in ("L1-norm", "L1+BN"):  # L1-norm stays data-free; L1+BN has it
        recalibrate_bn_(student, x.to(next(student.parameters()).device))
        if masks:
            prune.remask_(student, masks)  # a dead channel's statistics stay zero
    return student.eval(), masks


def _shrunk(result: tuple[BlockNet, dict | None], scheme: Scheme) -> BlockNet:
    student, masks = result
    if masks is None or scheme.kind != "structured":
        return student
    return prune.shrink(student, masks).eval()


def run_cell(method: str, teacher: BlockNet, scheme: Scheme, x: Tensor, y: Tensor, x_test: Tensor, y_test: Tensor,
             *, seed: int = 0, settings: Settings = Settings(),
             analyse: Callable[[BlockNet], object] | None = None) -> dict:
    """``compress`` and measure: test accuracy, parameters and FLOPs (non-zero for unstructured), seconds.

    ``cpu_s`` is the CPU time of the calling thread: with one intra-op thread per cell (``grid.run_grid``) it is the
    method's own compute, whatever runs beside it; ``wall_s`` includes waiting for shared cores. ``analyse(student)``,
    if given, is stored under ``"analysis"``; it sees the student before ``prune.shrink`` (teacher-shaped for the
    cross-distillation methods, so ``analysis.layer_errors`` applies).
    """
    validate.module("teacher", teacher, BlockNet)
    validate.images("x_test", x_test, "teacher", teacher)
    validate.labels("y_test", y_test, rows=len(x_test))
    if analyse is not None:
        validate.function("analyse", analyse, "analyse(student) -> a value to store")
    wall, cpu = time.perf_counter(), time.thread_time()
    masked = _compress_masked(method, teacher, scheme, x, y, seed, settings)
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    analysis = analyse(masked[0]) if analyse is not None else None
    student = _shrunk(masked, scheme)
    sparse = scheme.kind == "unstructured"
    size = tuple(x.shape[1:])
    out = {"method": method, "acc": evaluate(student, x_test, y_test),
           "params": count_params(student, nonzero=sparse), "flops": count_flops(student, size, nonzero=sparse),
           "cpu_s": round(cpu, 3), "wall_s": round(wall, 3)}
    if analyse is not None:
        out["analysis"] = analysis
    return out


def _check_compress(method: str, teacher: BlockNet, scheme: Scheme, x: Tensor | None, y: Tensor | None, seed: int,
                    settings: Settings) -> None:
    """``compress``'s arguments, before any method runs (``L1-norm`` uses no data: ``x`` and ``y`` may be None)."""
    validate.module("teacher", teacher, BlockNet)
    validate.module("scheme", scheme, Scheme)
    scheme.pruned_blocks(teacher)  # blocks that fit the teacher
    if x is not None or method != "L1-norm":
        validate.images("x", x, "teacher", teacher)
        if y is not None:
            validate.labels("y", y, rows=len(x), num_classes=getattr(teacher, "config", {}).get("num_classes"))
    validate.integer("seed", seed)
    validate.module("settings", settings, Settings)

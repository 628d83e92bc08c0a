"""Cross distillation (Bai, Wu, King and Lyu, AAAI 2020): layer-wise distillation that crosses the two networks.

Layer-wise distillation trains the student one layer at a time, earlier layers fixed, so that the layer's output
matches the teacher's (Eq. 1). With few samples the student over-fits and its errors pile up from layer to layer.
Cross distillation feeds the *teacher's* features to the student layer (correction, Eq. 2) and the *student's*
features to the teacher layer (imitation, Eq. 3), and mixes the two (Eq. 4) or mixes the features (Eq. 7–8).

This module is Algorithm 1 only; its pieces live with their kind:

* the layer-wise losses (Eq. 1–4, 7–8) in ``losses`` (``nc_loss`` … ``soft_cross_loss``, ``layer_terms``);
* the prox operators (Eq. 9–11), top-k masks, structured masks and ``shrink`` in ``prune``;
* the analysis (ε^T, ε^S of Figures 2–3 and Theorem 1) in ``analysis``.

``cross_distill(student, teacher, x, CrossOptions(...))`` distils (and prunes or quantizes) the student block by
block; each option is also accepted as a keyword (``cross_distill(None, teacher, x, loss="nc", steps=60)``).
Both networks' inputs to the current block are carried forward from the previous block, as FSKD does: one block
pass per block and network, not a recomputation of every earlier block.

How a pruned student layer takes the teacher's features
    The student keeps the teacher's shapes during layer-wise training: a pruned weight or input channel is a zero
    under a mask, never a missing slice. So ``student.blocks[l](h_t)`` is always defined — the masked input
    channels of ``h_t`` simply meet zero weights — and the soft mixtures ``α h_t + (1 − α) h_s`` need no index
    bookkeeping. ``prune.shrink(student, info["masks"])`` removes the dead channels at the end; it computes the
    same function (a test checks it).

Paper versus the authors' public code, and what this module does
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
import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from .progress import bar as tqdm

from . import validate
from .losses import LAYER_LOSSES, layer_objective, layer_terms, mean_sq_norm
from .models import BasicBlock, BlockNet, ConvBlock, block_input, run_blocks
from .prune import alive_channels, block_kind, channel_site, merge_masks, remask_, structured_masks
from .prune.masks import state_tensors, zero_masked_
from .prune.prox import linear_ramp, prox_group_l2_unchecked, prox_l1_unchecked
from .prune.select import group_norms, topk_mask_unchecked
from .quantize import clip_range, quantize_clipped
from .train import eval_mode, recalibrate_bn_, set_seed

__all__ = ["CrossOptions", "augmented_pool", "cross_distill"]


@dataclass(frozen=True)
class CrossOptions:
    """Everything ``cross_distill`` can be asked to do, checked once when the options are made.

    * ``loss``: ``"cross"`` (Eq. 4, ``mu``), ``"soft"`` (Eq. 8, ``alpha``, ``beta``), ``"nc"`` (Eq. 1),
      ``"correction"`` (Eq. 2), ``"imitation"`` (Eq. 3).
    * ``steps``, ``lr``, ``optimizer`` (``"adam"`` or ``"sgd"``): each layer's optimisation (the code: 3000 Adam
      steps at 5e-4). ``batch_size``: images per step, drawn without replacement from the (augmented) set;
      ``None`` uses every image at every step, as the authors' code does with its one cached few-shot batch.
    * ``layers``: blocks to distil, in order (default: all but block 0 for VGG, every block for ResNet).
      ``cross_layers``: the blocks that use ``loss``; the others use the no-cross loss (Table 19's crossing
      points; default: every distilled block crosses).
    * ``prune``: ``"structured"`` (input channels of block l's conv — VGG-50%'s scheme — or a residual block's
      inner channels), ``"unstructured"`` (single weights of the trained convs), or None. ``sparsity``: fraction
      removed per layer (a float, or ``{block: fraction}``). ``method``: ``"prox"`` (Eq. 10/11, λ growing
      linearly to ``lam`` — by default a scale set from the weights, see ``_Budget``) or ``"topk"`` (the code's
      budgeted magnitude mask). Both freeze the kept set, exactly at the target sparsity, at the latest after
      ``ramp`` of the steps (the prox as soon as λ has zeroed the budget), then train the survivors under the
      mask; ``"topk"`` divides the learning rate by 10 there, as the code does.
    * ``quantize``: bits of the trained convs' weights (appendix, Tables 17–18): the regulariser is the
      projection ``quantize.quantize_clipped``, applied lazily as in STE — each step's loss and gradient are taken
      at the projected weights and the step updates the latent full-precision ones; the result is projected.
      Not combined with ``prune`` (run two passes).
    * Table 14: ``augment`` and ``views`` add ``views`` augmented copies of ``x`` (``augmented_pool``);
      ``feature_noise`` adds ``ε ~ N(0, (feature_noise · max h^S)²)`` to the student's features at every step
      (the paper: 0.2).
    * ``recalibrate_bn``: re-estimate the student's BatchNorm statistics on ``x`` after the layer-wise pass.
    * ``finetune_steps``, ``finetune_lr``: full-batch steps on the whole student afterwards (eval mode,
      cross-entropy on ``y`` if given, else squared error to the teacher's logits), masks re-applied every step.
    """

    loss: str = "cross"
    mu: float = 0.6
    alpha: float = 0.9
    beta: float = 0.3
    steps: int = 3000
    lr: float = 5e-4
    optimizer: str = "adam"
    batch_size: int | None = None
    layers: Sequence[int] | None = None
    cross_layers: Sequence[int] | None = None
    prune: str | None = None
    sparsity: float | dict[int, float] = 0.5
    method: str = "prox"
    lam: float | None = None
    ramp: float = 1 / 3
    quantize: int | None = None
    augment: Callable[..., Tensor] | None = None
    views: int = 0
    feature_noise: float = 0.0
    recalibrate_bn: bool = False
    finetune_steps: int = 0
    finetune_lr: float = 1e-4

    def __post_init__(self):
        validate.choice("loss", self.loss, LAYER_LOSSES)
        for name in ("mu", "alpha", "beta", "ramp"):
            validate.real(name, getattr(self, name), low=0.0, high=1.0)
        validate.integer("steps", self.steps, low=0)
        validate.real("lr", self.lr, low=0.0, low_open=True)
        validate.choice("optimizer", self.optimizer, ("adam", "sgd"))
        if self.batch_size is not None:
            validate.integer("batch_size", self.batch_size, low=1)
        validate.choice("prune", self.prune, (None, "structured", "unstructured"))
        if isinstance(self.sparsity, dict):
            for l, r in self.sparsity.items():
                validate.real(f"sparsity[{l}]", r, low=0.0, high=1.0, high_open=True)
        else:
            validate.real("sparsity", self.sparsity, low=0.0, high=1.0, high_open=True)
        validate.choice("method", self.method, ("prox", "topk"))
        if self.lam is not None:
            validate.real("lam", self.lam, low=0.0)
        validate.integer("views", self.views, low=0)
        validate.real("feature_noise", self.feature_noise, low=0.0)
        if self.quantize is not None:
            validate.integer("quantize", self.quantize, low=2)
            if self.prune is not None:
                raise ValueError("quantize and prune in one pass are not supported: prune first, then quantize "
                                 "the result")
        validate.integer("finetune_steps", self.finetune_steps, low=0)
        validate.real("finetune_lr", self.finetune_lr, low=0.0, low_open=True)

    def sparsity_of(self, l: int) -> float:
        """The fraction removed at block ``l``."""
        return self.sparsity.get(l, 0.0) if isinstance(self.sparsity, dict) else float(self.sparsity)

    def loss_of(self, l: int) -> str:
        """The loss block ``l`` is distilled with (``loss`` at a crossing point, the no-cross loss elsewhere)."""
        return self.loss if self.cross_layers is None or l in self.cross_layers else "nc"


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


def cross_distill(student: BlockNet | None, teacher: BlockNet, x: Tensor, options: CrossOptions | None = None, *,
                  masks: dict[str, Tensor] | None = None, y: Tensor | None = None, seed: int = 0,
                  progress: bool = True, **overrides) -> tuple[BlockNet, dict]:
    """Algorithm 1 of Bai et al. (AAAI 2020): distil (and prune or quantize) the student block by block on ``x``.

    ``x``: the few images (N, C, H, W). ``student=None`` starts from a deep copy of ``teacher`` (as the authors'
    code does); a given student must have the teacher's widths (prune it with ``masks`` instead of slicing). The
    teacher is only read. ``options`` (a ``CrossOptions``; keyword ``overrides`` replace its fields) says what to
    do. ``masks``: masks to respect from the start (e.g. an L1-pruned student); the result's are in ``info``.
    ``y``: the labels, for a fine-tune by cross-entropy (``finetune_steps``).

    Returns ``(student, info)`` with the student still masked (teacher-shaped, in eval mode; pass it to
    ``analysis.layer_errors``), and ``info``: ``masks``, ``widths`` (what ``prune.shrink(student, info["masks"])``
    will have), ``loss`` (per-step objective per block), ``layers`` (per block: the loss used, freeze step,
    sparsity the prox reached on its own, λ), ``time`` (seconds). The same ``seed`` gives the same student on the
    CPU.
    """
    options = dataclasses.replace(options or CrossOptions(), **overrides)
    layers = _check(student, teacher, x, options, y, seed)
    start = time.perf_counter()
    set_seed(seed)
    x = x.to(next(teacher.parameters()).device)
    pool = augmented_pool(x, options.augment, options.views, seed)  # the layers' images; x alone for BN, fine-tune
    student = copy.deepcopy(teacher) if student is None else student.to(x.device)
    generator = torch.Generator().manual_seed(seed)  # mini-batches and feature noise
    masks = dict(masks or {})
    info: dict = {"loss": {}, "layers": {}}
    with eval_mode(teacher):
        student.eval()  # BatchNorm uses the (teacher's) running statistics; nothing is re-estimated silently
        remask_(student, masks)
        with torch.no_grad():
            h_s, h_t, at = block_input(student, pool, 0), block_input(teacher, pool, 0), 0
        for l in tqdm(layers, desc="cross distillation", disable=not progress, leave=False):
            with torch.no_grad():  # carry both networks' inputs forward to block l
                h_s, h_t, at = run_blocks(student, h_s, at, l), run_blocks(teacher, h_t, at, l), l
            masks, info["loss"][l], info["layers"][l] = _distill_layer(student, teacher, l, h_s, h_t, masks,
                                                                        options, generator)
        for p in student.parameters():
            p.requires_grad_(True)
        if options.recalibrate_bn:
            recalibrate_bn_(student, x)
            remask_(student, masks)
        if options.finetune_steps > 0:
            _finetune_(student, teacher, x, y, masks, options)
    student.eval()
    info["masks"] = masks
    info["widths"] = [int(alive_channels(student, masks, j).sum()) for j in range(len(student.blocks))]
    info["time"] = time.perf_counter() - start
    return student, info


def _check(student, teacher, x, options: CrossOptions, y, seed) -> list[int]:
    """The arguments ``CrossOptions`` cannot check alone (they need the teacher); returns the blocks to distil."""
    validate.module("teacher", teacher, BlockNet)
    if student is not None:
        validate.module("student", student, BlockNet)
        if student.widths != teacher.widths or len(student.blocks) != len(teacher.blocks):
            raise ValueError(f"the student must keep the teacher's widths during layer-wise training (got "
                             f"{student.widths} vs {teacher.widths}); express pruning with masks")
    validate.images("x", x, "teacher", teacher)
    if y is not None:
        validate.labels("y", y, rows=len(x), num_classes=getattr(teacher, "config", {}).get("num_classes"))
    validate.integer("seed", seed)
    try:
        kind = block_kind(teacher)
    except TypeError:
        raise ValueError("cross distillation handles networks of ConvBlocks (VGG, SmallCNN) or BasicBlocks "
                         "(ResNetCIFAR)") from None
    if isinstance(options.sparsity, dict):
        validate.indices("sparsity's blocks", list(options.sparsity), len(teacher.blocks))
    for name in ("layers", "cross_layers"):  # lists of block indices; their range is checked below
        for i, l in enumerate(validate.sequence(name, getattr(options, name) or [], "block indices")):
            validate.integer(f"{name}[{i}]", l)
    layers = list(range(1 if kind == "conv" else 0, len(teacher.blocks)) if options.layers is None
                  else options.layers)
    if any(not 0 <= l < len(teacher.blocks) for l in layers + list(options.cross_layers or [])):
        raise ValueError(f"layers and cross_layers index blocks 0..{len(teacher.blocks) - 1}")
    if layers != sorted(set(layers)):
        raise ValueError(f"layers must be distinct blocks in increasing order (Algorithm 1 goes from the input to "
                         f"the output), got {layers}")
    return layers


def _trained(model: BlockNet, l: int) -> list[str]:
    """Names of the weights optimised when block ``l`` is distilled (its conv weights; BN keeps the teacher's)."""
    if isinstance(model.blocks[l], BasicBlock):
        return [f"blocks.{l}.conv1.weight", f"blocks.{l}.conv2.weight"]
    return [f"blocks.{l}.conv.weight"]


def _make_optimizer(params: list[Tensor], name: str, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def _batches(n: int, batch_size: int | None, generator: torch.Generator) -> Iterator[Tensor | None]:
    """Each step's mini-batch: slices of fresh permutations, every image once per pass; ``None``: the whole set."""
    if batch_size is None or batch_size >= n:
        while True:
            yield None
    while True:
        order = torch.randperm(n, generator=generator)
        for i in range(0, n - batch_size + 1, batch_size):
            yield order[i:i + batch_size]


def _distill_layer(student: BlockNet, teacher: BlockNet, l: int, h_s: Tensor, h_t: Tensor, masks: dict[str, Tensor],
                   o: CrossOptions, generator: torch.Generator) -> tuple[dict, list[float], dict]:
    """Algorithm 1's inner loop for block ``l`` (inputs ``h_s``, ``h_t``); returns ``(masks, losses, layer info)``."""
    s_block, t_block, loss = student.blocks[l], teacher.blocks[l], o.loss_of(l)
    # Earlier blocks are fixed, so every target can be computed once; only feature noise (fresh every step,
    # and seen by the teacher layer in imitation) needs the teacher layer inside the loop.
    fixed = None if o.feature_noise > 0 else layer_terms(t_block, h_s, h_t, loss, o.mu, o.alpha, o.beta)
    batches = _batches(len(h_s), o.batch_size, generator)
    state = state_tensors(student)
    names = _trained(student, l)
    for p in student.parameters():
        p.requires_grad_(False)
    params = [state[n].requires_grad_(True) for n in names]
    opt = _make_optimizer(params, o.optimizer, o.lr)
    # the quantization grid Q: fixed from the layer's starting weights, so that each step projects onto one set
    bounds = [clip_range(w) for w in params] if o.quantize is not None else []
    budget = _Budget(student, l, state, o)
    history = []
    for t in range(1, o.steps + 1):
        idx = next(batches)
        if fixed is not None:
            terms = fixed if idx is None else [(w, inp[idx], tgt[idx]) for w, inp, tgt in fixed]
        else:  # Table 14's "Gauss.": ε ~ N(0, (feature_noise · max h^S)²) on the student's features, per step
            hs = h_s if idx is None else h_s[idx]
            hs = hs + o.feature_noise * hs.amax() * torch.randn(hs.shape, generator=generator).to(hs)
            terms = layer_terms(t_block, hs, h_t if idx is None else h_t[idx], loss, o.mu, o.alpha, o.beta)
        # only the trained weights change inside this loop; every other masked entry was zeroed when its mask was set
        history.append(_step(s_block, terms, params, bounds, o.quantize, state,
                             {n: m for n, m in budget.masks(masks).items() if n in names}, opt))
        with torch.no_grad():
            masks = budget.update(t, masks, opt)
            zero_masked_(state, {n: m for n, m in budget.masks(masks).items() if n in names}, opt)
    if o.quantize is not None:  # the result lies on the grid
        with torch.no_grad():
            for w, b in zip(params, bounds):
                w.copy_(quantize_clipped(w, o.quantize, amax=b))
        budget.info["bits"] = o.quantize
    return masks, torch.stack(history).tolist() if history else [], budget.info


def _step(s_block: nn.Module, terms: list, params: list[Tensor], bounds: list, bits: int | None,
          state: dict[str, Tensor], active: dict[str, Tensor], opt: torch.optim.Optimizer) -> Tensor:
    """One optimiser step on the layer objective (at the projected weights when quantizing); returns the objective."""
    if bits is not None:  # lazy projection (STE): the loss and its gradient at Π_Q(W), the step on latent W
        latent = [w.detach().clone() for w in params]
        with torch.no_grad():
            for w, b in zip(params, bounds):
                w.copy_(quantize_clipped(w, bits, amax=b))
    objective = layer_objective(s_block, terms)
    opt.zero_grad(set_to_none=True)
    objective.backward()
    if bits is not None:
        with torch.no_grad():
            for w, w_latent in zip(params, latent):
                w.copy_(w_latent)
    zero_masked_(state, active, opt)
    opt.step()
    return objective.detach()


class _Budget:
    """Which weights of block ``l`` are pruned, step by step, until the kept set freezes at the target sparsity.

    The prox's threshold λ is per step (the paper's ηλ). Default ``λ_max = 2(q/R + lr√m)``: the first term alone
    would zero the target fraction of the initial weights by the end of the ramp (``Σ_t λ_t ≈ q``, q the target
    quantile of the group norms, R the ramp's steps); the second outgrows the largest push-back an Adam step gives
    a group of m weights (≈ lr√m), so the prox gets there.
    """

    def __init__(self, student: BlockNet, l: int, state: dict[str, Tensor], o: CrossOptions):
        self.student, self.l, self.state, self.o = student, l, state, o
        sparsity = o.sparsity_of(l)
        self.targets = _prune_targets(student, l, o.prune) if sparsity > 0 else []
        self.ramp_steps = max(1, round(o.ramp * o.steps))
        self.units = {n: (state[n].shape[d] if d is not None else state[n].numel()) for n, d in self.targets}
        # kept units: Python's round, as topk_mask (see there)
        self.n_keep = {n: max(1 if d is not None else 0, round((1 - sparsity) * self.units[n])) for n, d in self.targets}
        self.lam_max = {n: self._lam_max(n, d) for n, d in self.targets} if o.method == "prox" else {}
        self.current: dict[str, Tensor] = {}  # this layer's masks while the budget still moves
        self.frozen = not self.targets
        self.info = {"freeze_step": 0 if self.frozen else None, "prox_sparsity": {}, "lam": dict(self.lam_max),
                     "loss": o.loss_of(l)}

    def _lam_max(self, n: str, d: int | None) -> float:
        w = self.state[n].detach()
        scores = group_norms(w, d) if d is not None else w.abs().flatten()
        n_remove = self.units[n] - self.n_keep[n]
        q = scores.kthvalue(n_remove).values.item() if n_remove > 0 else 0.0
        group = self.state[n].numel() // self.units[n]
        return self.o.lam if self.o.lam is not None else 2 * (q / self.ramp_steps + self.o.lr * math.sqrt(group))

    def masks(self, masks: dict[str, Tensor]) -> dict[str, Tensor]:
        """``masks`` with this layer's moving cut added."""
        return merge_masks(masks, self.current)

    def _keep(self, n: str, d: int | None, fraction: float) -> Tensor:
        return topk_mask_unchecked(self.state[n], fraction, structured=d is not None, dim=d or 0)

    def update(self, t: int, masks: dict[str, Tensor], opt: torch.optim.Optimizer) -> dict[str, Tensor]:
        """After step ``t``: move the cut (top-k budget or prox), and freeze it at the target; returns the masks."""
        if self.frozen:
            return masks
        freeze = t >= self.ramp_steps
        for n, d in self.targets:
            if self.o.method == "topk":
                removed = linear_ramp(t, self.ramp_steps, 1 - self.n_keep[n] / self.units[n])
                self.current[n] = self._keep(n, d, 1 - removed)
                continue
            lam_t = linear_ramp(t, self.ramp_steps, self.lam_max[n])
            w = self.state[n]
            w_prox = prox_l1_unchecked(w, lam_t) if d is None else prox_group_l2_unchecked(w, lam_t, dim=d)
            zeros = (w_prox == 0).flatten() if d is None else group_norms(w_prox, d) == 0
            if int(zeros.sum()) >= self.units[n] - self.n_keep[n]:
                freeze = True
            if freeze:  # cut exactly at the budget: the prox's own ranking (it zeroes smallest first)
                self.info["prox_sparsity"][n] = float(zeros.float().mean())  # what λ alone had removed
                self.current[n] = self._keep(n, d, self.n_keep[n] / self.units[n])
            else:
                w.copy_(w_prox)
        return self._freeze(t, masks, opt) if freeze else masks

    def _freeze(self, t: int, masks: dict[str, Tensor], opt: torch.optim.Optimizer) -> dict[str, Tensor]:
        for n, d in self.targets:
            if n not in self.current:  # prox: another target triggered the freeze first
                self.current[n] = self._keep(n, d, self.n_keep[n] / self.units[n])
        self.frozen, self.info["freeze_step"] = True, t
        current = self.current
        for n, d in self.targets:
            if d is not None:  # also kill the producer of the removed channels (and its BN)
                keep = current.pop(n).movedim(d, 0).reshape(self.units[n], -1).any(1)
                current = merge_masks(current, structured_masks(self.student, self.l, keep))
        masks = merge_masks(masks, current)
        self.current = {}
        if self.o.method == "topk":  # the authors' code: mask frozen, learning rate divided by 10
            for group in opt.param_groups:
                group["lr"] = self.o.lr / 10
        # the prox keeps its rate: every survivor was shrunk by Σ λ_t (the lasso's bias) and must regrow
        zero_masked_(self.state, masks, opt)  # the new producer masks (block l−1's filters, BN) included
        return masks


def _prune_targets(model: BlockNet, l: int, prune: str | None) -> list[tuple[str, int | None]]:
    """``[(weight name, group dim or None)]`` pruned at block ``l``: input channels (dim 1) or single weights."""
    if prune is None:
        return []
    if prune == "structured":
        if isinstance(model.blocks[l], ConvBlock) and l == 0:
            return []  # block 0's input channels are the image's
        return [(channel_site(model, l)[0], 1)]
    return [(name, None) for name in _trained(model, l)]


def _finetune_(student: BlockNet, teacher: BlockNet, x: Tensor, y: Tensor | None, masks: dict[str, Tensor],
               o: CrossOptions) -> None:
    """A short full-batch fine-tune in eval mode that re-applies the masks after every step (the code forgot to)."""
    with torch.no_grad():
        target = teacher(x) if y is None else y.to(x.device)
    opt = _make_optimizer([p for p in student.parameters() if p.requires_grad], o.optimizer, o.finetune_lr)
    student.eval()  # ten images would wreck BatchNorm's statistics in train mode
    for _ in range(o.finetune_steps):
        logits = student(x)
        objective = F.cross_entropy(logits, target) if y is not None else mean_sq_norm(target, logits)
        opt.zero_grad(set_to_none=True)
        objective.backward()
        remask_(student, masks, opt)
        opt.step()
        remask_(student, masks, opt)

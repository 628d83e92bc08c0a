"""Iterative knowledge distillation (Yalburgi 2019, unpublished manuscript): compress step by step.

A parent teaches a smaller child, the child becomes the next parent, and the chain stops when the accuracy drop
from the original teacher exceeds a tolerance. The manuscript's four variants (§3.2) are one function,
``iterative_distill``:

* Parent → Child:         ``children=1, ancestors=1``: a chain;
* Parent → Children:      ``children=n`` (different seeds, or a list of architectures per generation), keeping the
  best child (``keep="best"``) or growing a tree in which every accepted child teaches its own children
  (``keep="all"``);
* Ancestors → Child:      ``ancestors=m``: the last ``m`` models of the lineage (the parent, the grandparent, ...)
  teach together, as an ``Ensemble`` that averages their softened *probabilities*;
* Ancestors → Children:   both.

Loss (Yalburgi 2019, §4.3 and abstract): ``KL(parent ‖ child) + CE(y, ŷ)`` — Hinton's loss through
``losses.kd_loss``, here ``alpha·T²·KL + (1 − alpha)·CE``. With ``alpha = 0.5`` and ``T = 4`` the coefficients are
8 on the KL and 0.5 on the CE (16 : 1); the manuscript's plain sum weighs them 1 : 1 and names no temperature. The
``T²`` is Hinton's: it keeps the soft term's gradient from shrinking as ``1/T²``. Plus the abstract's optional
third term, a hint ``hint_weight · MSE(regressor(child block j), parent block j)`` (``fitnets.Hint``, read with
``models.block_io`` inside the loss).

Every parent is deep-copied and frozen before it teaches; no child is ever the same object as a parent. Without
augmentation or hint the parents' logits on the training set are computed once per parent and reused by every
child and every epoch (``Generation.logits``): exact, because the student sees the very images the logits
describe.

Held-out images come as two halves (``crossfit.split``) and every generation is measured on both. A run's own
choices (the stopping rule, the best child) look at one half (``select_on``); ``cross_fit`` makes each choice on
one half and reports it on the other, so that every held-out image is reported once, by a model chosen without it.

Why average probabilities, not logits? ``mean_k softmax(z_k/T)`` is a mixture: each parent's belief counts with
weight ``1/m``. ``softmax(mean_k z_k / T)`` is the normalised *geometric* mean: a class any one parent rules out is
suppressed, and the mass moves to classes every parent finds plausible — possibly one neither ranks first.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence, Sized

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from .progress import bar as tqdm

from . import crossfit, validate
from .fitnets import Hint
from .kd import check_teacher, distill, distill_from_logits
from .models import BlockNet, count_flops, count_params
from .train import fit, freeze, predict

EVAL_BATCH = 256  # evaluation batch: on a CPU, batches of 256 run about twice as fast as 1000
Halves = Sequence[tuple[Tensor, Tensor]]  # two held-out (x, y) pairs: crossfit.split's result

__all__ = ["ensemble_logits", "Ensemble", "Generation", "make_root", "teach", "iterative_distill", "equal_budget",
           "best_path", "stopping_point", "cross_fit", "generation_table"]


def ensemble_logits(logits: Sequence[Tensor], T: float) -> Tensor:
    """``T·log(mean_k softmax(z_k / T))`` for ``m`` tensors ``(B, classes)``; its softmax at ``T`` is their mean.

    Computed as ``T·(logsumexp_k log_softmax(z_k/T) − log m)``, which never takes the log of an underflowed zero.
    """
    validate.sequence("logits", logits, "(batch, classes) logit tensors, one per parent", min_len=1)
    for k, z in enumerate(logits):
        validate.tensor(f"logits[{k}]", z, ndim=2, kind="float", non_empty=False)
        validate.same_shape(f"logits[{k}]", z, "logits[0]", logits[0])
    validate.real("T", T, low=0.0, low_open=True)
    return _mixture(logits, T)


def _mixture(logits: Sequence[Tensor], T: float) -> Tensor:
    """``ensemble_logits`` without the argument checks (``Ensemble.forward``, at every training step)."""
    log_p = torch.stack([F.log_softmax(z / T, dim=1) for z in logits])  # (m, B, classes)
    return T * (torch.logsumexp(log_p, dim=0) - math.log(len(logits)))


class Ensemble(nn.Module):
    """Several frozen parents as one teacher whose temperature-``T`` softmax is the mean of their probabilities.

    ``forward(x)`` returns ``ensemble_logits([p(x) for p in parents], T)``: feed it to ``kd_loss`` with the same
    ``T``. With ``T = 1`` it is the ordinary probability-averaging ensemble classifier.
    """

    def __init__(self, parents: Sequence[nn.Module], T: float = 1.0):
        super().__init__()
        _check_parents(parents)
        validate.real("T", T, low=0.0, low_open=True)
        self.parents = nn.ModuleList(parents)
        self.T = float(T)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, classes)
        return _mixture([p(x) for p in self.parents], self.T)


@dataclass
class Generation:
    """One model of the lineage: the original teacher is generation 0 (``depth`` 0, no parents)."""

    name: str
    model: BlockNet
    depth: int
    parents: list[str]
    accs: tuple[float, float]  # accuracy on each held-out half
    sizes: tuple[int, int]  # images in each held-out half
    params: int
    flops: int
    accepted: bool = True
    seconds: float = 0.0  # training time
    history: dict = field(default_factory=dict, repr=False)
    logits: Tensor | None = field(default=None, repr=False)  # on the training set, once it has taught

    @property
    def widths(self) -> list[int]:
        return self.model.widths

    @property
    def acc(self) -> float:
        """Accuracy on both held-out halves together (every held-out image): for reports that choose nothing."""
        return crossfit.pooled(self.accs, self.sizes)


def _frozen_copy(model: nn.Module) -> nn.Module:
    return freeze(copy.deepcopy(model))


def _measure(name: str, model: BlockNet, depth: int, parents: list[str], x: Tensor, halves: Halves) -> Generation:
    sizes = (len(halves[0][1]), len(halves[1][1]))
    return Generation(name, model, depth, parents, crossfit.accuracies(model, halves, EVAL_BATCH), sizes,
                      count_params(model), count_flops(model, tuple(x.shape[1:])))


def make_root(teacher: BlockNet, x: Tensor, halves: Halves) -> Generation:
    """Generation 0: a frozen copy of ``teacher``, measured on both held-out ``halves``, its logits on ``x`` cached.

    Build it once and pass it to several ``iterative_distill`` calls on the same ``x``: the teacher's forward
    passes are then paid once.
    """
    validate.module("teacher", teacher, BlockNet)
    validate.images("x", x, "teacher", teacher)
    crossfit.check_halves(halves, ndim=4)
    root = _measure("G0", _frozen_copy(teacher), 0, [], x, halves)
    root.logits = predict(root.model, x, batch_size=EVAL_BATCH)
    return root


def teach(parents: Sequence[nn.Module], build_child: Callable[[], BlockNet], x: Tensor, y: Tensor, *,
          T: float = 4.0, alpha: float = 0.5, epochs: int = 5, seed: int = 0, hint_block: int | None = None,
          hint_weight: float = 1.0, parent_logits: Sequence[Tensor] | None = None,
          **fit_kwargs) -> tuple[BlockNet, dict]:
    """A new child trained by its parents with ``alpha·T²·KL + (1 − alpha)·CE`` (+ hint): ``(child, history)``.

    ``x``: ``(N, C, H, W)``, ``y``: ``(N,)``. Parents are deep-copied and frozen first, so training can never change
    them and the child can never alias one. With several parents the soft target is the average of their
    temperature-``T`` probabilities (``ensemble_logits``). ``parent_logits`` (one ``(N, classes)`` tensor per parent,
    on ``x``) skips the parents' forward passes; it is used only without ``augment`` and hint, and computed here
    otherwise. ``hint_block`` (e.g. ``-1``, the last block) adds ``hint_weight · MSE`` with a trainable 1x1
    regressor; it needs one parent whose block has the child's spatial size. Other keyword arguments go to
    ``train.fit`` (``lr``, ``batch_size``, ``val``, ``progress``...).
    """
    _check_teach(parents, build_child, x, y, T, alpha, epochs, seed, hint_weight, parent_logits)
    originals = list(parents)
    parents = [_frozen_copy(p) for p in originals]
    torch.manual_seed(seed)
    child = build_child()
    _check_child(child, parents, hint_block)
    if any(child is p for p in originals):
        raise ValueError("build_child returned a parent: a child must be a new network")
    teacher = parents[0] if len(parents) == 1 else Ensemble(parents, T)
    check_teacher(child, teacher)
    if hint_block is None and not fit_kwargs.get("augment"):
        if parent_logits is None:
            parent_logits = [predict(p, x, batch_size=EVAL_BATCH) for p in parents]
        if len(parent_logits) != len(parents):
            raise ValueError(f"parent_logits must hold one tensor per parent ({len(parents)}), got "
                             f"{len(parent_logits)}")
        target = parent_logits[0] if len(parent_logits) == 1 else ensemble_logits(parent_logits, T)
        history = distill_from_logits(child, x, target, y, T=T, alpha=alpha, epochs=epochs, seed=seed,
                                      **fit_kwargs)
        return child, history
    hint = None
    if hint_block is not None:
        if len(parents) != 1:
            raise ValueError("the hint term needs a single parent (its features are the hint)")
        # A 1x1 regressor to the parent's channels, initialised from the global RNG right after the child. (No ReLU
        # although the parent's block output is post-ReLU: kept as the course's results were made.)
        hint = Hint.build(child, parents[0], x, hint_block, hint_block, weight=hint_weight, relu=False)
        if hint.regressor.conv.kernel_size != (1, 1):
            raise ValueError(f"hint block {hint_block}: child and parent feature maps differ in size; the hint "
                             "needs a block where both have the same spatial size")
    history = distill(child, teacher, x, y, T=T, alpha=alpha, epochs=epochs, seed=seed, hint=hint, **fit_kwargs)
    return child, history


def iterative_distill(teacher: BlockNet | Generation,
                      builders: Sequence[Callable[[], BlockNet] | Sequence[Callable[[], BlockNet]]],
                      x: Tensor, y: Tensor, halves: Halves, *, tolerance: float = 0.01, children: int = 1,
                      keep: str = "best", ancestors: int = 1, select_on: int = 0, seed: int = 0,
                      progress: bool = True, **teach_kwargs) -> list[Generation]:
    """Distil generation by generation until the drop from the teacher's held-out accuracy exceeds ``tolerance``.

    ``teacher``: the original network, or ``make_root(...)``'s generation 0 (its cached logits are reused).
    ``builders[g]`` builds generation ``g + 1``'s child, or is a list of builders (children of different
    architectures). Each builder is trained ``children`` times with different seeds. Every model is measured on
    both held-out ``halves``; the stopping rule and the best child look at half ``select_on`` only (``cross_fit``
    reports such choices on the other half). ``ancestors=m``: the last ``m`` models of a child's lineage teach it
    together. Returns every model trained, generation 0 first; a child whose drop exceeds ``tolerance`` is returned
    with ``accepted=False`` and teaches no one; the run stops at the first generation with no accepted child.
    Other keyword arguments go to ``teach`` (``epochs``, ``T``, ``alpha``, ``hint_block``, ``lr``...).
    """
    _check_iterative(teacher, builders, x, y, halves, tolerance, children, keep, ancestors, select_on, seed)
    if isinstance(teacher, Generation):
        root = teacher
        if (root.depth != 0 or root.logits is None or len(root.logits) != len(x)
                or root.sizes != (len(halves[0][1]), len(halves[1][1]))):
            raise ValueError("pass make_root(teacher, x, halves) built on this very x and halves, or the teacher")
    else:
        root = make_root(teacher, x, halves)
    lineage = {root.name: [root]}  # name -> [its ancestors ..., itself]
    frontier, out = [root], [root]
    bar = tqdm(total=len(builders), desc="generations", disable=not progress, leave=False)
    for depth, spec in enumerate(builders, start=1):
        options = list(spec) if isinstance(spec, (list, tuple)) else [spec]
        per_parent = len(options) * children
        accepted_here = []
        for parent in frontier:
            teachers = lineage[parent.name][-ancestors:]
            for g in teachers:
                if g.logits is None:
                    g.logits = predict(g.model, x, batch_size=EVAL_BATCH)  # once per parent, for all its children
            candidates = []
            for a, build in enumerate(options):
                for c in range(children):
                    name = (f"G{depth}" if per_parent == 1 and len(frontier) == 1
                            else f"{parent.name if parent.depth else 'G1'}.{len(candidates) + 1}")
                    gen = _child(name, teachers, build, depth, x, y, halves,
                                 seed=seed + 1000 * depth + 100 * a + c, **teach_kwargs)
                    gen.accepted = root.accs[select_on] - gen.accs[select_on] <= tolerance
                    lineage[name] = lineage[parent.name] + [gen]
                    candidates.append(gen)
            out.extend(candidates)
            good = [g for g in candidates if g.accepted]
            if keep == "best" and good:
                good = [max(good, key=lambda g: g.accs[select_on])]
            accepted_here.extend(good)
        bar.update(1)
        if not accepted_here:
            break  # every child dropped more than the tolerance: the chain stops here
        frontier = accepted_here
    bar.close()
    return out


def _child(name: str, teachers: list[Generation], build: Callable[[], BlockNet], depth: int, x: Tensor, y: Tensor,
           halves: Halves, *, seed: int, **teach_kwargs) -> Generation:
    """One child taught by ``teachers`` (their cached logits reused), frozen and measured."""
    start = time.perf_counter()
    child, history = teach([g.model for g in teachers], build, x, y, seed=seed,
                           parent_logits=[g.logits for g in teachers], progress=False, **teach_kwargs)
    seconds = time.perf_counter() - start
    gen = _measure(name, freeze(child), depth, [g.name for g in teachers], x, halves)
    gen.history, gen.seconds = history, seconds
    return gen


def equal_budget(root: Generation, builders: Sequence[Callable[[], BlockNet]], x: Tensor, y: Tensor,
                 halves: Halves, *, epochs: int, seed: int = 0, T: float = 4.0, alpha: float = 0.5,
                 chain: Sequence[Generation] | None = None, **fit_kwargs) -> dict:
    """One seed of chain vs direct KD vs scratch, each with ``epochs`` epochs on the final architecture.

    The chain runs ``builders`` (``epochs`` per generation, as ``iterative_distill``); its final child, ``builders[-1]``
    distilled from the teacher (``root``) alone, and ``builders[-1]`` trained on the labels alone (cross-entropy)
    start from the same initial weights and see the same batches (the chain child's seed), so they differ only in
    their target. The chain's generations 1 … D−1 are extra cost (``ancestor_epochs``, ``ancestor_seconds``).
    ``chain``: a plain chain already run with this ``seed`` and these settings (its first D generations are reused).
    Nothing is chosen, so accuracies in [0, 1] are on both held-out halves together (``Generation.acc``):
    ``chain``, ``direct``, ``scratch``, ``by_depth`` (generations 0 … D), ``parent_acc`` (each student's teacher);
    also training seconds, and ``agreement``: how often a student's top class is its teacher's on the training set.
    """
    depth = len(validate.sequence("builders", builders, "builders, one per generation", min_len=1))
    validate.integer("epochs", epochs, low=1)
    validate.integer("seed", seed)
    if chain is None:
        chain = iterative_distill(root, builders, x, y, halves, tolerance=math.inf, seed=seed, progress=False,
                                  epochs=epochs, T=T, alpha=alpha, **fit_kwargs)
    _check_generations(chain)
    if len(chain) <= depth or [g.depth for g in chain[:depth + 1]] != list(range(depth + 1)):
        raise ValueError(f"chain must be a plain Parent → Child chain of at least {depth} generations")
    parent, final = chain[depth - 1], chain[depth]
    child_seed = seed + 1000 * depth  # iterative_distill's seed for the chain's final child
    start = time.perf_counter()
    direct, _ = teach([root.model], builders[-1], x, y, seed=child_seed, parent_logits=[root.logits], epochs=epochs,
                      T=T, alpha=alpha, progress=False, **fit_kwargs)
    direct_seconds = time.perf_counter() - start
    start = time.perf_counter()
    torch.manual_seed(child_seed)  # the very initial weights teach() gave the other two
    scratch = builders[-1]()
    fit(scratch, x, y, epochs=epochs, seed=child_seed, progress=False, **fit_kwargs)
    scratch_seconds = time.perf_counter() - start
    agree = lambda model, teacher: (predict(model, x, batch_size=EVAL_BATCH).argmax(1)
                                    == teacher.logits.argmax(1)).float().mean().item()
    held_out = lambda model: crossfit.pooled(crossfit.accuracies(model, halves, EVAL_BATCH), root.sizes)
    return {"chain": final.acc, "direct": held_out(direct), "scratch": held_out(scratch),
            "by_depth": [g.acc for g in chain[:depth + 1]],
            "chain_seconds": final.seconds, "direct_seconds": direct_seconds, "scratch_seconds": scratch_seconds,
            "ancestor_epochs": (depth - 1) * epochs, "ancestor_seconds": sum(g.seconds for g in chain[1:depth]),
            "parent_acc": {"chain": parent.acc, "direct": root.acc},
            "agreement": {"chain": agree(final.model, parent), "direct": agree(direct, root)}}


def best_path(generations: Sequence[Generation], on: int = 0) -> list[Generation]:
    """The ``keep="best"`` lineage: generation 0, then at every depth the child most accurate on half ``on``."""
    _check_generations(generations)
    validate.choice("on", on, (0, 1))
    depths = sorted({g.depth for g in generations})
    return [max((g for g in generations if g.depth == d), key=lambda g: g.accs[on]) for d in depths]


def stopping_point(generations: Sequence[Generation], tolerance: float, on: int = 0) -> int:
    """Depth of the last generation a ``keep="best"`` run with this ``tolerance`` keeps (0: no child is kept).

    The run looks at held-out half ``on`` (its ``select_on``). Exact for the output of a ``keep="best"`` run with
    any larger tolerance on the same seeds: a run with a smaller tolerance trains the very same children (the
    seeds do not depend on it) and stops at the first depth whose best child drops more than ``tolerance`` below
    generation 0's accuracy on that half.
    """
    validate.real("tolerance", tolerance, allow_inf=True)
    path = best_path(generations, on)
    last = 0
    for g in path[1:]:
        if path[0].accs[on] - g.accs[on] > tolerance:
            break
        last = g.depth
    return last


def cross_fit(runs: Sequence[Generation] | Sequence[Sequence[Generation]],
              tolerance: float = math.inf) -> crossfit.CrossFit[Generation]:
    """The generation a ``keep="best"`` run keeps, chosen on each held-out half and reported on the other.

    ``runs``: one run (``iterative_distill``'s result) whose training did not depend on the half it looked at (one
    child per generation, or ``keep="all"``, and an infinite tolerance), or a pair of runs, ``runs[k]`` made with
    ``select_on=k``. ``chosen[k]`` is ``best_path(runs[k], k)[stopping_point(runs[k], tolerance, k)]``: with the
    default infinite tolerance, the child of the last generation most accurate on half ``k``. ``.acc`` scores
    every held-out image once, by the choice made on the other half (``crossfit.CrossFit``).
    """
    validate.sequence("runs", runs, "Generations (one run) or two runs", min_len=1)
    pair = [runs, runs] if isinstance(runs[0], Generation) else list(runs)
    if len(pair) != 2:
        raise ValueError(f"runs must be one run or two (made with select_on=0 and 1), got {len(pair)}")
    for run in pair:
        _check_generations(run)
    choose = lambda k: best_path(pair[k], k)[stopping_point(pair[k], tolerance, k)]
    return crossfit.cross_fit(choose, lambda g: g.accs, pair[0][0].sizes)


def _kept(generations: Sequence[Generation], tolerance: float, on: int) -> dict[int, str]:
    """What a ``keep="best"`` run with ``tolerance``, looking at half ``on``, does with each generation."""
    stop = stopping_point(generations, tolerance, on)
    on_path = {id(g) for g in best_path(generations, on)}
    return {id(g): "kept" if g.depth <= stop and id(g) in on_path else "rejected" if g.depth == stop + 1
            else "not trained" if g.depth > stop + 1 else "not best" for g in generations}


def generation_table(generations: Sequence[Generation], tolerance: float | None = None) -> list[dict]:
    """One row per generation (for ``plots.show_table``): size, memory saved, accuracy on each half and on both.

    ``kept``: with a ``tolerance``, what a ``keep="best"`` run with that tolerance does with each generation when
    it looks at half 0, and when it looks at half 1 — "kept" up to ``stopping_point``, "rejected" for the child it
    trains and drops (its drop exceeds the tolerance), "not trained" beyond, "not best" for a sibling of the kept
    child; without one, each generation's own ``accepted`` flag (set by the run's tolerance).
    """
    _check_generations(generations)
    root = next(g for g in generations if g.depth == 0)
    if tolerance is None:
        kept = {id(g): "yes" if g.accepted else "no" for g in generations}
    else:
        marks = [_kept(generations, tolerance, k) for k in (0, 1)]
        kept = {id(g): f"{marks[0][id(g)]} / {marks[1][id(g)]}" for g in generations}
    drop = lambda g, k: f"{100 * (root.accs[k] - g.accs[k]):+.2f}"
    return [{"generation": g.name, "taught by": " + ".join(g.parents) or "—",
             "widths": ",".join(str(w) for w in g.widths), "params": g.params,
             "memory saved": f"{100 * (1 - g.params / root.params):.1f} %", "FLOPs (M)": f"{g.flops / 1e6:.2f}",
             "acc half 0": f"{100 * g.accs[0]:.2f} %", "acc half 1": f"{100 * g.accs[1]:.2f} %",
             "acc both": f"{100 * g.acc:.2f} %", "drop half 0 / 1": f"{drop(g, 0)} / {drop(g, 1)}",
             "kept" if tolerance is None else "kept (rule on half 0 / 1)": kept[id(g)]}
            for g in generations]


def _check_parents(parents: Sequence[nn.Module]) -> None:
    """A list of networks; a generator of them is taken as it comes (its items are read once, by the caller)."""
    validate.sequence("parents", parents, "networks (one or more teachers)", min_len=1, iterators=True)
    for k, p in enumerate(parents if isinstance(parents, Sized) else []):
        validate.module(f"parents[{k}]", p, nn.Module)


def _check_teach(parents, build_child, x, y, T, alpha, epochs, seed, hint_weight, parent_logits) -> None:
    """``teach``'s arguments, before any parent is copied or run (``fit`` checks its own keyword arguments)."""
    _check_parents(parents)
    validate.function("build_child", build_child, "build_child() -> a new network (e.g. lambda: VGG(...))")
    if isinstance(parents, Sized):
        validate.images("x", x, "parents[0]", parents[0])
    else:
        validate.tensor("x", x, ndim=4, kind="float")
    if y is not None:
        validate.labels("y", y, rows=len(x))
    validate.real("T", T, low=0.0, low_open=True)
    validate.real("alpha", alpha, low=0.0, high=1.0)
    validate.integer("epochs", epochs, low=0)
    validate.integer("seed", seed)
    validate.real("hint_weight", hint_weight, low=0.0)
    if parent_logits is not None:
        validate.sequence("parent_logits", parent_logits, "(N, classes) logit tensors, one per parent")
        for k, z in enumerate(parent_logits):
            validate.same_rows(f"parent_logits[{k}]", validate.tensor(f"parent_logits[{k}]", z, ndim=2, kind="float"),
                               "x", x)


def _check_child(child: nn.Module, parents: list[nn.Module], hint_block: int | None) -> None:
    """What ``build_child()`` returned, and a hint block that both the child and its one parent have."""
    validate.module("build_child()", child, nn.Module)
    if hint_block is not None:
        validate.module("build_child()", child, BlockNet)
        validate.module("parents[0]", parents[0], BlockNet)
        n = min(len(child.blocks), len(parents[0].blocks))
        validate.integer("hint_block", hint_block, low=-n, high=n - 1)


def _check_iterative(teacher, builders, x, y, halves, tolerance, children, keep, ancestors, select_on, seed) -> None:
    """``iterative_distill``'s own arguments (``teach`` checks the ones it passes on)."""
    if not isinstance(teacher, Generation):
        validate.module("teacher", teacher, BlockNet)
    validate.sequence("builders", builders, "builders, one per generation (or a list of builders each)")
    for g, spec in enumerate(builders):
        for a, build in enumerate(spec if isinstance(spec, (list, tuple)) else [spec]):
            validate.function(f"builders[{g}]" + (f"[{a}]" if isinstance(spec, (list, tuple)) else ""), build,
                              "build() -> a new network")
    model = teacher.model if isinstance(teacher, Generation) else teacher
    validate.images("x", x, "teacher", model)
    if y is not None:
        validate.labels("y", y, rows=len(x))
    crossfit.check_halves(halves, ndim=4)
    validate.real("tolerance", tolerance, allow_inf=True)
    validate.integer("children", children, low=1)
    validate.choice("keep", keep, ("best", "all"))
    validate.integer("ancestors", ancestors, low=1)
    validate.choice("select_on", select_on, (0, 1))
    validate.integer("seed", seed)


def _check_generations(generations: Sequence[Generation]) -> None:
    validate.sequence("generations", generations, "Generations (iterative_distill's result)")
    for k, g in enumerate(generations):
        if not isinstance(g, Generation):
            raise TypeError(f"generations[{k}] must be a Generation (from iterative_distill), got "
                            f"{validate.describe(g)}")
    if not any(g.depth == 0 for g in generations):
        raise ValueError("generations must include generation 0 (the teacher): pass iterative_distill's whole result")

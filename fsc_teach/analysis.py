"""Why crossing helps: the inconsistencies of cross distillation and its Theorem 1 (Bai et al., AAAI 2020).

* ``layer_errors``: per block, the teacher and student inconsistencies ε^T, ε^S and the estimation error L^r of
  the paper's Figures 2–3, with the correction and imitation losses beside them;
* ``lipschitz_bound``: a block's (or head's) Lipschitz constant, by power iteration on its affine runs;
* ``theorem1_bound``: both sides of Theorem 1 (Eq. 6) on real layers, every constant computed.

Both networks are evaluated in eval mode and carried forward on their own features, one block at a time
(``models.block_input`` for the stem; each block's input is the previous block's output).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate
from .losses import mean_sq_norm
from .models import BasicBlock, BlockNet, ConvBlock, block_input
from .train import eval_mode

__all__ = ["layer_errors", "lipschitz_bound", "theorem1_bound"]


def _check_shapes(student: BlockNet, teacher: BlockNet) -> None:
    validate.module("student", student, BlockNet)
    validate.module("teacher", teacher, BlockNet)
    if student.widths != teacher.widths or len(student.blocks) != len(teacher.blocks):
        raise ValueError("crossing layers needs the masked, teacher-shaped student (call it before shrink)")


@torch.no_grad()
def layer_errors(student: BlockNet, teacher: BlockNet, x: Tensor) -> dict[str, list[float]]:
    """Per block, on ``x``: ε^T, ε^S, L^r (Section 3, Figures 2–3), L^c and L^i, each ``‖·‖²_F / N``.

    ``eps_t = ‖t(h_s) − t(h_t)‖²``, ``eps_s = ‖s(h_t) − s(h_s)‖²``, ``estimation = ‖t(h_t) − s(h_s)‖²``,
    ``correction = ‖t(h_t) − s(h_t)‖²``, ``imitation = ‖t(h_s) − s(h_s)‖²``, where ``h_s``/``h_t`` are each net's own
    input to the block; ``logits`` is ``‖o^T − o^S‖² / N``. Both nets are evaluated in eval mode.
    """
    _check_shapes(student, teacher)
    validate.images("x", x, "teacher", teacher)
    out: dict[str, list[float]] = {k: [] for k in ("eps_t", "eps_s", "estimation", "correction", "imitation")}
    with eval_mode(student, teacher):
        for (t_t, t_s, s_t, s_s), _ in _crossed(student, teacher, x):
            out["eps_t"].append(mean_sq_norm(t_s, t_t).item())
            out["eps_s"].append(mean_sq_norm(s_t, s_s).item())
            out["estimation"].append(mean_sq_norm(t_t, s_s).item())
            out["correction"].append(mean_sq_norm(t_t, s_t).item())
            out["imitation"].append(mean_sq_norm(t_s, s_s).item())
        out["logits"] = mean_sq_norm(teacher.head(t_t), student.head(s_s)).item()
    return out


def _crossed(student: BlockNet, teacher: BlockNet, x: Tensor):
    """Per block ``l``: ``(t(h_t), t(h_s), s(h_t), s(h_s))`` and ``(h_s, h_t)``, each net carried on its own output."""
    h_s, h_t = block_input(student, x, 0), block_input(teacher, x, 0)
    for l in range(len(student.blocks)):
        s_block, t_block = student.blocks[l], teacher.blocks[l]
        outs = t_block(h_t), t_block(h_s), s_block(h_t), s_block(h_s)
        yield outs, (h_s, h_t)
        h_s, h_t = outs[3], outs[0]


_AFFINE = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.Identity, nn.Flatten, nn.ZeroPad2d,
           nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.Dropout)


def _operator_norm(f: Callable[[Tensor], Tensor], x: Tensor, iters: int) -> float:
    """Largest singular value of the linear part of the affine map ``f`` at ``x``'s shape, by power iteration."""
    offset = f(torch.zeros_like(x)).detach()
    v = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(x)
    v = v / v.norm()
    sigma = 0.0
    with torch.enable_grad():
        for _ in range(iters):
            v.requires_grad_(True)
            u = f(v) - offset  # J v
            (w,) = torch.autograd.grad(u, v, grad_outputs=u.detach())  # Jᵀ J v
            sigma = u.detach().norm().item()
            if w.norm() == 0:
                return 0.0
            v = (w / w.norm()).detach()
        return max(sigma, (f(v) - offset).detach().norm().item())


def _leaves(modules: Sequence[nn.Module]) -> list[nn.Module]:
    out = []
    for m in modules:
        out.extend(_leaves(list(m)) if isinstance(m, nn.Sequential) else [m])
    return out


def _chain_lipschitz(modules: Sequence[nn.Module], x: Tensor, iters: int) -> float:
    """Product of the constants of a chain: each run of affine modules by power iteration, ReLUs 1, max-pools ≤ √k."""
    total, run, run_input, h = 1.0, [], x, x
    for m in _leaves(modules) + [None]:
        if m is not None and isinstance(m, _AFFINE):
            if not run:
                run_input = h
            run.append(m)
            h = m(h)
            continue
        if run:
            total *= _operator_norm(lambda v, ms=tuple(run): _apply(ms, v), run_input, iters)
            run = []
        if m is None:
            break
        if isinstance(m, nn.ReLU):
            factor = 1.0
        elif isinstance(m, nn.LeakyReLU):
            factor = max(1.0, abs(m.negative_slope))
        elif isinstance(m, nn.MaxPool2d):
            # |max a − max b| ≤ max |a − b| per window, and each input lies in ≤ ⌈k/s⌉² windows
            k, s = nn.modules.utils._pair(m.kernel_size), nn.modules.utils._pair(m.stride or m.kernel_size)
            factor = math.sqrt(math.ceil(k[0] / s[0]) * math.ceil(k[1] / s[1]))
        else:
            raise NotImplementedError(f"no Lipschitz constant for {type(m).__name__}")
        total *= factor
        h = m(h)
    return total


def _apply(modules: Sequence[nn.Module], v: Tensor) -> Tensor:
    for m in modules:
        v = m(v)
    return v


@torch.no_grad()
def lipschitz_bound(module: nn.Module, h: Tensor, iters: int = 100) -> float:
    """Lipschitz constant (ℓ2, per sample) of a block or head in eval mode; ``h``: an input, for its shape.

    Affine runs (conv, BN, linear, flatten, average pooling) get their operator norm by power iteration (which
    approaches it from below: 100 iterations are plenty on these sizes); ReLU is 1-Lipschitz, a max-pool with
    kernel k and stride s at most ⌈k/s⌉. A residual block ``relu(x + branch(x))`` with a parameter-free
    shortcut gives ``1 + Lip(branch)``.
    """
    validate.module("module", module, nn.Module)
    validate.tensor("h", h, min_ndim=2, kind="float")
    validate.dtype_of("h", h, "module", module)
    validate.integer("iters", iters, low=1)
    h = h[:1].detach()
    if isinstance(module, BasicBlock):
        branch = [module.conv1, module.bn1, module.relu1, module.conv2, module.bn2, module.adapter]
        return 1.0 + _chain_lipschitz(branch, h, iters)
    if isinstance(module, ConvBlock):
        return _chain_lipschitz([module.conv, module.bn, module.adapter, module.act, module.pool], h, iters)
    return _chain_lipschitz([module], h, iters)


@torch.no_grad()
def theorem1_bound(student: BlockNet, teacher: BlockNet, x: Tensor, y: Tensor | None = None, mu: float = 0.6,
                   iters: int = 100) -> dict:
    """Both sides of Theorem 1 (Eq. 6) on the real layers, every constant computed; returns each link of the chain.

    Derivation (the appendix's proof, with its index slips fixed). All norms are *unsquared* Frobenius norms over
    the batch; ``r_l = ‖h^T_l − h^S_l‖``, ``c_l``/``i_l`` the unsquared correction/imitation errors of block l,
    ``Lip`` a block's Lipschitz constant (``lipschitz_bound``):

    * ``r_l ≤ c_l + ‖s(h^T) − s(h^S)‖ ≤ c_l + Lip(S_l) r_{l−1}`` and ``r_l ≤ i_l + Lip(T_l) r_{l−1}``; their
      μ-mixture gives ``r_l ≤ L̃_l + C_l(μ) r_{l−1}`` with ``L̃_l = μ c_l + (1 − μ) i_l`` and
      ``C_l(μ) = μ Lip(S_l) + (1 − μ) Lip(T_l)`` (linear in μ; the proof pairs μ with the student's norm).
      Unrolled: ``r_L ≤ Σ_l (Π_{k>l} C_k(μ)) L̃_l + (Π_k C_k) r_0`` (the paper's product starts at k = l: a slip).
    * Lemma 1: per sample ``ce(o^T) − ce(o^S) = (p̄ − y)·(o^T − o^S)`` for some softmax p̄, and ``‖p̄ − y‖₂ ≤ √2``.
      Averaging over N samples and Cauchy–Schwarz: ``mean |Δce| ≤ √(2/N) ‖O^T − O^S‖_F ≤ √(2/N) Lip(head) r_L``.
      The head must be shared and un-pruned, as the theorem assumes (checked).

    So ``ce_gap ≤ mean_abs_ce_gap ≤ logit_bound ≤ feature_bound ≤ rhs``. ``y`` defaults to the teacher's
    predictions. The training losses are the *squares* of c_l, i_l; the theorem bounds with the norms.
    """
    _check_shapes(student, teacher)
    validate.images("x", x, "teacher", teacher)
    if y is not None:
        validate.labels("y", y, rows=len(x), num_classes=getattr(teacher, "config", {}).get("num_classes"))
    validate.real("mu", mu, low=0.0, high=1.0)
    validate.integer("iters", iters, low=1)
    t_head, s_head = teacher.head.state_dict(), student.head.state_dict()
    if any(not torch.equal(t_head[k], s_head[k]) for k in t_head):
        raise ValueError("Theorem 1 assumes the student shares the teacher's un-pruned head (a fine-tune changed it)")
    with eval_mode(student, teacher):
        n = x.shape[0]
        h_s, h_t = block_input(student, x, 0), block_input(teacher, x, 0)
        r = [(h_t - h_s).norm().item()]
        out = {k: [] for k in ("c", "i", "lip_s", "lip_t", "C", "r_bound", "step_rhs")}
        bound = r[0]
        for l, ((t_t, t_s, s_t, s_s), (h_s, h_t)) in enumerate(_crossed(student, teacher, x)):
            s_block, t_block = student.blocks[l], teacher.blocks[l]
            c, i = (t_t - s_t).norm().item(), (t_s - s_s).norm().item()
            lip_s, lip_t = lipschitz_bound(s_block, h_s, iters), lipschitz_bound(t_block, h_t, iters)
            C = mu * lip_s + (1 - mu) * lip_t
            out["step_rhs"].append(mu * c + (1 - mu) * i + C * r[-1])  # one step, with the measured r_{l−1}
            bound = mu * c + (1 - mu) * i + C * bound  # the recursion is the unrolled sum, evaluated
            for key, val in zip(("c", "i", "lip_s", "lip_t", "C", "r_bound"), (c, i, lip_s, lip_t, C, bound)):
                out[key].append(val)
            r.append((t_t - s_s).norm().item())
        o_t, o_s = teacher.head(t_t), student.head(s_s)
        y = o_t.argmax(1) if y is None else y.to(o_t.device)
        ce_t, ce_s = F.cross_entropy(o_t, y, reduction="none"), F.cross_entropy(o_s, y, reduction="none")
        lip_head = lipschitz_bound(teacher.head, t_t, iters)
        scale = math.sqrt(2.0 / n)
        out.update(r=r, lip_head=lip_head, mu=mu,
                   ce_gap=(ce_t.mean() - ce_s.mean()).abs().item(),
                   mean_abs_ce_gap=(ce_t - ce_s).abs().mean().item(),
                   logit_bound=scale * (o_t - o_s).norm().item(),
                   feature_bound=scale * lip_head * r[-1],
                   rhs=scale * lip_head * bound)
    return out

"""Few-sample knowledge distillation, FSKD (Li et al., CVPR 2020): a 1x1 conv per block, solved, then merged away.

The student is the teacher pruned (filter pruning, network slimming) or decomposed (network decoupling), or a
hand-designed narrow net. FSKD adds a 1x1 conv ``Q`` at the end of each student block, *before* the
non-linearity, fits it by least squares so that the block's output matches the teacher's on a few unlabeled images
(Eq. 1), and merges it into the conv before it (Theorem 1), block after block (Algorithm 1). The final student has
exactly the parameters and FLOPs it started with.

Read top to bottom:

1. ``fold_bn`` and ``merge_pointwise``: the algebra of Theorem 1. A 1x1 conv after a conv is a matrix applied to
   every output pixel, so ``W'[:, :, i, j] = Q @ W[:, :, i, j]`` and ``b' = Q b + q0``. It needs nothing
   non-linear in between (condition c2) and ``Q``'s input channels equal to the conv's outputs (c1). BatchNorm
   in eval mode is a per-channel affine map, so it is folded into the conv *first* (the authors' public code's
   BN branch fitted Q after BN but merged it before BN, which is a different function).
2. ``solve_pointwise``: Eq. 1 as ridge regression in float64, rows = pixels, one unknown per input channel.
3. ``merge_into_block_`` and ``fskd``: Algorithm 1, block-coordinate descent over the blocks.
The students FSKD is shown on come from ``prune`` (L1-norm filter pruning) and ``students`` (network slimming's
channel choice, network decoupling, a narrower net); FSKD only needs the ``kept`` channel indices.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from .progress import bar as tqdm

from . import validate
from .models import BlockNet, block_input, run_blocks
from .prune import l1_norms, top_indices
from .train import eval_mode

__all__ = ["RIDGE", "fold_bn", "merge_pointwise", "solve_pointwise", "merge_into_block_", "fskd"]

RIDGE = 1e-3  # relative ridge: λ = RIDGE · (mean eigenvalue of the centred XᵀX), see solve_pointwise


# ---------------------------------------------------------------------------------------------------------------
# 1. Theorem 1: folding BatchNorm and merging a 1x1 conv into the conv before it
# ---------------------------------------------------------------------------------------------------------------

def _folded(conv: nn.Conv2d, bn: nn.Module | None) -> tuple[Tensor, Tensor]:
    """``(W, b)`` of the affine map ``bn(conv(x))`` in eval mode (a zero bias if there is none).

    All merge algebra runs in float64 on the CPU (small tensors; MPS has no float64); ``copy_`` brings the
    result back to the module's device and dtype.
    """
    w = conv.weight.detach().cpu().double()
    b = conv.bias.detach().cpu().double() if conv.bias is not None else w.new_zeros(conv.out_channels)
    if bn is None or isinstance(bn, nn.Identity):
        return w, b
    if not isinstance(bn, nn.BatchNorm2d) or bn.running_mean is None:
        raise ValueError("only an nn.BatchNorm2d with running statistics can be folded into a conv")
    scale = 1.0 / torch.sqrt(bn.running_var.cpu().double() + bn.eps)
    if bn.affine:
        scale = scale * bn.weight.detach().cpu().double()
    shift = bn.bias.detach().cpu().double() if bn.affine else 0.0
    # bn(Wx + b) = γ (Wx + b − μ)/√(σ² + ε) + β
    return w * scale[:, None, None, None], (b - bn.running_mean.cpu().double()) * scale + shift


def _conv_like(conv: nn.Conv2d, out_channels: int, *, bias: bool, groups: int) -> nn.Conv2d:
    return nn.Conv2d(conv.in_channels, out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                     dilation=conv.dilation, groups=groups, bias=bias, padding_mode=conv.padding_mode,
                     device=conv.weight.device, dtype=conv.weight.dtype)


@torch.no_grad()
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new conv equal to ``bn(conv(x))`` with ``bn`` in eval mode: ``W·γ/√(σ²+ε)``, ``(b − μ)·γ/√(σ²+ε) + β``.

    Works for any kernel, stride, padding, dilation and groups (BatchNorm scales whole output channels).
    """
    validate.module("conv", conv, nn.Conv2d)
    validate.module("bn", bn, nn.BatchNorm2d)
    if bn.num_features != conv.out_channels:
        raise ValueError(f"bn must have one feature per output channel of conv ({conv.out_channels}), got "
                         f"BatchNorm2d({bn.num_features})")
    w, b = _folded(conv, bn)
    fused = _conv_like(conv, conv.out_channels, bias=True, groups=conv.groups)
    fused.weight.copy_(w)
    fused.bias.copy_(b)
    return fused


def _as_matrix(q: Tensor) -> Tensor:
    validate.tensor("q", q, kind="float", non_empty=False)
    if q.ndim == 4 and q.shape[2:] == (1, 1):
        q = q[:, :, 0, 0]
    if q.ndim != 2:
        raise ValueError(f"q must be a (C', C) matrix or a (C', C, 1, 1) 1x1-conv weight, got shape {tuple(q.shape)}")
    return q.detach().cpu().double()


def _merge_weight(w: Tensor, q: Tensor, groups: int) -> tuple[Tensor, int]:
    """``Q ∘ W`` for a weight ``(C, C_in/groups, k, k)``; returns the merged weight and its ``groups``."""
    if groups == 1:
        return torch.einsum("oc,cikl->oikl", q, w), 1
    c, n = w.shape[0], w.shape[0] // groups  # n output channels per group
    same_groups = torch.block_diag(*[torch.ones(n, n, dtype=torch.bool, device=q.device)] * groups)
    if q.shape == (c, c) and not q[~same_groups].any():
        # Q only mixes channels within a group (e.g. a diagonal Q after a depthwise conv): the groups survive.
        return torch.cat([q[g * n:(g + 1) * n, g * n:(g + 1) * n] @ w[g * n:(g + 1) * n].flatten(1)
                          for g in range(groups)]).view_as(w), groups
    # A dense Q mixes the groups: the result is an ordinary (groups=1) conv, `groups` times as many weights.
    cin_g = w.shape[1]
    dense = w.new_zeros(c, cin_g * groups, *w.shape[2:])
    for g in range(groups):
        dense[g * n:(g + 1) * n, g * cin_g:(g + 1) * cin_g] = w[g * n:(g + 1) * n]
    return torch.einsum("oc,cikl->oikl", q, dense), 1


@torch.no_grad()
def merge_pointwise(conv: nn.Conv2d, q: Tensor, bias: Tensor | None = None) -> nn.Conv2d:
    """Theorem 1 (Li et al., CVPR 2020): one conv equal to ``conv`` followed by the 1x1 conv ``(q, bias)``.

    ``q`` is ``(C', C)`` or ``(C', C, 1, 1)``; ``W'[:, :, i, j] = q @ W[:, :, i, j]`` and ``b' = q b + bias``, for
    any kernel size, stride, padding and dilation. Condition c1 (``q`` takes ``conv.out_channels`` inputs) is
    checked; c2 (nothing non-linear in between) is the caller's to respect — fold BatchNorm first (``fold_bn``).

    Grouped convs: a ``q`` that only mixes channels within each group keeps ``conv.groups``; a dense ``q`` after
    a depthwise conv yields a *dense* full conv with ``groups`` times the weights. That is why network decoupling
    (Fig. 5) merges ``Q`` into the *pointwise* 1x1 conv of a depthwise-separable pair, an ordinary conv.
    """
    validate.module("conv", conv, nn.Conv2d)
    q = _as_matrix(q)
    if bias is not None and (validate.tensor("bias", bias, ndim=1, kind="float").shape != (q.shape[0],)):
        raise ValueError(f"bias must have one entry per output channel of q ({q.shape[0]}), got {tuple(bias.shape)}")
    if q.shape[1] != conv.out_channels:
        raise ValueError(f"condition c1 of Theorem 1 fails: the 1x1 conv takes {q.shape[1]} input channels but "
                         f"the conv before it has {conv.out_channels} output channels")
    w, b = _folded(conv, None)
    w, groups = _merge_weight(w, q, conv.groups)
    merged = _conv_like(conv, q.shape[0], bias=conv.bias is not None or bias is not None, groups=groups)
    merged.weight.copy_(w)
    if merged.bias is not None:
        merged.bias.copy_(q @ b + (bias.detach().cpu().double() if bias is not None else 0.0))
    return merged


# ---------------------------------------------------------------------------------------------------------------
# 2. Eq. 1: least squares for one block, in float64, regularised toward the identity
# ---------------------------------------------------------------------------------------------------------------

def _pixel_rows(features: Tensor) -> Tensor:
    """``(N, C, H, W)`` -> ``(N·H·W, C)`` in float64: every pixel is one equation of Eq. 1."""
    if features.ndim == 4:
        features = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1])
    if features.ndim != 2:
        raise ValueError(f"features must be (N, C, H, W) or (rows, C), got shape {tuple(features.shape)}")
    features = features.detach()
    return (features.cpu() if features.device.type == "mps" else features).double()  # MPS has no float64


class _Moments:
    """Running sums for Eq. 1, so features can be captured batch by batch and never held all at once."""

    def __init__(self) -> None:
        self.n = 0
        self.sx = self.sy = self.sxx = self.sxy = None

    def add(self, student_feats: Tensor, teacher_feats: Tensor) -> None:
        x = _pixel_rows(student_feats)
        y = _pixel_rows(teacher_feats).to(x.device)
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"student and teacher features give {x.shape[0]} and {y.shape[0]} pixel rows; "
                             "the blocks must have the same batch and spatial size")
        if self.sx is None:
            self.sx, self.sy = x.new_zeros(x.shape[1]), x.new_zeros(y.shape[1])
            self.sxx, self.sxy = x.new_zeros(x.shape[1], x.shape[1]), x.new_zeros(x.shape[1], y.shape[1])
        self.n += x.shape[0]
        self.sx += x.sum(0)
        self.sy += y.sum(0)
        self.sxx += x.T @ x
        self.sxy += x.T @ y

    def mean_cov(self) -> tuple[Tensor, Tensor]:
        """Mean ``(C,)`` and (biased) covariance ``(C, C)`` of the student features."""
        mean = self.sx / self.n
        return mean, self.sxx / self.n - torch.outer(mean, mean)

    def solve(self, ridge: float, bias: bool) -> tuple[Tensor, Tensor]:
        if self.n == 0:
            raise ValueError("no features: x is empty")
        mx, my = self.sx / self.n, self.sy / self.n
        if bias:  # an unregularised bias column is the same as centring X and Y
            cxx = self.sxx - self.n * torch.outer(mx, mx)
            cxy = self.sxy - self.n * torch.outer(mx, my)
        else:
            cxx, cxy = self.sxx, self.sxy
        cs, ct = cxy.shape
        eye = torch.eye(cs, ct, dtype=cxx.dtype, device=cxx.device)  # the rectangular "identity": channel k -> k
        lam = ridge * (torch.trace(cxx).item() / cs or 1.0)
        if lam > 0:  # argmin ‖X Qᵀ − Y‖² + λ‖Qᵀ − I‖²  =>  (XᵀX + λI) Qᵀ = XᵀY + λI
            qt = torch.linalg.solve(cxx + lam * torch.eye(cs, dtype=cxx.dtype, device=cxx.device), cxy + lam * eye)
        else:  # the least-squares solution closest to the identity (the λ -> 0⁺ limit), also when rows < C
            qt = eye + torch.linalg.pinv(cxx, hermitian=True, rtol=1e-10) @ (cxy - cxx @ eye)
        q = qt.T.contiguous()
        q0 = my - q @ mx if bias else my.new_zeros(ct)
        return q, q0


def solve_pointwise(student_feats: Tensor, teacher_feats: Tensor, ridge: float = RIDGE,
                    bias: bool = True) -> tuple[Tensor, Tensor]:
    """Eq. 1 (Li et al., CVPR 2020): ``Q, q0 = argmin Σ ‖Q x + q0 − y‖² + λ‖Q − I‖²`` over every pixel, in float64.

    Features are ``(N, C, H, W)`` pre-activation maps (or ``(rows, C)``); student ``C`` and teacher ``C'``
    channels give ``Q`` of shape ``(C', C)`` and ``q0`` of shape ``(C',)``, both float64. Rows are the N·H·W
    pixels; each output channel has C unknowns. The bias ``q0`` is never regularised (it equals centring X and Y).

    ``ridge`` is relative: ``λ = ridge · tr(XᵀX)/C`` for the centred X, so one value suits every layer whatever its
    scale or pixel count. It pulls ``Q`` toward the identity — "keep the student as it is" — which makes the
    problem well posed when rows < C (deep 2x2 layers with few images); ``ridge → ∞`` gives ``Q = I``. When
    ``C' ≠ C`` the identity is the rectangular ``I[k, k] = 1`` (target channel k starts as student channel k).
    ``ridge=0`` is plain least squares; if it has many solutions, the one closest to the identity.
    """
    validate.tensor("student_feats", student_feats, ndim=(2, 4), kind="float")
    validate.tensor("teacher_feats", teacher_feats, ndim=(2, 4), kind="float")
    s_rows, t_rows = (f.shape[:1] + f.shape[2:] for f in (student_feats, teacher_feats))
    if teacher_feats.ndim != student_feats.ndim or s_rows != t_rows:
        raise ValueError(f"teacher_feats must match student_feats in every dimension but the channels (dim 1): "
                         f"got {tuple(teacher_feats.shape)} and {tuple(student_feats.shape)}")
    validate.real("ridge", ridge, low=0.0)
    validate.choice("bias", bias, (True, False))
    moments = _Moments()
    moments.add(student_feats, teacher_feats)
    return moments.solve(ridge, bias)


# ---------------------------------------------------------------------------------------------------------------
# 3. Algorithm 1: block-coordinate descent over the student's blocks
# ---------------------------------------------------------------------------------------------------------------

def _merge_site(block: nn.Module) -> tuple[nn.Conv2d, nn.BatchNorm2d | None]:
    """The conv (and BatchNorm) right before a block's ``adapter`` slot, where FSKD's Q is merged.

    ``ConvBlock``: ``conv``/``bn`` — for a decoupled conv (``nn.Sequential(depthwise, pointwise)``) the
    pointwise conv. ``BasicBlock``: the residual branch's ``conv2``/``bn2``, before the addition.
    """
    if not isinstance(getattr(block, "adapter", None), nn.Identity):
        raise ValueError("FSKD needs the block's adapter slot empty (nn.Identity): merge any adapter there first")
    conv, bn = (block.conv2, block.bn2) if hasattr(block, "conv2") else (block.conv, block.bn)
    if isinstance(conv, nn.Sequential):
        conv = [m for m in conv if isinstance(m, nn.Conv2d)][-1]
    return conv, (None if isinstance(bn, nn.Identity) else bn)


@torch.no_grad()
def merge_into_block_(block: nn.Module, q: Tensor, q0: Tensor | None = None, *,
                      calibrate: tuple[Tensor, Tensor] | None = None) -> nn.Module:
    """Merge the 1x1 conv ``(q, q0)`` at a block's adapter slot into the block, in place (Theorem 1, Corollary 1).

    Afterwards ``block(x)`` in eval mode equals the block with ``adapter = Conv1x1(q, q0)``, and the block keeps
    every parameter shape, so the parameter count, FLOPs and ``build_model(arch, config)`` are unchanged.
    ``q`` must be square (``C × C``, condition c3) so the next block still fits.

    With BatchNorm, ``W, b = fold_bn(conv, bn)`` and the merged map is ``u + b''`` with ``u = (q W) * x`` and
    ``b'' = q b + q0``. The conv stores ``q W`` (no bias, as before) and the BatchNorm is re-parametrised to add
    ``b''``: ``running_mean = μ_u``, ``running_var = σ²_u``, ``γ = √(σ²_u + ε)``, ``β = μ_u + b''``, so
    ``bn(u) = (u − μ_u)/√(σ²_u+ε)·γ + β = u + b''`` exactly. ``calibrate = (mean, cov)`` of the block's
    pre-activation features (before the merge) sets ``μ_u, σ²_u`` to the statistics the merged conv really
    produces, so train-mode BatchNorm (fine-tuning later) starts close to the eval function; without it
    ``μ_u = 0, σ²_u = 1``. Without BatchNorm ``b''`` goes into the conv's bias (and must be zero if it has none).
    """
    validate.module("block", block, nn.Module)
    conv, bn = _merge_site(block)
    q = _as_matrix(q)
    c = conv.out_channels
    if q0 is not None and validate.tensor("q0", q0, ndim=1, kind="float").shape != (c,):
        raise ValueError(f"q0 must have one entry per output channel ({c}), got shape {tuple(q0.shape)}")
    if q.shape != (c, c):
        raise ValueError(f"the merged block must keep its {c} output channels (Corollary 1, c3): q is "
                         f"{tuple(q.shape)}, expected ({c}, {c})")
    if conv.groups != 1:
        raise ValueError(f"the block's last conv has groups={conv.groups}: a dense Q would turn it into a full conv "
                         "and grow the network; decouple it so that it ends with a pointwise conv (Fig. 5)")
    w_f, b_f = _folded(conv, bn)
    q0 = q.new_zeros(c) if q0 is None else q0.detach().cpu().double()
    weight, bias = torch.einsum("oc,cikl->oikl", q, w_f), q @ b_f + q0
    conv.weight.copy_(weight)
    if bn is None:
        if conv.bias is not None:
            conv.bias.copy_(bias)
        elif bias.abs().max() > 0:
            raise ValueError("the conv has no bias and no BatchNorm follows it: there is nowhere to put q0 "
                             "without adding parameters; solve with bias=False")
        return block
    if conv.bias is not None:
        conv.bias.zero_()  # the whole offset lives in BatchNorm's β
    if calibrate is None:
        mean_u, var_u = q.new_zeros(c), q.new_ones(c)
    else:
        mean, cov = (t.detach().cpu().double() for t in calibrate)
        mean_u = q @ (mean - b_f)  # u = q W * x = q (X − b_f), X the folded pre-activation
        var_u = torch.einsum("oc,cd,od->o", q, cov, q).clamp_min(0.0)
    bn.running_mean.copy_(mean_u)
    bn.running_var.copy_(var_u)
    bn.weight.copy_(torch.sqrt(var_u + bn.eps))
    bn.bias.copy_(mean_u + bias)
    return block


@torch.no_grad()
def _run_block(block: nn.Module, h: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """``block(h)``, the block's pre-activation output (the adapter's input) and, if residual, its shortcut.

    Read from ``block.parts``, not from forward hooks: the teacher is shared, and a hook on it would also fire for
    any other thread's forward pass (``grid.run_grid`` runs cells side by side).
    """
    return block.parts(h)


def _kept_channels(student: nn.Module, teacher: nn.Module, j: int, given: Tensor | None) -> Tensor | None:
    """Teacher channels that student block ``j``'s outputs stand for (None: all of them, in order)."""
    width = _merge_site(student.blocks[j])[0].out_channels
    teacher_conv = _merge_site(teacher.blocks[j])[0]
    if given is None:
        if width == teacher_conv.out_channels:
            return None
        # Table 8 (a narrower, randomly initialised student): "the student-net only corresponds to the un-pruned
        # part of the teacher-net, which is obtained the same as [23]", i.e. the filters with the largest L1 norm.
        return top_indices(l1_norms(teacher_conv.weight), width)
    idx = torch.as_tensor(given, dtype=torch.long).flatten().cpu()
    if (len(idx) != width or (len(idx) > 1 and not bool((idx[1:] > idx[:-1]).all()))
            or idx.min() < 0 or idx.max() >= teacher_conv.out_channels):
        raise ValueError(f"kept[{j}] must be {width} sorted distinct teacher channels in "
                         f"[0, {teacher_conv.out_channels}), got {idx.tolist()}")
    return idx


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _align_block_(student: nn.Module, teacher: nn.Module, j: int, h_s: list[Tensor], h_t: list[Tensor],
                  idx: Tensor | None, ridge: float) -> list[Tensor]:
    """Eq. 1 for block ``j`` on the inputs ``h_s``/``h_t`` (one tensor per batch), then the merge; returns the
    teacher block's outputs (the next block's inputs)."""
    conv, bn = _merge_site(student.blocks[j])
    sdev = _device(student)
    moments = _Moments()
    next_t = []
    for hs, ht in zip(h_s, h_t):
        _, z_s, short_s = _run_block(student.blocks[j], hs)
        out_t, z_t, short_t = _run_block(teacher.blocks[j], ht)
        next_t.append(out_t)
        if (short_s is None) != (short_t is None):
            raise ValueError(f"block {j}: student and teacher blocks differ in kind (residual or not)")
        target = z_t if short_t is None else z_t + short_t  # teacher's pre-activation block output
        if idx is not None:
            target = target[:, idx.to(target.device)]
        target = target.to(sdev)
        if short_s is not None:
            target = target - short_s
        moments.add(z_s, target)
    q, q0 = moments.solve(ridge, bias=bn is not None or conv.bias is not None)
    merge_into_block_(student.blocks[j], q, q0, calibrate=moments.mean_cov())
    return next_t


def _check_fskd(student, teacher, x, kept, sweeps, ridge, blocks, seed, batch_size) -> None:
    validate.module("student", student, BlockNet)
    validate.module("teacher", teacher, BlockNet)
    validate.tensor("x", x, ndim=4, kind="float")
    if kept is not None and not isinstance(kept, dict):
        raise TypeError(f"kept must be a dict {{block: kept teacher channels}} or None, got {validate.describe(kept)}")
    validate.integer("sweeps", sweeps, low=1)
    validate.real("ridge", ridge, low=0.0)
    if blocks is not None:
        validate.indices("blocks", blocks, len(student.blocks))
    validate.integer("seed", seed)
    validate.integer("batch_size", batch_size, low=1)
    if len(student.blocks) != len(teacher.blocks):
        raise ValueError(f"student and teacher must have the same number of blocks "
                         f"({len(student.blocks)} vs {len(teacher.blocks)})")


@torch.no_grad()
def fskd(student: nn.Module, teacher: nn.Module, x: Tensor, *, kept: dict[int, Tensor] | None = None,
         sweeps: int = 1, ridge: float = RIDGE, blocks: Sequence[int] | None = None, flip: bool = False,
         seed: int = 0, batch_size: int = 256, progress: bool = True) -> nn.Module:
    """Algorithm 1 of Li et al. (CVPR 2020, FSKD-BCD): align every student block with the teacher's, in place; returns it.

    For each block ``j`` in order: capture the *current* student's pre-activation output (earlier blocks already
    corrected; eval mode, BatchNorm folded) and the teacher's pre-activation output restricted to ``kept[j]``
    (sorted teacher channel indices that student block ``j`` keeps — the pruning module's format); solve Eq. 1
    with a bias (``solve_pointwise``); merge ``Q`` into the block (``merge_into_block_``). ``x``: the few
    unlabeled images ``(N, C, H, W)``.

    * Without ``kept[j]``: same widths -> all channels; a narrower student (Table 8's hand-designed student) ->
      the teacher's filters with the largest L1 norm, as the paper prescribes.
    * Residual blocks: the target is the teacher block's pre-ReLU output ``branch + shortcut`` minus the student's
      own shortcut, so that ``Q·branch + shortcut`` matches; ``Q`` merges into the branch's last conv. A pruned
      ``ResNetCIFAR`` keeps every block's output width, so pass no ``kept`` for it (the pruning module's ``kept``
      names *inner* channels there).
    * ``sweeps > 1`` repeats the loop (Appendix A). Each sweep's ``Q`` multiplies the already-merged conv, so the
      corrections compose (``Q₂ Q₁ W``) instead of being re-assigned. ``flip``: each sweep flips a random half
      of the images horizontally (Algorithm 1, line 2); fixed by ``seed``.
    * The parameter count and every shape stay as they were; the teacher is only read (its mode is restored).
    * Cost per sweep: one teacher pass and two student passes over ``x`` (each block's input is kept from the
      previous block, for all N images at once: memory for one activation map per network).
    """
    _check_fskd(student, teacher, x, kept, sweeps, ridge, blocks, seed, batch_size)
    order = sorted(range(len(student.blocks)) if blocks is None else {int(b) for b in blocks})
    kept = dict(kept or {})
    sdev, tdev = _device(student), _device(teacher)
    gen = torch.Generator().manual_seed(seed)
    with eval_mode(student, teacher), tqdm(total=sweeps * len(order), desc="FSKD", disable=not progress,
                                           leave=False) as bar:
        for sweep in range(sweeps):
            images = x
            if flip:
                mask = torch.rand(len(x), generator=gen) < 0.5
                images = torch.where(mask.view(-1, 1, 1, 1).to(x.device), x.flip(-1), x)
            # Each network's activations at the current depth, batch by batch: block j's input is block j-1's output
            # *after* its merge, so one sweep costs one teacher pass and two student passes (not one per block).
            chunks = [images[i:i + batch_size] for i in range(0, len(images), batch_size)]
            h_s = [block_input(student, c.to(sdev), 0) for c in chunks]
            h_t = [block_input(teacher, c.to(tdev), 0) for c in chunks]
            for j in range(order[-1] + 1):
                if j in order:
                    h_t = _align_block_(student, teacher, j, h_s, h_t, _kept_channels(student, teacher, j, kept.get(j)),
                                        ridge)
                    bar.update(1)
                    bar.set_postfix(sweep=sweep + 1, block=j)
                else:
                    h_t = [run_blocks(teacher, h, j, j + 1) for h in h_t]
                h_s = [run_blocks(student, h, j, j + 1) for h in h_s]  # the (merged) block's output feeds block j+1
    return student

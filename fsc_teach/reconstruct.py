"""One Gram matrix: layer-wise reconstruction from few samples — OBS/OBC, SparseGPT, GPTQ and Wanda.

A linear layer (or a conv, unfolded) with weights ``W`` ``(out, in)`` sees calibration inputs ``X`` ``(n, in)``,
one row per sample × position. Compressing it to ``Ŵ`` changes its outputs by

    ‖X Wᵀ − X Ŵᵀ‖² / n = tr((W − Ŵ) H (W − Ŵ)ᵀ),   H = XᵀX / n        (``layer_error``)

so a few images enter only through the Gram matrix ``H`` (``layer_inputs``, ``gram``, ``GramAccumulator``), and the
rows of ``W`` are independent problems that share it. Every method below is a way to make that quadratic small:

* ``magnitude_prune`` ignores ``H``; ``wanda_prune`` (Sun et al., ICLR 2024, Eq. 1) scores ``|W_ij|·√H_jj`` and
  does not update the survivors;
* ``obc_prune``: the Optimal Brain Surgeon (Hassibi & Stork, 1992) applied exactly and greedily to each row, one
  weight at a time (Frantar & Alistarh, NeurIPS 2022, "OBC", Algorithm 1) — the oracle, for small layers;
* ``sparsegpt_prune`` (Frantar & Alistarh, ICML 2023, Algorithm 1) and ``gptq_quantize`` (Frantar et al., ICLR
  2023, Algorithm 1): one sweep over the columns, each column's error fed forward to the later columns through the
  upper Cholesky factor of ``H⁻¹``; ``rtn_quantize`` rounds to nearest on the same grid, without feedback.

Conventions shared by every function: ``W`` is ``(out, in)`` — a conv kernel reshaped to ``(C_out, C_in·k·k)``, the
column order of ``layer_inputs``; the work is done in float64 and the result has ``W``'s dtype and device; ``W`` is
never modified. Pruners remove exactly ``prune.count(sparsity, in)`` entries of every row (round half up), or with
``nm=(n, m)`` (magnitude, Wanda, SparseGPT) n of every m consecutive entries of a row; entries already zero rank
first. Before any inverse, a dead input (``H_jj = 0``) gets ``H_jj = 1`` and ``W[:, j] = 0`` (it
never reaches the output), then ``damp · mean(diag H)`` is added to the diagonal (the reference code's 1 %).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate
from .prune import count
from .quantize import quant_scale, quantize_tensor

__all__ = ["layer_inputs", "gram", "GramAccumulator", "layer_error", "asymmetric_target", "magnitude_prune",
           "wanda_prune", "obc_prune", "sparsegpt_prune", "gptq_quantize", "rtn_quantize"]

DAMP = 0.01  # damp · mean(diag H) is added to H's diagonal before any inverse (the reference code's 1 %)
BLOCKSIZE = 128  # columns per lazy batch (SparseGPT and GPTQ)
OBC_MEMORY = 2 ** 23  # float64 entries of the stacked per-row inverse Hessians OBC holds at once (64 MiB)


# ---------------------------------------------------------------------------------------------------------------
# 1. The layer's inputs, their Gram matrix and the layer-wise error
# ---------------------------------------------------------------------------------------------------------------

@torch.no_grad()
def layer_inputs(layer: nn.Linear | nn.Conv2d, x: Tensor) -> Tensor:
    """The input ``x`` of ``layer`` as the matrix ``X`` ``(rows, in)`` with ``layer(x) = X Wᵀ (+ bias)`` per row.

    Linear: ``x`` ``(..., in_features)`` -> rows = every leading index. Conv2d: ``x`` ``(N, C_in, H, W)`` -> rows =
    ``N · H_out · W_out`` patches from ``F.unfold`` with the conv's kernel, stride, padding and dilation; columns in
    the order ``(C_in, kh, kw)`` of ``weight.reshape(C_out, -1)``. Grouped convs are refused (one ``H`` per group).
    """
    validate.module("layer", layer, (nn.Linear, nn.Conv2d))
    validate.tensor("x", x, kind="float", min_ndim=1)
    validate.dtype_of("x", x, "layer", layer)
    x = x.detach()
    if isinstance(layer, nn.Linear):
        if x.shape[-1] != layer.in_features:
            raise ValueError(f"x must end with the layer's {layer.in_features} input features, got shape "
                             f"{tuple(x.shape)}")
        return x.reshape(-1, layer.in_features)
    if layer.groups != 1:
        raise ValueError(f"layer has groups={layer.groups}: each group has its own inputs and Gram matrix; only "
                         "groups=1 convs are supported (a depthwise-separable pair: use its pointwise conv)")
    if layer.padding_mode != "zeros":
        raise ValueError(f"layer has padding_mode={layer.padding_mode!r}; only zero padding is supported")
    if x.ndim != 4 or x.shape[1] != layer.in_channels:
        raise ValueError(f"x must be a batch (N, {layer.in_channels}, H, W) for the conv, got shape {tuple(x.shape)}")
    padding = layer.padding
    if isinstance(padding, str):  # 'same' / 'valid': the conv's own (possibly uneven) zero padding, then none
        x, padding = F.pad(x, layer._reversed_padding_repeated_twice), 0
    cols = F.unfold(x, layer.kernel_size, dilation=layer.dilation, padding=padding, stride=layer.stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])  # (N, C·k·k, L) -> (N·L, C·k·k)


def _rows(name: str, inputs: Tensor) -> Tensor:
    validate.tensor(name, inputs, ndim=2, kind="float", non_empty=False)
    inputs = inputs.detach()
    return (inputs.cpu() if inputs.device.type == "mps" else inputs).double()  # MPS has no float64


def gram(inputs: Tensor) -> Tensor:
    """``H = XᵀX / n`` in float64 for inputs ``X`` ``(n, in)`` (``layer_inputs``): the mean over the rows."""
    x = _rows("inputs", inputs)
    if x.shape[0] == 0:
        raise ValueError("inputs must hold at least one row, got shape (0, ...)")
    return x.T @ x / x.shape[0]


class GramAccumulator:
    """``H = XᵀX / n`` (and the cross-Gram ``C = XᵀZ / n`` for paired inputs) accumulated batch by batch.

    ``acc.add(X)`` for each batch of rows (``layer_inputs``), then ``acc.H``: the same matrix as ``gram`` of all
    rows stacked, without holding them. ``acc.add(X, Z)`` with a second input matrix of the same rows (the dense
    network's inputs to the same layer) also gives ``acc.C``, what ``asymmetric_target`` needs. Sums in float64.
    """

    def __init__(self) -> None:
        self.n = 0
        self._xx: Tensor | None = None
        self._xz: Tensor | None = None

    def add(self, inputs: Tensor, others: Tensor | None = None) -> "GramAccumulator":
        x = _rows("inputs", inputs)
        if self._xx is not None and x.shape[1] != self._xx.shape[0]:
            raise ValueError(f"inputs must have the {self._xx.shape[0]} columns of the earlier batches, got "
                             f"{x.shape[1]}")
        if self.n and (others is None) != (self._xz is None):
            raise ValueError("others must be given for every batch or for none (the cross-Gram needs each row)")
        if others is not None:
            z = validate.same_shape("others", _rows("others", others), "inputs", x).to(x.device)
            self._xz = x.T @ z + (self._xz if self._xz is not None else 0.0)
        self._xx = x.T @ x + (self._xx if self._xx is not None else 0.0)
        self.n += x.shape[0]
        return self

    def _mean(self, total: Tensor | None, what: str) -> Tensor:
        if self.n == 0 or total is None:
            raise ValueError(f"no {what} yet: call add(inputs{', others' if what == 'paired rows' else ''}) first")
        return total / self.n

    @property
    def H(self) -> Tensor:
        """``XᵀX / n`` over every row added, float64 ``(in, in)``."""
        return self._mean(self._xx, "rows")

    @property
    def C(self) -> Tensor:
        """``XᵀZ / n`` over every pair of rows added, float64 ``(in, in)``."""
        return self._mean(self._xz, "paired rows")


def _check_wh(W: Tensor, H: Tensor) -> None:
    validate.tensor("W", W, ndim=2, kind="float")
    validate.tensor("H", H, ndim=2, kind="float")
    if H.shape != (W.shape[1], W.shape[1]):
        raise ValueError(f"H must be ({W.shape[1]}, {W.shape[1]}), the Gram matrix of W's {W.shape[1]} inputs, got "
                         f"{tuple(H.shape)}")
    for name, t in (("W", W), ("H", H)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} must hold finite numbers, got inf or nan entries")


def _f64(t: Tensor) -> Tensor:
    t = t.detach()
    return (t.cpu() if t.device.type == "mps" else t).double().clone()


def layer_error(W: Tensor, W_hat: Tensor, H: Tensor) -> float:
    """``tr((W − Ŵ) H (W − Ŵ)ᵀ)`` in float64: ``‖X Wᵀ − X Ŵᵀ‖² / n`` for ``H = XᵀX / n``, summed over outputs."""
    _check_wh(W, H)
    validate.same_shape("W_hat", validate.tensor("W_hat", W_hat, ndim=2, kind="float"), "W", W)
    d = _f64(W) - _f64(W_hat)
    return float(torch.einsum("oi,ij,oj->", d, _f64(H), d))


def _dead_and_damped(W: Tensor, H: Tensor, damp: float) -> tuple[Tensor, Tensor]:
    """Float64 copies: dead inputs (``H_jj = 0``) get ``H_jj = 1`` and ``W[:, j] = 0``, then the relative damping."""
    W, H = _f64(W), _f64(H)
    dead = torch.diagonal(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * torch.diagonal(H).mean() * torch.eye(H.shape[0], dtype=H.dtype, device=H.device)
    return W, H


def _cholesky(H: Tensor) -> Tensor:
    L, info = torch.linalg.cholesky_ex(H)
    if int(info):
        raise ValueError("H is not positive definite after damping (too few calibration rows for its size, or "
                         "linearly dependent inputs): increase damp")
    return L


def _inverse(H: Tensor) -> Tensor:
    return torch.cholesky_inverse(_cholesky(H))


def asymmetric_target(W: Tensor, H: Tensor, C: Tensor, damp: float = DAMP) -> Tensor:
    """``W* = argmin ‖X_s W*ᵀ − X_t Wᵀ‖² + λ‖W* − W‖²``: the weight that maps the student's inputs to the dense outputs.

    ``H = X_sᵀX_s / n``, ``C = X_sᵀX_t / n`` (``GramAccumulator.add(X_s, X_t)``); the normal equations are
    ``(H + λI) W*ᵀ = C Wᵀ + λ Wᵀ`` with ``λ = damp · mean(diag H)``: the ridge pulls ``W*`` toward ``W`` (as FSKD's
    toward the identity), so ``X_s = X_t`` gives ``W* = W`` exactly. With ``damp = 0`` the residual is orthogonal
    to the student's inputs, so ``‖X_s Ŵᵀ − X_t Wᵀ‖² / n = tr((W* − Ŵ) H (W* − Ŵ)ᵀ) + const``: compressing ``W*``
    with ``H`` minimises cross distillation's no-cross objective (Bai et al., AAAI 2020, Eq. 1). FSKD's Eq. 1 (Li et
    al., CVPR 2020; ``fskd.solve_pointwise`` without bias) is this solve with ``W = I`` and ``damp = ridge``.
    """
    _check_wh(W, H)
    validate.same_shape("C", validate.tensor("C", C, ndim=2, kind="float"), "H", H)
    validate.real("damp", damp, low=0.0)
    w, h = _f64(W), _f64(H)
    lam = damp * float(torch.diagonal(h).mean())
    eye = torch.eye(h.shape[0], dtype=h.dtype, device=h.device)
    target = _f64(C).to(h.device) @ w.T + lam * w.T
    sol = torch.cholesky_solve(target, _cholesky(h + lam * eye))
    return sol.T.to(W.dtype).to(W.device)


# ---------------------------------------------------------------------------------------------------------------
# 2. Pruning without updates: magnitude and Wanda
# ---------------------------------------------------------------------------------------------------------------

def _check_sparsity(sparsity: float) -> None:
    validate.real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)


def _lowest(scores: Tensor, k: int) -> Tensor:
    """Boolean mask of the ``k`` lowest scores of every row (True = prune); exact count, ties broken arbitrarily."""
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if k > 0:
        mask.scatter_(1, torch.topk(scores, k, dim=1, largest=False).indices, True)
    return mask


def _lowest_nm(scores: Tensor, n: int, m: int) -> Tensor:
    """Boolean mask of the ``n`` lowest scores in every group of ``m`` consecutive columns of each row (True = prune)."""
    groups = scores.reshape(scores.shape[0], -1, m)  # (out, in / m, m)
    return _lowest(groups.reshape(-1, m), n).reshape(scores.shape)


def _prune_by(W: Tensor, scores: Tensor, sparsity: float, nm: tuple[int, int] | None) -> Tensor:
    w = W.detach().clone()
    if nm is None:
        w[_lowest(scores, count(sparsity, W.shape[1]))] = 0
    else:
        n, m = _check_nm(nm, sparsity, W.shape[1])
        w[_lowest_nm(scores, n, m)] = 0
    return w


def magnitude_prune(W: Tensor, sparsity: float, nm: tuple[int, int] | None = None) -> Tensor:
    """Han et al. (NeurIPS 2015) per output row: zero the ``count(sparsity, in)`` smallest ``|W_ij|`` of each row.

    ``nm=(n, m)``: the n smallest of every m consecutive entries of a row instead (``sparsity`` must be ``n / m``).
    """
    validate.tensor("W", W, ndim=2, kind="float")
    _check_sparsity(sparsity)
    return _prune_by(W, W.detach().abs(), sparsity, nm)


def wanda_prune(W: Tensor, H: Tensor, sparsity: float, nm: tuple[int, int] | None = None) -> Tensor:
    """Wanda (Sun et al., ICLR 2024, Eq. 1): zero the lowest ``|W_ij| · ‖X_:,j‖`` of each row; no update.

    ``‖X_:,j‖ = √(n · H_jj)``, and ``√n`` is the same for every entry, so the score is ``|W_ij| · √H_jj``. With
    ``H ∝ I`` it is ``magnitude_prune``. Comparison groups are output rows, as in the paper; ``nm=(n, m)``: groups of
    m consecutive entries of a row, n pruned in each (the paper's n:m setting, e.g. 2:4).
    """
    _check_wh(W, H)
    _check_sparsity(sparsity)
    norms = torch.diagonal(H.detach()).clamp_min(0).sqrt().to(W.device, W.dtype)
    return _prune_by(W, W.detach().abs() * norms, sparsity, nm)


# ---------------------------------------------------------------------------------------------------------------
# 3. OBS, exactly and greedily per row (OBC)
# ---------------------------------------------------------------------------------------------------------------

def obc_prune(W: Tensor, H: Tensor, sparsity: float, damp: float = DAMP) -> Tensor:
    """OBC (Frantar & Alistarh, NeurIPS 2022, Algorithm 1): the Optimal Brain Surgeon, one weight at a time, per row.

    For each row, with ``Hi`` the inverse (damped) Hessian of the weights still alive, repeat ``count(sparsity, in)``
    times: prune ``q = argmin w_q² / Hi_qq`` (the saliency, OBS's loss increase up to a factor ½), update every
    weight by ``δ = −(w_q / Hi_qq) · Hi[:, q]`` (which sets ``w_q`` to zero), and remove ``q`` from ``Hi`` by the
    rank-one downdate ``Hi ← Hi − Hi[:, q] Hi[q, :] / Hi_qq``. After every step the survivors are the least-squares
    optimum for the zeros so far (the test's oracle). Exact and greedy, but slow: small layers only.

    The downdates are kept as their vectors ``v_t = Hi[:, q_t] / √Hi_qq`` and applied lazily: a step needs only
    ``Hi``'s diagonal and column ``q``, ``Hi₀[:, q] − Σ_t v_t v_t[q]`` — ``O(k² · in)`` per row instead of
    ``O(k · in²)`` for the whole matrix. Rows are processed together, as many as fit ``OBC_MEMORY`` entries.
    """
    _check_wh(W, H)
    _check_sparsity(sparsity)
    validate.real("damp", damp, low=0.0)
    w_all, h = _dead_and_damped(W, H, damp)
    hinv0, (rows, d) = _inverse(h), w_all.shape
    k = count(sparsity, d)
    chunk = max(1, OBC_MEMORY // max(1, k * d))
    for r0 in range(0, rows, chunk):
        w = w_all[r0:r0 + chunk]  # a view: updated in place
        r = torch.arange(len(w), device=w.device)
        vs = w.new_zeros(len(w), k, d)  # (R, k, in): the downdate vectors so far, one set per row
        diag = torch.diagonal(hinv0).expand(len(w), d).clone()  # (R, in): Hi's diagonal, kept up to date
        pruned = torch.zeros_like(w, dtype=torch.bool)
        for t in range(k):
            q = (w ** 2 / diag).masked_fill(pruned, float("inf")).argmin(1)  # (R,)
            vq = vs[:, :t].gather(2, q.view(-1, 1, 1).expand(-1, t, 1))  # (R, t, 1): v_s[q] for s < t
            col = hinv0[q] - torch.bmm(vq.transpose(1, 2), vs[:, :t]).squeeze(1)  # (R, in): Hi[:, q]
            hqq = col[r, q]
            w -= (w[r, q] / hqq)[:, None] * col
            vs[:, t] = col / hqq.sqrt()[:, None]
            diag -= vs[:, t] ** 2
            pruned[r, q] = True
            w[pruned] = 0.0  # exactly zero (the update leaves rounding residue)
    return w_all.to(W.dtype).to(W.device)


# ---------------------------------------------------------------------------------------------------------------
# 4. One sweep over the columns with error feedback: SparseGPT and GPTQ
# ---------------------------------------------------------------------------------------------------------------

def _hinv_cholesky(H: Tensor) -> Tensor:
    """``U`` upper triangular with ``H⁻¹ = Uᵀ U`` (the reference code's cholesky → cholesky_inverse → cholesky)."""
    return torch.linalg.cholesky(_inverse(H), upper=True)


def _sweep(W: Tensor, U: Tensor, blocksize: int, choose: Callable[[Tensor, int, int, Tensor], Tensor]) -> Tensor:
    """GPTQ's Algorithm 1 / SparseGPT's Algorithm 1 loop: columns left to right, lazy updates ``blocksize`` at a time.

    For column ``j``: ``q = choose(block, i, i1, U_block)`` (``block`` the current block's updated columns, ``i``
    the column's place in it, ``i1`` the block's first column), ``err = (w_j − q) / U_jj``, and the columns to the
    right move by ``−err ⊗ U[j, j:]`` — the OBS update for fixing ``w_j`` to ``q`` with the earlier columns already
    fixed. Inside a block this happens at once; the block's errors reach the later columns in one matrix product.
    """
    W = W.clone()
    d = W.shape[1]
    for i1 in range(0, d, blocksize):
        i2 = min(i1 + blocksize, d)
        block, u = W[:, i1:i2].clone(), U[i1:i2, i1:i2]
        err = torch.zeros_like(block)
        for i in range(i2 - i1):
            w = block[:, i].clone()
            q = choose(block, i, i1, u)
            err[:, i] = (w - q) / u[i, i]
            block[:, i:] -= err[:, i:i + 1] * u[i:i + 1, i:]
            block[:, i] = q  # exactly the chosen value (the update leaves rounding residue)
        W[:, i1:i2] = block
        W[:, i2:] -= err @ U[i1:i2, i2:]
    return W


def _check_sweep(blocksize: int, damp: float) -> None:
    validate.integer("blocksize", blocksize, low=1)
    validate.real("damp", damp, low=0.0)


def _check_nm(nm, sparsity: float, d: int, blocksize: int | None = None) -> tuple[int, int]:
    if not isinstance(nm, (tuple, list)) or len(nm) != 2:
        raise TypeError(f"nm must be a pair (n, m): prune n of every m consecutive inputs, got {validate.describe(nm)}")
    n, m = nm
    validate.integer("nm[1]", m, low=1)
    validate.integer("nm[0]", n, low=0, high=m - 1)
    if abs(sparsity - n / m) > 1e-12:
        raise ValueError(f"sparsity must equal n/m = {n / m} with nm={tuple(nm)}, got {sparsity}")
    if d % m or (blocksize is not None and blocksize % m):
        what = f"the inputs ({d})" + ("" if blocksize is None else f" and blocksize ({blocksize})")
        raise ValueError(f"nm={tuple(nm)} needs {what} to be multiples of m={m}")
    return n, m


def sparsegpt_prune(W: Tensor, H: Tensor, sparsity: float, blocksize: int = BLOCKSIZE, damp: float = DAMP,
                    nm: tuple[int, int] | None = None) -> Tensor:
    """SparseGPT (Frantar & Alistarh, ICML 2023, Algorithm 1): prune while sweeping the columns, errors fed forward.

    ``U`` is the upper Cholesky factor of ``H⁻¹``. At the start of each block the mask is chosen from the *updated*
    weights by the OBS saliency ``w_ij² / U_jj²`` (adaptive mask selection); pruned columns are set to zero and their
    error ``w_ij / U_jj`` flows to the columns on their right (``_sweep``). Updates only go right, so even for its
    own mask the result is not the least-squares optimum (``obc_prune``'s is).

    Mask per row, not per block: the paper ranks each block's entries over all rows, so rows end up with different
    sparsities. Here every row prunes ``count(s, i2) − count(s, i1)`` entries of block ``[i1, i2)``, which adds up to
    exactly ``count(s, in)`` per row, as for the other pruners. ``nm=(n, m)``: the paper's n:m extension (e.g.
    2:4): n of every m consecutive columns, chosen when the sweep reaches the group; ``sparsity`` must be ``n / m``.
    """
    _check_wh(W, H)
    _check_sparsity(sparsity)
    _check_sweep(blocksize, damp)
    if nm is not None:
        nm = _check_nm(nm, sparsity, W.shape[1], blocksize)
    w, h = _dead_and_damped(W, H, damp)
    mask = torch.zeros_like(w, dtype=torch.bool)  # True = pruned

    def choose(block: Tensor, i: int, i1: int, u: Tensor) -> Tensor:
        j, width = i1 + i, (block.shape[1] - i if nm is None else nm[1])
        if (nm is None and i == 0) or (nm is not None and j % width == 0):
            saliency = block[:, i:i + width] ** 2 / torch.diagonal(u)[None, i:i + width] ** 2  # OBS, w² / [H⁻¹]_jj
            quota = count(sparsity, j + width) - count(sparsity, j) if nm is None else nm[0]
            mask[:, j:j + width] = _lowest(saliency, quota)
        return block[:, i].masked_fill(mask[:, j], 0.0)

    return _sweep(w, _hinv_cholesky(h), blocksize, choose).to(W.dtype).to(W.device)


def rtn_quantize(W: Tensor, bits: int) -> Tensor:
    """Round to nearest on the course's symmetric ``bits``-bit grid, one scale per output row (``quantize``)."""
    validate.tensor("W", W, ndim=2, kind="float")
    return quantize_tensor(W.detach(), bits, per_channel=True)


def gptq_quantize(W: Tensor, H: Tensor, bits: int, blocksize: int = BLOCKSIZE, damp: float = DAMP,
                  act_order: bool = False) -> Tensor:
    """GPTQ (Frantar et al., ICLR 2023, Algorithm 1): round the columns in turn, each rounding error fed forward.

    The grid is ``rtn_quantize``'s — ``quantize.quant_scale`` per output row of the original ``W``, fixed before
    any update — so GPTQ and round-to-nearest differ only by the error feedback: column ``j`` is rounded after the
    updates of the columns on its left, and its error ``(w_j − q_j) / U_jj`` moves the columns on its right
    (``_sweep``, ``U`` the upper Cholesky factor of ``H⁻¹``). ``act_order``: columns in order of decreasing
    ``H_jj`` (the reference code's option for low bit widths).
    """
    _check_wh(W, H)
    scale = quant_scale(_f64(W), bits, per_channel=True)  # (out, 1), from the original weights; checks bits
    qmax = 2 ** (bits - 1) - 1
    _check_sweep(blocksize, damp)
    validate.flag("act_order", act_order)
    w, h = _dead_and_damped(W, H, damp)
    order = torch.argsort(torch.diagonal(h), descending=True) if act_order else torch.arange(w.shape[1])
    order = order.to(w.device)

    def choose(block: Tensor, i: int, i1: int, u: Tensor) -> Tensor:
        return torch.clamp(torch.round(block[:, i:i + 1] / scale), -qmax, qmax).flatten() * scale.flatten()

    out = torch.empty_like(w)
    out[:, order] = _sweep(w[:, order], _hinv_cholesky(h[order][:, order]), blocksize, choose)
    return out.to(W.dtype).to(W.device)

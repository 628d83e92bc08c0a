"""Uniform symmetric k-bit weight quantization, simulated in floating point ("fake quantization").

A weight ``w`` becomes ``q · scale`` with the integer ``q = clamp(round(w / scale), -Q, Q)``, ``Q = 2^(k-1) - 1``
and ``scale = max|w| / Q``: the uniform affine scheme of Jacob et al. (2018) with its zero point fixed at 0, per
tensor or per output channel as in Krishnamoorthi (2018, "Quantizing deep convolutional networks for efficient
inference: A whitepaper", Sec. 2). (Deep Compression, Han et al. 2016, shares k-means centroids instead.)

There are ``2Q + 1 = 2^k - 1`` levels and zero is one of them (pruned weights stay pruned); the largest weight is
represented exactly and nothing is clipped, so every weight's rounding error is at most ``scale / 2``.
``per_channel=True`` gives every output channel (dim 0) its own scale, so a channel of small weights is not rounded
on a grid sized for the largest one.

``quantize_clipped`` is the projection of the cross-distillation paper's appendix (Bai et al., AAAI 2020, Tables 17–18): the same
symmetric grid, sized by the largest weight after clipping at three standard deviations.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from . import validate

__all__ = ["quant_scale", "quantize_tensor", "quantize_model", "clip_range", "quantize_clipped"]


def _levels(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"bits must be an integer >= 2 (a symmetric grid needs -Q..Q with Q >= 1), got {bits!r}")
    return 2 ** (bits - 1) - 1


def quant_scale(w: Tensor, bits: int, per_channel: bool = False) -> Tensor:
    """The step ``max|w| / (2^(bits-1) - 1)``: a scalar tensor, or shape ``(C_out, 1, ..., 1)`` per channel."""
    validate.tensor("w", w, kind="float", non_empty=False)
    qmax = _levels(bits)
    w = w.detach()
    if per_channel and w.ndim > 1:
        amax = w.abs().reshape(w.shape[0], -1).amax(dim=1).view(-1, *([1] * (w.ndim - 1)))
    else:
        amax = w.abs().amax() if w.numel() else w.new_zeros(())
    if not bool(torch.isfinite(amax).all()):  # the step comes from max|w|: one inf or nan spoils every weight
        raise ValueError("w must hold finite numbers, got inf or nan entries")
    # an all-zero tensor or channel: any positive step represents it exactly
    return torch.where(amax > 0, amax / qmax, torch.ones_like(amax))


@torch.no_grad()
def quantize_tensor(w: Tensor, bits: int, per_channel: bool = False) -> Tensor:
    """Jacob et al. (2018) uniform quantization, zero point 0: ``w`` (any shape) on a ``bits``-bit grid, as floats."""
    validate.tensor("w", w, kind="float", non_empty=False)
    qmax = _levels(bits)
    scale = quant_scale(w, bits, per_channel)
    return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale


@torch.no_grad()
def quantize_model(model: nn.Module, bits: int, per_channel: bool = False) -> nn.Module:
    """A deep copy of ``model`` with ``bits``-bit conv and linear weights (biases and BatchNorm untouched)."""
    validate.module("model", model, nn.Module)
    _levels(bits)
    quantized = copy.deepcopy(model)
    for mod in quantized.modules():
        if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            mod.weight.copy_(quantize_tensor(mod.weight, bits, per_channel))
    return quantized


@torch.no_grad()
def clip_range(w: Tensor, clip_sigma: float | None = 3.0) -> float:
    """``max|w|`` after Bai et al.'s three-sigma truncation of ``w`` to ``mean ± clip_sigma·std`` (``None``: no clip)."""
    validate.tensor("w", w, kind="float")
    if clip_sigma is not None:
        validate.real("clip_sigma", clip_sigma, low=0.0)
    w = w.detach()
    amax = w.abs().max().item()
    if not math.isfinite(amax):
        raise ValueError("w must hold finite numbers, got inf or nan entries")
    if clip_sigma is not None and w.numel() > 1:
        amax = min(amax, abs(w.mean().item()) + clip_sigma * w.std().item())
    return amax


@torch.no_grad()
def quantize_clipped(w: Tensor, bits: int, clip_sigma: float | None = 3.0, amax: float | None = None) -> Tensor:
    """Bai et al.'s (AAAI 2020) appendix projection ``Π_Q(g(w))`` (Tables 17–18), as floats in ``w``'s units.

    ``Q = {0, ±1/(2^(B−1) − 1), …, ±1}``: the paper's symmetric grid with zero, ``2^B − 1`` levels (the sign takes
    one of the B bits, as in ``quantize_tensor``); ``g`` scales ``w`` onto [−1, 1] by ``amax``, the largest
    ``|w|`` after truncation to ``mean ± 3 std`` ("the three-sigma rule", so that a few outliers do not stretch
    the grid; weights beyond it are clipped to the outermost level). The paper prints ``g`` as the min–max map
    onto [0, 1], which cannot meet a grid symmetric around zero; scaling by ``amax`` is the reading that keeps its
    ``Q``. ``amax`` given (``clip_range`` of reference weights) fixes the grid, so the projection is onto one set
    while the weights move — what a proximal step needs (``cross.cross_distill(quantize=B)``).
    """
    validate.tensor("w", w, kind="float")
    qmax = _levels(bits)
    if amax is not None:
        validate.real("amax", amax, low=0.0)
    w = w.detach()
    amax = clip_range(w, clip_sigma) if amax is None else float(amax)
    if not amax > 0:
        return torch.zeros_like(w)
    scale = amax / qmax
    return torch.clamp(torch.round(w / scale), -qmax, qmax) * scale

"""The ``FSC_SCALE`` switch every notebook's ``parameters`` cell reads.

* ``quick`` — CI smoke run, at most 90 s per notebook on a 2-core CPU (numbers are not meaningful);
* ``standard`` — the default: Fashion-MNIST, real results, at most 10 minutes per notebook on a 2-core CPU;
* ``paper`` — the papers' CIFAR-10 VGG-16 / ResNet-56 settings, meant for one GPU.
"""
from __future__ import annotations

import os

__all__ = ["SCALES", "get_scale", "pick"]

SCALES = ("quick", "standard", "paper")


def get_scale(scale: str | None = None) -> str:
    """``scale`` if given, else ``$FSC_SCALE``, else ``"standard"``; an unknown name raises ``ValueError``."""
    scale = (scale or os.environ.get("FSC_SCALE") or "standard").strip().lower()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; set FSC_SCALE to one of: {', '.join(SCALES)}")
    return scale


def pick(scale: str, quick, standard, paper=None):
    """The value for ``scale``; ``paper`` defaults to ``standard``'s value."""
    return {"quick": quick, "standard": standard, "paper": standard if paper is None else paper}[get_scale(scale)]

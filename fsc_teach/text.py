"""Text as tensors: the corpus's splits as bytes, and the windows a language model is trained, calibrated and measured on.

A byte-level model reads text as its bytes: token = byte value, vocabulary 256, no tokenizer to learn. The text is
the course's fixed corpus (``corpus``: CPython's stdlib source split by file, and the English of the calibration
files, ``"prose"``), read from the committed files and checked against the manifest's sha256.

* ``load_split(split)``: the split's bytes, ``(N,)`` uint8.
* ``sample_sequences(tokens, n, length, seed)``: ``n`` windows of ``length + 1`` bytes at distinct offsets drawn by
  ``seed`` (``data.sample_indices``: the same seed gives the same windows, and the first ``n`` of a larger draw),
  ``(n, length + 1)`` int64 — a model reads ``w[:, :-1]`` and is scored on ``w[:, 1:]``. The calibration draws.
* ``eval_windows(tokens, length)``: windows overlapping by one byte that cover a whole split, so every byte but the
  first is predicted exactly once (``lm.evaluate_lm``).
"""
from __future__ import annotations

import hashlib
import lzma
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from . import validate
from .corpus import CORPUS_DIR, SPLITS, manifest
from .data import sample_indices

__all__ = ["SPLITS", "load_split", "split_files", "sample_sequences", "eval_windows"]


@lru_cache(maxsize=8)
def _split_bytes(split: str, directory: str) -> bytes:
    info = manifest(directory).get("splits", {}).get(split)
    path = Path(directory) / (info["file"] if info else f"{split}.txt.xz")
    if info is None or not path.is_file():
        raise FileNotFoundError(f"the corpus split {split!r} is not in {directory}: rebuild it with "
                                "`python -m fsc_teach.corpus build` (or restore fsc_teach/corpora/ from git)")
    data = lzma.decompress(path.read_bytes())
    if hashlib.sha256(data).hexdigest() != info["sha256"]:
        raise ValueError(f"{path} does not match the sha256 in the corpus manifest (damaged or edited); restore it "
                         "from git or rebuild with `python -m fsc_teach.corpus build`")
    return data


def load_split(split: str, directory: str | Path = CORPUS_DIR) -> Tensor:
    """The bytes of one corpus split (``"train"``, ``"validation"``, ``"calibration"``, ``"prose"``), ``(N,)`` uint8.

    Checked against the manifest's sha256 and cached per process; the tensor is a fresh copy each call.
    """
    validate.choice("split", split, SPLITS)
    validate.path("directory", directory)
    return torch.frombuffer(bytearray(_split_bytes(split, str(directory))), dtype=torch.uint8)


def split_files(split: str, directory: str | Path = CORPUS_DIR) -> dict[str, bytes]:
    """``{file name: its bytes}`` of a code split, in the order they are concatenated (``"prose"`` has no files)."""
    validate.choice("split", split, SPLITS[:3])
    data = _split_bytes(split, str(directory))
    out, at = {}, 0
    for name, info in manifest(directory)["files"].items():
        if info["split"] == split:
            out[name] = data[at:at + info["bytes"]]
            at += info["bytes"]
    return out


def _check_tokens(tokens: Tensor, length: int) -> None:
    validate.tensor("tokens", tokens, ndim=1, kind="integer")
    validate.integer("length", length, low=1)
    if len(tokens) < length + 1:
        raise ValueError(f"tokens must hold at least length + 1 = {length + 1} bytes for one window, got {len(tokens)}")


def sample_sequences(tokens: Tensor, n: int, length: int = 128, seed: int = 0) -> Tensor:
    """``n`` windows of ``length + 1`` consecutive tokens at distinct offsets drawn by ``seed``: ``(n, length + 1)`` int64.

    The offsets are ``data.sample_indices(len(tokens) − length, n, seed)`` (sorted): a fixed seed gives the same
    windows on every machine, and a smaller ``n`` with the same seed gives a subset of a larger draw's windows.
    """
    _check_tokens(tokens, length)
    validate.integer("n", n, low=1)
    validate.integer("seed", seed)
    starts = sample_indices(len(tokens) - length, n, seed)
    return tokens[starts[:, None] + torch.arange(length + 1)].long()


def eval_windows(tokens: Tensor, length: int = 128) -> list[Tensor]:
    """Windows that cover ``tokens`` for evaluation: ``[(W, length + 1)]`` starting every ``length`` tokens, plus a
    shorter ``(1, r + 1)`` tail when ``length`` does not divide ``len(tokens) − 1``; int64.

    Consecutive windows share one token (the last input of one is the first of the next), so each token but the first
    is a target exactly once: ``len(tokens) − 1`` predictions in all, each from at most ``length`` bytes of context.
    """
    _check_tokens(tokens, length)
    full = (len(tokens) - 1) // length
    starts = torch.arange(full) * length
    out = [tokens[starts[:, None] + torch.arange(length + 1)].long()]
    if full * length < len(tokens) - 1:
        out.append(tokens[full * length:].long()[None])
    return out

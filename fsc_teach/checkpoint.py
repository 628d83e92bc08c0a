"""Checkpoints that never lose work: atomic saves, ``weights_only`` loads, and a rebuild-on-failure cache.

A checkpoint is a plain dict ``{"format", "arch", "config", "state_dict", "meta"}`` so ``torch.load(...,
weights_only=True)`` can read it without unpickling arbitrary code, and the network is rebuilt from
``(arch, config)`` by ``models.build_model``.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from . import validate
from .models import BlockNet, build_model

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint", "cached_model", "sha256", "atomic_write_bytes"]

FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupted, or holds a different network than expected."""


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, write: Callable[[object], None]) -> None:
    """Write through ``write(file)`` into a temp file beside ``path``, fsync, then rename over ``path``.

    A crash at any point leaves either the old file or the new one, never a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files; give the result the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (used for manifests and result caches)."""
    _atomic_write(Path(path), lambda f: f.write(data))


def save_checkpoint(path: str | os.PathLike, model: BlockNet, meta: dict | None = None) -> Path:
    """Atomically save ``model`` (architecture, widths and weights) with a ``meta`` dict of plain values."""
    validate.path("path", path)
    validate.module("model", model, BlockNet)
    if meta is not None:
        validate.mapping("meta", meta, "of plain values (numbers, strings, lists, dicts)")
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "arch": model.arch, "config": model.config, "state_dict": state,
               "meta": dict(meta or {})}
    _atomic_write(path, lambda f: torch.save(payload, f))
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[BlockNet, dict]:
    """Load ``(model, meta)``; raises ``CheckpointError`` saying what is wrong and how to fix it."""
    validate.path("path", path)
    validate.device("map_location", map_location)
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not an fsc-teach checkpoint (format {FORMAT})")
        model = build_model(payload["arch"], payload["config"])
        model.load_state_dict(payload["state_dict"], strict=True)
    except CheckpointError:
        raise
    except Exception as err:  # truncated zip, unpickling refusal, missing/mismatched keys...
        raise CheckpointError(f"checkpoint {path} is corrupted or incompatible ({type(err).__name__}: "
                              f"{str(err)[:200]}); delete it or retrain (FSC_RETRAIN=1)") from err
    return model.to(map_location), payload.get("meta", {})


def cached_model(path: str | os.PathLike, train: Callable[[], tuple[BlockNet, dict]], *,
                 expect: dict | None = None, retrain: bool = False,
                 map_location: str | torch.device = "cpu") -> tuple[BlockNet, dict]:
    """Load the checkpoint at ``path`` if present and valid, otherwise ``train()`` and save it atomically.

    ``expect`` maps ``"arch"`` and/or ``"config"`` (or meta keys) to required values: a file that holds another
    network is treated like a corrupted one — rebuilt with a warning, never a crash.
    """
    _check_cached(path, train, expect, retrain, map_location)
    path = Path(path)
    if path.exists() and not retrain:
        try:
            model, meta = load_checkpoint(path, map_location)
            got = {"arch": model.arch, "config": model.config, **meta}
            wrong = {k: v for k, v in (expect or {}).items() if got.get(k) != v}
            if not wrong:
                return model, meta
            warnings.warn(f"checkpoint {path} does not match what was asked for ({sorted(wrong)}); rebuilding it",
                          stacklevel=2)
        except CheckpointError as err:
            warnings.warn(f"{err}; rebuilding it", stacklevel=2)
    model, meta = _trained(train)
    save_checkpoint(path, model, meta)
    return model.to(map_location), meta


def _check_cached(path, train, expect, retrain, map_location) -> None:
    validate.path("path", path)
    validate.function("train", train, "train() -> (model, meta)")
    if expect is not None:
        validate.mapping("expect", expect, "{'arch' or 'config' or a meta key: required value}")
    validate.flag("retrain", retrain)
    validate.device("map_location", map_location)


def _trained(train: Callable[[], tuple[BlockNet, dict]]) -> tuple[BlockNet, dict]:
    """``train()``'s result, checked to be the ``(model, meta)`` pair ``save_checkpoint`` needs."""
    result = train()
    if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[0], BlockNet):
        raise TypeError(f"train must return a pair (model, meta) with a BlockNet model, got "
                        f"{validate.describe(result)}")
    return result

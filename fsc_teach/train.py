"""Plain training and evaluation loops on in-memory tensors.

``fit`` trains any network on ``(x, y)`` tensors with explicit arguments and returns a history for plots;
``loss_fn(logits, x_batch, y_batch)`` replaces cross-entropy, which is how distillation plugs in (the teacher
sees exactly the batch the student sees, augmentation included). ``evaluate`` always restores the mode the
model was in, so a training loop that evaluates every epoch keeps training in train mode.
"""
from __future__ import annotations

import contextlib
import copy
import os
import random
import threading
import time
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import validate
from .data import augment_batch

__all__ = ["set_seed", "seeded", "get_device", "predict", "evaluate", "fit", "trainable_copy"]


# The global RNGs are shared by every thread: seeding and then drawing (building a layer) must not interleave with
# another thread's seeding when grid cells run side by side (``grid.run_grid``).
_RNG_LOCK = threading.RLock()


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so that the same seed gives the same numbers on the CPU."""
    with _RNG_LOCK:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int):
    """``set_seed(seed)``, then the block, with no other thread's ``set_seed``/``seeded`` in between.

    Wrap the global-RNG draws that must follow a seed (``nn.Conv2d(...)`` initialises from it) so that concurrent
    grid cells stay deterministic.
    """
    with _RNG_LOCK:
        set_seed(seed)
        yield


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` or ``$FSC_DEVICE`` if set, else CUDA, then Apple MPS, then the CPU.

    A device this machine does not have (``FSC_DEVICE=cuda`` without CUDA, a typo) raises ``ValueError`` naming the
    available ones, here rather than deep inside a training loop.
    """
    if prefer:
        return validate.device("device", prefer)
    if os.environ.get("FSC_DEVICE"):
        return validate.device("FSC_DEVICE", os.environ["FSC_DEVICE"].strip())
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def trainable_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (e.g. a frozen teacher) with every parameter trainable and in train mode."""
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(True)
    return clone.train()


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1000, device: torch.device | str | None = None) -> Tensor:
    """Logits of ``model`` on ``x`` in eval mode, computed in batches, returned on the CPU."""
    _check_inputs(model, x, batch_size)
    if device is not None:
        device = validate.device("device", device)
    else:  # where the model's weights are; a model without any runs where x is
        device = next(iter(model.parameters()), x).device
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + batch_size].to(device)).float().cpu()
                          for i in range(0, len(x), batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000,
             device: torch.device | str | None = None) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``(x, y)``; the model's train/eval mode is restored afterwards."""
    _check_inputs(model, x, batch_size)
    validate.labels("y", y, rows=len(x))
    return (predict(model, x, batch_size, device).argmax(1) == y).float().mean().item()


def fit(model: nn.Module, x: Tensor, y: Tensor, *, epochs: int = 10, batch_size: int = 128, lr: float = 0.05,
        optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 5e-4, schedule: str | None = "cosine",
        augment: bool | int = False, loss_fn: Callable[..., Tensor] | None = None, aux: Tensor | None = None,
        val: tuple[Tensor, Tensor] | None = None, seed: int = 0, device: torch.device | str | None = None,
        params=None, progress: bool = True, desc: str = "train") -> dict[str, list[float]]:
    """Train ``model`` in place with mini-batch SGD (Nesterov momentum) or Adam; returns per-epoch history.

    ``schedule``: ``"cosine"`` (per step, to zero), or ``None`` for a constant rate. ``augment``: random
    translations (``True``: 2 pixels, an int: that many) and horizontal flips (``data.augment_batch``).
    ``aux``: per-sample extra targets (e.g. cached teacher logits) indexed exactly like ``x``; its batch is passed
    as a fourth argument, ``loss_fn(logits, xb, yb, aux_b)``. It cannot be combined with ``augment``: cached
    targets describe the un-augmented image, not the view the student sees (method notes §1). ``params`` restricts what is optimised
    (default: all parameters). The history has ``epoch``, ``train_loss``, ``train_acc`` and, when ``val`` is
    given, ``val_acc``, plus the cumulative wall ``time`` in seconds.
    """
    _check_fit(model, x, y, loss_fn is None, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
               weight_decay=weight_decay, augment=augment, aux=aux, val=val, seed=seed)
    if aux is not None and augment:
        raise ValueError("aux must have one row per sample of x and cannot be used with augment=True "
                         "(cached targets would not match the augmented view); compute them per batch instead")
    set_seed(seed)
    device = get_device(device)
    model.to(device)
    channels_last = device.type == "cpu" and x.ndim == 4  # ~1.4x faster convolutions on the CPU, same numbers
    if channels_last:
        model.to(memory_format=torch.channels_last)
    params = list(model.parameters()) if params is None else list(params)
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {optimizer!r}; use 'sgd' or 'adam'")
    steps_per_epoch = (len(x) + batch_size - 1) // batch_size
    total_steps = max(1, epochs * steps_per_epoch)
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total_steps)
    elif schedule is None:
        sched = None
    else:
        raise ValueError(f"unknown schedule {schedule!r}; use 'cosine' or None")
    classes_to_check = loss_fn is None
    loss_fn = loss_fn or (lambda logits, _xb, yb: nn.functional.cross_entropy(logits, yb))
    pad = 2 if augment is True else int(augment)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "train_acc": [], "time": []}
    if val is not None:
        history["val_acc"] = []
    start = time.perf_counter()
    model.train()
    bar = tqdm(total=total_steps, desc=desc, disable=not progress, leave=False)
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(x), generator=gen)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(x), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            if pad:
                xb = augment_batch(xb, pad=pad, generator=gen)
            xb, yb = xb.to(device), yb.to(device)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            logits = model(xb)
            if classes_to_check:  # once: the labels must index the model's outputs (cross-entropy's classes)
                _check_classes(y, logits)
                classes_to_check = False
            loss = loss_fn(logits, xb, yb) if aux is None else loss_fn(logits, xb, yb, aux[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
            bar.update(1)
        history["epoch"].append(epoch)
        history["train_loss"].append(loss_sum / len(x))
        history["train_acc"].append(correct / len(x))
        if val is not None:
            history["val_acc"].append(evaluate(model, *val))  # evaluate() puts the model back in train mode
        history["time"].append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}",
                        **({"val": f"{history['val_acc'][-1]:.4f}"} if val is not None else {}))
    bar.close()
    if channels_last:
        model.to(memory_format=torch.contiguous_format)  # hand the model back as it came
    return history


def _check_inputs(model: nn.Module, x: Tensor, batch_size: int) -> None:
    validate.module("model", model, nn.Module)
    validate.tensor("x", x, min_ndim=2, kind="float")
    validate.dtype_of("x", x, "model", model)
    validate.integer("batch_size", batch_size, low=1)


def _check_fit(model: nn.Module, x: Tensor, y: Tensor, class_labels: bool, *, epochs, batch_size, lr, momentum,
               weight_decay, augment, aux, val, seed) -> None:
    """``fit``'s arguments, once before training; ``class_labels``: ``y`` feeds cross-entropy (no ``loss_fn``)."""
    _check_inputs(model, x, batch_size)
    if class_labels:
        validate.labels("y", y, rows=len(x))
    else:  # a custom loss_fn decides what y holds; it is still indexed like x
        validate.same_rows("y", validate.tensor("y", y, non_empty=False), "x", x)
    validate.integer("epochs", epochs, low=0)
    validate.real("lr", lr, low=0.0)
    validate.real("momentum", momentum, low=0.0)
    validate.real("weight_decay", weight_decay, low=0.0)
    if not isinstance(augment, bool):
        validate.integer("augment", augment, low=0)
    if aux is not None:
        validate.same_rows("aux", validate.tensor("aux", aux), "x", x)
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val must be a pair (x_val, y_val) of tensors, got {validate.describe(val)}")
        validate.tensor("val[0]", val[0], min_ndim=2, kind="float")
        validate.labels("val[1]", val[1], rows=len(val[0]))
    validate.integer("seed", seed)


def _check_classes(y: Tensor, logits: Tensor) -> None:
    if logits.ndim != 2:
        raise ValueError(f"model must return (batch, classes) logits for cross-entropy, got shape "
                         f"{tuple(logits.shape)}; pass a loss_fn for other outputs")
    validate.labels("y", y, num_classes=logits.shape[1])

"""The course's one training loop, and the small tools every method shares to hold networks.

``fit`` trains any network on ``(x, y)`` tensors with explicit arguments and returns a ``History``. Its one
extension point is the loss, which owns the forward pass::

    loss_fn(model, xb, yb, extra) -> (loss, logits)

``xb``/``yb`` are the batch (augmented if asked), ``extra`` the same rows of ``fit(..., extra=...)`` (e.g. cached
teacher outputs) or ``None``, and ``logits`` the ``(B, classes)`` outputs used for the training accuracy (``None``
when the loss has none, e.g. FitNets' hint stage). Distillation, FitNets and iterative KD are such losses: they
run the student (and the teacher, on the very batch the student sees) however they need — whole, or block by
block through ``models.block_io`` — with no wrapper modules or hooks.

``eval_mode(*models)`` holds networks in eval mode and restores each one's mode afterwards; ``freeze`` is how a
teacher is held (eval mode, no gradients); ``recalibrate_bn_`` re-estimates BatchNorm statistics on a few images.
"""
from __future__ import annotations

import contextlib
import copy
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from .progress import bar as tqdm

from . import validate
from .data import augment_batch

__all__ = ["set_seed", "seeded", "get_device", "eval_mode", "freeze", "trainable_copy", "recalibrate_bn_", "map_batches", "predict",
           "evaluate", "cross_entropy", "fit", "HISTORY_KEYS"]


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


@contextlib.contextmanager
def eval_mode(*models: nn.Module):
    """Every model in eval mode inside the block; each one's own mode (train or eval) is restored afterwards."""
    if not models:
        raise TypeError("eval_mode needs at least one model: with eval_mode(model): ...")
    for i, m in enumerate(models):
        validate.module(f"models[{i}]" if len(models) > 1 else "model", m, nn.Module)
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield models[0] if len(models) == 1 else models
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and ``requires_grad=False`` on every parameter: how a teacher is held. Returns ``model``."""
    validate.module("model", model, nn.Module)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def trainable_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (e.g. a frozen teacher) with every parameter trainable and in train mode."""
    validate.module("model", model, nn.Module)
    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(True)
    return clone.train()


@torch.no_grad()
def recalibrate_bn_(model: nn.Module, x: Tensor) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on ``x`` in one cumulative pass; returns ``model`` in eval mode.

    The statistics become exactly those of ``x`` (``momentum=None`` for the pass); the learned ``γ, β`` are kept.
    A pruned or distilled student whose features have moved away from the teacher's needs this before its
    BatchNorm layers describe its own activations.
    """
    validate.module("model", model, nn.Module)
    validate.tensor("x", x, min_ndim=2, kind="float")
    validate.dtype_of("x", x, "model", model)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if len(x) < 2 and any(isinstance(m, nn.BatchNorm1d) for m in bns):
        raise ValueError(f"x must hold at least 2 samples: a BatchNorm1d cannot estimate statistics from one, got "
                         f"shape {tuple(x.shape)}")
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: the statistics of exactly this batch
    model.train()
    model(x)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    return model.eval()


EVAL_BATCH = 100  # images per forward pass when evaluating (the fastest measured on a 2-core CPU, channels last)


def map_batches(fn: Callable[[Tensor], Any], batches: Sequence[Tensor], device: torch.device) -> list:
    """``[fn(b) for b in batches]``, on a CPU with the batches side by side on its cores, one intra-op thread each.

    Evaluation runs many independent batches through a small network; PyTorch's own parallelism splits each
    matrix product of a batch over the cores and gains little from a second core at these sizes (as for
    ``grid.run_grid``'s cells). A thread pool with one batch per core and one intra-op thread each (PyTorch releases
    the GIL in its kernels) evaluates 1.4–1.7× faster on the course's 2-core machines (10,000 test images through
    the Fashion-MNIST teacher: 3.5–3.8 s instead of 5.2–6.1 s; the GPT's validation split: 3.7–3.9 s instead of
    5.1–5.3 s). Each batch is computed by one thread alone and the results come back in the order of ``batches``,
    so they do not depend on which thread ran which batch. With one intra-op thread (inside ``run_grid``'s cells),
    one batch, or on a GPU, the batches simply run in turn. ``fn`` must not touch shared state.
    """
    threads = torch.get_num_threads()
    if device.type != "cpu" or threads < 2 or len(batches) < 2:
        return [fn(b) for b in batches]

    def alone(b: Tensor) -> Any:
        torch.set_num_threads(1)  # in this worker thread too (PyTorch's setting is per thread with OpenMP)
        with torch.no_grad():
            return fn(b)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(min(threads, len(batches))) as pool:
            return list(pool.map(alone, batches))
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = EVAL_BATCH,
            device: torch.device | str | None = None) -> Tensor:
    """Logits of ``model`` on ``x`` in eval mode, computed in batches, returned on the CPU.

    On a CPU, image batches run through a channels-last copy of the model (the model itself is not touched, so
    threads may share it): about 1.5× faster convolutions than the default layout on the course's 2-core machines
    (10,000 test images through the teacher: 6.6 s instead of 9.9 s on one core), the batches side by side on the
    cores (``map_batches``). The logits equal the default layout's up to float rounding.
    """
    _check_inputs(model, x, batch_size)
    if device is not None:
        device = validate.device("device", device)
    else:  # where the model's weights are; a model without any runs where x is
        device = next(iter(model.parameters()), x).device
    fast = device.type == "cpu" and x.ndim == 4
    net = copy.deepcopy(model).to(memory_format=torch.channels_last) if fast else model
    layout = torch.channels_last if fast else torch.preserve_format
    with eval_mode(net), torch.no_grad():
        return torch.cat(map_batches(lambda b: net(b.to(device).contiguous(memory_format=layout)).float().cpu(),
                                     [x[i:i + batch_size] for i in range(0, len(x), batch_size)], device))


def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = EVAL_BATCH,
             device: torch.device | str | None = None) -> float:
    """Top-1 accuracy in [0, 1] of ``model`` on ``(x, y)``; the model's train/eval mode is restored afterwards."""
    _check_inputs(model, x, batch_size)
    validate.labels("y", y, rows=len(x))
    return (predict(model, x, batch_size, device).argmax(1) == y).float().mean().item()


LossFn = Callable[[nn.Module, Tensor, Tensor, Optional[Tensor]], tuple[Tensor, Optional[Tensor]]]

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_acc", "time")


def cross_entropy(model: nn.Module, xb: Tensor, yb: Tensor, extra: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """``fit``'s default loss: ``model(xb)`` and its cross-entropy with the labels ``yb``."""
    logits = model(xb)
    return F.cross_entropy(logits, yb), logits


def fit(model: nn.Module, x: Tensor, y: Tensor, *, epochs: int = 10, batch_size: int = 128, lr: float = 0.05,
        optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 5e-4, schedule: str | None = "cosine",
        augment: bool | int = False, loss_fn: LossFn | None = None, extra: Tensor | None = None,
        modules: Sequence[nn.Module] = (), val: tuple[Tensor, Tensor] | None = None, seed: int = 0,
        device: torch.device | str | None = None, params=None, progress: bool = True,
        desc: str = "train") -> dict[str, list[float]]:
    """Train ``model`` in place with mini-batch SGD (Nesterov momentum) or Adam; returns its ``History``.

    ``loss_fn(model, xb, yb, extra_b) -> (loss, logits)`` (default ``cross_entropy``) computes each batch's loss,
    forward pass included (see the module docstring). ``extra``: per-sample tensors indexed exactly like ``x``
    (e.g. cached teacher logits or hints); its batch is the loss's fourth argument (``None`` without it). It
    cannot be combined with ``augment``: cached targets describe the un-augmented image, not the view the student
    sees. ``modules``: other networks the loss trains beside ``model`` (a FitNets regressor): moved to the
    device, in train mode, their parameters optimised. ``params`` restricts what is optimised (default: the
    parameters of ``model`` and ``modules``). ``schedule``: ``"cosine"`` (per step, to zero) or ``None``.
    ``augment``: random translations (``True``: 2 pixels, an int: that many) and horizontal flips.

    The ``History`` is a dict with exactly the keys ``HISTORY_KEYS``, one float per epoch in each: ``epoch``,
    ``train_loss`` (mean over the epoch's samples), ``train_acc`` (``argmax`` of the loss's logits against ``y``;
    NaN when the loss returns no logits), ``val_acc`` (on ``val``; NaN without it) and the cumulative wall
    ``time`` in seconds.
    """
    _check_fit(model, x, y, loss_fn is None, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
               weight_decay=weight_decay, augment=augment, extra=extra, modules=modules, val=val, seed=seed)
    if extra is not None and augment:
        raise ValueError("extra must have one row per sample of x and cannot be used with augment=True "
                         "(cached targets would not match the augmented view); compute them per batch instead")
    set_seed(seed)
    device = get_device(device)
    networks = [model, *modules]
    channels_last = device.type == "cpu" and x.ndim == 4  # ~1.4x faster convolutions on the CPU, same numbers
    for net in networks:
        net.to(device)
        if channels_last:
            net.to(memory_format=torch.channels_last)
    if params is None:
        params = [p for net in networks for p in net.parameters()]
    opt, sched = _optimizer(list(params), optimizer, lr, momentum, weight_decay, schedule,
                            epochs * ((len(x) + batch_size - 1) // batch_size))
    steps = _Steps(model, x, y, extra, loss_fn or cross_entropy, opt, sched, batch_size, device,
                   pad=2 if augment is True else int(augment), channels_last=channels_last, seed=seed,
                   check_classes=loss_fn is None)
    history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
    start = time.perf_counter()
    for net in networks:
        net.train()
    bar = tqdm(total=epochs * steps.per_epoch, desc=desc, disable=not progress, leave=False)
    for epoch in range(1, epochs + 1):
        train_loss, train_acc = steps.epoch(bar)
        history["epoch"].append(epoch)
        history["train_loss"].append(train_loss)
        history["train_acc"].append(train_acc)
        # evaluate() puts the model back in train mode
        history["val_acc"].append(evaluate(model, *val) if val is not None else float("nan"))
        history["time"].append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{train_loss:.3f}", **({"val": f"{history['val_acc'][-1]:.4f}"} if val else {}))
    bar.close()
    if channels_last:
        for net in networks:
            net.to(memory_format=torch.contiguous_format)  # hand the networks back as they came
    return history


class _Steps:
    """``fit``'s optimisation steps, one epoch at a time: a seeded shuffle, augmentation, the loss, the update."""

    def __init__(self, model, x, y, extra, loss_fn, opt, sched, batch_size, device, *, pad, channels_last, seed,
                 check_classes):
        self.model, self.x, self.y, self.extra, self.loss_fn = model, x, y, extra, loss_fn
        self.opt, self.sched, self.batch_size, self.device = opt, sched, batch_size, device
        self.pad, self.channels_last, self.check_classes = pad, channels_last, check_classes
        self.gen = torch.Generator().manual_seed(seed)
        self.per_epoch = (len(x) + batch_size - 1) // batch_size

    def epoch(self, bar) -> tuple[float, float]:
        """One pass over the data; returns the mean training loss and accuracy (NaN when the loss has no logits)."""
        x, y = self.x, self.y
        order = torch.randperm(len(x), generator=self.gen)
        loss_sum, correct, scored = 0.0, 0, True
        for i in range(0, len(x), self.batch_size):
            idx = order[i:i + self.batch_size]
            xb, yb = x[idx], y[idx]
            if self.pad:
                xb = augment_batch(xb, pad=self.pad, generator=self.gen)
            xb, yb = xb.to(self.device), yb.to(self.device)
            if self.channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            loss, logits = self.loss_fn(self.model, xb, yb,
                                        None if self.extra is None else self.extra[idx].to(self.device))
            if self.check_classes:  # once: the labels must index the model's outputs (cross-entropy's classes)
                _check_classes(y, logits)
                self.check_classes = False
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            if self.sched is not None:
                self.sched.step()
            loss_sum += loss.item() * len(idx)
            if logits is None:
                scored = False
            else:
                correct += (logits.argmax(1) == yb).sum().item()
            bar.update(1)
        return loss_sum / len(x), (correct / len(x) if scored else float("nan"))


def _optimizer(params: list[Tensor], name: str, lr: float, momentum: float, weight_decay: float,
               schedule: str | None, total_steps: int):
    """``fit``'s optimiser and learning-rate schedule (``None``: a constant rate)."""
    if name == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)
    elif name == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        raise ValueError(f"unknown optimizer {name!r}; use 'sgd' or 'adam'")
    if schedule == "cosine":
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, total_steps))
    if schedule is None:
        return opt, None
    raise ValueError(f"unknown schedule {schedule!r}; use 'cosine' or None")


def _check_inputs(model: nn.Module, x: Tensor, batch_size: int) -> None:
    validate.module("model", model, nn.Module)
    validate.tensor("x", x, min_ndim=2, kind="float")
    validate.dtype_of("x", x, "model", model)
    validate.integer("batch_size", batch_size, low=1)


def _check_fit(model: nn.Module, x: Tensor, y: Tensor, class_labels: bool, *, epochs, batch_size, lr, momentum,
               weight_decay, augment, extra, modules, val, seed) -> None:
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
    if extra is not None:
        validate.same_rows("extra", validate.tensor("extra", extra), "x", x)
    if not isinstance(modules, (list, tuple)):
        raise TypeError(f"modules must be a list of nn.Module, got {validate.describe(modules)}")
    for i, m in enumerate(modules):
        validate.module(f"modules[{i}]", m, nn.Module)
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val must be a pair (x_val, y_val) of tensors, got {validate.describe(val)}")
        validate.tensor("val[0]", val[0], min_ndim=2, kind="float")
        validate.labels("val[1]", val[1], rows=len(val[0]))
    validate.integer("seed", seed)


def _check_classes(y: Tensor, logits: Tensor | None) -> None:
    if logits is None or logits.ndim != 2:
        raise ValueError(f"model must return (batch, classes) logits for cross-entropy, got shape "
                         f"{tuple(logits.shape)}; pass a loss_fn for other outputs")
    validate.labels("y", y, num_classes=logits.shape[1])

"""Language modelling on bytes: the next-byte loss, training, evaluation, sampling and distillation of a ``models.GPT``.

* ``next_byte_loss(logits, targets)``: the mean cross-entropy of the next byte in nats per byte (``perplexity`` is
  its exponential); a model that knows nothing (uniform logits) scores ``ln 256 ≈ 5.545``.
* ``train_lm``: nanoGPT's loop (Karpathy, https://github.com/karpathy/nanoGPT, ``train.py``): each step a batch of
  random windows of the training bytes, AdamW (Loshchilov & Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101)
  with weight decay on the matrices only, linear warm-up then cosine decay to ``lr / 10``, gradients clipped at 1.
  Random windows rather than epochs over fixed images, so it is not ``train.fit``.
* ``evaluate_lm``: the mean nats/byte over a whole split, in the non-overlapping windows of ``text.eval_windows``.
* ``generate``: sampling one byte at a time, seeded.
* ``distill_lm``: Hinton et al.'s knowledge distillation (2015, https://arxiv.org/abs/1503.02531; ``losses.kd_loss``)
  on the teacher's next-byte distributions at every position of a few sequences — "recovery by distillation" of a
  compressed student on its calibration sequences only; its zeros stay zero (``prune.remask_``).
"""
from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import validate
from .losses import kd_loss
from .models import GPT
from .progress import bar
from .prune import remask_
from .text import eval_windows
from .train import eval_mode, get_device, map_batches, set_seed

__all__ = ["UNIFORM_LOSS", "next_byte_loss", "perplexity", "lm_loss", "train_lm", "evaluate_lm", "generate",
           "distill_lm"]

UNIFORM_LOSS = math.log(256)  # nats/byte of uniform guessing over 256 byte values
TEACHER_CACHE_BYTES = 256 * 2**20  # distill_lm keeps the teacher's logits of every sequence when they fit in this


def next_byte_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy ``−log p(x_{t+1} | x_≤t)`` in nats per byte; logits ``(B, T, V)``, targets ``(B, T)`` int64."""
    validate.tensor("logits", logits, ndim=3, kind="float")
    validate.tensor("targets", targets, ndim=2, kind="integer")
    if targets.shape != logits.shape[:2]:
        raise ValueError(f"targets must have the logits' (B, T) = {tuple(logits.shape[:2])}, got {tuple(targets.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def perplexity(nats: float) -> float:
    """``exp(nats per byte)``: the number of equally likely bytes the model is choosing among, on average."""
    validate.real("nats", nats, low=0.0)
    return math.exp(nats)


def lm_loss(model: nn.Module, windows: Tensor) -> tuple[Tensor, Tensor]:
    """``(loss, logits)`` of ``model`` on windows ``(B, T + 1)``: reads ``windows[:, :-1]``, scored on ``[:, 1:]``."""
    logits = model(windows[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1)), logits


def _check_model_tokens(model: nn.Module, tokens: Tensor, length: int | None, batch_size: int) -> int:
    """The window length (default: the model's context), after checking the arguments."""
    validate.module("model", model, GPT)
    validate.tensor("tokens", tokens, ndim=1, kind="integer")
    length = model.config["context"] if length is None else length
    validate.integer("length", length, low=1, high=model.config["context"])
    validate.integer("batch_size", batch_size, low=1)
    if len(tokens) < length + 1:
        raise ValueError(f"tokens must hold at least length + 1 = {length + 1} bytes, got {len(tokens)}")
    return length


def _schedule(step: int, steps: int, warmup: int, lr: float, min_lr: float) -> float:
    """nanoGPT's learning rate: linear warm-up over ``warmup`` steps, then cosine from ``lr`` to ``min_lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def _adamw(model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices (Linear weights, embeddings), none on biases and LayerNorm (nanoGPT)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}],
                             lr=lr, betas=betas)


def train_lm(model: GPT, tokens: Tensor, *, steps: int = 1000, batch_size: int = 32, length: int | None = None,
             lr: float = 2e-3, min_lr: float | None = None, warmup: int = 100, weight_decay: float = 0.1,
             betas: tuple[float, float] = (0.9, 0.99), grad_clip: float = 1.0, seed: int = 0, log_every: int = 50,
             device: torch.device | str | None = None, progress: bool = True, desc: str = "train LM") -> dict:
    """Train ``model`` in place on random windows of ``tokens`` ``(N,)`` (nanoGPT's loop, see the module docstring).

    Each step draws ``batch_size`` offsets from a generator seeded by ``seed`` (``set_seed(seed)`` too), so the
    same arguments give the same weights on the same machine. ``length``: window length (default the context).
    Returns ``{"step", "train_loss", "lr", "time"}``: every ``log_every`` steps, the mean loss over those steps
    (nats/byte), the learning rate and the cumulative seconds.
    """
    length = _check_model_tokens(model, tokens, length, batch_size)
    for name, value in (("steps", steps), ("warmup", warmup), ("log_every", log_every), ("seed", seed)):
        validate.integer(name, value, low=1 if name == "log_every" else 0)
    min_lr = lr / 10 if min_lr is None else min_lr
    for name, value in (("lr", lr), ("min_lr", min_lr), ("weight_decay", weight_decay), ("grad_clip", grad_clip)):
        validate.real(name, value, low=0.0)
    set_seed(seed)
    device = get_device(device)
    gen = torch.Generator().manual_seed(seed)
    model.to(device).train()
    opt = _adamw(model, lr, weight_decay, betas)
    history = {"step": [], "train_loss": [], "lr": [], "time": []}
    start, window, total = time.perf_counter(), torch.arange(length + 1), 0.0
    for step in bar(range(steps), desc=desc, disable=not progress, leave=False):
        for group in opt.param_groups:
            group["lr"] = _schedule(step, steps, warmup, lr, min_lr)
        offsets = torch.randint(0, len(tokens) - length, (batch_size,), generator=gen)
        loss, _ = lm_loss(model, tokens[offsets[:, None] + window].long().to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        total += loss.item()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            count = (step % log_every) + 1
            history["step"].append(step + 1)
            history["train_loss"].append(total / count)
            history["lr"].append(opt.param_groups[0]["lr"])
            history["time"].append(time.perf_counter() - start)
            total = 0.0
    return history


@torch.no_grad()
def evaluate_lm(model: GPT, tokens: Tensor, *, length: int | None = None, batch_size: int = 64,
                device: torch.device | str | None = None) -> float:
    """Mean nats per byte of ``model`` over every next-byte prediction of ``tokens`` ``(N,)``: ``N − 1`` of them, in
    the windows of ``text.eval_windows`` (each byte predicted once, from at most ``length`` bytes of context)."""
    length = _check_model_tokens(model, tokens, length, batch_size)
    device = next(iter(model.parameters())).device if device is None else validate.device("device", device)
    batches = [w[i:i + batch_size] for w in eval_windows(tokens, length) for i in range(0, len(w), batch_size)]

    def nats(w: Tensor) -> Tensor:  # the summed loss of one batch of windows, in float64 on the CPU
        w = w.to(device)
        logits = model(w[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                               reduction="sum").double().cpu()

    with eval_mode(model):
        total = torch.stack(map_batches(nats, batches, device)).sum()  # summed in batch order: deterministic
    return float(total) / (len(tokens) - 1)


@torch.no_grad()
def generate(model: GPT, prompt: bytes, n: int, temperature: float = 1.0, seed: int = 0,
             top_k: int | None = None) -> bytes:
    """``prompt`` followed by ``n`` bytes sampled one at a time from ``softmax(logits / temperature)`` (``top_k``: only
    the k likeliest), by a generator seeded with ``seed``; ``temperature=0`` takes the likeliest byte (greedy).

    The model sees at most its last ``context`` bytes. Decode the result with ``.decode("utf-8", "replace")``.
    """
    validate.module("model", model, GPT)
    if not isinstance(prompt, (bytes, bytearray)) or not prompt:
        raise TypeError(f"prompt must be non-empty bytes (e.g. 'def '.encode()), got {validate.describe(prompt)}")
    validate.integer("n", n, low=0)
    validate.real("temperature", temperature, low=0.0)
    validate.integer("seed", seed)
    if top_k is not None:
        validate.integer("top_k", top_k, low=1, high=model.config["vocab_size"])
    gen = torch.Generator().manual_seed(seed)
    device = next(iter(model.parameters())).device
    idx = torch.tensor(list(prompt), dtype=torch.long)[None]
    with eval_mode(model):
        for _ in range(n):
            logits = model(idx[:, -model.config["context"]:].to(device))[0, -1].float().cpu()  # (V,)
            if temperature == 0:
                nxt = logits.argmax()[None]
            else:
                logits = logits / temperature
                if top_k is not None:
                    logits[logits < torch.topk(logits, top_k).values[-1]] = -float("inf")
                nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=gen)
            idx = torch.cat([idx, nxt[None]], dim=1)
    return bytes(idx[0].tolist())


def distill_lm(student: GPT, teacher: GPT, sequences: Tensor, *, T: float = 1.0, steps: int = 200,
               batch_size: int = 16, lr: float = 1e-4, weight_decay: float = 0.0, seed: int = 0,
               keep_zeros: bool = True, progress: bool = True, desc: str = "distill LM") -> dict:
    """Hinton KD (``losses.kd_loss``: ``T²·KL(p_t^T ‖ p_s^T)``) of the next-byte distributions at every position of
    ``sequences`` ``(n, L)`` (the student reads ``sequences[:, :-1]``), for ``steps`` AdamW steps with a cosine
    decay from ``lr`` to 0, batches drawn by ``seed``. The student is trained in place (every parameter made
    trainable) and returned in eval mode; the teacher is only read.

    ``keep_zeros``: every weight of the student that is exactly zero now (a pruned one) stays zero
    (``prune.remask_`` after each backward pass and step), so the sparsity is kept. A quantized student leaves its
    grid. Returns ``{"step", "kd_loss", "time"}``, one entry per step.
    """
    _check_distill(student, teacher, sequences, T, steps, batch_size, lr, weight_decay, seed, keep_zeros)
    set_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    device = next(student.parameters()).device
    masks = {name: p != 0 for name, p in student.named_parameters() if p.ndim == 2 and bool((p == 0).any())} \
        if keep_zeros else {}
    for p in student.parameters():  # a copy of a frozen teacher (compress_model's default student) arrives frozen
        p.requires_grad_(True)
    opt = _adamw(student, lr, weight_decay, (0.9, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    history, start = {"step": [], "kd_loss": [], "time": []}, time.perf_counter()
    inputs = sequences[:, :-1].long()
    cached = _teacher_logits(teacher, inputs, device) if inputs.numel() * teacher.config["vocab_size"] * 4 \
        <= TEACHER_CACHE_BYTES else None  # the teacher is fixed: few sequences' logits are computed once
    student.train()
    with eval_mode(teacher):
        for step in bar(range(steps), desc=desc, disable=not progress, leave=False):
            rows = torch.randint(0, len(sequences), (batch_size,), generator=gen)
            batch = inputs[rows].to(device)
            if cached is not None:
                t_logits = cached[rows.to(cached.device)]
            else:
                with torch.no_grad():
                    t_logits = teacher(batch.to(next(teacher.parameters()).device)).to(device)
            s_logits = student(batch)
            loss = kd_loss(s_logits.reshape(-1, s_logits.shape[-1]), t_logits.reshape(-1, t_logits.shape[-1]), T)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            remask_(student, masks, opt)  # zero gradients of pruned weights and their Adam moments
            opt.step()
            sched.step()
            remask_(student, masks, opt)  # and the weights (weight decay is off for them, but be exact)
            history["step"].append(step + 1)
            history["kd_loss"].append(loss.item())
            history["time"].append(time.perf_counter() - start)
    student.eval()
    return history


@torch.no_grad()
def _teacher_logits(teacher: GPT, inputs: Tensor, device: torch.device, batch_size: int = 64) -> Tensor:
    """The teacher's logits ``(n, L, V)`` for every row of ``inputs``, in eval mode, on ``device``."""
    with eval_mode(teacher):
        tdev = next(teacher.parameters()).device
        return torch.cat([teacher(inputs[i:i + batch_size].to(tdev)).to(device)
                          for i in range(0, len(inputs), batch_size)])


def _check_distill(student, teacher, sequences, T, steps, batch_size, lr, weight_decay, seed, keep_zeros) -> None:
    validate.module("student", student, GPT)
    validate.module("teacher", teacher, GPT)
    if student.config["vocab_size"] != teacher.config["vocab_size"]:
        raise ValueError(f"student must predict the teacher's {teacher.config['vocab_size']} tokens, got "
                         f"{student.config['vocab_size']}")
    validate.tensor("sequences", sequences, ndim=2, kind="integer")
    if sequences.shape[1] < 2:
        raise ValueError(f"sequences must be windows (n, L) with L >= 2 (inputs and a next byte), got shape "
                         f"{tuple(sequences.shape)}")
    validate.tokens("sequences[:, :-1]", sequences[:, :-1].long(), "student", student)
    validate.real("T", T, low=0.0, low_open=True)
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seed", seed)):
        validate.integer(name, value, low=1 if name == "batch_size" else 0)
    validate.real("lr", lr, low=0.0)
    validate.real("weight_decay", weight_decay, low=0.0)
    validate.flag("keep_zeros", keep_zeros)

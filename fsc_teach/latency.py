"""Wall-clock latency of a forward pass: what a compression saves on a real machine, as opposed to on paper.

Parameter and FLOP counts (``models.count_params`` / ``count_flops``) say what a network *could* cost. Latency
says what it costs here: a dense kernel multiplies zeros as fast as any other number, so an unstructured mask
saves nothing until a sparse kernel or sparse hardware skips them, while a filter-pruned network is a smaller
dense network. ``time_forward`` times several networks on the same batch, interleaved (run r of every network before
run r + 1 of any), after warm-up runs, with a fixed number of threads, and reports the median (robust to the
occasional slow run of a shared machine) and the quartiles. Timings depend on the machine, its load, the batch
size and the thread count: compare networks measured together, not numbers from different machines.
Introduced in notebook 01, §7.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import Tensor, nn

from . import validate

__all__ = ["Latency", "time_forward"]


@dataclass(frozen=True)
class Latency:
    """Seconds per forward pass of one batch: every timed run, their median and quartiles, and the setting."""

    times_s: tuple[float, ...]
    batch: int
    threads: int
    warmup: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def quartiles_s(self) -> tuple[float, float]:
        """First and third quartile of the timed runs (the middle half of them lies between)."""
        if len(self.times_s) < 2:
            return self.times_s[0], self.times_s[0]
        q1, _, q3 = statistics.quantiles(self.times_s, n=4, method="inclusive")
        return q1, q3

    @property
    def ms_per_image(self) -> float:
        return 1e3 * self.median_s / self.batch


def _check_measure(models, x, runs, warmup, threads) -> None:
    validate.mapping("models", models, "{name: network}")
    if not models:
        raise ValueError("models must name at least one network: {'dense': model, ...}")
    for name, m in models.items():
        validate.module(f"models[{name!r}]", m, nn.Module)
        validate.images("x", x, f"models[{name!r}]", m)
    validate.integer("runs", runs, low=1)
    validate.integer("warmup", warmup, low=0)
    if threads is not None:
        validate.integer("threads", threads, low=1)


def _sync(x: Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


@torch.no_grad()
def time_forward(models: Mapping[str, nn.Module], x: Tensor, *, runs: int = 20, warmup: int = 3,
            threads: int | None = None) -> dict[str, Latency]:
    """``{name: Latency}`` of ``model(x)`` for every network, in eval mode without autograd, on ``x``'s device.

    Each network first runs ``warmup`` untimed passes (allocations, kernel selection, caches), then ``runs`` timed
    ones, interleaved across the networks so that a change of machine load hits all of them alike. ``threads``:
    PyTorch's intra-op threads during the measurement (default: the current setting); restored afterwards, as
    are the networks' train/eval modes.
    """
    _check_measure(models, x, runs, warmup, threads)
    old_threads = torch.get_num_threads()
    threads = threads or old_threads
    modes = {name: m.training for name, m in models.items()}
    times = {name: [] for name in models}
    torch.set_num_threads(threads)
    try:
        for m in models.values():
            m.eval()
            for _ in range(warmup):
                m(x)
        for _ in range(runs):
            for name, m in models.items():
                _sync(x)
                start = time.perf_counter()
                m(x)
                _sync(x)  # a GPU runs asynchronously: wait for it before reading the clock
                times[name].append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(old_threads)
        for name, m in models.items():
            m.train(modes[name])
    return {name: Latency(tuple(t), len(x), threads, warmup) for name, t in times.items()}

"""Experiment grids: independent cells run on every CPU core, with a cache that makes a run resumable.

A *cell* is a dict of keyword arguments (``{"method": "FSKD", "k": 5, "seed": 0}``); ``fn(**cell)`` computes it
and returns its result. ``run_grid(fn, cells)`` returns the results in the order of ``cells``.

* **Cores.** The layer-wise methods of this course run on a few images, where PyTorch gains almost nothing from a
  second intra-op thread; two cells side by side, one thread each, finish about 1.6× sooner on a 2-core CPU.
  ``run_grid`` therefore runs every cell with *one* intra-op thread, ``workers`` cells at a time in Python threads
  (PyTorch releases the GIL inside its kernels). One thread per cell also makes the numbers independent of
  ``workers``: 1, 2 or 16 workers give bit-identical results, because each cell's arithmetic is the same.
* **Randomness.** Cells run concurrently, so ``fn`` must draw random numbers only from generators it seeds itself
  (``cross.cross_distill``, ``fskd.fskd``, ``train.fit`` and the samplers of ``data`` do) — never from the global
  RNG (``torch.manual_seed`` followed by building a layer is a race). Cells that need the global RNG (building a
  fresh model, FitNet's regressor) belong in a grid with ``workers=1``.
* **Cache.** ``cache`` is a dict (in memory: a notebook reuses a cell that an earlier table already ran) or the
  path of a JSON-lines file: each finished cell is appended as one line and flushed to disk at once, and a later
  run with the same file skips every cell it already holds. An interrupted run (Ctrl-C, a killed job, a crash in
  one cell) loses nothing that had finished and continues where it stopped; a half-written last line is ignored.
  File results must be JSON values (numbers, strings, lists, dicts); JSON keeps floats exactly.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Mapping, MutableMapping, Sequence

import torch
from tqdm.auto import tqdm

__all__ = ["cell_key", "load_cache", "run_grid", "default_workers"]


def cell_key(cell: Mapping[str, Any]) -> str:
    """The cache key of a cell: its arguments as canonical JSON (key order does not matter)."""
    try:
        return json.dumps(cell, sort_keys=True, separators=(",", ":"))
    except TypeError as err:
        raise TypeError(f"a grid cell must hold JSON values (numbers, strings, lists); got {cell!r}: {err}") from None


def load_cache(path: str | os.PathLike) -> dict[str, Any]:
    """``{cell_key: result}`` from a JSON-lines cache; a missing file is empty, a truncated last line is skipped."""
    path = Path(path)
    out: dict[str, Any] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            out[row["key"]] = row["result"]
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # an interrupted write: that cell simply runs again
    return out


class _FileCache:
    """A dict-like JSON-lines file: every ``__setitem__`` appends one line and flushes it to disk."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.data = load_cache(self.path)
        if self.path.is_file() and self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n"):
            with open(self.path, "a", encoding="utf-8") as f:  # end a half-written line before appending
                f.write("\n")

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, result: Any) -> None:
        line = json.dumps({"key": key, "result": result}, separators=(",", ":"))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.data[key] = json.loads(line)["result"]  # what a resumed run will read back


def default_workers() -> int:
    """One worker per CPU core this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _settle(future: Future, fn: Callable[..., Any], cell: Mapping[str, Any]) -> None:
    """Run one cell in this thread and settle ``future`` with its result or exception (nothing if it was cancelled).

    ``future`` exists, and is known to the main thread, before the cell is handed to a thread (``_run_pool``), and
    ``set_running_or_notify_cancel`` decides atomically between "cancelled" and "started": an interruption at any
    moment finds every cell that started.
    """
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(**cell)
    except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
        future.set_exception(err)
    else:
        future.set_result(result)


def _keep_running(pending: Mapping[Future, str], store: MutableMapping[str, Any]) -> None:
    """After an interruption: cancel the cells not started yet, wait for the running ones and store their results."""
    for f in pending:
        f.cancel()
    for f, k in pending.items():
        if f.cancelled() or k in store:
            continue
        try:
            store[k] = f.result()  # a cell that was already running: wait for it and keep it
        except BaseException:  # noqa: BLE001 - the first error is the one re-raised by the caller
            pass


def _run_pool(fn: Callable[..., Any], todo: list[str], by_key: Mapping[str, Mapping[str, Any]],
              store: MutableMapping[str, Any], workers: int, bar) -> None:
    """Run ``todo`` in ``workers`` threads, storing each result (in this thread) the moment its cell finishes.

    Only this thread submits, ``workers`` cells at a time, the next one as each finishes: once it is interrupted,
    no further cell starts. On an exception in a cell, or Ctrl-C in this thread: cells not yet started are
    cancelled, cells already running are waited for and kept, then the exception propagates.
    """
    queue = iter(todo)
    pending: dict[Future, str] = {}

    def submit_next() -> None:
        k = next(queue, None)
        if k is not None:
            future: Future = Future()
            pending[future] = k  # known before the cell can start
            pool.submit(_settle, future, fn, by_key[k])

    with ThreadPoolExecutor(workers) as pool:
        try:
            for _ in range(workers):
                submit_next()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    store[pending[f]] = f.result()  # a cell's exception propagates from here
                    del pending[f]
                    bar.update(1)
                    submit_next()
        except BaseException:
            _keep_running(pending, store)
            raise


def run_grid(fn: Callable[..., Any], cells: Sequence[Mapping[str, Any]], *, workers: int | None = None,
             cache: MutableMapping[str, Any] | str | os.PathLike | None = None, progress: bool = True,
             desc: str = "grid") -> list[Any]:
    """``[fn(**cell) for cell in cells]``, ``workers`` cells at a time (default: one per core), one thread each.

    Cells already in ``cache`` (a dict, or a JSON-lines file path) are not recomputed; new results are added to
    it as each cell finishes. If a cell raises, or the run is interrupted (Ctrl-C), the cells still running finish
    and are cached, the rest are not started, and the exception propagates.
    """
    store: Any = _FileCache(cache) if isinstance(cache, (str, os.PathLike)) else ({} if cache is None else cache)
    keys = [cell_key(c) for c in cells]
    todo = list(dict.fromkeys(k for k in keys if k not in store))  # duplicates run once
    by_key = {k: c for k, c in zip(keys, cells)}
    workers = max(1, min(default_workers() if workers is None else int(workers), len(todo) or 1))
    threads = torch.get_num_threads()
    total = len(by_key)
    bar = tqdm(total=total, initial=total - len(todo), desc=desc, disable=not progress, leave=False)
    torch.set_num_threads(1)
    try:
        if workers == 1:
            for k in todo:
                store[k] = fn(**by_key[k])
                bar.update(1)
        else:
            _run_pool(fn, todo, by_key, store, workers, bar)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return [store[k] for k in keys]

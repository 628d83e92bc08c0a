"""Experiment grids: independent cells on every CPU core or on a cluster, with a cache that makes a run resumable.

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
* **Interruption.** Only the calling thread submits cells, ``workers`` at a time, the next as each finishes: after
  Ctrl-C (or an exception in a cell) no further cell starts, the cells still running finish and are cached, and
  the exception propagates.
* **Executors.** ``executor=`` (any ``concurrent.futures.Executor``) runs the cells elsewhere instead of in threads,
  e.g. on a Dask cluster: ``distributed.Client(address).get_executor(pure=False)`` (``dask_executor``; Dask is the
  optional extra ``fsc-teach[cluster]``). Each cell is submitted as ``_call_cell(fn, cell)``, which gives the cell
  one intra-op thread in the worker too (restored afterwards), so ``fn`` must be picklable: a module-level
  function, loading what it needs (a teacher, a dataset) inside the worker, once per process. ``workers`` then caps
  the cells submitted at a time (default: all of them; the executor queues them). Results come back through the
  futures and **only the calling process writes the cache** — one writer, never a worker. A cell whose worker
  dies is recomputed by Dask itself (the scheduler reruns it on another worker; nothing finished is lost). When
  Dask gives up on a cell (``KilledWorker``: workers died while running it more than
  ``distributed.scheduler.allowed-failures`` times, 3 by default, so the cell itself probably kills them — out of
  memory?) ``run_grid`` does not resubmit it: it raises a ``RuntimeError`` that names the cell, and a rerun resumes
  from the cache. On Ctrl-C the cells that the executor can still cancel are cancelled (Dask drops running tasks
  too: their work is lost) and those it cannot are waited for and cached.
"""
from __future__ import annotations

import json
import os
import pickle
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Mapping, MutableMapping, Sequence

import torch
from .progress import bar as tqdm

from . import validate

__all__ = ["cell_key", "load_cache", "run_grid", "default_workers", "dask_executor"]


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


def _call_cell(fn: Callable[..., Any], cell: Mapping[str, Any]) -> Any:
    """``fn(**cell)`` with one intra-op thread in the calling thread, its own setting restored afterwards.

    What every cell runs as, in a thread of this process or in an executor's worker process (PyTorch's thread
    setting is per thread: each cell sets its own).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(**cell)
    finally:
        torch.set_num_threads(threads)


def _settle(future: Future, fn: Callable[..., Any], cell: Mapping[str, Any]) -> None:
    """Run one cell in this thread and settle ``future`` with its result or exception (nothing if it was cancelled).

    ``future`` exists, and is known to the main thread, before the cell is handed to a thread (``_start_in_thread``),
    and ``set_running_or_notify_cancel`` decides atomically between "cancelled" and "started": an interruption at
    any moment finds every cell that started.
    """
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = _call_cell(fn, cell)
    except BaseException as err:  # noqa: BLE001 - handed to the main thread, which re-raises it
        future.set_exception(err)
    else:
        future.set_result(result)


def _start_in_thread(pool: ThreadPoolExecutor, fn: Callable[..., Any], cell: Mapping[str, Any], key: str,
                     pending: dict[Future, str]) -> None:
    """Hand one cell to ``pool``, its future registered in ``pending`` before a thread can start it."""
    future: Future = Future()
    pending[future] = key
    pool.submit(_settle, future, fn, cell)


def _start_on_executor(executor: Executor, fn: Callable[..., Any], cell: Mapping[str, Any], key: str,
                       pending: dict[Future, str]) -> None:
    """Submit one cell to ``executor`` as ``_call_cell(fn, cell)`` (positional: no clash with the executor's own
    keywords, such as Dask's ``key`` or ``workers``)."""
    pending[executor.submit(_call_cell, fn, dict(cell))] = key


def _check_picklable(fn: Callable[..., Any]) -> None:
    """A clear error, before anything is submitted, when ``fn`` cannot be sent to another process."""
    try:
        pickle.dumps(fn)
    except Exception as err:  # noqa: BLE001 - pickle raises several types
        raise TypeError(f"run_grid(executor=...) sends fn to other processes, so it must be picklable: a "
                        f"module-level function (or a functools.partial of one), not a lambda or a function defined "
                        f"inside another; got {fn!r} ({err})") from None


def _outcome(future: Future, cell: Mapping[str, Any]) -> Any:
    """The cell's result; a cell that Dask gave up on because its workers died (``KilledWorker``) is a clear error."""
    try:
        return future.result()
    except Exception as err:
        if type(err).__name__ == "KilledWorker":
            raise RuntimeError(
                f"grid cell {cell_key(cell)} was lost: the Dask workers that ran it died (KilledWorker). Dask had "
                f"already rerun it on other workers, up to distributed.scheduler.allowed-failures times, so the cell "
                f"itself probably kills them (out of memory?). The finished cells are in the cache: fix the cause "
                f"and run again to resume.") from err
        raise


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


def _run_cells(start: Callable[[Mapping[str, Any], str, dict[Future, str]], None], todo: list[str],
               by_key: Mapping[str, Mapping[str, Any]], store: MutableMapping[str, Any], limit: int, bar) -> None:
    """Start ``limit`` cells with ``start(cell, key, pending)``, then the next one as each finishes, storing each
    result (in this thread: the only writer of ``store``) the moment it arrives.

    Only this thread starts cells, so once it is interrupted no further cell starts. On an exception in a cell, or
    Ctrl-C in this thread: cells not yet started are cancelled, cells already running are waited for and kept,
    then the exception propagates.
    """
    queue = iter(todo)
    pending: dict[Future, str] = {}

    def start_next() -> None:
        k = next(queue, None)
        if k is not None:
            start(by_key[k], k, pending)

    try:
        for _ in range(limit):
            start_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                store[pending[f]] = _outcome(f, by_key[pending[f]])  # a cell's exception propagates from here
                del pending[f]
                bar.update(1)
                start_next()
    except BaseException:
        _keep_running(pending, store)
        raise


def run_grid(fn: Callable[..., Any], cells: Sequence[Mapping[str, Any]], *, workers: int | None = None,
             cache: MutableMapping[str, Any] | str | os.PathLike | None = None, progress: bool = True,
             desc: str = "grid", executor: Executor | None = None) -> list[Any]:
    """``[fn(**cell) for cell in cells]``, ``workers`` cells at a time (default: one per core), one thread each.

    Cells already in ``cache`` (a dict, or a JSON-lines file path) are not recomputed; new results are added to
    it as each cell finishes. If a cell raises, or the run is interrupted (Ctrl-C), the cells still running finish
    and are cached, the rest are not started, and the exception propagates.

    ``executor`` (e.g. ``dask_executor(address)``) runs the cells there instead of in threads; ``fn`` must then be
    picklable, ``workers`` caps the cells submitted at a time (default: all) and only this process writes the
    cache (see the module's notes on executors, workers that die and ``KilledWorker``).
    """
    _check_grid(fn, cells, workers, cache)
    store: Any = _FileCache(cache) if isinstance(cache, (str, os.PathLike)) else ({} if cache is None else cache)
    keys = [cell_key(c) for c in cells]
    todo = list(dict.fromkeys(k for k in keys if k not in store))  # duplicates run once
    by_key = {k: c for k, c in zip(keys, cells)}
    if executor is not None and not isinstance(executor, ThreadPoolExecutor):
        _check_picklable(fn)
    default = len(todo) if executor is not None else default_workers()
    workers = max(1, min(default if workers is None else int(workers), len(todo) or 1))
    threads = torch.get_num_threads()
    total = len(by_key)
    bar = tqdm(total=total, initial=total - len(todo), desc=desc, disable=not progress, leave=False)
    torch.set_num_threads(1)
    try:
        if executor is not None:
            _run_cells(partial(_start_on_executor, executor, fn), todo, by_key, store, workers, bar)
        elif workers == 1:
            for k in todo:
                store[k] = _call_cell(fn, by_key[k])
                bar.update(1)
        else:
            with ThreadPoolExecutor(workers) as pool:
                _run_cells(partial(_start_in_thread, pool, fn), todo, by_key, store, workers, bar)
    finally:
        torch.set_num_threads(threads)
        bar.close()
    return [store[k] for k in keys]


def _check_grid(fn, cells, workers, cache) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a function called as fn(**cell), got {validate.describe(fn)}")
    if isinstance(cells, (str, bytes, Mapping)) or not isinstance(cells, Sequence):
        raise TypeError(f"cells must be a list of dicts of keyword arguments, got {validate.describe(cells)}")
    for i, cell in enumerate(cells):
        if not isinstance(cell, Mapping) or not all(isinstance(k, str) for k in cell):
            raise TypeError(f"cells[{i}] must be a dict of keyword arguments, got {validate.describe(cell)}")
    if workers is not None:
        validate.integer("workers", workers, low=1)
    if cache is not None and not isinstance(cache, (str, os.PathLike, MutableMapping)):
        raise TypeError(f"cache must be a dict, a file path or None, got {validate.describe(cache)}")


def dask_executor(address: str) -> ContextManager[Executor]:
    """``with dask_executor(address) as executor:`` an executor on the Dask cluster whose scheduler listens at
    ``address`` (``tcp://host:8786``), for ``run_grid(executor=...)``; the client connects on entry and closes on
    exit. Needs the optional extra ``fsc-teach[cluster]``: without it this raises ``ImportError`` at once.

    ``pure=False``: a cell that is submitted again (after ``KilledWorker``, in a rerun) is computed again, never
    answered with an earlier failure that the scheduler still remembers under the same key.
    """
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError("running the grid on a Dask cluster needs Dask distributed, which the course itself does "
                          "not: pip install 'fsc-teach[cluster]' (or pip install distributed)") from err
    return _client_executor(Client, address)


@contextmanager
def _client_executor(client_class: type, address: str) -> Iterator[Executor]:
    """A ``client_class(address)`` for the duration of the ``with`` block, as a ``concurrent.futures`` executor."""
    with client_class(address) as client:
        yield client.get_executor(pure=False)

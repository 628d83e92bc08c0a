"""The experiment grid: same results in any order and with any number of workers; an interrupted run resumes."""
import concurrent.futures
import json
import signal
import threading

import pytest
import torch

from fsc_teach.grid import cell_key, load_cache, run_grid

from helpers import torch_cell


CELLS = [{"seed": s} for s in range(6)]


def test_results_follow_the_cells_and_do_not_depend_on_workers():
    threads = torch.get_num_threads()
    one = run_grid(torch_cell, CELLS, workers=1, progress=False)
    two = run_grid(torch_cell, CELLS, workers=2, progress=False)
    assert [r["seed"] for r in one] == list(range(6))
    assert one == two  # bit-identical: every cell runs with one intra-op thread
    assert all(r["threads"] == 1 for r in one)
    assert torch.get_num_threads() == threads  # restored afterwards


def test_cell_keys_ignore_order_and_reject_non_json():
    assert cell_key({"a": 1, "b": [2, 3]}) == cell_key({"b": [2, 3], "a": 1})
    with pytest.raises(TypeError, match="JSON"):
        cell_key({"x": torch.zeros(2)})


def test_memory_cache_skips_finished_cells():
    calls = []

    def fn(seed):
        calls.append(seed)
        return seed * 2

    memo = {}
    assert run_grid(fn, [{"seed": 1}, {"seed": 2}, {"seed": 1}], cache=memo, progress=False) == [2, 4, 2]
    assert sorted(calls) == [1, 2]  # the duplicate ran once
    run_grid(fn, [{"seed": 2}, {"seed": 3}], cache=memo, progress=False)
    assert sorted(calls) == [1, 2, 3]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_run_resumes_and_gives_the_same_table(tmp_path, workers):
    path = tmp_path / "grid.jsonl"
    calls, lock = [], threading.Lock()

    def flaky(seed, fail_at=None):
        if seed == fail_at:
            raise KeyboardInterrupt("simulated Ctrl-C")
        with lock:
            calls.append(seed)
        return torch_cell(seed)

    cells = [{"seed": s} for s in range(8)]
    with pytest.raises(KeyboardInterrupt):
        run_grid(lambda seed: flaky(seed, fail_at=5), cells, workers=workers, cache=path, progress=False)
    finished = load_cache(path)
    assert finished and len(finished) < len(cells)  # something was kept, not everything was done
    before = len(calls)
    resumed = run_grid(flaky, cells, workers=workers, cache=path, progress=False)
    assert len(calls) - before == len(cells) - len(finished)  # nothing finished is recomputed
    assert resumed == run_grid(torch_cell, cells, workers=1, progress=False)  # the uninterrupted table


def test_a_half_written_line_is_ignored_and_the_file_stays_readable(tmp_path):
    path = tmp_path / "grid.jsonl"
    run_grid(torch_cell, CELLS[:2], cache=path, progress=False)
    with open(path, "a") as f:
        f.write('{"key": "{\\"seed\\":2}", "resu')  # a crash in the middle of a write
    assert len(load_cache(path)) == 2
    out = run_grid(torch_cell, CELLS[:3], cache=path, progress=False)
    assert len(load_cache(path)) == 3 and out[2] == run_grid(torch_cell, [CELLS[2]], progress=False)[0]
    for line in path.read_text().splitlines()[-1:]:
        json.loads(line)  # the new line was written after the broken one, on its own line


@pytest.fixture
def sigint_received():
    """An Event set in the main thread the moment SIGINT arrives there; the handler then raises KeyboardInterrupt,
    exactly as Python's default handler does (what Ctrl-C does)."""
    received = threading.Event()

    def handler(signum, frame):
        received.set()
        signal.default_int_handler(signum, frame)

    previous = signal.signal(signal.SIGINT, handler)
    yield received
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_in_the_main_thread_keeps_every_finished_cell(tmp_path, sigint_received):
    """A real interruption: SIGINT sent to the main thread while workers run, KeyboardInterrupt raised there.

    No timing: cells are submitted in order, two at a time, so cells 0-3 have started when cell 4 sends the
    signal; cell 4 and every later cell then wait until the main thread has received it (the timeout is only a
    safety net against a hang), so at most cell 5 starts besides, and nothing is submitted after the interruption.
    """
    path = tmp_path / "grid.jsonl"
    started, lock = set(), threading.Lock()

    def cell(seed):
        with lock:
            started.add(seed)
        if seed == 4:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # the user presses Ctrl-C
        if seed >= 4:
            assert sigint_received.wait(timeout=120), "the main thread never received SIGINT"
        return torch_cell(seed)

    cells = [{"seed": s} for s in range(40)]
    with pytest.raises(KeyboardInterrupt):
        run_grid(cell, cells, workers=2, cache=path, progress=False)
    kept = load_cache(path)
    # the finished cells and the running ones (4, perhaps 5) were written; no cell that never started was
    assert set(kept) == {cell_key({"seed": s}) for s in started}
    assert set(range(5)) <= started <= set(range(6))
    resumed = run_grid(torch_cell, cells, workers=2, cache=path, progress=False)
    assert resumed == run_grid(torch_cell, cells, progress=False)


def test_an_executor_gives_the_same_table_and_the_caller_writes_the_cache(tmp_path):
    """Any concurrent.futures executor: the cells run there, with one intra-op thread, and come back in order."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "grid.jsonl"
    with ThreadPoolExecutor(3) as pool:
        out = run_grid(torch_cell, CELLS, executor=pool, workers=2, cache=path, progress=False)
    assert out == run_grid(torch_cell, CELLS, workers=1, progress=False)
    assert len(path.read_text().splitlines()) == len(CELLS)


def test_a_process_executor_needs_a_picklable_function():
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:  # nothing is submitted: no process starts
        with pytest.raises(TypeError, match="module-level function"):
            run_grid(lambda seed: seed, CELLS, executor=pool, progress=False)


class KilledWorker(Exception):
    """Stands for distributed.scheduler.KilledWorker (matched by name: Dask is optional)."""


class _LosingExecutor(concurrent.futures.Executor):
    """Every cell but seed 0 comes back as KilledWorker, as from a Dask cluster whose workers it kept killing."""

    def submit(self, fn, *args, **kwargs):
        future = concurrent.futures.Future()
        cell = args[1]
        if cell["seed"] == 0:
            future.set_result(fn(*args, **kwargs))
        else:
            future.set_exception(KilledWorker("the task's workers died"))
        return future


def test_a_cell_whose_workers_died_is_a_clear_error_and_finished_cells_stay(tmp_path):
    path = tmp_path / "grid.jsonl"
    with pytest.raises(RuntimeError, match=r'cell \{"seed":1\} was lost.*allowed-failures.*run again') as err:
        run_grid(torch_cell, CELLS[:2], executor=_LosingExecutor(), workers=1, cache=path, progress=False)
    assert isinstance(err.value.__cause__, KilledWorker)
    assert list(load_cache(path)) == [cell_key(CELLS[0])]

"""The grid on a real distributed engine: a local Dask cluster of two worker processes, one thread each.

Needs the optional extra ``fsc-teach[cluster]`` (Dask distributed); skipped without it. Marked ``cluster``
(``pytest -m cluster`` runs these alone, ``-m "not cluster"`` leaves them out). The workers are spawned processes
with this process's ``sys.path``, so they import this checkout's ``fsc_teach`` and ``tests/helpers.py``, whose
module-level cell functions they run. No test waits on a clock: the fatal cells kill their own worker the moment
they run, and the scheduler notices the closed connection.
"""
import csv
from dataclasses import replace
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402  (after the importorskip: dask comes with distributed)

from fsc_teach import benchmark, grid  # noqa: E402
from fsc_teach.grid import cell_key, load_cache, run_grid  # noqa: E402

from conftest import needs_data  # noqa: E402
from helpers import always_dies, dies_once, torch_cell  # noqa: E402

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes with one thread each; a task may lose one worker and run again, not two."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as local:
            yield local


def _module_file(name: str) -> str:
    """Where this process imports ``name`` from (run on every worker with ``Client.run``)."""
    import importlib

    return importlib.import_module(name).__file__


def test_the_workers_import_this_checkout(cluster):
    with distributed.Client(cluster) as client:
        assert set(client.run(_module_file, "fsc_teach").values()) == {str(ROOT / "fsc_teach" / "__init__.py")}
        assert set(client.run(_module_file, "helpers").values()) == {str(ROOT / "tests" / "helpers.py")}


def test_a_local_cluster_gives_the_threads_table_bit_for_bit(cluster, tmp_path):
    cells = [{"seed": s} for s in range(8)]
    path = tmp_path / "grid.jsonl"
    with grid.dask_executor(cluster.scheduler_address) as executor:
        out = run_grid(torch_cell, cells, executor=executor, cache=path, progress=False)
    assert out == run_grid(torch_cell, cells, workers=2, progress=False)  # bit-identical, in the same order
    assert {r["threads"] for r in out} == {1}  # one intra-op thread inside the worker processes too
    assert len(path.read_text().splitlines()) == len(cells)  # one line per cell, written by this process only


def test_a_worker_that_dies_in_a_cell_loses_nothing_finished_and_the_cell_runs_again(cluster, tmp_path):
    """Cell 3 kills its worker process the first time it runs; Dask reruns it on a live worker."""
    cells = [{"seed": s, "scratch": str(tmp_path)} for s in range(6)]
    path = tmp_path / "grid.jsonl"
    with grid.dask_executor(cluster.scheduler_address) as executor:
        out = run_grid(dies_once, cells, executor=executor, workers=2, cache=path, progress=False)
    at_death = (tmp_path / "died").read_text()  # the cache file when the worker died
    assert len(load_cache(tmp_path / "died")) >= 2  # two at a time: cell 3 starts after two cells are cached
    final = path.read_text()
    assert final.startswith(at_death)  # every line written before the death is still there, unchanged
    assert sorted(load_cache(path)) == sorted(map(cell_key, cells)) and len(final.splitlines()) == len(cells)
    assert (tmp_path / "starts").read_text().split().count("3") == 2  # the lost cell was computed again
    assert out == run_grid(torch_cell, [{"seed": s} for s in range(6)], workers=1, progress=False)


@needs_data
def test_the_benchmark_command_runs_on_the_cluster(cluster, tmp_path, monkeypatch, capsys):
    """``--scheduler``: the workers load the teacher and the data themselves; the table equals a local run's."""
    monkeypatch.setitem(benchmark.PLANS, "quick", replace(benchmark.PLANS["quick"], methods=("L1-norm", "FSKD")))
    on_cluster, here = tmp_path / "cluster", tmp_path / "here"
    assert benchmark.main(["--scale", "quick", "--out", str(on_cluster), "--scheduler", cluster.scheduler_address]) == 0
    assert benchmark.main(["--scale", "quick", "--out", str(here)]) == 0
    table = lambda folder: [(r["student"], r["method"], r["acc"], r["params"], r["flops"])
                            for r in csv.DictReader(open(folder / "results-quick.csv"))]
    assert table(on_cluster) == table(here)
    assert len(table(here)) == len(benchmark.cells(benchmark.PLANS["quick"])) == 6  # FSKD structured only, 2 draws


def test_a_cell_that_keeps_killing_its_workers_stops_the_grid_with_a_clear_error(cluster, tmp_path):
    """Last in this file: it costs two worker restarts. The cell dies twice (> allowed-failures = 1): KilledWorker."""
    path = tmp_path / "grid.jsonl"
    with grid.dask_executor(cluster.scheduler_address) as executor:
        with pytest.raises(RuntimeError, match=r'cell \{"seed":1\} was lost.*KilledWorker') as err:
            run_grid(always_dies, [{"seed": 0}, {"seed": 1}], executor=executor, workers=1, cache=path,
                     progress=False)
    assert isinstance(err.value.__cause__, distributed.scheduler.KilledWorker)
    assert list(load_cache(path)) == [cell_key({"seed": 0})]  # the finished cell is kept

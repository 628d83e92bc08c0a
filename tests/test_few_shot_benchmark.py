"""The few-shot benchmark (notebook 07's grid): the plans cover the intended grid, an interrupted run resumes to the
same table, and the paper-scale grid runs end to end on synthetic CIFAR-shaped data."""
import csv
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from fsc_teach import benchmark, data, fewshot, zoo
from fsc_teach.models import VGG, resnet_cifar, vgg16_cifar

from conftest import needs_data
from helpers import randomise_bn_

ROOT = Path(__file__).resolve().parents[1]

TINY = fewshot.Settings(steps=2, lr=1e-2, batch_size=8, epochs=1)


def _toy_plan(**kw):
    plan = benchmark.Plan("toy", ("toy",), (fewshot.Scheme("structured", 0.5), fewshot.Scheme("unstructured", 0.7)),
                          (1, 2), (0, 1), {"toy": TINY}, 20)
    return replace(plan, **kw)


def _toy_world():
    torch.manual_seed(0)
    teacher = randomise_bn_(VGG([6, 8, 8, 10], pools=[1, 3], in_channels=2, input_size=8), 0).eval()
    x, y = data.synthetic_dataset(60, shape=(2, 8, 8), seed=0)
    return {"toy": teacher}, (x, y, x[:20], y[:20])


def test_the_plans_hold_the_benchmark_grid():
    std = benchmark.PLANS["standard"]
    assert std.ks == (1, 10) and len(std.seeds) == 5
    assert sorted(s.kind for s in std.schemes) == ["structured", "unstructured"]
    assert len({s.sparsity for s in std.schemes}) == 2  # one structured, one unstructured, two sparsities
    assert set(std.methods) >= {"L1+BN", "BP", "FitNet", "FSKD", "Ours-NC", "Ours", "Ours-S", "Wanda", "SparseGPT",
                                "MiR"}
    assert set(benchmark.PLANS["paper"].methods) == set(fewshot.METHODS)  # the paper scale keeps KD and Iter-KD
    assert std.settings["vgg_fmnist"].train_steps == 120  # the baselines get a step budget, not 5 steps at K = 1
    cells = benchmark.cells(std)
    assert not [c for c in cells if c["method"] == "FSKD" and c["kind"] == "unstructured"]
    assert len(cells) == len({benchmark.grid.cell_key(c) for c in cells})
    paper = benchmark.PLANS["paper"]
    assert paper.dataset == "cifar10" and set(paper.teachers) == {"vgg16_cifar10", "resnet56_cifar10"}
    assert sorted(s.kind for s in paper.schemes) == ["structured"] * 2 + ["unstructured"] * 2
    assert paper.settings["vgg16_cifar10"].steps == 3000 and paper.settings["resnet56_cifar10"].mu == 0.9


def test_an_interrupted_run_resumes_to_the_same_table(tmp_path, monkeypatch):
    teachers, tensors = _toy_world()
    plan = _toy_plan()
    reference = benchmark.run_plan(plan, teachers=teachers, tensors=tensors, cache={}, progress=False)
    real, calls = fewshot.run_cell, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt("simulated Ctrl-C in the middle of the grid")
        return real(*args, **kwargs)

    cache = tmp_path / "cells.jsonl"
    monkeypatch.setattr(fewshot, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        benchmark.run_plan(plan, teachers=teachers, tensors=tensors, cache=cache, workers=1, progress=False)
    monkeypatch.setattr(fewshot, "run_cell", real)
    finished = len(benchmark.grid.load_cache(cache))
    assert finished == 6
    resumed = benchmark.run_plan(plan, teachers=teachers, tensors=tensors, cache=cache, workers=2, progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in rows]
    assert strip(resumed) == strip(reference)
    table = lambda rows: [{k: v for k, v in r.items() if k != "cpu_s"} for r in benchmark.summary(rows)]
    assert table(resumed) == table(reference)
    paths = benchmark.write_outputs(resumed, tmp_path / "out", "toy")
    with open(paths[0]) as f:
        assert len(list(csv.DictReader(f))) == len(benchmark.cells(plan))
    assert "± " in paths[2].read_text() and "claims" in paths[2].read_text()


def _claim_rows(means: dict, noise: float = 0.2) -> list[dict]:
    """Five seeds per cell: the given mean plus a small seed-dependent wobble (the same wobble for every method)."""
    wobble = [0.0, 0.01, -0.01, 0.02, -0.02]
    return [{"teacher": "t", "student": "structured 50 %", "kind": "structured", "method": method, "k": k,
             "seed": seed, "acc": a + wobble[seed] + noise * 0.01 * ((seed * 7 + len(method)) % 3 - 1), "cpu_s": 1.0,
             "params": 1, "flops": 1}
            for method, accs in means.items() for k, a in zip((1, 10), accs) for seed in range(5)]


def test_claims_are_decided_by_the_paired_rule():
    means = {"FSKD": (0.5, 0.9), "FitNet": (0.4, 0.8), "BP": (0.3, 0.7), "KD": (0.3, 0.7), "Iter-KD": (0.3, 0.7),
             "Ours-NC": (0.7, 0.85), "Ours": (0.75, 0.86), "Ours-S": (0.6, 0.8)}
    got = {c["claim"].split(" (")[0]: c["mark"] for c in benchmark.claims(_claim_rows(means))}
    assert got == {"FSKD > FitNet > fine-tuning with 100 samples": "✓",
                   "Ours beats no cross": "✓",
                   "Ours-S beats no cross": "✗",
                   "layer-wise distillation beats every baseline at K = 1, by less as K grows": "✓"}
    means["FitNet"] = (0.85, 0.95)  # FitNet now wins clearly
    means["Ours"] = (0.7, 0.86)  # and Ours ties with Ours-NC at K = 1 up to the per-seed noise
    got = {c["claim"].split(" (")[0]: c for c in benchmark.claims(_claim_rows(means, noise=1.0))}
    assert got["FSKD > FitNet > fine-tuning with 100 samples"]["mark"] == "✗"
    assert got["Ours beats no cross"]["mark"] == "?"
    assert "no clear difference" in got["Ours beats no cross"]["verdicts"]


def test_the_command_resumes_after_an_interruption(tmp_path, monkeypatch, capsys):
    teachers, (x, y, _, _) = _toy_world()
    monkeypatch.setitem(benchmark.PLANS, "quick", _toy_plan(seeds=(0,)))
    monkeypatch.setattr(zoo, "load_teacher", lambda name: teachers[name])
    monkeypatch.setattr(data, "load_tensors", lambda name, train=True: (x, y) if train else (x[:20], y[:20]))
    real, calls = fewshot.run_cell, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fewshot, "run_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        benchmark.main(["--scale", "quick", "--out", str(tmp_path), "--workers", "1"])
    monkeypatch.setattr(fewshot, "run_cell", real)
    assert benchmark.main(["--scale", "quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(3 already in" in out and "wrote" in out
    fresh = tmp_path / "fresh"
    benchmark.main(["--scale", "quick", "--out", str(fresh), "--fresh"])
    accs = lambda p: [r["acc"] for r in csv.DictReader(open(p / "results-quick.csv"))]
    assert accs(tmp_path) == accs(fresh)


@pytest.mark.slow
def test_paper_scale_runs_end_to_end_on_synthetic_cifar():
    torch.manual_seed(0)
    teachers = {"vgg16_cifar10": randomise_bn_(vgg16_cifar(), 0).eval(),
                "resnet56_cifar10": randomise_bn_(resnet_cifar(56), 1).eval()}
    x, y = data.synthetic_dataset(10, shape=(3, 32, 32), seed=0)  # CIFAR-10's shape, one image per class (K = 1)
    paper = benchmark.PLANS["paper"]
    plan = replace(paper, ks=(1,), seeds=(0,), eval_size=20,
                   settings={t: replace(s, steps=1, epochs=1, batch_size=None) for t, s in paper.settings.items()})
    rows = benchmark.run_plan(plan, teachers=teachers, tensors=(x, y, x, y), cache={}, progress=False)
    assert len(rows) == len(benchmark.cells(plan)) == 2 * (2 * 11 + 2 * 12)  # 13 methods; FSKD structured only, Wanda and SparseGPT unstructured only
    assert all(0.0 <= r["acc"] <= 1.0 and r["params"] > 0 for r in rows)
    structured = {(r["teacher"], r["student"]): set() for r in rows if r["kind"] == "structured"}
    for r in rows:
        if r["kind"] == "structured" and r["method"] != "L1-norm":
            structured[r["teacher"], r["student"]].add(r["params"])
    assert all(len(v) == 1 for v in structured.values())  # every method ends at the same student
    assert benchmark.claims(rows) is not None


@needs_data
@pytest.mark.slow
def test_the_command_survives_a_real_ctrl_c_and_resumes_to_the_same_table(tmp_path):
    """SIGINT to `python -m fsc_teach.benchmark` mid-run, then a rerun: the table equals an uninterrupted run's.

    No timing: the command runs under ``helpers.interruptible_benchmark``, whose cells after the third wait until
    the SIGINT has arrived; the test sends it when it reads that a cell is held.
    """
    env = {**os.environ, "FSC_DEVICE": "cpu", "PYTHONUNBUFFERED": "1"}
    options = ["--scale", "quick", "--workers", "2"]
    command = [sys.executable, "-m", "fsc_teach.benchmark"] + options
    held = [sys.executable, "-c", "import sys; sys.path.insert(0, 'tests'); import helpers; "
                                  "sys.exit(helpers.interruptible_benchmark(sys.argv[1:], free=3))"] + options
    out, fresh = tmp_path / "resumed", tmp_path / "fresh"
    cache = out / "cells-quick.jsonl"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(held + ["--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=stderr, text=True)
        lines = []
        for line in proc.stdout:  # blocks until the command writes a line
            lines.append(line)
            if line.endswith(" held\n"):
                proc.send_signal(signal.SIGINT)
                break
        lines += proc.stdout.readlines()  # to the end: the process exits
    assert proc.wait(timeout=600) != 0, "".join(lines) + (tmp_path / "stderr.txt").read_text()  # interrupted
    assert "KeyboardInterrupt" in (tmp_path / "stderr.txt").read_text()
    started = sum(line.endswith(" started\n") for line in lines)
    kept = len(benchmark.grid.load_cache(cache))
    total = len(benchmark.cells(benchmark.PLANS["quick"]))
    assert kept == started and 3 < kept < total  # every started cell kept (3 finished, 1-2 running), no other
    resumed = subprocess.run(command + ["--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"({kept} already in" in resumed.stdout
    subprocess.run(command + ["--out", str(fresh)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
    table = lambda folder: [(r["student"], r["method"], r["k"], r["seed"], r["acc"], r["params"])
                            for r in csv.DictReader(open(folder / "results-quick.csv"))]
    assert table(out) == table(fresh) and len(table(fresh)) == total
    assert (out / "summary-quick.md").read_text() != "" and "claims" in (fresh / "summary-quick.md").read_text()


def test_scheduler_without_dask_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed: importing it fails
    with pytest.raises(SystemExit):
        benchmark.main(["--scale", "quick", "--out", str(tmp_path), "--scheduler", "tcp://127.0.0.1:8786"])
    assert "fsc-teach[cluster]" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # stopped before touching anything


@needs_data
def test_the_cluster_cell_loads_its_own_teacher_and_data_and_gives_the_same_rows(tmp_path):
    """``plan_cell`` (what cluster workers run) equals the in-process cell; here its executor is a thread pool."""
    from concurrent.futures import ThreadPoolExecutor

    plan = replace(benchmark.PLANS["quick"], methods=("L1-norm", "FSKD"))
    strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_s")} for r in rows]
    with ThreadPoolExecutor(2) as pool:
        remote = benchmark.run_plan(plan, executor=pool, cache=tmp_path / "cells.jsonl", progress=False)
        with pytest.raises(ValueError, match="each worker loads its own"):
            benchmark.run_plan(plan, executor=pool, teachers={}, progress=False)
    assert strip(remote) == strip(benchmark.run_plan(plan, cache={}, progress=False))
    assert len(remote) == len(benchmark.cells(plan)) == 6  # FSKD structured only; 2 seeds at quick


def test_a_data_free_method_is_measured_once_per_student_and_reused_for_every_draw_and_k():
    teachers, tensors = _toy_world()
    plan = replace(_toy_plan(), ks=(1, 2), seeds=(0, 1), methods=("L1-norm", "L1+BN"))
    calls = []
    original = benchmark._measure

    def counting(*args):
        calls.append(args[-1])
        return original(*args)

    benchmark._measure = counting
    try:
        rows = benchmark.run_plan(plan, teachers=teachers, tensors=tensors, cache={}, progress=False, workers=2)
    finally:
        benchmark._measure = original
    assert calls.count("L1-norm") == len(plan.schemes) and calls.count("L1+BN") == len(plan.schemes) * 4
    for s in plan.schemes:
        same = {(r["acc"], r["params"]) for r in rows if r["method"] == "L1-norm" and r["kind"] == s.kind}
        assert len(same) == 1

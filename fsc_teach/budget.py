"""How many steps each method gets: a measured sweep and one rule that reads the budget off it (notebook 07).

    python -m fsc_teach.budget [--scale standard] [--out build/benchmark] [--results results]

A method given too few steps loses for lack of optimisation, not for its idea, so the benchmark's budgets are
chosen from measurements, the same way for every method. ``run_sweep`` runs each trained method of a
``benchmark.Plan`` at several budgets (``SWEEPS``: Adam steps per layer for cross distillation's three variants,
optimiser steps per stage for BP, KD, Iter-KD, FitNet and MiR) on each of the plan's students, at one K and several
draws, with everything else as the plan has it. It also runs every variant at the smallest budget *without*
BatchNorm re-estimation (``bn`` False), which isolates what that re-estimation does.

``choose`` is the rule: for each family (``steps`` or ``train_steps``), the smallest budget at which every method of
the family, on every student, is within ``tolerance`` points (mean over draws) of its best budget in the sweep —
where accuracy plateaus. ``plateau_table`` lays the sweep out for reading, with the mean wall time per cell.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import data, fewshot, grid, validate
from .benchmark import LAYERWISE, PLANS, Plan, _check_run, _measure, write_table
from .fewshot import Scheme

__all__ = ["SWEEPS", "SEEDS", "CAPS", "TRAINED", "BUDGET_FREE", "sweep_cells", "run_sweep", "choose", "shortfall", "plateau_table", "read_sweep", "main"]

TRAINED = ("BP", "KD", "Iter-KD", "FitNet", "MiR")  # the methods whose budget is train_steps
BUDGET_FREE = ("L1-norm", "L1+BN", "FSKD", "Wanda", "SparseGPT")  # one solve (or none): nothing to sweep
# the budgets tried per scale: {Settings field: budgets}; the first is the smallest
SWEEPS: dict[str, dict[str, tuple[int, ...]]] = {
    "quick": {"steps": (2, 4), "train_steps": (2, 4)},
    "standard": {"steps": (60, 200, 600), "train_steps": (40, 120, 360)},
    "paper": {"steps": (300, 1000, 3000), "train_steps": (100, 300, 1000)},
}
SEEDS = {"quick": (0,), "standard": (0, 1, 2), "paper": (0, 1, 2)}  # the draws per swept cell
# the time budget: the most steps a family may get at each scale (notebook 07's grid must run in 15 minutes on two
# CPU cores at standard; 600 Adam steps per layer would take about three times that, and 360 steps per stage for
# BP, FitNet and MiR — where MiR's curve still climbs — about 1.5 times)
CAPS: dict[str, dict[str, int]] = {"quick": {}, "standard": {"steps": 200, "train_steps": 120}, "paper": {}}
_FAMILY = {**{m: "steps" for m in LAYERWISE}, **{m: "train_steps" for m in TRAINED}}
_UNIT = {"steps": " steps per layer", "train_steps": " steps per stage"}


def sweep_cells(plan: Plan, sweeps: Mapping[str, Sequence[int]], *, k: int = 5, seeds: Sequence[int] = (0, 1, 2)
                ) -> list[dict]:
    """The sweep's cells: per teacher, student and draw, each trained method at each budget, each at the smallest
    budget without BatchNorm re-estimation, and the budget-free methods (``BUDGET_FREE``) where they apply."""
    validate.module("plan", plan, Plan)
    validate.integer("k", k, low=1)
    validate.sequence("seeds", seeds, "seeds", min_len=1)
    validate.mapping("sweeps", sweeps, "{'steps' or 'train_steps': budgets}")
    for field in ("steps", "train_steps"):
        validate.sequence(f"sweeps[{field!r}]", sweeps.get(field), "budgets (int)", min_len=1)
        for b in sweeps[field]:
            validate.integer(f"a budget in sweeps[{field!r}]", b, low=1)
    out = []
    for t in plan.teachers:
        base = {"teacher": t, "config": _fingerprint(plan, t), "k": k}
        for s in plan.schemes:
            for seed in seeds:
                here = {**base, "kind": s.kind, "sparsity": s.sparsity, "seed": seed}
                for m in (*LAYERWISE, *TRAINED):
                    field = _FAMILY[m]
                    out += [{**here, "method": m, field: b} for b in sweeps[field]]
                    out.append({**here, "method": m, field: sweeps[field][0], "bn": False})
                out += [{**here, "method": m} for m in BUDGET_FREE if fewshot.applicable(m, s)]
    return out


def _fingerprint(plan: Plan, teacher: str) -> str:
    """The plan's fingerprint without its budgets (the sweep sets them per cell): a plan whose budgets changed
    keeps the cache of its sweep."""
    free = dataclasses.replace(plan.settings[teacher], steps=0, train_steps=None)
    return dataclasses.replace(plan, settings={**plan.settings, teacher: free}).fingerprint(teacher)


def _cell_plan(plan: Plan, teacher: str, cell: Mapping) -> Plan:
    """``plan`` with the cell's budget and BatchNorm choice in its teacher's settings."""
    change = {f: cell[f] for f in ("steps", "train_steps") if f in cell}
    settings = dataclasses.replace(plan.settings[teacher], recalibrate_bn=cell.get("bn", True), **change)
    return dataclasses.replace(plan, settings={**plan.settings, teacher: settings})


def run_sweep(plan: Plan, sweeps: Mapping[str, Sequence[int]], *, k: int = 5, seeds: Sequence[int] = (0, 1, 2),
              cache=None, workers: int | None = None, progress: bool = True, teachers: Mapping | None = None,
              tensors: tuple | None = None) -> list[dict]:
    """Run (or resume from ``cache``) the sweep; one row per cell: its fields, ``bn`` and ``run_cell``'s results.

    ``teachers`` and ``tensors`` as in ``benchmark.run_plan`` (the tests use synthetic data this way).
    """
    from . import zoo

    _check_run(plan, workers, teachers, tensors, None)
    todo = sweep_cells(plan, sweeps, k=k, seeds=seeds)
    models = dict(teachers or {})
    for name in plan.teachers:
        if name not in models:
            models[name] = zoo.load_teacher(name)
        models[name].eval()
    if tensors is None:
        tensors = (*data.load_tensors(plan.dataset, train=True), *data.load_tensors(plan.dataset, train=False))

    def cell(**c):
        return _measure(_cell_plan(plan, c["teacher"], c), models[c["teacher"]], tensors, c["teacher"], c["kind"],
                        c["sparsity"], c["k"], c["seed"], c["method"])

    results = grid.run_grid(cell, todo, workers=workers, cache=cache, progress=progress, desc="budget sweep")
    return [{"bn": True, **c, "student": Scheme(c["kind"], c["sparsity"]).name,
             "budget": c.get("steps", c.get("train_steps")), **r} for c, r in zip(todo, results)]


def _means(rows: Sequence[dict]) -> dict[tuple, tuple[float, float]]:
    """{(student, method, budget): (mean accuracy in %, mean CPU seconds)} over draws, BatchNorm re-estimated (CPU
    seconds of the thread that ran the cell: what the method costs on one core, whatever else the machine ran)."""
    validate.sequence("rows", rows, "sweep rows (from run_sweep or read_sweep)", min_len=1)
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or not {"student", "method", "acc", "cpu_s"} <= set(r):
            raise ValueError(f"rows[{i}] must be a sweep row with 'student', 'method', 'acc' and 'cpu_s' (from "
                             f"run_sweep or read_sweep), got {validate.describe(r)}")
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("bn", True) and r.get("budget") is not None:
            groups.setdefault((r["student"], r["method"], r["budget"]), []).append(r)
    return {key: (100 * float(np.mean([r["acc"] for r in g])), float(np.mean([r["cpu_s"] for r in g])))
            for key, g in groups.items()}


def choose(rows: Sequence[dict], tolerance: float = 0.5, cap: Mapping[str, int] | None = None) -> dict[str, int]:
    """The rule: per family, the smallest budget at which every method on every student is within ``tolerance``
    accuracy points of its own best budget (means over draws) — where accuracy plateaus. ``cap`` ({family: most
    steps}) is the time budget: no budget above it is chosen, and a family still climbing at its cap gets the cap
    (``shortfall`` says by how much it falls short). Returns ``{"steps": n, "train_steps": n}``."""
    validate.real("tolerance", tolerance, low=0.0)
    cap = dict(cap or {})
    for field, most in cap.items():
        validate.choice("a key of cap", field, ("steps", "train_steps"))
        validate.integer(f"cap[{field!r}]", most, low=1)
    curves = _curves(rows)
    out = {}
    for field in ("steps", "train_steps"):
        family = [c for (_, m), c in curves.items() if _FAMILY[m] == field]
        budgets = sorted({b for c in family for b in c if b <= cap.get(field, b)})
        if not budgets:
            raise ValueError(f"no swept {field} budget at or below the cap {cap[field]}")
        out[field] = next((b for b in budgets if all(c.get(b, -np.inf) >= max(c.values()) - tolerance
                                                     for c in family)), budgets[-1])
    return out


def shortfall(rows: Sequence[dict], chosen: Mapping[str, int]) -> dict[tuple[str, str], float]:
    """{(student, method): accuracy points (mean over draws) below its best swept budget at the ``chosen`` one}."""
    return {key: max(c.values()) - c[chosen[_FAMILY[key[1]]]] for key, c in _curves(rows).items()}


def _curves(rows: Sequence[dict]) -> dict[tuple[str, str], dict[int, float]]:
    """{(student, method): {budget: mean accuracy (%)}} of the swept methods."""
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for (student, method, b), (acc, _) in _means(rows).items():
        if method in _FAMILY:
            curves.setdefault((student, method), {})[b] = acc
    if not curves:
        raise ValueError("rows hold no swept cell (rows with a 'budget'): pass run_sweep's rows")
    return curves


def plateau_table(rows: Sequence[dict]) -> list[dict]:
    """One row per student and method: its budgets, the accuracy (%, mean over draws) and the mean CPU seconds per
    run (one core) at each, and the accuracy without BatchNorm re-estimation at the smallest budget."""
    means = _means(rows)
    order = list(_FAMILY)
    out = []
    for student, method in sorted({(s, m) for s, m, _ in means}, key=lambda sm: (sm[0], order.index(sm[1]))):
        budgets = sorted(b for s, m, b in means if (s, m) == (student, method))
        no_bn = [r["acc"] for r in rows if (r["student"], r["method"]) == (student, method) and not r.get("bn", True)]
        out.append({"student": student, "method": method,
                    "budgets": " / ".join(map(str, budgets)) + _UNIT[_FAMILY[method]],
                    "accuracy (%)": " / ".join(f"{means[student, method, b][0]:.2f}" for b in budgets),
                    "no BN re-estimation, smallest budget (%)": f"{100 * np.mean(no_bn):.2f}" if no_bn else "",
                    "CPU s per run": " / ".join(f"{means[student, method, b][1]:.1f}" for b in budgets)})
    return out


_COLUMNS = ("teacher", "student", "kind", "sparsity", "method", "k", "seed", "budget", "bn", "acc", "test_images",
            "cpu_s", "wall_s", "config")


def read_sweep(path) -> list[dict]:
    """The rows of a sweep table written by ``main`` (``results/budget-sweep-<scale>.csv``), numbers as numbers."""
    import csv

    validate.path("path", path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no sweep table at {path}: run `python -m fsc_teach.budget --scale standard` to "
                                "write it")
    ints, floats = ("k", "seed", "test_images"), ("sparsity", "acc", "cpu_s", "wall_s")
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row = {**r, **{c: int(r[c]) for c in ints}, **{c: float(r[c]) for c in floats}}
            row["budget"] = int(r["budget"]) if r["budget"] else None
            row["bn"] = r["bn"] == "True"
            row["student"] = Scheme(row["kind"], row["sparsity"]).name
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    from .plots import markdown_table
    from .scale import get_scale

    parser = argparse.ArgumentParser(prog="python -m fsc_teach.budget", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default=None, help="quick | standard | paper (default: $FSC_SCALE or standard)")
    parser.add_argument("--out", default="build/benchmark", help="folder for the cache of finished cells")
    parser.add_argument("--workers", type=int, default=None, help="cells at a time (default: one per core)")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="write the sweep to DIR/budget-sweep-<scale>.csv (default: results/ except at quick)")
    args = parser.parse_args(argv)
    scale = get_scale(args.scale)
    rows = run_sweep(PLANS[scale], SWEEPS[scale], seeds=SEEDS[scale],
                     cache=Path(args.out) / f"sweep-{scale}.jsonl", workers=args.workers)
    print(markdown_table(plateau_table(rows)))
    print(f"chosen budgets (the smallest within 0.5 points of the best, capped at {CAPS[scale] or 'nothing'}):",
          choose(rows, cap=CAPS[scale]))
    results = args.results if args.results is not None else (None if scale == "quick" else "results")
    if results:
        path = write_table(rows, Path(results) / f"budget-sweep-{scale}.csv", columns=_COLUMNS)
        print("wrote", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

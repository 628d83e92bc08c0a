"""The few-shot compression benchmark: every method of the course on the same teacher, students and samples.

    python -m fsc_teach.benchmark [--scale standard] [--out build/benchmark] [--workers N] [--fresh]
                                  [--scheduler tcp://HOST:8786]

One ``Plan`` per scale fixes the grid: teachers × students (``fewshot.Scheme``: structured and unstructured, two
sparsities each) × K shots per class × seeds × methods (``fewshot.METHODS``). Every cell is one
``fewshot.run_cell``; ``grid.run_grid`` runs them on every core with a progress bar and appends each finished
cell to ``<out>/cells-<scale>.jsonl``, so an interrupted run continues where it stopped and a finished cell is
never recomputed (the same cache gives the same table). Outputs: ``results-<scale>.csv`` (one tidy row per cell),
``summary-<scale>.csv`` and ``summary-<scale>.md`` (mean ± std over seeds, CPU seconds per run) and the
papers' headline claims checked against the measurements (``claims``). Notebook 07 runs the same plan.

``--scheduler ADDRESS`` runs the cells on a Dask cluster (``grid.dask_executor``; the extra ``fsc-teach[cluster]``),
e.g. one GPU per worker on Slurm with dask-jobqueue. Each worker process loads the teacher and the dataset itself,
once (``plan_cell``; the data from its own ``$FSC_DATA``), and only this process writes the cache.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import hashlib
import io
import json
import sys
import threading
from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence, Sized

import numpy as np

from . import data, fewshot, grid, validate
from .fewshot import Scheme, Settings
from .models import BlockNet
from .protocol import Comparison, compare

__all__ = ["Plan", "PLANS", "BASELINES", "LAYERWISE", "LATER", "cells", "plan_cell", "run_plan", "summary", "claims",
           "write_outputs", "write_table", "read_table", "compare_methods", "main"]

BASELINES = ("BP", "KD", "Iter-KD", "FitNet", "FSKD")  # methods that start from the data-free pruned student
LAYERWISE = ("Ours-NC", "Ours", "Ours-S")  # cross distillation (Bai et al., AAAI 2020)
LATER = ("Wanda", "SparseGPT", "MiR")  # where few-sample compression went next (notebook 08)
DATA_FREE = ("L1-norm",)  # methods that use no data: every K and draw gives the same student


@dataclass(frozen=True)
class Plan:
    """One benchmark grid. ``settings[teacher]`` are the methods' budgets for that teacher."""

    dataset: str
    teachers: tuple[str, ...]
    schemes: tuple[Scheme, ...]
    ks: tuple[int, ...]
    seeds: tuple[int, ...]
    settings: Mapping[str, Settings]
    eval_size: int
    methods: tuple[str, ...] = tuple(fewshot.METHODS)
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.dataset, str):
            raise TypeError(f"dataset must be a dataset name such as 'fashion_mnist', got "
                            f"{validate.describe(self.dataset)}")
        for name, what in (("teachers", "teacher names"), ("schemes", "fewshot.Scheme students"),
                           ("ks", "shots per class"), ("seeds", "seeds"), ("methods", "method names")):
            validate.sequence(name, getattr(self, name), what, min_len=1)
        for i, s in enumerate(self.schemes):
            validate.module(f"schemes[{i}]", s, Scheme)
        for i, k in enumerate(self.ks):
            validate.integer(f"ks[{i}]", k, low=1)
        for i, seed in enumerate(self.seeds):
            validate.integer(f"seeds[{i}]", seed)
        for i, m in enumerate(self.methods):
            validate.choice(f"methods[{i}]", m, fewshot.METHODS)
        validate.mapping("settings", self.settings, "{teacher name: fewshot.Settings}")
        for t in self.teachers:
            if not isinstance(t, str) or not isinstance(self.settings.get(t), Settings):
                raise ValueError(f"settings must hold a fewshot.Settings for every teacher; teacher {t!r} has "
                                 f"{validate.describe(self.settings.get(t))}")
        validate.integer("eval_size", self.eval_size, low=1)

    def fingerprint(self, teacher: str) -> str:
        """A short hash of everything besides the cell's own fields that decides its result (cache safety)."""
        blob = json.dumps({"dataset": self.dataset, "eval": self.eval_size, "settings": asdict(self.settings[teacher])},
                          sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:10]


_STUDENTS = (Scheme("structured", 0.5), Scheme("structured", 0.7), Scheme("unstructured", 0.7),
             Scheme("unstructured", 0.9))
# Trained baselines: a fixed number of steps whatever K, the teacher's outputs computed once (exact without
# augmentation); every student's BatchNorm re-estimated on its K-shot images (the same chance for all; L1+BN: alone).
_BASELINES = dict(train_steps=120, train_batch=32, cache_teacher=True, recalibrate_bn=True)
PLANS: dict[str, Plan] = {
    # every code path in under a minute on a 2-core CPU; the numbers mean nothing
    "quick": Plan("fashion_mnist", ("vgg_fmnist",), (Scheme("structured", 0.5), Scheme("unstructured", 0.9)),
                  (1,), (0, 1), {"vgg_fmnist": Settings(steps=3, lr=3e-3, batch_size=10, epochs=1,
                                                      cache_teacher=True, recalibrate_bn=True)}, 300),
    # the cross-distillation paper's headline students (VGG-50 %, VGG-90 %), K = 1 and 10, 5 seeds, the sweep's budgets
    # (``budget.choose``), 10,000 test images. To run in 15 minutes on two cores it leaves out K = 5, Hinton KD and
    # Iter-KD (the sweep runs all three; notebooks 02 and 03 measure KD and Iter-KD); ``paper`` keeps all
    "standard": Plan("fashion_mnist", ("vgg_fmnist",), (Scheme("structured", 0.5), Scheme("unstructured", 0.9)),
                     (1, 10), (0, 1, 2, 3, 4),
                     {"vgg_fmnist": Settings(steps=200, lr=3e-3, batch_size=10, **_BASELINES)}, 10_000,
                     methods=tuple(m for m in fewshot.METHODS if m not in ("KD", "Iter-KD")),
                     note="200 Adam steps per layer on mini-batches of 10 images (the authors: 3,000 full-batch); "
                          "120 steps of 32 images for BP, MiR and each FitNet stage (both from the budget sweep); "
                          "BatchNorm re-estimated for every student; 10,000 test images per cell; no KD, Iter-KD"),
    # the papers' settings (Bai et al., AAAI 2020: VGG-16 mu = 0.6, (0.9, 0.3), lr 5e-4; ResNet-56 mu = 0.9, (0.9, 0.5), 1e-3),
    # two sparsities of each kind
    "paper": Plan("cifar10", ("vgg16_cifar10", "resnet56_cifar10"), _STUDENTS, (1, 5, 10), (0, 1, 2, 3, 4),
                  {"vgg16_cifar10": Settings(cache_teacher=True, recalibrate_bn=True),
                   "resnet56_cifar10": Settings(lr=1e-3, mu=0.9, alpha=0.9, beta=0.5, cache_teacher=True,
                                                recalibrate_bn=True)}, 10_000,
                  note="3,000 full-batch Adam steps per layer, 100 epochs for the baselines; meant for one GPU"),
}


def cells(plan: Plan) -> list[dict]:
    """Every (teacher, student, K, seed, method) cell of ``plan`` that applies (FSKD: structured students only)."""
    validate.module("plan", plan, Plan)
    return [{"teacher": t, "kind": s.kind, "sparsity": s.sparsity, "k": k, "seed": seed, "method": m,
             "config": plan.fingerprint(t)}
            for t in plan.teachers for s in plan.schemes for k in plan.ks for seed in plan.seeds for m in plan.methods
            if fewshot.applicable(m, s)]


def _measure(plan: Plan, model, tensors: tuple, teacher: str, kind: str, sparsity: float, k: int, seed: int,
             method: str) -> dict:
    """One cell on the given teacher ``model`` and ``tensors`` (x_train, y_train, x_test, y_test): ``run_cell``'s
    measurements without the method's name."""
    x_tr, y_tr, x_te, y_te = tensors
    idx = data.few_shot_indices(y_tr, k, seed=seed)
    out = fewshot.run_cell(method, model, Scheme(kind, sparsity), x_tr[idx], y_tr[idx], x_te[:plan.eval_size],
                           y_te[:plan.eval_size], seed=seed, settings=plan.settings[teacher])
    return {**{k_: v for k_, v in out.items() if k_ != "method"}, "test_images": len(x_te[:plan.eval_size])}


@functools.lru_cache(maxsize=None)
def _worker_teacher(name: str, device: str):
    """The teacher ``name`` on ``device``, loaded once per process (a cluster worker computes many cells)."""
    from . import zoo

    return zoo.load_teacher(name).to(device).eval()


def plan_cell(plan: Plan, teacher: str, kind: str, sparsity: float, k: int, seed: int, method: str,
              config: str) -> dict:
    """One cell of ``plan`` computed with this process's own teacher and data, loaded once per process.

    Module-level, so that ``functools.partial(plan_cell, plan)`` is picklable: the grid function of a run on a
    cluster (``run_plan(executor=...)``), where each worker loads the teacher onto its own device (``$FSC_DEVICE``,
    else its GPU) and the dataset from its own ``$FSC_DATA``; only the small ``plan`` travels with each cell.
    ``config`` is the plan's fingerprint, part of the cell's cache key.
    """
    from .train import get_device

    _check_cell(plan, teacher, method, k, seed)
    tensors = (*data.load_tensors(plan.dataset, train=True), *data.load_tensors(plan.dataset, train=False))
    return _measure(plan, _worker_teacher(teacher, str(get_device())), tensors, teacher, kind, sparsity, k, seed,
                    method)


def run_plan(plan: Plan, *, cache: str | Path | dict | None = None, workers: int | None = None, progress: bool = True,
             teachers: Mapping[str, object] | None = None, tensors: tuple | None = None,
             executor: Executor | None = None) -> list[dict]:
    """Run (or resume) the grid; returns one tidy row per cell: the cell's fields plus ``fewshot.run_cell``'s.

    ``teachers`` ({name: model}) and ``tensors`` (x_train, y_train, x_test, y_test) replace ``zoo.load_teacher``
    and the dataset — the tests run the paper-scale grid on synthetic CIFAR-shaped data this way. With
    ``executor`` (``grid.dask_executor``) the cells run there as ``plan_cell``, each worker loading its own
    teacher and data (so ``teachers`` and ``tensors`` do not apply); ``workers`` caps the cells in flight.
    """
    _check_run(plan, workers, teachers, tensors, executor)
    todo = cells(plan)
    if executor is not None:
        if teachers is not None or tensors is not None:
            raise ValueError("with an executor, each worker loads its own teachers and data: teachers= and tensors= "
                             "apply to runs in this process only")
        results = grid.run_grid(functools.partial(plan_cell, plan), todo, workers=workers, cache=cache,
                                progress=progress, desc="benchmark", executor=executor)
    else:
        results = _run_here(plan, todo, cache=cache, workers=workers, progress=progress, teachers=teachers,
                            tensors=tensors)
    return [{**c, "student": Scheme(c["kind"], c["sparsity"]).name, **r} for c, r in zip(todo, results)]


def _run_here(plan: Plan, todo: list[dict], *, cache, workers: int | None, progress: bool,
              teachers: Mapping[str, object] | None, tensors: tuple | None) -> list[dict]:
    """``run_plan``'s cells in this process, on threads (CPU) or one at a time (a GPU), teachers loaded once."""
    from . import zoo
    from .train import get_device

    models = dict(teachers or {})
    device = get_device()
    for name in plan.teachers:
        if name not in models:
            models[name] = zoo.load_teacher(name).to(device)
        models[name].eval()
    if tensors is None:
        tensors = (*data.load_tensors(plan.dataset, train=True), *data.load_tensors(plan.dataset, train=False))

    data_free, lock = {}, threading.Lock()  # L1-norm uses no data: measured once per student, reused for every K, draw

    def cell(teacher, kind, sparsity, k, seed, method, config):
        measure = lambda: _measure(plan, models[teacher], tensors, teacher, kind, sparsity, k, seed, method)  # noqa: E731
        if method not in DATA_FREE:
            return measure()
        with lock:
            data_free[teacher, kind, sparsity] = data_free.get((teacher, kind, sparsity)) or measure()
            return dict(data_free[teacher, kind, sparsity])

    return grid.run_grid(cell, todo, workers=workers if device.type == "cpu" else 1, cache=cache,
                         progress=progress, desc="benchmark")


def _groups(rows: Sequence[dict], keys: Sequence[str]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        out[tuple(r[k] for k in keys)].append(r)
    return out


def summary(rows: Sequence[dict]) -> list[dict]:
    """Mean ± std over seeds of accuracy (%) and mean CPU seconds, per teacher, student, method and K."""
    _check_rows(rows, ("teacher", "student", "method", "k", "acc", "cpu_s", "params", "flops"), once=True)
    out = []
    for (teacher, student, method, k), group in _groups(rows, ("teacher", "student", "method", "k")).items():
        acc = 100 * np.array([r["acc"] for r in group])
        out.append({"teacher": teacher, "student": student, "method": method, "k": k, "runs": len(group),
                    "acc_mean": float(acc.mean()), "acc_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                    "cpu_s": float(np.mean([r["cpu_s"] for r in group])), "params": group[0]["params"],
                    "flops": group[0]["flops"]})
    return out


def _by_seed(rows, teacher, student, method, k) -> dict[int, float]:
    key = (teacher, student, method, k)
    return {r["seed"]: 100 * r["acc"] for r in rows if (r["teacher"], r["student"], r["method"], r["k"]) == key}


def compare_methods(rows: Sequence[dict], teacher: str, student: str, k: int, a: str, b: str) -> Comparison | None:
    """``protocol.compare`` of ``a`` and ``b`` (one teacher, student, K), paired over their shared draws, or None."""
    _check_rows(rows, ("teacher", "student", "method", "k", "seed", "acc"))
    sa, sb = _by_seed(rows, teacher, student, a, k), _by_seed(rows, teacher, student, b, k)
    seeds = sorted(set(sa) & set(sb))
    return compare([sa[s] for s in seeds], [sb[s] for s in seeds], names=(a, b)) if seeds else None


def _mark(comparisons: Sequence[Comparison]) -> str:
    """✓ every ordering is a clear win, ✗ one is clearly reversed, ? otherwise (inside the draws' noise)."""
    signs = [c.sign for c in comparisons]
    return "✓" if all(v > 0 for v in signs) else "✗" if any(v < 0 for v in signs) else "?"


def _best(rows, teacher, student, k, methods) -> str | None:
    means = {m: np.mean(list(v.values())) for m in methods if (v := _by_seed(rows, teacher, student, m, k))}
    return max(means, key=means.get) if means else None


def claims(rows: Sequence[dict]) -> list[dict]:
    """The papers' headline orderings, each decided by the course's one rule (``protocol.compare``, paired by seed).

    Each claim: ``claim``, ``where``, ``mark`` (✓ every ordering it states is a clear win, ✗ one is clearly
    reversed, ? the draws cannot tell) and ``verdicts`` (the paired comparisons' sentences).
    """
    _check_rows(rows, ("teacher", "student", "kind", "method", "k", "seed", "acc"))
    out = []
    students = sorted({(r["teacher"], r["student"], r["kind"]) for r in rows})
    ks = sorted({r["k"] for r in rows})
    for teacher, student, kind in students:
        cmp = lambda k, a, b: compare_methods(rows, teacher, student, k, a, b)  # noqa: E731
        where = f"{teacher}, {student}"
        k100 = 10 if 10 in ks else ks[-1]
        pair = [cmp(k100, "FSKD", "FitNet"), cmp(k100, "FitNet", "BP")]
        if kind == "structured" and None not in pair:
            out.append(_claim(f"FSKD > FitNet > fine-tuning with {10 * k100} samples (Li et al., CVPR 2020, "
                              "Table 2)", where, pair))
        for ours in ("Ours", "Ours-S"):
            c = cmp(ks[0], ours, "Ours-NC")
            if c is not None:
                out.append(_claim(f"{ours} beats no cross (Ours-NC) at K = {ks[0]} (Bai et al., AAAI 2020, Table 1)",
                                  where, [c]))
        best_ours, best_base = (_best(rows, teacher, student, ks[0], group) for group in (LAYERWISE, BASELINES))
        if best_ours and best_base:
            found = [cmp(ks[0], best_ours, best_base)]
            text = f"layer-wise distillation beats every baseline at K = {ks[0]}"
            if len(ks) > 1:  # the lead per seed index, at the first and the last K
                leads = [_leads(rows, teacher, student, k, best_ours, best_base) for k in (ks[0], ks[-1])]
                seeds = sorted(set(leads[0]) & set(leads[1]))
                found.append(compare([leads[0][s] for s in seeds], [leads[1][s] for s in seeds],
                                     names=(f"the lead at K = {ks[0]}", f"the lead at K = {ks[-1]}")))
                text += ", by less as K grows"
            out.append(_claim(text + " (Bai et al., AAAI 2020, Tables 1, 7)", where, found))
    return out


def _leads(rows, teacher, student, k, ours: str, base: str) -> dict[int, float]:
    a, b = _by_seed(rows, teacher, student, ours, k), _by_seed(rows, teacher, student, base, k)
    return {s: a[s] - b[s] for s in set(a) & set(b)}


def _claim(text: str, where: str, comparisons: Sequence[Comparison]) -> dict:
    return {"claim": text, "where": where, "mark": _mark(comparisons),
            "verdicts": "; ".join(c.verdict for c in comparisons)}


_COLUMNS = ("teacher", "student", "kind", "sparsity", "method", "k", "seed", "acc", "test_images", "params", "flops",
            "cpu_s", "wall_s", "config")


def _sort_key(value) -> tuple:
    """Numbers before text, numbers by value (a budget of 40 before 120)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return (0, value, "") if number else (1, 0, str(value))


def write_table(rows: Sequence[dict], path: str | Path, columns: Sequence[str] = _COLUMNS) -> Path:
    """The tidy table, one row per cell (``columns``), sorted, written atomically to ``path`` (a CSV); returns it."""
    from .checkpoint import atomic_write_bytes

    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: tuple(_sort_key(r.get(c)) for c in columns if c != "acc")))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.getvalue().encode("utf-8"))
    return path


def read_table(path: str | Path) -> list[dict]:
    """The rows of a table ``write_table`` wrote (numbers as numbers, ``student`` restored), as ``claims`` takes them."""
    validate.path("path", path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no table at {path}: run the command that writes it (results/README.md)")
    ints, floats = ("k", "seed", "test_images", "params", "flops"), ("sparsity", "acc", "cpu_s", "wall_s")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [{**r, **{c: int(r[c]) for c in ints if c in r}, **{c: float(r[c]) for c in floats if c in r}}
                for r in csv.DictReader(f)]
    return [{**r, "student": Scheme(r["kind"], r["sparsity"]).name} for r in rows]


def write_outputs(rows: Sequence[dict], out: str | Path, scale: str) -> list[Path]:
    """``results-<scale>.csv`` (tidy), ``summary-<scale>.csv`` and ``summary-<scale>.md``; returns the paths."""
    from .plots import markdown_table, mean_std

    _check_rows(rows, ("teacher", "student", "kind", "method", "k", "acc", "cpu_s", "params", "flops"), min_len=1)
    validate.path("out", out)
    if not isinstance(scale, str) or not scale:
        raise TypeError(f"scale must be the scale's name (a non-empty str), got {validate.describe(scale)}")
    (out := Path(out)).mkdir(parents=True, exist_ok=True)
    paths = [out / f"results-{scale}.csv", out / f"summary-{scale}.csv", out / f"summary-{scale}.md"]
    write_table(rows, paths[0])
    summ = summary(rows)
    write_table(summ, paths[1], columns=list(summ[0]))
    md = [f"# Few-shot compression benchmark, scale `{scale}`", ""]
    for (teacher, student), group in _groups(summ, ("teacher", "student")).items():
        ks = sorted({g["k"] for g in group})
        cell = {(g["method"], g["k"]): g for g in group}
        accs = _groups([r for r in rows if (r["teacher"], r["student"]) == (teacher, student)], ("method", "k"))
        table = [{"method": meth, **{f"K = {k}": mean_std([r["acc"] for r in accs[meth, k]])
                                     for k in ks if (meth, k) in cell},
                  "CPU s / run": f"{np.mean([cell[meth, k]['cpu_s'] for k in ks if (meth, k) in cell]):.2f}"}
                 for meth in dict.fromkeys(g["method"] for g in group)]
        md += [f"## {teacher}, {student}", "", markdown_table(table), ""]
    md += ["## The papers' claims", "", "✓ every ordering the claim states is a clear win, ✗ one is clearly reversed, "
           "? the draws cannot tell (paired 95 % intervals, `fsc_teach.protocol`).", "",
           markdown_table(claims(rows) or [{"claim": "none applicable"}]), ""]
    paths[2].write_text("\n".join(md), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    from .scale import get_scale

    parser = argparse.ArgumentParser(prog="python -m fsc_teach.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default=None, help="quick | standard | paper (default: $FSC_SCALE or standard)")
    parser.add_argument("--out", default="build/benchmark", help="folder for the cache, CSVs and Markdown")
    parser.add_argument("--workers", type=int, default=None, help="cells at a time (default: one per core)")
    parser.add_argument("--fresh", action="store_true", help="discard the cache of finished cells first")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="also write the tidy table to DIR/benchmark-<scale>.csv (default: results/ for the "
                             "standard and paper scales, nowhere for quick)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the cells on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
                             "--workers then caps the cells in flight (default: all). Needs fsc-teach[cluster]")
    if argv is not None:
        validate.sequence("argv", argv, "command-line words (str)")
        for i, a in enumerate(argv):
            if not isinstance(a, str):
                raise TypeError(f"argv[{i}] must be a str (a command-line word), got {validate.describe(a)}")
    args = parser.parse_args(argv)
    try:
        cluster = grid.dask_executor(args.scheduler) if args.scheduler else contextlib.nullcontext()
    except ImportError as err:  # Dask is an optional extra: say which
        parser.error(str(err))
    scale = get_scale(args.scale)
    plan = PLANS[scale]
    cache = (out := Path(args.out)) / f"cells-{scale}.jsonl"
    if args.fresh and cache.exists():
        cache.unlink()
    done = len(grid.load_cache(cache))
    print(f"benchmark at scale {scale!r}: {len(cells(plan))} cells ({done} already in {cache})"
          + (f"; {plan.note}" if plan.note else ""), flush=True)
    with cluster as executor:
        rows = run_plan(plan, cache=cache, workers=args.workers, executor=executor)
    paths = write_outputs(rows, out, scale)
    results = args.results if args.results is not None else (None if scale == "quick" else "results")
    if results:
        paths.append(write_table(rows, Path(results) / f"benchmark-{scale}.csv"))
    print(paths[2].read_text(encoding="utf-8"))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _check_cell(plan: Plan, teacher: str, method: str, k: int, seed: int) -> None:
    validate.module("plan", plan, Plan)
    validate.choice("teacher", teacher, plan.teachers)
    validate.choice("method", method, fewshot.METHODS)
    validate.integer("k", k, low=1)
    validate.integer("seed", seed)


def _check_run(plan: Plan, workers, teachers, tensors, executor) -> None:
    """``run_plan``'s arguments, before any teacher or dataset is loaded."""
    validate.module("plan", plan, Plan)
    if workers is not None:
        validate.integer("workers", workers, low=1)
    if teachers is not None:
        validate.mapping("teachers", teachers, "{teacher name: network}")
        for name in teachers:
            validate.module(f"teachers[{name!r}]", teachers[name], BlockNet)
    if tensors is not None:
        if not isinstance(tensors, (tuple, list)) or len(tensors) != 4:
            raise TypeError(f"tensors must be (x_train, y_train, x_test, y_test), got {validate.describe(tensors)}")
        validate.pair("tensors' training pair", tensors[:2], ndim=4)
        validate.pair("tensors' test pair", tensors[2:], ndim=4)
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(f"executor must be a concurrent.futures.Executor (grid.dask_executor), got "
                        f"{validate.describe(executor)}")


def _check_rows(rows: Sequence[dict], keys: Sequence[str], min_len: int = 0, once: bool = False) -> None:
    """Rows as ``run_plan`` returns them: dicts holding at least ``keys``; ``once``: read once, a generator will do."""
    validate.sequence("rows", rows, "result rows (dicts, as run_plan returns them)", min_len=min_len, iterators=once)
    for i, r in enumerate(rows if isinstance(rows, Sized) else []):
        validate.mapping(f"rows[{i}]", r, "(a result row from run_plan)")
        missing = [k for k in keys if k not in r]
        if missing:
            raise ValueError(f"rows[{i}] lacks {missing}: pass the rows run_plan returns")


if __name__ == "__main__":
    sys.exit(main())

"""FSKD vs FitNet vs few-sample fine-tuning on one L1-pruned student: accuracy and wall time (Li et al. 2020, Table 2).

    python benchmarks/fskd_benchmark.py --scale standard [--json results.json]

The course teacher (``zoo.load_teacher("vgg_fmnist")``) is pruned once by L1 norm, ``fewshot.Scheme("structured",
s)``: by default ``s`` is notebook 05's Prune-B, chosen by ``table2.choose_schemes`` (the ratio whose accuracy
before recovery is closest to half the teacher's, as the paper's Prune-B); ``--sparsity`` sets it directly. For
every N the *same* N training images (``data.sample_indices``, seed ``--seed``) go to the three recoveries, each run
by ``fewshot.compress`` — the course's one implementation of every method, with the benchmark plan's settings (the
label-using methods get ``--steps`` optimiser steps per stage; every student's BatchNorm is re-estimated on the N
images, as in notebooks 05 and 07):

* **FSKD** (Li et al. 2020, Algorithm 1): label-free, one least-squares solve per block, merged away;
* **FitNet** (Romero et al. 2015): two stages — hint training of the lower half through a regressor, then KD;
* **few-sample fine-tuning** ("BP"): cross-entropy on the N labelled images.

Timed: the wall time of each ``compress`` call, and the **forward floor**: one teacher + one student forward pass
over the N images, in eval mode — FSKD must at least see every image through both networks once, so it cannot beat
this. FSKD and the floor are fast and noisy, so they are the median of ``--repeats`` runs; the training runs are
timed once. The script prints a Markdown table, checks the benchmark's targets (FSKD at least as accurate as FitNet
and >= 10x faster; FSKD <= 5x the floor) and can write JSON. Accuracy comparisons with error bars and verdicts are
notebook 05's Table 2 (``python -m fsc_teach.table2``); this script is about time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fsc_teach import benchmark, data, fewshot, models, plots, table2, train, zoo  # noqa: E402

SCALES = {
    # quick: a smoke run (CI, tests): every code path, meaningless numbers
    "quick": dict(ns=[10, 100], steps=30, eval_size=1_000, repeats=1),
    # standard: N = 10, 100, 500 (the paper's Table 2: 100, 500) on the full test set, <= ~5 min on a 2-core CPU
    "standard": dict(ns=[10, 100, 500], steps=120, eval_size=10_000, repeats=3),
}
METHODS = {"FSKD": "FSKD", "FitNet (two-stage)": "FitNet", "few-sample fine-tuning": "BP"}


def _median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of ``fn()`` over ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


@torch.no_grad()
def forward_floor(teacher: torch.nn.Module, student: torch.nn.Module, x: torch.Tensor) -> None:
    """One teacher and one student forward pass over ``x`` in eval mode (FSKD's lower bound)."""
    teacher.eval()(x)
    student.eval()(x)


def run(scale: str = "standard", ns: list[int] | None = None, sparsity: float | None = None, seed: int = 0,
        steps: int | None = None, eval_size: int | None = None, repeats: int | None = None) -> dict:
    """Run the benchmark; returns a dict with the settings and one row per (N, method)."""
    cfg = dict(SCALES[scale])
    cfg.update({k: v for k, v in dict(ns=ns, steps=steps, eval_size=eval_size, repeats=repeats).items()
                if v is not None})
    torch.manual_seed(seed)
    x_train, y_train = data.load_tensors("fashion_mnist", train=True)
    x_test, y_test = data.load_tensors("fashion_mnist", train=False)
    x_eval, y_eval = x_test[:cfg["eval_size"]], y_test[:cfg["eval_size"]]
    teacher = zoo.load_teacher("vgg_fmnist").eval()
    if sparsity is None:  # notebook 05's Prune-B, by the band rule
        sparsity = table2.choose_schemes(table2.ladder_accuracies(teacher, *table2.selection_images("fashion_mnist"))
                                         )["B"].sparsity
    scheme = fewshot.Scheme("structured", sparsity)
    settings = dataclasses.replace(benchmark.PLANS["standard"].settings["vgg_fmnist"], train_steps=cfg["steps"])
    pruned = fewshot.compress("L1-norm", teacher, scheme, None, None)
    info = {"scale": scale, "scheme": scheme.name, "seed": seed, **cfg, "threads": torch.get_num_threads(),
            "teacher_acc": train.evaluate(teacher, x_eval, y_eval),
            "pruned_acc": train.evaluate(pruned, x_eval, y_eval),
            "teacher_params": models.count_params(teacher), "student_params": models.count_params(pruned),
            "student_widths": pruned.widths, "rows": []}
    for n in cfg["ns"]:
        idx = data.sample_indices(len(y_train), n, seed=seed)
        x, y = x_train[idx], y_train[idx]
        floor, _ = _median_time(lambda: forward_floor(teacher, pruned, x), cfg["repeats"])
        for label, method in METHODS.items():
            def once():
                return fewshot.compress(method, teacher, scheme, x, y, seed=seed, settings=settings)
            seconds, net = _median_time(once, cfg["repeats"] if method == "FSKD" else 1)
            assert models.count_params(net) == models.count_params(pruned)  # the same student: nothing added
            info["rows"].append({"N": n, "method": label, "accuracy": train.evaluate(net, x_eval, y_eval),
                                 "seconds": seconds, "floor_seconds": floor, "labels": method != "FSKD"})
    return info


def targets(info: dict) -> list[dict]:
    """The benchmark's three targets for every N: accuracy, speed-up over FitNet, and FSKD vs the forward floor."""
    out = []
    for n in info["ns"]:
        rows = {r["method"]: r for r in info["rows"] if r["N"] == n}
        fs, fit = rows["FSKD"], rows["FitNet (two-stage)"]
        out.append({"N": n, "fskd_minus_fitnet_acc": fs["accuracy"] - fit["accuracy"],
                    "speedup_vs_fitnet": fit["seconds"] / fs["seconds"],
                    "fskd_over_floor": fs["seconds"] / fs["floor_seconds"]})
    return out


def report(info: dict) -> str:
    """The Markdown report: settings, the results table and the targets."""
    lines = [f"# FSKD benchmark (scale `{info['scale']}`)", "",
             f"Teacher vgg_fmnist: {100 * info['teacher_acc']:.2f} % ({info['teacher_params']:,} params); "
             f"L1-pruned student {info['scheme']} (widths {info['student_widths']}, {info['student_params']:,} "
             f"params): {100 * info['pruned_acc']:.2f} % before recovery. Test images: {info['eval_size']:,}; "
             f"samples drawn with seed {info['seed']}; FitNet and fine-tuning: {info['steps']} optimiser steps per stage; "
             f"FSKD and floor: median of {info['repeats']}; torch threads: {info['threads']}.", ""]
    fskd_time = {r["N"]: r["seconds"] for r in info["rows"] if r["method"] == "FSKD"}
    rows = [{"N": r["N"], "method": r["method"], "labels": "yes" if r["labels"] else "no",
             "accuracy (%)": f"{100 * r['accuracy']:.2f}", "time (s)": f"{r['seconds']:.2f}",
             "time / FSKD": f"{r['seconds'] / fskd_time[r['N']]:.1f}x",
             "time / forward floor": f"{r['seconds'] / r['floor_seconds']:.1f}x",
             "floor (s)": f"{r['floor_seconds']:.3f}"} for r in info["rows"]]
    lines += [plots.markdown_table(rows), "", "Targets (Li et al. 2020, Table 2: Prune-A, 100 images, FSKD 4.8 s vs FitNet "
              "48.5 s, 92.37 % vs 91.23 %):", ""]
    t_rows = [{"N": t["N"],
               "FSKD acc. ≥ FitNet": f"{'yes' if t['fskd_minus_fitnet_acc'] >= 0 else 'no'} "
                                     f"({100 * t['fskd_minus_fitnet_acc']:+.2f} pts)",
               "FitNet time / FSKD time ≥ 10": f"{'yes' if t['speedup_vs_fitnet'] >= 10 else 'no'} "
                                               f"({t['speedup_vs_fitnet']:.1f}x)",
               "FSKD ≤ 5x forward floor": f"{'yes' if t['fskd_over_floor'] <= 5 else 'no'} "
                                          f"({t['fskd_over_floor']:.1f}x)"} for t in targets(info)]
    lines.append(plots.markdown_table(t_rows))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="standard")
    parser.add_argument("--ns", type=int, nargs="+", help="numbers of samples (default: the scale's)")
    parser.add_argument("--sparsity", type=float, default=None,
                        help="fraction of filters removed (default: notebook 05's Prune-B, by table2's band rule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="optimiser steps for FitNet and fine-tuning")
    parser.add_argument("--eval-size", type=int, help="test images for the accuracies")
    parser.add_argument("--repeats", type=int, help="timing repeats for FSKD and the floor (median)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("FSC_DEVICE", "cpu")
    info = run(args.scale, ns=args.ns, sparsity=args.sparsity, seed=args.seed, steps=args.steps,
               eval_size=args.eval_size, repeats=args.repeats)
    info["targets"] = targets(info)
    print(report(info))
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FSKD vs FitNet vs few-sample fine-tuning on one L1-pruned student: accuracy and wall time (Li et al. 2020, Table 2).

    python benchmarks/fskd_benchmark.py --scale standard [--json results.json]

The course teacher (``zoo.load_teacher("vgg_fmnist")``) is pruned once by the L1-norm scheme ``--scheme`` (Li et
al. 2017; ``prune.FILTER_RATIOS``). For every N the *same* N training images (``data.sample_indices``, seed ``--seed``)
go to three recoveries of copies of that *same* pruned student:

* **FSKD** (Li et al. 2020, Algorithm 1): label-free, one least-squares solve per block, merged away;
* **FitNet** (Romero et al. 2015): two stages — hint training of the lower half (teacher block 3 -> student block 3
  through a 1x1 regressor), then KD with labels (Eq. 2) — on ``--steps`` optimiser steps in all;
* **few-sample fine-tuning**: cross-entropy on the N labelled images for the same number of steps.

Timed: the wall time of each recovery (FitNet's and fine-tuning's whole training loop; FitNet's teacher outputs are
computed once and cached, which is faster than one teacher pass per step), and the **forward floor**: one
teacher + one student forward pass over the N images, in eval mode — FSKD must at least see every image through
both networks once, so it cannot beat this. FSKD and the floor are fast and noisy, so they are the median of
``--repeats`` runs; the training runs are timed once. The script prints a Markdown table, checks the benchmark's
targets (FSKD at least as accurate as FitNet and >= 10x faster; FSKD <= 5x the floor) and can write JSON.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from fsc_teach import data, fitnets, fskd, models, plots, prune, train, zoo  # noqa: E402

SCALES = {
    # quick: a smoke run (CI, tests): every code path, meaningless numbers
    "quick": dict(ns=[10, 100], steps=30, eval_size=1_000, repeats=1),
    # standard: N = 10, 100, 500 (the paper's Table 2: 100, 500) on 5,000 test images, <= ~5 min on a 2-core CPU
    "standard": dict(ns=[10, 100, 500], steps=150, eval_size=5_000, repeats=3),
}
HINT_BLOCK = GUIDED_BLOCK = 3  # the middle of the 6-block teacher and of its pruned copy


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


def _batch(n: int) -> int:
    return min(64, n)


def run(scale: str = "standard", ns: list[int] | None = None, scheme: str = "B", seed: int = 0,
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
    pruned, kept = prune.l1_prune(teacher, prune.filter_ratios(scheme, teacher))
    pruned.eval()
    info = {"scale": scale, "scheme": scheme, "seed": seed, **cfg, "threads": torch.get_num_threads(),
            "teacher_acc": train.evaluate(teacher, x_eval, y_eval),
            "pruned_acc": train.evaluate(pruned, x_eval, y_eval),
            "teacher_params": models.count_params(teacher), "student_params": models.count_params(pruned),
            "student_widths": pruned.widths, "rows": []}
    stage1 = cfg["steps"] // 3  # FitNet: a third of the steps on the hint, the rest on KD

    for n in cfg["ns"]:
        idx = data.sample_indices(len(y_train), n, seed=seed)
        x, y = x_train[idx], y_train[idx]
        per_epoch = -(-n // _batch(n))  # optimiser steps per epoch
        floor, _ = _median_time(lambda: forward_floor(teacher, pruned, x), cfg["repeats"])

        def run_fskd():
            student = copy.deepcopy(pruned)
            return fskd.fskd(student, teacher, x, kept=kept, batch_size=max(n, 1), progress=False)

        t_fskd, s_fskd = _median_time(run_fskd, cfg["repeats"])
        assert models.count_params(s_fskd) == models.count_params(pruned)  # merged: nothing added

        s_fit = train.trainable_copy(pruned)
        start = time.perf_counter()
        fitnets.fitnet_two_stage(s_fit, teacher, x, y, guided_block=GUIDED_BLOCK, hint_block=HINT_BLOCK,
                                 stage1_epochs=max(1, stage1 // per_epoch),
                                 stage2_epochs=max(1, (cfg["steps"] - stage1) // per_epoch),
                                 batch_size=_batch(n), lr=0.01, seed=seed, cache=True, progress=False)
        t_fit = time.perf_counter() - start

        s_ft = train.trainable_copy(pruned)
        start = time.perf_counter()
        train.fit(s_ft, x, y, epochs=max(1, cfg["steps"] // per_epoch), batch_size=_batch(n), lr=0.01, seed=seed,
                  progress=False)
        t_ft = time.perf_counter() - start

        for method, net, seconds in (("FSKD", s_fskd, t_fskd), ("FitNet (two-stage)", s_fit, t_fit),
                                     ("few-sample fine-tuning", s_ft, t_ft)):
            info["rows"].append({"N": n, "method": method, "accuracy": train.evaluate(net, x_eval, y_eval),
                                 "seconds": seconds, "floor_seconds": floor,
                                 "labels": method != "FSKD"})
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
             f"L1-pruned scheme {info['scheme']} (widths {info['student_widths']}, {info['student_params']:,} "
             f"params): {100 * info['pruned_acc']:.2f} % before recovery. Test images: {info['eval_size']:,}; "
             f"samples drawn with seed {info['seed']}; FitNet and fine-tuning: {info['steps']} optimiser steps; "
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
    parser.add_argument("--scheme", default="B", help="L1 pruning scheme of prune.FILTER_RATIOS (default B)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="optimiser steps for FitNet and fine-tuning")
    parser.add_argument("--eval-size", type=int, help="test images for the accuracies")
    parser.add_argument("--repeats", type=int, help="timing repeats for FSKD and the floor (median)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("FSC_DEVICE", "cpu")
    info = run(args.scale, ns=args.ns, scheme=args.scheme, seed=args.seed, steps=args.steps,
               eval_size=args.eval_size, repeats=args.repeats)
    info["targets"] = targets(info)
    print(report(info))
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FSKD's Table 2 (Li et al., CVPR 2020) under the course's protocol: three students in the paper's accuracy bands.

    python -m fsc_teach.table2 [--scale standard] [--out build/benchmark] [--results results]

Li et al. recover three L1-pruned VGG-16 students whose accuracy *before* recovery spans the range: Prune-A at
85.42 % (within a few points of the 92.66 % teacher), Prune-B at 47.90 % (about half) and Prune-C at 13.05 % (near
chance). A student of the course's teacher pruned by the paper's per-layer ratios lands somewhere else entirely, so
the bands, not the ratios, are what this module reproduces:

* ``ladder_accuracies`` prunes the teacher at every uniform structured ratio of ``LADDER`` (``fewshot.Scheme
  ("structured", s)``: the filters of every block but the last, by L1 norm; the last block keeps its width, so the
  classifier keeps all its inputs) and measures each student, unrepaired, on *selection* images;
* ``choose_schemes`` is the stated rule: for each of A, B, C, the ratio whose accuracy, as a fraction of the
  teacher's on the same images, is closest to the paper's (``BANDS``: 85.42/92.66, 47.90/92.66, 13.05/92.66).
  The schemes are defined once, here, and notebook 05 reuses them everywhere.

``plan(scale, schemes)`` is the comparison itself: the benchmark's plan for that scale (its teacher, budgets, draws,
BatchNorm re-estimation for every method and 10,000 test images) with these students, K = 10 and 50 images per class
(the paper's N = 100 and 500; N = 100 alone at standard, ``KS``) and the methods of Table 2 plus the data-free
floor L1+BN: ``METHODS`` (the unrepaired student needs no draws: one evaluation, outside the plan). Run it with
``benchmark.run_plan``; ``benchmark.claims`` decides "FSKD > FitNet > fine-tuning" with the course's one paired rule,
exactly as for notebook 07's students.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Mapping, Sequence

from . import benchmark, data, validate
from .fewshot import Scheme, compress
from .models import BlockNet
from .train import evaluate

__all__ = ["PAPER_TEACHER", "PAPER_BEFORE", "BANDS", "LADDER", "METHODS", "KS", "PAPER_T2", "SELECTION_IMAGES",
           "ladder_accuracies", "choose_schemes", "plan", "selection_images", "main"]

PAPER_TEACHER = 92.66  # Li et al. 2020, Table 1: VGG-16 on CIFAR-10, accuracy (%)
PAPER_BEFORE = {"A": 85.42, "B": 47.90, "C": 13.05}  # Table 1: Prune-A/B/C before recovery (%)
BANDS = {name: acc / PAPER_TEACHER for name, acc in PAPER_BEFORE.items()}  # accuracy as a fraction of the teacher's
LADDER = tuple(round(0.05 * i, 2) for i in range(1, 19))  # uniform structured ratios tried: 5 %, 10 %, ..., 90 %
METHODS = ("L1+BN", "BP", "FitNet", "FSKD")  # the data-free floor, fine-tuning ("BP"), FitNet, FSKD
# images per class: the paper's N = 100 and 500 (10 classes). At standard only N = 100, the sample size of the paper's
# claim: every cell is scored on all 10,000 test images, and those evaluations alone would take the notebook past ten
# minutes on two cores with N = 500 as well; the paper scale keeps both
KS = {"quick": (1, 2), "standard": (10,), "paper": (10, 50)}
SELECTION_IMAGES = 2_000  # the last training images: the schemes are chosen on them, never on test images
PAPER_T2 = {  # Li et al. 2020, Table 2 (VGG-16, CIFAR-10): {scheme: {method: {N: (accuracy %, seconds)}}}
    "A": {"FSKD": {100: (92.37, 4.8), 500: (92.46, 25.5)}, "FitNet": {100: (91.23, 48.5), 500: (92.13, 139.2)},
          "BP": {500: (90.25, 40.4)}, "full fine-tuning": {50_000: (92.54, 1059.6)}},
    "B": {"FSKD": {100: (90.17, 3.7), 500: (91.21, 19.3)}, "FitNet": {100: (88.76, 60.1), 500: (90.68, 157.1)},
          "BP": {500: (83.36, 50.3)}, "full fine-tuning": {50_000: (91.53, 1753.4)}},
    "C": {"FSKD": {100: (89.55, 7.4), 500: (90.41, 33.5)}, "FitNet": {100: (85.09, 71.3), 500: (88.31, 180.3)},
          "BP": {500: (78.13, 58.7)}, "full fine-tuning": {50_000: (90.77, 2592.3)}},
}


def ladder_accuracies(teacher: BlockNet, x, y, ladder: Sequence[float] = LADDER) -> dict[float, float]:
    """``{ratio: accuracy in [0, 1]}`` of the L1-pruned student ``Scheme("structured", ratio)``, unrepaired, on
    ``(x, y)``; the key ``0.0`` is the teacher itself."""
    validate.module("teacher", teacher, BlockNet)
    validate.images("x", x, "teacher", teacher)
    validate.labels("y", y, rows=len(x))
    validate.sequence("ladder", ladder, "pruning ratios in (0, 1)", min_len=1)
    out = {0.0: evaluate(teacher.eval(), x, y)}
    for ratio in ladder:
        student = compress("L1-norm", teacher, Scheme("structured", ratio), None, None)  # no data at all
        out[float(ratio)] = evaluate(student, x, y)
    return out


def choose_schemes(accuracies: Mapping[float, float], bands: Mapping[str, float] = BANDS) -> dict[str, Scheme]:
    """The rule: for each band, the ratio whose accuracy / the teacher's (the key ``0.0``) is closest to the band's
    fraction (ties: the smaller ratio). Returns ``{name: Scheme("structured", ratio)}`` in the order of ``bands``.

    The schemes must come out distinct and in increasing ratio (A milder than B milder than C); a ladder too coarse
    to separate the bands raises an error that says so.
    """
    validate.mapping("accuracies", accuracies, "{pruning ratio: accuracy} with the teacher at 0.0")
    validate.mapping("bands", bands, "{scheme name: accuracy as a fraction of the teacher's}")
    if 0.0 not in accuracies:
        raise ValueError("accuracies must hold the teacher's accuracy under the key 0.0 (ladder_accuracies does)")
    teacher = accuracies[0.0]
    if not teacher > 0:
        raise ValueError(f"the teacher's accuracy must be positive, got {teacher!r}")
    ratios = sorted(r for r in accuracies if r > 0)
    if not ratios:
        raise ValueError("accuracies hold no pruned student (a ratio > 0): run ladder_accuracies with a ladder")
    chosen = {name: min(ratios, key=lambda r: (abs(accuracies[r] / teacher - frac), r)) for name, frac in bands.items()}
    order = list(chosen.values())
    if any(b <= a for a, b in zip(order, order[1:])):
        raise ValueError(f"the bands {dict(bands)} chose ratios {chosen}: not distinct and increasing; use a finer "
                         "ladder (more ratios between the ones chosen)")
    return {name: Scheme("structured", r) for name, r in chosen.items()}


def plan(scale: str, schemes: Mapping[str, Scheme], ks: Sequence[int] | None = None,
         methods: Sequence[str] = METHODS, seeds: Sequence[int] | None = None) -> benchmark.Plan:
    """The benchmark's plan for ``scale`` (its first teacher, settings, test images) with ``schemes``' students,
    ``ks`` images per class (default ``KS[scale]``), ``methods`` and ``seeds`` (default the plan's draws)."""
    validate.choice("scale", scale, benchmark.PLANS)
    validate.mapping("schemes", schemes, "{name: fewshot.Scheme}")
    base = benchmark.PLANS[scale]
    teacher = base.teachers[0]
    return dataclasses.replace(base, teachers=(teacher,), schemes=tuple(schemes.values()),
                               ks=tuple(ks if ks is not None else KS[scale]), methods=tuple(methods),
                               seeds=tuple(seeds if seeds is not None else base.seeds),
                               settings={teacher: base.settings[teacher]},
                               note=f"FSKD's Table 2 under the course's protocol; {base.note}")


def selection_images(dataset: str) -> tuple:
    """The last ``SELECTION_IMAGES`` training images of ``dataset``: where the schemes are chosen."""
    x, y = data.load_tensors(dataset, train=True)
    return x[-SELECTION_IMAGES:], y[-SELECTION_IMAGES:]


def main(argv: list[str] | None = None) -> int:
    from . import zoo
    from .scale import get_scale

    parser = argparse.ArgumentParser(prog="python -m fsc_teach.table2", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default=None, help="quick | standard | paper (default: $FSC_SCALE or standard)")
    parser.add_argument("--out", default="build/benchmark", help="folder for the cache of finished cells")
    parser.add_argument("--results", default=None, metavar="DIR",
                        help="write the tidy table to DIR/fskd-table2-<scale>.csv (default: results/ for standard and "
                             "paper, nowhere for quick)")
    args = parser.parse_args(argv)
    scale = get_scale(args.scale)
    base = benchmark.PLANS[scale]
    teacher = zoo.load_teacher(base.teachers[0]).eval()
    schemes = choose_schemes(ladder_accuracies(teacher, *selection_images(base.dataset)))
    print("schemes: " + ", ".join(f"{n} = {s.name}" for n, s in schemes.items()), flush=True)
    rows = benchmark.run_plan(plan(scale, schemes), cache=Path(args.out) / f"table2-{scale}.jsonl",
                              teachers={base.teachers[0]: teacher})
    results = args.results if args.results is not None else (None if scale == "quick" else "results")
    if results:
        print("wrote", benchmark.write_table(rows, Path(results) / f"fskd-table2-{scale}.csv"))
    for c in benchmark.claims(rows):
        print(c["mark"], c["claim"], "—", c["where"], "—", c["verdicts"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

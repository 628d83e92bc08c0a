# %% [markdown]
# # 07 · The few-shot compression benchmark: every method, the same students, the same samples
#
# Notebooks 01–06 each taught one way to repair a compressed network with a handful of images. Papers compare
# such methods on their own terms — different students, different samples, different budgets — and a reader
# cannot tell which differences are real. This notebook puts **every method of the course on one footing** (at
# `standard` all but Hinton KD and Iter-KD, which notebooks 02 and 03 measure and the budget sweep of §2 runs; the
# `paper` scale runs them too): one teacher, the
# same pruned students — one structured and one unstructured, at the two sparsities of the cross-distillation
# paper's headline tables (50 % of the channels, 90 % of the weights; the `paper` scale adds
# a second sparsity of each kind) — the same K images per class (K = 1 and 10 at `standard`, 1, 5 and 10 at
# `paper`; five draws each), budgets read off a measured sweep by one rule for every method, the same BatchNorm
# re-estimation on the K-shot images for every student, every
# accuracy on the full test set, and for each run its accuracy *and* its cost. Then it checks the papers' headline
# orderings against the table, one by one, with one rule for "A beats B" (`fsc_teach.protocol`). Three methods from
# where few-sample compression went next run in the same grid — Wanda and SparseGPT (one-shot pruning from the
# images' Gram matrix, unstructured only) and MiR (mimic the teacher's last features, then reuse its head);
# notebook 08 teaches them and reads their cells from this grid's table.
#
# **Learning objectives.** After this notebook you can
# 1. design a fair comparison of compression methods: fixed students, shared samples, seeds, and a cost measure
#    that does not depend on what else the machine is doing;
# 2. read a tidy results table — mean ± std over draws, accuracy against K and against compute — and decide which
#    differences are real with a paired comparison over the shared draws;
# 3. test a paper's claim against your own measurements and explain, from the data, where it does not hold;
# 4. run (and resume) the same grid outside Jupyter with `python -m fsc_teach.benchmark`.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
OUT = os.path.join("..", "build", "benchmark")  # the command's folder: a run there is reused (and resumed) here
FRESH = False  # True: ignore finished cells from an earlier run of this scale
RUN_SWEEP = False  # True: run the budget sweep here (long) instead of reading its committed table

# %% [markdown]
# ### Settings (per scale)
#
# The grid of each scale — dataset, teachers, students, K, draws, methods, budgets, test images — is one object in
# the package, `fsc_teach.benchmark.PLANS[scale]`, shared with the command-line run (§8) and with notebook 06; the
# budget sweep's settings are `fsc_teach.budget.SWEEPS` and `CAPS`. The next cell prints the plan of this scale.

# %%
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from fsc_teach import benchmark, budget, check, fewshot, grid, models, plots, protocol, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)
PLAN = benchmark.PLANS[SCALE]
cache = Path(OUT) / f"cells-{SCALE}.jsonl"
if FRESH and cache.exists():
    cache.unlink()
cells = benchmark.cells(PLAN)
print(f"scale {SCALE!r}: {PLAN.dataset}, teachers {', '.join(PLAN.teachers)}; {len(PLAN.schemes)} students × "
      f"K ∈ {list(PLAN.ks)} × {len(PLAN.seeds)} seeds × {len(PLAN.methods)} methods = {len(cells)} cells")
if PLAN.note:
    print("budget:", PLAN.note)
left_out = [m for m in fewshot.METHODS if m not in PLAN.methods]
if left_out:  # standard: to fit its time budget (both are in the sweep of §2, on the same students)
    print(f"left out of the grid at this scale: {', '.join(left_out)} (the sweep of §2 still runs them, at K = 5; the "
          "`paper` scale runs every method)")

# %% [markdown]
# ## 1. The grid
#
# **Students** (`fewshot.Scheme`). *Structured*: a fraction of the input channels of blocks 1 … L−1 removed — the
# cross-distillation paper's VGG-50 % pattern — so every method ends with exactly the same widths: the baselines
# start from the L1-norm student (Li et al. 2017), cross distillation picks its own channels while it distils and
# is then physically shrunk. *Unstructured*: a fraction of the weights of the same convs set to zero (layer-wise
# magnitude masks for the baselines, which training keeps).
#
# **Methods** (`fewshot.METHODS`), each from its notebook:

# %%
# NBVAL_CHECK_OUTPUT
plots.show_table([{"method": name, "what it does": " ".join(fn.__doc__.split())} for name, fn in fewshot.METHODS.items()])

# %%
teachers = {name: zoo.load_teacher(name) for name in PLAN.teachers}
shape = (1, 28, 28) if PLAN.dataset == "fashion_mnist" else (3, 32, 32)
rows_students = []
for name, t in teachers.items():
    rows_students.append({"teacher": name, "student": "— (the teacher)", "params": f"{models.count_params(t):,}",
                          "MFLOPs": f"{models.count_flops(t, shape) / 1e6:.2f}"})
    for scheme in PLAN.schemes:
        s = fewshot.compress("L1-norm", t, scheme, None, None)
        sparse = scheme.kind == "unstructured"
        rows_students.append({"teacher": name, "student": scheme.name,
                              "params": f"{models.count_params(s, nonzero=sparse):,}",
                              "MFLOPs": f"{models.count_flops(s, shape, nonzero=sparse) / 1e6:.2f}"})
plots.show_table(rows_students)
print("unstructured students: non-zero parameters and the multiply-adds of non-zero weights")

# %% [markdown]
# ## 2. How many steps each method gets: a measured sweep
#
# A method given too few optimisation steps loses for lack of optimisation, not for its idea; one given many more
# than another wins for the same reason. So the budgets are not picked by hand. `fsc_teach.budget` runs every
# trained method at three budgets — Adam steps per layer for cross distillation (Ours-NC, Ours, Ours-S), optimiser
# steps per stage for BP, KD, Iter-KD, FitNet and MiR — on both students, at K = 5, on three draws, everything else as
# in the grid below, and reads the budget off the measurements with **one rule for every method**: *the smallest
# budget at which every method of the family, on both students, is within 0.5 points of its own best budget*
# (where accuracy plateaus), *but no more than the time budget allows* (`budget.CAPS`: at `standard` the grid
# must run in 15 minutes on two CPU cores, which caps cross distillation at 200 steps per layer and the other
# trained methods at 120 steps per stage; the notebook says what the caps cost). Each variant also runs once at the smallest budget **without** the BatchNorm
# re-estimation, which isolates what that re-estimation does. The sweep costs more than the grid itself, so at
# `standard` it is read from its committed table (`results/budget-sweep-standard.csv`, written by
# `python -m fsc_teach.budget --scale standard`); set `RUN_SWEEP = True` to run it here (it resumes from
# `build/benchmark`).

# %%
sweep_table = Path("..") / "results" / f"budget-sweep-{SCALE}.csv"
start = time.perf_counter()
if RUN_SWEEP or not sweep_table.is_file():
    sweep = budget.run_sweep(PLAN, budget.SWEEPS[SCALE], seeds=budget.SEEDS[SCALE],
                             cache=Path(OUT) / f"sweep-{SCALE}.jsonl", teachers=teachers)
    origin = f"run here in {time.perf_counter() - start:.0f} s"
else:
    sweep = budget.read_sweep(sweep_table)
    origin = f"read from `results/{sweep_table.name}`"
chosen = budget.choose(sweep, cap=budget.CAPS[SCALE])
plots.show_table(budget.plateau_table(sweep))
print(f"test accuracy (%) at each budget, mean over {len(budget.SEEDS[SCALE])} draw(s) at K = {sweep[0]['k']}, "
      f"on {sweep[0]['test_images']:,} test images; CPU seconds: mean per run at each budget, on one core; "
      f"{len(sweep)} runs, {sum(r['cpu_s'] for r in sweep) / 60:.0f} CPU minutes of method time in all")

# %%
fig, axes = plt.subplots(1, len(PLAN.schemes), figsize=(4.6 * len(PLAN.schemes), 3.8), squeeze=False, sharey=True)
swept = list(budget.SWEEPS[SCALE]["steps"]), list(budget.SWEEPS[SCALE]["train_steps"])
for ax, scheme in zip(axes[0], PLAN.schemes):
    for m in (*benchmark.LAYERWISE, *budget.TRAINED):
        family = "steps" if m in benchmark.LAYERWISE else "train_steps"
        pts = sorted({r["budget"] for r in sweep if r["method"] == m and r["bn"] and r["student"] == scheme.name})
        cell = lambda b, key: np.mean([r[key] for r in sweep if (r["method"], r["budget"], r["bn"], r["student"])
                                       == (m, b, True, scheme.name)])  # noqa: E731
        ax.plot([cell(b, "cpu_s") for b in pts], [100 * cell(b, "acc") for b in pts], marker="o", ms=4,
                ls="--" if family == "steps" else "-", color=plots.color(m), label=m)
        ax.plot(cell(chosen[family], "cpu_s"), 100 * cell(chosen[family], "acc"), marker="o", ms=10, mfc="none",
                color=plots.color(m))
    ax.set(xscale="log", xlabel="CPU seconds per run, one core (log)", title=scheme.name)
    ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.grid(alpha=0.3)
axes[0][0].set_ylabel(f"test accuracy (%), K = {sweep[0]['k']}")
axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.suptitle("each line: one method at each swept budget (left to right: more steps); circled: the budget the "
             "rule chooses", fontsize=10)
fig.tight_layout()
plt.show()

# %%
settings = PLAN.settings[PLAN.teachers[0]]
agree = (chosen["steps"], chosen["train_steps"]) == (settings.steps, settings.train_steps)
no_bn = {(r["student"], r["method"]): [] for r in sweep if not r["bn"]}
for r in sweep:
    if not r["bn"]:
        no_bn[r["student"], r["method"]].append(100 * r["acc"])
with_bn = lambda s, m, b: np.mean([100 * r["acc"] for r in sweep if (r["student"], r["method"], r["budget"], r["bn"])
                                   == (s, m, b, True)])  # noqa: E731
lost = {key: with_bn(*key, min(r["budget"] for r in sweep if (r["student"], r["method"]) == key))
        - np.mean(v) for key, v in no_bn.items()}
worst = max(lost, key=lost.get)
short = budget.shortfall(sweep, chosen)
most = max(short, key=short.get)
FAMILY_NAME = {"steps": "cross distillation's steps per layer", "train_steps": "the baselines' steps per stage"}
capped = [f for f, b in chosen.items() if budget.CAPS[SCALE].get(f) == b and b < max(budget.SWEEPS[SCALE][f])]
display(Markdown(f"""
The sweep ({origin}) chooses **{chosen['steps']} Adam steps per layer** for cross distillation and
**{chosen['train_steps']} optimiser steps** per stage for BP, KD, Iter-KD, FitNet and MiR. The grid below runs
{settings.steps} and {settings.train_steps}: {"the rule's choice" if agree else "fixed smoke-test budgets (at "
"`quick` nothing is chosen and the numbers mean nothing)" if SCALE == "quick" else
"**not** the rule's choice — rerun the sweep or change the plan"}.
{"The time budget caps " + " and ".join(FAMILY_NAME[f] for f in capped) + " below the plateau: " if capped else ""}at the chosen budgets
the largest shortfall from a method's best swept budget is {short[most]:.2f} points ({most[1]} on the {most[0]}
student; median {np.median(list(short.values())):.2f}), so a method still climbing there is under-trained by at
most that much in the grid below — the `paper` scale runs the authors' budgets.
Without the BatchNorm re-estimation (smallest budget), the largest loss is {lost[worst]:.1f} points, for
{worst[1]} on the {worst[0]} student; the median loss over all {len(lost)} method–student pairs is
{np.median(list(lost.values())):.1f} points. Every cell below therefore re-estimates BatchNorm, for every method.
"""))

# %% [markdown]
# **Cost.** Each cell records `cpu_s`, the CPU time of the thread that ran it. The grid runs one cell per core
# with one intra-op thread each (`fsc_teach.grid`), so this is the method's own compute on one core, not the
# wall time of a busy machine. It still varies with the machine and with what shares its caches and memory, so
# compare costs within one run, not across runs or machines. The cells are cached in
# `build/benchmark/cells-<scale>.jsonl`: interrupt the run (or the command), start it again, and it continues
# where it stopped.
#
# ## 3. Run (or resume) the grid

# %%
start = time.perf_counter()
done_before = len(grid.load_cache(cache))
rows = benchmark.run_plan(PLAN, cache=cache, teachers=teachers)
paths = benchmark.write_outputs(rows, OUT, SCALE)
if SCALE != "quick":  # the standard and paper runs' tidy table, committed with the course (results/README.md)
    paths.append(benchmark.write_table(rows, Path("..") / "results" / f"benchmark-{SCALE}.csv"))
print(f"{len(rows)} cells ({done_before} from the cache) in {time.perf_counter() - start:.0f} s; "
      f"total CPU {sum(r['cpu_s'] for r in rows) / 60:.1f} min; {rows[0]['test_images']:,} test images per cell")
print("tidy table:", ", ".join(str(Path(p).resolve().relative_to(Path("..").resolve())) for p in paths[:1] + paths[3:]))

# %% [markdown]
# ## 4. The results table
#
# Test accuracy (%), mean ± std over the seeds, per student, method and K; the last column is the mean CPU
# seconds per run (one core). L1-norm uses no data, so its row is the same for every K; L1+BN is the same student
# with only its BatchNorm statistics re-estimated on the K-shot images — the floor every method's gain is
# measured from (every other method gets the same re-estimation at its end).

# %%
summ = benchmark.summary(rows)
by = {(r["teacher"], r["student"], r["method"], r["k"]): r for r in summ}
students = list(dict.fromkeys((r["teacher"], r["student"]) for r in summ))
methods = [m for m in PLAN.methods if any((t, s, m, k) in by for t, s in students for k in PLAN.ks)]
for t, s in students:
    display(Markdown(f"**{t}, {s}**"))
    accs = lambda m, k: [v["acc"] for v in rows if (v["teacher"], v["student"], v["method"], v["k"]) == (t, s, m, k)]
    plots.show_table([{"method": m, **{f"K = {k}": plots.mean_std(accs(m, k)) for k in PLAN.ks},
                       "CPU s / run": f"{np.mean([by[t, s, m, k]['cpu_s'] for k in PLAN.ks]):.2f}"}
                      for m in methods if (t, s, m, PLAN.ks[0]) in by])

# %% [markdown]
# ## 5. Accuracy against K, one panel per student
#
# Mean ± std over the draws; the data-free L1-norm student (far below, the same at every K) is left out so that
# the axis shows the range where the methods differ.

# %%
colors = {m: plots.color(m) for m in methods}  # the course's colour for each method, in every figure
fig, axes = plt.subplots(1, len(students), figsize=(4.2 * len(students), 3.8), squeeze=False)
for ax, (t, s) in zip(axes[0], students):
    for m in methods:
        if (t, s, m, PLAN.ks[0]) not in by or m == "L1-norm":
            continue
        mean = [by[t, s, m, k]["acc_mean"] for k in PLAN.ks]
        std = [by[t, s, m, k]["acc_std"] for k in PLAN.ks]
        ax.errorbar(PLAN.ks, mean, yerr=std, marker="o", capsize=2, label=m, color=colors[m],
                    ls="--" if m in benchmark.LAYERWISE else "-")
    ax.set(xscale="log", xticks=list(PLAN.ks), xticklabels=list(PLAN.ks), xlabel="shots per class K",
           title=f"{s} (L1-norm: {by[t, s, 'L1-norm', PLAN.ks[0]]['acc_mean']:.1f} %)")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.grid(alpha=0.3)
axes[0][0].set_ylabel("test accuracy (%)")
handles = [plt.Line2D([], [], color=colors[m], marker="o", ls="--" if m in benchmark.LAYERWISE else "-", label=m)
           for m in methods if m != "L1-norm"]
fig.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Accuracy against compute
#
# Every run as one point: CPU seconds on one core (log scale) against test accuracy, coloured by method, one
# marker per K. Up and to the left is better.

# %%
markers = dict(zip(PLAN.ks, "osD^v"))
fig, axes = plt.subplots(1, len(students), figsize=(4.2 * len(students), 3.8), squeeze=False, sharex=True,
                         sharey=True)
for ax, (t, s) in zip(axes[0], students):
    for r in rows:
        if (r["teacher"], r["student"]) == (t, s) and r["method"] != "L1-norm":
            ax.scatter(max(r["cpu_s"], 1e-2), 100 * r["acc"], color=colors[r["method"]], marker=markers[r["k"]],
                       s=18, alpha=0.7)
    ax.set(xscale="log", xlabel="CPU seconds per run", title=s)
    ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))  # 0.1, 1, 10 rather than 10^-1, 10^0, 10^1
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.grid(alpha=0.3)
axes[0][0].set_ylabel("test accuracy (%)")
handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=m) for m, c in colors.items() if m != "L1-norm"]
handles += [plt.Line2D([], [], color="k", marker=mk, ls="", label=f"K = {k}") for k, mk in markers.items()]
fig.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. How our numbers compare with the papers
#
# The papers' headline orderings, each decided by the course's one rule (`fsc_teach.protocol.compare`): every
# method ran on the same draws (five at `standard`), so each ordering is a *paired* comparison — the mean difference over the
# draws with its 95 % confidence interval (Student's t). ✓: every ordering the claim states is a clear win; ✗: one
# is clearly reversed; ?: the draws cannot tell (the interval contains 0).
#
# * Li et al. 2020 (FSKD, Table 2): with 100 samples, FSKD > FitNet > few-sample fine-tuning;
# * Bai et al. 2020 (cross distillation, Table 1): at K = 1, Ours and Ours-S each beat no cross (Ours-NC);
# * Bai et al. 2020 (Tables 1, 7): layer-wise distillation beats every baseline at K = 1, and by less as K grows.

# %%
found = benchmark.claims(rows)
plots.show_table([{"": c["mark"], "claim": c["claim"], "student": c["where"],
                   "paired differences (points, 95 % interval)": c["verdicts"]} for c in found])

# %%
held = sum(c["mark"] == "✓" for c in found)
reversed_ = sum(c["mark"] == "✗" for c in found)
ks = list(PLAN.ks)


def lead(t, s, k):
    """Best layer-wise method minus the best baseline (accuracy points) for one student at K."""
    ours = max(by[t, s, m, k]["acc_mean"] for m in benchmark.LAYERWISE if (t, s, m, k) in by)
    base = max(by[t, s, m, k]["acc_mean"] for m in benchmark.BASELINES if (t, s, m, k) in by)
    return ours - base


def best(t, s, k):
    return max((m for m in methods if (t, s, m, k) in by), key=lambda m: by[t, s, m, k]["acc_mean"])


family = {"labels": [m for m in ("BP", "KD", "Iter-KD", "FitNet") if m in methods], "FSKD": ["FSKD"],
          "layer-wise": list(benchmark.LAYERWISE)}
grow = {name: np.mean([by[t, s, m, ks[-1]]["acc_mean"] - by[t, s, m, ks[0]]["acc_mean"] for t, s in students
                       for m in ms if (t, s, m, ks[0]) in by] or [np.nan]) for name, ms in family.items()}
catch_up = ("with more shots the label-based methods catch up, as the papers' \"gains shrink as K grows\" "
            "describes." if grow["labels"] > grow["layer-wise"] else "the labels do not catch up on this grid.")
winners = "; ".join(f"{s}: " + ", ".join(f"K = {k} {best(t, s, k)}" for k in ks) for t, s in students)
leads = "; ".join(f"{s}: " + " → ".join(f"{lead(t, s, k):+.1f}" for k in ks) for t, s in students)


def by_seed(t, s, m, k):
    """{seed: accuracy (%)} of method m on one student at K."""
    return {r["seed"]: 100 * r["acc"] for r in rows if (r["teacher"], r["student"], r["method"], r["k"]) == (t, s, m, k)}


def paired(t, s, k, a, b):
    """protocol.compare of methods a and b on the draws of one student and K (the claims' rule)."""
    sa, sb = by_seed(t, s, a, k), by_seed(t, s, b, k)
    return protocol.compare([sa[d] for d in sorted(sa)], [sb[d] for d in sorted(sa)], names=(a, b))


cross_cells = [paired(t, s, k, m, "Ours-NC") for t, s in students for k in ks for m in ("Ours", "Ours-S")]
wins, losses = sum(c.sign > 0 for c in cross_cells), sum(c.sign < 0 for c in cross_cells)
floor = {(t, s): max(((m, by[t, s, m, ks[0]]["acc_mean"] - by[t, s, "L1+BN", ks[0]]["acc_mean"])
                      for m in methods if m not in ("L1-norm", "L1+BN") and (t, s, m, ks[0]) in by), key=lambda v: v[1])
         for t, s in students}
seed_methods = [m for m in methods if m not in benchmark.LATER and m not in ("L1-norm", "L1+BN")]
later_lines = []
for t, s in students:
    for k in ks:
        here = [m for m in benchmark.LATER if (t, s, m, k) in by]
        if here:
            top = max(here, key=lambda m: by[t, s, m, k]["acc_mean"])
            rival = max((m for m in seed_methods if (t, s, m, k) in by), key=lambda m: by[t, s, m, k]["acc_mean"])
            later_lines.append(f"{s}, K = {k}: " + ", ".join(f"{m} {by[t, s, m, k]['acc_mean']:.1f} %" for m in here)
                               + f"; against the best seed-paper method: {paired(t, s, k, top, rival).verdict}")
display(Markdown(f"""
**{held} of {len(found)}** claims hold clearly on this run, **{reversed_}** are clearly reversed, and the draws cannot
decide the other {len(found) - held - reversed_} (scale `{SCALE}`, {len(PLAN.seeds)} draws per cell, every cell on
{rows[0]['test_images']:,} test images, every student's BatchNorm re-estimated on its K-shot images).

* The best method per student and K: {winners}.
* Over the data-free floor (L1+BN) at K = {ks[0]}, the best method gains: {"; ".join(f"{s}: {m} {g:+.1f} points"
  for (t, s), (m, g) in floor.items())}.
* Lead of the best layer-wise method over the best baseline (points, by K = {ks}): {leads}.
* From K = {ks[0]} to K = {ks[-1]}, the label-based baselines ({", ".join(family["labels"])}) gain {grow['labels']:+.1f} points
  on average over the students, FSKD {grow['FSKD']:+.1f}, the layer-wise methods {grow['layer-wise']:+.1f}: {catch_up}
* Crossing against no cross, paired over the draws for every student and K (Ours and Ours-S each against
  Ours-NC, {len(cross_cells)} comparisons): crossing wins clearly in {wins}, loses clearly in {losses}, and the
  draws cannot tell in {len(cross_cells) - wins - losses}. Our CPU schedule is about
  {3000 // max(PLAN.settings[PLAN.teachers[0]].steps, 1)}× shorter than the authors'; the `paper` scale runs theirs
  on CIFAR-10. Without the BatchNorm re-estimation every cell here gets, §2 measured the largest loss for
  {worst[1]} on the {worst[0]} student: {lost[worst]:.1f} points at the smallest swept budget.
""" + ("* Where the field went next (notebook 08; no claim of the seed papers): " + "; ".join(later_lines) + "."
       if later_lines else "")))


# %% [markdown]
# **Crossing against no cross, draw by draw.** The accuracy plots of §5 cannot show differences of a few tenths of
# a point; the claims above rest on the *paired* differences. Each dot is one draw (Ours or Ours-S minus Ours-NC on
# the same images), each bar the 95 % interval of `protocol.compare`; a bar that crosses 0 is "?".

# %%
fig, axes = plt.subplots(1, len(students), figsize=(4.4 * len(students), 3.6), squeeze=False, sharey=True)
for ax, (t, s) in zip(axes[0], students):
    for j, m in enumerate(("Ours", "Ours-S")):
        for i, k in enumerate(ks):
            c = paired(t, s, k, m, "Ours-NC")
            a, b = by_seed(t, s, m, k), by_seed(t, s, "Ours-NC", k)
            x = i + (j - 0.5) * 0.3
            ax.scatter([x] * len(a), [a[d] - b[d] for d in sorted(a)], color=plots.color(m), s=14, alpha=0.6)
            ax.errorbar(x, c.mean, yerr=[[c.mean - c.low], [c.high - c.mean]] if c.n > 1 else None, fmt="D",
                        ms=6, capsize=4, color=plots.color(m), label=f"{m} − Ours-NC" if i == 0 else None)
    ax.axhline(0, color="grey", ls="--", lw=1)
    ax.set(xticks=range(len(ks)), xticklabels=[f"K = {k}" for k in ks], xlim=(-0.6, len(ks) - 0.4), title=s,
           xlabel="shots per class")
    ax.grid(alpha=0.3, axis="y")
axes[0][0].set_ylabel("accuracy difference (points)")
axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
fig.suptitle("crossing minus no cross, paired by draw: dots are draws, bars 95 % intervals", fontsize=10)
fig.tight_layout()
plt.show()
cross_where = [(s, k) for t, s in students for k in ks for m in ("Ours", "Ours-S")]  # cross_cells' order
lost_cells = [f"{s}, K = {k}: {c.verdict}" for (s, k), c in zip(cross_where, cross_cells) if c.sign < 0]
display(Markdown("Where no cross wins clearly: " + ("; ".join(lost_cells) if lost_cells else "nowhere") + "."))

# %% [markdown]
# ## 8. The same run outside Jupyter
#
# ```bash
# .venv/bin/python -m fsc_teach.budget --scale standard        # the budget sweep of §2 (writes results/)
# .venv/bin/python -m fsc_teach.benchmark --scale standard     # progress bar; Ctrl-C and rerun to resume
# .venv/bin/python -m fsc_teach.benchmark --scale standard --fresh  # start over
# ```
#
# It writes `build/benchmark/results-<scale>.csv` (one tidy row per cell: teacher, student, method, K, seed,
# accuracy, test images, parameters, FLOPs, CPU and wall seconds), `summary-<scale>.csv` / `.md` (the tables above)
# and keeps the cache of finished cells that this notebook reads. At `standard` and `paper` the tidy table is also
# written to `results/benchmark-<scale>.csv`, the copy committed with the course (`results/README.md`).
#
# **`paper` scale.** CIFAR-10 with VGG-16 and ResNet-56 (trained on first use by `zoo.load_teacher`), four
# students (structured 50 % and 70 %, unstructured 70 % and 90 %), K = 1, 5, 10, five seeds, and the papers'
# budgets: 3,000 full-batch Adam steps per layer and 100 epochs for the baselines — 4 × 3 × 5 × 10 − 30 = 570 cells
# per teacher, run one at a time on the GPU. It has not
# been timed on a GPU for this course (none was available); an estimate from the work per run: a cross-distillation
# run is 12 layers × 3,000 Adam steps for VGG-16 and 27 × 3,000 for ResNet-56 on at most 100 images, launch-bound
# at roughly 1–2 ms a step, so about 1 minute (VGG-16) and 2 minutes (ResNet-56) per run; with the baselines and
# evaluations, expect about 4 hours for VGG-16 and 8 for ResNet-56 — half a day, plus training the two teachers
# (60 epochs each). The test suite runs the whole paper-scale grid end to end on synthetic CIFAR-shaped data at one
# step per layer.

# %% [markdown]
# ## 9. Exercises
#
# **Exercise 1 — mean and spread by hand.** From the tidy `rows`, compute the mean and the sample standard
# deviation (n − 1) of the test accuracy, in %, of Ours-NC on the first student at the smallest K; return them as
# a pair `(mean, std)` from `my_mean_std(rows, student, method, k)`.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_mean_std(rows, student, method, k):
    ### BEGIN SOLUTION
    accs = [100 * r["acc"] for r in rows if r["student"] == student and r["method"] == method and r["k"] == k]
    return float(np.mean(accs)), float(np.std(accs, ddof=1)) if len(accs) > 1 else 0.0
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
t0, s0 = students[0]
ref = by[t0, s0, "Ours-NC", ks[0]]
check.close(check.runs(my_mean_std, rows, s0, "Ours-NC", ks[0]), (ref["acc_mean"], ref["acc_std"]), atol=1e-6,
            what="my_mean_std matches benchmark.summary", hint="select the rows, multiply by 100, np.std(..., ddof=1)")


# %% [markdown]
# **Exercise 2 — the cheapest good method.** Among the methods whose mean accuracy on the first student at the
# largest K is within 1 point of the best, which has the smallest mean CPU time? Write `my_cheapest(by, t, s, k)`.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_cheapest(by, t, s, k):
    ### BEGIN SOLUTION
    cands = [m for (t_, s_, m, k_) in by if (t_, s_, k_) == (t, s, k)]
    top = max(by[t, s, m, k]["acc_mean"] for m in cands)
    good = [m for m in cands if by[t, s, m, k]["acc_mean"] >= top - 1.0]
    return min(good, key=lambda m: by[t, s, m, k]["cpu_s"])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
cands = [m for m in methods if (t0, s0, m, ks[-1]) in by]
top = max(by[t0, s0, m, ks[-1]]["acc_mean"] for m in cands)
expected = min((m for m in cands if by[t0, s0, m, ks[-1]]["acc_mean"] >= top - 1.0),
               key=lambda m: by[t0, s0, m, ks[-1]]["cpu_s"])
check.equal(check.runs(my_cheapest, by, t0, s0, ks[-1]), expected, what="the cheapest method within 1 point of the best",
            hint="filter by accuracy first (best − 1), then take the minimum of cpu_s")


# %% [markdown]
# **Exercise 3 — is it noise?** Every method ran on the same draws, so compare two methods *paired*: take the
# difference per draw, d_i = a_i − b_i, and its mean ± t·sd/√n, with t the 97.5 % quantile of Student's t with
# n − 1 degrees of freedom (`scipy.stats.t.ppf(0.975, n - 1)`). Write `my_interval(a, b)` returning
# `(mean, low, high)` of the paired difference, and apply it to Ours vs Ours-NC on the first student at the
# smallest K. (`fsc_teach.protocol.compare` is the course's copy of this rule: A beats B when low > 0.)

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_interval(a, b):
    ### BEGIN SOLUTION
    from scipy.stats import t as student_t

    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    half = student_t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
per_seed = lambda m: {r["seed"]: 100 * r["acc"] for r in rows if (r["teacher"], r["student"], r["method"], r["k"])
                      == (t0, s0, m, ks[0])}
a, b = per_seed("Ours"), per_seed("Ours-NC")
a, b = [a[d] for d in sorted(a)], [b[d] for d in sorted(a)]
ref = protocol.compare(a, b, names=("Ours", "Ours-NC"))
check.close(check.runs(my_interval, a, b), (ref.mean, ref.low, ref.high), what="my_interval is the paired t interval",
            hint="d = a − b per draw; mean ± t.ppf(0.975, n − 1) · std(d, ddof=1) / √n")
print(f"Ours vs Ours-NC at K = {ks[0]} on {s0}: {ref.verdict}")

# %% [markdown]
# **Exercise 4 — predict, then check: an easy draw.** Some handfuls of images are easier than others. Suppose draw
# i happened to be easy in a way that lifts *every* method by the same o_i points (a different amount on each
# draw). Before running anything, predict: does the paired verdict on Ours vs Ours-NC (Exercise 3) change — its
# mean or its interval? Set `my_changes` to `True` or `False`; the check adds random per-draw offsets of several
# points to both methods and compares again.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_changes = ...  # your answer: replace the ... by True or False
### BEGIN SOLUTION
my_changes = False  # (a_i + o_i) − (b_i + o_i) = a_i − b_i: the draw's own effect cancels in every difference
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
offsets = np.random.default_rng(0).normal(0.0, 5.0, len(a))  # one "easy or hard draw" effect per draw, points
shifted = protocol.compare([v + o for v, o in zip(a, offsets)], [v + o for v, o in zip(b, offsets)],
                           names=("Ours", "Ours-NC"))
moved = not all(np.isclose(x, y, atol=1e-9) for x, y in ((ref.mean, shifted.mean), (ref.low, shifted.low),
                                                        (ref.high, shifted.high)))
check.equal(my_changes, moved, what="whether per-draw offsets move the paired verdict",
            hint="write d_i with the offset in both terms")
print(f"paired, as measured: {ref.verdict}\npaired, with the offsets: {shifted.verdict}\n"
      f"spread of Ours alone over the draws: {np.std(a, ddof=1):.2f} points as measured, "
      f"{np.std(np.add(a, offsets), ddof=1):.2f} with the offsets; of the paired differences: "
      f"{np.std(np.subtract(a, b), ddof=1):.2f} in both cases")

# %% [markdown]
# ## Takeaways

# %%
t_s, s_s = students[0]
all_layerwise = all(best(t, s, k) in benchmark.LAYERWISE for t, s in students for k in ks)
fskd_ok = (t_s, s_s, "FSKD", ks[0]) in by and best(t_s, s_s, ks[0]) != "FSKD"  # item 4 compares FSKD with the best
display(Markdown(f"""
1. **{held} of {len(found)} headline claims hold** on this grid, {reversed_} are reversed and
   {len(found) - held - reversed_} cannot be decided by {len(PLAN.seeds)} paired draws: a claim is tested by a paired
   interval, not by eye.
2. **{"Layer-wise distillation leads at every K here" if all_layerwise else "The best method depends on the cell"}**:
   the best method per student and K is {winners}; the lead of the best layer-wise method over the best baseline,
   by K = {ks}, is {leads} points.
3. **{"Crossing adds nothing measurable on this grid" if wins == 0 else "Crossing helps in some cells"}**: in
   {len(cross_cells)} paired comparisons with no cross it wins clearly {wins} times and loses clearly {losses} times.
""" + (f"""4. **Cost belongs in the table**: on the {s_s} student at K = {ks[0]} alone (§4's last column averages every
   K), FSKD reaches {by[t_s, s_s, 'FSKD', ks[0]]['acc_mean']:.1f} % in {by[t_s, s_s, 'FSKD', ks[0]]['cpu_s']:.2f} CPU s
   per run, the best method, {best(t_s, s_s, ks[0])}, {by[t_s, s_s, best(t_s, s_s, ks[0]), ks[0]]['acc_mean']:.1f} %
   in {by[t_s, s_s, best(t_s, s_s, ks[0]), ks[0]]['cpu_s']:.2f} s.
""" if fskd_ok else "") + f"""{5 if fskd_ok else 4}. **A shared preprocessing step can matter more than the method**:
   without the BatchNorm re-estimation that every cell gets, §2 measured a loss of up to {lost[worst]:.1f} points
   ({worst[1]}, {worst[0]} student).
"""))

# %% [markdown]
# **Try next.**
# * Add K = 5 to the plan (`benchmark.PLANS["standard"]`, a copy with `ks=(1, 5, 10)`) and see whether the lead
#   shrinks steadily with K.
# * Run the sweep yourself (`RUN_SWEEP = True`, long) and check that the rule chooses the same budgets.
# * Put Hinton KD and Iter-KD back into the standard grid (`methods=fewshot.METHODS`, about four more minutes) and
#   see where they land between BP and FitNet.
# * Decide a claim of your own with `protocol.compare`, e.g. "MiR beats FitNet at K = 10" on each student.
# * On a GPU, `FSC_SCALE=paper` runs the CIFAR-10 grid with the papers' budgets (§8).

# %% [markdown]
# ## References
#
# * H. Bai, J. Wu, I. King, M. Lyu. *Few Shot Network Compression via Cross Distillation.* AAAI 2020.
#   [arXiv:1911.09450](https://arxiv.org/abs/1911.09450) — the protocol: same students, K shots per class, five
#   seeds, Tables 1, 7, 8.
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR 2020.
#   [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — FSKD and its comparison with FitNet and fine-tuning
#   (Table 2).
# * A. Romero et al. *FitNets: Hints for Thin Deep Nets.* ICLR 2015. [arXiv:1412.6550](https://arxiv.org/abs/1412.6550)
# * G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* 2015.
#   [arXiv:1503.02531](https://arxiv.org/abs/1503.02531) — KD.
# * S. Yalburgi. *Iterative Knowledge Distillation.* Unpublished manuscript, 2019 (no public link) — Iter-KD.
# * H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient ConvNets.* ICLR 2017.
#   [arXiv:1608.08710](https://arxiv.org/abs/1608.08710)

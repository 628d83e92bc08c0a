# %% [markdown]
# # 05 · Few-sample knowledge distillation (FSKD): solve a 1x1 conv, then merge it away
#
# A pruned network has lost accuracy, and fine-tuning it needs labelled data and time. Li et al. (CVPR 2020)
# observe that the pruned *student* still computes features close to the *teacher's* — it only needs each
# block's output **re-mixed**. FSKD appends a 1x1 convolution $Q_j$ to every student block, *before* its
# non-linearity, fits $Q_j$ by **least squares** so that the block's output matches the teacher's on a handful of
# **unlabelled** images, and then **merges** $Q_j$ into the conv before it. The repaired student has exactly the
# parameters and FLOPs it had before — and the whole procedure takes seconds.
#
# **Learning objectives.** After this notebook you can
# 1. state Theorem 1 (the merge), prove it in three lines, check it numerically on a real network, and explain why
#    it needs *nothing non-linear* between the conv and the 1x1 (condition c2) and why BatchNorm must be folded
#    into the conv *first*;
# 2. run FSKD (Eq. 1 solved block by block, Algorithm 1) on students made by L1 filter pruning, by network
#    decoupling and by hand-designing a narrow net, and read its cost in seconds and in samples;
# 3. compare FSKD with FitNet and with fine-tuning on the same few samples — accuracy *and* wall time — and say,
#    from measurements, when FSKD wins and what limits it;
# 4. judge whether FSKD needs in-distribution data (Table 7) and when the least-squares problem is ill-posed.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
FIG3_SCHEME = "B"  # the student of Figure 3 (accuracy vs samples) and Table 7 (samples from elsewhere)
FIG4_SCHEME = "A"  # the student of Figure 4 (block by block)

# %% [markdown]
# **Settings.** Everything that compares methods runs through the course's one protocol, with the budgets of notebook
# 07's plan for this scale (`benchmark.PLANS`): the same sample draws for every method, every student's BatchNorm
# statistics re-estimated on those samples, every accuracy on the full test set, verdicts from the paired rule of
# `fsc_teach.protocol`. The few settings below are this notebook's own.

# %%
import copy
import dataclasses
import inspect
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from torch.nn import functional as F

from fsc_teach import (benchmark, check, data, fewshot, fitnets, fskd, models, plots, prune, students, table2, train,
                       zoo)
from fsc_teach.protocol import compare
from fsc_teach.scale import get_scale, pick

SCALE = get_scale(SCALE)
PLAN = benchmark.PLANS[SCALE]  # dataset, teacher, budgets, draws and test images of notebook 07's benchmark
DATASET, TEACHER, SETTINGS = PLAN.dataset, PLAN.teachers[0], PLAN.settings[PLAN.teachers[0]]
DRAWS = PLAN.seeds  # sample draws: the same for every method (five at standard: the comparisons of Table 2, 7)
FIG_DRAWS = DRAWS[:2]  # the descriptions (Figure 3, Tables 6 and 8): two draws, no verdicts
FIG3_KS = pick(SCALE, (1, 2), (1, 5, 10), (1, 10, 50))  # images per class for Figure 3 (N = 10 × K)
CEILING_N = pick(SCALE, 200, 2_000, 5_000)  # FSKD solved on this many images: the best a 1x1 remix can do
CORR_SIZE = pick(SCALE, 100, 500, 1_000)  # test images for Figure 4's correlations
DECOUPLE_RANKS = pick(SCALE, (1,), (1, 2, 3), (1, 2, 3, 4))  # Table 6's T
T8_N = pick(SCALE, (10,), (10, 200), (10, 50, 200))  # Table 8's samples
T8_LR = 0.05  # a randomly initialised student takes a larger learning rate
FULL_FT = pick(SCALE, (200, 1), (2_000, 1), (50_000, 20))  # "full" fine-tuning: (images, epochs), one run
CACHE = Path("..") / "build" / "benchmark" / f"table2-{SCALE}.jsonl"  # `python -m fsc_teach.table2`'s cache

torch.manual_seed(0)
x_train, y_train = data.load_tensors(DATASET, train=True)
x_test, y_test = data.load_tensors(DATASET, train=False)
x_eval, y_eval = x_test[:PLAN.eval_size], y_test[:PLAN.eval_size]
DEVICE = train.get_device()  # FSKD and evaluations run where the teacher is; fit() picks the same device
teacher = zoo.load_teacher(TEACHER).to(DEVICE).eval()
cpu_teacher = copy.deepcopy(teacher).cpu()  # for the algebra of section 1 and the exercises


def test_acc(net):
    """Accuracy in [0, 1] on the test images (all 10,000 from standard on), as every table of the course reports."""
    return train.evaluate(net, x_eval, y_eval)


teacher_acc = test_acc(teacher)
print(f"teacher {TEACHER}: widths {teacher.widths}, {models.count_params(teacher):,} params, "
      f"{models.count_flops(teacher, data.DATASETS[DATASET]['shape']) / 1e6:.1f} M FLOPs, "
      f"test accuracy {100 * teacher_acc:.2f} % on {len(y_eval):,} test images")

# %% [markdown]
# ## 1. Theorem 1: a 1x1 conv after a conv is a conv
#
# **Theorem 1 (Li et al. 2020, Sec. 3.3).** A pointwise convolution $Q \in \mathbb{R}^{n'_o \times n'_i \times 1 \times 1}$
# can be merged into the convolution before it, $W \in \mathbb{R}^{n_o \times n_i \times k \times k}$, giving
# $W' = Q \circ W \in \mathbb{R}^{n'_o \times n_i \times k \times k}$, if
# **(c1)** $n_o = n'_i$ (Q reads exactly the conv's output channels) and
# **(c2)** there is no non-linear activation between $W$ and $Q$.
# **Corollary 1:** if moreover (c3) $Q$ is square, $n'_o = n'_i = n_o$, then $W'$ has the shape, parameter count
# and FLOPs of $W$.
#
# **Proof, in our words.** At output position $p$ the conv computes, for each channel $c$,
# $z_c(p) = \sum_{i,u,v} W_{c,i,u,v}\, x_i(p + (u,v)) + b_c$. The 1x1 conv mixes channels at the *same* position:
# $y_o(p) = \sum_c Q_{o,c}\, z_c(p) + q_{0,o}$. Substitute and swap the two finite sums:
#
# $$ y_o(p) = \sum_{i,u,v} \Big(\underbrace{\textstyle\sum_c Q_{o,c} W_{c,i,u,v}}_{W'_{o,i,u,v}}\Big)\, x_i(p+(u,v))
#    + \underbrace{\textstyle\sum_c Q_{o,c} b_c + q_{0,o}}_{b'_o} .$$
#
# So $y$ is one conv with kernel $W'[:, :, u, v] = Q\, W[:, :, u, v]$ for every tap $(u,v)$ and bias $b' = Qb + q_0$:
# the 1x1 conv is a linear combination of the previous conv's kernels. Stride, padding and dilation only decide
# *which* $p$ and offsets appear, identically on both sides, so the identity holds for all of them. (c1) makes the
# product $QW$ defined. (c2) is what allowed the swap: with $\sigma$ in between, $y_o = \sum_c Q_{o,c}\,
# \sigma(z_c)$, and $\sigma$ of a sum is not the sum of $\sigma$'s, so no single kernel reproduces it. $\square$
#
# **BatchNorm.** In eval mode BatchNorm is a per-channel affine map,
# $\mathrm{BN}(z)_c = \gamma_c (z_c - \mu_c)/\sqrt{\sigma_c^2+\varepsilon} + \beta_c$, so conv → BN is itself a conv
# ("folding": scale each filter by $\gamma_c/\sqrt{\sigma_c^2+\varepsilon}$). FSKD's $Q$ sits *after* BN, so the
# correct merge is: fold BN into the conv, then apply Theorem 1. Merging $Q$ into the conv *before* BN (what the
# BatchNorm path of the authors' public code does; link in the references) computes $\mathrm{BN}(QWx)$ instead of
# $Q\,\mathrm{BN}(Wx)$, and a per-channel scaling does not commute with a dense $Q$. The package's implementation:

# %%
print(inspect.getsource(fskd.fold_bn))
print(inspect.getsource(fskd.merge_pointwise))


# %% [markdown]
# **Numerical check on the real teacher.** For every block of the course teacher we fold its BatchNorm, draw a
# random square $Q$ and bias $q_0$, and compare the merged conv with conv → BN → 1x1 on real feature maps (the
# block's true inputs for 64 test images). Then the two ways to get it wrong: a ReLU between (violating c2), and
# merging into the conv before BatchNorm.

# %%
# NBVAL_CHECK_OUTPUT
def relative_gap(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


with torch.no_grad():
    inputs = [h for h, _ in models.block_io(cpu_teacher, x_test[:64])]
    gen = torch.Generator().manual_seed(0)
    for j, (block, h) in enumerate(zip(cpu_teacher.blocks, inputs)):
        conv, bn = block.conv, block.bn
        c = conv.out_channels
        q = torch.eye(c) + 0.3 * torch.randn(c, c, generator=gen)
        q0 = torch.randn(c, generator=gen)
        reference = F.conv2d(bn(conv(h)), q[:, :, None, None], q0)  # conv -> BN -> 1x1, the unmerged network
        merged = fskd.merge_pointwise(fskd.fold_bn(conv, bn), q, q0)  # fold BN first, then Theorem 1
        with_relu = F.conv2d(F.relu(bn(conv(h))), q[:, :, None, None], q0)  # c2 violated
        merged_before_bn = bn(fskd.merge_pointwise(conv, q)(h)) + q0[None, :, None, None]  # the BN-branch bug
        print(f"block {j}: W {tuple(conv.weight.shape)} -> W' {tuple(merged.weight.shape)} | merged == conv,BN,1x1: "
              f"{relative_gap(merged(h), reference) < 1e-5} | with a ReLU between: "
              f"{relative_gap(merged(h), with_relu) < 1e-5} | merged before BN: "
              f"{relative_gap(merged_before_bn, reference) < 1e-5}")

# %% [markdown]
# The merged conv equals conv → BN → 1x1 to float32 rounding (relative error below $10^{-5}$) in every block; with a
# ReLU in between, or with $Q$ merged into the conv before BatchNorm, the result is a different function. How far
# off? The ReLU version differs exactly where the pre-activations are negative:

# %%
with torch.no_grad():
    block, h = cpu_teacher.blocks[2], inputs[2]
    z = block.bn(block.conv(h))
    q = torch.eye(z.shape[1]) + 0.3 * torch.randn(z.shape[1], z.shape[1], generator=torch.Generator().manual_seed(1))
    gap = relative_gap(F.conv2d(z, q[:, :, None, None]), F.conv2d(F.relu(z), q[:, :, None, None]))
print(f"block 2: {100 * (z < 0).float().mean():.0f} % of the pre-activations are negative; merging across the ReLU "
      f"gives a largest error of {gap:.2f}× the largest output value")

# %% [markdown]
# In a network block, FSKD's $Q$ lives in the `adapter` slot (`conv → bn → adapter → ReLU → pool`) and
# `fskd.merge_into_block_` merges it *in place*: the conv stores $QW$ (BN folded) and the BatchNorm is
# re-parametrised to add the merged bias, so every tensor keeps its shape (Corollary 1):

# %%
# NBVAL_CHECK_OUTPUT
block = copy.deepcopy(cpu_teacher.blocks[3]).eval()
c = block.conv.out_channels
q = torch.eye(c) + 0.1 * torch.randn(c, c, generator=torch.Generator().manual_seed(2))
q0 = 0.1 * torch.randn(c, generator=torch.Generator().manual_seed(3))
with torch.no_grad():
    with_adapter = copy.deepcopy(block)
    with_adapter.adapter = torch.nn.Conv2d(c, c, 1)
    with_adapter.adapter.weight.copy_(q[:, :, None, None])
    with_adapter.adapter.bias.copy_(q0)
    shapes = [tuple(p.shape) for p in block.parameters()]
    fskd.merge_into_block_(block, q, q0)
    h = inputs[3]
    print("merged block == block with the 1x1 adapter:", relative_gap(block(h), with_adapter(h)) < 1e-5)
    print("parameter shapes unchanged:", shapes == [tuple(p.shape) for p in block.parameters()])
    print("parameters: block with adapter", models.count_params(with_adapter), "-> merged block",
          models.count_params(block))

# %% [markdown]
# ## 2. Eq. 1 and Algorithm 1: least squares, block by block
#
# For block $j$, let $X^s_j$ be the student's pre-activation output and $X^t_j$ the teacher's, restricted to the
# channels the student kept (Fig. 2 of the paper). Every pixel of every image is one equation; with a bias column
# and a small ridge toward the identity (our addition: it keeps the problem well posed when there are fewer pixels
# than channels),
#
# $$ Q^*_j, q^*_{0,j} = \arg\min_{Q, q_0} \sum_{i=1}^N \sum_{p} \big\| Q\, x^s_{ij}(p) + q_0 - x^t_{ij}(p) \big\|^2
#    + \lambda \|Q - I\|_F^2 \qquad \text{(Li et al. 2020, Eq. 1)}$$
#
# which has the closed form $Q^{*\top} = (\bar X^\top \bar X + \lambda I)^{-1}(\bar X^\top \bar Y + \lambda I)$ on
# centred features (solved in float64). **Algorithm 1** (FSKD-BCD) visits the blocks in order: block $j$'s
# student features are computed *after* blocks $< j$ were corrected, $Q_j$ is solved and merged, and the next block
# follows. No labels and no gradients are involved.

# %%
print(inspect.getsource(fskd.solve_pointwise).split('    """')[0] + "    ...")
print(inspect.getsource(fskd.fskd).split('    """')[0] + "    ...  # see fsc_teach/fskd.py")

# %% [markdown]
# ## 3. The students: three L1-pruned teachers in the paper's accuracy bands
#
# Li et al. recover three L1-pruned VGG-16 students (their Table 1) whose accuracy **before** any repair spans the
# whole range: Prune-A at 85.42 % (a few points below the 92.66 % teacher), Prune-B at 47.90 % (about half) and
# Prune-C at 13.05 % (near chance). The paper's per-layer ratios would mean nothing for our six-block teacher, so we
# reproduce the *bands* with one stated rule (`table2.choose_schemes`):
#
# 1. prune the teacher by L1 norm (Li et al. 2017) at every uniform ratio of a ladder, 5 %, 10 %, …, 90 % of the
#    filters of every block but the last (`fewshot.Scheme("structured", ratio)`: the last block keeps its width, so
#    the classifier keeps every input);
# 2. measure each student, unrepaired, on 2,000 *training* images (never the test set);
# 3. for each band, take the ratio whose accuracy as a fraction of the teacher's is closest to the paper's
#    (85.42/92.66, 47.90/92.66, 13.05/92.66).
#
# The three schemes are defined once, here, and every later section reuses them.

# %%
shape = data.DATASETS[DATASET]["shape"]
ladder = table2.ladder_accuracies(teacher, *(t.to(DEVICE) for t in table2.selection_images(DATASET)))
SCHEMES = table2.choose_schemes(ladder)
ratios = [r for r in ladder if r > 0]
fig, ax = plt.subplots(figsize=(7.5, 3.6))
ax.plot([100 * r for r in ratios], [100 * ladder[r] for r in ratios], marker=".", color=plots.color("L1-norm"),
        label="L1-pruned student, no repair")
for i, (name, scheme) in enumerate(SCHEMES.items()):
    ax.axhline(100 * table2.BANDS[name] * ladder[0.0], color="grey", ls=":", lw=0.8,
               label="the paper's bands: " + ", ".join(f"{100 * f:.0f} %" for f in table2.BANDS.values())
               + " of the teacher" if i == 0 else None)
    ax.plot(100 * scheme.sparsity, 100 * ladder[scheme.sparsity], "o", ms=9, mfc="none", color="black")
    ax.annotate(f"Prune-{name}", (100 * scheme.sparsity, 100 * ladder[scheme.sparsity]), textcoords="offset points",
                xytext=(8, 4), fontsize=9)
ax.set(xlabel="filters removed in every block but the last (%)", ylabel="accuracy before repair (%)",
       title="Choosing the students: accuracy on 2,000 training images", ylim=(0, 100))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.grid(alpha=0.3)
plt.show()

pruned, kept_of, before_acc, scheme_rows = {}, {}, {}, []
for name, scheme in SCHEMES.items():
    pruned[name], kept_of[name] = prune.l1_prune(teacher, scheme.filter_ratios(teacher))
    before_acc[name] = test_acc(pruned[name])
    scheme_rows.append({"scheme": f"Prune-{name}", "filters removed": f"{100 * scheme.sparsity:.0f} %",
                        "widths": str(pruned[name].widths), "params": f"{models.count_params(pruned[name]):,}",
                        "FLOPs removed": f"{100 * (1 - models.count_flops(pruned[name], shape) / models.count_flops(teacher, shape)):.0f} %",
                        "accuracy before repair (test)": f"{100 * before_acc[name]:.2f} %",
                        "paper's band": f"{table2.PAPER_BEFORE[name]:.2f} % of {table2.PAPER_TEACHER} %"})
plots.show_table(scheme_rows)
print(f"teacher: {models.count_params(teacher):,} params, {100 * teacher_acc:.2f} % on {len(y_eval):,} test images")

# %% [markdown]
# Our students save far less than the paper's (its Prune-A removes 64 % of VGG-16's parameters at 85 %): the course
# teacher has six narrow blocks and no redundant 512-channel layers, so a few percent of its filters already cost
# accuracy. The bands, not the savings, are what Table 2 is about: a mildly, a badly and a fully broken student.
#
# **What a 1x1 remix can and cannot repair.** Take one block of the student. Its input has lost channels $R$ (the
# filters pruned in the block before), so for the kept output channels $K$ the teacher computes
# $t = W_{K,K} * h_K + W_{K,R} * h_R$ while the student computes $s = W_{K,K} * h_K$ (on inputs already changed by
# the blocks before). FSKD can only replace $s$ by $Q s + q_0$: at each pixel, a linear combination of the
# student's *own* output channels. The lost term $W_{K,R} * h_R$ is a function of the removed channels $h_R$; a
# remix recovers it only to the extent that it is, pixel by pixel, a linear function of the channels that remain.
# No number of samples changes that: more samples pin $Q$ down better, they do not enlarge the set of functions a
# remix can reach. Section 4 measures that limit directly (FSKD solved on thousands of unlabelled images), and
# Figure 4 shows it block by block.

# %% [markdown]
# ## 4. Table 2: FSKD vs FitNet vs fine-tuning, under the course's protocol
#
# Every method starts from the same pruned student and sees the same images: $K$ per class, $N = 10K$, drawn by
# `data.few_shot_indices` with the same seeds for every method. The paper's claim is made at $N = 100$ ($K = 10$);
# its $N = 500$ column is kept by the `paper` scale (at `standard`, scoring every run on all 10,000 test images
# leaves time for one sample size).
#
# * **no repair** — the pruned student as it is (section 3); **L1+BN** — the same with only its BatchNorm
#   statistics re-estimated on the $N$ images (no labels): the data-free floor every gain is measured against;
# * **BP** — fine-tuning with cross-entropy on the $N$ labelled images (the recovery of Li et al. 2017);
# * **FitNet** — Romero et al.'s two stages (notebook 04): hints through a regressor, then KD (uses the labels);
# * **FSKD** — Algorithm 1, one sweep; uses the images but **not their labels**.
#
# Budgets are notebook 07's (chosen there from a measured sweep): the same number of optimiser steps per stage for BP
# and FitNet whatever $N$, and every student's BatchNorm re-estimated on the $N$ images at the end — the same chance
# for every method. Each run is one cell of `benchmark.run_plan`, cached on disk, so a re-run is instant.

# %%
T2_PLAN = table2.plan(SCALE, SCHEMES)
start = time.perf_counter()
rows = benchmark.run_plan(T2_PLAN, cache=CACHE, teachers={TEACHER: teacher}, progress=False)
t2_seconds = time.perf_counter() - start
if SCALE != "quick":  # the tidy table, committed with the course (results/README.md)
    benchmark.write_table(rows, Path("..") / "results" / f"fskd-table2-{SCALE}.csv")
name_of = {s.name: n for n, s in SCHEMES.items()}
for r in rows:
    r["scheme"] = name_of[r["student"]]
print(f"{len(rows)} cells ({len(SCHEMES)} students × {len(T2_PLAN.ks)} sample size(s) × {len(DRAWS)} draws × "
      f"{len(T2_PLAN.methods)} methods) in {t2_seconds:.0f} s; every accuracy on {PLAN.eval_size:,} test images")

# %% [markdown]
# Two reference rows, not compared by the rule: **full fine-tuning**, cross-entropy on many labelled images (one
# run), and FSKD solved on many unlabelled images — the **ceiling of the 1x1 remix**, what FSKD reaches when samples
# are no longer scarce.

# %%
reference = {}
for name in SCHEMES:
    idx = data.sample_indices(len(y_train), FULL_FT[0], seed=0)
    xs, ys = x_train[idx], y_train[idx]
    net = train.trainable_copy(pruned[name])
    start = time.perf_counter()
    train.fit(net, xs, ys, epochs=FULL_FT[1], batch_size=64, lr=SETTINGS.train_lr, augment=True, seed=0,
              progress=False)
    reference[(name, "full fine-tuning")] = (test_acc(net), time.perf_counter() - start)
    xs = x_train[data.sample_indices(len(y_train), CEILING_N, seed=0)]
    start = time.perf_counter()
    net = fewshot.compress("FSKD", teacher, SCHEMES[name], xs, None, settings=SETTINGS)
    reference[(name, "ceiling")] = (test_acc(net), time.perf_counter() - start)


# %%
def accs(scheme, method, k, source=rows):
    """{seed: accuracy %} of one cell of Table 2."""
    return {r["seed"]: 100 * r["acc"] for r in source
            if (r["scheme"], r["method"], r["k"]) == (scheme, method, k)}


def cell_text(scheme, method, k):
    a = accs(scheme, method, k)
    secs = np.mean([r["cpu_s"] for r in rows if (r["scheme"], r["method"], r["k"]) == (scheme, method, k)])
    return plots.mean_std([v / 100 for v in a.values()]), secs


KS = T2_PLAN.ks
LABEL = {"L1+BN": "L1+BN (BatchNorm only)", "BP": "fine-tuning (BP)", "FitNet": "FitNet", "FSKD": "FSKD"}
table = []
for name in SCHEMES:
    table.append({"student": f"Prune-{name}", "method": "no repair (L1-norm)",
                  **{f"N = {10 * k}: accuracy (%)": f"{100 * before_acc[name]:.2f}" for k in KS},
                  f"paper, N = {10 * KS[0]}": f"{table2.PAPER_BEFORE[name]:.2f} (before)"})
    for method in T2_PLAN.methods:
        row = {"student": f"Prune-{name}", "method": LABEL[method]}
        for k in KS:
            text, secs = cell_text(name, method, k)
            row[f"N = {10 * k}: accuracy (%)"] = text
            row[f"N = {10 * k}: CPU s"] = f"{secs:.2f}"
            paper = table2.PAPER_T2[name].get(method, {}).get(10 * k)
            row[f"paper, N = {10 * k}"] = f"{paper[0]:.2f} ({paper[1]:.1f} s)" if paper else ""
        table.append(row)
    for what, label in (("full fine-tuning", f"full fine-tuning ({FULL_FT[0]:,} images, {FULL_FT[1]} epoch(s), "
                                             "one run)"),
                        ("ceiling", f"FSKD on {CEILING_N:,} images (the remix's ceiling, one run)")):
        acc, secs = reference[(name, what)]
        paper = table2.PAPER_T2[name]["full fine-tuning"][50_000] if what == "full fine-tuning" else None
        table.append({"student": f"Prune-{name}", "method": label, f"N = {10 * KS[0]}: accuracy (%)": f"{100 * acc:.2f}",
                      f"N = {10 * KS[0]}: CPU s": f"{secs:.1f}",
                      f"paper, N = {10 * KS[0]}": f"{paper[0]:.2f} (50,000 images)" if paper else ""})
plots.show_table(table)
print(f"mean ± std over {len(DRAWS)} draws; CPU s = the method's own CPU seconds per run on this machine; "
      f"teacher {100 * teacher_acc:.2f} % (the paper's: {table2.PAPER_TEACHER} %)")

# %% [markdown]
# **Verdicts.** Each pair of methods is compared by the course's one rule (`protocol.compare`): the mean paired
# difference over the draws with its 95 % interval; a method *beats* another only when the whole interval is above
# zero.

# %%
PAIRS = [("FSKD", "FitNet"), ("FSKD", "BP"), ("FitNet", "BP"), ("FSKD", "L1+BN"), ("BP", "L1+BN")]
verdicts = {(name, k, a, b): benchmark.compare_methods(rows, TEACHER, SCHEMES[name].name, k, a, b)
            for name in SCHEMES for k in KS for a, b in PAIRS}
plots.show_table([{"student": f"Prune-{name}", "N": 10 * k,
                   **{f"{a} vs {b}": verdicts[(name, k, a, b)].verdict.split(":")[0]
                      + f" ({verdicts[(name, k, a, b)].mean:+.2f})" for a, b in PAIRS}}
                  for name in SCHEMES for k in KS])
t2_claims = [c for c in benchmark.claims(rows) if c["claim"].startswith("FSKD")]
plots.show_table([{"student": f"Prune-{name_of[c['where'].split(', ')[1]]}", "claim": c["claim"], "": c["mark"],
                   "verdicts": c["verdicts"]} for c in t2_claims])

# %% [markdown]
# The claims table uses the same function (`benchmark.claims`) as notebook 07's: ✓ when every ordering the claim
# states is a clear win, ✗ when one is clearly reversed, ? when the draws cannot tell. Section 10 reads these
# results against the paper and against notebook 07.
#
# ## 5. Figure 3: accuracy vs number of samples
#
# The paper's Figure 3 plots FSKD's and FitNet's accuracy against $N$ for Prune-A and Prune-B. Here: the Figure 3
# student, the same two methods from $K = 1$ image per class upwards, run as cells of the same protocol (Table 2's
# are reused from the cache) on the first two draws: a description of the trend, not a comparison.

# %%
fig3_rows = benchmark.run_plan(table2.plan(SCALE, {FIG3_SCHEME: SCHEMES[FIG3_SCHEME]}, ks=FIG3_KS,
                                           methods=("FitNet", "FSKD"), seeds=FIG_DRAWS),
                               cache=CACHE, teachers={TEACHER: teacher}, progress=False)
for r in fig3_rows:
    r["scheme"] = FIG3_SCHEME
fig, ax = plt.subplots(figsize=(7.5, 4))
ns = [10 * k for k in FIG3_KS]
fig3 = {}
for method in ("FitNet", "FSKD"):
    fig3[method] = [float(np.mean(list(accs(FIG3_SCHEME, method, k, fig3_rows).values()))) for k in FIG3_KS]
    ax.plot(ns, fig3[method], marker="o", color=plots.color(method), label=LABEL[method])
ax.axhline(100 * teacher_acc, color=plots.color("teacher"), ls=":", label="teacher")
ax.axhline(100 * before_acc[FIG3_SCHEME], color=plots.color("L1-norm"), ls="--", label="no repair")
ax.axhline(100 * reference[(FIG3_SCHEME, "ceiling")][0], color=plots.color("FSKD"), ls="--", lw=0.8,
           label=f"FSKD on {CEILING_N:,} images")
ax.set_xscale("log")
ax.set_xticks(ns, [str(n) for n in ns])
ax.minorticks_off()
ax.set(xlabel="training samples N (log scale)", ylabel="test accuracy (%)",
       title=f"Figure 3: Prune-{FIG3_SCHEME}, mean over {len(FIG_DRAWS)} draws")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.grid(alpha=0.3)
plt.show()
print("N: " + ", ".join(map(str, ns)) + "\n" + "\n".join(f"{m}: " + ", ".join(f"{v:.2f}" for v in fig3[m]) + " %"
                                                       for m in fig3))


# %% [markdown]
# ## 6. Figure 4: what FSKD does to each block
#
# Left: for each block, the mean (over channels) Pearson correlation between the student's output channels and the
# teacher's corresponding kept channels on test images, before and after FSKD. Right: accuracy as the blocks are
# aligned one at a time (Algorithm 1's inner loop, run block by block with `blocks=[j]`). One draw of $N = 100$
# images: an illustration, not a comparison.

# %%
def block_correlations(student, kept, x):
    """Mean channel correlation of each student block's output with the teacher's kept channels on ``x``."""
    x = x.to(DEVICE)
    with torch.no_grad():
        out = []
        for j, ((_, s), (_, t)) in enumerate(zip(models.block_io(student, x), models.block_io(teacher, x))):
            t = t[:, kept[j].to(t.device)]
            s, t = (v.transpose(0, 1).flatten(1) for v in (s, t))  # (channels, N·H·W)
            s, t = s - s.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
            out.append(((s * t).sum(1) / (s.norm(dim=1) * t.norm(dim=1) + 1e-12)).mean().item())
    return out


xs4 = x_train[data.few_shot_indices(y_train, KS[0], seed=DRAWS[0])]
student4, kept4 = pruned[FIG4_SCHEME], kept_of[FIG4_SCHEME]
x_corr = x_test[:CORR_SIZE]
corr_before = block_correlations(student4, kept4, x_corr)
stepwise, step_acc = copy.deepcopy(student4), [before_acc[FIG4_SCHEME]]
for j in range(len(stepwise.blocks)):
    fskd.fskd(stepwise, teacher, xs4, kept=kept4, blocks=[j], progress=False)
    step_acc.append(test_acc(stepwise))
corr_after = block_correlations(stepwise, kept4, x_corr)
one_call = fskd.fskd(copy.deepcopy(student4), teacher, xs4, kept=kept4, progress=False)
same = max((a - b).abs().max().item() for a, b in zip(one_call.state_dict().values(), stepwise.state_dict().values()))
print(f"block-by-block FSKD equals one call of Algorithm 1: max parameter difference {same:.1e}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.8))
blocks = np.arange(len(corr_before))
ax1.bar(blocks - 0.2, corr_before, 0.4, label="before FSKD", color=plots.color("L1-norm"))
ax1.bar(blocks + 0.2, corr_after, 0.4, label="after FSKD", color=plots.color("FSKD"))
ax1.set(xlabel="block", ylabel="mean channel correlation with the teacher", ylim=(0, 1.05),
        title=f"Prune-{FIG4_SCHEME}, N = {len(xs4)}: block outputs vs the teacher's")
ax1.legend(fontsize=8, loc="lower left")
ax2.plot(range(len(step_acc)), [100 * a for a in step_acc], marker="o", color=plots.color("FSKD"),
         label="FSKD, blocks aligned so far")
ax2.axhline(100 * teacher_acc, color=plots.color("teacher"), ls=":", label="teacher")
ax2.set(xlabel="blocks aligned so far", ylabel="test accuracy (%)", title="accuracy during Algorithm 1")
ax2.legend(fontsize=8, loc="lower right")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()
print("block correlation before → after FSKD: " + ", ".join(f"{a:.3f} → {b:.3f}" for a, b in zip(corr_before, corr_after)))

# %% [markdown]
# ## 7. Table 7: samples the teacher never saw
#
# Is FSKD really label-free — does it even need images from the teacher's distribution? The paper replaces its
# CIFAR-10 samples with CIFAR-100 images (other classes) and sees no difference. We use **handwritten digits**
# (scikit-learn's bundled 8x8 digits, upsampled and framed like MNIST, normalised with the teacher's statistics) —
# images of a kind the Fashion-MNIST teacher never saw — and, as an extreme, **Gaussian noise**. Each source gives
# $N$ images per draw, the same draws' seeds as Table 2; FSKD runs exactly as there (`fewshot.compress`, BatchNorm
# re-estimated on the same images), and once more *without* the BatchNorm re-estimation, to separate the two parts of
# the repair that see the samples.

# %%
from sklearn.datasets import load_digits

digits = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
side, channels = shape[-1], shape[0]
digits = F.pad(F.interpolate(digits, size=side - 8, mode="bilinear", align_corners=False), (4, 4, 4, 4))
mean, std = (torch.tensor(data.DATASETS[DATASET][k]).view(1, -1, 1, 1) for k in ("mean", "std"))
digits = ((digits.clamp(0, 1).repeat(1, channels, 1, 1)) - mean) / std
noise = torch.randn(10 * max(KS), *shape, generator=torch.Generator().manual_seed(0))

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for k in range(8):
    axes[0, k].imshow(x_train[k, 0], cmap="gray")
    axes[1, k].imshow(digits[k, 0], cmap="gray")
    axes[0, k].axis("off")
    axes[1, k].axis("off")
axes[0, 0].set_title(f"{DATASET} (in distribution)", loc="left", fontsize=9)
axes[1, 0].set_title("scikit-learn digits (never seen)", loc="left", fontsize=9)
plt.show()

no_bn = dataclasses.replace(SETTINGS, recalibrate_bn=False)  # FSKD's Q alone
SOURCES = {DATASET: None, "digits": digits, "Gaussian noise": noise}
ood = {}  # (source, k, bn) -> {seed: accuracy %}
for source, pool in SOURCES.items():
    for k in KS:
        for bn, settings in ((True, SETTINGS), (False, no_bn)):
            if source == DATASET and bn:
                ood[(source, k, bn)] = accs(FIG3_SCHEME, "FSKD", k)  # Table 2's cells
                continue
            ood[(source, k, bn)] = {}
            for d in (DRAWS if bn else FIG_DRAWS):  # without re-estimation: a description on two draws
                xs = (x_train[data.few_shot_indices(y_train, k, seed=d)] if pool is None
                      else pool[data.sample_indices(len(pool), 10 * k, seed=d)])
                net = fewshot.compress("FSKD", teacher, SCHEMES[FIG3_SCHEME], xs, None, seed=d, settings=settings)
                ood[(source, k, bn)][d] = 100 * test_acc(net)
table7 = []
for k in KS:
    for source in SOURCES:
        row = {"samples": f"{10 * k} ({source})"}
        for bn in (True, False):
            row[f"FSKD + BatchNorm re-estimation (%), {len(DRAWS)} draws" if bn
                else f"FSKD alone (%), {len(FIG_DRAWS)} draws"] = plots.mean_std([v / 100 for v in ood[(source, k, bn)].values()])
        if source != DATASET:
            row[f"vs {DATASET} samples (the rule)"] = compare(
                list(ood[(source, k, True)].values()), list(ood[(DATASET, k, True)].values()),
                names=(source, DATASET)).verdict
        table7.append(row)
plots.show_table(table7)
print(f"Prune-{FIG3_SCHEME}; the draws of different sources share only their seed, so the paired rule compares "
      f"independent draws here (its interval is still valid for the difference of the means)")

# %% [markdown]
# Where does a remix fitted on foreign images go wrong? A measurement, block by block: the correlation of each
# student block with the teacher's on Fashion-MNIST *test* images, after FSKD fitted on each source (one draw of the
# largest $N$, without BatchNorm re-estimation, so that only $Q$ differs).

# %%
corr_by_source = {}
for source, pool in SOURCES.items():
    k = KS[-1]
    xs = (x_train[data.few_shot_indices(y_train, k, seed=DRAWS[0])] if pool is None
          else pool[data.sample_indices(len(pool), 10 * k, seed=DRAWS[0])])
    net = fewshot.compress("FSKD", teacher, SCHEMES[FIG3_SCHEME], xs, None, seed=DRAWS[0], settings=no_bn)
    corr_by_source[source] = block_correlations(net, kept_of[FIG3_SCHEME], x_corr)
corr_by_source["no repair"] = block_correlations(pruned[FIG3_SCHEME], kept_of[FIG3_SCHEME], x_corr)
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.8 / len(corr_by_source)
for i, (source, corr) in enumerate(corr_by_source.items()):
    ax.bar(np.arange(len(corr)) + (i - 1.5) * width, corr, width, label=f"FSKD on {source}" if source != "no repair"
           else source, color=plots.color("L1-norm") if source == "no repair" else plots.PALETTE.get(
               "FSKD") if source == DATASET else None)
ax.set(xlabel="block", ylabel="mean channel correlation with the teacher",
       title=f"Prune-{FIG3_SCHEME}: block outputs on {DATASET} test images, Q fitted on each source", ylim=(0, 1.05))
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
ax.grid(alpha=0.3, axis="y")
plt.show()
for source, corr in corr_by_source.items():
    print(f"{source:>15}: " + " ".join(f"{c:.3f}" for c in corr))

# %% [markdown]
# ## 8. Table 6: a decoupled student (depthwise + pointwise)
#
# Network decoupling (Guo et al. 2018; Fig. 5 of Li et al. 2020) rewrites each 3x3 conv as a sum of $T$ depthwise-separable
# terms — exactly, for $T = 9$ — via one SVD per input channel (`students.decouple_conv`). Keeping fewer terms compresses
# the network and damages it. Each decoupled block ends with a pointwise conv, an ordinary 1x1 conv, so FSKD's $Q$
# merges into it (the depthwise conv is left untouched). FSKD runs on $N = 100$ images, the first two draws of Table 2:
# a description, not a comparison.

# %%
table6 = [{"network": TEACHER, "params": f"{models.count_params(teacher):,}",
           "FLOPs (M)": f"{models.count_flops(teacher, shape) / 1e6:.1f}", "accuracy before (%)": "—",
           "accuracy after FSKD (%)": f"{100 * teacher_acc:.2f}", "CPU s": ""}]
for rank in DECOUPLE_RANKS:
    student = students.decouple(teacher, rank).eval()
    acc0 = 100 * test_acc(student)
    after, secs = [], []
    for d in FIG_DRAWS:
        xs = x_train[data.few_shot_indices(y_train, KS[-1], seed=d)]
        start = time.process_time()
        net = fskd.fskd(copy.deepcopy(student), teacher, xs, progress=False)
        secs.append(time.process_time() - start)
        assert models.count_params(net) == models.count_params(student)  # the merge added nothing
        after.append(100 * test_acc(net))
    table6.append({"network": f"decoupled (T = {rank}) + FSKD, N = {10 * KS[-1]}",
                   "params": f"{models.count_params(student):,}",
                   "FLOPs (M)": f"{models.count_flops(student, shape) / 1e6:.1f}",
                   "accuracy before (%)": f"{acc0:.2f}", "accuracy after FSKD (%)": plots.mean_std([a / 100 for a in after]),
                   "CPU s": f"{np.mean(secs):.1f}"})
plots.show_table(table6)

# %% [markdown]
# ## 9. Table 8: a hand-designed student with random weights
#
# The last setting has no pruned weights to inherit: a **half-width** network (every block half as wide),
# **randomly initialised**. As the paper prescribes, each student block stands for the teacher's filters with the
# largest L1 norm. The paper does not say how the classifier is obtained; we give every method the same start — random
# conv blocks and the teacher's classifier restricted to those channels (what `prune.l1_prune(teacher, 0.5)` keeps) —
# and compare, on the same $N$ labelled samples and without augmentation: **SGD** on the labels, **FitNet**
# (two-stage), and **FSKD** (which ignores the labels). The budget is Table 2's (the same steps per stage, every
# student's BatchNorm re-estimated on the samples); two draws: a description, not a comparison.

# %%
half, half_kept = prune.l1_prune(teacher, 0.5)


def random_student(seed):
    torch.manual_seed(seed)
    student = models.build_model(half.arch, half.config)
    student.head.load_state_dict(half.head.state_dict())
    return student.to(DEVICE)


def t8_run(method, xs, ys, seed):
    """One Table 8 run: the random half-width student repaired by ``method`` on ``(xs, ys)``; test accuracy (%)."""
    net = random_student(seed)
    kw = dict(lr=T8_LR, seed=seed, progress=False)
    epochs = max(1, math.ceil((SETTINGS.train_steps or 1) / math.ceil(len(xs) / min(len(xs), SETTINGS.train_batch))))
    batch = min(len(xs), SETTINGS.train_batch)
    if method == "SGD":
        train.fit(net, xs, ys, epochs=epochs if SETTINGS.train_steps else SETTINGS.epochs, batch_size=batch, **kw)
    elif method == "FitNet":
        block = len(net.blocks) // 2
        fitnets.fitnet_two_stage(net, teacher, xs, ys, guided_block=block, hint_block=block, stage1_epochs=epochs,
                                 stage2_epochs=epochs, batch_size=batch, cache=True, **kw)
    elif method == "FSKD":
        fskd.fskd(net, teacher, xs, kept=half_kept, progress=False)
    if method != "random init" and SETTINGS.recalibrate_bn:
        train.recalibrate_bn_(net, xs.to(DEVICE))
    return 100 * test_acc(net.eval())


T8_METHODS = ("random init", "SGD", "FitNet", "FSKD")
t8 = {}
for n in T8_N:
    for d in FIG_DRAWS:
        idx = data.sample_indices(len(y_train), n, seed=d)
        for m in T8_METHODS:
            t8.setdefault((m, n), []).append(t8_run(m, x_train[idx], y_train[idx], d))
plots.show_table([{"method": m, **{f"N = {n} (%)": plots.mean_std([v / 100 for v in t8[(m, n)]]) for n in T8_N}}
                  for m in T8_METHODS])
t8_fskd_net = random_student(DRAWS[0])
fskd.fskd(t8_fskd_net, teacher, x_train[data.sample_indices(len(y_train), T8_N[-1], seed=DRAWS[0])], kept=half_kept,
          progress=False)
t8_corr = block_correlations(t8_fskd_net, half_kept, x_corr)
print(f"half-width student: {models.count_params(half):,} params; mean ± std over {len(FIG_DRAWS)} draws; teacher "
      f"{100 * teacher_acc:.2f} %; after FSKD (N = {T8_N[-1]}, one draw) each block's correlation with the teacher: "
      + " ".join(f"{c:.3f}" for c in t8_corr))

# %% [markdown]
# ## 10. What the paper reports vs what we measured
#
# Every statement below is generated from the tables above; ✓/✗/? and "beats" come from the paired rule.

# %%
bench07 = Path("..") / "results" / f"benchmark-{SCALE}.csv"
claim07 = None
if bench07.is_file():  # notebook 07's committed table: the same claim, decided by the same function
    rows07 = benchmark.read_table(bench07)
    claim07 = next((c for c in benchmark.claims(rows07) if c["claim"].startswith("FSKD")), None)
    ks07 = sorted({r["k"] for r in rows07})


def mean_of(name, method, k):
    return float(np.mean(list(accs(name, method, k).values())))


marks = {name_of[c["where"].split(", ")[1]]: c for c in t2_claims}
kc = KS[0]  # the claim's sample size, N = 100 at standard and paper
lines = []
for name in SCHEMES:
    p = table2.PAPER_T2[name]
    lines.append(
        f"* **Prune-{name}** ({100 * SCHEMES[name].sparsity:.0f} % of the filters; {100 * before_acc[name]:.2f} % before "
        f"repair, the paper's {table2.PAPER_BEFORE[name]:.2f} %). Paper, N = 100: FSKD {p['FSKD'][100][0]:.2f} %, FitNet "
        f"{p['FitNet'][100][0]:.2f} % (fine-tuning only at N = 500: {p['BP'][500][0]:.2f} %). Measured, N = {10 * kc}: "
        f"FSKD {mean_of(name, 'FSKD', kc):.2f} %, FitNet {mean_of(name, 'FitNet', kc):.2f} %, fine-tuning "
        f"{mean_of(name, 'BP', kc):.2f} %, L1+BN {mean_of(name, 'L1+BN', kc):.2f} %; FSKD on {CEILING_N:,} images "
        f"{100 * reference[(name, 'ceiling')][0]:.2f} %. \"FSKD > FitNet > fine-tuning\": {marks[name]['mark']} "
        f"({marks[name]['verdicts']}).")
fskd_fitnet = {s_: v for (s_, k_, a, b), v in verdicts.items() if (a, b) == ("FSKD", "FitNet")}
lost = [s_ for s_, v in fskd_fitnet.items() if v.sign < 0]
won = [s_ for s_, v in fskd_fitnet.items() if v.sign > 0]
capped = [s_ for s_ in lost if 100 * reference[(s_, "ceiling")][0] < mean_of(s_, "FitNet", kc)]
diag = []
if lost:
    diag.append(
        f"FitNet beats FSKD for {', '.join('Prune-' + s_ for s_ in lost)}. Short of samples, or short of reach? "
        + (f"FSKD solved on {CEILING_N:,} images still stays below FitNet's {10 * kc}-sample accuracy for "
           + ", ".join("Prune-" + s_ for s_ in capped) + ": there the limit is what a 1x1 remix of the student's own "
           "channels can express (section 3; Exercise 4), not the number of samples; FitNet and fine-tuning "
           "retrain every weight." if capped else "")
        + (f" For {', '.join('Prune-' + s_ for s_ in lost if s_ not in capped)} FSKD on {CEILING_N:,} images reaches "
           "FitNet's level: there more unlabelled samples would close the gap."
           if [s_ for s_ in lost if s_ not in capped] else ""))
if won:
    diag.append(f"FSKD beats FitNet for {', '.join('Prune-' + s_ for s_ in won)}.")
diag.append(f"Figure 3 (Prune-{FIG3_SCHEME}, N = {', '.join(map(str, ns))}): FSKD "
            f"{', '.join(f'{v:.2f}' for v in fig3['FSKD'])} %, FitNet {', '.join(f'{v:.2f}' for v in fig3['FitNet'])} %.")
recon = ""
if claim07 is not None:
    recon = (f"Notebook 07 decides the same claim with the same function on its structured 50 % student (at K = "
             f"{10 if 10 in ks07 else ks07[-1]}, N = {10 * (10 if 10 in ks07 else ks07[-1])}): "
             f"{claim07['mark']} ({claim07['verdicts']}). That student removes 50 % of the filters, "
             f"{100 * ladder[0.5]:.1f} % before repair on the selection images ({100 * ladder[0.5] / ladder[0.0]:.0f} % "
             f"of the teacher's), between Prune-B and Prune-C here; the two notebooks' verdicts are per student, and a "
             "claim can hold for one student and not another without contradiction.")
ood_lines = []
for source in ("digits", "Gaussian noise"):
    for kk in KS:
        v = compare(list(ood[(source, kk, True)].values()), list(ood[(DATASET, kk, True)].values()),
                    names=(source, DATASET))
        ood_lines.append(f"{source}, N = {10 * kk}: {v.mean:+.2f} points ({v.verdict.split(':')[0]})")
bn_effect = {source: np.mean([ood[(source, kk, True)][d] - ood[(source, kk, False)][d] for kk in KS for d in FIG_DRAWS])
             for source in SOURCES}  # the same draws with and without the re-estimation
worst = {s: min(range(len(c)), key=lambda j: c[j] - corr_by_source[DATASET][j]) for s, c in corr_by_source.items()
         if s in ("digits", "Gaussian noise")}
t8_means = {m: [float(np.mean(t8[(m, n)])) for n in T8_N] for m in T8_METHODS}
display(Markdown("\n".join([
    f"**Table 2.** Li et al. (2020) report for VGG-16 on CIFAR-10 that FSKD beats FitNet, which beats few-sample "
    f"fine-tuning, for all three students, at a tenth of FitNet's time. On the course teacher (scale `{SCALE}`, "
    f"{len(DRAWS)} draws, {PLAN.eval_size:,} test images, budgets of notebook 07):", "", *lines, "",
    *diag, "", recon, "",
    "**Time.** CPU seconds per run, N = " + f"{10 * kc}: "
    + ", ".join(f"Prune-{s_}: FSKD {cell_text(s_, 'FSKD', kc)[1]:.2f} s, FitNet {cell_text(s_, 'FitNet', kc)[1]:.2f} s"
                for s_ in SCHEMES) + " (the paper, on a GPU: FSKD 3.7–7.4 s, FitNet 48.5–71.3 s).", "",
    f"**Table 7.** The paper finds no difference between CIFAR-100 and CIFAR-10 samples. Here, against FSKD on "
    f"{DATASET} samples: " + "; ".join(ood_lines) + ". On the first two draws, BatchNorm re-estimation on the samples changes FSKD's "
    "accuracy by " + ", ".join(f"{bn_effect[s]:+.2f} ({s})" for s in SOURCES) + " points on average. With the "
    "re-estimation switched off, so that only $Q$ sees the foreign images, the block correlations above show where "
    "the fit departs from the teacher's on test images: the largest drop below the in-distribution fit is at block "
    + ", ".join(f"{worst[s]} ({s})" for s in worst) + ". A remix fitted on one input distribution is a least-squares "
    "fit to *that* distribution's features; how far CIFAR-100 is from CIFAR-10 in this sense, compared with digits "
    "from clothes, was not measured, so why the paper saw no difference is not settled here.", "",
    f"**Table 8.** The paper (on MNIST, its own student): FSKD 94.4–97.8 %, FitNet 86.1–96.5 %, SGD 37.9–86.7 % for "
    f"10–200 samples. Measured for N = {', '.join(map(str, T8_N))}: FSKD {', '.join(f'{v:.1f}' for v in t8_means['FSKD'])} %, "
    f"FitNet {', '.join(f'{v:.1f}' for v in t8_means['FitNet'])} %, SGD "
    f"{', '.join(f'{v:.1f}' for v in t8_means['SGD'])} % (random start "
    f"{', '.join(f'{v:.1f}' for v in t8_means['random init'])} %). After FSKD the random student's blocks correlate "
    f"with the teacher's at {', '.join(f'{c:.2f}' for c in t8_corr)} (block 0 → {len(t8_corr) - 1}): a remix of "
    "random features matches the first block best and each later one less. The paper's task (MNIST) and student "
    "differ from ours; which of the two explains the gap to its numbers was not isolated.",
    "", f"At `quick` scale none of these numbers mean anything." if SCALE == "quick" else ""])))


# %% [markdown]
# ## 11. Exercises
#
# **Exercise 1 — the merge for one output channel, by hand.** Write `my_merged_filter(w, b, q, q0, o)` returning the
# merged kernel $W'[o]$ (shape $n_i \times k \times k$) and bias $b'_o$ for output channel `o` of the 1x1 conv, using
# only sums over the conv's output channels (no `einsum` over everything at once). Check it against the package on
# the teacher's block 4 with BatchNorm folded.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_merged_filter(w, b, q, q0, o):
    ### BEGIN SOLUTION
    kernel = sum(q[o, c] * w[c] for c in range(w.shape[0]))  # a linear combination of the previous kernels
    bias = sum(q[o, c] * b[c] for c in range(w.shape[0])) + q0[o]
    return kernel, bias
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
folded = fskd.fold_bn(cpu_teacher.blocks[4].conv, cpu_teacher.blocks[4].bn)
c = folded.out_channels
q_ex = torch.randn(c, c, generator=torch.Generator().manual_seed(5))
q0_ex = torch.randn(c, generator=torch.Generator().manual_seed(6))
reference = fskd.merge_pointwise(folded, q_ex, q0_ex)
mine = check.runs(my_merged_filter, folded.weight.detach(), folded.bias.detach(), q_ex, q0_ex, 7)
check.close(None if mine is None else mine[0], reference.weight[7].detach(), atol=1e-4,
            what="merged kernel of output channel 7", hint="W'[o] = Σ_c Q[o, c] · W[c]")
check.close(None if mine is None else mine[1], reference.bias[7].detach(), atol=1e-4,
            what="merged bias of output channel 7", hint="b'[o] = Σ_c Q[o, c] · b[c] + q0[o]");


# %% [markdown]
# **Exercise 2 — when is Eq. 1 ill-conditioned?** Each output channel of $Q_j$ has $C_j$ unknowns (+1 for the bias);
# each image contributes one equation per pixel of the block's output, $H_j W_j$. Write `my_min_images(c, h, w)`:
# the smallest number of images for which there are at least as many equations as unknowns. For a block of 64
# channels on a 7x7 map that is 2 images; below it (and in practice well above it, since
# neighbouring pixels are strongly correlated) $\bar X^\top \bar X$ is singular or nearly so, and plain least squares
# picks an arbitrary, wildly scaled $Q$. Then compare plain least squares (`ridge=0`) with the default ridge using a
# single image.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_min_images(c, h, w):
    ### BEGIN SOLUTION
    return math.ceil((c + 1) / (h * w))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.equal(check.runs(my_min_images, 64, 7, 7), 2, what="64 channels on 7x7: 65 unknowns, 49 equations per image",
            hint="ceil((C + 1) / (H·W))")
check.equal(check.runs(my_min_images, 512, 2, 2), 129, what="VGG-16 on CIFAR, conv5 (512 channels on 2x2)",
            hint="ceil((C + 1) / (H·W))")
one_image = x_train[data.sample_indices(len(y_train), 1, seed=0)]
for ridge in (0.0, fskd.RIDGE):
    net = copy.deepcopy(pruned["B"])
    fskd.fskd(net, teacher, one_image, kept=kept_of["B"], ridge=ridge, progress=False)
    print(f"Prune-B, FSKD from one image, ridge = {ridge:g}: {100 * test_acc(net):.2f} %")


# %% [markdown]
# **Exercise 3 — fold BatchNorm by hand.** Write `my_fold(w, b, gamma, beta, mean, var, eps)` returning the folded
# weight and bias of conv → BN (eval mode), and check it against `fskd.fold_bn` on the teacher's first block (its
# conv has no bias: pass zeros).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_fold(w, b, gamma, beta, mean, var, eps):
    ### BEGIN SOLUTION
    scale = gamma / torch.sqrt(var + eps)
    return w * scale[:, None, None, None], (b - mean) * scale + beta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
conv0, bn0 = cpu_teacher.blocks[0].conv, cpu_teacher.blocks[0].bn
mine = check.runs(my_fold, conv0.weight.detach(), torch.zeros(conv0.out_channels), bn0.weight.detach(),
                  bn0.bias.detach(), bn0.running_mean, bn0.running_var, bn0.eps)
reference = fskd.fold_bn(conv0, bn0)
check.close(None if mine is None else mine[0], reference.weight.detach(), atol=1e-5, what="folded weight",
            hint="scale each filter c by γ_c / √(σ²_c + ε)")
check.close(None if mine is None else mine[1], reference.bias.detach(), atol=1e-5, what="folded bias",
            hint="(b − μ)·γ/√(σ² + ε) + β");

# %% [markdown]
# **Exercise 4 — predict, then check: what can a remix repair?** A student block computes $s = W_{K,K} * h_K$; the
# teacher's kept channels are $t = W_{K,K} * h_K + W_{K,R} * h_R$ (section 3). FSKD may only replace $s$ by
# $Qs + q_0$. Before running anything, decide which of these differences between $s$ and $t$ a remix can undo
# *exactly*, given enough images:
#
# * (a) the student's output channels are the teacher's, each multiplied by its own non-zero factor;
# * (b) the student's output channels are the teacher's in another order;
# * (c) the teacher's channels also contain $W_{K,R} * h_R$, the contribution of input channels the student lost
#   (independent of the ones it kept).
#
# Set `my_answer` to the set of letters, e.g. `{"a"}`. The check cell then measures all three on synthetic features
# with the package's own solver (`fskd.solve_pointwise`).

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_answer = ...  # your answer: a set of letters
### BEGIN SOLUTION
my_answer = {"a", "b"}  # Q = D⁻¹ (a) or a permutation (b) undoes them; (c) is not a function of s at all
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
gen = torch.Generator().manual_seed(4)
t_kept = torch.randn(2_000, 16, generator=gen, dtype=torch.float64)  # the teacher's kept channels from h_K
lost = torch.randn(2_000, 16, generator=gen, dtype=torch.float64)  # W_KR * h_R: independent of the kept inputs
cases = {"a": (t_kept * torch.linspace(0.5, 2.0, 16, dtype=torch.float64), t_kept),
         "b": (t_kept[:, torch.randperm(16, generator=gen)], t_kept),
         "c": (t_kept, t_kept + lost)}
for letter, (student_f, teacher_f) in cases.items():
    q, q0 = fskd.solve_pointwise(student_f, teacher_f, ridge=0.0)
    left = ((student_f @ q.T + q0 - teacher_f).norm() / teacher_f.norm()).item()
    print(f"({letter}) relative error left after the best remix: {left:.2e}")
check.equal(my_answer, {"a", "b"}, what="the differences a remix undoes exactly",
            hint="Qs + q0 is a per-pixel linear map of the student's own channels: can it create a signal that "
                 "does not depend on them?");

# %% [markdown]
# **Exercise 5 (discussion).** Section 10 found where FSKD falls short of FitNet (if anywhere) and measured the
# remix's ceiling. Propose a label-free fix that keeps FSKD's spirit — a closed-form solve on the few samples — for
# the classifier (hint: the teacher's logits are a linear function of *its* last features; which linear function of
# the *student's* would you fit?), and say why it no longer is a merge in the sense of Theorem 1.
#
# ## Takeaways

# %%
best_cell = (FIG3_SCHEME, KS[-1])


def short_verdict(c):
    """'FSKD beats FitNet by 4.04 points' or 'no clear difference (+0.57)', from the paired rule."""
    if c.sign == 0:
        return f"no clear difference ({c.mean:+.2f} points)"
    winner, loser = (c.a, c.b) if c.sign > 0 else (c.b, c.a)
    return f"{winner} beats {loser} by {abs(c.mean):.2f} points"


takeaways = [
    "**A 1x1 conv after a conv is a conv** (Theorem 1): FSKD's correction disappears into the student, which keeps "
    "its parameters and FLOPs; BatchNorm must be folded into the conv first, and nothing non-linear may sit between.",
    f"**FSKD needs no labels and little time**: one least-squares solve per block. Here it took "
    f"{cell_text(best_cell[0], 'FSKD', KS[-1])[1]:.2f} CPU s on {10 * KS[-1]} images against FitNet's "
    f"{cell_text(best_cell[0], 'FitNet', KS[-1])[1]:.2f} s.",
    (lambda ff, fb: f"**FSKD against FitNet, at N = {10 * KS[0]}** (paired rule, {len(DRAWS)} draws): "
     + "; ".join(f"Prune-{s}: {ff[s]}" for s in SCHEMES)
     + ". The paper's full ordering also puts FitNet above fine-tuning, and that part the draws "
     + ("cannot resolve" if all(v.startswith("no clear") for v in fb.values()) else "decide as follows")
     + ": " + "; ".join(f"Prune-{s}: {fb[s]}" for s in SCHEMES)
     + ". A remix cannot restore what removed input channels contributed (Exercise 4); FSKD on thousands of "
     "images shows how far the remix can go at all.")(
        {s: short_verdict(verdicts[(s, KS[0], "FSKD", "FitNet")]) for s in SCHEMES},
        {s: short_verdict(verdicts[(s, KS[0], "FitNet", "BP")]) for s in SCHEMES}),
    "**Compare every method on the same draws, budgets and BatchNorm treatment**, on the full test set, and decide "
    "with one paired rule: the same claim then gets the same verdict wherever it is checked (notebook 07).",
    f"**Samples from elsewhere are not free**: with digits or noise instead of {DATASET} images FSKD loses "
    + ", ".join(f"{-np.mean([np.mean(list(ood[(s, k, True)].values())) - np.mean(list(ood[(DATASET, k, True)].values())) for k in KS]):.1f}"
                f" points ({s})" for s in ("digits", "Gaussian noise")) + " on average, unlike the paper's CIFAR-100.",
]
display(Markdown("\n".join(f"{i}. {t}" for i, t in enumerate(takeaways, 1))))

# %% [markdown]
# ## Try next
#
# * Run FSKD with `sweeps=3` (Appendix A: repeated block-coordinate descent) on Prune-C: does a second sweep help
#   when the first block's fix changes every later block's input?
# * Replace the uniform schemes by the paper's style — prune the least sensitive blocks harder (notebook 01's
#   sensitivity scan) — and check whether Prune-A's savings grow at the same accuracy before repair.
# * Solve the classifier as Exercise 5 suggests and add it as a sixth method to `table2.plan`.
# * At `paper` scale, with a GPU, run `python -m fsc_teach.table2 --scale paper` for VGG-16 on CIFAR-10.
#
# ## References
#
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR 2020.
#   [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — Theorem 1, Eq. 1, Algorithm 1, Tables 2, 6, 7, 8,
#   Figures 3–5. The authors' public code, [github.com/LTH14/FSKD](https://github.com/LTH14/FSKD), differs from this
#   notebook: `numpy.linalg.lstsq` without ridge, one sweep, and a BatchNorm path (`batch_norm=True` in
#   `models/vgg.py`) that fits Q after BatchNorm but merges it into the conv before BatchNorm.
# * A. Romero, N. Ballas, S. E. Kahou, A. Chassang, C. Gatta, Y. Bengio. *FitNets: Hints for Thin Deep Nets.*
#   ICLR 2015. [arXiv:1412.6550](https://arxiv.org/abs/1412.6550) — the two-stage hint method compared here
#   (notebook 04).
# * H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient ConvNets.* ICLR 2017.
#   [arXiv:1608.08710](https://arxiv.org/abs/1608.08710) — L1-norm filter pruning, the "pruned-A" scheme
#   (notebook 01).
# * J. Guo, Y. Li, W. Lin, Y. Chen, J. Li. *Network Decoupling: From Regular to Depthwise Separable Convolutions.*
#   BMVC 2018. [arXiv:1808.05517](https://arxiv.org/abs/1808.05517) — the decoupled students of Table 6.
# * Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang. *Learning Efficient Convolutional Networks through Network
#   Slimming.* ICCV 2017. [arXiv:1708.06519](https://arxiv.org/abs/1708.06519) — the other pruning family FSKD is
#   shown on (`students.slimming_keep`).
# * S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
#   Shift.* ICML 2015. [arXiv:1502.03167](https://arxiv.org/abs/1502.03167) — the eval-mode affine map that is
#   folded before merging.

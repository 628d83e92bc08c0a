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
DATASET = {"quick": "fashion_mnist", "standard": "fashion_mnist", "paper": "cifar10"}[SCALE]
TEACHER = {"quick": "vgg_fmnist", "standard": "vgg_fmnist", "paper": "vgg16_cifar10"}[SCALE]
# Pruning schemes A/B/C, increasingly aggressive: a name in prune.FILTER_RATIOS or {block: fraction of filters removed}.
# Paper: A is the VGG-16 "pruned-A" of Li et al. 2017; B prunes 10 % more of those layers and 20 % of the others
# (FSKD paper, Li et al. 2020, Sec. 4.1); the paper's C iterates pruning + FSKD twice, approximated here by one stronger one-shot pruning.
SCHEMES = {"quick": {"A": "A", "B": "B", "C": "C"}, "standard": {"A": "A", "B": "B", "C": "C"},
           "paper": {"A": "vgg16-A",
                     "B": {**{i: 0.2 for i in range(1, 7)}, **{i: 0.6 for i in (0, 7, 8, 9, 10, 11, 12)}},
                     "C": {**{i: 0.4 for i in range(1, 7)}, **{i: 0.7 for i in (0, 7, 8, 9, 10, 11, 12)}}}}[SCALE]
SAMPLES = {"quick": [10, 20], "standard": [100, 500], "paper": [100, 500]}[SCALE]  # Table 2's N
DRAWS = {"quick": [0], "standard": [0, 1], "paper": [0, 1, 2, 3, 4]}[SCALE]  # sample draws (seeds)
EVAL_SIZE = {"quick": 300, "standard": 2_000, "paper": 10_000}[SCALE]  # test images per evaluation
BATCH = 50  # few-sample training batch (smaller when N is smaller)
LR = 0.01  # SGD learning rate for students that start from the teacher's weights
FT_STEPS = {"quick": 3, "standard": 30, "paper": 300}[SCALE]  # few-sample fine-tuning / FitNet stage-2 steps
HINT_STEPS = {"quick": 2, "standard": 15, "paper": 150}[SCALE]  # FitNet stage-1 (hint) steps
HINT_BLOCK = {"quick": 3, "standard": 3, "paper": 6}[SCALE]  # FitNet's guided = hint block (a middle block)
FULL_FT_SIZE = {"quick": 200, "standard": 5_000, "paper": 50_000}[SCALE]  # "full" fine-tuning images
FULL_FT_EPOCHS = {"quick": 1, "standard": 1, "paper": 20}[SCALE]
FIG3_SCHEME = "B"
FIG3_N = {"quick": [1, 5, 10, 20], "standard": [1, 10, 50, 100, 500],
          "paper": [2, 10, 50, 100, 200, 500]}[SCALE]  # paper: the MLP head's BatchNorm1d needs batches of 2
FIG4_SCHEME, FIG4_N = "A", SAMPLES[0]
CORR_SIZE = {"quick": 100, "standard": 500, "paper": 1_000}[SCALE]  # test images for the correlations
OOD_SCHEME = "B"
DECOUPLE_RANKS = {"quick": [1], "standard": [1, 2, 3], "paper": [1, 2, 3, 4]}[SCALE]  # Table 6's T
DECOUPLE_N = {"quick": 20, "standard": 500, "paper": 1_000}[SCALE]
T8_N = {"quick": [10, 20], "standard": [10, 50, 200], "paper": [10, 20, 50, 100, 200]}[SCALE]
T8_DRAWS = {"quick": [0], "standard": [0], "paper": [0, 1, 2, 3, 4]}[SCALE]
T8_STEPS = {"quick": 4, "standard": 100, "paper": 1_000}[SCALE]  # SGD / FitNet stage-2 steps from scratch
T8_LR = 0.05  # a randomly initialised student takes a larger learning rate

# %%
import copy
import inspect
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from torch.nn import functional as F
from tqdm.auto import tqdm

from fsc_teach import check, data, fitnets, fskd, models, plots, prune, students, train, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)
torch.manual_seed(0)
x_train, y_train = data.load_tensors(DATASET, train=True)
x_test, y_test = data.load_tensors(DATASET, train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
DEVICE = train.get_device()  # FSKD and evaluations run where the teacher is; fit() picks the same device
teacher = zoo.load_teacher(TEACHER).to(DEVICE)
cpu_teacher = copy.deepcopy(teacher).cpu()  # for the algebra of section 1 and the exercises
teacher_acc = train.evaluate(teacher, x_eval, y_eval)
print(f"teacher {TEACHER}: widths {teacher.widths}, {models.count_params(teacher):,} params, "
      f"{models.count_flops(teacher, data.DATASETS[DATASET]['shape']) / 1e6:.1f} M FLOPs, "
      f"test accuracy {100 * teacher_acc:.2f} % on {EVAL_SIZE:,} test images")

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
# ## 3. The students: the teacher pruned by three L1 schemes
#
# The students come from L1-norm filter pruning (Li et al. 2017, notebook 01): scheme **A** removes half the filters
# of the first block and of the last stage, **B** also halves the middle stage, **C** halves the first two stages
# and keeps only a quarter of the last. FSKD aligns each student block with the teacher's **kept** channels.
#
# One number is worth computing before any repair: even a *perfect* block alignment ends with the student's last
# block reproducing only the teacher's kept channels, and the head has lost the weights that read the pruned ones.
# The teacher with **only its last block pruned** is therefore a ceiling for block alignment (FSKD, or any method
# that only matches kept channels), whatever the number of samples.

# %%
shape = data.DATASETS[DATASET]["shape"]
pruned, kept_of, scheme_rows, before_acc, ceiling_acc = {}, {}, [], {}, {}
for name, scheme in SCHEMES.items():
    ratios = prune.filter_ratios(scheme, teacher) if isinstance(scheme, str) else dict(scheme)
    pruned[name], kept_of[name] = prune.l1_prune(teacher, ratios)
    last = len(teacher.blocks) - 1
    before_acc[name] = train.evaluate(pruned[name], x_eval, y_eval)
    ceiling_acc[name] = train.evaluate(prune.l1_prune(teacher, {last: ratios.get(last, 0.0)})[0], x_eval, y_eval)
    scheme_rows.append({"scheme": name, "widths": str(pruned[name].widths),
                        "params": f"{models.count_params(pruned[name]):,}",
                        "FLOPs (M)": f"{models.count_flops(pruned[name], shape) / 1e6:.1f}",
                        "FLOPs removed": f"{100 * (1 - models.count_flops(pruned[name], shape) / models.count_flops(teacher, shape)):.0f} %",
                        "accuracy, pruned": f"{100 * before_acc[name]:.2f} %",
                        "ceiling (only last block pruned)": f"{100 * ceiling_acc[name]:.2f} %"})
plots.show_table(scheme_rows)
print(f"teacher: {models.count_params(teacher):,} params, {models.count_flops(teacher, shape) / 1e6:.1f} M FLOPs, "
      f"{100 * teacher_acc:.2f} %")


# %% [markdown]
# ## 4. Table 2: FSKD vs FitNet vs fine-tuning, accuracy and wall time
#
# Every method starts from the same pruned student and sees the same $N$ training images (drawn without regard to
# class by `data.sample_indices`, one draw per seed):
#
# * **FSKD** — Algorithm 1 with one sweep; uses the images but **not their labels**;
# * **FitNet** — Romero et al.'s two stages (`fitnets.fitnet_two_stage`, notebook 04): hint training of blocks
#   $\le$ `HINT_BLOCK` through a regressor, then KD + cross-entropy on the whole student (uses the labels);
# * **fine-tuning** — cross-entropy on the $N$ labelled images (the recovery step of Li et al. 2017);
# * **full fine-tuning** — cross-entropy on a large labelled set (`FULL_FT_SIZE` images; all 50,000 at paper scale).
#
# FitNet and fine-tuning run a fixed number of SGD steps whatever $N$ (short at `standard` to fit a 2-core CPU, as
# the parameters cell says). Wall time is measured around each call on this machine's CPU.

# %%
def epochs_for(n, steps, batch):
    return max(1, math.ceil(steps / math.ceil(n / batch)))


def draw(n, seed):
    idx = data.sample_indices(len(y_train), n, seed=seed)
    return x_train[idx], y_train[idx]


def run_fskd(student, xs, kept=None):
    student = copy.deepcopy(student)
    start = time.perf_counter()
    fskd.fskd(student, teacher, xs, kept=kept, progress=False)
    return student, time.perf_counter() - start


def run_fitnet(student, xs, ys, steps=FT_STEPS, hint_steps=HINT_STEPS, lr=LR, seed=0):
    student, batch = train.trainable_copy(student), min(BATCH, len(xs))
    start = time.perf_counter()
    fitnets.fitnet_two_stage(student, teacher, xs, ys, guided_block=HINT_BLOCK, hint_block=HINT_BLOCK,
                             stage1_epochs=epochs_for(len(xs), hint_steps, batch),
                             stage2_epochs=epochs_for(len(xs), steps, batch), lr=lr, batch_size=batch,
                             cache=True, seed=seed, progress=False)
    return student, time.perf_counter() - start


def run_finetune(student, xs, ys, steps=FT_STEPS, lr=LR, seed=0, batch=BATCH, epochs=None, augment=False):
    student, batch = train.trainable_copy(student), min(batch, len(xs))
    start = time.perf_counter()
    train.fit(student, xs, ys, epochs=epochs or epochs_for(len(xs), steps, batch), batch_size=batch, lr=lr,
              augment=augment, seed=seed, progress=False)
    return student, time.perf_counter() - start


results = {}  # (scheme, method, n, seed) -> (accuracy, seconds); shared by Table 2, Figure 3 and Table 7


def measure(scheme, method, n, seed):
    key = (scheme, method, n, seed)
    if key not in results:
        xs, ys = draw(n, seed)
        student = pruned[scheme]
        if method == "FSKD":
            net, seconds = run_fskd(student, xs, kept_of[scheme])
        elif method == "FitNet":
            net, seconds = run_fitnet(student, xs, ys, seed=seed)
        else:
            net, seconds = run_finetune(student, xs, ys, seed=seed)
        results[key] = (train.evaluate(net, x_eval, y_eval), seconds)
    return results[key]


# %%
full_ft = {}
jobs = [(s, m, n, d) for s in SCHEMES for n in SAMPLES for m in ("FSKD", "FitNet", "fine-tuning") for d in DRAWS]
for job in tqdm(jobs, desc="Table 2"):
    measure(*job)
for name in tqdm(SCHEMES, desc="full fine-tuning"):
    xs, ys = draw(FULL_FT_SIZE, 0)
    net, seconds = run_finetune(pruned[name], xs, ys, batch=64, epochs=FULL_FT_EPOCHS, augment=True)
    full_ft[name] = (train.evaluate(net, x_eval, y_eval), seconds)


# %%
def cell(scheme, method, n):
    accs, secs = zip(*(results[(scheme, method, n, d)] for d in DRAWS))
    return plots.mean_std(accs), f"{np.mean(secs):.1f}"


table2 = [{"network / method": TEACHER, "accuracy (%)": f"{100 * teacher_acc:.2f}",
           "samples": f"{len(y_train):,}", "time (s)": ""}]
for name in SCHEMES:
    table2.append({"network / method": f"Prune-{name} (no repair)", "accuracy (%)": f"{100 * before_acc[name]:.2f}",
                   "samples": "0", "time (s)": ""})
    for n in SAMPLES:
        for method in ("FSKD", "FitNet", "fine-tuning"):
            acc, secs = cell(name, method, n)
            table2.append({"network / method": f"Prune-{name} + {method}", "accuracy (%)": acc, "samples": n,
                           "time (s)": secs})
    table2.append({"network / method": f"Prune-{name} + full fine-tuning ({FULL_FT_EPOCHS} epoch)",
                   "accuracy (%)": f"{100 * full_ft[name][0]:.2f}", "samples": f"{FULL_FT_SIZE:,}",
                   "time (s)": f"{full_ft[name][1]:.1f}"})
    table2.append({"network / method": f"Prune-{name}: ceiling of block alignment",
                   "accuracy (%)": f"{100 * ceiling_acc[name]:.2f}", "samples": "—", "time (s)": ""})
plots.show_table(table2)
print(f"mean ± std over {len(DRAWS)} draw(s) of the samples; accuracy on {EVAL_SIZE:,} test images; "
      f"time = mean wall seconds per run on this machine (scale: {SCALE})")

# %% [markdown]
# Read the table along two axes. **Accuracy**: how close each method gets to the teacher and to the ceiling, and
# how that changes with $N$ and with the pruning scheme. **Time**: FSKD solves six small linear systems and runs
# one teacher and two student passes over the $N$ images; FitNet and fine-tuning run many SGD steps.
#
# ## 5. Figure 3: accuracy vs number of samples

# %%
fig3 = {m: [] for m in ("FSKD", "FitNet")}
for n in tqdm(FIG3_N, desc="Figure 3"):
    for m in fig3:
        fig3[m].append(np.mean([measure(FIG3_SCHEME, m, n, d)[0] for d in DRAWS]))
ax = plots.accuracy_vs(FIG3_N, {f"Prune-{FIG3_SCHEME} + {m}": v for m, v in fig3.items()},
                       "number of training samples N (log scale)", reference=teacher_acc,
                       title=f"Figure 3: Prune-{FIG3_SCHEME}, mean over {len(DRAWS)} draw(s)")
ax.axhline(100 * before_acc[FIG3_SCHEME], color="tab:red", ls=":", label="pruned, no repair")
ax.axhline(100 * ceiling_acc[FIG3_SCHEME], color="tab:green", ls="--", label="ceiling of block alignment")
ax.set_xscale("log")
ax.legend(fontsize=8, loc="lower right")
plt.show()


# %% [markdown]
# ## 6. Figure 4: what FSKD does to each block
#
# Left: for each block, the mean (over channels) Pearson correlation between the student's output channels and the
# teacher's corresponding kept channels on test images, before and after FSKD. Right: accuracy as the blocks are
# aligned one at a time (Algorithm 1's inner loop, run block by block with `blocks=[j]`).

# %%
def block_correlations(student, kept, x):
    x = x.to(DEVICE)
    with torch.no_grad():
        pairs = zip(models.block_io(student, x), models.block_io(teacher, x))
        out = []
        for j, ((_, s), (_, t)) in enumerate(pairs):
            t = t[:, kept[j].to(t.device)]
            s, t = (v.transpose(0, 1).flatten(1) for v in (s, t))  # (channels, N·H·W)
            s, t = s - s.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
            r = (s * t).sum(1) / (s.norm(dim=1) * t.norm(dim=1) + 1e-12)
            out.append(r.mean().item())
    return out


xs4, _ = draw(FIG4_N, DRAWS[0])
student4, kept4 = pruned[FIG4_SCHEME], kept_of[FIG4_SCHEME]
x_corr = x_test[:CORR_SIZE]
corr_before = block_correlations(student4, kept4, x_corr)
stepwise, step_acc = copy.deepcopy(student4), [before_acc[FIG4_SCHEME]]
for j in range(len(stepwise.blocks)):
    fskd.fskd(stepwise, teacher, xs4, kept=kept4, blocks=[j], progress=False)
    step_acc.append(train.evaluate(stepwise, x_eval, y_eval))
corr_after = block_correlations(stepwise, kept4, x_corr)
one_call, _ = run_fskd(student4, xs4, kept4)
same = max((a - b).abs().max().item() for a, b in zip(one_call.state_dict().values(), stepwise.state_dict().values()))
print(f"block-by-block FSKD equals one call of Algorithm 1: max parameter difference {same:.1e}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
blocks = np.arange(len(corr_before))
ax1.bar(blocks - 0.2, corr_before, 0.4, label="before FSKD")
ax1.bar(blocks + 0.2, corr_after, 0.4, label="after FSKD")
ax1.set(xlabel="block", ylabel="mean channel correlation with the teacher", ylim=(0, 1.05),
        title=f"Prune-{FIG4_SCHEME}, N = {FIG4_N}: block outputs vs the teacher's")
ax1.legend(fontsize=8)
ax2.plot(range(len(step_acc)), [100 * a for a in step_acc], marker="o")
ax2.axhline(100 * teacher_acc, color="grey", ls=":", label="teacher")
ax2.axhline(100 * ceiling_acc[FIG4_SCHEME], color="tab:green", ls="--", label="ceiling of block alignment")
ax2.set(xlabel="blocks aligned so far", ylabel="test accuracy (%)", title="accuracy during Algorithm 1")
ax2.legend(fontsize=8)
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. Table 7: samples the teacher never saw
#
# Is FSKD really label-free — does it even need images from the teacher's distribution? The paper replaces its
# CIFAR-10 samples with CIFAR-100 images (other classes) and sees no difference. We use **handwritten digits**
# (scikit-learn's bundled 8x8 digits, upsampled and framed like MNIST, normalised with the teacher's statistics) —
# images of a kind the Fashion-MNIST teacher never saw — and, as an extreme, **Gaussian noise**.

# %%
from sklearn.datasets import load_digits

digits = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8) in [0, 1]
side, channels = shape[-1], shape[0]
digits = F.pad(F.interpolate(digits, size=side - 8, mode="bilinear", align_corners=False), (4, 4, 4, 4))
mean, std = (torch.tensor(data.DATASETS[DATASET][k]).view(1, -1, 1, 1) for k in ("mean", "std"))
digits = ((digits.clamp(0, 1).repeat(1, channels, 1, 1)) - mean) / std
noise = torch.randn(max(SAMPLES), *shape, generator=torch.Generator().manual_seed(0))

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for k in range(8):
    axes[0, k].imshow(x_train[k, 0], cmap="gray")
    axes[1, k].imshow(digits[k, 0], cmap="gray")
    axes[0, k].axis("off")
    axes[1, k].axis("off")
axes[0, 0].set_title(f"{DATASET} (in distribution)", loc="left", fontsize=9)
axes[1, 0].set_title("scikit-learn digits (never seen)", loc="left", fontsize=9)
plt.show()

ood = {}
for source, pool in (("digits", digits), ("Gaussian noise", noise)):
    for n in SAMPLES:
        for d in DRAWS:
            xs = pool[data.sample_indices(len(pool), n, seed=d)]
            net, seconds = run_fskd(pruned[OOD_SCHEME], xs, kept_of[OOD_SCHEME])
            ood[(source, n, d)] = train.evaluate(net, x_eval, y_eval)
table7 = [{"network": TEACHER, "accuracy (%)": f"{100 * teacher_acc:.2f}", "samples": f"{len(y_train):,} ({DATASET})"}]
for n in SAMPLES:
    table7.append({"network": f"Prune-{OOD_SCHEME} + FSKD", "accuracy (%)": cell(OOD_SCHEME, "FSKD", n)[0],
                   "samples": f"{n} ({DATASET})"})
    for source in ("digits", "Gaussian noise"):
        table7.append({"network": f"Prune-{OOD_SCHEME} + FSKD",
                       "accuracy (%)": plots.mean_std([ood[(source, n, d)] for d in DRAWS]),
                       "samples": f"{n} ({source})"})
plots.show_table(table7)

# %% [markdown]
# ## 8. Table 6: a decoupled student (depthwise + pointwise)
#
# Network decoupling (Guo et al. 2018; Fig. 5 of Li et al. 2020) rewrites each 3x3 conv as a sum of $T$ depthwise-separable
# terms — exactly, for $T = 9$ — via one SVD per input channel (`students.decouple_conv`). Keeping fewer terms compresses
# the network and damages it. Each decoupled block ends with a pointwise conv, an ordinary 1x1 conv, so FSKD's $Q$
# merges into it (the depthwise conv is left untouched).

# %%
table6 = [{"network": TEACHER, "params": f"{models.count_params(teacher):,}",
           "FLOPs (M)": f"{models.count_flops(teacher, shape) / 1e6:.1f}", "accuracy before (%)": "—",
           "accuracy after FSKD (%)": f"{100 * teacher_acc:.2f}", "time (s)": ""}]
for rank in DECOUPLE_RANKS:
    student = students.decouple(teacher, rank)
    acc0 = train.evaluate(student, x_eval, y_eval)
    accs, secs = [], []
    for d in DRAWS:
        net, seconds = run_fskd(student, draw(DECOUPLE_N, d)[0])
        assert models.count_params(net) == models.count_params(student)  # the merge added nothing
        accs.append(train.evaluate(net, x_eval, y_eval))
        secs.append(seconds)
    table6.append({"network": f"decoupled (T = {rank}) + FSKD, N = {DECOUPLE_N}",
                   "params": f"{models.count_params(student):,}",
                   "FLOPs (M)": f"{models.count_flops(student, shape) / 1e6:.1f}",
                   "accuracy before (%)": f"{100 * acc0:.2f}", "accuracy after FSKD (%)": plots.mean_std(accs),
                   "time (s)": f"{np.mean(secs):.1f}"})
plots.show_table(table6)

# %% [markdown]
# ## 9. Table 8: a hand-designed student with random weights
#
# The last setting has no pruned weights to inherit: a **half-width** network (every block half as wide),
# **randomly initialised**. As the paper prescribes, each student block stands for the teacher's filters with the
# largest L1 norm. The paper does not say how the classifier is obtained; we give every method the same start — random
# conv blocks and the teacher's classifier restricted to those channels (what `prune.l1_prune(teacher, 0.5)` keeps) —
# and compare, on the same $N$ labelled samples and without augmentation: **SGD** on the labels, **FitNet**
# (two-stage), and **FSKD** (which ignores the labels).

# %%
half, half_kept = prune.l1_prune(teacher, 0.5)


def random_student(seed):
    torch.manual_seed(seed)
    student = models.build_model(half.arch, half.config)
    student.head.load_state_dict(half.head.state_dict())
    return student.to(DEVICE)


t8 = {}
for n in tqdm(T8_N, desc="Table 8"):
    for d in T8_DRAWS:
        xs, ys = draw(n, d)
        init = random_student(d)
        t8[("random init", n, d)] = train.evaluate(init, x_eval, y_eval)
        t8[("SGD", n, d)] = train.evaluate(run_finetune(init, xs, ys, steps=T8_STEPS, lr=T8_LR, seed=d)[0],
                                           x_eval, y_eval)
        t8[("FitNet", n, d)] = train.evaluate(run_fitnet(init, xs, ys, steps=T8_STEPS, hint_steps=T8_STEPS // 2,
                                                         lr=T8_LR, seed=d)[0], x_eval, y_eval)
        t8[("FSKD", n, d)] = train.evaluate(run_fskd(init, xs, half_kept)[0], x_eval, y_eval)
table8 = [{"method": m, **{f"N = {n}": plots.mean_std([t8[(m, n, d)] for d in T8_DRAWS]) for n in T8_N}}
          for m in ("random init", "SGD", "FitNet", "FSKD")]
plots.show_table(table8)
print(f"half-width student: {models.count_params(half):,} params; accuracy in %, "
      f"{len(T8_DRAWS)} draw(s); teacher {100 * teacher_acc:.2f} %")

# %% [markdown]
# ## 10. What the paper reports vs what we measured

# %%
PAPER_T2 = {  # Li et al. 2020, Table 2 (VGG-16 on CIFAR-10): accuracy %, time s
    "A": {"before": 85.42, "FSKD": {100: (92.37, 4.8), 500: (92.46, 25.5)},
          "FitNet": {100: (91.23, 48.5), 500: (92.13, 139.2)}, "fine-tuning": {500: (90.25, 40.4)},
          "full": (92.54, 1059.6)},
    "B": {"before": 47.90, "FSKD": {100: (90.17, 3.7), 500: (91.21, 19.3)},
          "FitNet": {100: (88.76, 60.1), 500: (90.68, 157.1)}, "fine-tuning": {500: (83.36, 50.3)},
          "full": (91.53, 1753.4)},
    "C": {"before": 13.05, "FSKD": {100: (89.55, 7.4), 500: (90.41, 33.5)},
          "FitNet": {100: (85.09, 71.3), 500: (88.31, 180.3)}, "fine-tuning": {500: (78.13, 58.7)},
          "full": (90.77, 2592.3)},
}


def mean_acc(scheme, method, n):
    return 100 * np.mean([results[(scheme, method, n, d)][0] for d in DRAWS])


def mean_time(scheme, method, n):
    return np.mean([results[(scheme, method, n, d)][1] for d in DRAWS])


n_lo, n_hi = SAMPLES[0], SAMPLES[-1]
lines = []
for name in SCHEMES:
    p = PAPER_T2[name]
    fs, fn, ft = (mean_acc(name, m, n_hi) for m in ("FSKD", "FitNet", "fine-tuning"))
    lines.append(
        f"* **Prune-{name}.** Paper (VGG-16, CIFAR-10): {p['before']:.2f} % → FSKD {p['FSKD'][500][0]:.2f} % with "
        f"500 samples in {p['FSKD'][500][1]:.1f} s, FitNet {p['FitNet'][500][0]:.2f} % in {p['FitNet'][500][1]:.1f} s, "
        f"fine-tuning {p['fine-tuning'][500][0]:.2f} %. Measured ({TEACHER}): {100 * before_acc[name]:.2f} % → FSKD "
        f"{mean_acc(name, 'FSKD', n_lo):.2f} % / {fs:.2f} % with {n_lo} / {n_hi} samples in "
        f"{mean_time(name, 'FSKD', n_lo):.1f} / {mean_time(name, 'FSKD', n_hi):.1f} s; FitNet "
        f"{mean_acc(name, 'FitNet', n_lo):.2f} % / {fn:.2f} % in {mean_time(name, 'FitNet', n_lo):.1f} / "
        f"{mean_time(name, 'FitNet', n_hi):.1f} s; fine-tuning {mean_acc(name, 'fine-tuning', n_lo):.2f} % / "
        f"{ft:.2f} %; full fine-tuning {100 * full_ft[name][0]:.2f} %; ceiling {100 * ceiling_acc[name]:.2f} %. "
        f"With {n_hi} samples FSKD is {'ahead of' if fs > max(fn, ft) else 'behind'} the best SGD-based method here "
        f"({fs - max(fn, ft):+.2f} points) and {mean_time(name, 'FitNet', n_hi) / mean_time(name, 'FSKD', n_hi):.1f}× "
        f"faster than FitNet.")
wins = sum(mean_acc(s, "FSKD", n) >= max(mean_acc(s, "FitNet", n), mean_acc(s, "fine-tuning", n))
           for s in SCHEMES for n in SAMPLES)
ceiling_gaps = {f"Prune-{s}": 100 * ceiling_acc[s] - mean_acc(s, "FSKD", n_hi) for s in SCHEMES}
near = [s for s, g in ceiling_gaps.items() if g <= 2.0]
far = [s for s, g in ceiling_gaps.items() if g > 2.0]
ood_gap = np.mean([100 * np.mean([ood[("digits", n, d)] for d in DRAWS]) - mean_acc(OOD_SCHEME, "FSKD", n)
                   for n in SAMPLES])
noise_gap = np.mean([100 * np.mean([ood[("Gaussian noise", n, d)] for d in DRAWS]) - mean_acc(OOD_SCHEME, "FSKD", n)
                     for n in SAMPLES])
fig3_lo = {m: 100 * v[0] for m, v in fig3.items()}
t8_fskd, t8_fitnet, t8_sgd = ([100 * np.mean([t8[(m, n, d)] for d in T8_DRAWS]) for n in T8_N]
                              for m in ("FSKD", "FitNet", "SGD"))
display(Markdown("\n".join([
    f"Li et al. (2020) report, for VGG-16 on CIFAR-10 (Table 2), that FSKD beats FitNet and few-sample fine-tuning in every "
    f"row while being about 10× faster than FitNet. On the Fashion-MNIST course teacher (scale `{SCALE}`, "
    f"{len(DRAWS)} draw(s), {EVAL_SIZE:,} test images; our FitNet/fine-tuning runs are short, {FT_STEPS} steps) we "
    f"measured:", "", *lines, "",
    f"FSKD was at least as accurate as both SGD-based methods in {wins} of {len(SCHEMES) * len(SAMPLES)} "
    f"(scheme, N) cells. The ceiling of block alignment bounds it: the pruned channels of the last block are lost "
    f"to the classifier whatever Q does, a limit that FitNet and fine-tuning (which retrain everything, head "
    f"included) do not have. With {n_hi} samples FSKD sits "
    f"{', '.join(f'{g:.2f} ({s})' for s, g in ceiling_gaps.items())} points below that ceiling: "
    f"{'the ceiling is what limits it for ' + ', '.join(near) if near else 'the ceiling is not what limits it'}"
    f"{'; for ' + ', '.join(far) + ' the block-wise least squares itself falls well short of it' if far else ''}. Here our setting differs from the paper's: Li et al. prune VGG-16's last layers (512 "
    f"channels) because they are insensitive to pruning, while our teacher has only 128 channels at the end. Figure 3 shows the sample efficiency the paper "
    f"stresses: with {FIG3_N[0]} sample(s) FSKD reaches {fig3_lo['FSKD']:.2f} % and FitNet {fig3_lo['FitNet']:.2f} %. "
    f"Table 7: FSKD with digits instead of {DATASET} images changes accuracy by {ood_gap:+.2f} points on average "
    f"(the paper: no difference between CIFAR-100 and CIFAR-10 samples); Gaussian noise changes it by "
    f"{noise_gap:+.2f} points. Table 8 (hand-designed random student; the paper, on MNIST: FSKD 94.4–97.8 %, "
    f"FitNet 86.1–96.5 %, SGD 37.9–86.7 % for 10–200 samples): FSKD "
    f"{', '.join(f'{v:.1f}' for v in t8_fskd)} %, FitNet {', '.join(f'{v:.1f}' for v in t8_fitnet)} %, SGD "
    f"{', '.join(f'{v:.1f}' for v in t8_sgd)} % for N = {', '.join(map(str, T8_N))}. At `quick` scale none of these "
    f"numbers mean anything."])))


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
# the smallest number of images for which there are at least as many equations as unknowns. For the Prune-B
# student's last block (64 channels on a 7x7 map) that is 2 images; below it (and in practice well above it, since
# neighbouring pixels are strongly correlated) $\bar X^\top \bar X$ is singular or nearly so, and plain least squares
# picks an arbitrary, wildly scaled $Q$. Then compare plain least squares (`ridge=0`) with the default ridge using a
# single image.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_min_images(c, h, w):
    ### BEGIN SOLUTION
    return math.ceil((c + 1) / (h * w))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.equal(check.runs(my_min_images, 64, 7, 7), 2, what="Prune-B, last block: 65 unknowns, 49 equations per image",
            hint="ceil((C + 1) / (H·W))")
check.equal(check.runs(my_min_images, 512, 2, 2), 129, what="VGG-16 on CIFAR, conv5 (512 channels on 2x2)",
            hint="ceil((C + 1) / (H·W))")
one_image = draw(1, 0)[0]
for ridge in (0.0, fskd.RIDGE):
    net = copy.deepcopy(pruned["B"])
    fskd.fskd(net, teacher, one_image, kept=kept_of["B"], ridge=ridge, progress=False)
    print(f"Prune-B, FSKD from one image, ridge = {ridge:g}: {100 * train.evaluate(net, x_eval, y_eval):.2f} %")


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
# **Exercise 4 (discussion).** The ceiling row of Table 2 says block alignment cannot recover the last block's
# pruned channels. Propose a label-free fix that keeps FSKD's spirit — a closed-form solve on the few samples — for
# the classifier (hint: the teacher's logits are a linear function of *its* last features; which linear function of
# the *student's* would you fit?), and say why it no longer is a merge in the sense of Theorem 1.
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

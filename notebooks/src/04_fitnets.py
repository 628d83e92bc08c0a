# %% [markdown]
# # 04 · FitNets: hints for thin, deep students
#
# Hinton's knowledge distillation (notebook 02) only tells the student what the teacher *answers*. Romero et al.
# (ICLR 2015) asked whether a student that is **thinner but deeper** than its teacher — fewer channels, more layers,
# far fewer parameters — could also be told *how the teacher thinks on the way*. Deep, thin networks are hard to
# train from the output alone; FitNets first pull a middle layer of the student toward a middle layer of the
# teacher (the **hint**), through a small **regressor** that bridges their different widths, and only then
# distil the whole student from the teacher's soft outputs.
#
# FitNets is also the baseline that the few-sample methods of notebooks 05–06 (FSKD, cross distillation) measure
# themselves against, so we run it with the whole training set and with only 100 or 500 images.
#
# **Learning objectives.** After this notebook you can
# 1. explain what a hint layer, a guided layer and a regressor are, and size a convolutional regressor so that its
#    output matches the hint's channels, spatial size and kind (post-ReLU);
# 2. write FitNets' two losses — the hint loss (Eq. 3) and the KD loss of stage 2 (Eq. 2) — and map them to the
#    package's code;
# 3. tell the paper's **two-stage** method from the single-stage `CE + β·MSE` "library variant" most code bases
#    ship, and compare both with plain KD on a thin-deep student, with all data and with 100 / 500 images;
# 4. reason, from a small sweep, about where to place the hint.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
STUDENT_WIDTHS = [8, 16, 16, 16, 32, 32, 32, 32]  # 8 blocks, at most 32 channels: thin and deep
STUDENT_POOLS = [0, 3, 6]
EVAL_SIZE = {"quick": 1_000, "standard": 5_000, "paper": 10_000}[SCALE]  # test images per evaluation
LARGE_N = {"quick": 1_000, "standard": 12_000, "paper": 50_000}[SCALE]  # the "lots of data" setting
LARGE_EPOCHS = {"quick": 1, "standard": 4, "paper": 200}[SCALE]
SMALL_NS = {"quick": [100], "standard": [100, 500], "paper": [100, 500]}[SCALE]  # the few-sample settings
SMALL_EPOCHS = {"quick": {100: 4}, "standard": {100: 30, 500: 24}, "paper": {100: 200, 500: 100}}[SCALE]
SEEDS = {"quick": [0], "standard": [0, 1, 2, 3, 4], "paper": [0, 1, 2, 3, 4]}[SCALE]
SWEEP_N = {"quick": 100, "standard": 500, "paper": 500}[SCALE]  # hint-placement sweep
SWEEP_SEEDS = {"quick": [0], "standard": [0, 1, 2], "paper": [0, 1, 2, 3, 4]}[SCALE]
LR = 0.05
BETA = 100.0  # the library variant's hint weight (RepDistiller / mdistiller default)

# %%
import copy
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.patches import FancyArrowPatch, Rectangle

from fsc_teach import check, data, fitnets, models, plots, train, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)
torch.manual_seed(0)
x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
teacher = zoo.load_teacher("vgg_fmnist").eval()
teacher_acc = train.evaluate(teacher, x_eval, y_eval)
print(f"course teacher: test accuracy {100 * teacher_acc:.2f} % on {EVAL_SIZE:,} test images")


def new_student(seed: int) -> models.VGG:
    """The thin-deep student, randomly initialised by ``seed``."""
    torch.manual_seed(seed)
    return models.VGG(STUDENT_WIDTHS, pools=STUDENT_POOLS)


# %% [markdown]
# ## 1. A thin, deep student
#
# The course teacher has 6 conv blocks of 32–128 channels. Our FitNet-style student has **8** blocks of only 8–32
# channels: deeper, about 7× fewer parameters and 12× fewer multiply-accumulates. (Romero et al.'s CIFAR-10 FitNets
# had 11–19 layers against a 5-layer maxout teacher, with up to 36× fewer parameters.)

# %%
# NBVAL_CHECK_OUTPUT
student = new_student(0)
rows = []
for name, net in (("teacher", teacher), ("student", student)):
    shapes = [tuple(out.shape[1:]) for _, out in models.block_io(net, torch.zeros(1, 1, 28, 28))]
    rows.append({"network": name, "blocks": len(net.blocks), "widths": str(net.widths),
                 "params": models.count_params(net), "FLOPs (M)": f"{models.count_flops(net) / 1e6:.2f}",
                 "block outputs (C, H, W)": " ".join(f"{c}·{h}²" for c, h, _ in shapes)})
print(plots.markdown_table(rows))
print(f"parameter ratio {models.count_params(teacher) / models.count_params(student):.1f}x, "
      f"FLOP ratio {models.count_flops(teacher) / models.count_flops(student):.1f}x")

# %% [markdown]
# ## 2. Hints, guided layers and the regressor
#
# FitNets pick a **hint layer** $h$ in the teacher and a **guided layer** $g$ in the student, usually both in the
# middle. Let $u_h(x; W_{\text{Hint}})$ be the teacher up to its hint layer and $v_g(x; W_{\text{Guided}})$ the
# student up to its guided layer. The student is thinner, so $v_g$ has fewer channels than $u_h$; a **regressor**
# $r(\cdot; W_r)$ maps one to the other. Stage 1 minimises (Romero et al., **Eq. 3**)
#
# $$ \mathcal{L}_{HT}(W_{\text{Guided}}, W_r) = \tfrac12 \left\lVert u_h(x; W_{\text{Hint}}) - r\big(v_g(x; W_{\text{Guided}}); W_r\big) \right\rVert^2 , $$
#
# with **no labels**: only the student's layers up to $g$ and the regressor are trained. The paper's regressor is
# convolutional: if the guided map is $N_{g,1}\times N_{g,2}$ and the hint $N_{h,1}\times N_{h,2}$, a "valid"
# convolution with kernel $(N_{g,1}-N_{h,1}+1)\times(N_{g,2}-N_{h,2}+1)$ produces exactly the hint's size — far
# fewer weights than a fully connected regressor. When the spatial sizes agree the kernel is 1×1. Since
# $u_h$ ends with a ReLU, the regressor ends with one too: it must produce the same *kind* of tensor as the hint
# (post-ReLU here), or the MSE compares two different quantities. The figure shows the placement used below: teacher block 3 (64 channels, 7×7) guides student
# block 3 (16 channels, 7×7).

# %%
GUIDED, HINT = 3, 3  # the middle placement (teacher block 3 of 0..5, student block 3 of 0..7)


def draw_fitnet(teacher_widths, student_widths, hint, guided, regressor_label):
    """Teacher (top) and student (bottom) blocks, box height ∝ channels; the hint loss links them."""
    fig, ax = plt.subplots(figsize=(11, 3.6))
    for row, widths, y0, name, mark in ((0, teacher_widths, 2.4, "teacher", hint),
                                        (1, student_widths, 0.0, "student", guided)):
        span = 10.0 / len(widths)
        for i, w in enumerate(widths):
            h = 0.25 + 1.2 * w / max(teacher_widths)
            face = ("tab:orange" if row == 0 else "tab:green") if i == mark else ("0.85" if i <= mark else "0.95")
            ax.add_patch(Rectangle((i * span + 0.1, y0), span * 0.7, h, facecolor=face, edgecolor="k"))
            ax.text(i * span + 0.1 + span * 0.35, y0 + h + 0.08, str(w), ha="center", fontsize=8)
        ax.text(-0.3, y0 + 0.3, name, ha="right", va="center", fontsize=11)
        ax.text(len(widths) * span + 0.1, y0 + 0.3, "→ head", va="center", fontsize=9)
    t_x = hint * 10.0 / len(teacher_widths) + 0.1 + 10.0 / len(teacher_widths) * 0.35
    s_x = guided * 10.0 / len(student_widths) + 0.1 + 10.0 / len(student_widths) * 0.35
    ax.add_patch(Rectangle((s_x + 0.9, 1.45), 1.6, 0.5, facecolor="tab:red", alpha=0.3, edgecolor="tab:red"))
    ax.text(s_x + 1.7, 1.7, regressor_label, ha="center", va="center", fontsize=8)
    ax.add_patch(FancyArrowPatch((s_x, 0.8), (s_x + 0.9, 1.6), arrowstyle="->", mutation_scale=12))
    ax.add_patch(FancyArrowPatch((s_x + 2.5, 1.75), (t_x, 2.35), arrowstyle="<->", mutation_scale=12,
                                 color="tab:red"))
    ax.text((s_x + 2.5 + t_x) / 2 + 0.25, 2.05, r"$\mathcal{L}_{HT}$ (Eq. 3)", color="tab:red", fontsize=10)
    ax.text(5, -0.45, "stage 1 trains the shaded student blocks + regressor on the hint; stage 2 trains the "
            "whole student with KD (Eq. 2)", ha="center", fontsize=9)
    ax.set(xlim=(-1.6, 11.2), ylim=(-0.7, 4.2))
    ax.axis("off")
    fig.tight_layout()
    return fig


draw_fitnet(teacher.widths, STUDENT_WIDTHS, HINT, GUIDED, "regressor r\n1×1 conv 16→64 + ReLU")
plt.show()

# %% [markdown]
# The package's regressor and hint loss (`fsc_teach/fitnets.py`). `hint_loss` defaults to the *mean* squared
# error (what libraries use: the same direction as Eq. 3's gradient, smaller by a constant);
# `reduction="paper"` is Eq. 3 literally, ½ the squared norm per sample.

# %%
print(inspect.getsource(fitnets.Regressor))
print(inspect.getsource(fitnets.hint_loss))

# %% [markdown]
# The regressor for each placement we will try. A guided map larger than the hint gets a valid conv (the last row
# shows one: a 7×7 student map regressed onto the teacher's 3×3 last block needs a 5×5 kernel).

# %%
# NBVAL_CHECK_OUTPUT
PLACEMENTS = {"shallow": (1, 1), "middle": (GUIDED, HINT), "deep": (6, 5)}  # name: (student block, teacher block)
probe = torch.zeros(1, 1, 28, 28)
with torch.no_grad():
    t_out = [o for _, o in models.block_io(teacher, probe)]
    s_out = [o for _, o in models.block_io(student.eval(), probe)]
reg_rows = []
for name, (g, h) in {**PLACEMENTS, "valid-conv example": (5, 5)}.items():
    fs, ft = s_out[g], t_out[h]
    reg = fitnets.Regressor(fs.shape[1], ft.shape[1], fs.shape[-1], ft.shape[-1])
    out = reg(fs)
    assert out.shape == ft.shape
    reg_rows.append({"placement": name, "student block (guided)": f"{g}: {tuple(fs.shape[1:])}",
                     "teacher block (hint)": f"{h}: {tuple(ft.shape[1:])}",
                     "regressor kernel": "×".join(map(str, reg.conv.kernel_size)),
                     "regressor params": models.count_params(reg)})
print(plots.markdown_table(reg_rows))


# %% [markdown]
# ## 3. Stage 2, the two-stage method and the library variant
#
# After stage 1 the whole student is trained with KD (Romero et al., **Eq. 2**):
#
# $$ \mathcal{L}_{KD}(W_S) = \mathcal{H}(y_{\text{true}}, P_S) + \lambda\, \mathcal{H}(P_T^{\tau}, P_S^{\tau}),
#    \qquad P^{\tau} = \operatorname{softmax}(a/\tau), $$
#
# with $\tau = 3$ and $\lambda$ decayed linearly from 4 to 1 (their Algorithm 1). Eq. 2 has no $\tau^2$ factor;
# `fitnet_two_stage` divides the course's `kd_loss` (which has it) by $\tau^2$, and uses the KL divergence, which
# differs from $\mathcal{H}(P_T^\tau, P_S^\tau)$ by the teacher's entropy, a constant with the same gradient.
#
# Most code bases (RepDistiller, mdistiller, the PyTorch KD tutorial) implement instead a **single stage**,
# $\mathcal{L} = \mathrm{CE}(y, P_S) + \beta\,\mathrm{MSE}\big(r(v_g), u_h\big)$ with $\beta \approx 100$, and call it
# FitNet, although Romero et al. train in two stages. We compare four ways to train the same student on the same
# images:
#
# | method | loss | uses the teacher's |
# |---|---|---|
# | CE only | $\mathcal{H}(y, P_S)$ | nothing |
# | KD | Eq. 2 (stage 2 alone, $\lambda$: 4 → 1, $\tau=3$) | outputs |
# | FitNet, single stage (library variant) | $\mathrm{CE} + \beta\,\mathrm{MSE}$, $\beta = 100$ | hint |
# | FitNet, two stages (paper) | Eq. 3, then Eq. 2 | hint, then outputs |
#
# No data augmentation (as in FSKD's few-sample experiments), so the teacher's hints and logits are computed once
# per run and cached (`cache=True`: the same targets as a teacher pass per batch, at a fraction of the cost).
# Stage 1 runs half as many epochs as stage 2, on the student's lower part only.

# %%
def train_student(method: str, idx: torch.Tensor, seed: int, epochs: int, placement: str = "middle"):
    """Train a fresh student with ``method`` on ``x_train[idx]``; returns (test accuracy, seconds, history)."""
    x, y = x_train[idx], y_train[idx]
    g, h = PLACEMENTS[placement]
    batch = min(128, max(len(idx) // 8, 16))  # several steps per epoch even with 100 samples
    common = dict(batch_size=batch, lr=LR, seed=seed, progress=False)
    student = new_student(seed)
    start = time.perf_counter()
    if method == "CE only":
        hist = train.fit(student, x, y, epochs=epochs, **common)
    elif method == "KD":  # Eq. 2 alone: the two-stage method without its hint stage
        _, hist = fitnets.fitnet_two_stage(student, teacher, x, y, guided_block=g, hint_block=h, stage1_epochs=0,
                                           stage2_epochs=epochs, cache=True, **common)
    elif method == "FitNet single-stage":
        _, hist = fitnets.fitnet_single_stage(student, teacher, x, y, guided_block=g, hint_block=h, epochs=epochs,
                                              beta=BETA, cache=True, **common)
    elif method == "FitNet two-stage":
        _, hist = fitnets.fitnet_two_stage(student, teacher, x, y, guided_block=g, hint_block=h,
                                           stage1_epochs=max(1, epochs // 2), stage2_epochs=epochs, cache=True,
                                           **common)
    else:
        raise ValueError(method)
    seconds = time.perf_counter() - start
    return train.evaluate(student, x_eval, y_eval), seconds, hist


METHODS = ["CE only", "KD", "FitNet single-stage", "FitNet two-stage"]

# %% [markdown]
# ## 4. With plenty of data
#
# First the setting FitNets was designed for: many labelled images (here a random subset of the training set that
# fits the time budget; the `paper` scale uses all of it for hundreds of epochs).

# %%
large_idx = data.sample_indices(len(y_train), LARGE_N, seed=0)
large, large_hist = {}, {}
for method in METHODS:
    acc, sec, hist = train_student(method, large_idx, seed=0, epochs=LARGE_EPOCHS)
    large[method], large_hist[method] = (acc, sec), hist
plots.show_table([{"method": m, f"test acc. ({LARGE_N:,} images, {LARGE_EPOCHS} epochs)": plots.mean_std([a]),
                   "wall time (s)": f"{s:.1f}"} for m, (a, s) in large.items()])
print(f"teacher: {100 * teacher_acc:.2f} %")

# %% [markdown]
# ## 5. With 100 and 500 images
#
# Now the few-sample regime of notebooks 05–06: N images drawn at random (the same indices for every method,
# `data.sample_indices`), with labels, several draws. Each cell is the mean ± std over the draws.

# %%
small = {m: {n: [] for n in SMALL_NS} for m in METHODS}
small_time = {m: {n: [] for n in SMALL_NS} for m in METHODS}
stage1_curves = {f"N = {LARGE_N:,}": large_hist["FitNet two-stage"]["stage1"]["train_loss"]}
for n in SMALL_NS:
    for seed in SEEDS:
        idx = data.sample_indices(len(y_train), n, seed=seed)
        for method in METHODS:
            acc, sec, hist = train_student(method, idx, seed=seed, epochs=SMALL_EPOCHS[n])
            small[method][n].append(acc)
            small_time[method][n].append(sec)
            if method == "FitNet two-stage" and seed == SEEDS[0]:
                stage1_curves[f"N = {n}"] = hist["stage1"]["train_loss"]
table = []
for method in METHODS:
    row = {"method": method}
    for n in SMALL_NS:
        row[f"N = {n} ({SMALL_EPOCHS[n]} epochs)"] = plots.mean_std(small[method][n])
        row[f"time, N = {n} (s)"] = f"{np.mean(small_time[method][n]):.1f}"
    row[f"N = {LARGE_N:,}"] = plots.mean_std([large[method][0]])
    table.append(row)
plots.show_table(table)
print(f"{len(SEEDS)} draws of the N images (seeds {SEEDS}); teacher {100 * teacher_acc:.2f} %")

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ns = SMALL_NS + [LARGE_N]
for method in METHODS:
    means = [100 * np.mean(small[method][n]) for n in SMALL_NS] + [100 * large[method][0]]
    stds = [100 * np.std(small[method][n], ddof=1) if len(SEEDS) > 1 else 0.0 for n in SMALL_NS] + [0.0]
    ax.errorbar(ns, means, yerr=stds, marker="o", capsize=3, label=method)
ax.axhline(100 * teacher_acc, color="grey", ls=":", label="teacher")
ax.set(xscale="log", xlabel="training images N", ylabel="test accuracy (%)",
       title="Thin-deep student: accuracy vs number of training images")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Stage 1 is label-free regression onto the hint (Eq. 3). Its loss per epoch (first draw) shows how well the
# student's lower part, through the regressor, can imitate the teacher's middle layer — and, with few images, how
# quickly it starts to fit those images only.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for label, curve in stage1_curves.items():
    ax.plot(range(1, len(curve) + 1), curve, marker="o", label=label)
ax.set(xlabel="stage-1 epoch", ylabel="hint loss (MSE, training images)", title="FitNet stage 1: hint loss")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Where to put the hint?
#
# Romero et al. guide the *middle* of the student: a hint too deep over-regularises (the student's lower part is
# forced to mimic a representation it is too thin to reproduce, and little network is left to use it); a hint too
# shallow transfers little. We repeat the two-stage method with the three placements of section 2, at N =
# `SWEEP_N`, over a few draws (the middle placement reuses section 5's runs when they share N and seeds).

# %%
sweep = {}
for name in PLACEMENTS:
    accs = []
    for seed in SWEEP_SEEDS:
        if name == "middle" and SWEEP_N in SMALL_NS and seed in SEEDS:
            accs.append(small["FitNet two-stage"][SWEEP_N][SEEDS.index(seed)])
            continue
        idx = data.sample_indices(len(y_train), SWEEP_N, seed=seed)
        accs.append(train_student("FitNet two-stage", idx, seed, SMALL_EPOCHS[SWEEP_N], placement=name)[0])
    sweep[name] = accs
kd_ref = ([small["KD"][SWEEP_N][SEEDS.index(s)] for s in SWEEP_SEEDS if s in SEEDS]
          if SWEEP_N in SMALL_NS else [])
plots.show_table([{"hint placement": name, "guided → hint": f"student {PLACEMENTS[name][0]} → teacher {PLACEMENTS[name][1]}",
                   f"two-stage FitNet, N = {SWEEP_N}": plots.mean_std(accs)} for name, accs in sweep.items()]
                 + ([{"hint placement": "none (KD)", "guided → hint": "—",
                      f"two-stage FitNet, N = {SWEEP_N}": plots.mean_std(kd_ref)}] if kd_ref else []))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
names = list(sweep)
ax.errorbar(range(len(names)), [100 * np.mean(sweep[k]) for k in names],
            yerr=[100 * np.std(sweep[k], ddof=1) if len(sweep[k]) > 1 else 0.0 for k in names],
            marker="o", capsize=3, label="two-stage FitNet")
if kd_ref:
    ax.axhline(100 * np.mean(kd_ref), color="tab:orange", ls="--", label="KD (no hint)")
ax.set_xticks(range(len(names)), [f"{k}\n(student {PLACEMENTS[k][0]} → teacher {PLACEMENTS[k][1]})" for k in names])
ax.set(ylabel="test accuracy (%)", title=f"Hint placement, N = {SWEEP_N}")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. What the paper reports vs what we measured

# %%
mean = lambda v: 100 * float(np.mean(v))
n_hi = SMALL_NS[-1]
best_small = max(METHODS, key=lambda m: np.mean(small[m][n_hi]))
best_large = max(METHODS, key=lambda m: large[m][0])
gap_two_kd = mean(small["FitNet two-stage"][n_hi]) - mean(small["KD"][n_hi])
gap_two_single = mean(small["FitNet two-stage"][n_hi]) - mean(small["FitNet single-stage"][n_hi])
best_place = max(sweep, key=lambda k: np.mean(sweep[k]))
verdict = lambda gap: "better than" if gap > 0 else "worse than"
beats = large[best_large][0] > teacher_acc
hint_helps_large = max(large["FitNet two-stage"][0], large["FitNet single-stage"][0]) > large["KD"][0]
teacher_phrase = ("As in the paper, the best student beats the teacher" if beats else
                  "Unlike the paper, no student reaches the teacher — ours train for a few epochs on a subset")
hint_phrase = (f"{'does' if hint_helps_large else 'does not'} improve on KD alone in this single run (best FitNet "
               f"{100 * max(large['FitNet two-stage'][0], large['FitNet single-stage'][0]):.2f} % vs KD "
               f"{100 * large['KD'][0]:.2f} %)"
               + ("; the labels alone (CE only) do best here — our student has BatchNorm, which FitNets' students "
                  "did not have and which makes thin, deep nets easy to train from the labels"
                  if best_large == "CE only" else ""))
few_gap = 100 * teacher_acc - mean(small[best_small][n_hi])
few_phrase = (f"With {n_hi} images even the best method stays {few_gap:.1f} points below the teacher: none of the "
              "four losses gets a randomly initialised student near the teacher from so few images — which is why "
              "FSKD (notebook 05) starts from a *pruned teacher* instead and keeps its weights."
              if few_gap > 5 else
              f"With {n_hi} images the best method comes within {few_gap:.1f} points of the teacher.")
display(Markdown(f"""
**Paper.** Romero et al. (2015, Table 1) train on all of CIFAR-10 (with augmentation, hundreds of epochs) a
19-layer FitNet with 2.5 M parameters that reaches **91.61 %**, *above* its 9 M-parameter maxout teacher
(**90.18 %**); they also report that their deepest thin students could not be trained from the labels or by KD
alone, but could with a hint. In the few-sample setting, FSKD's authors (Li et al., CVPR 2020, Table 2) ran FitNet on
filter-pruned VGG-16 students: 91.23 ± 0.41 % with 100 images and 92.13 ± 0.35 % with 500 (Prune-A; teacher
92.66 %), 88.76 ± 0.51 % with 100 (Prune-B), in 48.5 s and 60.1 s; cross distillation (Bai et al., AAAI 2020, Table 1) reports
48.51 % for FitNet at one image per class on a harder VGG-16 student.

**Measured** (scale `{SCALE}`; at `quick` the numbers are not meaningful). Our thin-deep student has
{models.count_params(teacher) / models.count_params(student):.1f}× fewer parameters than the teacher
({100 * teacher_acc:.2f} %). With {LARGE_N:,} labelled images and {LARGE_EPOCHS} epoch(s): CE only
{100 * large['CE only'][0]:.2f} %, KD {100 * large['KD'][0]:.2f} %, single-stage FitNet
{100 * large['FitNet single-stage'][0]:.2f} %, two-stage FitNet {100 * large['FitNet two-stage'][0]:.2f} % (best:
{best_large}; one run each). {teacher_phrase}, and a hint {hint_phrase}.
With N = {n_hi} images ({len(SEEDS)} draws) the best method is **{best_small}**; the paper's two-stage FitNet is
{abs(gap_two_kd):.2f} points {verdict(gap_two_kd)} KD without a hint and {abs(gap_two_single):.2f} points
{verdict(gap_two_single)} the single-stage library variant
({mean(small['FitNet two-stage'][n_hi]):.2f} vs {mean(small['KD'][n_hi]):.2f} vs
{mean(small['FitNet single-stage'][n_hi]):.2f} %; CE only {mean(small['CE only'][n_hi]):.2f} %). The best hint
placement in the sweep at N = {SWEEP_N} was **{best_place}** ({mean(sweep[best_place]):.2f} %).
Differences smaller than the ± spread over draws are not evidence either way. {few_phrase}
"""))


# %% [markdown]
# ## 8. Exercises
#
# **Exercise 1 — Eq. 3 by hand.** Write `my_hint_loss(regressed, hint)` computing Romero et al.'s
# $\tfrac12\lVert u_h - r(v_g)\rVert^2$ per sample, averaged over the batch, and check it against the package's
# `reduction="paper"` on a real hint of the teacher and a real regressor output.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_hint_loss(regressed, hint):
    ### BEGIN SOLUTION
    return 0.5 * ((regressed - hint) ** 2).sum(dim=(1, 2, 3)).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
xb = x_eval[:16]
with torch.no_grad():
    hint_t = models.block_io(teacher, xb)[HINT][1]
    guided_s = models.block_io(new_student(0).eval(), xb)[GUIDED][1]
    torch.manual_seed(0)
    regressed = fitnets.Regressor(guided_s.shape[1], hint_t.shape[1], 7, 7)(guided_s)
check.close(check.runs(my_hint_loss, regressed, hint_t), fitnets.hint_loss(regressed, hint_t, reduction="paper"),
            what="my_hint_loss equals Eq. 3", rtol=1e-5,
            hint="square the difference, sum over C, H, W for each sample, halve, then average over the batch")


# %% [markdown]
# **Exercise 2 — size a regressor.** The paper's regressor is a valid convolution. Write `my_regressor_shape(cs, hs,
# ct, ht)` returning the weight shape `(C_out, C_in, k, k)` of the regressor that maps a student map of `cs`
# channels and size `hs × hs` to a teacher hint of `ct` channels and size `ht × ht`, and compare with the
# package for the student's block 5 (32·7²) and the teacher's block 5 (128·3²).

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_regressor_shape(cs, hs, ct, ht):
    ### BEGIN SOLUTION
    k = hs - ht + 1
    return (ct, cs, k, k)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
reference = tuple(fitnets.Regressor(32, 128, 7, 3).conv.weight.shape)
check.equal(check.runs(my_regressor_shape, 32, 7, 128, 3), reference, what="regressor weight shape",
            hint="a valid conv shrinks the map by k - 1: choose k = hs - ht + 1; outputs = teacher channels")


# %% [markdown]
# **Exercise 3 — the λ schedule of stage 2.** FitNets weight the KD term by λ, decayed linearly from 4 to 1 over
# training. Write `my_lambdas(steps)` returning the list of per-step weights for `steps` optimiser steps (first 4,
# last 1), and compare it with `fitnets.kd_weights`, the schedule `fitnet_two_stage`'s stage-2 loss draws its
# weights from (here for 500 steps).

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_lambdas(steps):
    ### BEGIN SOLUTION
    return [4.0 + (1.0 - 4.0) * i / max(steps - 1, 1) for i in range(steps)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
used = fitnets.kd_weights(500)
check.close(check.runs(my_lambdas, len(used)), used, what="my_lambdas matches the schedule used in training",
            hint="λ_i = 4 + (1 − 4)·i/(steps − 1) for i = 0 … steps − 1")


# %% [markdown]
# **Exercise 4 — what is deployed, what was trained.** The regressor exists only for training: it is dropped
# afterwards. For the middle placement, write `my_counts(student, regressor)` returning the pair
# `(deployed parameters, parameters trained in stage 1)` — stage 1 trains the student's stem and blocks up to the
# guided one, plus the regressor.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_counts(student, regressor):
    ### BEGIN SOLUTION
    stage1 = sum(p.numel() for b in student.blocks[:GUIDED + 1] for p in b.parameters())
    stage1 += sum(p.numel() for p in student.stem.parameters()) + sum(p.numel() for p in regressor.parameters())
    return models.count_params(student), stage1
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
net = new_student(0)
reg = fitnets.Regressor(STUDENT_WIDTHS[GUIDED], teacher.widths[HINT], 7, 7)
lower = torch.nn.ModuleList([net.stem, *net.blocks[:GUIDED + 1], reg])  # what stage 1 hands to the optimiser
check.close(check.runs(my_counts, net, reg), (models.count_params(net), models.count_params(lower)),
            what="deployed and stage-1 parameter counts",
            hint="deployed: every parameter of the student (no regressor); stage 1: blocks 0..GUIDED + regressor")

# %% [markdown]
# ## References
#
# * A. Romero, N. Ballas, S. E. Kahou, A. Chassang, C. Gatta, Y. Bengio. *FitNets: Hints for Thin Deep Nets.*
#   ICLR 2015. [arXiv:1412.6550](https://arxiv.org/abs/1412.6550) — hint training (Eq. 3), the convolutional
#   regressor, stage-2 KD (Eq. 2), Table 1.
# * G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* 2015.
#   [arXiv:1503.02531](https://arxiv.org/abs/1503.02531) — KD (notebook 02).
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR 2020.
#   [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — FitNet as the few-sample baseline, Table 2.
# * H. Bai, J. Wu, I. King, M. Lyu. *Few Shot Network Compression via Cross Distillation.* AAAI 2020.
#   [arXiv:1911.09450](https://arxiv.org/abs/1911.09450) — FitNet at K shots per class, Table 1.
# * Y. Tian, D. Krishnan, P. Isola. *Contrastive Representation Distillation.* ICLR 2020.
#   [arXiv:1910.10699](https://arxiv.org/abs/1910.10699) (code: RepDistiller) — the single-stage `CE + β·MSE`
#   implementation most libraries follow.

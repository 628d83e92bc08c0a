# %% [markdown]
# # 04 · FitNets: hints for thin, deep students
#
# Hinton's knowledge distillation (notebook 02) only tells the student what the teacher *answers*. Romero et al.
# (ICLR 2015) asked whether a student that is **thinner but deeper** than its teacher — fewer channels, more layers,
# far fewer parameters — could also be told *how the teacher thinks on the way*. They report that their deepest
# thin students could not be trained from the labels or by KD alone; FitNets first pull a middle layer of the
# student toward a middle layer of the teacher (the **hint**), through a small **regressor** that bridges their
# different widths, and only then distil the whole student from the teacher's soft outputs.
#
# FitNets is also the baseline that the few-sample methods of notebooks 05–06 (FSKD, cross distillation) measure
# themselves against, so we run it with many labelled images (12,000 at the `standard` scale) and with only 100 or
# 500.
#
# **Learning objectives.** After this notebook you can
# 1. explain what a hint layer, a guided layer and a regressor are, and size a convolutional regressor so that its
#    output matches the hint's channels, spatial size and kind (post-ReLU);
# 2. write FitNets' two losses — the hint loss (Eq. 3) and the KD loss of stage 2 (Eq. 2) — and map them to the
#    package's code;
# 3. tell the paper's **two-stage** method from the single-stage `CE + β·MSE` "library variant" most code bases
#    ship, and compare both with plain KD and with labels alone on a thin-deep student — with many images and with
#    100 / 500, judged by the course's paired rule;
# 4. check where a student's errors lie relative to the teacher's, and reason, from a small sweep, about where to
#    place the hint.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
STUDENT_WIDTHS = [8, 16, 16, 16, 32, 32, 32, 32]  # 8 blocks, at most 32 channels: thin and deep
STUDENT_POOLS = [0, 3, 6]  # the blocks that halve the map: 28 → 14 → 7 → 3
LR = 0.05  # SGD learning rate of every student
BETA = 100.0  # the library variant's hint weight (RepDistiller / mdistiller default)

# %% [markdown]
# ### Settings: what each scale runs
#
# `quick` is CI's smoke test (its numbers mean nothing), `standard` fits in about ten minutes on a laptop CPU,
# `paper` is for a GPU. A comparison gets a verdict only with at least `protocol.MIN_DRAWS` = 5 paired draws.

# %%
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)  # "quick", "standard" or "paper"; anything else is refused here
EVAL_SIZE = {"quick": 1_000, "standard": 5_000, "paper": 10_000}[SCALE]  # test images per evaluation
LARGE_N = {"quick": 1_000, "standard": 12_000, "paper": 50_000}[SCALE]  # the "many images" setting
LARGE_EPOCHS = {"quick": 1, "standard": 4, "paper": 200}[SCALE]
LARGE_SEEDS = {"quick": [0], "standard": [0], "paper": [0, 1, 2, 3, 4]}[SCALE]  # [0]: one run per method
SMALL_NS = {"quick": [100], "standard": [100, 500], "paper": [100, 500]}[SCALE]  # the few-sample settings
SMALL_EPOCHS = {"quick": {100: 4}, "standard": {100: 30, 500: 24}, "paper": {100: 200, 500: 100}}[SCALE]
SEEDS = {"quick": [0], "standard": [0, 1, 2, 3, 4], "paper": [0, 1, 2, 3, 4]}[SCALE]  # draws of the N images
SWEEP_N = {"quick": 100, "standard": 500, "paper": 500}[SCALE]  # hint-placement sweep
SWEEP_SEEDS = {"quick": [0], "standard": [0, 1, 2], "paper": [0, 1, 2, 3, 4]}[SCALE]

# %%
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

from fsc_teach import check, data, fitnets, models, plots, protocol, train, zoo

torch.manual_seed(0)
x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
teacher = zoo.load_teacher("vgg_fmnist").eval()
teacher_pred = train.predict(teacher, x_eval).argmax(1)  # once: §5 asks where the students' errors lie
teacher_wrong = teacher_pred != y_eval
teacher_acc = 1.0 - teacher_wrong.float().mean().item()
print(f"course teacher: test accuracy {100 * teacher_acc:.2f} % on {EVAL_SIZE:,} test images "
      f"({int(teacher_wrong.sum())} wrong)")


def new_student(seed: int) -> models.VGG:
    """The thin-deep student, randomly initialised by ``seed``."""
    torch.manual_seed(seed)
    return models.VGG(STUDENT_WIDTHS, pools=STUDENT_POOLS)


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' * (n != 1)}"


def accuracy(pred: torch.Tensor) -> float:
    return (pred == y_eval).float().mean().item()


def judged(a, b, names) -> protocol.Comparison:
    """The course's paired comparison of two methods' accuracies in [0, 1] over the same draws, in points."""
    return protocol.compare([100 * v for v in a], [100 * v for v in b], names=names)


def say(c: protocol.Comparison) -> str:
    """The verdict, or — under ``protocol.MIN_DRAWS`` draws — the mean difference and no verdict."""
    if c.n < protocol.MIN_DRAWS:
        return f"{c.a} − {c.b} = {c.mean:+.2f} points ({c.n} draw{'s' * (c.n > 1)}: too few for a verdict)"
    return c.verdict


def wins(c: protocol.Comparison) -> int:
    """+1 / −1 when the paired rule says A / B is better, 0 when it cannot tell (or has too few draws)."""
    return c.sign if c.n >= protocol.MIN_DRAWS else 0


# %% [markdown]
# ## 1. A thin, deep student
#
# The course teacher has 6 conv blocks of 32–128 channels. Our FitNet-style student has **8** blocks of only 8–32
# channels: deeper, about 7× fewer parameters and 12× fewer multiply-accumulates (the table counts
# multiply-accumulates as "FLOPs", as the papers do). Romero et al.'s CIFAR-10 FitNets had 11–19 layers against a
# 5-layer maxout teacher, with up to 36× fewer parameters.

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
# (post-ReLU here), or the MSE compares two different quantities. The figure shows the placement used below:
# teacher block 3 (64 channels, 7×7) guides student block 3 (16 channels, 7×7).

# %%
GUIDED, HINT = 3, 3  # the middle placement (teacher block 3 of 0..5, student block 3 of 0..7)


def draw_fitnet(teacher_widths, student_widths, hint, guided, regressor_label):
    """Teacher (top) and student (bottom) blocks, box height ∝ channels; the hint loss links them."""
    fig, ax = plt.subplots(figsize=(11, 4.0))
    centre = {}
    for row, widths, y0, name, mark in ((0, teacher_widths, 2.7, "teacher", hint),
                                        (1, student_widths, 0.0, "student", guided)):
        span = 10.0 / len(widths)
        for i, w in enumerate(widths):
            h = 0.25 + 1.2 * w / max(teacher_widths)
            face = ("tab:orange" if row == 0 else "tab:green") if i == mark else ("0.8" if i <= mark else "0.95")
            ax.add_patch(Rectangle((i * span + 0.1, y0), span * 0.7, h, facecolor=face, edgecolor="k"))
            ax.text(i * span + 0.1 + span * 0.35, y0 + h + 0.08, f"{w} ch", ha="center", fontsize=8)
            centre[name] = (i * span + 0.1 + span * 0.35, y0, y0 + h) if i == mark else centre.get(name)
        ax.text(-0.3, y0 + 0.3, name, ha="right", va="center", fontsize=11)
        ax.text(len(widths) * span + 0.1, y0 + 0.3, "→ head", va="center", fontsize=9)
    (t_x, t_bottom, _), (s_x, _, s_top) = centre["teacher"], centre["student"]
    box_x, box_y, box_w, box_h = t_x + 0.6, 1.25, 2.6, 0.6  # right of the hint block: the arrows do not cross it
    ax.add_patch(Rectangle((box_x, box_y), box_w, box_h, facecolor="tab:red", alpha=0.25, edgecolor="tab:red"))
    ax.text(box_x + box_w / 2, box_y + box_h / 2, regressor_label, ha="center", va="center", fontsize=8)
    ax.add_patch(FancyArrowPatch((s_x, s_top + 0.3), (box_x, box_y + box_h / 2), arrowstyle="->", mutation_scale=12))
    ax.add_patch(FancyArrowPatch((box_x + 0.5, box_y + box_h), (t_x + 0.2, t_bottom - 0.05), arrowstyle="<->",
                                 mutation_scale=12, color="tab:red"))
    ax.text(box_x + 1.0, (box_y + box_h + t_bottom) / 2, r"$\mathcal{L}_{HT}$ (Eq. 3): MSE to the hint",
            color="tab:red", fontsize=10, va="center")
    ax.text(5, -0.45, "stage 1 trains the shaded student blocks (up to the green guided block) + the regressor on "
            "the hint; stage 2 trains the whole student with KD (Eq. 2)", ha="center", fontsize=9)
    ax.set(xlim=(-1.6, 11.2), ylim=(-0.7, 4.5), title="FitNets: the teacher's hint block guides the student's "
           "middle block through a regressor (box height ∝ channels)")
    ax.axis("off")
    return fig


reg_mid = fitnets.Regressor(STUDENT_WIDTHS[GUIDED], teacher.widths[HINT], 7, 7)
k_mid = "×".join(map(str, reg_mid.conv.kernel_size))
draw_fitnet(teacher.widths, STUDENT_WIDTHS, HINT, GUIDED,
            f"regressor r: {k_mid} conv\n{STUDENT_WIDTHS[GUIDED]} → {teacher.widths[HINT]} channels, + ReLU")
plt.tight_layout()
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
# Stage 1 runs half as many epochs as stage 2, on the student's lower part only. Every run returns the student's
# predicted class for each test image, so that §5 can ask *which* images each student gets wrong.

# %%
def train_student(method: str, idx: torch.Tensor, seed: int, epochs: int, placement: str = "middle"):
    """Train a fresh student with ``method`` on ``x_train[idx]``; returns (test predictions, seconds, history)."""
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
    return train.predict(student, x_eval).argmax(1), seconds, hist


METHODS = ["CE only", "KD", "FitNet single-stage", "FitNet two-stage"]

# %% [markdown]
# ## 4. With many images
#
# First the setting FitNets was designed for: many labelled images (here a random subset of the training set that
# fits the time budget; the `paper` scale uses nearly all of it for hundreds of epochs). At the `standard` scale
# each method is trained **once** (seed 0, `LARGE_SEEDS`): these are single runs, described below but given no
# verdict.

# %%
large = {m: [] for m in METHODS}  # test predictions, one per seed
large_time, large_hist = {m: [] for m in METHODS}, {}
for seed in LARGE_SEEDS:
    idx = data.sample_indices(len(y_train), LARGE_N, seed=seed)
    for method in METHODS:
        pred, sec, hist = train_student(method, idx, seed=seed, epochs=LARGE_EPOCHS)
        large[method].append(pred)
        large_time[method].append(sec)
        large_hist.setdefault(method, hist)
large_acc = {m: [accuracy(p) for p in preds] for m, preds in large.items()}
runs = plural(len(LARGE_SEEDS), "run")
plots.show_table([{"method": m, f"test acc. % ({LARGE_N:,} images, {plural(LARGE_EPOCHS, 'epoch')}, {runs})":
                   plots.mean_std(large_acc[m]), "wall time (s)": f"{np.mean(large_time[m]):.1f}"} for m in METHODS])
print(f"teacher: {100 * teacher_acc:.2f} %")

# %% [markdown]
# ## 5. With 100 and 500 images
#
# Now the few-sample regime of notebooks 05–06: N images drawn at random (the same indices for every method,
# `data.sample_indices`), with labels, several draws. Each cell is the mean ± std over the draws; the last column
# repeats §4's single runs.

# %%
small = {m: {n: [] for n in SMALL_NS} for m in METHODS}  # accuracies, one per draw
small_pred = {m: {n: [] for n in SMALL_NS} for m in METHODS}
small_time = {m: {n: [] for n in SMALL_NS} for m in METHODS}
stage1_curves = {f"N = {LARGE_N:,} (seed {LARGE_SEEDS[0]})": large_hist["FitNet two-stage"]["stage1"]["train_loss"]}
for n in SMALL_NS:
    for seed in SEEDS:
        idx = data.sample_indices(len(y_train), n, seed=seed)
        for method in METHODS:
            pred, sec, hist = train_student(method, idx, seed=seed, epochs=SMALL_EPOCHS[n])
            small[method][n].append(accuracy(pred))
            small_pred[method][n].append(pred)
            small_time[method][n].append(sec)
            if method == "FitNet two-stage" and seed == SEEDS[0]:
                stage1_curves[f"N = {n} (seed {seed})"] = hist["stage1"]["train_loss"]
table = []
for method in METHODS:
    row = {"method": method}
    for n in SMALL_NS:
        row[f"N = {n} ({plural(SMALL_EPOCHS[n], 'epoch')})"] = plots.mean_std(small[method][n])
        row[f"time, N = {n} (s)"] = f"{np.mean(small_time[method][n]):.1f}"
    row[f"N = {LARGE_N:,} ({runs})"] = plots.mean_std(large_acc[method])
    table.append(row)
plots.show_table(table)
print(f"{plural(len(SEEDS), 'draw')} of the N images (seeds {SEEDS}); teacher {100 * teacher_acc:.2f} %")

# %% [markdown]
# The course's rule decides each comparison: paired over the same draws, 95 % interval of the difference
# (`protocol.compare`), and no verdict with fewer than 5 draws.

# %%
PAIRS = [("FitNet two-stage", "KD"), ("FitNet two-stage", "FitNet single-stage"), ("KD", "CE only"),
         ("FitNet single-stage", "CE only"), ("FitNet two-stage", "CE only")]
verdicts = {(a, b, n): judged(small[a][n], small[b][n], (a, b)) for a, b in PAIRS for n in SMALL_NS}
plots.show_table([{"comparison": f"{a} vs {b}", **{f"N = {n}": say(verdicts[a, b, n]) for n in SMALL_NS}}
                  for a, b in PAIRS])

# %% [markdown]
# The figure draws the means over draws as lines with ± one standard deviation; the runs with many images are
# single runs and stand apart as hollow diamonds, joined to nothing (spread sideways a little so that all four
# can be seen).

# %%
fig, ax = plt.subplots(figsize=(9, 4.2))
for i, method in enumerate(METHODS):
    c = plots.color(method)
    means = [100 * np.mean(small[method][n]) for n in SMALL_NS]
    stds = [100 * np.std(small[method][n], ddof=1) if len(SEEDS) > 1 else 0.0 for n in SMALL_NS]
    ax.errorbar(SMALL_NS, means, yerr=stds, marker="o", capsize=3, color=c, label=method)
    ax.plot([LARGE_N * 1.06 ** (i - 1.5)] * len(LARGE_SEEDS), [100 * a for a in large_acc[method]], marker="D",
            mfc="none", ms=7, ls="none", color=c)
ax.axhline(100 * teacher_acc, color=plots.color("teacher"), ls=":")
handles, labels = ax.get_legend_handles_labels()
handles += [Line2D([], [], color="0.3", marker="o", label=f"mean ± std, {plural(len(SEEDS), 'draw')}"),
            Line2D([], [], color="0.3", marker="D", mfc="none", ls="none",
                   label=(f"single run at N = {LARGE_N:,} (seed {LARGE_SEEDS[0]})" if len(LARGE_SEEDS) == 1
                          else f"{runs} at N = {LARGE_N:,}, one per seed")),
            Line2D([], [], color=plots.color("teacher"), ls=":", label=f"teacher ({100 * teacher_acc:.2f} %)")]
ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
ax.set(xscale="log", xlabel="training images N (log scale)", ylabel="test accuracy (%)",
       title="Thin-deep student: test accuracy vs number of training images")
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Where do the students' errors lie?
#
# A distilled student is pulled toward the teacher's answers — including its wrong ones. Is that where KD's
# students lose or gain accuracy against the labels-alone student (CE only)? The test
# images split into those the teacher classifies correctly and those it gets wrong; on each part we measure each
# student's accuracy, and on the second how often the student gives **the teacher's wrong class**. The accuracy
# gap between two students is exactly the sum of the two parts' gaps, each weighted by the part's share of the
# test images — so this tells how much of the gap lies where the teacher errs.

# %%
def error_split(pred: torch.Tensor) -> dict[str, float]:
    """Accuracy on the test images the teacher gets right / wrong, and how often ``pred`` repeats its mistake."""
    w = teacher_wrong
    return {"accuracy": accuracy(pred), "teacher right": (pred[~w] == y_eval[~w]).float().mean().item(),
            "teacher wrong": (pred[w] == y_eval[w]).float().mean().item(),
            "copies the teacher's wrong class": (pred[w] == teacher_pred[w]).float().mean().item()}


def gap_parts(preds_a, preds_b) -> tuple[list[float], list[float]]:
    """Per draw, A − B on the teacher-right and teacher-wrong images, each weighted by its share (they sum to
    A − B overall)."""
    share = teacher_wrong.float().mean().item()
    sa, sb = [error_split(p) for p in preds_a], [error_split(p) for p in preds_b]
    return ([(1 - share) * (a["teacher right"] - b["teacher right"]) for a, b in zip(sa, sb)],
            [share * (a["teacher wrong"] - b["teacher wrong"]) for a, b in zip(sa, sb)])


split_rows = []
for n, preds, draws in [(LARGE_N, large, runs)] + [(n, {m: small_pred[m][n] for m in METHODS},
                                                   plural(len(SEEDS), "draw")) for n in SMALL_NS]:
    for method in METHODS:
        stats = [error_split(p) for p in preds[method]]
        split_rows.append({"N": f"{n:,} ({draws})", "method": method,
                           **{k: plots.mean_std([s[k] for s in stats]) for k in stats[0]}})
plots.show_table(split_rows)
print(f"the teacher is wrong on {int(teacher_wrong.sum())} of the {EVAL_SIZE:,} test images "
      f"({100 * teacher_wrong.float().mean():.2f} %); columns 'teacher right/wrong': accuracy (%) on those images")

# %%
n_hi = SMALL_NS[-1]
copy_of = lambda m, n: [error_split(p)["copies the teacher's wrong class"] for p in small_pred[m][n]]
right_part, wrong_part = gap_parts(large["KD"], large["CE only"])
gap_large = [a - b for a, b in zip(large_acc["KD"], large_acc["CE only"])]
one_run = len(LARGE_SEEDS) < protocol.MIN_DRAWS
copy_kd, copy_ce = (100 * np.mean([error_split(p)["copies the teacher's wrong class"] for p in large[m]])
                    for m in ("KD", "CE only"))
larger = "right" if abs(np.mean(right_part)) > abs(np.mean(wrong_part)) else "wrong"
where = f"the larger part on the images the teacher gets **{larger}**"
if np.mean(gap_large) < 0 and larger == "right":
    where += (". Copying the teacher's mistakes cannot explain that part: there the teacher's answer is the right "
              "one, and the KD student still gives it less often than the labels-only student")
paired_large = ("" if one_run else
                "Paired over the draws: " + say(judged(large_acc["KD"], large_acc["CE only"], ("KD", "CE only")))
                + "; on the images the teacher gets right: "
                + say(judged(right_part, [0.0] * len(right_part), ("KD", "CE only"))) + ".")
copies_kd = judged(copy_of("KD", n_hi), copy_of("CE only", n_hi), ("KD", "CE only"))
copies_two = judged(copy_of("FitNet two-stage", n_hi), copy_of("CE only", n_hi), ("FitNet two-stage", "CE only"))
display(Markdown(f"""
**At N = {LARGE_N:,}** ({runs}{' — a description, not a verdict' if one_run else ''}): KD − CE only =
{100 * np.mean(gap_large):+.2f} points = {100 * np.mean(right_part):+.2f} on the
{EVAL_SIZE - int(teacher_wrong.sum()):,} images the teacher gets right and {100 * np.mean(wrong_part):+.2f} on the
{int(teacher_wrong.sum())} it gets wrong (each part weighted by its share of the test images) — {where}. On the
teacher's errors the KD student gives the teacher's wrong class {copy_kd:.1f} % of the time, the labels-only student
{copy_ce:.1f} %.
{paired_large}

**At N = {n_hi}** ({plural(len(SEEDS), 'draw')}), how often the student repeats the teacher's mistake (in
percentage points of the teacher's wrong images), paired over the draws:
{say(copies_kd)}; {say(copies_two)}.

What this does **not** measure: why the KD student's accuracy differs from the labels-only student's where it
does. Candidates — the weight λ of the soft term, the temperature τ, the short {LARGE_EPOCHS}-epoch schedule —
each need their own runs (see Try next).
"""))

# %% [markdown]
# Stage 1 is label-free regression onto the hint (Eq. 3). Its loss per epoch (first draw) shows how closely the
# student's lower part, through the regressor, imitates the teacher's middle layer **on the training images**;
# whether that imitation carries over to unseen images is not measured here.

# %%
fig, ax = plt.subplots(figsize=(8, 3.4))
for label, curve in stage1_curves.items():
    ax.plot(range(1, len(curve) + 1), curve, marker="o", color=plots.color(label), label=label)
ax.xaxis.get_major_locator().set_params(integer=True)
ax.set(xlabel="stage-1 epoch", ylabel="hint loss (MSE of post-ReLU\nfeatures, training images)",
       title="FitNet stage 1: hint loss on the training images")
ax.grid(alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. Where to put the hint?
#
# Romero et al. choose the *middle* of both networks and warn that hints regularise: the deeper the guided layer,
# the less freedom the student keeps and the more likely it is over-regularised. We repeat the two-stage method
# with the three placements of section 2, at N = `SWEEP_N`, over `SWEEP_SEEDS` draws (the middle placement reuses
# section 5's runs on the same draws; KD, which has no hint, is the reference).

# %%
sweep = {}
for name in PLACEMENTS:
    accs = []
    for seed in SWEEP_SEEDS:
        if name == "middle" and SWEEP_N in SMALL_NS and seed in SEEDS:
            accs.append(small["FitNet two-stage"][SWEEP_N][SEEDS.index(seed)])
            continue
        idx = data.sample_indices(len(y_train), SWEEP_N, seed=seed)
        accs.append(accuracy(train_student("FitNet two-stage", idx, seed, SMALL_EPOCHS[SWEEP_N], placement=name)[0]))
    sweep[name] = accs
kd_ref = ([small["KD"][SWEEP_N][SEEDS.index(s)] for s in SWEEP_SEEDS]
          if SWEEP_N in SMALL_NS and all(s in SEEDS for s in SWEEP_SEEDS) else [])
col = f"test acc. % (N = {SWEEP_N}, {plural(len(SWEEP_SEEDS), 'draw')})"
plots.show_table([{"method": "FitNet two-stage", "hint placement": name,
                   "guided → hint": f"student {PLACEMENTS[name][0]} → teacher {PLACEMENTS[name][1]}",
                   col: plots.mean_std(accs),
                   "vs KD, paired": say(judged(accs, kd_ref, ("FitNet", "KD"))) if kd_ref else "—"}
                  for name, accs in sweep.items()]
                 + ([{"method": "KD", "hint placement": "none", "guided → hint": "—", col: plots.mean_std(kd_ref),
                      "vs KD, paired": "—"}] if kd_ref else []))

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
names = list(sweep)
ax.errorbar(range(len(names)), [100 * np.mean(sweep[k]) for k in names],
            yerr=[100 * np.std(sweep[k], ddof=1) if len(sweep[k]) > 1 else 0.0 for k in names],
            marker="o", capsize=3, color=plots.color("FitNet two-stage"),
            label=f"FitNet two-stage\n(mean ± std, {plural(len(SWEEP_SEEDS), 'draw')})")
if kd_ref:
    ax.axhline(100 * np.mean(kd_ref), color=plots.color("KD"), ls="--", label="KD, no hint\n(mean, same draws)")
ax.set_xticks(range(len(names)), [f"{k}\n(student {PLACEMENTS[k][0]} → teacher {PLACEMENTS[k][1]})" for k in names])
ax.set(xlabel="hint placement", ylabel="test accuracy (%)", title=f"Hint placement, N = {SWEEP_N} images")
ax.grid(alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 7. What the paper reports vs what we measured

# %%
best_large = max(METHODS, key=lambda m: np.mean(large_acc[m]))
beats = np.mean(large_acc[best_large]) > teacher_acc
large_line = ", ".join(f"{m} {plots.mean_std(large_acc[m])} %" for m in METHODS)
teacher_phrase = ("as in the paper, the best student beats the teacher" if beats else
                  f"unlike the paper, no student reaches the teacher (ours train for {LARGE_EPOCHS} epochs on "
                  f"{LARGE_N:,} images, theirs for hundreds on all of CIFAR-10 with augmentation; which difference "
                  "matters is not measured)")
no_verdict = ", no verdicts" if one_run else ""
few_gap = 100 * teacher_acc - 100 * max(np.mean(small[m][n_hi]) for m in METHODS)
display(Markdown(f"""
**Paper.** Romero et al. (2015, Table 1) train on all of CIFAR-10 (with augmentation, hundreds of epochs) a
19-layer FitNet with 2.5 M parameters that reaches **91.61 %**, *above* its 9 M-parameter maxout teacher
(**90.18 %**); they also report that their deepest thin students could not be trained from the labels or by KD
alone, but could with a hint. In the few-sample setting, FSKD's authors (Li et al., CVPR 2020, Table 2) ran FitNet on
filter-pruned VGG-16 students: 91.23 ± 0.41 % with 100 images and 92.13 ± 0.35 % with 500 (Prune-A; teacher
92.66 %), 88.76 ± 0.51 % with 100 (Prune-B), taking 48.5 s (Prune-A) and 60.1 s (Prune-B) with 100 images; cross
distillation (Bai et al., AAAI 2020, Table 1) reports 48.51 % for FitNet at one image per class on a harder VGG-16
student.

**Measured** (scale `{SCALE}`; at `quick` the numbers are not meaningful). Our thin-deep student has
{models.count_params(teacher) / models.count_params(student):.1f}× fewer parameters than the teacher
({100 * teacher_acc:.2f} %). With {LARGE_N:,} labelled images and {plural(LARGE_EPOCHS, 'epoch')}
({runs} per method{no_verdict}):
{large_line}. The highest is **{best_large}**; {teacher_phrase}.
CE only reaches {plots.mean_std(large_acc['CE only'])} %: unlike the paper's deepest students, our student can be
trained from its labels alone, so this setting does not test the paper's claim about students that cannot.

With N = {n_hi} images ({plural(len(SEEDS), 'draw')}, paired): {say(verdicts['FitNet two-stage', 'KD', n_hi])};
{say(verdicts['FitNet two-stage', 'FitNet single-stage', n_hi])}; {say(verdicts['KD', 'CE only', n_hi])}. With N =
{SMALL_NS[0]}: {say(verdicts['FitNet two-stage', 'KD', SMALL_NS[0]])}; {say(verdicts['KD', 'CE only', SMALL_NS[0]])}.
With {n_hi} images the most accurate method stays {few_gap:.1f} points below the teacher. FSKD (notebook 05)
takes another route: it starts from a *pruned teacher* and keeps its weights instead of training a new student.
"""))

# %% [markdown]
# ## Takeaways

# %%
two_vs_kd = {n: verdicts["FitNet two-stage", "KD", n] for n in SMALL_NS}
hint_won = [n for n, c in two_vs_kd.items() if wins(c) > 0]
hint_lost = [n for n, c in two_vs_kd.items() if wins(c) < 0]
hint_phrase = ("; ".join(p for p in (f"the hint stage beat KD alone at N = {hint_won}" if hint_won else "",
                                     f"KD alone beat the hint stage at N = {hint_lost}" if hint_lost else "") if p)
               or "no difference the paired rule can see")
two_vs_kd_ci = "; ".join(f"N = {n}: {c.mean:+.2f} [{c.low:+.2f}, {c.high:+.2f}] points" for n, c in two_vs_kd.items())
decided = [f"{say(c)} (N = {n})" for (a, b, n), c in verdicts.items() if wins(c)]
copy_phrase = (", so most of KD's deficit lies where copying the teacher cannot hurt"
               if np.mean(gap_large) < 0 and larger == "right" else "")
place_means = {k: 100 * np.mean(v) for k, v in sweep.items()}
low, high = min(place_means, key=place_means.get), max(place_means, key=place_means.get)
place_verdict = ("too few draws for a verdict" if len(SWEEP_SEEDS) < protocol.MIN_DRAWS else
                 "§6's table gives each placement's paired verdict against KD")
display(Markdown(f"""
1. A FitNet hint needs a regressor that matches the hint's channels, spatial size and kind (post-ReLU): a 1×1
   conv when the maps agree, a valid conv with kernel $H_s - H_t + 1$ when they do not (§2). It is dropped after
   training.
2. With {' and '.join(map(str, SMALL_NS))} images the paired rule decides {len(decided)} of the {len(verdicts)}
   comparisons of §5{': ' + '; '.join(decided) if decided else ''}. The paper's two-stage FitNet against KD alone:
   {hint_phrase} ({two_vs_kd_ci}).
   The single-stage "FitNet" of most libraries is a different method from the paper's; compare them, not their names.
3. With {LARGE_N:,} images ({runs}{', no verdict' if one_run else ''}): KD − CE only = {100 * np.mean(gap_large):+.2f}
   points, {100 * np.mean(right_part):+.2f} of them on images the teacher gets right and
   {100 * np.mean(wrong_part):+.2f} on the ones it gets wrong{copy_phrase}. Where a student errs relative to the
   teacher is a cheap, exact check to run before blaming the teacher's mistakes.
4. Hint placement at N = {SWEEP_N} ({plural(len(SWEEP_SEEDS), 'draw')}): means from {place_means[low]:.2f} % ({low})
   to {place_means[high]:.2f} % ({high}) — {place_verdict}.
5. From {n_hi} images the most accurate randomly initialised student stays {few_gap:.1f} points below the
   teacher; the few-sample methods of notebooks 05–06 start from the teacher's own weights instead.
"""))

# %% [markdown]
# **Try next.**
# * Give §4 five seeds (`LARGE_SEEDS = [0, 1, 2, 3, 4]` in the Settings cell: five runs per method instead of
#   one): does the KD − CE gap with many images survive the paired rule, and does its split between the
#   teacher's right and wrong images hold?
# * Test one candidate cause of that gap at a time: KD with $\lambda$ fixed at 1 (`lambda_start=1.0` in
#   `fitnets.fitnet_two_stage`), or with $\tau = 1$ (`T=1.0`), against CE only on the same seeds.
# * Does stage 1 generalise? Build a `fitnets.Regressor`, pass it as `regressor=` to `fitnet_two_stage` with
#   `stage2_epochs=0`, and compare `fitnets.hint_loss` on the training images with that on `x_eval`.
# * Move the guided block deeper than the hint (student 6 → teacher 3, a 7×7 hint regressed from a 3×3 map): what
#   does `fitnets.Regressor` say, and why?

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
# **Exercise 5 — predict, then check: what does stage 1 touch?** Without running anything, predict for the middle
# placement (guided block 3 of the student, hint block 3 of the teacher):
#
# * `my_changed`: the set of student parts whose weights or BatchNorm statistics **change** during stage 1 —
#   block indices 0–7, plus the string `"head"` if you think the classifier head changes (e.g. `{0, 5, "head"}`);
# * `my_uses_labels`: `True` if stage 1's result would change were the training labels shuffled, else `False`.
#
# The check then runs one epoch of stage 1 on 64 training images — twice, with the true and with shuffled labels —
# and compares every tensor of the student before and after.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_changed = ...  # your prediction: a set such as {0, 5, "head"}
my_uses_labels = ...  # your prediction: True or False
### BEGIN SOLUTION
my_changed = set(range(GUIDED + 1))  # stem → guided block; blocks after it and the head are not even run
my_uses_labels = False  # Eq. 3 compares features with features: the labels never enter it
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
def stage1_only(labels: torch.Tensor) -> dict[str, torch.Tensor]:
    net = new_student(0)
    fitnets.fitnet_two_stage(net, teacher, x_train[:64], labels, guided_block=GUIDED, hint_block=HINT,
                             stage1_epochs=1, stage2_epochs=0, batch_size=16, lr=LR, seed=0, progress=False)
    return net.state_dict()


before = new_student(0).state_dict()
after = stage1_only(y_train[:64])
shuffled = stage1_only(y_train[:64][torch.randperm(64, generator=torch.Generator().manual_seed(0))])
parts = {**{i: f"blocks.{i}." for i in range(len(STUDENT_WIDTHS))}, "head": "head."}
changed = {part for part, prefix in parts.items()
           if any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix))}
labels_matter = any(not torch.equal(after[k], shuffled[k]) for k in after)
answer = set(my_changed) if isinstance(my_changed, (list, tuple, set)) else my_changed
check.equal(answer, changed, what="your prediction of the parts stage 1 changes",
            hint="stage 1 runs the student only up to the guided block and optimises only that part + the regressor")
check.equal(my_uses_labels, labels_matter, what="your prediction of whether stage 1 uses the labels",
            hint="look at Eq. 3: which tensors does the hint loss compare?")
print(f"measured: stage 1 changed the parts {sorted(changed, key=str)}; shuffling the labels "
      f"{'changed' if labels_matter else 'did not change'} a single weight")

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

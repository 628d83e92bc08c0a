# %% [markdown]
# # 02 · Knowledge distillation: temperature, soft targets and function matching
#
# Notebook 01 ended with a damaged network fine-tuned on 100 labelled images: it recovers much of its accuracy,
# but not all of it, and every bit of the repair comes from those few labels. Knowledge distillation (KD; Hinton, Vinyals & Dean 2015) changes *what* the small network learns from:
# instead of one-hot labels it imitates the full output distribution of a large **teacher**. Those soft targets
# say far more per image than a label does — "this sandal looks a bit like a sneaker and nothing like a coat".
# Rishikesh et al. (*Compressing Neural Nets*, IIIT Dharwad report) reproduce the classic experiment: a wide
# two-conv CNN teacher (256, 512) distilled into a tiny (16, 32) student. This notebook repeats it on Fashion-MNIST with error bars, then pulls
# the method apart: the temperature, the weight α, the choice of loss, and what happens with only 100 images.
#
# **Learning objectives.** After this notebook you can
# 1. explain what the temperature $T$ does to $\mathrm{softmax}(z/T)$ and read the "dark knowledge" in a
#    teacher's non-argmax probabilities;
# 2. write Hinton's loss correctly — KL summed over classes and averaged over the batch, the $T^2$ factor, a frozen
#    teacher — and recognise the three bugs that popular code has shipped;
# 3. measure KD against training from scratch, paired over seeds (the course's one rule, `fsc_teach.protocol`),
#    and read a $T \times \alpha$ sweep for what it can and cannot tell;
# 4. describe *function matching* (Beyer et al. 2022): no labels, the same augmented (and mixed) view for teacher
#    and student, patient schedules — and compare it with standard KD at equal compute.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
T_MAIN, ALPHA_MAIN = 4.0, 0.9  # Table I's KD setting
STUDENT_WIDTHS = (16, 32)  # the student's two conv layers
FEW_K = 10  # labelled images per class in the few-data experiment (100 in all)

# %% [markdown]
# ### Settings: what each scale runs
#
# `quick` is CI's smoke test (its numbers mean nothing), `standard` fits in about ten minutes on a laptop CPU,
# `paper` follows Rishikesh et al.'s budget (all 60,000 images, 25 epochs).

# %%
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)  # "quick", "standard" or "paper"; anything else is refused here
TRAIN_SIZE = {"quick": 3_000, "standard": 20_000, "paper": 60_000}[SCALE]  # Table I training images (Rishikesh et al.: all)
EPOCHS = {"quick": 1, "standard": 5, "paper": 25}[SCALE]  # Table I epochs (Rishikesh et al.: 25 on MNIST, 10 on CIFAR-10)
EVAL_SIZE = {"quick": 1_000, "standard": 10_000, "paper": 10_000}[SCALE]  # test images per evaluation
SEEDS = {"quick": [0, 1], "standard": [0, 1, 2, 3, 4], "paper": [0, 1, 2, 3, 4]}[SCALE]  # paired draws
SWEEP_T = {"quick": [1.0, 4.0], "standard": [1.0, 2.0, 4.0, 8.0], "paper": [1.0, 2.0, 4.0, 8.0, 16.0]}[SCALE]
SWEEP_ALPHA = {"quick": [0.5, 1.0], "standard": [0.5, 0.9, 1.0], "paper": [0.1, 0.5, 0.9, 1.0]}[SCALE]
SWEEP_SIZE = {"quick": 1_000, "standard": 10_000, "paper": 60_000}[SCALE]  # the first SWEEP_SIZE of Table I's images
SWEEP_EPOCHS = {"quick": 1, "standard": 4, "paper": 10}[SCALE]
FEW_EPOCHS = {"quick": 10, "standard": 100, "paper": 200}[SCALE]
FM_SIZE = {"quick": 200, "standard": 500, "paper": 10_000}[SCALE]  # images for function matching vs KD
FM_EPOCHS = {"quick": 2, "standard": 20, "paper": 200}[SCALE]
FM_SEEDS = {"quick": [0, 1], "standard": [0, 1, 2, 3, 4], "paper": [0, 1, 2, 3, 4]}[SCALE]
TEACHER = "cnn256_fmnist"
STUDENT_FIT = dict(optimizer="adam", lr=2e-3, weight_decay=0.0, batch_size=128)  # the same for every student

# %%
import inspect
import math
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm
import torch
from IPython.display import Markdown, display
from torch.nn import functional as F

from fsc_teach import check, data, kd, losses, models, plots, protocol, train, zoo

x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
names = data.CLASS_NAMES["fashion_mnist"]

teacher = zoo.load_teacher(TEACHER)
eval_logits = train.predict(teacher, x_eval)  # once; reused below
teacher_acc = (eval_logits.argmax(1) == y_eval).float().mean().item()


def new_student(seed: int) -> models.SmallCNN:
    torch.manual_seed(seed)
    return models.small_cnn(STUDENT_WIDTHS)


for label, net in [("teacher (256, 512)", teacher), ("student (16, 32)", new_student(0))]:
    print(f"{label:<20} {models.count_params(net):>9,} params {models.count_flops(net) / 1e6:>7.2f} M FLOPs")
print(f"teacher test accuracy: {100 * teacher_acc:.2f} % on {EVAL_SIZE:,} test images")
print(f"compression: {models.count_params(teacher) / models.count_params(new_student(0)):.0f}x fewer parameters, "
      f"{models.count_flops(teacher) / models.count_flops(new_student(0)):.0f}x fewer FLOPs")

# %% [markdown]
# The teacher is the CNN of the Keras example that Rishikesh et al. follow (`Conv(256, 3×3, stride 2) → LeakyReLU
# → MaxPool → Conv(512, 3×3, stride 2) → Linear`); the student is the same shape with (16, 32) filters. Both come from `fsc_teach.models`.
# The teacher was trained once by `python -m fsc_teach.zoo train cnn256_fmnist` and is loaded from the committed
# checkpoint (notebook 00 shows how it was made and verified).
#
# ## 1. Temperature and dark knowledge
#
# A classifier's logits $z$ become probabilities through a softmax. Hinton et al. soften it with a temperature:
#
# $$ p_i(T) = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)} .$$
#
# At $T = 1$ a confident teacher puts almost all mass on one class, and the other nine probabilities — which
# encode *how* the teacher sees the image — are tiny. Raising $T$ flattens the distribution and makes those small
# probabilities visible to the student: the "dark knowledge". Move the sliders (in a live notebook) to pick an
# image and a temperature; the figure opens on the first test image that the teacher classifies correctly with
# at least 90 % probability, and the title says what the teacher predicts.

# %%
probe_logits = eval_logits[:200]
probe_p = F.softmax(probe_logits, 1)
confident = int(((probe_p.argmax(1) == y_eval[:200]) & (probe_p.max(1).values >= 0.9)).float().argmax())


def show_temperature(image: int = confident, T: float = 4.0):
    z = probe_logits[image]
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), gridspec_kw={"width_ratios": [1, 4]})
    axes[0].imshow(x_test[image, 0], cmap="gray")
    axes[0].set_title(f"true: {names[y_test[image]]}\nteacher: {names[int(z.argmax())]} "
                      f"({100 * F.softmax(z, 0).max():.0f} %)", fontsize=9)
    axes[0].axis("off")
    width = 0.38
    pos = np.arange(len(names))
    axes[1].bar(pos - width / 2, F.softmax(z, 0).numpy(), width, label="T = 1")
    axes[1].bar(pos + width / 2, F.softmax(z / T, 0).numpy(), width, label=f"T = {T:g}")
    axes[1].set_xticks(pos, names, rotation=30, ha="right")
    axes[1].set_ylabel("probability")
    axes[1].legend()
    plt.tight_layout()
    plt.show()


plots.explore(show_temperature, image=plots.Slider(0, 199, 1, confident), T=plots.Slider(1.0, 20.0, 0.5, 4.0))

# %% [markdown]
# The dark knowledge is not noise: averaged over the test set, the teacher's soft targets form a similarity map
# of the classes. Each row below is the mean $p(T{=}4)$ over test images of one true class; the bright
# off-diagonal cells are the confusions a label can never express (shirt ↔ T-shirt ↔ pullover ↔ coat,
# sandal ↔ sneaker ↔ ankle boot).

# %%
soft = F.softmax(eval_logits / 4.0, dim=1)
class_map = torch.stack([soft[y_eval == c].mean(0) for c in range(10)])
fig, ax = plt.subplots(figsize=(6.5, 5.5))
im = ax.imshow(class_map.numpy(), cmap="viridis", norm=LogNorm(vmin=1e-3, vmax=1))
ax.set_xticks(range(10), names, rotation=45, ha="right")
ax.set_yticks(range(10), names)
ax.set_xlabel("soft-target class")
ax.set_ylabel("true class")
ax.set_title("mean teacher probabilities at T = 4 (log colour scale)")
fig.colorbar(im)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 2. The loss, and three bugs that shipped
#
# Hinton et al.'s objective, in the form Rishikesh et al. write it,
# "α·(loss of soft targets) + (1 − α)·(loss of hard targets)":
#
# $$ \mathcal{L}_{KD} = \alpha\, T^2\, \mathrm{KL}\!\left(p^t(T) \,\Vert\, p^s(T)\right)
#    + (1-\alpha)\, \mathrm{CE}\!\left(y,\, p^s(1)\right), \qquad
#    \mathrm{KL}(p\Vert q) = \sum_i p_i \log\frac{p_i}{q_i}, $$
#
# with the KL summed over the classes and averaged over the batch. Here is the package's implementation:

# %%
print(inspect.getsource(losses.kd_loss))

# %% [markdown]
# **Bug 1 — `reduction="mean"`.** `nn.KLDivLoss()` defaults to averaging over *batch × classes*, which silently
# divides the KD term by the number of classes (recent PyTorch releases warn about it at run time). **Bug 2 — no $T^2$.** The soft targets' gradients scale as
# $1/T^2$ (Hinton et al. §2.1), so without the factor the KD term fades away as $T$ grows. **Bug 3 —
# probabilities into `kl_div`.** It expects log-probabilities. The cell below shows the first two numerically on
# fixed random logits (the output is the same at every scale, and CI checks it).

# %%
# NBVAL_CHECK_OUTPUT
gen = torch.Generator().manual_seed(0)
s_logits = torch.randn(64, 10, generator=gen) * 3
t_logits = torch.randn(64, 10, generator=gen) * 3
ours = losses.kd_loss(s_logits, t_logits, T=4.0)
with warnings.catch_warnings():  # recent PyTorch warns about exactly this pitfall; we show it on purpose
    warnings.simplefilter("ignore", UserWarning)
    buggy = torch.nn.KLDivLoss()(F.log_softmax(s_logits / 4, 1), F.softmax(t_logits / 4, 1)) * 16
print(f"batchmean / mean reduction = {(ours / buggy).item():.4f}  (the number of classes: 10)")


def kd_grad_norm(T: float, t_squared: bool) -> float:
    s = s_logits.clone().requires_grad_(True)
    loss = losses.kd_loss(s, t_logits, T=T) if t_squared else losses.kd_loss(s, t_logits, T=T) / T**2
    loss.backward()
    return s.grad.norm().item()


for T in (1.0, 2.0, 4.0, 8.0, 16.0):
    print(f"T = {T:>4}: gradient norm with T² {kd_grad_norm(T, True):.3f}   without {kd_grad_norm(T, False):.5f}")

# %% [markdown]
# **Where the $T^2$ comes from** (Hinton et al. §2.1). Write $p_i = \mathrm{softmax}(z^s/T)_i$ and
# $q_i = \mathrm{softmax}(z^t/T)_i$ for one image and $C$ classes. The softmax's Jacobian gives
#
# $$ \frac{\partial}{\partial z^s_i}\, \mathrm{KL}(q \Vert p) = \frac{1}{T}\,(p_i - q_i). $$
#
# For large $T$, $e^{z/T} \approx 1 + z/T$, so $p_i \approx \frac{1}{C}\big(1 + \frac{z^s_i - \bar z^s}{T}\big)$ and
# likewise $q_i$; if both networks' logits have zero mean over the classes,
#
# $$ \frac{\partial}{\partial z^s_i}\, \mathrm{KL}(q \Vert p) \approx \frac{1}{C\,T^2}\,(z^s_i - z^t_i). $$
#
# The soft term's gradient therefore shrinks like $1/T^2$; multiplying the loss by $T^2$ undoes exactly that, and
# what remains, $\frac{1}{C}(z^s_i - z^t_i)$, is the gradient of $\frac{1}{2C}\sum_{i=1}^{C}(z^s_i - z^t_i)^2$:
# **at high temperature KD is logit matching** (Caruana's model compression), with $C$ the number of classes
# (here 10). The printout above shows both halves: with $T^2$ the gradient norm settles to a constant as $T$ grows;
# without it the norm falls by about 4× each time $T$ doubles, so at $T = 16$ the soft targets would get a 256×
# smaller voice than intended.
#
# **KL or cross-entropy with soft targets?** $\mathrm{KL}(p^t\Vert p^s) = H(p^t, p^s) - H(p^t)$. The teacher's
# entropy $H(p^t)$ does not depend on the student, so both losses have *identical gradients* and differ by a
# constant — which is why some code uses one and some the other. Numerically:

# %%
# NBVAL_CHECK_OUTPUT
s = s_logits.clone().requires_grad_(True)
kl = losses.kd_loss(s, t_logits, T=4.0)
(g_kl,) = torch.autograd.grad(kl, s)
ce = losses.soft_cross_entropy(s, t_logits, T=4.0)
(g_ce,) = torch.autograd.grad(ce, s)
log_p_t = F.log_softmax(t_logits / 4.0, dim=1)  # never log(softmax): a probability that underflows to 0 gives -inf
teacher_entropy = -(log_p_t.exp() * log_p_t).sum(1).mean() * 16
print(f"max |grad KL - grad CE|       = {(g_kl - g_ce).abs().max().item():.1e}")
print(f"CE - KL                      = {(ce - kl).item():.4f}")
print(f"T² x mean teacher entropy     = {teacher_entropy.item():.4f}")

# %% [markdown]
# The training loop: `kd.distill` runs the (frozen, eval-mode) teacher on exactly the batch the student sees.
# With no augmentation the teacher's logits never change, so `kd.distill_from_logits` computes them **once**
# and hands each batch its rows — here that removes one teacher forward pass per training image per epoch
# (`TRAIN_SIZE` images at this scale), the whole cost of KD on a CPU, and gives the same student (a unit test
# checks this).

# %%
print(inspect.getsource(kd.distill_from_logits))

# %% [markdown]
# ## 3. Table I of Rishikesh et al. on Fashion-MNIST: scratch vs KD
#
# The same (16, 32) student, the same initialisation and data order per seed, trained either on the labels alone
# (cross-entropy, "scratch") or with KD at $T = 4$, $\alpha = 0.9$. Only the loss differs. Rishikesh et al.
# train on all 60,000 MNIST images for 25 epochs; to stay within ten CPU minutes the `standard` scale uses the first
# `TRAIN_SIZE` = 20,000 Fashion-MNIST images and 5 epochs (`paper` scale: all of them, 25 epochs).

# %%
x_tr, y_tr = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]
teacher_logits = train.predict(teacher, x_tr)  # once: no augmentation, so the soft targets never change
results, histories = {"scratch": [], "KD": []}, {}
for seed in SEEDS:
    student = new_student(seed)
    hist = train.fit(student, x_tr, y_tr, epochs=EPOCHS, seed=seed, val=(x_eval, y_eval),
                     desc=f"scratch seed {seed}", **STUDENT_FIT)
    results["scratch"].append(train.evaluate(student, x_eval, y_eval))
    histories.setdefault("scratch", hist)
    student = new_student(seed)
    hist = kd.distill_from_logits(student, x_tr, teacher_logits, y_tr, T=T_MAIN, alpha=ALPHA_MAIN, epochs=EPOCHS,
                                  seed=seed, val=(x_eval, y_eval), desc=f"KD seed {seed}", **STUDENT_FIT)
    results["KD"].append(train.evaluate(student, x_eval, y_eval))
    histories.setdefault("KD", hist)

gain = 100 * (np.mean(results["KD"]) - np.mean(results["scratch"]))
plots.show_table([
    {"model": "teacher CNN (256, 512)", "params": models.count_params(teacher),
     "test accuracy %": f"{100 * teacher_acc:.2f}"},
    {"model": "student CNN (16, 32), scratch", "params": models.count_params(new_student(0)),
     "test accuracy %": plots.mean_std(results["scratch"])},
    {"model": f"student CNN (16, 32), KD (T={T_MAIN:g}, α={ALPHA_MAIN})", "params": models.count_params(new_student(0)),
     "test accuracy %": plots.mean_std(results["KD"])},
])
kd_vs_scratch = protocol.compare([100 * a for a in results["KD"]], [100 * a for a in results["scratch"]],
                                 names=("KD", "scratch"))
print(f"{len(SEEDS)} seeds, {EPOCHS} epochs on {TRAIN_SIZE:,} images, test accuracy on {EVAL_SIZE:,} images")
print("paired over the seeds (same initialisation and data order per seed):", kd_vs_scratch.verdict)

# %%
plots.training_curves({f"{k} (seed {SEEDS[0]})": h for k, h in histories.items()})
plt.show()

# %% [markdown]
# ## 4. Sweeping T and α
#
# Which temperature, and how much weight on the soft targets? One student per cell of the grid (same seed, same
# data, a smaller training set and fewer epochs so the sweep stays quick). $\alpha = 1$ is pure distillation: no
# labels at all. One seed per cell makes this a map to read for its broad shape, not a table of verdicts: §3
# measured how much two runs that differ only in their seed disagree.

# %%
n_sw = min(SWEEP_SIZE, TRAIN_SIZE)
x_sw, y_sw, t_sw = x_tr[:n_sw], y_tr[:n_sw], teacher_logits[:n_sw]  # the same images: reuse their logits
grid = np.zeros((len(SWEEP_ALPHA), len(SWEEP_T)))
for i, alpha in enumerate(SWEEP_ALPHA):
    for j, T in enumerate(SWEEP_T):
        student = new_student(0)
        kd.distill_from_logits(student, x_sw, t_sw, y_sw, T=T, alpha=alpha, epochs=SWEEP_EPOCHS, seed=0,
                               progress=False, **STUDENT_FIT)
        grid[i, j] = train.evaluate(student, x_eval, y_eval)
student = new_student(0)
train.fit(student, x_sw, y_sw, epochs=SWEEP_EPOCHS, seed=0, progress=False, **STUDENT_FIT)
sweep_scratch = train.evaluate(student, x_eval, y_eval)

fig, ax = plt.subplots(figsize=(6, 3.2))
im = ax.imshow(100 * grid, cmap="magma", aspect="auto")
for i in range(len(SWEEP_ALPHA)):
    for j in range(len(SWEEP_T)):
        r, g, b, _ = im.cmap(im.norm(100 * grid[i, j]))  # dark text on light cells, light text on dark ones
        ax.text(j, i, f"{100 * grid[i, j]:.1f}", ha="center", va="center",
                color="k" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "w")
ax.set_xticks(range(len(SWEEP_T)), [f"{t:g}" for t in SWEEP_T])
ax.set_yticks(range(len(SWEEP_ALPHA)), [f"{a:g}" for a in SWEEP_ALPHA])
ax.set_xlabel("temperature T")
ax.set_ylabel("α (weight of the soft targets)")
ax.set_title(f"student test accuracy % (scratch on the same data: {100 * sweep_scratch:.1f})")
fig.colorbar(im)
plt.tight_layout()
plt.show()
best_i, best_j = np.unravel_index(grid.argmax(), grid.shape)
d = np.array([100 * (a - b) for a, b in zip(results["KD"], results["scratch"])])
seed_spread = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
above = 100 * grid - 100 * sweep_scratch
hot = [T for j, T in enumerate(SWEEP_T) if T >= 4]
display(Markdown(
    f"The best cell is T = {SWEEP_T[best_j]:g}, α = {SWEEP_ALPHA[best_i]:g} ({100 * grid.max():.2f} %); "
    f"{int((above > 0).sum())} of {grid.size} cells beat scratch on the same {n_sw:,} images "
    f"({100 * sweep_scratch:.2f} %), by at most {above.max():+.2f} points"
    + (f"; at T ≥ 4 the cells lie between {above[:, [SWEEP_T.index(T) for T in hot]].min():+.2f} and "
       f"{above[:, [SWEEP_T.index(T) for T in hot]].max():+.2f} points from scratch" if hot else "")
    + f". For scale: in §3 the KD − scratch difference varied by {seed_spread:.2f} points (standard deviation) "
    f"from one seed to the next, so cell-to-cell differences of that size here may be the seed, not T or α. "
    f"The sweep's setting ({n_sw:,} images, {SWEEP_EPOCHS} epochs, one seed) is not §3's ({TRAIN_SIZE:,} "
    f"images, {EPOCHS} epochs, {len(SEEDS)} seeds), so its T = {T_MAIN:g}, α = {ALPHA_MAIN} cell need not repeat "
    f"§3's result." + (f" No cell gains more than twice that spread over scratch: with {n_sw:,} labelled images "
                       "this grid shows no (T, α) at which soft targets clearly help — §5 goes where they might: "
                       "very few labels." if above.max() <= 2 * seed_spread else "")))

# %% [markdown]
# ## 5. KD with 100 images
#
# The few-shot theme of the course starts here. The student sees only `FEW_K` = 10 labelled images per class
# (drawn by `data.few_shot_indices`, the same images for both methods), with random shifts and flips. With KD the
# teacher labels every *augmented view* with a full distribution — so `distill` runs it on each batch instead of
# caching.

# %%
few = {"scratch": [], "KD": []}
for seed in SEEDS:
    idx = data.few_shot_indices(y_train, FEW_K, seed=seed)
    x_few, y_few = x_train[idx], y_train[idx]
    student = new_student(seed)
    train.fit(student, x_few, y_few, epochs=FEW_EPOCHS, augment=True, seed=seed, progress=False, **STUDENT_FIT)
    few["scratch"].append(train.evaluate(student, x_eval, y_eval))
    student = new_student(seed)
    kd.distill(student, teacher, x_few, y_few, T=T_MAIN, alpha=ALPHA_MAIN, epochs=FEW_EPOCHS, augment=True,
               seed=seed, progress=False, **STUDENT_FIT)
    few["KD"].append(train.evaluate(student, x_eval, y_eval))
few_gain = 100 * (np.mean(few["KD"]) - np.mean(few["scratch"]))
few_vs = protocol.compare([100 * a for a in few["KD"]], [100 * a for a in few["scratch"]], names=("KD", "scratch"))
plots.show_table([{"student (16, 32) on 100 labelled images": k, "test accuracy %": plots.mean_std(v)}
                  for k, v in few.items()])
print(f"{10 * FEW_K} images, {len(SEEDS)} draws of the images (the same draw for both methods): {few_vs.verdict}")

# %% [markdown]
# ## 6. Function matching: a patient and consistent teacher
#
# Beyer et al. (CVPR 2022) argue that KD is *function matching*: the student should agree
# with the teacher on every input it might see, not only on the training images. Their recipe:
#
# 1. **no labels** — only $\mathrm{KL}(p^t \Vert p^s)$ on the teacher's predictions;
# 2. **consistent views** — teacher and student see the *same* augmented image: the same crop and flip, and the
#    same mixup $\tilde x = \lambda x_i + (1 - \lambda) x_j$, $\lambda \sim \mathrm{Beta}(a, a)$, so the
#    student is taught on points *between* training images;
# 3. **patience** — long schedules (their students train for thousands of epochs).
#
# `kd.function_matching` implements 1–2; below it is compared with standard KD (labels, α = 0.9, crops and flips
# but no mixup; both at $T = 1$, Beyer et al.'s setting) **at equal compute**: the same images, epochs and batch
# size. Neither method is given the labels of more than `FM_SIZE` images. The training curves show standard KD's
# training accuracy but not function matching's: its training inputs are mixtures of two images, which have no
# single correct class.

# %%
print(inspect.getsource(kd.function_matching))

# %%
fm = {"standard KD (labels, crop+flip)": [], "function matching (no labels, crop+flip+mixup)": []}
fm_hist = {}
for seed in FM_SEEDS:
    idx = data.sample_indices(len(x_train), FM_SIZE, seed=100 + seed)
    x_fm, y_fm = x_train[idx], y_train[idx]
    student = new_student(seed)
    h = kd.distill(student, teacher, x_fm, y_fm, T=1.0, alpha=ALPHA_MAIN, epochs=FM_EPOCHS, augment=True, seed=seed,
                   val=(x_eval, y_eval), desc=f"KD seed {seed}", **STUDENT_FIT)
    fm["standard KD (labels, crop+flip)"].append(train.evaluate(student, x_eval, y_eval))
    fm_hist.setdefault("standard KD", h)
    student = new_student(seed)
    h = kd.function_matching(student, teacher, x_fm, epochs=FM_EPOCHS, T=1.0, seed=seed, val=(x_eval, y_eval),
                             desc=f"FM seed {seed}", **STUDENT_FIT)
    fm["function matching (no labels, crop+flip+mixup)"].append(train.evaluate(student, x_eval, y_eval))
    fm_hist.setdefault("function matching", h)
plots.show_table([{"method": k, f"test accuracy % ({FM_EPOCHS} epochs on {FM_SIZE:,} images)": plots.mean_std(v)}
                  for k, v in fm.items()])
fm_hist["function matching"] = {**fm_hist["function matching"],  # its "training accuracy" is on mixed views,
                                 "train_acc": [math.nan] * len(fm_hist["function matching"]["train_acc"])}  # not drawn
plots.training_curves({f"{k} (seed {FM_SEEDS[0]})": h for k, h in fm_hist.items()})
plt.show()
fm_vs = protocol.compare([100 * a for a in fm[list(fm)[1]]], [100 * a for a in fm[list(fm)[0]]],
                         names=("function matching", "standard KD"))
print(f"{len(FM_SEEDS)} draws of the {FM_SIZE:,} images: {fm_vs.verdict}")

# %% [markdown]
# ## 7. What the paper reports vs what we measured

# %%
fm_keys = list(fm)
fm_diff = 100 * (np.mean(fm[fm_keys[1]]) - np.mean(fm[fm_keys[0]]))
display(Markdown(f"""
**Table I of Rishikesh et al.** reports the (256, 512) teacher at 97.78 % and the KD-trained (16, 32) student at
97.50 % on MNIST after 25 epochs, and 69.72 % vs 58.55 % on CIFAR-10 after 10 epochs. It gives **no scratch
baseline**, so it cannot say what KD added. Hinton et al. (§3) report that a distilled MNIST net makes 74 test
errors against 146 from scratch.

**We measured** on Fashion-MNIST ({EPOCHS} epochs, {TRAIN_SIZE:,} images, {len(SEEDS)} seeds, {EVAL_SIZE:,} test
images): teacher {100 * teacher_acc:.2f} %, student from scratch {plots.mean_std(results['scratch'])} %, student
with KD {plots.mean_std(results['KD'])} %. Paired over the seeds: **{kd_vs_scratch.verdict}**. The KD student keeps
{100 * np.mean(results['KD']) / teacher_acc:.1f} % of the teacher's accuracy with
{models.count_params(teacher) / models.count_params(new_student(0)):.0f}× fewer parameters (Rishikesh et al.'s MNIST
student kept {100 * 97.50 / 97.78:.1f} % of theirs).

With **100 labelled images**: {plots.mean_std(few['scratch'])} % from scratch, {plots.mean_std(few['KD'])} % with KD —
**{few_vs.verdict}**. These runs differ from §3 in two ways at once (far fewer labels, and the teacher labels every
augmented view), so they show *that* KD matters more here, not which of the two makes the difference.

**Function matching** vs standard KD at equal compute ({FM_EPOCHS} epochs on {FM_SIZE:,} images): **{fm_vs.verdict}**.
Function matching's loss never sees a label of its {FM_SIZE:,} images — only the teacher's outputs (the teacher
itself was trained with labels, and the test labels only score both students). Beyer et al. find function matching pays off with *long* schedules (their students
train for up to 10,000 epochs); whether ours would catch up with more epochs is not measured here (see Try next).
"""))


# %% [markdown]
# ## Takeaways

# %%
display(Markdown(f"""
1. Soft targets carry the teacher's view of *similar* classes (§1's map); the temperature makes them visible, and
   the $T^2$ factor keeps their gradient the same size at every temperature — at high $T$, KD is logit matching.
2. Write the loss with `batchmean`, log-probabilities and $T^2$: each of the three shipped bugs silently rescales
   or breaks the soft term (§2).
3. With {TRAIN_SIZE:,} labelled images, KD against scratch: {kd_vs_scratch.verdict} — differences of this size
   need paired seeds to be read at all.
4. With 100 labelled images: {few_vs.verdict}. Few labels is where a teacher helps — the starting point of
   notebooks 03–07.
5. Function matching (no labels, consistent mixed views) at {FM_EPOCHS} epochs: {fm_vs.verdict}.
"""))

# %% [markdown]
# **Try next.** Give function matching 5× the epochs (`FM_EPOCHS`) and see whether it catches up with standard KD;
# rerun §4 with three seeds per cell and mark which cells differ from scratch by the paired rule; replace the
# (16, 32) student by (32, 64) and see whether the KD gain grows or shrinks with the student's capacity.

# %% [markdown]
# ## 8. Exercises
#
# **Exercise 1 — write the loss.** Implement Hinton's loss from the equation in §2 using only `torch` and
# `torch.nn.functional` (no `fsc_teach.losses`): `my_kd_loss(student_logits, teacher_logits, T, alpha, targets)`.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_kd_loss(student_logits, teacher_logits, T, alpha, targets):
    ### BEGIN SOLUTION
    log_p_t = F.log_softmax(teacher_logits / T, dim=1)  # not softmax(...).log(): log(0) = -inf
    log_p_s = F.log_softmax(student_logits / T, dim=1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(1).mean()
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student_logits, targets)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
labels = torch.randint(0, 10, (64,), generator=gen)
for T, alpha in [(1.0, 0.5), (4.0, 0.9), (10.0, 1.0)]:
    check.close(check.runs(my_kd_loss, s_logits, t_logits, T, alpha, labels),
                losses.kd_loss(s_logits, t_logits, T=T, alpha=alpha, targets=labels), atol=1e-5,
                what=f"my_kd_loss equals the package's at T={T}, α={alpha}",
                hint="sum the KL over classes, average over the batch, and multiply by T²")

# %% [markdown]
# **Exercise 2 — predict the effect of T.** As $T \to \infty$, what does $\mathrm{softmax}(z/T)$ tend to, and what
# is its entropy (in nats) for 10 classes? Set `my_limit_entropy` to that number, then check it on the
# teacher's output for a test image at $T = 10^4$.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_limit_entropy = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_limit_entropy = float(np.log(10))  # the uniform distribution over 10 classes
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
log_p_hot = F.log_softmax(probe_logits[0] / 1e4, dim=0)
check.close(my_limit_entropy, -(log_p_hot.exp() * log_p_hot).sum().item(), atol=1e-3,
            what="the entropy of softmax(z/T) at very high T", hint="all classes become equally likely")

# %% [markdown]
# **Exercise 3 — KL vs cross-entropy.** Compute `my_gap`: the amount by which the soft-target cross-entropy
# (`losses.soft_cross_entropy`) exceeds the KD loss for `s_logits`, `t_logits` at $T = 2$ — *without* calling
# either loss function. (Hint: it depends only on the teacher.)

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_gap = ...  # your answer: replace the ...
### BEGIN SOLUTION
log_p2 = F.log_softmax(t_logits / 2.0, dim=1)
my_gap = (-(log_p2.exp() * log_p2).sum(1).mean() * 4.0).item()
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(my_gap, (losses.soft_cross_entropy(s_logits, t_logits, T=2.0) - losses.kd_loss(s_logits, t_logits, T=2.0)).item(),
            atol=1e-4, what="CE − KL is T² times the teacher's mean entropy", hint="H(p) = −Σ p log p, times T²")

# %% [markdown]
# **Exercise 4 — the aliasing bug.** A popular library once passed the *same* module as teacher and student.
# What does `kd.distill` do if you try? Make `my_error` the exception class it raises.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_error = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_error = ValueError
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
same = new_student(0)
try:
    kd.distill(same, same, x_eval[:8], y_eval[:8], epochs=1, progress=False)
    raised = None
except Exception as err:  # noqa: BLE001 - we want to see which exception it is
    raised = type(err)
check.equal(my_error, raised, what="distill refuses a teacher that is the student",
            hint="run the call above and read the message")

# %% [markdown]
# **Exercise 5 — predict, then check: the size of the $T^2$.** Before running anything: at $T = 16$, by what factor
# is the gradient of the soft term *without* the $T^2$ factor smaller than with it? Set `my_factor` to your
# prediction (a number), then compare it with §2's printout.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_factor = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_factor = 16.0 ** 2  # the loss is divided by T², so is its gradient: exactly, at any T
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(my_factor, kd_grad_norm(16.0, True) / kd_grad_norm(16.0, False), rtol=1e-4,
            what="with / without T² at T = 16", hint="the loss without the factor is the loss with it divided by T²")

# %% [markdown]
# ## References
#
# - G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* NIPS Deep Learning Workshop,
#   2015. [arXiv:1503.02531](https://arxiv.org/abs/1503.02531) (Eq. for $p_i(T)$, the $T^2$ factor in §2.1, MNIST
#   results in §3.)
# - D. Rishikesh, M. Sravan, S. Ajay Kumar, MSVSS Hanuma. *Compressing Neural Nets.* Student report, IIIT Dharwad
#   (unpublished; no public link) — pruning, quantization, KD with T and α (Table I), function matching.
# - L. Beyer, X. Zhai, A. Royer, L. Markeeva, R. Anil, A. Kolesnikov. *Knowledge distillation: A good teacher is
#   patient and consistent.* CVPR 2022. [arXiv:2106.05237](https://arxiv.org/abs/2106.05237)
# - K. Borup. *Knowledge Distillation.* Keras code example, 2020.
#   [keras.io/examples/vision/knowledge_distillation](https://keras.io/examples/vision/knowledge_distillation/) —
#   the (256, 512) / (16, 32) CNNs that Rishikesh et al. use.
# - H. Xiao, K. Rasul, R. Vollgraf. *Fashion-MNIST.* 2017. [arXiv:1708.07747](https://arxiv.org/abs/1708.07747)

# %% [markdown]
# # 00 · Setup, data and the course's teachers
#
# **Knowledge distillation and few-shot network compression — a course from the papers.**
#
# Every later notebook compresses a *teacher* network into a smaller *student* and measures what is lost and what
# distillation wins back. This notebook sets the stage: it checks your environment, shows the data, loads the
# course's teachers, and introduces the few tools (`fsc_teach`) every other notebook imports.
#
# **Learning objectives.** After this notebook you can
# 1. load Fashion-MNIST offline and draw reproducible *K-shot* and *N-sample* subsets, the unit of every
#    few-shot experiment in this course;
# 2. read a network as `stem → blocks → head` and get every block's input and output with `block_io` — the handle
#    that FitNets, FSKD and cross distillation all use;
# 3. count parameters and FLOPs the way the papers do (multiply-accumulates of conv and linear layers) and
#    reproduce the papers' numbers for VGG-16 and ResNet-56;
# 4. explain where the course's teachers come from and how their accuracy is verified.
#
# **Scales.** The `parameters` cell below reads `FSC_SCALE`: `quick` (a CI smoke run, ~1 minute, numbers not
# meaningful), `standard` (the default: real results on a laptop CPU in minutes) or `paper` (the papers' CIFAR-10
# settings, for one GPU).

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
DEMO_TRAIN_SIZE = {"quick": 2_000, "standard": 60_000, "paper": 60_000}[SCALE]  # images for the fit() demo
DEMO_EPOCHS = {"quick": 1, "standard": 2, "paper": 2}[SCALE]
SEED = 0

# %% [markdown]
# ## 1. Environment
#
# The course runs on a CPU; a GPU (CUDA) or an Apple-silicon GPU (MPS) is used automatically when present
# (`FSC_DEVICE=cpu` forces the CPU). Everything is seeded: the same seed gives the same numbers on the CPU.

# %%
import platform
import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torchvision
from IPython.display import Markdown, display

import fsc_teach
from fsc_teach import check, data, models, plots, train, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)  # a typo in FSC_SCALE stops here with the list of valid names
device = train.get_device()
print(f"fsc_teach {fsc_teach.__version__} | Python {platform.python_version()} | torch {torch.__version__} | "
      f"torchvision {torchvision.__version__} | matplotlib {matplotlib.__version__}")
print(f"device: {device} | CPU threads: {torch.get_num_threads()} | scale: {SCALE}")

# %% [markdown]
# ## 2. The data: Fashion-MNIST
#
# 70,000 grey-scale 28×28 images of ten kinds of clothing (60,000 for training, 10,000 for testing). It has
# MNIST's shape but is much harder, so the accuracy differences between compression methods are visible. The
# course reads it offline: from `$FSC_DATA` (default `~/.cache/fsc-teach/data`), else from the Debian package
# `dataset-fashion-mnist`, else through torchvision's download. `load_tensors` returns the whole split as
# normalised tensors (mean 0, std 1), which is far faster on a CPU than a per-image `DataLoader`.

# %%
x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
names = data.CLASS_NAMES["fashion_mnist"]
print("train:", tuple(x_train.shape), "test:", tuple(x_test.shape))
print("images per class (train):", torch.bincount(y_train).tolist())
fig = plots.image_grid(x_train, y_train, names, per_class=10, mean=data.DATASETS["fashion_mnist"]["mean"],
                       std=data.DATASETS["fashion_mnist"]["std"])
plt.show()

# %% [markdown]
# ### Few-shot samples
#
# The papers compress networks with a handful of training images. Two ways of drawing them recur:
#
# * **K-shot** (cross distillation, Bai et al. 2020): exactly $K$ labelled images of every class —
#   `few_shot_indices(targets, k, seed)`;
# * **N samples** (FSKD, Li et al. 2020): $N$ images drawn without regard to class, labels unused —
#   `sample_indices(num_items, n, seed)`.
#
# Both are sorted, duplicate-free and fixed by the seed, so every method in a comparison sees the **same**
# images. The indices below are the same on every machine (this cell's output is checked in CI).

# %%
# NBVAL_CHECK_OUTPUT
k_shot = data.few_shot_indices(y_train, k=2, seed=SEED)
print("2-shot indices:", k_shot.tolist())
print("their classes: ", y_train[k_shot].tolist())
print("5 unlabeled samples:", data.sample_indices(len(y_train), 5, seed=SEED).tolist())

# %% [markdown]
# ## 3. Networks as `stem → blocks → head`
#
# Every network in the course is a stem, a list of blocks (`model.blocks`, an `nn.ModuleList`) and a head that
# turns the last block's output into logits. Layer-wise methods work block by block, so one function,
# `block_io(model, x)`, returns each block's input and output. A block of the VGG-style nets is
# `conv → BatchNorm → adapter → ReLU → (max-pool)`; the `adapter` is an empty slot (identity) where FSKD will put
# its 1×1 convolution in notebook 05.
#
# **Counting.** Parameters include BatchNorm's scale and shift. FLOPs are, as in both papers, the
# multiply-accumulates of conv and linear layers for one image: a conv with $C_{in}$ inputs, $C_{out}$ outputs
# and a $k\times k$ kernel producing an $H\times W$ map costs $H W C_{out} C_{in} k^2$.

# %%
# NBVAL_CHECK_OUTPUT
paper_rows = [
    ("VGG-16, CIFAR, MLP head (cross distillation, Table 10)", models.vgg16_cifar(head="mlp"), (3, 32, 32), 14.99e6, 0.314e9),
    ("VGG-16, CIFAR, linear head (FSKD)", models.vgg16_cifar(head="linear"), (3, 32, 32), 14.72e6, 3.13e8),
    ("ResNet-56, CIFAR (cross distillation, Table 11)", models.resnet_cifar(56), (3, 32, 32), 0.85e6, 0.127e9),
]
rows = []
for label, net, shape, p_params, p_flops in paper_rows:
    params, flops = models.count_params(net), models.count_flops(net, shape)
    rows.append({"network": label, "params (ours)": f"{params / 1e6:.2f} M", "params (paper)": f"{p_params / 1e6:.2f} M",
                 "FLOPs (ours)": f"{flops / 1e6:.1f} M", "FLOPs (paper)": f"{p_flops / 1e6:.1f} M"})
print(plots.markdown_table(rows))

# %% [markdown]
# The counts above are computed from the code, not typed in: if someone changes the architecture, this cell's
# output changes and CI notices.

# %% [markdown]
# ## 4. The course's teachers
#
# Training a good teacher takes longer than any notebook should, so the course ships two, trained once by
# `python -m fsc_teach.zoo train` and committed with a manifest (command, seed, data, hyper-parameters, measured
# test accuracy, SHA-256). A test re-measures each teacher's accuracy on the test set; `FSC_RETRAIN=1` retrains
# them into your cache instead of using the committed files.
#
# * **`vgg_fmnist`** — the course teacher: six 3×3 conv blocks (32, 32 | 64, 64 | 128, 128) with BatchNorm and a
#   linear head; notebooks 01 and 03–07 compress it.
# * **`cnn256_fmnist`** — the two-layer CNN with widths (256, 512) that Rishikesh et al. (IIIT Dharwad report) use
#   as the teacher of their Table I; notebook 02 distils it into the (16, 32) student.
#
# At `paper` scale the later notebooks use the CIFAR-10 VGG-16 and ResNet-56 (`vgg16_cifar10`,
# `resnet56_cifar10`), trained on first use on your GPU (CIFAR-10 needs internet the first time).

# %%
manifest = zoo.manifest()
teachers = {name: zoo.load_teacher(name) for name in ("vgg_fmnist", "cnn256_fmnist")}
test_logits = {name: train.predict(teacher, x_test) for name, teacher in teachers.items()}  # reused below
measured = {name: (test_logits[name].argmax(1) == y_test).float().mean().item() for name in teachers}
rows = []
for name, teacher in teachers.items():
    entry = manifest[name]
    rows.append({"teacher": name, "widths": str(teacher.widths),
                 "params": f"{models.count_params(teacher) / 1e6:.3f} M",
                 "FLOPs": f"{models.count_flops(teacher) / 1e6:.1f} M",
                 "test acc. (manifest)": f"{100 * entry['test_accuracy']:.2f} %",
                 "test acc. (measured now)": f"{100 * measured[name]:.2f} %",
                 "training time": f"{entry['train_seconds'] / 60:.1f} min", "epochs": entry["fit_kwargs"]["epochs"]})
plots.show_table(rows)
for name in teachers:
    print(f"{name}: trained by `{manifest[name]['command']}` ({manifest[name]['machine']})")

# %% [markdown]
# ### How the teachers learned
#
# Each checkpoint keeps its training history. The course teacher was trained with random 2-pixel shifts and
# horizontal flips, and its training accuracy is measured on those augmented batches *while the weights are still
# changing* within the epoch, so the two curves need not be ordered the way a held-out curve usually is.

# %%
fig = plots.training_curves({name: zoo.teacher_history(name) for name in teachers})
plt.show()
h = zoo.teacher_history("vgg_fmnist")
below = [e for e, tr, te in zip(h["epoch"], h["train_acc"], h["val_acc"]) if tr < te]
display(Markdown(
    f"For `vgg_fmnist`, training accuracy lies below test accuracy at epoch(s) {', '.join(map(str, below)) or 'none'}"
    f" of {len(h['epoch'])}: {100 * h['train_acc'][0]:.1f} % vs {100 * h['val_acc'][0]:.1f} % after the first "
    f"epoch, {100 * h['train_acc'][-1]:.1f} % vs {100 * h['val_acc'][-1]:.1f} % after the last."))

# %% [markdown]
# ### Where the course teacher errs
#
# The confusion matrix shows which classes the teacher mixes up. Students in later notebooks lose accuracy first
# on exactly these confusable classes (shirt vs T-shirt vs pullover vs coat).

# %%
teacher = teachers["vgg_fmnist"]
pred = test_logits["vgg_fmnist"].argmax(1)
cm = plots.confusion_matrix(y_test, pred, 10)
fig = plots.plot_confusion(cm, names, title=f"vgg_fmnist on the test set ({100 * measured['vgg_fmnist']:.2f} %)")
plt.show()

# %% [markdown]
# ### Looking inside: every block's input and output
#
# `block_io` is the one way the course reads intermediate features. The shapes printed below are what FitNets'
# regressors, FSKD's 1×1 convolutions and cross distillation's layer-wise losses work on.

# %%
# NBVAL_CHECK_OUTPUT
pairs = models.block_io(teacher, x_test[:4])
for i, (h_in, h_out) in enumerate(pairs):
    print(f"block {i}: input {tuple(h_in.shape)} -> output {tuple(h_out.shape)}")
print("head(last block output) == forward(x):", torch.allclose(teacher.head(pairs[-1][1]), teacher(x_test[:4]), atol=1e-5))

# %% [markdown]
# ## 5. Training a network with `fit`
#
# `train.fit(model, x, y, epochs=..., lr=..., val=(x_test, y_test))` is the course's one training loop: explicit
# arguments, a progress bar, a seeded shuffle, and a returned history for plots (one value per epoch of
# `train_loss`, `train_acc`, `val_acc` and `time`). Every method plugs into it the same way, with a loss that owns
# the forward pass, `loss_fn(model, x_batch, y_batch, extra) -> (loss, logits)`: distillation runs the teacher on
# the very batch the student sees (notebook 02), FitNets reads both networks' features with `models.block_io`
# (notebook 04). Here we train a half-width copy of the course teacher from
# scratch for a couple of epochs — the kind of *student* the later notebooks try to improve.

# %%
torch.manual_seed(SEED)
student = models.vgg_fmnist(width=0.5)
subset = data.sample_indices(len(y_train), DEMO_TRAIN_SIZE, seed=SEED)
start = time.perf_counter()
history = train.fit(student, x_train[subset], y_train[subset], epochs=DEMO_EPOCHS, lr=0.05, augment=True,
                    val=(x_test, y_test), seed=SEED, desc="half-width student")
demo_seconds = time.perf_counter() - start
student_acc = history["val_acc"][-1]
print(f"half-width student: {models.count_params(student):,} params, test accuracy {100 * student_acc:.2f} % "
      f"after {DEMO_EPOCHS} epoch(s) on {DEMO_TRAIN_SIZE:,} images ({demo_seconds:.0f} s)")
fig = plots.training_curves({"half-width student": history})
plt.show()

# %% [markdown]
# ## 6. What the papers report vs what we measured

# %%
vgg_p, vgg_f = models.count_params(models.vgg16_cifar()), models.count_flops(models.vgg16_cifar(), (3, 32, 32))
display(Markdown(f"""
* **Model sizes.** Our CIFAR VGG-16 with the cross-distillation head has {vgg_p / 1e6:.2f} M parameters and
  {vgg_f / 1e9:.3f} GFLOPs; the paper's Table 10 reports 14.99 M and 0.314 G. With FSKD's single linear head we count
  {models.count_params(models.vgg16_cifar(head='linear')) / 1e6:.2f} M (paper: 14.72 M). ResNet-56:
  {models.count_params(models.resnet_cifar(56)) / 1e6:.2f} M parameters (He et al. 2016: 0.85 M) and
  {models.count_flops(models.resnet_cifar(56), (3, 32, 32)) / 1e9:.3f} GFLOPs (cross distillation's Table 11:
  0.127 G; He et al. give no FLOPs).
* **Teachers.** Rishikesh et al. report their (256, 512) CNN at 97.78 % on MNIST and 69.72 % on CIFAR-10 (Table I). On
  Fashion-MNIST, which sits between the two in difficulty, the same architecture reaches
  **{100 * measured['cnn256_fmnist']:.2f} %** after {manifest['cnn256_fmnist']['fit_kwargs']['epochs']} epochs, and the
  course's VGG-style teacher **{100 * measured['vgg_fmnist']:.2f} %** with
  {models.count_params(teachers['vgg_fmnist']) / 1e6:.2f} M parameters — a strong, small teacher that a CPU can
  compress in minutes.
* **A student from scratch.** The half-width student reached {100 * student_acc:.2f} % after
  {DEMO_EPOCHS} epoch(s) on {DEMO_TRAIN_SIZE:,} images (scale `{SCALE}`); the gap to the teacher is what the
  following notebooks try to close with less data.
"""))

# %% [markdown]
# ## 7. Exercises
#
# Each exercise ends with a self-check that prints ✓ or a hint. Fill in the `my_...` parts (the instructor
# edition ships the solutions).
#
# **Exercise 1 — FLOPs by hand.** The course teacher's first block is a 3×3 conv from 1 to 32 channels on a
# 28×28 image (padding keeps the size). How many multiply-accumulates does it cost per image?

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_first_block_flops = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_first_block_flops = 28 * 28 * 32 * 1 * 3 * 3
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
first_only = models.VGG([32], pools=[], in_channels=1, input_size=28)
conv_flops = models.count_flops(first_only) - 28 * 28 * 32 * 10  # minus the linear head on 32·28·28 features
check.close(my_first_block_flops, conv_flops, what="FLOPs of the first conv",
            hint="H·W·C_out·C_in·k·k: every output pixel of every output channel needs C_in·k·k multiply-adds")

# %% [markdown]
# **Exercise 2 — parameters of a block.** How many parameters does a `conv(64→128, 3×3, no bias) → BatchNorm(128)`
# block have? (BatchNorm learns a scale and a shift per channel; its running statistics are buffers, not
# parameters.)

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_block_params = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_block_params = 128 * 64 * 3 * 3 + 2 * 128
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(my_block_params, models.count_params(models.ConvBlock(64, 128)), what="parameters of the block",
            hint="weights: C_out·C_in·k·k; BatchNorm: 2·C_out (γ and β)")


# %% [markdown]
# **Exercise 3 — accuracy from logits.** Write `my_accuracy(logits, y)` returning the top-1 accuracy in [0, 1].

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_accuracy(logits, y):
    ### BEGIN SOLUTION
    return (logits.argmax(dim=1) == y).float().mean().item()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(check.runs(my_accuracy, test_logits["vgg_fmnist"], y_test), measured["vgg_fmnist"],
            what="my_accuracy agrees with the accuracy measured above",
            hint="argmax over the class dimension, then compare with y")

# %% [markdown]
# **Exercise 4 — the hardest pair.** From the confusion matrix `cm`, find the pair of *different* classes
# (true, predicted) that the teacher confuses most often. Give it as a tuple of class indices.

# %% nbgrader={"grade": false, "grade_id": "ex4-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_pair = ...  # your answer: replace the ...
### BEGIN SOLUTION
off_diagonal = cm.clone()
off_diagonal.fill_diagonal_(0)
my_pair = divmod(int(off_diagonal.argmax()), 10)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex4-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
reference = cm - torch.diag(torch.diag(cm))
if check.equal(my_pair, divmod(int(reference.argmax()), 10), what="most confused pair",
               hint="zero the diagonal (correct answers) first, then take the argmax of the 10×10 matrix"):
    print(f"true '{names[my_pair[0]]}' predicted as '{names[my_pair[1]]}': {int(cm[tuple(my_pair)])} test images")

# %% [markdown]
# **Exercise 5 — predict, then check: width and cost.** Before computing anything: if every block of the course
# teacher had half as many channels (`models.vgg_fmnist(width=0.5)`, the student of §5), by about what factor would
# its FLOPs fall? Set `my_factor` to your prediction, then run the check.

# %% nbgrader={"grade": false, "grade_id": "ex5-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_factor = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_factor = 4.0  # a conv's cost is C_in · C_out · k² · H · W: halving both channel counts divides it by 4
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex5-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
ratio = models.count_flops(teachers["vgg_fmnist"]) / models.count_flops(models.vgg_fmnist(width=0.5))
check.close(my_factor, ratio, rtol=0.1, what=f"the FLOPs ratio, full / half width ({ratio:.2f})",
            hint="every conv's cost has a factor C_in and a factor C_out; only the first conv's C_in (the image) stays 1")

# %% [markdown]
# ## Takeaways

# %%
display(Markdown(f"""
1. The teachers are checkpoints with a manifest, re-measured here: `vgg_fmnist` {100 * measured['vgg_fmnist']:.2f} %
   (manifest {100 * manifest['vgg_fmnist']['test_accuracy']:.2f} %), `cnn256_fmnist`
   {100 * measured['cnn256_fmnist']:.2f} % (manifest {100 * manifest['cnn256_fmnist']['test_accuracy']:.2f} %).
2. Parameters and FLOPs are counted the papers' way (multiply-accumulates of conv and linear layers): our VGG-16
   counts {vgg_p / 1e6:.2f} M and {vgg_f / 1e9:.3f} G against the paper's 14.99 M and 0.314 G.
3. Every network is `stem → blocks → head`, and `block_io` is the one way to read a block's input and output — the
   handle of every layer-wise method in notebooks 04–07.
4. A *K-shot* draw is seeded: the same seed gives every method the same images, which is what makes the paired
   comparisons of later notebooks possible.
"""))

# %% [markdown]
# **Try next.** Train the half-width student of §5 for 10 epochs and see how close it gets to the teacher; draw a
# K = 1 sample with two different seeds and look at how different the two "datasets" are; count the FLOPs of
# `models.resnet_cifar(20)` by hand for its first stage and check with `count_flops`.

# %% [markdown]
# ## References
#
# * H. Xiao, K. Rasul, R. Vollgraf. *Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
#   Algorithms.* 2017. [arXiv:1708.07747](https://arxiv.org/abs/1708.07747)
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR 2020.
#   [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — the FSKD notebook's source; VGG-16 FLOPs convention.
# * H. Bai, J. Wu, I. King, M. Lyu. *Few Shot Network Compression via Cross Distillation.* AAAI 2020.
#   [arXiv:1911.09450](https://arxiv.org/abs/1911.09450) — VGG-16 with MLP head, Table 10.
# * D. Rishikesh, M. Sravan, S. Ajay Kumar, MSVSS Hanuma. *Compressing Neural Nets.* Student report, IIIT Dharwad
#   (unpublished; no public link) — the (256, 512) CNN teacher, Table I.
# * K. He, X. Zhang, S. Ren, J. Sun. *Deep Residual Learning for Image Recognition.* CVPR 2016.
#   [arXiv:1512.03385](https://arxiv.org/abs/1512.03385) — CIFAR ResNets.
# * K. Simonyan, A. Zisserman. *Very Deep Convolutional Networks for Large-Scale Image Recognition.* ICLR 2015.
#   [arXiv:1409.1556](https://arxiv.org/abs/1409.1556)

# %% [markdown]
# # 01 · Compression basics: pruning and quantization
#
# Rishikesh et al. (*Compressing Neural Nets*, IIIT Dharwad report) begin where most compression projects begin:
# take a trained network, remove weights (**pruning**) or store them with fewer bits (**quantization**), and see
# what it costs. This notebook measures that cost on the course teacher, then asks the question the rest of the
# course answers: *once a network is compressed, how much of its accuracy can we win back — and with how little data?*
#
# **Learning objectives.** After this notebook you can
# 1. prune a network by weight magnitude, layer by layer or globally, and keep the pruned weights at zero while
#    training (persistent masks);
# 2. remove whole filters by their L1 norm (Li et al. 2017) and obtain a *physically smaller* network whose next
#    layer and BatchNorm are sliced consistently;
# 3. quantize weights uniformly to k bits, per tensor or per output channel, and read an accuracy-vs-bits curve;
# 4. explain, from measurements, why fine-tuning a compressed network with a handful of labelled images is not
#    enough — the motivation for few-shot distillation.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
SPARSITIES = {"quick": [0.0, 0.5, 0.9], "standard": [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95],
              "paper": [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]}[SCALE]
FILTER_FRACTIONS = {"quick": [0.0, 0.5], "standard": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
                    "paper": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]}[SCALE]
BITS = [8, 6, 4, 3, 2]
EVAL_SIZE = {"quick": 1_000, "standard": 10_000, "paper": 10_000}[SCALE]  # test images per evaluation
FULL_FT_SIZE = {"quick": 2_000, "standard": 60_000, "paper": 60_000}[SCALE]  # "all the data" fine-tune
FULL_FT_EPOCHS = 1
FEW_K = 10  # labelled images per class for the few-shot fine-tune
FEW_EPOCHS = {"quick": 5, "standard": 40, "paper": 40}[SCALE]
SEEDS = {"quick": [0], "standard": [0, 1, 2], "paper": [0, 1, 2, 3, 4]}[SCALE]
UNSTRUCTURED_TARGET, STRUCTURED_SCHEME = 0.9, "50%"  # the two damaged networks we try to repair

# %%
import copy
import inspect
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from fsc_teach import check, data, models, plots, prune, quantize, train, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)
torch.manual_seed(0)
x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
teacher = zoo.load_teacher("vgg_fmnist")
base_acc = train.evaluate(teacher, x_eval, y_eval)
base = prune.report(teacher)
print(f"course teacher: {base['params']:,} params, {base['flops'] / 1e6:.1f} M FLOPs, "
      f"test accuracy {100 * base_acc:.2f} % on {EVAL_SIZE:,} test images")

# %% [markdown]
# ## 1. Unstructured pruning: zero the smallest weights
#
# Magnitude pruning (Han et al. 2015) assumes that small weights matter little. For a sparsity $s$ it keeps, in
# every conv and linear weight tensor, the $(1-s)$ fraction with the largest $|w|$:
#
# $$ M = \mathbb{1}\left[\,|W| \ge \tau_s\,\right], \qquad W \leftarrow M \odot W ,$$
#
# where $\tau_s$ is the $s$-quantile of $|W|$, computed per layer (`scope="layer"`) or over all layers at once
# (`scope="global"`, so layers with larger weights keep more of them). Here is the package's implementation:

# %%
print(inspect.getsource(prune.magnitude_masks))

# %% [markdown]
# Sparse weights save parameters and multiply-accumulates only if the hardware or library skips zeros; the
# second axis shows the *non-zero* FLOPs (a weight used at every output position counts once per position).

# %%
curves = {"layer": [], "global": []}
nonzero_flops = []
for s in SPARSITIES:
    for scope in curves:
        net = copy.deepcopy(teacher)
        prune.apply_masks_(net, prune.magnitude_masks(net, s, scope=scope))
        curves[scope].append(train.evaluate(net, x_eval, y_eval))
        if scope == "layer":
            nonzero_flops.append(prune.report(net)["nonzero_flops"] / 1e6)
plots.accuracy_vs([100 * s for s in SPARSITIES], {f"{k}-wise magnitude": v for k, v in curves.items()},
                  "sparsity (% of conv/linear weights set to zero)", cost=nonzero_flops,
                  cost_label="non-zero FLOPs, layer-wise (M)", reference=base_acc,
                  title="Unstructured pruning without retraining")
plt.show()
plots.show_table([{"sparsity": f"{100 * s:.0f} %", "layer-wise": f"{100 * a:.2f} %", "global": f"{100 * g:.2f} %"}
                  for s, a, g in zip(SPARSITIES, curves["layer"], curves["global"])])

# %% [markdown]
# ## 2. Structured pruning: remove whole filters
#
# Zeros scattered through a weight tensor do not make a dense GPU kernel faster. Li et al. (2017) instead remove
# whole **filters** (output channels): score filter $j$ of a layer by $s_j = \sum |F_j|$ (their Eq. 1), keep the
# highest-scoring ones, and rebuild a narrower layer. The next layer loses the matching *input* channels, and
# the BatchNorm of the pruned layer loses the matching scale, shift and running statistics — otherwise the network
# would be inconsistent. `prune.l1_prune` does all three and returns a genuinely smaller network:

# %%
small, kept = prune.l1_prune(teacher, 0.5)
print("widths before:", teacher.widths, "-> after:", small.widths)
print(f"params {models.count_params(teacher):,} -> {models.count_params(small):,}; "
      f"FLOPs {models.count_flops(teacher) / 1e6:.1f} M -> {models.count_flops(small) / 1e6:.1f} M")
print("block 0 keeps teacher filters", kept[0].tolist())

# %%
structured_acc, structured_flops, structured_params = [], [], []
for frac in FILTER_FRACTIONS:
    net, _ = prune.l1_prune(teacher, frac)
    structured_acc.append(train.evaluate(net, x_eval, y_eval))
    structured_flops.append(models.count_flops(net) / 1e6)
    structured_params.append(models.count_params(net))
plots.accuracy_vs([100 * f for f in FILTER_FRACTIONS], {"L1-norm filter pruning (every block)": structured_acc},
                  "filters removed in every block (%)", cost=structured_flops, cost_label="FLOPs (M)",
                  reference=base_acc, title="Structured pruning without retraining")
plt.show()

# %% [markdown]
# Removing a fraction $f$ of the filters in *every* block shrinks a conv's cost by about $(1-f)^2$ (both its
# inputs and its outputs shrink), so structured pruning buys large FLOP savings quickly — and costs accuracy just
# as quickly.

# %% [markdown]
# ## 3. Quantization: fewer bits per weight
#
# Uniform symmetric quantization to $k$ bits stores $q = \mathrm{clamp}(\mathrm{round}(w/\Delta), -Q, Q)$ with
# $Q = 2^{k-1}-1$ and step $\Delta = \max|w| / Q$, and computes with $q\Delta$ ("fake quantization": we simulate the
# rounding in floating point). One $\Delta$ per tensor is simplest; one per output channel (`per_channel=True`)
# gives channels with small weights a finer grid.

# %%
print(inspect.getsource(quantize.quantize_tensor))

# %%
q_acc = {"per tensor": [], "per channel": []}
for bits in BITS:
    for label, per_channel in (("per tensor", False), ("per channel", True)):
        q_acc[label].append(train.evaluate(quantize.quantize_model(teacher, bits, per_channel=per_channel),
                                           x_eval, y_eval))
weight_count = sum(w.numel() for w in prune.prunable_weights(teacher).values())
size_kib = [weight_count * b / 8 / 1024 for b in BITS]
ax = plots.accuracy_vs(BITS, q_acc, "bits per weight", cost=size_kib, cost_label="weight storage (KiB)",
                       reference=base_acc, title="Uniform weight quantization without retraining")
ax.invert_xaxis()
plt.show()
plots.show_table([{"bits": b, "per tensor": f"{100 * a:.2f} %", "per channel": f"{100 * c:.2f} %",
                   "weights (KiB)": f"{kib:.0f}"} for b, a, c, kib in zip(BITS, q_acc["per tensor"],
                                                                            q_acc["per channel"], size_kib)])


# %% [markdown]
# ## 4. Explore: one sparsity, its weights and its accuracy
#
# Move the slider (in a live notebook) to see how layer-wise magnitude pruning hollows out the weight distribution
# of one layer, and what it does to accuracy. Executed copies show the default setting.

# %%
def show_sparsity(sparsity: float = 0.7, block: int = 3):
    net = copy.deepcopy(teacher)
    prune.apply_masks_(net, prune.magnitude_masks(net, sparsity, scope="layer"))
    acc = train.evaluate(net, x_eval[:2000], y_eval[:2000])
    w0 = teacher.blocks[block].conv.weight.detach().flatten()
    w1 = net.blocks[block].conv.weight.detach().flatten()
    fig, ax = plt.subplots(figsize=(7, 3))
    bins = torch.linspace(float(w0.min()), float(w0.max()), 80).numpy()
    ax.hist(w0.numpy(), bins=bins, alpha=0.5, label="before")
    ax.hist(w1[w1 != 0].numpy(), bins=bins, alpha=0.7, label=f"kept ({100 * (1 - sparsity):.0f} %)")
    ax.set(title=f"block {block} conv weights at sparsity {100 * sparsity:.0f} %: accuracy {100 * acc:.2f} % "
                 f"(2,000 test images)", xlabel="weight value", ylabel="count")
    ax.legend()
    plt.show()


plots.explore(show_sparsity, sparsity=plots.Slider(0.0, 0.98, 0.02, 0.7), block=list(range(len(teacher.blocks))))


# %% [markdown]
# ## 5. Can fine-tuning repair the damage — with how much data?
#
# We take two damaged networks: the teacher with **90 % of its weights pruned** (layer-wise magnitude, masks kept
# during training) and the teacher with **half of the filters of every block removed** (L1 norm; the "50 %"
# scheme). Each is fine-tuned with cross-entropy (a) on all 60,000 training images for one epoch and (b) on only
# **10 labelled images per class** (100 images), over several draws of those images. This is the situation the
# few-shot methods of notebooks 04–06 are made for.

# %%
def damaged(kind: str):
    if kind == "unstructured":
        net = train.trainable_copy(teacher)
        prune.apply_masks_(net, prune.magnitude_masks(net, UNSTRUCTURED_TARGET, scope="layer"))
        return net
    net, _ = prune.l1_prune(teacher, prune.filter_ratios(STRUCTURED_SCHEME, teacher))
    return train.trainable_copy(net)


rows, timing = [], {}
for kind in ("unstructured", "structured"):
    start = time.perf_counter()
    before = train.evaluate(damaged(kind), x_eval, y_eval)
    full_idx = data.sample_indices(len(y_train), FULL_FT_SIZE, seed=0)
    net = damaged(kind)
    train.fit(net, x_train[full_idx], y_train[full_idx], epochs=FULL_FT_EPOCHS, lr=0.01, augment=True,
              desc=f"{kind}: full fine-tune")
    full = train.evaluate(net, x_eval, y_eval)
    few = []
    for seed in SEEDS:
        idx = data.few_shot_indices(y_train, FEW_K, seed=seed)
        net = damaged(kind)
        train.fit(net, x_train[idx], y_train[idx], epochs=FEW_EPOCHS, batch_size=50, lr=0.01, augment=True,
                  seed=seed, desc=f"{kind}: {FEW_K}-shot fine-tune (seed {seed})")
        few.append(train.evaluate(net, x_eval, y_eval))
    assert prune.sparsity(net) >= UNSTRUCTURED_TARGET - 0.01 or kind == "structured"  # masks held during training
    timing[kind] = time.perf_counter() - start
    rows.append({"network": f"{kind} ({'90 % sparse' if kind == 'unstructured' else 'half the filters'})",
                 "params (non-zero)": f"{models.count_params(net, nonzero=True):,}",
                 "no fine-tune": plots.mean_std([before]),
                 f"{FEW_K} per class ({len(SEEDS)} draws)": plots.mean_std(few),
                 f"all {FULL_FT_SIZE:,} images, {FULL_FT_EPOCHS} epoch": plots.mean_std([full])})
    rows[-1]["_values"] = (before, few, full)
plots.show_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
print(f"unpruned teacher: {100 * base_acc:.2f} %")

# %% [markdown]
# ## 6. What the paper reports vs what we measured

# %%
(u_before, u_few, u_full), (s_before, s_few, s_full) = rows[0]["_values"], rows[1]["_values"]
mean = lambda v: 100 * sum(v) / len(v)
i90 = SPARSITIES.index(0.9) if 0.9 in SPARSITIES else -1
display(Markdown(f"""
Rishikesh et al. (IIIT Dharwad report) state that pruning a small six-layer network "with 5x sparsity" (80 % of
its weights removed) kept its accuracy with minimal reduction, and that pruning worked less well for large
networks; the report gives no table for this stage. On the course teacher we measured, *without any retraining*: layer-wise magnitude pruning to
{100 * SPARSITIES[i90]:.0f} % sparsity gives {100 * curves['layer'][i90]:.2f} % (global: {100 * curves['global'][i90]:.2f} %)
against {100 * base_acc:.2f} % unpruned; removing {100 * FILTER_FRACTIONS[-1]:.0f} % of every block's filters gives
{100 * structured_acc[-1]:.2f} %; {BITS[-3]}-bit per-channel weights give {100 * q_acc['per channel'][-3]:.2f} % and
{BITS[-1]}-bit per-tensor weights {100 * q_acc['per tensor'][-1]:.2f} %.

Fine-tuning tells the few-shot story. The 90 %-sparse network starts at {100 * u_before:.2f} %; one epoch on all
{FULL_FT_SIZE:,} images brings it to {100 * u_full:.2f} %, while {FEW_K} images per class give {mean(u_few):.2f} %.
The half-width network starts at {100 * s_before:.2f} % and reaches {100 * s_full:.2f} % with all the data but
{mean(s_few):.2f} % with {FEW_K} images per class. (Scale `{SCALE}`; at `quick` scale these numbers are not meaningful.)
With a hundred labelled images, plain fine-tuning leaves a gap of {100 * u_full - mean(u_few):.1f} points
(unstructured) and {100 * s_full - mean(s_few):.1f} points (structured) to fine-tuning on all the data. The few-shot
methods of notebooks 04–06 try to close that gap by using the *teacher* instead of (or besides) the labels of the
same hundred images, and measure how much of it they close.
"""))


# %% [markdown]
# ## 7. Exercises
#
# **Exercise 1 — a magnitude mask by hand.** Write `my_mask(w, sparsity)` returning a boolean tensor that keeps the
# `round((1 - sparsity)·n)` largest-magnitude entries of `w`. Compare it with the package on a real layer.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_mask(w, sparsity):
    ### BEGIN SOLUTION
    n_keep = w.numel() - int(sparsity * w.numel() + 0.5)
    threshold_idx = torch.topk(w.abs().flatten(), n_keep).indices
    mask = torch.zeros(w.numel(), dtype=torch.bool)
    mask[threshold_idx] = True
    return mask.view_as(w)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
w = teacher.blocks[2].conv.weight.detach()
reference = prune.magnitude_masks(teacher, 0.6, scope="layer")["blocks.2.conv.weight"]
mine = check.runs(my_mask, w, 0.6)
check.close(mine.float() if mine is not None else None, reference.float(), what="my_mask matches the package",
            hint="keep the n_keep entries with the largest |w|: torch.topk on w.abs().flatten()")


# %% [markdown]
# **Exercise 2 — quantize by hand.** Write `my_quantize(w, bits)`: symmetric, one scale for the tensor,
# $\Delta = \max|w| / (2^{k-1}-1)$, round to the nearest level.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_quantize(w, bits):
    ### BEGIN SOLUTION
    q_max = 2 ** (bits - 1) - 1
    step = w.abs().max() / q_max
    return torch.clamp(torch.round(w / step), -q_max, q_max) * step
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(check.runs(my_quantize, w, 3), quantize.quantize_tensor(w, 3), what="my_quantize matches the package",
            hint="step = max|w| / (2**(bits-1) - 1); round(w / step), clamp to ±(2**(bits-1) - 1), multiply back")

# %% [markdown]
# **Exercise 3 — predict the size of a pruned network.** Removing half the filters of *every* block of the course
# teacher (widths 32, 32, 64, 64, 128, 128 → 16, 16, 32, 32, 64, 64) leaves how many parameters? Count conv weights
# (no conv bias: BatchNorm follows), BatchNorm's two parameters per channel, and the linear head on the
# 64·3·3 flattened features. Check your formula against `models.count_params`.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_params = ...  # your answer: replace the ...
### BEGIN SOLUTION
widths = [16, 16, 32, 32, 64, 64]
cins = [1] + widths[:-1]
my_params = sum(c_out * c_in * 9 + 2 * c_out for c_in, c_out in zip(cins, widths)) + 64 * 3 * 3 * 10 + 10
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.equal(my_params, models.count_params(prune.l1_prune(teacher, 0.5)[0]), what="parameter count of the half-width network",
            hint="conv: C_out·C_in·3·3; BatchNorm: 2·C_out; head: 576·10 weights + 10 biases")

# %% [markdown]
# ## References
#
# * D. Rishikesh, M. Sravan, S. Ajay Kumar, MSVSS Hanuma. *Compressing Neural Nets.* Student report, IIIT Dharwad
#   (unpublished; no public link) — pruning and quantization as a first stage.
# * S. Han, J. Pool, J. Tran, W. Dally. *Learning both Weights and Connections for Efficient Neural Networks.*
#   NeurIPS 2015. [arXiv:1506.02626](https://arxiv.org/abs/1506.02626) — magnitude pruning.
# * S. Han, H. Mao, W. Dally. *Deep Compression.* ICLR 2016. [arXiv:1510.00149](https://arxiv.org/abs/1510.00149) —
#   pruning, quantization and Huffman coding.
# * H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient ConvNets.* ICLR 2017.
#   [arXiv:1608.08710](https://arxiv.org/abs/1608.08710) — L1-norm filter pruning (Eq. 1), the VGG-16 "pruned-A"
#   scheme.
# * B. Jacob et al. *Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
#   Inference.* CVPR 2018. [arXiv:1712.05877](https://arxiv.org/abs/1712.05877); R. Krishnamoorthi. *Quantizing
#   deep convolutional networks for efficient inference: a whitepaper.* 2018.
#   [arXiv:1806.08342](https://arxiv.org/abs/1806.08342) — uniform quantization, per-channel scales.

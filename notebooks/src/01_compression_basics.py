# %% [markdown]
# # 01 · Compression basics: pruning and quantization
#
# Rishikesh et al. (*Compressing Neural Nets*, IIIT Dharwad report) begin where most compression projects begin:
# take a trained network, remove weights (**pruning**) or store them with fewer bits (**quantization**), and see
# what it costs. This notebook measures that cost on the course teacher, then asks the question the rest of the
# course answers: *once a network is compressed, how much of its accuracy can we win back — and with how little data?*
#
# **Learning objectives.** After this notebook you can
# 1. prune a network by weight magnitude, layer by layer or globally, keep the pruned weights at zero while
#    training (persistent masks), and explain from the layers' weight scales why the two rules cross over;
# 2. remove whole filters by their L1 norm (Li et al. 2017) and obtain a *physically smaller* network whose next
#    layer and BatchNorm are sliced consistently;
# 3. quantize weights uniformly to k bits, per tensor or per output channel, and read an accuracy-vs-bits curve;
# 4. explain, from measurements, why fine-tuning a compressed network with a handful of labelled images is not
#    enough — the motivation for few-shot distillation;
# 5. run a layer-by-layer sensitivity scan, spend a size budget where it costs least, and judge whether a
#    hundred images are enough to make that choice;
# 6. tell the savings a clock sees (fewer filters) from those it does not (zeroed weights), by measuring latency.
#
# **Scales.** `FSC_SCALE=quick` is a smoke run (about a minute, numbers not meaningful); `standard` (the default)
# gives the committed results in under ten minutes on a two-core laptop CPU.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
FEW_K = 10                 # images per class: the few-shot fine-tune (§5), the few-shot scan (§6), FSKD (§7)
UNSTRUCTURED_TARGET = 0.9  # the unstructured cut that §5 repairs and §7 times
STRUCTURED_SCHEME = "50%"  # the filter cut (half the filters of every block) that §5 repairs and §7 times
SIZE_BUDGET = 0.8          # §6: fraction of all conv/linear weights the sensitivity-guided cut must remove
LATENCY_BATCH = 64         # §7: images per timed forward pass

# %% [markdown]
# ## Settings
#
# What each scale runs (the `standard` values give the committed outputs). `EVAL_SIZE` test images measure every
# accuracy — at `standard` the whole Fashion-MNIST test set.

# %%
import copy
import inspect
import math
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from fsc_teach import check, data, fskd, latency, models, plots, prune, quantize, sensitivity, train, zoo
from fsc_teach.protocol import compare
from fsc_teach.scale import get_scale, pick

SCALE = get_scale(SCALE)  # a typo in FSC_SCALE stops here with the list of valid names
SPARSITIES = pick(SCALE, quick=[0.0, 0.6, 0.8, 0.9],  # §1: always 0.6, 0.8 and 0.9 (the text quotes them)
                  standard=[0.0, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9])
CROSSOVER = (0.6, 0.9)  # §1b: one sparsity where global pruning wins, one where layer-wise wins
FILTER_FRACTIONS = pick(SCALE, quick=[0.0, 0.5], standard=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8])
BITS = pick(SCALE, quick=[8, 4, 2], standard=[8, 4, 3, 2])
EVAL_SIZE = pick(SCALE, quick=1_000, standard=10_000)  # test images per evaluation
FULL_FT_SIZE = pick(SCALE, quick=2_000, standard=60_000)  # §5: the "all the data" fine-tune, one epoch
FEW_EPOCHS = pick(SCALE, quick=5, standard=40)
SEEDS = pick(SCALE, quick=[0], standard=[0, 1, 2], paper=[0, 1, 2, 3, 4])  # §5: draws of the few images
SCAN_SPARSITIES = pick(SCALE, quick=[0.5, 0.9], standard=[0.5, 0.8, 0.9])  # §6: one layer at a time
SCAN_SEEDS = pick(SCALE, quick=[0, 1], standard=[0, 1, 2, 3, 4])  # §6: draws of the few-shot scan's images
LATENCY_RUNS = pick(SCALE, quick=5, standard=20)  # §7: timed runs per network (after 3 warm-up runs)
evaluate = partial(train.evaluate, batch_size=250)  # batches of 250: ~1.5x faster on a CPU than 1,000

# %%
torch.manual_seed(0)
x_train, y_train = data.load_tensors("fashion_mnist", train=True)
x_test, y_test = data.load_tensors("fashion_mnist", train=False)
x_eval, y_eval = x_test[:EVAL_SIZE], y_test[:EVAL_SIZE]
teacher = zoo.load_teacher("vgg_fmnist")
base_acc = evaluate(teacher, x_eval, y_eval)
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
# where $\tau_s$ is the $s$-quantile of $|W|$, computed per layer (`scope="layer"`: every layer loses the same
# fraction) or over all layers at once (`scope="global"`: one threshold, so layers with larger weights keep more
# of them). Here is the package's implementation:

# %%
print(inspect.getsource(prune.magnitude_masks))


# %%
def masked_copy(masks: dict) -> torch.nn.Module:
    """A copy of the teacher with `masks` applied ({weight name: keep-mask}, e.g. from prune.magnitude_masks)."""
    net = copy.deepcopy(teacher)
    prune.apply_masks_(net, masks)
    return net


# %% [markdown]
# **Exercise 1 — predict, then check: which rule fails first?** Before you run the sweep below, predict: at
# **90 %** sparsity, which keeps more accuracy — *layer-wise* pruning (90 % of every layer) or *global* pruning
# (one threshold for all layers)? Then pick the reason you find most likely:
#
# * (a) the two rules remove the same weights, so any difference is noise;
# * (b) the layers' weights have different scales, so one global threshold removes far more than 90 % of the
#   layers whose weights are small and far less of the layers whose weights are large;
# * (c) layer-wise pruning keeps the network's largest weights, global pruning keeps its smallest.
#
# Set `my_winner` to `"layer"` or `"global"` and `my_reason` to `"a"`, `"b"` or `"c"`. The check measures both
# rules at 90 % on 2,000 test images; §1b measures the reason.

# %% nbgrader={"grade": false, "grade_id": "predict-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_winner = ...  # your prediction: "layer" or "global"
my_reason = ...  # your reason: "a", "b" or "c"
### BEGIN SOLUTION
my_winner = "layer"
my_reason = "b"  # per-layer weight scales differ ~10x: the global threshold strips the wide late layers
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "predict-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
at_90 = {scope: evaluate(masked_copy(prune.magnitude_masks(teacher, 0.9, scope=scope)), x_test[:2000], y_test[:2000])
         for scope in ("layer", "global")}
winner = max(at_90, key=at_90.get)
print(f"at 90 % sparsity, 2,000 test images: layer-wise {100 * at_90['layer']:.2f} %, "
      f"global {100 * at_90['global']:.2f} % -> {winner}-wise pruning keeps more")
check.equal(my_winner, winner, what=f"your prediction of the rule that keeps more accuracy at 90 % ({winner})",
            hint="compare the std of each layer's weights: one global threshold cuts deepest where weights are small")
check.equal(my_reason, "b", what="the reason (§1b below measures it layer by layer)",
            hint="print w.std() for the weights in prune.prunable_weights(teacher): do the layers share a scale?")

# %% [markdown]
# Sparse weights save parameters and multiply-accumulates only if the hardware or library skips zeros (§7
# measures whether it does); the second axis shows the *non-zero* FLOPs (a weight used at every output position
# counts once per position).

# %%
curves = {"layer": [], "global": []}
nonzero_flops = []
for s in SPARSITIES:
    for scope in curves:
        net = masked_copy(prune.magnitude_masks(teacher, s, scope=scope))
        curves[scope].append(base_acc if s == 0 else evaluate(net, x_eval, y_eval))
        if scope == "layer":
            nonzero_flops.append(prune.report(net)["nonzero_flops"] / 1e6)
plots.accuracy_vs([100 * s for s in SPARSITIES],
                  {"layer-wise magnitude": curves["layer"], "global magnitude": curves["global"]},
                  "sparsity (% of conv/linear weights set to zero)", cost=nonzero_flops,
                  cost_label="non-zero FLOPs, layer-wise (M)", reference=base_acc,
                  title=f"Unstructured pruning without retraining ({EVAL_SIZE:,} test images)")
plt.show()
plots.show_table([{"sparsity": f"{100 * s:.0f} %", "layer-wise": f"{100 * a:.2f} %", "global": f"{100 * g:.2f} %"}
                  for s, a, g in zip(SPARSITIES, curves["layer"], curves["global"])])
at = {scope: dict(zip(SPARSITIES, accs)) for scope, accs in curves.items()}  # at[scope][sparsity] -> accuracy
lo, hi = CROSSOVER
crossed = (at["global"][hi] - at["layer"][hi]) * (at["global"][lo] - at["layer"][lo]) < 0
display(Markdown(
    f"At {100 * lo:.0f} % sparsity global pruning keeps {100 * at['global'][lo]:.2f} % against layer-wise's "
    f"{100 * at['layer'][lo]:.2f} %; at {100 * hi:.0f} % the order is {'reversed' if crossed else 'the same'}: "
    f"layer-wise {100 * at['layer'][hi]:.2f} %, global {100 * at['global'][hi]:.2f} % (chance is 10 %). "
    + ("Why do the curves cross?" if crossed else "The curves do not cross at this scale.")))

# %% [markdown]
# ### 1b. Why the curves cross: one threshold, layers of different scales
#
# Model the weights of layer $l$ as roughly Gaussian with standard deviation $\sigma_l$. A global threshold $t$
# removes from layer $l$ the fraction
#
# $$ p_l(t) = P(|w| < t) = \operatorname{erf}\!\left(\frac{t}{\sigma_l\sqrt 2}\right), \qquad
#    \text{with } t \text{ chosen so that } \textstyle\sum_l n_l\, p_l(t) = s \sum_l n_l ,$$
#
# while layer-wise pruning removes $p_l = s$ from every layer. If all $\sigma_l$ were equal the two rules would
# coincide. They are not: the table below measures $\sigma_l$, the fraction of each layer that global pruning
# actually removes, and the Gaussian model's prediction $\operatorname{erf}(t/\sigma_l\sqrt2)$ at the same $t$.

# %%
weights = prune.prunable_weights(teacher)
short = lambda name: "head (linear)" if name.startswith("head") else f"conv {name.split('.')[1]}"
sizes = {name: w.numel() for name, w in weights.items()}
sigma = {name: float(w.detach().std()) for name, w in weights.items()}
removed, predicted = {}, {}
for s in CROSSOVER:
    masks = prune.magnitude_masks(teacher, s, scope="global")
    t = min(float(w.detach().abs()[masks[n]].min()) for n, w in weights.items() if masks[n].any())  # kept >= t
    removed[s] = {n: 1 - masks[n].float().mean().item() for n in weights}
    predicted[s] = {n: math.erf(t / (sigma[n] * math.sqrt(2))) for n in weights}
plots.show_table([{"layer": short(n), "weights": sizes[n], "σ of its weights": f"{sigma[n]:.4f}",
                   **{f"global removes at {100 * s:.0f} % (Gaussian model)":
                      f"{100 * removed[s][n]:.0f} % ({100 * predicted[s][n]:.0f} %)" for s in CROSSOVER}}
                  for n in weights])
big, small_sd = max(sigma, key=sigma.get), min(sigma, key=sigma.get)
off = {(s, n): abs(predicted[s][n] - removed[s][n]) for s in CROSSOVER for n in weights}
worst = max(off, key=off.get)  # (sparsity, layer) where the Gaussian model is furthest off
same_order = all(sorted(weights, key=removed[s].get) == sorted(weights, key=predicted[s].get) for s in CROSSOVER)
display(Markdown(
    f"The weight scales differ {sigma[big] / sigma[small_sd]:.0f}-fold, from σ = {sigma[big]:.3f} ({short(big)}, "
    f"{sizes[big]:,} weights) to σ = {sigma[small_sd]:.3f} ({short(small_sd)}, {sizes[small_sd]:,} weights). At "
    f"{100 * hi:.0f} % global pruning removes {100 * removed[hi][small_sd]:.0f} % of {short(small_sd)} but only "
    f"{100 * removed[hi][big]:.0f} % of {short(big)}; at {100 * lo:.0f} % it removes {100 * removed[lo][big]:.0f} % "
    f"of {short(big)}, where layer-wise pruning removes {100 * lo:.0f} %. The Gaussian model "
    f"{'orders the layers as the measurement does' if same_order else 'does not even order the layers right'}, "
    f"but misses some fractions (by up to {100 * off[worst]:.0f} points, {short(worst[1])} at {100 * worst[0]:.0f} %): real weights are "
    "not exactly Gaussian, so read the model as the reason for the pattern, and the measured column as the numbers."))

# %% [markdown]
# **The isolating experiment.** If the layers' different scales are what separates the two rules, removing the
# scales should remove the difference. Divide every layer's weights by their own $\sigma_l$, rank *those* globally,
# and prune the original teacher with the resulting masks: the same global rule, without scale differences.

# %%
scaled = copy.deepcopy(teacher)
with torch.no_grad():
    for w in prune.prunable_weights(scaled).values():
        w.div_(w.std())  # every layer now has std 1; the masks are computed here and applied to the teacher
normalised, normalised_removed = {}, {}
for s in CROSSOVER:
    masks = prune.magnitude_masks(scaled, s, scope="global")
    normalised[s] = evaluate(masked_copy(masks), x_eval, y_eval)
    normalised_removed[s] = {n: 1 - m.float().mean().item() for n, m in masks.items()}
plots.show_table([{"sparsity": f"{100 * s:.0f} %", "layer-wise": f"{100 * at['layer'][s]:.2f} %",
                   "global": f"{100 * at['global'][s]:.2f} %",
                   "global on std-normalised weights": f"{100 * normalised[s]:.2f} %",
                   "its removed fraction per layer (min–max)": f"{100 * min(normalised_removed[s].values()):.0f}–"
                                                               f"{100 * max(normalised_removed[s].values()):.0f} %"}
                  for s in CROSSOVER])
gap_before = {s: abs(at["global"][s] - at["layer"][s]) for s in CROSSOVER}
gap_after = {s: abs(normalised[s] - at["layer"][s]) for s in CROSSOVER}
closed = all(gap_after[s] <= 0.25 * gap_before[s] for s in CROSSOVER)
display(Markdown(
    "Without the scale differences, global pruning lands within "
    + " and ".join(f"{100 * gap_after[s]:.1f} points of layer-wise at {100 * s:.0f} % (global alone: "
                   f"{100 * gap_before[s]:.1f})" for s in CROSSOVER) + ". "
    + ("Removing the scales removes most of the difference at both sparsities: **the difference between the two "
       "rules, crossover included, comes from the layers' different weight scales**. Through them, at "
       f"{100 * hi:.0f} % global pruning removes less than {100 * hi:.0f} % of "
       f"{', '.join(short(n) for n in weights if removed[hi][n] < hi)} and more of "
       f"{', '.join(short(n) for n in weights if removed[hi][n] > hi)}. Which layers can afford how much is "
       "measured in §6."
       if closed else
       "Removing the scales closes only part of the difference, so the scales explain part of the crossover; what "
       "explains the rest is not measured here.")))

# %% [markdown]
# ## 2. Structured pruning: remove whole filters
#
# Zeros scattered through a weight tensor do not make a dense kernel faster. Li et al. (2017) instead remove
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
structured_acc, structured_flops = [], []
for frac in FILTER_FRACTIONS:
    net, _ = prune.l1_prune(teacher, frac)
    structured_acc.append(base_acc if frac == 0 else evaluate(net, x_eval, y_eval))
    structured_flops.append(models.count_flops(net) / 1e6)
plots.accuracy_vs([100 * f for f in FILTER_FRACTIONS], {"L1-norm filter pruning (every block)": structured_acc},
                  "filters removed in every block (%)", cost=structured_flops, cost_label="FLOPs (M)",
                  reference=base_acc, title=f"Structured pruning without retraining ({EVAL_SIZE:,} test images)")
plt.show()
f_first, i_half = FILTER_FRACTIONS[1], FILTER_FRACTIONS.index(0.5)  # 0.5 is in the grid at every scale
display(Markdown(
    f"Removing a fraction $f$ of the filters in *every* block shrinks a conv's cost by about $(1-f)^2$ (both its "
    f"inputs and its outputs shrink): at $f$ = 50 % the FLOPs fall from {structured_flops[0]:.1f} M to "
    f"{structured_flops[i_half]:.1f} M. Without retraining the accuracy falls faster still: "
    + (f"{100 * f_first:.0f} % of the filters already cost {100 * (base_acc - structured_acc[1]):.1f} points, and "
       if f_first < 0.5 else "") +
    f"50 % leaves {100 * structured_acc[i_half]:.2f} % (chance is 10 %)."))

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
        q_acc[label].append(evaluate(quantize.quantize_model(teacher, bits, per_channel=per_channel), x_eval, y_eval))
weight_count = sum(sizes.values())
size_kib = [weight_count * b / 8 / 1024 for b in BITS]
ax = plots.accuracy_vs(BITS, q_acc, "bits per weight", cost=size_kib, cost_label="weight storage (KiB)",
                       reference=base_acc, title=f"Uniform weight quantization without retraining "
                                                 f"({EVAL_SIZE:,} test images)")
ax.set_xticks(BITS)  # only the measured bit widths
ax.invert_xaxis()
plt.show()
plots.show_table([{"bits": b, "per tensor": f"{100 * a:.2f} %", "per channel": f"{100 * c:.2f} %",
                   "weights (KiB)": f"{kib:.0f}"} for b, a, c, kib in zip(BITS, q_acc["per tensor"],
                                                                            q_acc["per channel"], size_kib)])
q_at = lambda bits, kind: q_acc[kind][BITS.index(bits)]


# %% [markdown]
# ## 4. Explore: one sparsity, its weights and its accuracy
#
# Move the slider (in a live notebook) to see how layer-wise magnitude pruning hollows out the weight distribution
# of one layer, and what it does to accuracy. Executed copies show the default setting (block 0, 70 %).

# %%
def show_sparsity(sparsity: float = 0.7, block: int = 0):
    net = masked_copy(prune.magnitude_masks(teacher, sparsity, scope="layer"))
    acc = evaluate(net, x_test[:2000], y_test[:2000])
    w0 = teacher.blocks[block].conv.weight.detach().flatten()
    w1 = net.blocks[block].conv.weight.detach().flatten()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bins = torch.linspace(float(w0.min()), float(w0.max()), 80).numpy()
    ax.hist(w0.numpy(), bins=bins, alpha=0.5, color="#9e9e9e", label="before pruning")
    ax.hist(w1[w1 != 0].numpy(), bins=bins, alpha=0.8, color=plots.color("layer-wise magnitude"),
            label=f"kept ({100 * (1 - sparsity):.0f} %)")
    ax.set(title=f"Every layer pruned to {100 * sparsity:.0f} % (layer-wise): accuracy {100 * acc:.2f} % "
                 f"(2,000 test images)\nthe weights of block {block}'s conv", xlabel="weight value",
           ylabel="weights per bin")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    plt.show()


plots.explore(show_sparsity, sparsity=plots.Slider(0.0, 0.98, 0.02, 0.7), block=list(range(len(teacher.blocks))))


# %% [markdown]
# ## 5. Can fine-tuning repair the damage — with how much data?
#
# We take two damaged networks: the teacher with **90 % of its weights pruned** (layer-wise magnitude, masks kept
# during training) and the teacher with **half of the filters of every block removed** (L1 norm; the "50 %"
# scheme). Each is fine-tuned with cross-entropy (a) on all the training images for one epoch (60,000 at
# `standard` scale) and (b) on only **10 labelled images per class** (100 images), over several draws of those
# images. This is the situation the few-shot methods of notebooks 04–06 are made for.

# %%
def damaged(kind: str):
    if kind == "unstructured":
        net = train.trainable_copy(teacher)
        prune.apply_masks_(net, prune.magnitude_masks(net, UNSTRUCTURED_TARGET, scope="layer"))
        return net
    net, _ = prune.l1_prune(teacher, prune.filter_ratios(STRUCTURED_SCHEME, teacher))
    return train.trainable_copy(net)


rows = []
for kind in ("unstructured", "structured"):
    before = (at["layer"][UNSTRUCTURED_TARGET] if kind == "unstructured" and UNSTRUCTURED_TARGET in at["layer"]
              else evaluate(damaged(kind), x_eval, y_eval))  # the unstructured cut was measured in §1
    full_idx = data.sample_indices(len(y_train), FULL_FT_SIZE, seed=0)
    net = damaged(kind)
    train.fit(net, x_train[full_idx], y_train[full_idx], epochs=1, lr=0.01, augment=True,
              desc=f"{kind}: full fine-tune")
    full = evaluate(net, x_eval, y_eval)
    few = []
    for seed in SEEDS:
        idx = data.few_shot_indices(y_train, FEW_K, seed=seed)
        net = damaged(kind)
        train.fit(net, x_train[idx], y_train[idx], epochs=FEW_EPOCHS, batch_size=50, lr=0.01, augment=True,
                  seed=seed, desc=f"{kind}: {FEW_K}-shot fine-tune (seed {seed})")
        few.append(evaluate(net, x_eval, y_eval))
    assert prune.sparsity(net) >= UNSTRUCTURED_TARGET - 0.01 or kind == "structured"  # masks held during training
    rows.append({"network": f"{kind} ({f'{100 * UNSTRUCTURED_TARGET:.0f} % sparse' if kind == 'unstructured' else 'half the filters'})",
                 "params (non-zero)": f"{models.count_params(net, nonzero=True):,}",
                 "no fine-tune": plots.mean_std([before]),
                 f"{FEW_K} per class ({len(SEEDS)} draws)": plots.mean_std(few),
                 f"all {FULL_FT_SIZE:,} images, 1 epoch": plots.mean_std([full])})
    rows[-1]["_values"] = (before, few, full)
plots.show_table([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
print(f"test accuracy (%) on {EVAL_SIZE:,} test images; unpruned teacher: {100 * base_acc:.2f} %")

# %% [markdown]
# ## 6. Lab: which layers can lose weights? A sensitivity scan
#
# §1 pruned every layer by the same rule. A **sensitivity scan** (Han et al. 2015; Li et al. 2017, Sec. 3.2)
# asks each layer separately: prune *only* that layer by magnitude, leave the others dense, and measure the
# accuracy at several sparsities. `sensitivity.layer_scan` does it (the blocks before the pruned layer run once
# per batch and are shared by all sparsities, so a scan costs about half of #layers × #sparsities evaluations).
# Each layer's **sensitivity** is its mean accuracy drop over the scanned grid.

# %%
scan = sensitivity.layer_scan(teacher, x_eval, y_eval, SCAN_SPARSITIES)
full_sens = sensitivity.sensitivity(scan, base_acc)
order = sorted(full_sens, key=full_sens.get)  # most robust first
plots.show_table([{"layer": short(n), "weights": sizes[n],
                   **{f"{100 * s:.0f} %": f"{100 * a:.2f}" for s, a in zip(SCAN_SPARSITIES, scan[n])},
                   "sensitivity (mean drop, points)": f"{100 * full_sens[n]:.2f}"} for n in weights])
print(f"test accuracy (%) with only that layer pruned, {EVAL_SIZE:,} test images; unpruned {100 * base_acc:.2f} %")

# %% [markdown]
# **Spending a size budget.** Which per-layer sparsities remove `SIZE_BUDGET` of all conv and linear weights
# with the least damage? `sensitivity.allocate` answers exactly *over the scanned grid*: each layer gets 0 or one
# of the scanned sparsities, the choices must remove at least the budget, and the rule minimises the **sum of
# the single-layer drops** (a dynamic programme over the layers that keeps only the Pareto-optimal partial
# choices). The sum assumes the layers' damages add up — they need not, so the chosen network is then *measured*,
# beside uniform layer-wise and global pruning at the same size.

# %%
print(inspect.getsource(sensitivity.allocate))
drops = {n: [base_acc - a for a in accs] for n, accs in scan.items()}
allocation = sensitivity.allocate(drops, SCAN_SPARSITIES, sizes, SIZE_BUDGET)
predicted_loss = sum(0 if s == 0 else drops[n][SCAN_SPARSITIES.index(s)] for n, s in allocation.items())
guided_acc = evaluate(masked_copy(sensitivity.allocation_masks(teacher, allocation)), x_eval, y_eval)
removed_share = sum(prune.count(s, sizes[n]) for n, s in allocation.items()) / weight_count
at_budget = {scope: at[scope][SIZE_BUDGET] if SIZE_BUDGET in at[scope] else
             evaluate(masked_copy(prune.magnitude_masks(teacher, SIZE_BUDGET, scope=scope)), x_eval, y_eval)
             for scope in ("layer", "global")}
global_masks = prune.magnitude_masks(teacher, SIZE_BUDGET, scope="global")
plots.show_table([{"rule": label, **{short(n): f"{100 * v[n]:.0f} %" for n in weights},
                   "weights removed": f"{100 * share:.1f} %", "test accuracy": f"{100 * acc:.2f} %"}
                  for label, v, share, acc in (
                      ("uniform layer-wise", {n: SIZE_BUDGET for n in weights}, SIZE_BUDGET, at_budget["layer"]),
                      ("global", {n: 1 - global_masks[n].float().mean().item() for n in weights}, SIZE_BUDGET,
                       at_budget["global"]),
                      ("sensitivity-guided", allocation, removed_share, guided_acc))])

# %%
best_other = max(at_budget, key=at_budget.get)
proxy_off = base_acc - guided_acc > 1.5 * predicted_loss  # the summed single-layer drops badly underestimate
display(Markdown(
    f"At {100 * SIZE_BUDGET:.0f} % of the weights removed, the sensitivity-guided cut keeps "
    f"**{100 * guided_acc:.2f} %**, against {100 * at_budget['layer']:.2f} % for uniform layer-wise and "
    f"{100 * at_budget['global']:.2f} % for global pruning "
    f"({'+' if guided_acc >= at_budget[best_other] else ''}{100 * (guided_acc - at_budget[best_other]):.2f} points "
    f"against the better of the two). It removes {100 * allocation[order[0]]:.0f} % of {short(order[0])} (the most "
    f"robust layer alone) and {100 * allocation[order[-1]]:.0f} % of {short(order[-1])} (the most fragile). The sum "
    f"of the single-layer drops predicted a loss of {100 * predicted_loss:.1f} points; the measured loss is "
    f"{100 * (base_acc - guided_acc):.1f} points"
    + (f": pruning several layers at once costs far more than the sum of pruning each alone. **At this budget the "
       f"single-layer scan is a weak guide**: the rule optimises a prediction that is off by "
       f"{100 * (base_acc - guided_acc - predicted_loss):.0f} points." if proxy_off else
       ": more than the sum predicted — the layers' damages compound." if base_acc - guided_acc > predicted_loss
       else ", no more than the sum predicted.")))

# %% [markdown]
# **Is a hundred images enough to choose?** The scan above used all the evaluation images (the whole test set at
# `standard` scale). A practitioner
# compressing with few samples has only those. Repeat the scan on `FEW_K` = 10 **training** images per class
# (100 images, `data.few_shot_indices`), for several draws, and ask two questions: do the few images *order* the
# layers' sensitivities as the full test set does (Kendall's rank correlation τ: +1 same order, 0 unrelated), and
# does the budget allocation chosen from them lose test accuracy against the one chosen from the full test set?
# (The full-set choice is measured on the same test images it was chosen on, which flatters it slightly; the
# few-shot choices never see the test set.)

# %%
few_sens, taus, few_choices, few_alloc_acc = [], [], [], []
alloc_cache = {tuple(allocation.values()): guided_acc}
for seed in SCAN_SEEDS:
    idx = data.few_shot_indices(y_train, FEW_K, seed=seed)
    few_scan = sensitivity.layer_scan(teacher, x_train[idx], y_train[idx], SCAN_SPARSITIES)
    few_dense = evaluate(teacher, x_train[idx], y_train[idx])
    few_sens.append(sensitivity.sensitivity(few_scan, few_dense))
    taus.append(sensitivity.rank_agreement(few_sens[-1], full_sens))
    choice = sensitivity.allocate({n: [few_dense - a for a in accs] for n, accs in few_scan.items()},
                                  SCAN_SPARSITIES, sizes, SIZE_BUDGET)
    key = tuple(choice.values())
    few_choices.append(key)
    if key not in alloc_cache:  # draws that choose the same cut share one evaluation
        alloc_cache[key] = evaluate(masked_copy(sensitivity.allocation_masks(teacher, choice)), x_eval, y_eval)
    few_alloc_acc.append(alloc_cache[key])
plots.show_table([{"draw (seed)": seed, "Kendall τ vs the test-set scan": f"{tau:+.2f}",
                   "chosen cut, % per layer (conv 0 … head)": " / ".join(f"{100 * s:.0f}" for s in key),
                   "its test accuracy": f"{100 * acc:.2f} %"}
                  for seed, tau, key, acc in zip(SCAN_SEEDS, taus, few_choices, few_alloc_acc)]
                 + [{"draw (seed)": "full test set", "Kendall τ vs the test-set scan": "—",
                     "chosen cut, % per layer (conv 0 … head)": " / ".join(f"{100 * s:.0f}" for s in allocation.values()),
                     "its test accuracy": f"{100 * guided_acc:.2f} %"}])

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
depth = plt.cm.viridis(np.linspace(0, 0.9, len(weights)))  # layers in depth order: a sequential colour map
for c, n in zip(depth, weights):
    axes[0].plot([0] + [100 * s for s in SCAN_SPARSITIES], [100 * base_acc] + [100 * a for a in scan[n]],
                 marker="o", color=c, label=short(n))
axes[0].set(xlabel="sparsity of the one pruned layer (%)", ylabel="test accuracy (%)",
            title=f"Each layer pruned alone ({EVAL_SIZE:,} test images)")
axes[0].grid(alpha=0.3)
axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="pruned layer")
pos = np.arange(len(weights))
few_mean = np.array([np.mean([fs[n] for fs in few_sens]) for n in weights])
few_sd = np.array([np.std([fs[n] for fs in few_sens], ddof=1) if len(few_sens) > 1 else 0 for n in weights])
axes[1].bar(pos - 0.2, [100 * full_sens[n] for n in weights], 0.4, color=plots.color("scan on the test set"),
            label=f"scan on the test set ({EVAL_SIZE:,} images)")
axes[1].bar(pos + 0.2, 100 * few_mean, 0.4, yerr=100 * few_sd, capsize=3, color=plots.color("few-shot scan"),
            label=f"few-shot scan ({10 * FEW_K} training images; mean ± std of {len(SCAN_SEEDS)} draws)")
axes[1].set_xticks(pos, [short(n) for n in weights], rotation=30, ha="right")
axes[1].set(ylabel="sensitivity: mean accuracy drop (points)", title="Layer sensitivity: full test set vs few shots")
axes[1].grid(alpha=0.3, axis="y")
axes[1].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), frameon=False)
fig.tight_layout()
plt.show()

# %%
tau_mean, tau_sd = float(np.mean(taus)), float(np.std(taus, ddof=1)) if len(taus) > 1 else float("nan")
choice_vs = compare([100 * a for a in few_alloc_acc], [100 * guided_acc] * len(few_alloc_acc),
                    names=(f"the cut chosen from {10 * FEW_K} images", "the cut chosen from the full test set"))
order_words = ("almost exactly as" if tau_mean >= 0.9 else "closely as" if tau_mean >= 0.7 else
               "roughly as" if tau_mean >= 0.5 else "differently from")
enough = choice_vs.sign >= 0  # the package's verdict rule: the few-shot choice is not measurably worse
display(Markdown(
    f"Over {len(taus)} draws of {10 * FEW_K} training images, the few-shot scan orders the layers "
    f"{order_words} the full test set does: Kendall **τ = {tau_mean:.2f} ± {tau_sd:.2f}** (mean ± std). The "
    f"budget cut chosen from those images keeps {100 * np.mean(few_alloc_acc):.2f} % on the test set against "
    f"{100 * guided_acc:.2f} % for the cut chosen from the full test set — {choice_vs.verdict} (test accuracy, "
    "points). "
    + ("Read that comparison with care: every cut here minimises the *summed* single-layer drops, and that sum "
       f"missed the full-set cut's real loss by {100 * (base_acc - guided_acc - predicted_loss):.0f} points. Which "
       "of these cuts wins is decided by the error of that prediction, not by the number of images: more images "
       "cannot fix a wrong additive model. " if proxy_off else "")
    + (f"**For this network, {10 * FEW_K} images suffice to rank the layers "
       f"(τ between {min(taus):.2f} and {max(taus):.2f} over the draws) and to choose a cut that is "
       f"{'no worse on the test set' if enough else 'only slightly worse'}**"
       + (" — the limit is the rule that turns the ranking into a cut." if proxy_off else ".")
       if tau_mean >= 0.8 and (enough or -choice_vs.mean < 1) else
       f"**For this network, {10 * FEW_K} images are not enough to choose what to prune as well as the full test "
       f"set does** (τ = {tau_mean:.2f}; the few-shot cut loses {-choice_vs.mean:.2f} points on average).")))

# %% [markdown]
# ## 7. Lab: masks are not speed-ups
#
# Parameter and FLOP counts say what a network *could* cost; the clock says what it costs. We time four versions
# of the teacher on the same batch: the **dense** teacher, a copy with **90 % of its weights masked to zero**
# (layer-wise, as in §5), a **filter-pruned** copy (half the filters of every block, `prune.l1_prune`), and that
# copy after **FSKD** (Li et al. 2020: a 1×1 conv fitted per block on 100 unlabelled images and merged into the
# conv — notebook 05 — so it has exactly the pruned copy's shape). `latency.time_forward` runs each network a few
# times to warm up, then times them interleaved and reports the median.
#
# *Timings depend on the machine, its load, the batch size and the number of threads*: the numbers below are one
# run of the committed notebook on a shared two-core CPU; yours will differ, and only the ratios within one table
# mean anything.

# %%
masked = masked_copy(prune.magnitude_masks(teacher, UNSTRUCTURED_TARGET, scope="layer"))
filter_pruned, kept = prune.l1_prune(teacher, prune.filter_ratios(STRUCTURED_SCHEME, teacher))
few_images = x_train[data.few_shot_indices(y_train, FEW_K, seed=0)]
merged = fskd.fskd(copy.deepcopy(filter_pruned), teacher, few_images, kept=kept, progress=False)
nets = {"dense teacher": teacher, f"{100 * UNSTRUCTURED_TARGET:.0f} % masked (zeros kept)": masked,
        "filter-pruned": filter_pruned, "filter-pruned + FSKD merge": merged}
timing = latency.time_forward(nets, x_test[:LATENCY_BATCH], runs=LATENCY_RUNS, warmup=3)
accuracy = {"dense teacher": base_acc,  # measured above for the first three; the FSKD copy is new
            list(nets)[1]: at["layer"][UNSTRUCTURED_TARGET] if UNSTRUCTURED_TARGET in at["layer"] else
            evaluate(masked, x_eval, y_eval),
            "filter-pruned": rows[1]["_values"][0], list(nets)[3]: evaluate(merged, x_eval, y_eval)}
dense_ms = 1e3 * timing["dense teacher"].median_s
lat_rows = []
for name, net in nets.items():
    t = timing[name]
    q1, q3 = t.quartiles_s
    lat_rows.append({"network": name, "params": models.count_params(net),
                     "non-zero params": models.count_params(net, nonzero=True),
                     "FLOPs (M)": f"{models.count_flops(net) / 1e6:.1f}",
                     "non-zero FLOPs (M)": f"{models.count_flops(net, nonzero=True) / 1e6:.1f}",
                     f"latency, median (ms / {LATENCY_BATCH} images)": f"{1e3 * t.median_s:.1f}",
                     "middle half of runs (ms)": f"{1e3 * q1:.1f}–{1e3 * q3:.1f}",
                     "speed-up": f"{dense_ms / (1e3 * t.median_s):.2f}×", "test accuracy": f"{100 * accuracy[name]:.2f} %"})
plots.show_table(lat_rows)
print(f"{LATENCY_RUNS} timed runs per network after 3 warm-up runs; batch {LATENCY_BATCH}, "
      f"{timing['dense teacher'].threads} CPU threads (torch.get_num_threads())")

# %%
name_masked, name_merged = list(nets)[1], list(nets)[3]
speed = {name: timing["dense teacher"].median_s / timing[name].median_s for name in nets}
flop_cut = {name: models.count_flops(teacher) / models.count_flops(net, nonzero=True) for name, net in nets.items()}
real = lambda v: v >= 1.15  # a speed-up beyond run-to-run noise on a shared CPU
display(Markdown(
    f"**Which savings are real?** The masked copy has {flop_cut[name_masked]:.1f}× fewer non-zero FLOPs and "
    f"{models.count_params(teacher) / models.count_params(masked, nonzero=True):.1f}× fewer non-zero parameters, "
    f"yet runs at {speed[name_masked]:.2f}× the dense speed: "
    + ("a dense kernel multiplies its zeros like any other number, so **the mask saves storage only if the zeros "
       "are compressed, and time only with a sparse kernel or sparse hardware**. "
       if not real(speed[name_masked]) else "a real speed-up on this machine, though far below the FLOP ratio. ")
    + f"The filter-pruned copy has {flop_cut['filter-pruned']:.1f}× fewer FLOPs and runs "
    f"{speed['filter-pruned']:.2f}× faster"
    + (": **a smaller dense network is the saving the clock sees**. " if real(speed["filter-pruned"]) else
       ", not measurably faster on this machine. ")
    + f"FSKD's merge keeps that shape exactly (the same {models.count_params(merged):,} parameters, "
    f"{1e3 * timing[name_merged].median_s:.1f} ms against {1e3 * timing['filter-pruned'].median_s:.1f} ms) and "
    f"brings the accuracy from {100 * accuracy['filter-pruned']:.2f} % to {100 * accuracy[name_merged]:.2f} % using "
    f"{10 * FEW_K} unlabelled images — a repair that costs nothing at inference."))

# %% [markdown]
# ## 8. What the paper reports vs what we measured

# %%
(u_before, u_few, u_full), (s_before, s_few, s_full) = rows[0]["_values"], rows[1]["_values"]
mean = lambda v: 100 * sum(v) / len(v)
b_lo, b_hi = 4, min(BITS)  # 4 bits (in BITS at every scale) and the fewest
display(Markdown(f"""
Rishikesh et al. (IIIT Dharwad report) state that pruning a small six-layer network "with 5x sparsity" (80 % of
its weights removed) kept its accuracy "with minimal reduction", and that pruning worked less well for large
networks; the report gives no table and does not say whether the network was retrained after pruning. On the
course teacher, *without retraining*, 80 % sparsity is far from harmless: layer-wise magnitude pruning keeps
{100 * at['layer'][0.8]:.2f} % and global {100 * at['global'][0.8]:.2f} % against {100 * base_acc:.2f} % unpruned,
and even the sensitivity-guided cut of §6 keeps {100 * guided_acc:.2f} %. Without retraining, "minimal reduction"
at 5× is out of reach for this network; retraining {'comes close' if base_acc - u_full < 0.03 else 'recovers part of it'}: §5's {100 * UNSTRUCTURED_TARGET:.0f} %-sparse
network, fine-tuned for one epoch on {FULL_FT_SIZE:,} images, reaches {100 * u_full:.2f} %
({100 * (base_acc - u_full):.1f} points below the unpruned teacher). Structured pruning and quantization, also without retraining: removing
{100 * FILTER_FRACTIONS[-1]:.0f} % of every block's filters gives {100 * structured_acc[-1]:.2f} %;
{b_lo}-bit per-channel weights give {100 * q_at(b_lo, 'per channel'):.2f} % and {b_hi}-bit per-tensor weights
{100 * q_at(b_hi, 'per tensor'):.2f} %.

Fine-tuning tells the few-shot story. The {100 * UNSTRUCTURED_TARGET:.0f} %-sparse network starts at
{100 * u_before:.2f} %; one epoch on all {FULL_FT_SIZE:,} images brings it to {100 * u_full:.2f} %, while {FEW_K}
images per class give {mean(u_few):.2f} %. The half-width network starts at {100 * s_before:.2f} % and reaches
{100 * s_full:.2f} % with all the data but {mean(s_few):.2f} % with {FEW_K} images per class. (Scale `{SCALE}`; at
`quick` scale these numbers are not meaningful.) With a hundred labelled images, plain fine-tuning leaves a gap of
{100 * u_full - mean(u_few):.1f} points (unstructured) and {100 * s_full - mean(s_few):.1f} points (structured) to
fine-tuning on all the data. The few-shot methods of notebooks 04–06 try to close that gap by using the *teacher*
instead of (or besides) the labels of the same hundred images, and measure how much of it they close.
"""))


# %% [markdown]
# ## 9. Exercises
#
# **Exercise 2 — a magnitude mask by hand.** Write `my_mask(w, sparsity)` returning a boolean tensor that keeps the
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
# **Exercise 3 — quantize by hand.** Write `my_quantize(w, bits)`: symmetric, one scale for the tensor,
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
# **Exercise 4 — predict the size of a pruned network.** Removing half the filters of *every* block of the course
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
# ## Takeaways

# %%
display(Markdown(f"""
1. **Layer-wise and global magnitude pruning cross over.** At {100 * lo:.0f} % sparsity global keeps
   {100 * at['global'][lo]:.2f} % and layer-wise {100 * at['layer'][lo]:.2f} %; at {100 * hi:.0f} % layer-wise keeps
   {100 * at['layer'][hi]:.2f} % and global {100 * at['global'][hi]:.2f} %. The layers' weight scales differ
   {sigma[big] / sigma[small_sd]:.0f}-fold, so one threshold removes {100 * removed[hi][small_sd]:.0f} % of
   {short(small_sd)} at {100 * hi:.0f} %; on std-normalised weights global pruning behaves like layer-wise
   ({100 * normalised[hi]:.2f} % at {100 * hi:.0f} %).
2. **{'Single-layer sensitivities do not add up at high sparsity' if proxy_off else 'Spend a budget where the scan says it is cheap'}.**
   Each layer pruned alone: {short(order[-1])} is the most fragile, {short(order[0])} the most robust. The cut that
   removes {100 * SIZE_BUDGET:.0f} % of the weights with the least *summed* single-layer drop was predicted to lose
   {100 * predicted_loss:.1f} points and lost {100 * (base_acc - guided_acc):.1f}: it keeps {100 * guided_acc:.2f} %,
   against {100 * at_budget['layer']:.2f} % (uniform) and {100 * at_budget['global']:.2f} % (global).
3. **A few images rank the layers {'well' if tau_mean >= 0.8 else 'roughly' if tau_mean >= 0.5 else 'poorly'}**:
   Kendall τ = {tau_mean:.2f} ± {tau_sd:.2f} between {10 * FEW_K}-image scans and the full test set
   ({len(taus)} draws); the cuts they choose keep {100 * np.mean(few_alloc_acc):.2f} % on average
   ({choice_vs.verdict}).
4. **Masks are not speed-ups.** {100 * UNSTRUCTURED_TARGET:.0f} % zeros run at {speed[name_masked]:.2f}× the dense
   speed on this CPU; half the filters run {speed['filter-pruned']:.2f}× faster, and FSKD repairs that network
   ({100 * accuracy['filter-pruned']:.2f} → {100 * accuracy[name_merged]:.2f} %) without changing its cost.
5. **Few labels do not repair a pruned network.** Fine-tuning on {10 * FEW_K} labelled images leaves
   {100 * u_full - mean(u_few):.1f} (unstructured) and {100 * s_full - mean(s_few):.1f} (structured) points to
   fine-tuning on all {FULL_FT_SIZE:,} — the gap notebooks 04–06 try to close with the teacher.
"""))

# %% [markdown]
# **Try next.**
# * Prune iteratively as Han et al. (2015) do — prune 50 %, fine-tune one epoch, prune to 70 %, fine-tune, … —
#   and compare with §5's one-shot 90 % at the same total training.
# * Set `SIZE_BUDGET = 0.6` or `0.7`, where fewer layers are cut deeply, and see whether the summed single-layer
#   drops predict the joint loss better; then replace the sum by a measurement: evaluate the ten best cuts of the
#   grid *jointly* on the 100 few-shot images and keep the best.
# * Scan with `FEW_K = 1` or `3`: how low can the number of images go before Kendall τ drops?
# * Time the networks with `LATENCY_BATCH = 1` (one image, as on a phone) and with `torch.set_num_threads(1)`:
#   which ratios of §7's table survive?
# * Use the scan to choose a *filter* pruning ratio per block (`prune.l1_prune(teacher, {block: ratio})`), as
#   Li et al. (2017, Sec. 3.2) do, and compare with the uniform 50 % scheme.

# %% [markdown]
# ## References
#
# * D. Rishikesh, M. Sravan, S. Ajay Kumar, MSVSS Hanuma. *Compressing Neural Nets.* Student report, IIIT Dharwad
#   (unpublished; no public link) — pruning and quantization as a first stage, the "5x sparsity" claim.
# * S. Han, J. Pool, J. Tran, W. Dally. *Learning both Weights and Connections for Efficient Neural Networks.*
#   NeurIPS 2015. [arXiv:1506.02626](https://arxiv.org/abs/1506.02626) — magnitude pruning, iterative pruning and
#   retraining, per-layer pruning sensitivity.
# * S. Han, H. Mao, W. Dally. *Deep Compression.* ICLR 2016. [arXiv:1510.00149](https://arxiv.org/abs/1510.00149) —
#   pruning, quantization and Huffman coding.
# * H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient ConvNets.* ICLR 2017.
#   [arXiv:1608.08710](https://arxiv.org/abs/1608.08710) — L1-norm filter pruning (Eq. 1), each layer's
#   sensitivity to pruning (Sec. 3.2), the VGG-16 "pruned-A" scheme.
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR
#   2020. [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — FSKD, the merged 1×1 conv of §7 (notebook 05).
# * B. Jacob et al. *Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only
#   Inference.* CVPR 2018. [arXiv:1712.05877](https://arxiv.org/abs/1712.05877); R. Krishnamoorthi. *Quantizing
#   deep convolutional networks for efficient inference: a whitepaper.* 2018.
#   [arXiv:1806.08342](https://arxiv.org/abs/1806.08342) — uniform quantization, per-channel scales.
# * M. G. Kendall. *A New Measure of Rank Correlation.* Biometrika 30 (1938).
#   [doi:10.1093/biomet/30.1-2.81](https://doi.org/10.1093/biomet/30.1-2.81); *The Treatment of Ties in Ranking
#   Problems.* Biometrika 33 (1945). [doi:10.1093/biomet/33.3.239](https://doi.org/10.1093/biomet/33.3.239) —
#   Kendall's τ and τ-b (§6).

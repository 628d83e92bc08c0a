# %% [markdown]
# # 03 · Iterative knowledge distillation: chains, children and ancestors
#
# Notebook 02 distilled a big teacher into a small student in one jump. Yalburgi (*Iterative Knowledge
# Distillation*, unpublished manuscript, 2019) proposes to **compress step by step**: a parent teaches a somewhat
# smaller child, the child becomes the next parent, and the chain stops when the accuracy has dropped too far from
# the original model. It sketches four variants — Parent → Child, Parent → Children (keep the best child, or grow a tree),
# Ancestors → Child (several parents teach one child) and Ancestors → Children — and two ways to shrink a VGG
# (fewer blocks, narrower blocks), but leaves every result as a placeholder: *"x % reduction in memory footprint
# with y % drop in performance"*. This notebook implements every variant, measures them on Fashion-MNIST, fills in
# the sentence, and asks the question the manuscript does not: **does the stepwise path beat a single jump — or
# simply training the small network — when all get the same number of epochs?**
#
# **Learning objectives.** After this notebook you can
# 1. write Yalburgi's loss — KL to the parent plus cross-entropy to the labels, with an optional hint — and run a
#    Parent → Child chain that stops at an accuracy tolerance;
# 2. build ever-smaller students by removing blocks or narrowing them, and read accuracy against parameters;
# 3. explain why several parents are combined by averaging their *probabilities* and not their logits;
# 4. judge a multi-step method fairly: equal training epochs, the same final architecture, mean ± std over seeds.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
DATASET = {"quick": "fashion_mnist", "standard": "fashion_mnist", "paper": "cifar10"}[SCALE]
TEACHER = {"quick": "vgg_fmnist", "standard": "vgg_fmnist", "paper": "vgg16_cifar10"}[SCALE]
N_TRAIN = {"quick": 600, "standard": 5_000, "paper": 50_000}[SCALE]  # training images (a fixed random subset)
N_TEST = {"quick": 500, "standard": 5_000, "paper": 5_000}[SCALE]  # the first test images: reported only
N_VAL = {"quick": 300, "standard": 2_000, "paper": 5_000}[SCALE]  # later test images, unseen by the teacher too:
# selection and stopping
EPOCHS = {"quick": 1, "standard": 2, "paper": 30}[SCALE]  # epochs per generation
AUGMENT = {"quick": False, "standard": False, "paper": 4}[SCALE]  # no augmentation: parents' logits cached once
OPT = {"quick": dict(optimizer="adam", lr=3e-3, weight_decay=0.0),  # Adam: good networks in few epochs
       "standard": dict(optimizer="adam", lr=3e-3, weight_decay=0.0),
       "paper": dict(optimizer="sgd", lr=0.05, weight_decay=5e-4)}[SCALE]
WIDTH_FACTORS = {"quick": [0.5, 0.25], "standard": [0.5, 0.25, 0.125, 0.0625],
                 "paper": [0.5, 0.25, 0.125, 0.0625]}[SCALE]  # "reduce block size", one factor per generation
BLOCK_DROPS = {"quick": [1, 2], "standard": [1, 2, 3], "paper": [2, 4, 6, 8]}[SCALE]  # "reduce number of blocks"
COMPARE_DEPTH = {"quick": 2, "standard": 3, "paper": 3}[SCALE]  # the final architecture of the fair comparison
COMPARE_STRATEGIES = {"quick": ["narrower blocks"], "standard": ["narrower blocks", "fewer blocks"],
                      "paper": ["narrower blocks", "fewer blocks"]}[SCALE]
VARIANT_DEPTH = {"quick": 2, "standard": 2, "paper": 3}[SCALE]  # children / ancestors variants: generations
SEEDS = {"quick": [0], "standard": [0, 1, 2], "paper": [0, 1, 2, 3, 4]}[SCALE]
CHILDREN = {"quick": 2, "standard": 2, "paper": 3}[SCALE]  # Parent -> Children: children per parent
TREE_CHILDREN = 2  # keep="all": every child has its own children, so the tree grows as TREE_CHILDREN ** depth
ANCESTORS = 2  # Ancestors -> Child: parent and grandparent teach together
TOLERANCE = {"quick": 0.5, "standard": 0.10, "paper": 0.02}[SCALE]  # accepted drop in validation accuracy (the
# widget explores others): generous at `standard`, where each child gets only EPOCHS epochs on N_TRAIN images
T, ALPHA, BATCH = 4.0, 0.5, 128  # ALPHA = 0.5: Yalburgi 2019 weighs KL and CE equally

# %%
import inspect
import math
import time

import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display
from torch.nn import functional as F

from fsc_teach import check, data, iterative, models, plots, students, train, zoo
from fsc_teach.scale import get_scale

SCALE = get_scale(SCALE)
clock = {}
x_all, y_all = data.load_tensors(DATASET, train=True)
x_test_all, y_test_all = data.load_tensors(DATASET, train=False)
order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0))
x, y = x_all[order[:N_TRAIN]], y_all[order[:N_TRAIN]]  # the training subset every method shares
test = (x_test_all[:N_TEST], y_test_all[:N_TEST])
val = (x_test_all[N_TEST:N_TEST + N_VAL], y_test_all[N_TEST:N_TEST + N_VAL])  # disjoint from test; the teacher
# never saw it either, so "drop from the teacher" compares like with like (its training images would flatter it)
teacher = zoo.load_teacher(TEACHER)
KW = dict(epochs=EPOCHS, T=T, alpha=ALPHA, batch_size=BATCH, augment=AUGMENT, **OPT)  # every distillation run

start = time.perf_counter()
root = iterative.make_root(teacher, x, val, test)  # generation 0: frozen copy, measured, logits on x cached once
clock["teacher logits"] = time.perf_counter() - start
print(f"teacher {TEACHER}: widths {root.widths}, {root.params:,} params, {root.flops / 1e6:.1f} M FLOPs")
print(f"teacher accuracy: validation {100 * root.val_acc:.2f} % ({N_VAL:,} images), "
      f"test {100 * root.test_acc:.2f} % ({N_TEST:,} images); training subset: {N_TRAIN:,} images")

# %% [markdown]
# ## 1. The loss and the parents
#
# Yalburgi (2019, §4.3) trains every child with
#
# $$\mathcal{L} \;=\; \mathrm{KL}\big(\text{Parent} \,\|\, \text{Child}\big) \;+\; \mathrm{CE}\big(y, \hat y\big),$$
#
# and its abstract adds a third term, "a hint from the teacher model". We write it as Hinton's loss (notebook 02)
# plus an optional FitNets-style hint (notebook 04):
#
# $$\mathcal{L} = \alpha\,T^2\,\mathrm{KL}\!\left(\mathrm{softmax}(z_p/T)\,\big\|\,\mathrm{softmax}(z_c/T)\right)
# + (1-\alpha)\,\mathrm{CE}(y, z_c) + \beta\,\big\|\,r(h_c) - h_p\big\|^2 ,$$
#
# with $\alpha = 1/2$ (Yalburgi's equal weights, up to a factor 2), $T = 4$, and the hint — a 1x1 regressor $r$
# from the child's last block $h_c$ to the parent's $h_p$ — switched on by `hint_block=-1`. The factor $T^2$ keeps
# the soft term's gradient independent of $T$ (notebook 02).
#
# **Several parents (Ancestors → Child).** The soft target is the *average of the parents' probabilities*,
# $\bar p = \frac1m\sum_k \mathrm{softmax}(z_k/T)$. We hand `kd_loss` the "logits" $T\log\bar p$, whose softmax at
# temperature $T$ is exactly $\bar p$:

# %%
print(inspect.getsource(iterative.ensemble_logits))

# %% [markdown]
# Why not average the logits? $\mathrm{softmax}(\frac1m\sum_k z_k/T)$ is the normalised **geometric** mean of the
# parents' distributions: a class that one parent rules out is crushed even if the others find it likely, and the
# result is sharper than any parent. Averaging probabilities is a mixture — every parent's belief counts with
# weight $1/m$. Two parents that disagree about the top class show the difference:

# %%
# NBVAL_CHECK_OUTPUT
z_a = torch.tensor([[4.0, 2.0, -4.0]])  # parent A: class 0, class 1 plausible
z_b = torch.tensor([[-4.0, 2.0, 4.0]])  # parent B: class 2, class 1 plausible
for label, target in [("parent A", F.softmax(z_a, 1)), ("parent B", F.softmax(z_b, 1)),
                      ("mean of probabilities", F.softmax(iterative.ensemble_logits([z_a, z_b], 1.0), 1)),
                      ("softmax of mean logits", F.softmax((z_a + z_b) / 2, 1))]:
    print(f"{label:<24}", " ".join(f"{p:.3f}" for p in target[0].tolist()))

# %% [markdown]
# Both parents give class 1 only a modest probability, yet the logit average makes it the clear favourite — a
# confident target that neither parent holds. The mixture keeps each parent's view: half its mass on class 0,
# half on class 2, class 1 still modest.
#
# Every parent is deep-copied and frozen (`eval()`, no gradients) before it teaches, and `teach` refuses a child
# that *is* a parent — a bug a popular library shipped in its Born-Again networks (Furlanello et al., ICML 2018).
# Without augmentation and hint, a parent's logits on the training images are computed once and reused by every
# child and every epoch: exact, because the child sees exactly those images.

# %%
print(f"iterative.teach{inspect.signature(iterative.teach)}\n    \"\"\"{iterative.teach.__doc__}\"\"\"")

# %% [markdown]
# ## 2. Parent → Child chains with both shrinking strategies
#
# Yalburgi (2019, §4.2) shrinks a VGG in two ways. **Narrower blocks**: every block keeps its place but gets
# `factor` times the channels (`students.shrink_width`). **Fewer blocks**: one conv is removed per generation, from the deepest
# stage first, so every pool and the head stay (`students.shrink_blocks`). The schedules:

# %%
schedules = {"narrower blocks": [students.shrink_width(teacher, f) for f in WIDTH_FACTORS],
             "fewer blocks": [students.shrink_blocks(teacher, d) for d in BLOCK_DROPS]}
rows = []
for strategy, builders in schedules.items():
    for depth, build in enumerate(builders, start=1):
        net = build()
        rows.append({"strategy": strategy, "generation": depth, "widths": ",".join(map(str, net.widths)),
                     "params": models.count_params(net),
                     "memory saved": f"{100 * (1 - models.count_params(net) / root.params):.1f} %",
                     "FLOPs (M)": f"{models.count_flops(net, tuple(x.shape[1:])) / 1e6:.2f}"})
plots.show_table(rows)

# %% [markdown]
# We run each chain to the end of its schedule with an infinite tolerance and `EPOCHS` epochs per generation. A
# run with a finite tolerance trains exactly the same children (their seeds do not depend on it) and stops at the
# first child whose validation accuracy is more than the tolerance below the teacher's, so
# `iterative.stopping_point(chain, tolerance)` reads any tolerance's stopping point off one full run (the tests
# check this against real runs).

# %%
start = time.perf_counter()
chains = {strategy: iterative.iterative_distill(root, builders, x, y, val, test, tolerance=math.inf, seed=0, **KW)
          for strategy, builders in schedules.items()}
clock["chains"] = time.perf_counter() - start
for strategy, chain in chains.items():
    print(f"{strategy} (stopping point at tolerance {100 * TOLERANCE:.1f} points: "
          f"generation {iterative.stopping_point(chain, TOLERANCE)})")
    plots.show_table(iterative.generation_table(chain))

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
for (strategy, chain), color in zip(chains.items(), ["tab:blue", "tab:orange"]):
    stop = iterative.stopping_point(chain, TOLERANCE)
    ax.plot([g.params for g in chain], [100 * g.test_acc for g in chain], marker="o", color=color, label=strategy)
    for g in chain:
        ax.annotate(g.name, (g.params, 100 * g.test_acc), textcoords="offset points", xytext=(4, 4), fontsize=7)
    kept = chain[stop]
    ax.scatter([kept.params], [100 * kept.test_acc], marker="*", s=300, color=color, edgecolor="black", zorder=5,
               label=f"{strategy}: stops at {kept.name} (tolerance {100 * TOLERANCE:.0f} points)")
ax.axhline(100 * root.test_acc, color="grey", ls=":", label=f"teacher ({100 * root.test_acc:.2f} %)")
ax.set(xscale="log", xlabel="parameters (log scale)", ylabel="test accuracy (%)",
       title=f"Parent → Child chains, {EPOCHS} epoch(s) per generation on {N_TRAIN:,} images")
ax.invert_xaxis()
ax.grid(alpha=0.3)
ax.legend(fontsize=8, loc="lower left")
fig.tight_layout()
plt.show()


# %% [markdown]
# Read the figure from left (the teacher) to right (ever smaller children). The stars mark the last generation a
# run with the default tolerance keeps; it stops on the validation accuracy, the figure shows test accuracy.
#
# ## 3. Explore: where does the chain stop?
#
# Move the tolerance (in a live notebook) to see which generations survive. Bars are each generation's drop in
# validation accuracy below the teacher; the dashed line is the tolerance. Executed copies show the default.

# %%
def show_stopping(tolerance: float = TOLERANCE):
    fig, axes = plt.subplots(1, len(chains), figsize=(11, 3.4), sharey=True)
    for ax, (strategy, chain) in zip(axes, chains.items()):
        stop = iterative.stopping_point(chain, tolerance)
        drops = [100 * (root.val_acc - g.val_acc) for g in chain[1:]]
        colors = ["tab:green" if g.depth <= stop else ("tab:red" if g.depth == stop + 1 else "lightgrey")
                  for g in chain[1:]]
        ax.bar([f"{g.name}\n{g.params / 1e3:.0f}k" for g in chain[1:]], drops, color=colors)
        ax.axhline(100 * tolerance, color="black", ls="--")
        kept = chain[stop]
        ax.set(title=f"{strategy}: keeps {kept.name}, {100 * (1 - kept.params / root.params):.0f} % memory saved",
               ylabel="drop in val. accuracy (points)")
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"tolerance {100 * tolerance:.1f} points: green kept, red trained and rejected, grey never trained",
                 fontsize=9)
    fig.tight_layout()
    plt.show()


plots.explore(show_stopping, tolerance=plots.Slider(0.0, max(0.2, TOLERANCE), 0.005, TOLERANCE))

# %% [markdown]
# ## 4. Does the stepwise path help? Chain vs direct distillation vs scratch, at equal epochs
#
# A chain of $D$ generations spends $D \times$ `EPOCHS` epochs. The fair comparison gives the same number of epochs
# to the **final architecture** (the chain's generation $D$) trained (a) by **direct distillation** from the
# original teacher and (b) **from scratch** with cross-entropy — same training images, same optimiser and
# schedule; for a given seed (a) and (b) even start from the same initial weights. Note what "equal epochs"
# means for the chain: its final child trains for only `EPOCHS` of the `COMPARE_DEPTH × EPOCHS` epochs; the others
# went into its ancestors. Over several seeds (`quick` runs the narrower-blocks schedule only):

# %%
start = time.perf_counter()
total_epochs = COMPARE_DEPTH * EPOCHS
fit_kw = dict(batch_size=BATCH, augment=AUGMENT, progress=False, **OPT)
compare = {}
for strategy in COMPARE_STRATEGIES:
    builders = schedules[strategy]
    final = builders[COMPARE_DEPTH - 1]
    res = {k: [] for k in ("chain", "direct", "scratch", "chain by depth", "chain s", "direct s", "scratch s")}
    for seed in SEEDS:
        chain = chains[strategy] if seed == 0 else iterative.iterative_distill(
            root, builders[:COMPARE_DEPTH], x, y, val, test, tolerance=math.inf, seed=seed, progress=False, **KW)
        res["chain"].append(chain[COMPARE_DEPTH].test_acc)
        res["chain by depth"].append([g.test_acc for g in chain[:COMPARE_DEPTH + 1]])
        res["chain s"].append(sum(g.seconds for g in chain[1:COMPARE_DEPTH + 1]))
        t0 = time.perf_counter()
        direct, _ = iterative.teach([teacher], final, x, y, seed=seed, parent_logits=[root.logits],
                                    **{**KW, "epochs": total_epochs}, progress=False)
        res["direct"].append(train.evaluate(direct, *test, batch_size=256))
        res["direct s"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        torch.manual_seed(seed)
        scratch = final()
        train.fit(scratch, x, y, epochs=total_epochs, seed=seed, **fit_kw)
        res["scratch"].append(train.evaluate(scratch, *test, batch_size=256))
        res["scratch s"].append(time.perf_counter() - t0)
    compare[strategy] = res
clock["comparison"] = time.perf_counter() - start
cmp_rows = []
for strategy, res in compare.items():
    net = schedules[strategy][COMPARE_DEPTH - 1]()
    cmp_rows.append({"strategy": strategy, "final widths": ",".join(map(str, net.widths)),
                     "params": models.count_params(net), "epochs (each)": total_epochs,
                     f"chain, {COMPARE_DEPTH} steps": plots.mean_std(res["chain"]),
                     "direct KD from teacher": plots.mean_std(res["direct"]),
                     "scratch (CE only)": plots.mean_std(res["scratch"]),
                     "train time chain / direct / scratch (s)":
                         " / ".join(f"{sum(res[k]) / len(res[k]):.0f}" for k in ("chain s", "direct s", "scratch s"))})
plots.show_table(cmp_rows)
print(f"test accuracy (%) on {N_TEST:,} images, mean ± std over seeds {SEEDS}; teacher {100 * root.test_acc:.2f} %")


# %% [markdown]
# The chain trains its larger intermediate networks too, so at equal epochs it costs more wall time than the
# other two (last column). The verdict below is computed from the measurements: a gap counts only if it lies
# beyond twice the larger standard deviation over seeds; "within" means no clear difference.

# %%
def verdict(a: list[float], b: list[float]) -> str:
    gap = 100 * (sum(a) / len(a) - sum(b) / len(b))
    noise = 100 * max(torch.tensor(a).std().item() if len(a) > 1 else 0.0,
                      torch.tensor(b).std().item() if len(b) > 1 else 0.0)
    if len(a) < 2:
        return f"{gap:+.2f} points (one seed: no verdict)"
    return f"{gap:+.2f} points ({'beyond' if abs(gap) > 2 * noise else 'within'} twice the seed spread of " \
           f"{noise:.2f})"


display(Markdown("\n".join(
    f"* **{s}**: chain minus direct KD {verdict(r['chain'], r['direct'])}; chain minus scratch "
    f"{verdict(r['chain'], r['scratch'])}; direct KD minus scratch {verdict(r['direct'], r['scratch'])}."
    for s, r in compare.items())))

# %% [markdown]
# ## 5. Children and ancestors
#
# Yalburgi's other three variants, on the first `VARIANT_DEPTH` generations of the narrower-blocks schedule,
# seed 0, against the plain chain's generation `VARIANT_DEPTH` over the seeds of section 4:
#
# * **Parent → Children, keep best**: `CHILDREN` children per generation (different seeds); the one with the best
#   validation accuracy becomes the next parent.
# * **Parent → Children, keep all**: every child teaches `TREE_CHILDREN` children of its own — a tree. We report
#   its best final leaf (chosen on validation) and the probability-averaging **ensemble of all final leaves**.
# * **Ancestors → Child**: the parent and the grandparent teach together (`ANCESTORS = 2`, averaged probabilities).
# * **Ancestors → Children**: both, keeping the best child.
# * And Yalburgi's **three-term loss**: the plain chain with the hint on the last block (`hint_block=-1`).

# %%
start = time.perf_counter()
narrow = schedules["narrower blocks"][:VARIANT_DEPTH]
variant_runs = {
    f"Parent → Children, keep best ({CHILDREN})": dict(children=CHILDREN, keep="best"),
    f"Parent → Children, keep all (tree of {TREE_CHILDREN})": dict(children=TREE_CHILDREN, keep="all"),
    f"Ancestors ({ANCESTORS}) → Child": dict(ancestors=ANCESTORS),
    f"Ancestors ({ANCESTORS}) → Children, keep best ({CHILDREN})": dict(ancestors=ANCESTORS, children=CHILDREN),
    "Parent → Child + hint (three-term loss)": dict(hint_block=-1),
}
variants = {name: iterative.iterative_distill(root, narrow, x, y, val, test, tolerance=math.inf, seed=0,
                                              progress=False, **{**KW, **opts})
            for name, opts in variant_runs.items()}
clock["variants"] = time.perf_counter() - start
chain_final = [accs[VARIANT_DEPTH] for accs in compare["narrower blocks"]["chain by depth"]]
var_rows = [{"variant": f"Parent → Child chain ({len(SEEDS)} seeds)", "models trained": VARIANT_DEPTH,
             "final test acc": plots.mean_std(chain_final), "ensemble of final children": "—"}]
for name, gens in variants.items():
    finals = [g for g in gens if g.depth == VARIANT_DEPTH]
    best = max(finals, key=lambda g: g.val_acc)
    ens = iterative.Ensemble([g.model for g in finals], T=1.0)
    var_rows.append({"variant": name, "models trained": len(gens) - 1,
                     "final test acc": plots.mean_std([best.test_acc]),
                     "ensemble of final children": plots.mean_std([train.evaluate(ens, *test)]) if len(finals) > 1
                     else "—"})
plots.show_table(var_rows)
print(f"final architecture: widths {narrow[-1]().widths}; best final child chosen on validation accuracy")

# %% [markdown]
# The variants ran once (seed 0): read them against the chain's spread over seeds in the first row. An ensemble of
# final children is *several* small networks — it costs their summed parameters and FLOPs at inference, so it is
# no longer the compressed model; it shows how much the children disagree.

# %%
chain_mean = sum(chain_final) / len(chain_final)
chain_sd = torch.tensor(chain_final).std().item() if len(chain_final) > 1 else 0.0
var_summary = []
for name, gens in variants.items():
    best = max((g for g in gens if g.depth == VARIANT_DEPTH), key=lambda g: g.val_acc)
    gap = 100 * (best.test_acc - chain_mean)
    spread = ("one seed: no verdict" if len(SEEDS) < 2 else
              f"{'beyond' if abs(gap) > 200 * chain_sd else 'within'} twice its seed spread of {100 * chain_sd:.2f}")
    var_summary.append(f"* {name}: {gap:+.2f} points vs the chain's mean ({spread}).")
display(Markdown("\n".join(var_summary)))

# %% [markdown]
# ## 6. What the paper reports vs what we measured

# %%
sentences = []
for strategy, chain in chains.items():
    kept = chain[iterative.stopping_point(chain, TOLERANCE)]
    saved, drop = 100 * (1 - kept.params / root.params), 100 * (1 - kept.test_acc / root.test_acc)
    points = 100 * (root.test_acc - kept.test_acc)
    sentences.append(
        f"**{strategy}**: the chain keeps {kept.name} (widths {kept.widths}): **{saved:.1f} % reduction in memory "
        f"footprint** ({root.params:,} → {kept.params:,} parameters; FLOPs {root.flops / 1e6:.1f} M → "
        f"{kept.flops / 1e6:.2f} M) **with a {drop:.1f} % drop in performance** (test accuracy "
        f"{100 * root.test_acc:.2f} % → {100 * kept.test_acc:.2f} %, {points:.2f} points)")
m = lambda v: 100 * sum(v) / len(v)
equal_epochs = "; ".join(f"{strategy}: chain {m(r['chain']):.2f} %, direct distillation {m(r['direct']):.2f} %, "
                         f"from scratch {m(r['scratch']):.2f} %" for strategy, r in compare.items())
display(Markdown(f"""
Yalburgi (2019) reports no numbers: the manuscript's abstract promises that iterative distillation "can compress
original Deep-CNN model with x % reduction in memory footprint with y % drop in performance", for VGG-16/19 on
MNIST and CIFAR-10, and its results section is empty. On `{DATASET}`, with the teacher `{TEACHER}`, {N_TRAIN:,} training
images, {EPOCHS} epoch(s) per generation and a tolerance of {100 * TOLERANCE:.1f} points of validation accuracy,
we measured:

* {sentences[0]};
* {sentences[1]}.

The manuscript suggests that the stepwise path "at times increases the performance" of the children. At equal epochs
({COMPARE_DEPTH * EPOCHS} in all) on the same final network, mean over {len(SEEDS)} seed(s): {equal_epochs}
(section 4 states which gaps exceed the spread over seeds). Two cautions: every child here is trained for only
{EPOCHS} epoch(s) on {N_TRAIN:,} images, so part of each drop is under-training rather than lost capacity, and the
chain pays for training its intermediate networks (its wall time in section 4). Scale `{SCALE}`; at `quick` scale
the numbers are not meaningful.
"""))


# %% [markdown]
# ## 7. Exercises
#
# **Exercise 1 — the ensemble target.** Write `my_mean_probs(logits_list, T)` returning the `(B, classes)` average
# of the parents' temperature-`T` probabilities, and check that it is what `ensemble_logits` encodes.

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_mean_probs(logits_list, T):
    ### BEGIN SOLUTION
    return torch.stack([F.softmax(z / T, dim=1) for z in logits_list]).mean(0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# NBVAL_CHECK_OUTPUT
zs = [torch.randn(4, 10, generator=torch.Generator().manual_seed(k)) * 3 for k in range(3)]
check.close(check.runs(my_mean_probs, zs, 4.0), F.softmax(iterative.ensemble_logits(zs, 4.0) / 4.0, dim=1),
            what="my_mean_probs is the ensemble's soft target", atol=1e-6,
            hint="softmax each parent's z / T over dim 1, stack them, average over the parents (dim 0)")


# %% [markdown]
# **Exercise 2 — the stopping rule.** Given the teacher's validation accuracy and the validation accuracies of a
# chain's generations 1, 2, ..., write `my_stop(teacher_acc, child_accs, tolerance)` returning the depth of the
# last generation the chain keeps (0 if even the first child drops more than the tolerance).

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_stop(teacher_acc, child_accs, tolerance):
    ### BEGIN SOLUTION
    depth = 0
    for acc in child_accs:
        if teacher_acc - acc > tolerance:
            break
        depth += 1
    return depth
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# NBVAL_CHECK_OUTPUT
chain = chains["narrower blocks"]
tolerances = [-1.0, 0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0]
mine = [check.runs(my_stop, root.val_acc, [g.val_acc for g in chain[1:]], t) for t in tolerances]
check.equal(mine, [iterative.stopping_point(chain, t) for t in tolerances],
            what="my_stop agrees with iterative.stopping_point at eight tolerances",
            hint="walk the generations in order; stop at the first whose drop teacher_acc - acc exceeds the tolerance")

# %% [markdown]
# **Exercise 3 — memory of a shallower VGG.** `shrink_blocks(teacher, 3)` keeps one conv per stage: widths
# 32, 64, 128 with a 2x2 pool after each, on 28x28 grey images. Count its parameters by hand — conv weights
# $C_\text{out} C_\text{in} \cdot 3 \cdot 3$ (no conv bias: BatchNorm follows), BatchNorm's two per channel, and the
# linear head on the $128 \cdot 3 \cdot 3$ flattened features — and the memory it saves against the 6-block
# teacher.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_params = ...  # your answer: replace the ...
### BEGIN SOLUTION
my_widths, my_cins = [32, 64, 128], [1, 32, 64]
my_params = sum(co * ci * 9 + 2 * co for ci, co in zip(my_cins, my_widths)) + 128 * 3 * 3 * 10 + 10
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# NBVAL_CHECK_OUTPUT
fmnist_teacher = models.vgg_fmnist()
if check.equal(my_params, models.count_params(students.shrink_blocks(fmnist_teacher, 3)()),
               what="parameter count of the 3-block VGG",
               hint="conv: C_out·C_in·9; BatchNorm: 2·C_out; head: 1152·10 weights + 10 biases"):
    print(f"memory saved vs the teacher: {100 * (1 - my_params / models.count_params(fmnist_teacher)):.1f} %")

# %%
print("time per section (s):", {k: round(v) for k, v in clock.items()})

# %% [markdown]
# ## References
#
# * S. Yalburgi. *Iterative Knowledge Distillation.* Unpublished manuscript, 2019 (no public link) — Parent →
#   Child, Parent → Children, Ancestors → Child(ren); fewer or narrower blocks; KL + CE (+ hint) loss.
# * G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* NIPS Deep Learning Workshop
#   2015. [arXiv:1503.02531](https://arxiv.org/abs/1503.02531) — temperature, soft targets, the $T^2$ factor,
#   ensembles as teachers.
# * C. Buciluă, R. Caruana, A. Niculescu-Mizil. *Model Compression.* KDD 2006.
#   [doi:10.1145/1150402.1150464](https://doi.org/10.1145/1150402.1150464); J. Ba, R. Caruana. *Do Deep Nets
#   Really Need to be Deep?* NIPS 2014. [arXiv:1312.6184](https://arxiv.org/abs/1312.6184) — the origins of
#   distillation that Yalburgi cites.
# * A. Romero et al. *FitNets: Hints for Thin Deep Nets.* ICLR 2015. [arXiv:1412.6550](https://arxiv.org/abs/1412.6550)
#   — the hint term and its regressor.
# * T. Furlanello et al. *Born-Again Neural Networks.* ICML 2018. [arXiv:1805.04770](https://arxiv.org/abs/1805.04770)
#   — generations of students teaching the next.
# * S. I. Mirzadeh et al. *Improved Knowledge Distillation via Teacher Assistant.* AAAI 2020.
#   [arXiv:1902.03393](https://arxiv.org/abs/1902.03393) — intermediate-size teachers between a large teacher and a
#   small student: the closest published study of a two-step chain.
# * B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty Estimation using
#   Deep Ensembles.* NIPS 2017. [arXiv:1612.01474](https://arxiv.org/abs/1612.01474) — ensembles that average
#   predicted probabilities.

# %% [markdown]
# # 09 · Few-sample compression of a language model
#
# The methods of notebook 08 were invented for language models: SparseGPT, GPTQ and Wanda compress
# billion-parameter transformers from about a hundred calibration sequences, and pruning followed by distillation on
# few tokens builds small language models from large ones (Minitron, Muralidharan et al. 2024). This notebook does
# it on a laptop: a 0.88-million-parameter byte-level GPT in the shape of Karpathy's nanoGPT, trained once on a
# pinned subset of CPython's standard-library source (`fsc_teach.corpus`) and committed with the course's teachers.
# Every Linear layer of its four transformer blocks is pruned or quantized from a few calibration sequences of 128
# bytes, and scored by its loss on the whole validation split.
#
# **Learning objectives.** After this notebook you can
# 1. measure a language model by its next-byte loss in nats per byte (and perplexity), and read sample generations;
# 2. apply the Gram-matrix methods of notebook 08 — magnitude, Wanda, SparseGPT (unstructured and 2:4), round to
#    nearest and GPTQ — to every Linear layer of a transformer, and compare them with the course's paired rule;
# 3. say how many calibration sequences are enough, and whether they must come from the model's own domain (the
#    language-model version of FSKD's Table 7 question);
# 4. choose the calibration inputs of each layer (dense model, compressed model, or the asymmetric target — cross
#    distillation's three connection patterns), and recover a pruned model by distillation on the calibration
#    sequences alone;
# 5. check the premise behind Wanda's LLM results (outlier features) on a small model, and say what a 0.9 M model
#    does and does not tell you about 175-billion-parameter ones.

# %% tags=["parameters"]
import os

SCALE = os.environ.get("FSC_SCALE", "standard")  # "quick" | "standard" | "paper"
N_MAIN = None  # calibration sequences of the main comparisons (None: the scale's, 128 at standard)

# %% [markdown]
# **Settings.** The per-scale numbers: calibration sizes, draws, and how much of the validation split is scored
# (all of it from `standard` on; a prefix at `quick`, a smoke test).

# %%
import copy
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from fsc_teach import benchmark, check, layerwise, lm, models, plots, text, zoo
from fsc_teach import reconstruct as rc
from fsc_teach.protocol import compare
from fsc_teach.scale import get_scale, pick

SCALE = get_scale(SCALE)
DRAWS = pick(SCALE, (0, 1), (0, 1, 2, 3, 4))  # calibration draws: the same sequences for every method
CURVE_DRAWS = DRAWS[:2]  # draws of the calibration-size curve (a description)
NS = pick(SCALE, (8, 32), (8, 32, 128, 512))  # calibration sequences
N_MAIN = N_MAIN or pick(SCALE, 32, 128)
VAL_BYTES = pick(SCALE, 10_000, None)  # bytes of the validation split scored (None: all of it)
LENGTH = 128  # bytes per calibration sequence: the model's context
KD_STEPS = pick(SCALE, 5, 40)  # distillation steps of section 7
RESULTS = Path("..") / ("results" if SCALE == "standard" else "build") / f"lm-{SCALE}.csv"

torch.manual_seed(0)
teacher = zoo.load_teacher("gpt_pystdlib").eval()
val = text.load_split("validation")
val = val if VAL_BYTES is None else val[:VAL_BYTES]
cal_code, cal_prose = text.load_split("calibration"), text.load_split("prose")
SOURCES = {"code": cal_code, "prose": cal_prose}
LINEARS = [f"blocks.{b}.{n}" for b in range(len(teacher.blocks))
           for n in ("attn.q", "attn.k", "attn.v", "attn.proj", "mlp.fc", "mlp.proj")]


def calibration(n, seed, source="code"):
    """n sequences of LENGTH bytes from a calibration text, drawn by seed (the same for every method)."""
    return text.sample_sequences(SOURCES[source], n, LENGTH, seed=seed)


def loss_of(model):
    """Mean nats per byte on the validation split (every byte predicted once, from up to 128 bytes of context)."""
    return lm.evaluate_lm(model, val)


start = time.perf_counter()
dense_loss = loss_of(teacher)
eval_secs = time.perf_counter() - start
print(f"gpt_pystdlib: {models.count_params(teacher):,} parameters, {len(LINEARS)} Linear layers in its blocks; "
      f"validation: {len(val):,} bytes, {dense_loss:.4f} nats/byte (perplexity {lm.perplexity(dense_loss):.2f}; "
      f"uniform guessing {lm.UNIFORM_LOSS:.3f}); one evaluation takes {eval_secs:.1f} s here")

# %% [markdown]
# ## 1. The model, its loss, and what it writes
#
# The loss is the mean of $-\ln p(x_{t+1}\mid x_{\le t})$ over every byte of the validation files, in **nats per
# byte**; $e^{\text{loss}}$ is the perplexity (the number of equally likely bytes the model is, on average, choosing
# between), and loss $/\ln 2$ is bits per byte — what a compressor driven by this model would need. A model that
# knows nothing scores $\ln 256 \approx 5.55$. Below, the teacher continues two prompts (temperature 0.8, seed 0).

# %%
PROMPTS = (b"def ", b"import os\n\n")
for prompt in PROMPTS:
    out = lm.generate(teacher, prompt, pick(SCALE, 40, 200), temperature=0.8, seed=0)
    print(f"--- prompt {prompt!r}:\n{out.decode('utf-8', 'replace')}\n")

# %% [markdown]
# ## 2. Wanda's premise: outlier features
#
# Wanda scores a weight by $|W_{ij}|\cdot\lVert X_{:,j}\rVert$. Sun et al. explain why that works for LLMs: a few input
# features of large language models have magnitudes orders of magnitude above the rest (Dettmers et al. 2022), so
# the diagonal of $H$ alone separates the inputs that matter. Does this small model have them? For each Linear
# layer, the ratio of its largest input-feature norm $\lVert X_{:,j}\rVert$ to the median one, on the main calibration
# draw, and the share of $H$'s norm off its diagonal (notebook 08's measure).

# %%
x0 = calibration(N_MAIN, DRAWS[0])[:, :-1]
with torch.no_grad():
    hs = [models.block_input(teacher, x0, b) for b in range(len(teacher.blocks))]
feature_rows = []
for name in LINEARS:
    b, layer = int(name.split(".")[1]), name.split(".", 2)[2]
    with torch.no_grad():
        X = rc.layer_inputs(teacher.get_submodule(name), models.linear_inputs(teacher.blocks[b], hs[b])[layer])
    norms = X.double().norm(dim=0)
    H = rc.gram(X)
    feature_rows.append({"layer": name, "inputs": X.shape[1],
                         "max / median ‖X_:,j‖": float(norms.max() / norms.median()),
                         "off-diagonal share of H (%)": float(100 * (H - torch.diag(torch.diagonal(H))).norm() / H.norm())})
plots.show_table([{k: (f"{v:.1f}" if isinstance(v, float) else v) for k, v in r.items()} for r in feature_rows])
ratios = [r["max / median ‖X_:,j‖"] for r in feature_rows]
fig, ax = plt.subplots(figsize=(9, 3.2))
ax.bar(range(len(ratios)), ratios, color=plots.color("Wanda"))
ax.axhline(1, color="black", lw=0.8)  # 1: the largest feature is no larger than the median one
ax.set(xticks=range(len(ratios)), ylim=(0, None), ylabel="max / median input norm",
       title="largest input feature relative to the typical one, per Linear layer")
ax.set_xticklabels([n.replace("blocks.", "") for n in LINEARS], rotation=60, fontsize=7)
ax.grid(alpha=0.3, axis="y")
fig.tight_layout()
plt.show()
print(f"max/median input norm: median over layers {np.median(ratios):.1f}, largest {max(ratios):.1f} "
      f"({LINEARS[int(np.argmax(ratios))]})")

# %% [markdown]
# ## 3. Pruning every Linear layer: magnitude, Wanda, SparseGPT
#
# All 24 Linear layers of the blocks (the embeddings and the output layer stay dense, as in the SparseGPT and Wanda
# papers' setups), one block after the other, each calibrated on the inputs the already-pruned model gives it
# (`layerwise.compress_blocks`), from N calibration sequences of 128 bytes of held-out code. Three patterns: 50 %
# and 70 % of every row, and 2:4 (two of every four consecutive weights — the pattern sparse GPU kernels
# accelerate). Magnitude pruning uses no data (one model); Wanda and SparseGPT are run on every draw. Verdicts
# use the course's paired rule on the *negative* loss, so "A beats B" means A's validation loss is lower — by the
# printed amount in **millinats** (thousandths of a nat) per byte.

# %%
PATTERNS = {"50 %": dict(sparsity=0.5), "70 %": dict(sparsity=0.7), "2:4": dict(sparsity=0.5, nm=(2, 4))}
BLOCKS = list(range(len(teacher.blocks)))
records = []  # the rows of results/lm-<scale>.csv


def compressed(method, seqs, *, calibration_pattern="student", **amount):
    """The teacher with every Linear of its blocks compressed on the token sequences seqs (inputs only)."""
    if calibration_pattern == "student":
        model = copy.deepcopy(teacher)
        layerwise.compress_blocks(model, seqs, method, BLOCKS, **amount)
        return model
    return layerwise.compress_model(None, teacher, seqs, method, blocks=BLOCKS, calibration=calibration_pattern,
                                    progress=False, **amount)[0]


kept = {}  # (method, compression, draw) -> (model, seconds): the 70 % models sections 7 and 8 start from


def score_cell(method, what, n, source, seed, keep=False, **kw):
    """Compress (n = 0: no data), score on the validation split, record one row; returns the loss (nats/byte)."""
    start = time.thread_time()
    seqs = calibration(n, seed, source)[:, :-1] if n else x0[:1]  # a data-free method ignores its one sequence
    model = compressed(method, seqs, **kw)
    secs = time.thread_time() - start
    if keep:
        kept[method, what, seed] = model, secs
    loss = loss_of(model)
    records.append({"method": NAMES[method], "compression": what, "calibration": kw.get("calibration_pattern",
                    "student"), "n": n, "source": source if n else "", "draw": seed if n else "",
                    "val_loss": round(loss, 5), "seconds": round(secs, 3)})
    return loss


NAMES = {"magnitude": "magnitude", "wanda": "Wanda", "sparsegpt": "SparseGPT", "rtn": "RTN", "gptq": "GPTQ"}
prune = {}
for pname, amount in PATTERNS.items():
    mag = score_cell("magnitude", pname, 0, "", 0, keep=pname == "70 %", **amount)
    prune["magnitude", pname] = [mag] * len(DRAWS)  # data-free: the same model for every draw
    for method in ("wanda", "sparsegpt"):
        prune[method, pname] = [score_cell(method, pname, N_MAIN, "code", s, keep=pname == "70 %", **amount)
                                for s in DRAWS]
plots.show_table([{"method": NAMES[m], **{f"{p} (nats/byte)": plots.mean_std(prune[m, p], scale=1, digits=3)
                                           for p in PATTERNS}} for m in ("magnitude", "wanda", "sparsegpt")])
print(f"dense {dense_loss:.3f} nats/byte; {N_MAIN} calibration sequences of code, mean ± std over {len(DRAWS)} "
      "draws (magnitude uses no data)")


def lower(a, b, la, lb):
    """The paired rule on losses: 'A beats B' when A's loss is lower on the same draws (differences in millinats)."""
    return compare([-1000 * v for v in a], [-1000 * v for v in b], names=(la, lb))


v_prune = {(p, a, b): lower(prune[a, p], prune[b, p], NAMES[a], NAMES[b]) for p in PATTERNS
           for a, b in (("sparsegpt", "wanda"), ("wanda", "magnitude"), ("sparsegpt", "magnitude"))}
plots.show_table([{"pattern": p, **{f"{NAMES[a]} vs {NAMES[b]}": v_prune[p, a, b].verdict for a, b in
                                    (("sparsegpt", "wanda"), ("wanda", "magnitude"), ("sparsegpt", "magnitude"))}}
                  for p in PATTERNS])

# %% [markdown]
# ## 4. Quantization: round to nearest vs GPTQ
#
# 3- and 4-bit weights for the same 24 layers, one scale per output row (`reconstruct.rtn_quantize`); GPTQ rounds on
# the same grid with error feedback through $H^{-1}$ (notebook 08, section 3).

# %%
quant = {}
for bits in (3, 4):  # the verdict at 3 bits on every draw; 4 bits, where both are close to dense, on two
    draws = DRAWS if bits == 3 else CURVE_DRAWS
    quant["rtn", bits] = [score_cell("rtn", f"W{bits}", 0, "", 0, bits=bits)] * len(draws)
    quant["gptq", bits] = [score_cell("gptq", f"W{bits}", N_MAIN, "code", s, bits=bits) for s in draws]
plots.show_table([{"method": {"rtn": "RTN", "gptq": "GPTQ"}[m],
                   **{f"W{b} (nats/byte)": plots.mean_std(quant[m, b], scale=1, digits=3) for b in (3, 4)}}
                  for m in ("rtn", "gptq")])
v_quant = {b: lower(quant["gptq", b], quant["rtn", b], "GPTQ", "RTN") for b in (3,)}
display(Markdown("**Paired over the draws:** " + "; ".join(f"W{b}: {v.verdict}" for b, v in v_quant.items())
                 + f"; W4 on {len(CURVE_DRAWS)} draws is a description."))

# %% [markdown]
# ## 5. How many calibration sequences, and from where?
#
# SparseGPT at 50 % and GPTQ at 3 bits from 8 to 512 sequences of held-out **code** (the model's domain) — a
# description on two draws — and, at N = 128 on every draw, SparseGPT calibrated on code against **prose** (the
# English of the same files' docstrings and comments; 54 kB, so 128 windows of it already overlap): FSKD's Table 7
# question, "do the samples have to come from the training distribution?", for a language model. Eight sequences
# give $X$ 1,024 rows, for layers with up to 512 inputs: each $H$ is then estimated from barely twice as many rows
# as it has columns.

# %%
CURVES = {"SparseGPT 50 %": ("sparsegpt", "50 %", dict(sparsity=0.5), prune["sparsegpt", "50 %"], "magnitude 50 %",
                             prune["magnitude", "50 %"]),
          "GPTQ W3": ("gptq", "W3", dict(bits=3), quant["gptq", 3], "RTN W3", quant["rtn", 3])}
curve = {(name, n): (at_main[:len(CURVE_DRAWS)] if n == N_MAIN else  # sections 3 and 4's cells at N_MAIN
                     [score_cell(method, what, n, "code", s, **amount) for s in CURVE_DRAWS])
         for name, (method, what, amount, at_main, _, _) in CURVES.items() for n in NS}
prose = [score_cell("sparsegpt", "50 %", N_MAIN, "prose", s, sparsity=0.5) for s in DRAWS]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for ax, (name, (method, _, _, at_main, free_name, free)) in zip(axes, CURVES.items()):
    ax.errorbar(NS, [np.mean(curve[name, n]) for n in NS], yerr=[np.std(curve[name, n]) for n in NS], marker="o",
                capsize=3, color=plots.color(NAMES[method]), label=f"{name}, code")
    if method == "sparsegpt":
        ax.errorbar([N_MAIN * 1.25], [np.mean(prose)], yerr=[np.std(prose)], marker="s", ls="", capsize=3,
                    color=plots.color("Wanda"), label=f"{name}, prose at N = {N_MAIN} ({len(DRAWS)} draws)")
    ax.axhline(np.mean(free), color=plots.color(free_name.split()[0]), ls=":", label=f"{free_name} (no data)")
    ax.axhline(dense_loss, color=plots.color("teacher"), lw=1, label="dense")
    ax.set(xscale="log", xticks=list(NS), xlabel="calibration sequences of 128 bytes (log)",
           ylabel="validation loss (nats/byte)", title=name)
    ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
fig.suptitle(f"how many calibration sequences, and from where (mean ± std over {len(CURVE_DRAWS)} draws)")
fig.tight_layout()
plt.show()
v_source = {"SparseGPT 50 %": lower(prune["sparsegpt", "50 %"], prose, "code", "prose")}
display(Markdown(f"**N = {N_MAIN}, paired over {len(DRAWS)} draws:** "
                 + "; ".join(f"{k}: {v.verdict}" for k, v in v_source.items()) + "."))

# %% [markdown]
# ## 6. Which inputs should calibrate each layer?
#
# Notebook 08's question on a transformer: SparseGPT at 70 % with each layer's $H$ from the **dense** model's inputs,
# from the **compressed** model's inputs (sections 3–5), or the **asymmetric** target (compressed inputs, the dense
# layer's outputs: cross distillation's no-cross loss, Bai et al. 2020, Eq. 1).

# %%
patterns = {"student": prune["sparsegpt", "70 %"]}
for how in ("teacher", "asymmetric"):
    patterns[how] = [score_cell("sparsegpt", "70 %", N_MAIN, "code", s, sparsity=0.7, calibration_pattern=how)
                     for s in DRAWS]
plots.show_table([{"calibration": f"{how} inputs", "SparseGPT 70 % (nats/byte)":
                   plots.mean_std(v, scale=1, digits=3)} for how, v in patterns.items()])
v_pattern = {(a, b): lower(patterns[a], patterns[b], a, b) for a, b in (("asymmetric", "student"),
                                                                        ("student", "teacher"))}
display(Markdown("**Paired over the draws:** " + "; ".join(v.verdict for v in v_pattern.values()) + "."))

# %% [markdown]
# ## 7. Recovery by distillation on the calibration sequences alone
#
# The few-sample KD story of the seed papers, on a language model: the pruned model is trained to match the dense
# model's next-byte distributions (Hinton et al. 2015's loss, `lm.distill_lm`) at every position of the *same* N
# calibration sequences — no other data — with its zeros held at zero. Two starting points at 70 %: SparseGPT on
# every draw, and the data-free magnitude model (distilled on two draws' sequences: a description).

# %%
recovered = {}
for method in ("magnitude", "sparsegpt"):
    for s in (CURVE_DRAWS if method == "magnitude" else DRAWS):
        pruned, secs = kept[method, "70 %", s if method == "sparsegpt" else 0]  # section 3's model
        model, start = copy.deepcopy(pruned), time.thread_time()
        lm.distill_lm(model, teacher, calibration(N_MAIN, s), steps=KD_STEPS, seed=s, progress=False)
        secs += time.thread_time() - start  # pruning and distillation
        loss = loss_of(model)
        recovered.setdefault(method, []).append(loss)
        records.append({"method": f"{NAMES[method]} + KD", "compression": "70 %", "calibration": "student", "n": N_MAIN,
                        "source": "code", "draw": s, "val_loss": round(loss, 5), "seconds": round(secs, 3)})
plots.show_table([{"start": NAMES[m], "pruned (nats/byte)": plots.mean_std(prune[m, "70 %"], scale=1, digits=3),
                   f"+ KD, {KD_STEPS} steps (nats/byte)": plots.mean_std(recovered[m], scale=1, digits=3)}
                  for m in ("magnitude", "sparsegpt")])
v_kd = {"sparsegpt": lower(recovered["sparsegpt"], prune["sparsegpt", "70 %"], "SparseGPT + KD", "SparseGPT")}
display(Markdown("**Paired over the draws:** " + "; ".join(v.verdict for v in v_kd.values()) + "."))
benchmark.write_table(records, RESULTS, columns=("method", "compression", "calibration", "n", "source", "draw",
                                                 "val_loss", "seconds"))
print(f"{len(records)} rows written to {RESULTS.relative_to(Path('..'))}")

# %% [markdown]
# **What the compressed model writes.** The same prompt and seed, before and after 70 % pruning:

# %%
sample_models = {"dense": teacher, "magnitude 70 %": kept["magnitude", "70 %", 0][0],
                 "SparseGPT 70 %": kept["sparsegpt", "70 %", DRAWS[0]][0]}  # section 3's models (x0: draw 0)
for name, model in sample_models.items():
    print(f"--- {name}:\n{lm.generate(model, PROMPTS[0], pick(SCALE, 40, 160), temperature=0.8, seed=0).decode('utf-8', 'replace')}\n")

# %% [markdown]
# ## 8. At scale: what the published results say, and what this model does not
#
# * **SparseGPT** (Frantar & Alistarh, ICML 2023, [arXiv:2301.00774](https://arxiv.org/abs/2301.00774)): OPT-175B
#   and BLOOM-176B at 50–60 % unstructured sparsity in one shot, under 4.5 hours on one GPU, from 128 sequences of
#   2,048 tokens, with a small perplexity increase; 2:4 costs more than 50 % unstructured; magnitude pruning
#   collapses at that size.
# * **GPTQ** (Frantar et al., ICLR 2023, [arXiv:2210.17323](https://arxiv.org/abs/2210.17323)): 175B-parameter
#   models to 3–4-bit weights in about four GPU hours; round to nearest breaks down at 3 bits.
# * **Wanda** (Sun et al., ICLR 2024, [arXiv:2306.11695](https://arxiv.org/abs/2306.11695)): LLaMA-2-7B at 50 %,
#   perplexity 6.42 against SparseGPT's 6.51, magnitude's 14.89 and the dense model's 5.12 (the Wanda
#   repository's table); its case rests on outlier features (section 2).
# * **Minitron** (Muralidharan et al., NeurIPS 2024, [arXiv:2407.14679](https://arxiv.org/abs/2407.14679)): a 15B
#   model pruned (widths and depth) and retrained by distillation on under 3 % of the original training tokens —
#   section 7's recipe, with far more tokens than a few calibration sequences.
#
# **What this model says, and what it does not.** The methods are the papers' methods and the comparisons are paired
# over the same calibration draws; the model is a real transformer with the layers those methods were built for.
# But it is five orders of magnitude smaller than the models above, its widths are 128 and 512 (not 12,288), and
# it saw about six million bytes in training (1,500 steps of 32 sequences of 128 bytes: about two passes over 2.7 MB of
# code) where LLMs see trillions of tokens — a model with more redundancy may lose less at the same sparsity.
# Section 2 measures whether its features have the outliers that Wanda's argument rests on; the size of the effects
# seen here is not a prediction for a 7B model.
#
# ## 9. Exercises
#
# **Exercise 1 — nats, bits and perplexity.** Write `my_bits_per_byte(nats)` (the loss in bits per byte) and
# `my_perplexity(nats)`. How many bytes would a compressor driven by the dense model need for the validation split?

# %% nbgrader={"grade": false, "grade_id": "ex1-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_bits_per_byte(nats):
    ### BEGIN SOLUTION
    return nats / math.log(2)
    ### END SOLUTION


def my_perplexity(nats):
    ### BEGIN SOLUTION
    return math.exp(nats)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex1-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check.close(check.runs(my_bits_per_byte, math.log(256)), 8.0, what="uniform guessing over 256 bytes is 8 bits per byte",
            hint="divide nats by ln 2")
check.close(check.runs(my_perplexity, dense_loss), lm.perplexity(dense_loss), what="the dense model's perplexity",
            hint="perplexity = e^loss")
mine = check.runs(my_bits_per_byte, dense_loss)
if mine is not None:
    print(f"the dense model would code the {len(val):,} validation bytes in about {mine * len(val) / 8:,.0f} bytes "
          f"({mine:.2f} bits per byte)")

# %% [markdown]
# **Exercise 2 — a 2:4 mask by hand.** Write `my_two_four(w)` that zeros, in every group of four consecutive entries
# of each row of `w`, the two of smallest magnitude (magnitude pruning in the 2:4 pattern). The check compares it
# with `reconstruct.magnitude_prune(w, 0.5, nm=(2, 4))` on the first attention layer.

# %% nbgrader={"grade": false, "grade_id": "ex2-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
def my_two_four(w):
    ### BEGIN SOLUTION
    groups = w.reshape(w.shape[0], -1, 4)
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(2, groups.abs().topk(2, dim=2).indices, True)
    return (groups * keep).reshape_as(w)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ex2-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
w_q = teacher.blocks[0].attn.q.weight.detach()
check.close(check.runs(my_two_four, w_q.clone()), rc.magnitude_prune(w_q, 0.5, nm=(2, 4)), atol=0,
            what="2:4 magnitude pruning of blocks.0.attn.q", hint="topk(2) of |w| in each group of 4 survives");

# %% [markdown]
# **Exercise 3 — predict, then check: code or prose?** Before reading section 5, predict whether SparseGPT at 50 %
# calibrated on 128 sequences of **prose** ends with a lower or a higher validation loss than on 128 sequences of
# **code**, and by more or less than 0.01 nats per byte. Set `my_prediction` to one of `"prose lower"`,
# `"code lower, by less than 0.01"`, `"code lower, by 0.01 or more"`.

# %% nbgrader={"grade": false, "grade_id": "ex3-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
my_prediction = ...  # one of the three strings
### BEGIN SOLUTION
# The instructor's edition reads the measurement (so that it always grades full marks). The reasoning: H describes
# the inputs the layers see; prose and code share bytes and syntax only partly, so a mask fitted to prose fits the
# validation code less well — how much less is what the measurement says.
gap_cp = np.mean(prose) - np.mean(prune["sparsegpt", "50 %"])
my_prediction = "prose lower" if gap_cp < 0 else ("code lower, by 0.01 or more" if gap_cp >= 0.01
                                                  else "code lower, by less than 0.01")
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "ex3-check", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
measured_gap = np.mean(prose) - np.mean(prune["sparsegpt", "50 %"])
truth = "prose lower" if measured_gap < 0 else ("code lower, by 0.01 or more" if measured_gap >= 0.01
                                               else "code lower, by less than 0.01")
print(f"prose − code at N = {N_MAIN}: {measured_gap:+.4f} nats/byte; {v_source['SparseGPT 50 %'].verdict}")
check.equal(my_prediction, truth, what="the effect of calibrating on prose instead of code",
            hint="which inputs does H describe, and which inputs does the validation split feed the layers?");

# %% [markdown]
# ## Takeaways

# %%
p_hi = "70 %"
takeaways = [
    f"**The Gram-matrix methods carry over unchanged** to a transformer's Linear layers: at {p_hi}, SparseGPT "
    f"{np.mean(prune['sparsegpt', p_hi]):.3f}, Wanda {np.mean(prune['wanda', p_hi]):.3f}, magnitude "
    f"{np.mean(prune['magnitude', p_hi]):.3f} nats/byte against the dense {dense_loss:.3f}; "
    f"{v_prune[p_hi, 'sparsegpt', 'wanda'].verdict}; {v_prune[p_hi, 'wanda', 'magnitude'].verdict}.",
    f"**Outlier features are {'present' if max(ratios) > 20 else 'mild'} in this model**: the largest input-feature norm "
    f"is {np.median(ratios):.1f}× the median one in the median layer and {max(ratios):.1f}× at most (section 2)"
    + (" — outliers of the kind Wanda's argument rests on." if max(ratios) > 20 else
       " — not the orders-of-magnitude outliers of LLMs that Wanda's argument rests on, so this model cannot test "
       "that argument."),
    f"**Error feedback pays at 3 bits**: {v_quant[3].verdict}." if v_quant[3].sign > 0 else
    f"**Error feedback does not clearly pay at 3 bits here**: {v_quant[3].verdict}.",
    f"**Calibration data**: {v_source['SparseGPT 50 %'].verdict} for SparseGPT 50 % at N = {N_MAIN}; from "
    f"{NS[0]} to {NS[-1]} code sequences the mean loss goes " + " and ".join(
        f"{np.mean(curve[name, NS[0]]):.3f} → {np.mean(curve[name, NS[-1]]):.3f} nats/byte for {name}"
        for name in CURVES) + f" ({len(CURVE_DRAWS)} draws).",
    f"**Distillation on the calibration sequences alone** ({KD_STEPS} steps): {v_kd['sparsegpt'].verdict}; from "
    f"the data-free magnitude model it goes {np.mean(prune['magnitude', '70 %']):.3f} → "
    f"{np.mean(recovered['magnitude']):.3f} nats/byte (two draws).",
]
display(Markdown("\n".join(f"{i}. {t}" for i, t in enumerate(takeaways, 1))))

# %% [markdown]
# ## Try next
#
# * Prune the MLP layers only, or the attention layers only, at 70 %: which part of a transformer is more sensitive?
#   (Pass the blocks' layers you want to a copy of `compressed`.)
# * Quantize to 2 bits with GPTQ and `act_order=True` (notebook 08's option) and compare with RTN.
# * Give section 7's distillation more steps, or more sequences: where does recovery stop paying?
# * Train the teacher for fewer or more steps — `zoo.train_teacher("gpt_pystdlib", "my_teachers", steps=600)`, then
#   `zoo.load_teacher("gpt_pystdlib", "my_teachers")` (the committed one had 1,500) — and ask whether a
#   better-trained model loses more or less to the same pruning.
#
# ## References
#
# * E. Frantar, D. Alistarh. *SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot.* ICML 2023.
#   [arXiv:2301.00774](https://arxiv.org/abs/2301.00774)
# * E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh. *GPTQ: Accurate Post-Training Quantization for Generative
#   Pre-trained Transformers.* ICLR 2023. [arXiv:2210.17323](https://arxiv.org/abs/2210.17323)
# * M. Sun, Z. Liu, A. Bair, J. Z. Kolter. *A Simple and Effective Pruning Approach for Large Language Models
#   (Wanda).* ICLR 2024. [arXiv:2306.11695](https://arxiv.org/abs/2306.11695)
# * T. Dettmers, M. Lewis, Y. Belkada, L. Zettlemoyer. *LLM.int8(): 8-bit Matrix Multiplication for Transformers at
#   Scale.* NeurIPS 2022. [arXiv:2208.07339](https://arxiv.org/abs/2208.07339) — outlier features.
# * S. Muralidharan et al. *Compact Language Models via Pruning and Knowledge Distillation (Minitron).* NeurIPS 2024.
#   [arXiv:2407.14679](https://arxiv.org/abs/2407.14679)
# * G. Hinton, O. Vinyals, J. Dean. *Distilling the Knowledge in a Neural Network.* 2015.
#   [arXiv:1503.02531](https://arxiv.org/abs/1503.02531) — the loss of section 7.
# * H. Bai, J. Wu, I. King, M. Lyu. *Few Shot Network Compression via Cross Distillation.* AAAI 2020.
#   [arXiv:1911.09450](https://arxiv.org/abs/1911.09450) — the three calibrations of section 6.
# * T. Li, J. Li, Z. Liu, C. Zhang. *Few Sample Knowledge Distillation for Efficient Network Compression.* CVPR 2020.
#   [arXiv:1812.01839](https://arxiv.org/abs/1812.01839) — Table 7, the question of section 5.
# * A. Karpathy. *nanoGPT.* [github.com/karpathy/nanoGPT](https://github.com/karpathy/nanoGPT) — the model's shape.
# * A. Radford, J. Wu, R. Child, D. Luan, D. Amodei, I. Sutskever. *Language Models are Unsupervised Multitask
#   Learners (GPT-2).* 2019. [openai.com](https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)

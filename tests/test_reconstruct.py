"""One Gram matrix: oracles for the layer-wise solvers (OBC, SparseGPT, GPTQ, Wanda) and the model-level pass.

Every expected value is computed here independently: outputs of the layer itself, explicit inverses, restricted
normal equations solved row by row, a column-by-column OBS loop without lazy batches, FSKD's own solver.
"""
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fsc_teach.fskd import solve_pointwise
from fsc_teach.layerwise import CALIBRATIONS, METHODS, compress_blocks, compress_model
from fsc_teach.models import VGG, block_io, conv_inputs, resnet_cifar
from fsc_teach.prune import count
from fsc_teach.quantize import quant_scale
from fsc_teach.reconstruct import (GramAccumulator, asymmetric_target, gptq_quantize, gram, layer_error, layer_inputs,
                                   magnitude_prune, obc_prune, rtn_quantize, sparsegpt_prune, wanda_prune)

from helpers import clear_error, randomise_bn_


def _problem(seed=0, n=400, d=24, out=6, dtype=torch.float64):
    """Correlated inputs ``X`` (a few strong shared directions plus noise), weights ``W`` and ``H = XᵀX / n``."""
    gen = torch.Generator().manual_seed(seed)
    mix = torch.randn(4, d, generator=gen) * 2
    x = torch.randn(n, 4, generator=gen) @ mix + 0.3 * torch.randn(n, d, generator=gen) + 0.5
    w = torch.randn(out, d, generator=gen)
    x, w = x.to(dtype), w.to(dtype)
    return x, w, gram(x)


def _least_squares(w, h, pruned):
    """Per row, the best survivors for the zeros ``pruned``: ``w_S + H_SS⁻¹ H_SP w_P`` (restricted normal equations)."""
    best = torch.zeros_like(w)
    for r in range(w.shape[0]):
        s, p = ~pruned[r], pruned[r]
        best[r, s] = w[r, s] + torch.linalg.solve(h[s][:, s], h[s][:, p] @ w[r, p])
    return best


def _pruners(sparsity, damp=0.01):
    return {"magnitude": lambda w, h: magnitude_prune(w, sparsity),
            "wanda": lambda w, h: wanda_prune(w, h, sparsity),
            "obc": lambda w, h: obc_prune(w, h, sparsity, damp=damp),
            "sparsegpt": lambda w, h: sparsegpt_prune(w, h, sparsity, blocksize=7, damp=damp)}


# ---------------------------------------------------------------------------------------------------------------
# The Gram matrix and the layer's inputs
# ---------------------------------------------------------------------------------------------------------------

def test_layer_error_is_the_mean_squared_output_change():
    x, w, h = _problem()
    w_hat = w + 0.1 * torch.randn_like(w)
    direct = float(((w - w_hat) @ x.T).pow(2).sum()) / len(x)
    assert layer_error(w, w_hat, h) == pytest.approx(direct, rel=1e-10)
    assert layer_error(w, w, h) == 0.0


def test_streaming_gram_equals_one_shot_and_the_cross_gram():
    x, _, h = _problem()
    z = x.flip(1) + 1.0
    acc = GramAccumulator()
    for a, b in ((0, 7), (7, 150), (150, 151), (151, 400)):  # uneven batches, one of a single row
        acc.add(x[a:b].float(), z[a:b].float())
    assert acc.n == len(x)
    torch.testing.assert_close(acc.H, gram(x.float()), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(acc.C, x.float().double().T @ z.float().double() / len(x), rtol=1e-12, atol=1e-12)
    assert acc.H.dtype == torch.float64


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kw", [dict(kernel_size=3, padding=1), dict(kernel_size=3, stride=2, padding=1, bias=True),
                                dict(kernel_size=(3, 2), dilation=2, padding=(2, 0)), dict(kernel_size=3, padding="same"),
                                dict(kernel_size=4, padding="same", dilation=1), dict(kernel_size=1)])
def test_conv_inputs_reproduce_the_conv_exactly(kw):
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, **{"bias": False, **kw}).double()
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    out = conv(x)  # (N, C_out, H_out, W_out)
    rows = layer_inputs(conv, x) @ conv.weight.flatten(1).T + (conv.bias if conv.bias is not None else 0)
    torch.testing.assert_close(rows, out.permute(0, 2, 3, 1).reshape(-1, 5), rtol=1e-12, atol=1e-12)


def test_conv_inputs_of_a_residual_block_upto_its_first_conv_run_no_conv():
    torch.manual_seed(0)
    block = randomise_bn_(resnet_cifar(8)).eval().blocks[1]
    h = torch.randn(2, block.conv1.in_channels, 8, 8)
    every = conv_inputs(block, h)
    torch.testing.assert_close(every["conv2"], F.relu(block.bn1(block.conv1(h))), rtol=0, atol=0)
    assert list(conv_inputs(block, h, "conv1")) == ["conv1"] and conv_inputs(block, h, "conv1")["conv1"] is h
    torch.testing.assert_close(conv_inputs(block, h, "conv2")["conv2"], every["conv2"], rtol=0, atol=0)
    clear_error("conv_inputs", "upto", "a transformer's name", lambda: conv_inputs(block, h, "attn.q"))


def test_linear_inputs_take_every_leading_index_as_a_row():
    lin = nn.Linear(6, 2)
    x = torch.randn(3, 4, 6)
    torch.testing.assert_close(layer_inputs(lin, x) @ lin.weight.T + lin.bias, lin(x).reshape(-1, 2))


# ---------------------------------------------------------------------------------------------------------------
# OBS / OBC: the exact greedy oracle
# ---------------------------------------------------------------------------------------------------------------

def test_obc_removing_one_weight_is_the_closed_form_obs_step():
    x, w, h = _problem(seed=1)
    d = w.shape[1]
    hinv = torch.linalg.inv(h)
    q = (w ** 2 / torch.diagonal(hinv)).argmin(1)
    expected = torch.stack([w[r] - w[r, q[r]] / hinv[q[r], q[r]] * hinv[:, q[r]] for r in range(len(w))])
    got = obc_prune(w, h, 1 / d, damp=0.0)
    assert count(1 / d, d) == 1
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    assert bool((got[torch.arange(len(w)), q] == 0).all())


def test_obc_is_greedy_obs_with_the_inverse_of_the_surviving_inputs():
    """Each step prunes the weight of least saliency ``w_q² / [(H_SS)⁻¹]_qq`` over the survivors ``S`` (explicit
    inverse of the restricted ``H``) and moves the survivors to their least-squares optimum."""
    x, w, h = _problem(seed=3, d=12)
    expected = w.clone()
    for r in range(len(w)):
        alive = torch.ones(12, dtype=torch.bool)
        for _ in range(count(0.75, 12)):
            idx = alive.nonzero().flatten()
            saliency = expected[r, idx] ** 2 / torch.diagonal(torch.linalg.inv(h[idx][:, idx]))
            alive[idx[saliency.argmin()]] = False
            expected[r] = _least_squares(w[r:r + 1], h, ~alive[None])[0]
    torch.testing.assert_close(obc_prune(w, h, 0.75, damp=0.0), expected, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("sparsity", [0.3, 0.5, 0.8])
def test_obc_survivors_are_the_least_squares_optimum_for_its_mask(sparsity):
    x, w, h = _problem(seed=2)
    got = obc_prune(w, h, sparsity, damp=0.0)
    torch.testing.assert_close(got, _least_squares(w, h, got == 0), rtol=1e-8, atol=1e-8)


# ---------------------------------------------------------------------------------------------------------------
# SparseGPT and GPTQ: one sweep, errors fed forward
# ---------------------------------------------------------------------------------------------------------------

def _sequential_obs(w, h, decide):
    """Column by column, no lazy batches: fix column j to ``decide(j, w)``, then the OBS update of columns j… with the
    inverse of ``H`` restricted to them (explicit inverse, no Cholesky)."""
    w = w.clone()
    for j in range(w.shape[1]):
        hinv = torch.linalg.inv(h[j:, j:])
        q = decide(j, w)
        w[:, j:] -= ((w[:, j] - q) / hinv[0, 0])[:, None] * hinv[0][None, :]
    return w


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sparsegpt_error_lies_between_its_masks_optimum_and_magnitude(seed):
    x, w, h = _problem(seed=seed)
    got = sparsegpt_prune(w, h, 0.6, blocksize=8, damp=0.0)
    best = layer_error(w, _least_squares(w, h, got == 0), h)
    assert best - 1e-9 <= layer_error(w, got, h) < layer_error(w, magnitude_prune(w, 0.6), h)


@pytest.mark.parametrize("blocksize", [4, 8, 24, 128])
def test_sparsegpt_is_the_sequential_obs_sweep_whatever_the_lazy_blocksize(blocksize):
    """With an n:m pattern the mask is chosen per group, so the blocksize only batches the updates: same result."""
    x, w, h = _problem(seed=4)
    got = sparsegpt_prune(w, h, 0.5, blocksize=blocksize, damp=0.0, nm=(2, 4))
    pruned = got == 0
    expected = _sequential_obs(w, h, lambda j, cur: cur[:, j].masked_fill(pruned[:, j], 0.0))
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
    assert bool((pruned.view(len(w), -1, 4).sum(2) == 2).all())  # 2 of every 4


def test_with_a_diagonal_h_there_is_no_feedback():
    """``H`` diagonal: ``U`` is diagonal, so GPTQ is round-to-nearest and SparseGPT (one block) is Wanda."""
    _, w, _ = _problem(seed=5)
    h = torch.diag(torch.rand(w.shape[1], generator=torch.Generator().manual_seed(0)) + 0.1).double()
    torch.testing.assert_close(gptq_quantize(w, h, 3), rtn_quantize(w, 3), rtol=0, atol=1e-12)
    torch.testing.assert_close(sparsegpt_prune(w, h, 0.5, blocksize=128, damp=0.0), wanda_prune(w, h, 0.5))


def test_gptq_at_high_precision_returns_w():
    """32 bits: ``W`` to 1e-6. 16 bits: each entry within a few grid steps (max|w| / 32767; the fed-back errors
    move an entry by more than half a step), and the layer error a billionth of the output's energy."""
    _, w, h = _problem(seed=6)
    torch.testing.assert_close(gptq_quantize(w, h, 32), w, rtol=0, atol=1e-6)
    got = gptq_quantize(w, h, 16)
    assert ((got - w).abs() <= 4 * quant_scale(w, 16, per_channel=True)).all()
    assert layer_error(w, got, h) < 1e-9 * layer_error(w, torch.zeros_like(w), h)


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_beats_round_to_nearest_on_its_grid(bits, act_order):
    x, w, h = _problem(seed=7)
    got = gptq_quantize(w, h, bits, blocksize=5, act_order=act_order)
    assert layer_error(w, got, h) < layer_error(w, rtn_quantize(w, bits), h)
    steps = got / quant_scale(w, bits, per_channel=True)  # one scale per row, from the original W
    torch.testing.assert_close(steps, steps.round(), rtol=0, atol=1e-9)
    assert steps.abs().max() <= 2 ** (bits - 1) - 1


@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_sweep_is_the_sequential_obs_rounding(act_order):
    """Lazy blocks of 5 columns give the column-by-column OBS rounding; ``act_order`` runs it in the order of
    decreasing ``H_jj``."""
    x, w, h = _problem(seed=8)
    x[:, 5] *= 4  # a column with a large H_jj goes first with act_order
    h = gram(x)
    order = torch.argsort(torch.diagonal(h), descending=True) if act_order else torch.arange(w.shape[1])
    scale = quant_scale(w, 3, per_channel=True).flatten()
    expected = torch.empty_like(w)
    expected[:, order] = _sequential_obs(w[:, order], h[order][:, order],
                                         lambda j, cur: torch.clamp(torch.round(cur[:, j] / scale), -3, 3) * scale)
    got = gptq_quantize(w, h, 3, blocksize=5, damp=0.0, act_order=act_order)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Wanda, exact sparsity, shared conventions
# ---------------------------------------------------------------------------------------------------------------

def test_wanda_with_isotropic_inputs_is_magnitude_pruning_per_row():
    _, w, _ = _problem(seed=9)
    got = wanda_prune(w, 3.0 * torch.eye(w.shape[1], dtype=w.dtype), 0.5)
    expected = w.clone()
    for r in range(len(w)):
        expected[r, w[r].abs().argsort()[:count(0.5, w.shape[1])]] = 0
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    torch.testing.assert_close(magnitude_prune(w, 0.5), expected, rtol=0, atol=0)


@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.7, 0.95])
@pytest.mark.parametrize("method", ["magnitude", "wanda", "obc", "sparsegpt"])
def test_every_pruner_removes_exactly_the_requested_count_per_row(method, sparsity):
    x, w, h = _problem(seed=10, d=27)  # 27 inputs: 0.5 · 27 = 13.5 rounds up to 14, as prune.count does
    got = _pruners(sparsity)[method](w.float(), h)
    assert ((got == 0).sum(1) == count(sparsity, 27)).all()
    assert got.dtype == torch.float32


@pytest.mark.parametrize("method", ["magnitude", "wanda", "obc", "sparsegpt", "gptq", "rtn"])
def test_input_is_never_modified_and_dead_inputs_are_zeroed(method):
    x, w, _ = _problem(seed=11)
    x[:, 3] = 0  # a dead input: H_33 = 0
    h = gram(x)
    w32 = w.float()
    before = w32.clone()
    run = {**_pruners(0.5, damp=0.0), "gptq": lambda w, h: gptq_quantize(w, h, 3, damp=0.0),
           "rtn": lambda w, h: rtn_quantize(w, 3)}  # no damping: the dead input alone must keep H invertible
    got = run[method](w32, h)
    assert torch.equal(w32, before) and got.dtype == torch.float32 and torch.isfinite(got).all()
    if method in ("obc", "sparsegpt", "gptq"):
        assert bool((got[:, 3] == 0).all())


def test_fskd_solve_is_the_gram_normal_equations():
    """FSKD's Eq. 1 (Li et al., CVPR 2020) is ``asymmetric_target`` with ``W = I``: student features in, teacher's out."""
    gen = torch.Generator().manual_seed(12)
    s = torch.randn(5, 6, 4, 4, generator=gen, dtype=torch.float64)
    t = torch.einsum("oc,nchw->nohw", torch.randn(6, 6, generator=gen, dtype=torch.float64), s) + 0.1 * torch.randn(
        5, 6, 4, 4, generator=gen, dtype=torch.float64)
    rows = lambda f: f.permute(0, 2, 3, 1).reshape(-1, 6)
    acc = GramAccumulator().add(rows(s), rows(t))
    for ridge in (0.0, 1e-3, 0.5):
        q, _ = solve_pointwise(s, t, ridge=ridge, bias=False)
        torch.testing.assert_close(asymmetric_target(torch.eye(6, dtype=torch.float64), acc.H, acc.C, damp=ridge), q,
                                   rtol=1e-9, atol=1e-9)


def test_asymmetric_target_with_equal_inputs_is_w():
    x, w, h = _problem(seed=13)
    torch.testing.assert_close(asymmetric_target(w, h, h, damp=0.01), w, rtol=1e-10, atol=1e-10)


def test_bad_arguments_give_clear_errors():
    _, w, h = _problem()
    clear_error("obc_prune", "W", "1-D", lambda: obc_prune(w[0], h, 0.5))
    clear_error("sparsegpt_prune", "H", "wrong size", lambda: sparsegpt_prune(w, h[:5, :5], 0.5))
    clear_error("gptq_quantize", "H", "nan", lambda: gptq_quantize(w, h * float("nan"), 3))
    clear_error("wanda_prune", "sparsity", "1.0", lambda: wanda_prune(w, h, 1.0))
    clear_error("gptq_quantize", "bits", "1", lambda: gptq_quantize(w, h, 1))
    clear_error("sparsegpt_prune", "blocksize", "0", lambda: sparsegpt_prune(w, h, 0.5, blocksize=0))
    clear_error("sparsegpt_prune", "sparsity", "not n/m", lambda: sparsegpt_prune(w, h, 0.3, nm=(2, 4)))
    clear_error("sparsegpt_prune", "nm", "3 numbers", lambda: sparsegpt_prune(w, h, 0.5, nm=(1, 2, 4)))
    clear_error("obc_prune", "damp", "rank-deficient H, no damping", lambda: obc_prune(w, gram(torch.randn(5, 24)), 0.5, damp=0))
    clear_error("layer_error", "W_hat", "other shape", lambda: layer_error(w, w[:2], h))
    clear_error("layer_inputs", "layer", "grouped conv", lambda: layer_inputs(nn.Conv2d(4, 4, 3, groups=2), torch.randn(1, 4, 5, 5)))
    clear_error("layer_inputs", "x", "channels", lambda: layer_inputs(nn.Conv2d(4, 4, 3), torch.randn(1, 3, 5, 5)))
    clear_error("GramAccumulator.H", "rows", "nothing added", lambda: GramAccumulator().H)
    clear_error("GramAccumulator.add", "others", "only some batches", lambda: GramAccumulator().add(w).add(w, w))


# ---------------------------------------------------------------------------------------------------------------
# compress_model: the layer-wise pass over a network
# ---------------------------------------------------------------------------------------------------------------

def _tiny():
    torch.manual_seed(0)
    teacher = randomise_bn_(VGG([4, 6, 8], pools=[0, 2], in_channels=1, input_size=8)).eval()
    return teacher, torch.randn(12, 1, 8, 8)


@pytest.mark.parametrize("calibration", CALIBRATIONS)
@pytest.mark.parametrize("method", METHODS)
def test_compress_model_runs_and_gives_the_requested_sparsity(method, calibration):
    teacher, x = _tiny()
    dense = copy.deepcopy(teacher.state_dict())
    amount = dict(bits=3) if method in ("rtn", "gptq") else dict(sparsity=0.6)
    student, info = compress_model(None, teacher, x, method, calibration=calibration, head=True, progress=False,
                                   **amount)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in dense.items())  # the teacher is only read
    layers = [b.conv for b in student.blocks] + [student.head[-1]]
    assert [r["layer"] for r in info["layers"]] == ["blocks.0.conv", "blocks.1.conv", "blocks.2.conv", "head"]
    for layer in layers:
        w = layer.weight.flatten(1)
        if "sparsity" in amount:
            assert ((w == 0).sum(1) == count(0.6, w.shape[1])).all()
        else:
            steps = w / quant_scale(w, 3, per_channel=True)
            assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= 3 + 1e-4
    assert torch.isfinite(student(x)).all()


def test_student_calibration_solves_each_layer_on_the_compressed_inputs():
    teacher, x = _tiny()
    student, _ = compress_model(None, teacher, x, "sparsegpt", sparsity=0.5, calibration="student", progress=False)
    ins_s = [h for h, _ in block_io(student, x)]  # block l's input depends only on the (final) blocks before it
    for l, (tb, sb) in enumerate(zip(teacher.blocks, student.blocks)):
        h = gram(layer_inputs(sb.conv, ins_s[l]))
        torch.testing.assert_close(sb.conv.weight.flatten(1), sparsegpt_prune(tb.conv.weight.flatten(1), h, 0.5))


def test_teacher_calibration_solves_each_layer_on_the_dense_inputs():
    teacher, x = _tiny()
    student, _ = compress_model(None, teacher, x, "gptq", bits=3, calibration="teacher", progress=False)
    for (h_t, _), tb, sb in zip(block_io(teacher, x), teacher.blocks, student.blocks):
        h = gram(layer_inputs(tb.conv, h_t))
        torch.testing.assert_close(sb.conv.weight.flatten(1), gptq_quantize(tb.conv.weight.flatten(1), h, 3))


def test_asymmetric_calibration_compresses_the_target_for_student_inputs_and_teacher_outputs():
    teacher, x = _tiny()
    student, _ = compress_model(None, teacher, x, "wanda", sparsity=0.5, calibration="asymmetric", progress=False)
    pairs = zip(block_io(student, x), block_io(teacher, x), teacher.blocks, student.blocks)
    for l, ((h_s, _), (h_t, _), tb, sb) in enumerate(pairs):
        x_s, x_t = layer_inputs(sb.conv, h_s).double(), layer_inputs(tb.conv, h_t).double()
        h, c = x_s.T @ x_s / len(x_s), x_s.T @ x_t / len(x_s)
        w = tb.conv.weight.flatten(1).double()
        lam = 0.01 * torch.diagonal(h).mean()
        target = torch.linalg.solve(h + lam * torch.eye(len(h), dtype=h.dtype), c @ w.T + lam * w.T).T
        if l == 0:  # both networks see the images: the target is the teacher's weight
            torch.testing.assert_close(target, w)
        torch.testing.assert_close(sb.conv.weight.flatten(1).double(), wanda_prune(target, h, 0.5), rtol=1e-4,
                                   atol=1e-6)


def test_compress_model_bad_arguments_give_clear_errors():
    teacher, x = _tiny()
    f = "compress_model"
    clear_error(f, "method", "'prune'", lambda: compress_model(None, teacher, x, "prune", sparsity=0.5))
    clear_error(f, "calibration", "'both'", lambda: compress_model(None, teacher, x, "obc", sparsity=0.5,
                                                                   calibration="both"))
    clear_error(f, "bits", "bits to a pruner", lambda: compress_model(None, teacher, x, "wanda", bits=3))
    clear_error(f, "sparsity", "sparsity to a quantizer", lambda: compress_model(None, teacher, x, "gptq", sparsity=0.5))
    clear_error(f, "nm", "nm to obc", lambda: compress_model(None, teacher, x, "obc", sparsity=0.5, nm=(2, 4)))
    clear_error(f, "blocks", "unsorted", lambda: compress_model(None, teacher, x, "rtn", bits=4, blocks=[2, 1]))
    narrow = VGG([2, 6, 8], pools=[0, 2], in_channels=1, input_size=8)
    clear_error(f, "student", "other widths", lambda: compress_model(narrow, teacher, x, "rtn", bits=4))


# ---------------------------------------------------------------------------------------------------------------
# compress_blocks: the sequential pass for any BlockNet, residual blocks included
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, amount", [("sparsegpt", dict(sparsity=0.5)), ("wanda", dict(sparsity=0.7)),
                                            ("gptq", dict(bits=3))])
def test_compress_blocks_is_compress_model_with_student_calibration_on_a_chain(method, amount):
    teacher, x = _tiny()
    reference, _ = compress_model(None, teacher, x, method, calibration="student", blocks=[1, 2], progress=False,
                                  **amount)
    model = copy.deepcopy(teacher)
    info = compress_blocks(model, x, method, [1, 2], **amount)
    assert [r["layer"] for r in info["layers"]] == ["blocks.1.conv", "blocks.2.conv"]
    for a, b in zip(model.blocks, reference.blocks):
        torch.testing.assert_close(a.conv.weight, b.conv.weight)
    torch.testing.assert_close(model.blocks[0].conv.weight, teacher.blocks[0].conv.weight)  # not in blocks


def test_compress_blocks_reaches_both_convs_of_a_residual_block_each_on_its_compressed_inputs():
    torch.manual_seed(0)
    model = randomise_bn_(resnet_cifar(8)).eval()  # 3 residual blocks, two convs each
    x = torch.randn(6, 3, 32, 32)
    dense = copy.deepcopy(model)
    info = compress_blocks(model, x, "sparsegpt", [0, 1, 2], sparsity=0.5)
    names = [f"blocks.{b}.conv{i}" for b in range(3) for i in (1, 2)]
    assert [r["layer"] for r in info["layers"]] == names
    for n in names:
        w = model.get_submodule(n).weight.flatten(1)
        assert ((w == 0).sum(1) == count(0.5, w.shape[1])).all(), n
    # the last conv was solved on the inputs the compressed model gives it, computed here independently
    with torch.no_grad():
        h = model.blocks[2].conv1(block_io(model, x)[2][0])
        h = F.relu(model.blocks[2].bn1(h))
    last = model.blocks[2].conv2
    torch.testing.assert_close(last.weight.flatten(1),
                               sparsegpt_prune(dense.blocks[2].conv2.weight.flatten(1), gram(layer_inputs(last, h)), 0.5))


def test_compress_blocks_bad_arguments_give_clear_errors():
    teacher, x = _tiny()
    f = "compress_blocks"
    clear_error(f, "blocks", "unsorted", lambda: compress_blocks(teacher, x, "wanda", [2, 1], sparsity=0.5))
    clear_error(f, "blocks", "out of range", lambda: compress_blocks(teacher, x, "wanda", [7], sparsity=0.5))
    clear_error(f, "sparsity", "bits to a pruner", lambda: compress_blocks(teacher, x, "wanda", [0], bits=3))
    clear_error(f, "method", "'prune'", lambda: compress_blocks(teacher, x, "prune", [0], sparsity=0.5))

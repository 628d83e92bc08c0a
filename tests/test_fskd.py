"""FSKD contracts: Theorem 1's merge is exact, Eq. 1's solve is right, Algorithm 1 helps and changes no shape."""
import copy
import itertools
import random

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from fsc_teach.fskd import fold_bn, fskd, merge_into_block_, merge_pointwise, solve_pointwise
from fsc_teach.students import decouple, decouple_conv, slimming_keep
from fsc_teach.models import VGG, build_model, count_params, resnet_cifar

from helpers import randomise_bn_

TOL = 1e-5


_randomise_bn_ = randomise_bn_


def _teacher(batch_norm: bool = True, widths=(8, 8, 12, 12), seed: int = 0) -> VGG:
    torch.manual_seed(seed)
    return _randomise_bn_(VGG(list(widths), pools=[1, 3], in_channels=3, input_size=8,
                              batch_norm=batch_norm)).eval()


def _prune(teacher: VGG, kept: dict[int, torch.Tensor]) -> VGG:
    """A filter-pruned student: block i keeps teacher filters kept[i] and the inputs its predecessor kept."""
    widths = [len(kept[i]) for i in range(len(teacher.blocks))]
    student = build_model(teacher.arch, {**teacher.config, "widths": widths}).eval()
    prev = torch.arange(teacher.config["in_channels"])
    with torch.no_grad():
        for i, (sb, tb) in enumerate(zip(student.blocks, teacher.blocks)):
            keep = kept[i]
            sb.conv.weight.copy_(tb.conv.weight[keep][:, prev])
            if tb.conv.bias is not None:
                sb.conv.bias.copy_(tb.conv.bias[keep])
            if isinstance(tb.bn, nn.BatchNorm2d):
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(sb.bn, name).copy_(getattr(tb.bn, name)[keep])
            prev = keep
        t_lin, s_lin = teacher.head[-1], student.head[-1]
        hw = t_lin.in_features // teacher.widths[-1]
        s_lin.weight.copy_(t_lin.weight.view(t_lin.out_features, -1, hw)[:, prev].flatten(1))
        s_lin.bias.copy_(t_lin.bias)
    return student


def _perturb_(model: nn.Module, scale: float = 0.3, seed: int = 1) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in model.blocks:
            for m in block.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.add_(scale * m.weight.std() * torch.randn(m.weight.shape, generator=gen))
    return model


KEPT = {0: torch.tensor([0, 2, 3, 5, 7]), 1: torch.tensor([1, 2, 4, 6, 7]),
        2: torch.tensor([0, 1, 3, 4, 6, 8, 9, 11]), 3: torch.tensor([0, 2, 3, 5, 6, 8, 10, 11])}


def _preact(model: nn.Module, x: torch.Tensor, j: int) -> torch.Tensor:
    """Block j's output before its activation (the adapter's input), in eval mode."""
    store = {}
    hook = model.blocks[j].adapter.register_forward_hook(lambda _m, inp, _o: store.__setitem__("z", inp[0]))
    with torch.no_grad():
        model.eval()(x)
    hook.remove()
    return store["z"]


def _feature_mse(student, teacher, x, j, kept=None):
    target = _preact(teacher, x, j)
    return F.mse_loss(_preact(student, x, j), target if kept is None else target[:, kept]).item()


# ------------------------------------------------------------------------------------------ Theorem 1 ---------

@pytest.mark.parametrize("groups, bias", [(1, False), (1, True), (2, True), (6, False)])
def test_fold_bn_equals_bn_after_conv(groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(6, 12, 3, padding=1, groups=groups, bias=bias)
    bn = _randomise_bn_(nn.BatchNorm2d(12)).eval()
    x = torch.randn(2, 6, 7, 7)
    fused = fold_bn(conv, bn)
    assert fused.groups == groups and fused.bias is not None
    with torch.no_grad():
        assert (fused(x) - bn(conv(x))).abs().max() <= TOL
        oracle = fuse_conv_bn_eval(conv.eval(), bn)  # PyTorch's own fusion as an independent computation
        assert torch.allclose(fused.weight, oracle.weight, atol=1e-6) and torch.allclose(fused.bias, oracle.bias,
                                                                                         atol=1e-6)


def _random_configs(n: int = 16):
    rng = random.Random(0)
    grid = list(itertools.product([1, 3, 5], [1, 2], [0, 1, 2], [1, 2], [False, True]))
    return rng.sample(grid, n)


@pytest.mark.parametrize("k, stride, padding, dilation, bias", _random_configs())
def test_merged_conv_equals_conv_then_1x1(k, stride, padding, dilation, bias):
    torch.manual_seed(k * 100 + stride * 10 + padding + dilation)
    conv = nn.Conv2d(5, 7, k, stride=stride, padding=padding, dilation=dilation, bias=bias)
    x = torch.randn(3, 5, 13, 13)
    for c_out in (7, 4, 9):  # square and rectangular Q (C' ≠ C)
        q, q0 = torch.randn(c_out, 7), torch.randn(c_out)
        merged = merge_pointwise(conv, q, q0)
        with torch.no_grad():
            reference = F.conv2d(conv(x), q[:, :, None, None], q0)
            assert merged.weight.shape == (c_out, 5, k, k)
            assert (merged(x) - reference).abs().max() <= TOL
        # without a 1x1 bias: b' = Q b, and no bias at all when the conv had none
        merged = merge_pointwise(conv, q[:, :, None, None])
        assert (merged.bias is not None) == bias
        with torch.no_grad():
            assert (merged(x) - F.conv2d(conv(x), q[:, :, None, None])).abs().max() <= TOL


def test_merge_after_folding_bn_equals_1x1_after_bn():
    torch.manual_seed(1)
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
    bn = _randomise_bn_(nn.BatchNorm2d(6)).eval()
    q, q0 = torch.randn(6, 6), torch.randn(6)
    x = torch.randn(2, 4, 9, 9)
    merged = merge_pointwise(fold_bn(conv, bn), q, q0)
    with torch.no_grad():
        assert (merged(x) - F.conv2d(bn(conv(x)), q[:, :, None, None], q0)).abs().max() <= TOL
        # the published BN branch's mistake: merging Q into the conv *before* BN is another function
        wrong = bn(merge_pointwise(conv, q)(x))
        assert (wrong - F.conv2d(bn(conv(x)), q[:, :, None, None], q0)).abs().max() > 0.1


def test_grouped_conv_merge():
    torch.manual_seed(2)
    depthwise = nn.Conv2d(4, 8, 3, padding=1, groups=4)
    x = torch.randn(2, 4, 6, 6)
    block_diag = torch.block_diag(*[torch.randn(2, 2) for _ in range(4)])  # mixes channels within groups only
    dense = torch.randn(8, 8)
    for q, groups in ((block_diag, 4), (dense, 1)):
        merged = merge_pointwise(depthwise, q)
        assert merged.groups == groups
        with torch.no_grad():
            assert (merged(x) - F.conv2d(depthwise(x), q[:, :, None, None])).abs().max() <= TOL
    # a dense Q after a depthwise conv densifies it: `groups` times the weights
    assert merge_pointwise(depthwise, dense).weight.numel() == 4 * depthwise.weight.numel()


def test_c1_violation_names_both_sizes():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"5 input channels.*8 output channels"):
        merge_pointwise(conv, torch.randn(8, 5))


def test_relu_between_breaks_the_merge():
    """Condition c2: with a non-linearity between W and Q the merged conv is a different function."""
    torch.manual_seed(3)
    conv = nn.Conv2d(4, 6, 3, padding=1)
    q = torch.randn(6, 6)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        gap = (merge_pointwise(conv, q)(x) - F.conv2d(F.relu(conv(x)), q[:, :, None, None])).abs().max()
    assert gap > 0.1


# ------------------------------------------------------------------------------------------ Eq. 1 -------------

@pytest.mark.parametrize("c_s, c_t", [(6, 6), (6, 4), (4, 6)])
def test_solve_recovers_a_known_q_and_bias(c_s, c_t):
    torch.manual_seed(4)
    xs = torch.randn(20, c_s, 5, 5)  # 500 pixel rows for c_s unknowns per channel
    q_true, q0_true = torch.randn(c_t, c_s).double(), torch.randn(c_t).double()
    xt = torch.einsum("oc,nchw->nohw", q_true, xs.double()) + q0_true[None, :, None, None]
    q, q0 = solve_pointwise(xs, xt, ridge=0.0)
    assert q.dtype == torch.float64 and q.shape == (c_t, c_s)
    assert (q - q_true).abs().max() < 1e-8 and (q0 - q0_true).abs().max() < 1e-8
    q, q0 = solve_pointwise(xs, xt - q0_true[None, :, None, None], ridge=0.0, bias=False)
    assert (q - q_true).abs().max() < 1e-8 and q0.abs().max() == 0


def test_solve_is_well_defined_when_rows_are_fewer_than_unknowns():
    torch.manual_seed(5)
    xs, xt = torch.randn(2, 16, 2, 2), torch.randn(2, 16, 2, 2)  # 8 rows, 16 unknowns per output channel
    for ridge in (0.0, 1e-3, 1.0):
        q, q0 = solve_pointwise(xs, xt, ridge=ridge)
        assert torch.isfinite(q).all() and torch.isfinite(q0).all()
    # without ridge: the least-squares solution closest to the identity interpolates the few rows exactly
    q, q0 = solve_pointwise(xs, xt, ridge=0.0)
    rows_s = xs.permute(0, 2, 3, 1).reshape(-1, 16).double()
    rows_t = xt.permute(0, 2, 3, 1).reshape(-1, 16).double()
    assert (rows_s @ q.T + q0 - rows_t).abs().max() < 1e-8
    q_ridge, _ = solve_pointwise(xs, xt, ridge=1e-6)
    assert (q_ridge - q).abs().max() < 1e-3  # the λ -> 0⁺ limit


@pytest.mark.parametrize("c_s, c_t", [(5, 5), (5, 3), (3, 5)])
def test_ridge_to_infinity_gives_the_identity(c_s, c_t):
    torch.manual_seed(6)
    xs, xt = torch.randn(4, c_s, 3, 3), torch.randn(4, c_t, 3, 3)
    q, q0 = solve_pointwise(xs, xt, ridge=1e9)
    assert (q - torch.eye(c_t, c_s, dtype=q.dtype)).abs().max() < 1e-6
    mean_s, mean_t = xs.double().mean((0, 2, 3)), xt.double().mean((0, 2, 3))
    assert (q0 - (mean_t - torch.eye(c_t, c_s, dtype=q.dtype) @ mean_s)).abs().max() < 1e-6  # bias: not shrunk


# ------------------------------------------------------------------------------------------ Algorithm 1 -------

def _adapter_reference(block: nn.Module, q: torch.Tensor, q0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The block with FSKD's 1x1 conv placed in its adapter slot (before the merge)."""
    block = copy.deepcopy(block).eval()
    adapter = nn.Conv2d(q.shape[1], q.shape[0], 1)
    with torch.no_grad():
        adapter.weight.copy_(q[:, :, None, None])
        adapter.bias.copy_(q0)
    block.adapter = adapter
    with torch.no_grad():
        return block(x)


@pytest.mark.parametrize("kind", ["vgg_bn", "vgg_plain", "resnet", "decoupled"])
def test_merge_into_block_equals_the_adapter_1x1(kind):
    torch.manual_seed(7)
    if kind == "resnet":
        block = _randomise_bn_(resnet_cifar(8)).blocks[0]
        x = torch.randn(2, 16, 6, 6)
    else:
        model = _teacher(batch_norm=kind != "vgg_plain")
        model = decouple(model, rank=3) if kind == "decoupled" else model
        block = model.blocks[1]
        x = torch.randn(2, 8, 6, 6)
    block.eval()
    c = 16 if kind == "resnet" else 8
    q, q0 = torch.randn(c, c) * 0.5 + torch.eye(c), torch.randn(c)
    reference = _adapter_reference(block, q, q0, x)
    params = [p.shape for p in block.parameters()]
    merge_into_block_(block, q, q0)
    with torch.no_grad():
        assert (block(x) - reference).abs().max() <= 1e-4 * max(1.0, reference.abs().max().item())
    assert [p.shape for p in block.parameters()] == params


@pytest.mark.parametrize("batch_norm", [True, False])
def test_fskd_improves_a_pruned_student_and_keeps_its_size(batch_norm):
    teacher = _teacher(batch_norm)
    student = _perturb_(_prune(teacher, KEPT))
    x = torch.randn(24, 3, 8, 8)
    last = len(student.blocks) - 1
    before = _feature_mse(student, teacher, x, last, KEPT[last])
    n_params, state = count_params(student), student.state_dict()
    fskd(student, teacher, x, kept=KEPT, progress=False)
    after = _feature_mse(student, teacher, x, last, KEPT[last])
    assert after < 0.5 * before, (before, after)
    assert count_params(student) == n_params
    assert all(student.state_dict()[k].shape == v.shape for k, v in state.items())
    # still the same architecture: rebuilt from (arch, config) it computes the same function
    rebuilt = build_model(student.arch, student.config).eval()
    rebuilt.load_state_dict(student.state_dict())
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), student.eval()(x))


def test_fskd_leaves_the_teacher_untouched_and_modes_restored():
    teacher = _teacher().train()
    state = copy.deepcopy(teacher.state_dict())
    student = _perturb_(_prune(teacher, KEPT)).train()
    fskd(student, teacher, torch.randn(8, 3, 8, 8), kept=KEPT, sweeps=2, flip=True, progress=False)
    assert teacher.training and student.training
    assert all(torch.equal(state[k], v) for k, v in teacher.state_dict().items())


def test_fskd_is_deterministic_for_a_seed():
    teacher = _teacher()
    base = _perturb_(_prune(teacher, KEPT))
    x = torch.randn(16, 3, 8, 8)
    runs = [fskd(copy.deepcopy(base), teacher, x, kept=KEPT, flip=True, seed=s, progress=False).state_dict()
            for s in (3, 3, 4)]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])  # the seed picks the flipped images


def test_one_call_equals_blocks_one_at_a_time_and_runs_the_teacher_once_per_sweep():
    """Algorithm 1 in one call == aligning block 0, then 1, ... in separate calls; each teacher block runs once per
    batch and sweep (the activations are carried from block to block, not recomputed from the input)."""
    teacher = _teacher()
    base = _perturb_(_prune(teacher, KEPT))
    x = torch.randn(24, 3, 8, 8)
    calls = [0] * len(teacher.blocks)
    # count each block's conv: FSKD runs a block through ``block.parts`` (no hooks of its own on the teacher)
    hooks = [b.conv.register_forward_hook(lambda *_a, j=j: calls.__setitem__(j, calls[j] + 1))
             for j, b in enumerate(teacher.blocks)]
    together = fskd(copy.deepcopy(base), teacher, x, kept=KEPT, sweeps=2, batch_size=8, progress=False)
    for h in hooks:
        h.remove()
    assert calls == [2 * 3] * len(teacher.blocks)  # 2 sweeps x 3 batches
    one_by_one = copy.deepcopy(base)
    for _sweep in range(2):
        for j in range(len(base.blocks)):
            fskd(one_by_one, teacher, x, kept=KEPT, blocks=[j], batch_size=8, progress=False)
    a, b = together.state_dict(), one_by_one.state_dict()
    assert all(torch.allclose(a[k].double(), b[k].double(), atol=1e-5) for k in a)


def test_two_sweeps_compose_instead_of_discarding_the_first():
    """On one block, sweep 2 finds Q ≈ I on top of sweep 1's merge: re-assigning Q would undo sweep 1."""
    teacher = _teacher()
    x = torch.randn(24, 3, 8, 8)
    base = _perturb_(_prune(teacher, KEPT))
    last = len(base.blocks) - 1
    before = _feature_mse(base, teacher, x, last, KEPT[last])
    one = fskd(copy.deepcopy(base), teacher, x, kept=KEPT, blocks=[last], ridge=0.0, progress=False)
    two = fskd(copy.deepcopy(base), teacher, x, kept=KEPT, blocks=[last], ridge=0.0, sweeps=2, progress=False)
    err1, err2 = (_feature_mse(m, teacher, x, last, KEPT[last]) for m in (one, two))
    assert err1 < 0.5 * before
    assert err2 == pytest.approx(err1, rel=1e-4)
    # and over every block, a second sweep keeps the gain of the first
    full2 = fskd(copy.deepcopy(base), teacher, x, kept=KEPT, sweeps=2, progress=False)
    assert _feature_mse(full2, teacher, x, last, KEPT[last]) < 0.5 * before


def test_refitted_batchnorm_statistics_match_the_merged_convs():
    """After FSKD, train-mode BatchNorm on the few-shot batch computes what eval mode does (calibrated stats)."""
    teacher = _teacher()
    student = _perturb_(_prune(teacher, KEPT))
    x = torch.randn(32, 3, 8, 8)
    fskd(student, teacher, x, kept=KEPT, progress=False)
    with torch.no_grad():
        evaluated = student.eval()(x)
        trained = copy.deepcopy(student).train()(x)
    assert (trained - evaluated).abs().max() < 1e-3 * max(1.0, evaluated.abs().max().item())


def test_fskd_on_a_residual_student():
    torch.manual_seed(8)
    teacher = _randomise_bn_(resnet_cifar(8)).eval()
    student = _perturb_(copy.deepcopy(teacher))
    x = torch.randn(8, 3, 16, 16)

    def pre_relu_error(model, j):
        outs = []
        for m in (model, teacher):
            store = {}
            hook = m.blocks[j].relu2.register_forward_hook(lambda _m, inp, _o: store.__setitem__("s", inp[0]))
            with torch.no_grad():
                m.eval()(x)
            hook.remove()
            outs.append(store["s"])
        return F.mse_loss(*outs).item()

    before, n_params = pre_relu_error(student, 2), count_params(student)
    fskd(student, teacher, x, progress=False)
    assert pre_relu_error(student, 2) < 0.5 * before
    assert count_params(student) == n_params


def test_slimming_keep_ranks_channels_by_bn_gamma():
    model = _teacher()
    with torch.no_grad():
        for block in model.blocks:
            block.bn.weight.copy_(torch.linspace(0.1, 1.0, block.bn.num_features))
        model.blocks[0].bn.weight.fill_(1e-3)  # a whole block below the global threshold keeps one channel
    kept = slimming_keep(model, 0.5)
    assert len(kept[0]) == 1
    assert all(k.tolist() == sorted(k.tolist()) for k in kept.values())
    assert kept[3].tolist()[-1] == 11 and 0 not in kept[3].tolist()  # largest γ kept, smallest removed
    per_block = slimming_keep(model, [0.5, 0.5, 0.25, 0.25])
    assert [len(per_block[j]) for j in range(4)] == [4, 4, 9, 9]
    assert per_block[2].tolist() == list(range(3, 12))
    # the slimmed student is recovered by FSKD like a filter-pruned one
    teacher = _teacher()
    kept = slimming_keep(teacher, [0.4, 0.4, 0.3, 0.3])
    student = _prune(teacher, kept)
    x = torch.randn(16, 3, 8, 8)
    before = _feature_mse(student, teacher, x, 3, kept[3])
    fskd(student, teacher, x, kept=kept, progress=False)
    assert _feature_mse(student, teacher, x, 3, kept[3]) < before


def test_decouple_conv_is_exact_at_full_rank_and_smaller_below():
    torch.manual_seed(9)
    conv = nn.Conv2d(6, 16, 3, stride=2, padding=1, dilation=1, bias=True)
    x = torch.randn(2, 6, 9, 9)
    full = decouple_conv(conv, rank=9)
    with torch.no_grad():
        assert (full(x) - conv(x)).abs().max() <= 1e-4
    low = decouple_conv(conv, rank=2)
    assert low[0].groups == 6 and low[1].kernel_size == (1, 1)
    assert sum(p.numel() for p in low.parameters()) == 6 * 2 * 9 + 2 * 6 * 16 + 16
    assert sum(p.numel() for p in low.parameters()) < sum(p.numel() for p in conv.parameters())


def test_fskd_on_a_decoupled_student_merges_into_the_pointwise_conv():
    teacher = _teacher()
    student = decouple(teacher, rank=2)
    x = torch.randn(24, 3, 8, 8)
    depthwise = [copy.deepcopy(b.conv[0].weight) for b in student.blocks]
    before, n_params = _feature_mse(student, teacher, x, 3), count_params(student)
    fskd(student, teacher, x, progress=False)
    assert _feature_mse(student, teacher, x, 3) < 0.5 * before
    assert count_params(student) == n_params < count_params(teacher)
    assert all(torch.equal(w, b.conv[0].weight) for w, b in zip(depthwise, student.blocks))  # only 1x1 changes


def test_fskd_on_a_random_half_width_student_aligns_with_the_l1_channels():
    """Table 8: a hand-designed, randomly initialised half-width student, no `kept` given."""
    teacher = _teacher(widths=(8, 8, 12, 12))
    torch.manual_seed(10)
    student = VGG([4, 4, 6, 6], pools=[1, 3], in_channels=3, input_size=8).eval()
    x = torch.randn(32, 3, 8, 8)
    l1 = teacher.blocks[3].conv.weight.abs().flatten(1).sum(1).topk(6).indices.sort().values
    before, n_params = _feature_mse(student, teacher, x, 3, l1), count_params(student)
    fskd(student, teacher, x, progress=False)
    assert _feature_mse(student, teacher, x, 3, l1) < before
    assert count_params(student) == n_params


def test_fskd_rejects_bad_kept():
    teacher = _teacher()
    student = _prune(teacher, KEPT)
    with pytest.raises(ValueError, match="sorted distinct"):
        fskd(student, teacher, torch.randn(2, 3, 8, 8), kept={**KEPT, 0: torch.tensor([7, 0, 2, 3, 5])},
             progress=False)

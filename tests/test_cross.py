"""Cross distillation contracts: each loss equals an independent computation, the prox operators are Eq. 10/11,
masks hold through optimisers and fine-tuning, and a structured result is physically smaller but the same function."""
import copy

import pytest
import torch
from torch import nn

from fsc_teach.analysis import layer_errors, theorem1_bound
from fsc_teach.cross import CrossOptions, cross_distill
from fsc_teach.losses import correction_loss, cross_loss, imitation_loss, nc_loss, soft_cross_loss
from fsc_teach.prune import lambda_schedule, prox_group_l2, prox_l1, remask_, shrink, topk_mask
from fsc_teach.models import VGG, count_params

from helpers import randomise_bn_

TOL = 1e-5


_randomise_bn_ = randomise_bn_


def _net(seed: int = 0, widths=(6, 8, 8, 10)) -> VGG:
    torch.manual_seed(seed)
    return _randomise_bn_(VGG(list(widths), pools=[1, 3], in_channels=2, input_size=8), seed).eval()


def _x(n: int = 6, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 2, 8, 8, generator=torch.Generator().manual_seed(seed))


def _pair():
    """Two different blocks of the same shape and two different inputs to them."""
    t, s = _net(0), _net(1)
    gen = torch.Generator().manual_seed(2)
    h_t, h_s = torch.randn(5, 6, 8, 8, generator=gen), torch.randn(5, 6, 8, 8, generator=gen)
    return s.blocks[1], t.blocks[1], h_s, h_t


def _sq(a, b):  # the oracle: squared Frobenius norm over the batch, divided by N (Eq. 1)
    return ((a - b) ** 2).flatten().sum() / a.shape[0]


# --------------------------------------------------------------------------------------------------- losses

def test_each_loss_equals_an_independent_computation():
    s, t, h_s, h_t = _pair()
    with torch.no_grad():
        oracle = {
            "nc": _sq(t(h_t), s(h_s)),
            "correction": _sq(t(h_t), s(h_t)),
            "imitation": _sq(t(h_s), s(h_s)),
            "cross": 0.3 * _sq(t(h_t), s(h_t)) + 0.7 * _sq(t(h_s), s(h_s)),
            "soft": _sq(t(0.8 * h_t + 0.2 * h_s), s(0.6 * h_t + 0.4 * h_s)),
        }
    got = {"nc": nc_loss(s, t, h_s, h_t), "correction": correction_loss(s, t, h_t),
           "imitation": imitation_loss(s, t, h_s), "cross": cross_loss(s, t, h_s, h_t, mu=0.3),
           "soft": soft_cross_loss(s, t, h_s, h_t, alpha=0.8, beta=0.4)}
    for k in oracle:
        assert oracle[k] > 0
        torch.testing.assert_close(got[k], oracle[k], rtol=1e-5, atol=TOL, msg=k)


def test_cross_loss_endpoints_are_correction_and_imitation():
    s, t, h_s, h_t = _pair()
    torch.testing.assert_close(cross_loss(s, t, h_s, h_t, mu=1.0), correction_loss(s, t, h_t))
    torch.testing.assert_close(cross_loss(s, t, h_s, h_t, mu=0.0), imitation_loss(s, t, h_s))


def test_soft_cross_loss_corners():
    s, t, h_s, h_t = _pair()
    torch.testing.assert_close(soft_cross_loss(s, t, h_s, h_t, alpha=1.0, beta=1.0), nc_loss(s, t, h_s, h_t))
    with torch.no_grad():
        full_cross = _sq(t(h_s), s(h_t))  # α = β = 0: both connections crossed
    torch.testing.assert_close(soft_cross_loss(s, t, h_s, h_t, alpha=0.0, beta=0.0), full_cross)


def test_losses_vanish_when_student_is_teacher():
    _, t, h_s, h_t = _pair()
    s = copy.deepcopy(t)
    for value in (correction_loss(s, t, h_t), imitation_loss(s, t, h_s), cross_loss(s, t, h_s, h_t),
                  nc_loss(s, t, h_t, h_t)):
        assert value.item() == pytest.approx(0.0, abs=1e-10)


def test_gradients_reach_only_the_student_layer():
    s, t, h_s, h_t = _pair()
    h_s, h_t = h_s.requires_grad_(True), h_t.requires_grad_(True)
    for loss in (lambda: nc_loss(s, t, h_s, h_t), lambda: correction_loss(s, t, h_t),
                 lambda: imitation_loss(s, t, h_s), lambda: cross_loss(s, t, h_s, h_t, 0.5),
                 lambda: soft_cross_loss(s, t, h_s, h_t, 0.9, 0.3)):
        s.zero_grad(set_to_none=True)
        loss().backward()
        assert s.conv.weight.grad is not None and s.conv.weight.grad.abs().sum() > 0
        assert all(p.grad is None for p in t.parameters())
        assert h_s.grad is None and h_t.grad is None


# --------------------------------------------------------------------------------------------------- prox

def test_prox_l1_is_eq10_and_identity_at_zero():
    w = torch.randn(4, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    lam = 0.5
    expected = torch.tensor([(v - lam if v > lam else v + lam if v < -lam else 0.0) for v in w.flatten().tolist()])
    torch.testing.assert_close(prox_l1(w, lam), expected.view_as(w))
    assert torch.equal(prox_l1(w, 0.0), w)
    assert torch.equal(prox_l1(prox_l1(w, 0.0), 0.0), w)
    # the prox is the minimiser of ½‖z − w‖² + λ‖z‖₁: random perturbations never do better
    z = prox_l1(w, lam)
    obj = lambda v: 0.5 * ((v - w) ** 2).sum() + lam * v.abs().sum()
    gen = torch.Generator().manual_seed(1)
    assert all(obj(z) <= obj(z + 0.05 * torch.randn(w.shape, generator=gen)) for _ in range(20))


@pytest.mark.parametrize("dim", [0, 1])
def test_prox_group_l2_is_eq11_and_identity_at_zero(dim):
    w = torch.randn(5, 4, 3, 3, generator=torch.Generator().manual_seed(0))
    norms = [w.select(dim, i).norm().item() for i in range(w.shape[dim])]
    lam = sorted(norms)[2]  # two groups below λ, one exactly at it: all three vanish
    out = prox_group_l2(w, lam, dim=dim)
    for i, n in enumerate(norms):
        expected = w.select(dim, i) * max(1 - lam / n, 0.0)
        torch.testing.assert_close(out.select(dim, i), expected)
    assert sum(out.select(dim, i).abs().sum().item() == 0 for i in range(w.shape[dim])) == 3
    assert torch.equal(prox_group_l2(w, 0.0, dim=dim), w)
    assert torch.equal(prox_group_l2(prox_group_l2(w, 0.0, dim=dim), 0.0, dim=dim), w)


def test_schedules_and_topk_are_exact():
    assert [lambda_schedule(t, 4, 2.0) for t in (1, 2, 4, 9)] == [0.5, 1.0, 2.0, 2.0]
    w = torch.randn(8, 6, 3, 3, generator=torch.Generator().manual_seed(0))
    m = topk_mask(w, 0.3)
    assert int(m.sum()) == round(0.3 * w.numel()) and w.abs()[m].min() >= w.abs()[~m].max()
    ms = topk_mask(w, 0.5, structured=True, dim=1)
    kept_channels = ms.any(dim=(0, 2, 3))
    assert int(kept_channels.sum()) == 3 and bool((ms == kept_channels.view(1, -1, 1, 1)).all())


# --------------------------------------------------------------------------------------------------- masks

def test_remask_keeps_zeros_through_adam_with_old_state():
    torch.manual_seed(0)
    lin = nn.Linear(6, 4)
    opt = torch.optim.Adam(lin.parameters(), lr=0.1)
    for _ in range(3):  # moments built up before the mask exists
        opt.zero_grad()
        lin(torch.randn(8, 6)).pow(2).sum().backward()
        opt.step()
    mask = {"weight": torch.rand(4, 6, generator=torch.Generator().manual_seed(1)) > 0.5}
    remask_(lin, mask, opt)
    for _ in range(5):
        opt.zero_grad()
        lin(torch.randn(8, 6)).pow(2).sum().backward()
        remask_(lin, mask, opt)
        opt.step()
        assert bool((lin.weight[~mask["weight"]] == 0).all())  # exact zeros even before the second remask


@pytest.mark.parametrize("method", ["prox", "topk"])
def test_unstructured_masks_survive_steps_and_finetune(method):
    teacher, x = _net(0), _x()
    student, info = cross_distill(None, teacher, x, loss="cross", steps=12, lr=1e-2, prune="unstructured",
                                  sparsity=0.5, method=method, finetune_steps=4, finetune_lr=1e-2,
                                  y=torch.arange(6) % 10, progress=False)
    assert info["masks"]
    state = dict(student.named_parameters())
    for name, mask in info["masks"].items():
        if name in state:
            assert bool((state[name][~mask] == 0).all()), name
    for l in range(1, 4):  # exactly the target sparsity on every distilled conv
        w = student.blocks[l].conv.weight
        assert int((w == 0).sum()) == round(0.5 * w.numel())
    assert any(not torch.equal(a, b) for a, b in zip(student.head.parameters(), teacher.head.parameters()))


def test_structured_result_is_smaller_and_equals_masked_model():
    teacher, x = _net(0), _x()
    before = copy.deepcopy(teacher.state_dict())
    student, info = cross_distill(None, teacher, x, loss="soft", steps=12, lr=1e-2, prune="structured",
                                  sparsity={1: 0.5, 2: 0.5, 3: 0.5}, finetune_steps=3, progress=False)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())  # the teacher is only read
    small = shrink(student, info["masks"])
    assert small.widths == info["widths"] == [3, 4, 4, 10]
    assert count_params(small) < count_params(teacher)
    x_test = _x(10, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(small(x_test), student.eval()(x_test), rtol=1e-5, atol=TOL)
    # a dead channel outputs exactly zero (its BatchNorm was masked too)
    dead = ~info["masks"]["blocks.0.bn.bias"]
    with torch.no_grad():
        assert bool((student.blocks[0](x_test)[:, dead] == 0).all())


def test_layer_errors_and_theorem1_on_a_trained_student():
    teacher, x = _net(0), _x()
    student, _ = cross_distill(None, teacher, x, loss="cross", steps=10, lr=1e-2, prune="unstructured",
                               sparsity=0.7, progress=False)
    err = layer_errors(student, teacher, x)
    assert err["eps_t"][0] == err["eps_s"][0] == 0.0  # block 0 sees the same image in both nets
    assert err["estimation"][-1] > 0
    b = theorem1_bound(student, teacher, x, mu=0.6, iters=30)
    assert b["ce_gap"] <= b["mean_abs_ce_gap"] + 1e-6 <= b["logit_bound"] + 2e-6
    assert b["logit_bound"] <= b["feature_bound"] * (1 + 1e-3) + 1e-6 <= b["rhs"] * (1 + 1e-3) + 1e-6
    assert all(r <= bound * (1 + 1e-3) + 1e-6 for r, bound in zip(b["r"][1:], b["r_bound"]))


# ------------------------------------------------------------- mini-batches, Table 14, Table 19, quantization

def test_batches_visit_every_image_once_per_pass():
    from fsc_teach.cross import _batches

    it = _batches(10, 3, torch.Generator().manual_seed(0))
    first = torch.cat([next(it) for _ in range(3)])  # one pass: 3 batches of 3 (the remainder is dropped)
    assert first.numel() == 9 and first.unique().numel() == 9
    assert next(_batches(10, None, torch.Generator())) is None and next(_batches(4, 8, torch.Generator())) is None


def test_same_seed_same_student_and_full_batch_equals_none():
    teacher, x = _net(0), _x()
    kw = dict(loss="cross", steps=6, lr=1e-2, prune="structured", sparsity=0.5, progress=False)
    a, _ = cross_distill(None, teacher, x, seed=3, batch_size=4, **kw)
    b, _ = cross_distill(None, teacher, x, seed=3, batch_size=4, **kw)
    c, _ = cross_distill(None, teacher, x, seed=4, batch_size=4, **kw)
    full, _ = cross_distill(None, teacher, x, seed=0, **kw)
    full2, _ = cross_distill(None, teacher, x, seed=0, batch_size=len(x), **kw)
    sd = lambda m: m.state_dict()
    assert all(torch.equal(v, sd(b)[k]) for k, v in sd(a).items())
    assert any(not torch.equal(v, sd(c)[k]) for k, v in sd(a).items())  # a different seed, different batches
    assert all(torch.equal(v, sd(full2)[k]) for k, v in sd(full).items())


def test_augmented_pool_and_mixup():
    from fsc_teach.cross import augmented_pool
    from fsc_teach.data import augment_batch, mixup_batch

    x = _x(5)
    pool = augmented_pool(x, mixup_batch, views=3, seed=0)
    assert pool.shape == (20, *x.shape[1:]) and torch.equal(pool[:5], x)
    assert torch.equal(pool, augmented_pool(x, mixup_batch, views=3, seed=0))
    assert torch.equal(augmented_pool(x, None, views=3), x) and torch.equal(augmented_pool(x, augment_batch, 0), x)
    # every mixed image is a convex combination λ x_i + (1 − λ) x_j of two originals
    for m in pool[5:]:
        ok = False
        for i in range(5):
            for j in range(5):
                d = x[i] - x[j]
                lam = 1.0 if i == j else float(((m - x[j]) * d).sum() / (d * d).sum())
                ok |= 0 <= lam <= 1 and torch.allclose(m, lam * x[i] + (1 - lam) * x[j], atol=1e-5)
        assert ok
    with pytest.raises(ValueError, match="alpha"):
        mixup_batch(x, alpha=0.0)


def test_feature_noise_changes_the_student_and_zero_noise_does_not():
    teacher, x = _net(0), _x()
    kw = dict(loss="imitation", steps=5, lr=1e-2, prune="unstructured", sparsity=0.5, progress=False, seed=1)
    plain, _ = cross_distill(None, teacher, x, **kw)
    zero, _ = cross_distill(None, teacher, x, feature_noise=0.0, **kw)
    noisy, _ = cross_distill(None, teacher, x, feature_noise=0.2, **kw)
    noisy2, _ = cross_distill(None, teacher, x, feature_noise=0.2, **kw)
    w = lambda m: m.blocks[2].conv.weight
    assert torch.equal(w(plain), w(zero)) and torch.equal(w(noisy), w(noisy2))
    assert not torch.equal(w(plain), w(noisy))


def test_cross_layers_choose_where_the_nets_cross():
    teacher, x = _net(0), _x()
    # unstructured: a block's weights depend on its own loss only (structured masks reach back into block l − 1)
    kw = dict(steps=5, lr=1e-2, prune="unstructured", sparsity=0.5, progress=False)
    nc, _ = cross_distill(None, teacher, x, loss="nc", **kw)
    nowhere, info = cross_distill(None, teacher, x, loss="soft", cross_layers=[], **kw)
    assert all(torch.equal(v, nowhere.state_dict()[k]) for k, v in nc.state_dict().items())
    assert [info["layers"][l]["loss"] for l in (1, 2, 3)] == ["nc", "nc", "nc"]
    only2, info = cross_distill(None, teacher, x, loss="soft", cross_layers=[2], **kw)
    assert [info["layers"][l]["loss"] for l in (1, 2, 3)] == ["nc", "soft", "nc"]
    assert torch.equal(only2.blocks[1].conv.weight, nc.blocks[1].conv.weight)  # block 1 is distilled as NC
    assert not torch.equal(only2.blocks[2].conv.weight, nc.blocks[2].conv.weight)
    with pytest.raises(ValueError, match="index blocks"):
        cross_distill(None, teacher, x, cross_layers=[7], **kw)


def test_quantized_distillation_lies_on_the_grid_and_beats_plain_projection():
    from fsc_teach.quantize import quantize_clipped

    teacher, x = _net(0), _x(16)
    layers = [0, 1, 2, 3]
    student, info = cross_distill(None, teacher, x, loss="cross", quantize=2, layers=layers, steps=60, lr=1e-2,
                                  progress=False)
    projected = copy.deepcopy(teacher)
    with torch.no_grad():
        for l in layers:
            projected.blocks[l].conv.weight.copy_(quantize_clipped(projected.blocks[l].conv.weight, 2))
    for l in layers:
        assert student.blocks[l].conv.weight.unique().numel() <= 3  # ternary: {0, ±amax}
        assert info["layers"][l]["bits"] == 2
    with torch.no_grad():
        t = teacher(x)
        assert (student(x) - t).pow(2).mean() < 0.5 * (projected(x) - t).pow(2).mean()
    with pytest.raises(ValueError, match="prune first"):
        cross_distill(None, teacher, x, quantize=2, prune="structured", progress=False)

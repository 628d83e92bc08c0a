"""Distillation losses against independent computations (Hinton et al. 2015; the pitfalls of notebook 02, §2)."""
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from fsc_teach.losses import kd_loss, soft_cross_entropy


def _logits(b=6, c=10, seed=0, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(b, c, generator=gen) * scale, torch.randn(b, c, generator=gen) * scale


def _manual_kd(s, t, T, alpha, y):
    """Hinton et al.'s loss by hand, in float64 Python sums: no torch loss functions involved."""
    s, t = s.double().tolist(), t.double().tolist()
    total_kl, total_ce = 0.0, 0.0
    for si, ti, yi in zip(s, t, y.tolist()):
        zs = [v / T for v in si]
        zt = [v / T for v in ti]
        log_norm_s = math.log(sum(math.exp(v) for v in zs))
        log_norm_t = math.log(sum(math.exp(v) for v in zt))
        pt = [math.exp(v - log_norm_t) for v in zt]
        total_kl += sum(p * ((a - log_norm_t) - (b - log_norm_s)) for p, a, b in zip(pt, zt, zs))
        total_ce += -(si[yi] - math.log(sum(math.exp(v) for v in si)))
    n = len(s)
    return alpha * T * T * total_kl / n + (1 - alpha) * total_ce / n


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
def test_kd_loss_equals_a_hand_computation(T, alpha):
    s, t = _logits()
    y = torch.tensor([0, 3, 9, 1, 1, 7])
    got = kd_loss(s, t, T=T, alpha=alpha, targets=y).item()
    assert got == pytest.approx(_manual_kd(s, t, T, alpha, y), rel=1e-5, abs=1e-6)


def test_kd_loss_without_targets_is_the_soft_term_only():
    s, t = _logits()
    y = torch.zeros(6, dtype=torch.long)
    assert kd_loss(s, t, T=3.0).item() == pytest.approx(_manual_kd(s, t, 3.0, 1.0, y), rel=1e-5)


@pytest.mark.parametrize("T", [1.0, 4.0, 20.0])
def test_kd_loss_is_zero_when_student_equals_teacher(T):
    s, _ = _logits()
    assert abs(kd_loss(s, s.clone(), T=T).item()) < 1e-5
    assert kd_loss(s, s.clone() + 0.5, T=T).abs().item() < 1e-5  # softmax ignores a shift of all logits


def test_kd_loss_is_positive_otherwise():
    s, t = _logits()
    assert kd_loss(s, t, T=2.0).item() > 0.01


def test_gradient_reaches_the_student_only():
    s, t = _logits()
    s.requires_grad_(True)
    t.requires_grad_(True)
    kd_loss(s, t, T=4.0, alpha=0.7, targets=torch.arange(6) % 10).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None  # the teacher's logits are detached inside the loss


def _grad_norm(s, t, T, scale=1.0):
    s = s.clone().requires_grad_(True)
    (kd_loss(s, t, T=T) * scale).backward()
    return s.grad.norm().item()


def test_t_squared_keeps_gradients_comparable_across_temperatures():
    s, t = _logits(scale=1.0)
    norms = {T: _grad_norm(s, t, T) for T in (1.0, 2.0, 4.0, 8.0, 20.0)}
    assert max(norms.values()) / min(norms.values()) < 1.5
    # without T² (the pitfall) the soft-target gradient shrinks like 1/T²: ~400x smaller at T=20 than at T=1
    bare = {T: _grad_norm(s, t, T, scale=1.0 / T**2) for T in (1.0, 20.0)}
    assert bare[1.0] / bare[20.0] > 100


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides")
def test_kldivloss_default_reduction_divides_by_the_number_of_classes():
    s, t = _logits(b=5, c=7)
    T = 3.0
    correct = kd_loss(s, t, T=T)
    # the bug: nn.KLDivLoss() defaults to reduction="mean", an average over batch AND classes
    buggy = nn.KLDivLoss()(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1)) * T * T
    assert buggy.item() == pytest.approx(correct.item() / 7, rel=1e-5)
    fixed = nn.KLDivLoss(reduction="batchmean")(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1)) * T * T
    assert fixed.item() == pytest.approx(correct.item(), rel=1e-5)


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_kl_and_soft_cross_entropy_share_gradients_and_differ_by_teacher_entropy(T):
    s, t = _logits()
    s1, s2 = s.clone().requires_grad_(True), s.clone().requires_grad_(True)
    kl, ce = kd_loss(s1, t, T=T), soft_cross_entropy(s2, t, T=T)
    kl.backward()
    ce.backward()
    assert torch.allclose(s1.grad, s2.grad, atol=1e-6)
    p_t = torch.softmax(t.double() / T, dim=1)
    entropy = -(p_t * p_t.log()).sum(1).mean().item()  # teacher's entropy at temperature T, batch mean
    assert ce.item() - kl.item() == pytest.approx(T * T * entropy, rel=1e-5)
    assert entropy > 0.1  # a real gap, not 0 = 0


def test_kd_loss_rejects_bad_arguments():
    s, t = _logits()
    with pytest.raises(ValueError):
        kd_loss(s, t, T=0.0)
    with pytest.raises(ValueError):
        kd_loss(s, t, alpha=1.5, targets=torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError):
        kd_loss(s, t, alpha=0.5)  # a CE weight without labels

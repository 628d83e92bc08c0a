"""FitNets contracts: the regressor fits the hint, stage 1 trains only the lower student, stage 2 anneals λ."""
import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import math

from fsc_teach.fitnets import Regressor, fitnet_single_stage, fitnet_two_stage, kd_weights
from fsc_teach.losses import hint_loss
from fsc_teach.models import VGG, block_io


def _nets():
    torch.manual_seed(0)
    teacher = VGG([8, 8, 16, 16], pools=[1, 3], in_channels=3, input_size=8).eval()
    student = VGG([4, 4, 4, 6, 6], pools=[1, 4], in_channels=3, input_size=8)  # thinner and deeper
    x = torch.randn(32, 3, 8, 8)
    y = torch.randint(0, 10, (32,))
    return teacher, student, x, y


def _up_to(model, x, block):  # an independent block loop: the oracle for models.block_io
    h = model.stem(x)
    for b in model.blocks[:block + 1]:
        h = b(h)
    return h


def test_block_io_upto_is_the_output_of_that_block():
    teacher, _, x, _ = _nets()
    for block in range(len(teacher.blocks)):
        assert torch.equal(block_io(teacher, x, upto=block)[-1][1], _up_to(teacher, x, block))


@pytest.mark.parametrize("s_hw, t_hw", [(4, 4), (8, 4), ((6, 5), (3, 4))])
def test_regressor_output_matches_the_hint(s_hw, t_hw):
    s_hw2 = (s_hw, s_hw) if isinstance(s_hw, int) else s_hw
    t_hw2 = (t_hw, t_hw) if isinstance(t_hw, int) else t_hw
    reg = Regressor(4, 16, s_hw, t_hw)
    out = reg(torch.randn(2, 4, *s_hw2))
    assert out.shape == (2, 16, *t_hw2)
    assert (out >= 0).all()  # a post-ReLU hint gets a ReLU regressor
    if s_hw == t_hw:
        assert reg.conv.kernel_size == (1, 1)
    with pytest.raises(ValueError, match="smaller than the hint"):
        Regressor(4, 16, 2, 4)


def test_hint_loss_against_an_independent_computation():
    torch.manual_seed(1)
    s, t = torch.randn(3, 4, 5, 5, requires_grad=True), torch.randn(3, 4, 5, 5)
    assert torch.isclose(hint_loss(s, t), ((s - t) ** 2).sum() / s.numel())
    assert torch.isclose(hint_loss(s, t, reduction="paper"), 0.5 * ((s - t) ** 2).sum() / 3)
    assert hint_loss(t, t) == 0
    teacher_side = t.clone().requires_grad_(True)
    hint_loss(s, teacher_side).backward()
    assert s.grad is not None and teacher_side.grad is None  # gradients reach only the student
    with pytest.raises(ValueError, match="differ"):
        hint_loss(s, t[:, :2])


def test_stage1_trains_only_up_to_the_guided_block_and_lowers_the_hint_loss():
    teacher, student, x, _ = _nets()
    guided, hint = 1, 1
    teacher_state = copy.deepcopy(teacher.state_dict())
    torch.manual_seed(0)
    regressor = Regressor(4, 8, 4, 4)
    with torch.no_grad():
        before = hint_loss(regressor(_up_to(student.eval(), x, guided)), _up_to(teacher, x, hint)).item()
    upper = {k: v.clone() for k, v in student.state_dict().items() if not k.startswith(("blocks.0.", "blocks.1."))}
    lower = {k: v.clone() for k, v in student.state_dict().items() if k.startswith(("blocks.0.", "blocks.1."))}
    student, hist = fitnet_two_stage(student, teacher, x, guided_block=guided, hint_block=hint, stage1_epochs=6,
                                     stage2_epochs=0, regressor=regressor, batch_size=32, lr=0.1,
                                     progress=False)
    state = student.state_dict()
    assert all(torch.equal(state[k], v) for k, v in upper.items())  # blocks after the guided one and the head
    assert any(not torch.equal(state[k], v) for k, v in lower.items())
    with torch.no_grad():
        after = hint_loss(regressor(_up_to(student.eval(), x, guided)), _up_to(teacher, x, hint)).item()
    assert after < 0.8 * before, (before, after)
    assert hist["stage1"]["train_loss"][-1] < hist["stage1"]["train_loss"][0]
    assert all(math.isnan(a) for a in hist["stage1"]["train_acc"])  # the hint stage has no classes
    assert set(hist["stage1"]) == set(hist["stage2"]) == {"epoch", "train_loss", "train_acc", "val_acc", "time"}
    assert all(torch.equal(teacher_state[k], v) for k, v in teacher.state_dict().items())


@pytest.mark.parametrize("labels", [True, False])
def test_stage2_anneals_the_kd_weight_from_4_to_1(labels):
    teacher, student, x, y = _nets()
    teacher.train()
    before = copy.deepcopy(student.state_dict())
    student, hist = fitnet_two_stage(student, teacher, x, y if labels else None, guided_block=2, hint_block=1,
                                     stage1_epochs=1, stage2_epochs=3, batch_size=16, progress=False)
    lambdas = kd_weights(3 * 2)  # the weights stage 2 used, one per step (checked against the loss below)
    assert len(lambdas) == 3 * 2 and lambdas[0] == 4.0 and lambdas[-1] == 1.0
    steps = [b - a for a, b in zip(lambdas, lambdas[1:])]
    assert all(abs(d - steps[0]) < 1e-12 and d < 0 for d in steps)  # linear decay
    assert not torch.equal(before["head.1.weight"], student.state_dict()["head.1.weight"])  # whole student trains
    assert len(hist["stage2"]["train_acc"]) == 3 and not any(math.isnan(a) for a in hist["stage2"]["train_acc"])
    assert teacher.training  # the teacher's mode is restored


def test_stage2_loss_is_the_papers_eq2():
    """λ·H(P_t^τ, P_s^τ) without τ² (+ CE): check the first step's loss against an independent computation."""
    teacher, _, x, y = _nets()
    student = VGG([4, 4, 4, 6, 6], pools=[1, 4], in_channels=3, input_size=8, batch_norm=False)  # train == eval
    with torch.no_grad():
        s, t = student(x), teacher(x)
    p_t = F.softmax(t / 3.0, 1)
    h = -(p_t * F.log_softmax(s / 3.0, 1)).sum(1).mean()
    entropy = -(p_t * F.log_softmax(t / 3.0, 1)).sum(1).mean()
    expected = 4.0 * (h - entropy) + F.cross_entropy(s, y)  # KL = H − entropy: the same gradient
    _, hist = fitnet_two_stage(student, teacher, x, y, guided_block=2, hint_block=1, stage1_epochs=0,
                               stage2_epochs=1, batch_size=32, lr=0.0, weight_decay=0.0, progress=False)
    assert hist["stage2"]["train_loss"][0] == pytest.approx(expected.item(), rel=1e-5)


def test_single_stage_library_variant_trains_student_and_regressor():
    teacher, student, x, y = _nets()
    teacher_state = copy.deepcopy(teacher.state_dict())
    torch.manual_seed(0)
    regressor = Regressor(6, 16, 4, 2)
    reg_before = copy.deepcopy(regressor.state_dict())
    student, hist = fitnet_single_stage(student, teacher, x, y, guided_block=3, hint_block=3, epochs=8,
                                        beta=100.0, regressor=regressor, batch_size=16, progress=False)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert any(not torch.equal(reg_before[k], v) for k, v in regressor.state_dict().items())
    assert all(torch.equal(teacher_state[k], v) for k, v in teacher.state_dict().items())
    assert isinstance(student.head[-1], nn.Linear)  # the regressor is not part of the student


def test_cached_teacher_outputs_give_the_same_training_as_per_batch_teacher_passes():
    """cache=True only moves the teacher's work ahead of training: same losses, same student (no augmentation)."""
    runs = []
    for cache in (False, True):
        teacher, student, x, y = _nets()
        kw = dict(guided_block=2, hint_block=1, batch_size=8, progress=False, cache=cache)
        student, hist = fitnet_two_stage(student, teacher, x, y, stage1_epochs=2, stage2_epochs=2, **kw)
        single, hist1 = fitnet_single_stage(_nets()[1], teacher, x, y, epochs=2, **{**kw, "guided_block": 3})
        runs.append((hist["stage1"]["train_loss"] + hist["stage2"]["train_loss"] + hist1["train_loss"],
                     student(x).detach(), single(x).detach()))
    (loss_a, out_a, single_a), (loss_b, out_b, single_b) = runs
    assert loss_a == pytest.approx(loss_b, rel=1e-4)
    assert torch.allclose(out_a, out_b, atol=1e-4) and torch.allclose(single_a, single_b, atol=1e-4)
    teacher, student, x, y = _nets()
    with pytest.raises(ValueError, match="augment"):
        fitnet_two_stage(student, teacher, x, y, guided_block=2, hint_block=1, stage1_epochs=1, stage2_epochs=1,
                         augment=True, cache=True, progress=False)

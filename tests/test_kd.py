"""Distillation training: the teacher is frozen, separate, and sees exactly the student's batch (cached teacher
logits must follow the student's sample order and augmentation)."""
import copy

import pytest
import torch
from torch import nn

from fsc_teach.fitnets import Hint
from fsc_teach.kd import check_teacher, distill, distill_from_logits, function_matching
from fsc_teach.losses import kd_loss
from fsc_teach.models import VGG
from fsc_teach.train import fit, predict


def _toy(n=128, seed=0):
    """8x8 images whose class is the place of a bright pixel."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.3
    x[torch.arange(n), 0, 1 + (y // 5) * 4, 1 + (y % 5)] += 3.0
    return x, y


def _net(widths=(8, 16), seed=0):
    torch.manual_seed(seed)
    return VGG(list(widths), pools=[0, 1], in_channels=1, input_size=8)


@pytest.fixture(scope="module")
def teacher():
    x, y = _toy()
    model = _net((16, 32), seed=1)
    fit(model, x, y, epochs=15, batch_size=32, lr=0.05, progress=False)
    return model.eval()


def _agreement(student, teacher, x):
    return (predict(student, x).argmax(1) == predict(teacher, x).argmax(1)).float().mean().item()


def _record_inputs(*modules):
    """Forward pre-hooks logging ``(name, training, input)`` for every call, in call order."""
    log = []
    for name, mod in modules:
        mod.register_forward_pre_hook(lambda m, args, name=name: log.append((name, m.training, args[0].detach())))
    return log


def test_distill_without_labels_improves_agreement_and_leaves_the_teacher_alone(teacher):
    teacher = copy.deepcopy(teacher).train()  # even a teacher handed over in train mode is used in eval mode
    x, _ = _toy()
    x_test, _ = _toy(seed=5)
    student = _net((4, 8), seed=2)
    before = _agreement(student, teacher, x_test)
    state = {k: v.clone() for k, v in teacher.state_dict().items()}  # BN running stats included
    hist = distill(student, teacher, x, T=4.0, epochs=15, batch_size=32, lr=0.05, val=(x_test, _toy(seed=5)[1]),
                   progress=False)
    after = _agreement(student, teacher, x_test)
    assert after > max(0.8, before + 0.3), (before, after)
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in state.items())
    assert all(not p.requires_grad and p.grad is None for p in teacher.parameters())
    assert not teacher.training and student.training  # evaluate() inside fit put the student back in train mode


def test_teacher_sees_exactly_the_augmented_batch_of_the_student(teacher):
    teacher = copy.deepcopy(teacher)
    x, y = _toy(48)
    student = _net((4, 8), seed=2)
    log = _record_inputs(("student", student), ("teacher", teacher))
    distill(student, teacher, x, y, alpha=0.5, epochs=2, batch_size=16, augment=1, progress=False)
    steps = [i for i, (name, training, _) in enumerate(log) if name == "student" and training]
    assert len(steps) == 2 * 3
    for i in steps:
        name, training, seen = log[i + 1]
        assert name == "teacher" and not training and torch.equal(seen, log[i][2])
    augmented = torch.cat([log[i][2] for i in steps])
    assert not all(any(torch.equal(row, r) for r in x) for row in augmented)  # the views really were augmented


def test_alpha_zero_is_plain_cross_entropy_training(teacher):
    x, y = _toy(64)
    a, b = _net((4, 8), seed=3), _net((4, 8), seed=3)
    distill(a, copy.deepcopy(teacher), x, y, alpha=0.0, epochs=2, batch_size=16, augment=1, progress=False)
    fit(b, x, y, epochs=2, batch_size=16, augment=1, progress=False)
    assert torch.allclose(predict(a, x), predict(b, x), atol=1e-5)


def test_labelled_loss_is_hintons_mixture(teacher):
    x, y = _toy(32)
    student = _net((4, 8), seed=4)
    hist = distill(student, copy.deepcopy(teacher), x, y, T=3.0, alpha=0.7, epochs=1, batch_size=32, lr=0.0,
                   momentum=0.0, weight_decay=0.0, progress=False)
    with torch.no_grad():  # one full batch, lr 0: the reported loss is the loss at the initial weights
        expected = kd_loss(student.train()(x), teacher(x), T=3.0, alpha=0.7, targets=y).item()
    assert hist["train_loss"][0] == pytest.approx(expected, rel=1e-4)


def test_a_hint_adds_its_weighted_mse_to_every_batch(teacher):
    """distill(hint=...) adds weight · MSE(regressor(student block), teacher block), computed independently here."""
    x, y = _toy(32)
    kwargs = dict(T=3.0, alpha=0.7, epochs=1, batch_size=32, lr=0.0, momentum=0.0, weight_decay=0.0, progress=False)
    plain = distill(_net((4, 8), seed=4), copy.deepcopy(teacher), x, y, **kwargs)
    student = _net((4, 8), seed=4)
    torch.manual_seed(0)
    regressor = nn.Conv2d(8, teacher.widths[-1], 1)
    hint = Hint(-1, -1, regressor, weight=2.5)
    with torch.no_grad():  # lr 0 and one full batch: the reported loss is the loss at the initial weights
        s_feat = student.train().blocks[1](student.blocks[0](x))
        t_feat = teacher.blocks[1](teacher.blocks[0](x))
        mse = ((regressor(s_feat) - t_feat) ** 2).mean().item()
    hinted = distill(student, copy.deepcopy(teacher), x, y, hint=hint, **kwargs)
    assert hinted["train_loss"][0] - plain["train_loss"][0] == pytest.approx(2.5 * mse, rel=1e-4)


def test_aliased_or_sharing_teachers_are_refused():
    student = _net()
    with pytest.raises(ValueError, match="teacher is student"):
        distill(student, student, *_toy(16), epochs=1, progress=False)
    sharing = nn.Sequential(student.blocks[0], nn.Flatten())  # a teacher that shares a layer with the student
    with pytest.raises(ValueError, match="share"):
        check_teacher(student, sharing)
    other = _net()
    with pytest.raises(ValueError, match="share"):
        distill(student, other, *_toy(16), epochs=1, params=list(other.parameters()), progress=False)
    check_teacher(student, copy.deepcopy(student))  # a deep copy is fine


def test_function_matching_feeds_teacher_and_student_the_same_mixed_view(teacher):
    teacher = copy.deepcopy(teacher)
    x, _ = _toy(48)
    student = _net((4, 8), seed=2)
    log = _record_inputs(("student", student), ("teacher", teacher))
    function_matching(student, teacher, x, epochs=2, batch_size=16, augment=1, mixup=True, progress=False)
    steps = [i for i, (name, training, _) in enumerate(log) if name == "student" and training]
    assert len(steps) == 2 * 3
    for i in steps:
        name, _, seen = log[i + 1]
        assert name == "teacher" and torch.equal(seen, log[i][2])  # same crop, flip, mixup pair and λ
    views = torch.cat([log[i][2] for i in steps])
    assert not any(torch.equal(row, r) for row in views for r in x)  # mixed: no view is a training image
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())


def test_function_matching_without_augmentation_shows_the_raw_images(teacher):
    x, _ = _toy(32)
    student = _net((4, 8), seed=2)
    log = _record_inputs(("student", student))
    function_matching(student, copy.deepcopy(teacher), x, epochs=1, batch_size=16, augment=False, mixup=False,
                      progress=False)
    views = torch.cat([t for _, training, t in log if training])
    assert all(any(torch.equal(row, r) for r in x) for row in views)


def test_function_matching_learns_the_teacher(teacher):
    x, _ = _toy()
    x_test, _ = _toy(seed=5)
    student = _net((4, 8), seed=2)
    before = _agreement(student, teacher, x_test)
    function_matching(student, copy.deepcopy(teacher), x, epochs=20, batch_size=32, lr=0.05, progress=False)
    after = _agreement(student, teacher, x_test)
    assert after > max(0.6, before + 0.2), (before, after)


def test_cached_teacher_logits_give_the_same_student_as_a_live_teacher(teacher):
    x, y = _toy(64)
    live, cached = _net((4, 8), seed=6), _net((4, 8), seed=6)
    distill(live, copy.deepcopy(teacher), x, y, T=4.0, alpha=0.8, epochs=3, batch_size=16, progress=False)
    distill_from_logits(cached, x, predict(teacher, x), y, T=4.0, alpha=0.8, epochs=3, batch_size=16,
                        progress=False)
    assert torch.allclose(predict(live, x), predict(cached, x), atol=1e-4)


def test_cached_teacher_logits_refuse_augmentation_and_misaligned_rows(teacher):
    x, y = _toy(32)
    logits = predict(teacher, x)
    with pytest.raises(ValueError, match="augment"):
        distill_from_logits(_net((4, 8)), x, logits, y, augment=True, progress=False)
    with pytest.raises(ValueError, match="rows"):
        distill_from_logits(_net((4, 8)), x, logits[:-1], y, progress=False)

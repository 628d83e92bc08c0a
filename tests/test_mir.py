"""MiR (Wang et al., CVPR 2022): mimic the teacher's features before the head without labels, then reuse its head."""
import copy

import pytest
import torch
from torch.nn import functional as F

from fsc_teach import fewshot, mir, prune
from fsc_teach.models import VGG, block_input
from fsc_teach.students import l1_to_widths
from fsc_teach.train import recalibrate_bn_

from helpers import clear_error, randomise_bn_


def _teacher():
    """A small VGG whose BatchNorm statistics are those of ``_x()`` (as a trained teacher's fit its data)."""
    torch.manual_seed(0)
    return recalibrate_bn_(randomise_bn_(VGG([6, 8, 8, 10], pools=[1, 3], in_channels=2, input_size=8), 0), _x()).eval()


def _x(n=24, seed=1):
    return torch.randn(n, 2, 8, 8, generator=torch.Generator().manual_seed(seed))


def _gap(student, teacher, x):
    with torch.no_grad():
        return float(F.mse_loss(block_input(student.eval(), x, 4), block_input(teacher.eval(), x, 4)))


def test_mimicking_moves_the_features_to_the_teachers_and_the_head_is_the_teachers():
    teacher, x = _teacher(), _x()
    dense = copy.deepcopy(teacher.state_dict())
    student = l1_to_widths(teacher, [6, 4, 4, 10])  # the last block keeps its width
    before = _gap(student, teacher, x)
    student, history = mir.mimic_then_replace(student, teacher, x, epochs=30, batch_size=8, lr=0.05, progress=False)
    assert _gap(student, teacher, x) < 0.2 * before  # the MSE it minimises, on the images it saw
    assert history["train_loss"][-1] < history["train_loss"][0]
    for (n, a), b in zip(student.head.state_dict().items(), teacher.head.state_dict().values()):
        assert torch.equal(a, b), n  # "then replacing": the teacher's classifier, unchanged
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in dense.items())  # the teacher is only read


def test_mir_uses_no_labels_and_keeps_masks():
    teacher, x = _teacher(), _x()
    scheme = fewshot.Scheme("unstructured", 0.75)
    settings = fewshot.Settings(epochs=3, train_batch=8)
    a = fewshot.compress("MiR", teacher, scheme, x, torch.arange(len(x)) % 10, settings=settings)
    b = fewshot.compress("MiR", teacher, scheme, x, torch.arange(len(x)).flip(0) % 10, settings=settings)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    masks = prune.get_masks(a)
    assert masks and all(bool((a.get_submodule(n.removesuffix(".weight")).weight[~m] == 0).all())
                         for n, m in masks.items())


def test_mir_refuses_a_student_whose_features_do_not_fit_the_teachers_head():
    teacher, x = _teacher(), _x()
    narrow = l1_to_widths(teacher, [6, 8, 8, 5])
    clear_error("mimic_then_replace", "feature shape", "last width 5 vs 10",
                lambda: mir.mimic_then_replace(narrow, teacher, x, epochs=1, progress=False))
    with pytest.raises(TypeError):
        mir.mimic_then_replace("student", teacher, x, epochs=1)

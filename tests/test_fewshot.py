"""Few-shot compression on one footing: every method ends at the scheme's student, masks hold, cells are
deterministic and thread-safe (the same numbers with 1 or 2 workers)."""
import copy
from dataclasses import replace

import pytest
import torch

from fsc_teach import fewshot, grid
from fsc_teach.prune import count
from fsc_teach.models import VGG

from helpers import randomise_bn_

SETTINGS = fewshot.Settings(steps=4, lr=1e-2, epochs=2, batch_size=8)


def _teacher():
    torch.manual_seed(0)
    return randomise_bn_(VGG([6, 8, 8, 10], pools=[1, 3], in_channels=2, input_size=8), 0).eval()


def _data(n=20, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, 8, 8, generator=gen), torch.arange(n) % 10


def _checksum(model):
    return float(sum(p.double().sum() for p in model.state_dict().values() if p.is_floating_point()))


def test_every_structured_method_ends_at_the_l1_students_widths():
    teacher, (x, y) = _teacher(), _data()
    before = copy.deepcopy(teacher.state_dict())
    scheme = fewshot.Scheme("structured", 0.5)
    widths = {m: fewshot.compress(m, teacher, scheme, x, y, settings=SETTINGS).widths for m in fewshot.METHODS
              if fewshot.applicable(m, scheme)}
    assert set(map(tuple, widths.values())) == {(3, 4, 4, 10)}  # half the input channels of blocks 1..3
    assert set(fewshot.METHODS) - set(widths) == set(fewshot.UNSTRUCTURED_ONLY)
    for m in fewshot.UNSTRUCTURED_ONLY:
        with pytest.raises(ValueError, match="unstructured"):
            fewshot.compress(m, teacher, scheme, x, y, settings=SETTINGS)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())  # the teacher is only read


def test_unstructured_methods_keep_exactly_the_target_zeros():
    teacher, (x, y) = _teacher(), _data()
    scheme = fewshot.Scheme("unstructured", 0.75)
    for m in fewshot.METHODS:
        if not fewshot.applicable(m, scheme):
            with pytest.raises(ValueError, match="structured"):
                fewshot.compress(m, teacher, scheme, x, y, settings=SETTINGS)
            continue
        s = fewshot.compress(m, teacher, scheme, x, y, settings=SETTINGS)
        zeros = [int((b.conv.weight == 0).sum()) for b in s.blocks]
        assert zeros[0] == 0, m  # block 0 is not in the scheme
        if m in fewshot.UNSTRUCTURED_ONLY:  # Wanda and SparseGPT: the same count in every output row
            assert all(((b.conv.weight.flatten(1) == 0).sum(1) == count(0.75, b.conv.weight[0].numel())).all()
                       for b in s.blocks[1:]), m
        else:  # magnitude masks per tensor
            assert zeros[1:] == [round(0.75 * b.conv.weight.numel()) for b in s.blocks[1:]], m


def test_bad_input_says_what_to_do():
    teacher, (x, y) = _teacher(), _data()
    with pytest.raises(ValueError, match="choose from"):
        fewshot.compress("ThiNet", teacher, fewshot.Scheme("structured", 0.5), x, y)
    with pytest.raises(ValueError, match="structured"):
        fewshot.Scheme("channels", 0.5)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        fewshot.Scheme("structured", 1.0)
    with pytest.raises(ValueError, match="image"):
        fewshot.Scheme("structured", 0.5, blocks=(0, 1)).pruned_blocks(teacher)


def test_cells_are_deterministic_and_independent_of_workers():
    teacher, (x, y) = _teacher(), _data()
    scheme = fewshot.Scheme("structured", 0.5)

    def cell(method, seed):
        r = fewshot.run_cell(method, teacher, scheme, x, y, x, y, seed=seed, settings=SETTINGS, analyse=_checksum)
        return {k: v for k, v in r.items() if not k.endswith("_s")}  # times differ, everything else must not

    cells = [{"method": m, "seed": s} for m in ("BP", "FitNet", "FSKD", "Ours", "Ours-S") for s in (0, 1)]
    one = grid.run_grid(cell, cells, workers=1, progress=False)
    two = grid.run_grid(cell, cells, workers=2, progress=False)
    assert one == two
    assert one[0]["analysis"] != one[1]["analysis"]  # a different seed is a different student


def test_analysis_sees_the_teacher_shaped_cross_student():
    teacher, (x, y) = _teacher(), _data()
    r = fewshot.run_cell("Ours", teacher, fewshot.Scheme("structured", 0.5), x, y, x, y, settings=SETTINGS,
                         analyse=lambda s: s.widths)
    assert r["analysis"] == teacher.widths and r["params"] < sum(p.numel() for p in teacher.parameters())


def test_no_method_hooks_the_shared_teacher(monkeypatch):
    """Cells run side by side share the teacher: a forward hook on it would fire for other threads' passes."""
    teacher, (x, y) = _teacher(), _data()
    for scheme in (fewshot.Scheme("structured", 0.5), fewshot.Scheme("unstructured", 0.5)):
        for m in fewshot.METHODS:
            if not fewshot.applicable(m, scheme):
                continue
            hooked = []
            real = torch.nn.Module.register_forward_hook

            def spy(module, *args, **kwargs):
                if any(module is t for t in teacher.modules()):
                    hooked.append(type(module).__name__)
                return real(module, *args, **kwargs)

            monkeypatch.setattr(torch.nn.Module, "register_forward_hook", spy)
            fewshot.compress(m, teacher, scheme, x, y, settings=SETTINGS)
            monkeypatch.setattr(torch.nn.Module, "register_forward_hook", real)
            assert not hooked, f"{m} put forward hooks on the teacher's {hooked}"


def test_step_budget_and_cached_teacher():
    from fsc_teach.fewshot import _epochs

    budget = fewshot.Settings(train_steps=40, train_batch=32)
    assert _epochs(budget, 10) == 40 and _epochs(budget, 100) == 10  # 1 step per epoch, then 4
    assert _epochs(fewshot.Settings(epochs=7), 100) == 7
    teacher, (x, y) = _teacher(), _data()
    scheme = fewshot.Scheme("structured", 0.5)
    for method in ("KD", "Iter-KD", "FitNet"):
        live = fewshot.compress(method, teacher, scheme, x, y, settings=SETTINGS)
        cached = fewshot.compress(method, teacher, scheme, x, y, settings=replace(SETTINGS, cache_teacher=True))
        with torch.no_grad():
            torch.testing.assert_close(cached(x), live(x), rtol=1e-4, atol=1e-4, msg=method)


def _bn_input_stats(student, x):
    """Per-channel mean and (unbiased) variance of the first block's BatchNorm input: an independent computation."""
    z = student.blocks[0].conv(x)
    return z.mean((0, 2, 3)), z.var((0, 2, 3), unbiased=True)


@pytest.mark.parametrize("kind", ["structured", "unstructured"])
def test_l1_bn_is_the_data_free_student_with_its_batchnorm_re_estimated(kind):
    teacher, (x, y) = _teacher(), _data()
    scheme = fewshot.Scheme(kind, 0.5)
    plain = fewshot.compress("L1-norm", teacher, scheme, x, y, settings=SETTINGS)
    bn = fewshot.compress("L1+BN", teacher, scheme, x, y, settings=SETTINGS)
    weights = lambda m: {k: v for k, v in m.state_dict().items() if "running" not in k and "num_batches" not in k}
    assert all(torch.equal(v, weights(bn)[k]) for k, v in weights(plain).items())  # no weight moves
    with torch.no_grad():
        mean, var = _bn_input_stats(bn, x)
    torch.testing.assert_close(bn.blocks[0].bn.running_mean, mean, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bn.blocks[0].bn.running_var, var, rtol=1e-4, atol=1e-5)
    assert not torch.equal(plain.blocks[0].bn.running_mean, bn.blocks[0].bn.running_mean)


def test_recalibrate_bn_gives_every_method_but_l1_norm_the_same_re_estimation():
    teacher, (x, y) = _teacher(), _data()
    scheme = fewshot.Scheme("structured", 0.5)
    on = replace(SETTINGS, recalibrate_bn=True)
    for method in ("BP", "FSKD", "Ours"):
        student = fewshot.compress(method, teacher, scheme, x, y, settings=on)
        with torch.no_grad():
            mean, _ = _bn_input_stats(student, x)
        torch.testing.assert_close(student.blocks[0].bn.running_mean, mean, rtol=1e-4, atol=1e-5)
    l1 = fewshot.compress("L1-norm", teacher, scheme, x, y, settings=on)  # the data-free floor stays data-free
    assert torch.equal(l1.blocks[0].bn.running_mean,
                       fewshot.compress("L1-norm", teacher, scheme, x, y, settings=SETTINGS).blocks[0].bn.running_mean)

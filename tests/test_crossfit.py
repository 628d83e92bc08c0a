"""Cross-fitting: halves that split the held-out set, pooled accuracy, and choices reported on the other half."""
import pytest
import torch

from fsc_teach import crossfit
from fsc_teach.train import evaluate


def test_split_gives_two_disjoint_halves_that_cover_every_image():
    x = torch.arange(11, dtype=torch.float32).reshape(11, 1) * 10  # image i holds the value 10·i
    y = torch.arange(11) % 3
    (x0, y0), (x1, y1) = crossfit.split(x, y, seed=3)
    assert (len(x0), len(x1)) == (6, 5)
    ids = torch.cat([x0, x1]).flatten().long() // 10
    assert sorted(ids.tolist()) == list(range(11))  # disjoint, and nothing left out
    assert torch.equal(torch.cat([y0, y1]), y[ids])  # each label stays with its image
    again = crossfit.split(x, y, seed=3)
    assert torch.equal(again[0][0], x0) and torch.equal(again[1][1], y1)  # fixed by the seed
    assert not torch.equal(crossfit.split(x, y, seed=4)[0][0], x0)
    with pytest.raises(ValueError, match="at least 2"):
        crossfit.split(x[:1], y[:1])
    with pytest.raises(TypeError, match="y"):
        crossfit.split(x, y.float())


def test_pooled_is_the_accuracy_on_both_halves_together():
    gen = torch.Generator().manual_seed(0)
    right = torch.rand(17, generator=gen) > 0.4  # image by image: was the model right?
    halves = right[:10], right[10:]
    accs = [h.double().mean().item() for h in halves]
    assert crossfit.pooled(accs, (10, 7)) == pytest.approx(right.double().mean().item(), abs=1e-12)
    with pytest.raises(ValueError, match="sizes"):
        crossfit.pooled(accs, (10, 0))


def test_cross_fit_reports_each_image_once_by_the_choice_made_without_it():
    gen = torch.Generator().manual_seed(1)
    sizes = (9, 8)
    right = torch.rand(6, 17, generator=gen) > 0.5  # six candidates, image by image
    accs = lambda i: (right[i, :9].double().mean().item(), right[i, 9:].double().mean().item())
    cf = crossfit.cross_fit(lambda k: max(range(6), key=lambda i: accs(i)[k]), accs, sizes)
    for k in (0, 1):
        assert accs(cf.chosen[k])[k] == max(accs(i)[k] for i in range(6))  # chosen on half k
    hits = int(right[cf.chosen[0], 9:].sum()) + int(right[cf.chosen[1], :9].sum())  # reported on the other half
    assert cf.acc == pytest.approx(hits / 17, abs=1e-12)
    assert cf.reported == (accs(cf.chosen[0])[1], accs(cf.chosen[1])[0])
    same = crossfit.cross_fit(lambda k: 2, accs, sizes)  # a rule that chooses nothing: the pooled accuracy
    assert same.acc == pytest.approx(crossfit.pooled(accs(2), sizes), abs=1e-12)
    with pytest.raises(TypeError, match="choose"):
        crossfit.cross_fit(3, accs, sizes)


def test_accuracies_on_each_half_and_checks():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    x, y = torch.randn(20, 4), torch.arange(20) % 3
    halves = crossfit.split(x, y)
    assert crossfit.accuracies(model, halves) == tuple(evaluate(model, *h) for h in halves)
    with pytest.raises(ValueError, match="exactly two"):
        crossfit.accuracies(model, [halves[0]] * 3)
    with pytest.raises(TypeError, match=r"halves\[1\]"):
        crossfit.check_halves([halves[0], x])

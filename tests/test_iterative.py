"""Iterative distillation (Yalburgi 2019): stopping rule, frozen separate parents, probability-averaging ensembles."""
import copy
import math

import pytest
import torch
from torch.nn import functional as F

from fsc_teach import iterative as it
from fsc_teach.kd import distill_from_logits
from fsc_teach.students import shrink_blocks, shrink_width
from fsc_teach.models import VGG, count_flops, count_params, vgg16_cifar, vgg_fmnist
from fsc_teach.train import evaluate, fit, predict

FIT = dict(epochs=2, batch_size=32, lr=0.05)


def _toy(n=160, seed=0):
    """8x8 images whose class is the place of a bright pixel."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 8, 8, generator=gen) * 0.3
    x[torch.arange(n), 0, 1 + (y // 5) * 4, 1 + (y % 5)] += 3.0
    return x, y


def _builder(widths):
    return lambda: VGG(list(widths), pools=[0, 1], in_channels=1, input_size=8)


@pytest.fixture(scope="module")
def setup():
    x, y = _toy()
    halves = (_toy(100, seed=1), _toy(90, seed=2))  # two held-out halves, of different sizes on purpose
    torch.manual_seed(1)
    teacher = _builder((16, 32))()
    fit(teacher, x, y, epochs=10, batch_size=32, lr=0.05, progress=False)
    return teacher.eval(), x, y, halves


def _on_all(model, halves):
    """Accuracy on every held-out image, counted image by image on the two halves put back together.

    Compared with ``abs=1e-6``: accuracies are float32 means, and one image of 190 is worth 5e-3."""
    x, y = torch.cat([h[0] for h in halves]), torch.cat([h[1] for h in halves])
    return (predict(model, x).argmax(1) == y).float().mean().item()


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_ensemble_averages_probabilities_not_logits():
    gen = torch.Generator().manual_seed(0)
    z = [torch.randn(5, 10, generator=gen) * 4 for _ in range(3)]
    for T in (1.0, 4.0):
        target = it.ensemble_logits(z, T)
        mean_p = torch.stack([F.softmax(zk / T, 1) for zk in z]).mean(0)
        assert torch.allclose(F.softmax(target / T, 1), mean_p, atol=1e-6)
        geometric = F.softmax(torch.stack(z).mean(0) / T, 1)  # averaging logits: a different target
        assert (geometric - mean_p).abs().max() > 1e-2
    # extreme logits: no log(0), still a valid distribution
    huge = [torch.tensor([[1e4, 0.0, -1e4]]), torch.tensor([[-1e4, 1e4, 0.0]])]
    p = F.softmax(it.ensemble_logits(huge, 1.0), 1)
    assert torch.isfinite(p).all() and torch.allclose(p, torch.tensor([[0.5, 0.5, 0.0]]), atol=1e-6)
    # one parent: the same soft target as its own logits
    assert torch.allclose(F.softmax(it.ensemble_logits(z[:1], 4.0) / 4.0, 1), F.softmax(z[0] / 4.0, 1), atol=1e-6)


def test_ensemble_module_matches_its_parents(setup):
    teacher, x, *_ = setup
    parents = [teacher, _builder((4, 8))().eval()]
    ens = it.Ensemble(parents, T=2.0)
    expected = torch.stack([F.softmax(p(x[:20]) / 2.0, 1) for p in parents]).mean(0)
    assert torch.allclose(F.softmax(ens(x[:20]) / 2.0, 1), expected, atol=1e-6)
    with pytest.raises(ValueError):
        it.Ensemble([])


def test_teach_leaves_parents_alone_and_builds_a_new_child(setup):
    teacher, x, y, *_ = setup
    parent = copy.deepcopy(teacher).train()  # handed over trainable and in train mode
    for p in parent.parameters():
        p.requires_grad_(True)
    before = _state(parent)
    child, hist = it.teach([parent], _builder((4, 8)), x, y, seed=0, progress=False, **FIT)
    assert child is not parent and not any(c is p for c in child.parameters() for p in parent.parameters())
    assert all(torch.equal(v, parent.state_dict()[k]) for k, v in before.items())  # BN buffers included
    assert parent.training and all(p.requires_grad and p.grad is None for p in parent.parameters())
    assert len(hist["train_loss"]) == FIT["epochs"]
    with pytest.raises(ValueError, match="new network"):
        it.teach([parent], lambda: parent, x, y, progress=False, **FIT)


def test_teach_with_two_parents_distils_the_probability_average(setup):
    teacher, x, y, *_ = setup
    other = _builder((8, 8))()
    fit(other, x, y, epochs=3, batch_size=32, progress=False)
    child, _ = it.teach([teacher, other], _builder((4, 8)), x, y, T=3.0, seed=5, progress=False, **FIT)
    torch.manual_seed(5)
    oracle = _builder((4, 8))()
    target = it.ensemble_logits([predict(teacher, x), predict(other, x)], 3.0)
    distill_from_logits(oracle, x, target, y, T=3.0, alpha=0.5, seed=5, progress=False, **FIT)
    assert all(torch.equal(a, b) for a, b in zip(child.state_dict().values(), oracle.state_dict().values()))


def test_hint_term_trains_and_leaves_no_hooks(setup):
    teacher, x, y, *_ = setup
    child, hist = it.teach([teacher], _builder((4, 8)), x, y, hint_block=-1, progress=False, **FIT)
    assert all(not b._forward_hooks for b in child.blocks) and all(not b._forward_hooks for b in teacher.blocks)
    assert all(math.isfinite(v) for v in hist["train_loss"])
    no_pool_first = lambda: VGG([4, 8, 8], pools=[1, 2], in_channels=1, input_size=8)  # block 0: 8x8, not 4x4
    with pytest.raises(ValueError, match="differ in size"):
        it.teach([teacher], no_pool_first, x, y, hint_block=0, progress=False, **FIT)


CHAIN = [_builder((8, 16)), _builder((4, 8)), _builder((1, 2))]


@pytest.fixture(scope="module")
def full_chain(setup):
    teacher, x, y, halves = setup
    root = it.make_root(teacher, x, halves)
    return root, it.iterative_distill(root, CHAIN, x, y, halves, tolerance=math.inf, progress=False, **FIT)


def test_generations_record_accuracy_params_and_flops(setup, full_chain):
    teacher, x, y, halves = setup
    _, gens = full_chain
    assert [g.name for g in gens] == ["G0", "G1", "G2", "G3"] and [g.depth for g in gens] == [0, 1, 2, 3]
    assert [g.parents for g in gens] == [[], ["G0"], ["G1"], ["G2"]]
    for g in gens:
        assert g.accs == (evaluate(g.model, *halves[0]), evaluate(g.model, *halves[1])) and g.sizes == (100, 90)
        assert g.acc == pytest.approx(_on_all(g.model, halves), abs=1e-6)  # pooled; one image is 1/190
        assert g.params == count_params(g.model) and g.flops == count_flops(g.model, (1, 8, 8))
    assert gens[0].params > gens[1].params > gens[2].params > gens[3].params
    assert gens[1].accs[0] > 0.5  # a child really learned from its parent
    rows = it.generation_table(gens)
    assert rows[0]["memory saved"] == "0.0 %" and len(rows) == 4


def test_every_parent_is_a_frozen_copy_and_never_a_child(setup, full_chain):
    teacher, *_ = setup
    _, gens = full_chain
    models = [g.model for g in gens]
    assert all(m is not teacher for m in models)
    assert len({id(p) for m in models for p in m.parameters()}) == sum(len(list(m.parameters())) for m in models)
    assert all(not m.training and not any(p.requires_grad for p in m.parameters()) for m in models)


def test_chain_stops_at_the_tolerance_and_is_a_prefix_of_the_full_chain(setup, full_chain):
    teacher, x, y, halves = setup
    root, full = full_chain
    for on in (0, 1):  # the rule looks at one held-out half: select_on
        drops = [root.accs[on] - g.accs[on] for g in full[1:]]
        for tol in sorted(set(drops)) + [-1.0]:
            gens = it.iterative_distill(root, CHAIN, x, y, halves, tolerance=tol, select_on=on, progress=False, **FIT)
            stop = it.stopping_point(full, tol, on=on)
            kept = [g for g in gens if g.accepted]
            assert kept[-1].depth == stop  # the last kept generation is the one stopping_point predicts
            assert [g.accs for g in gens] == [g.accs for g in full[:len(gens)]]  # same children, same seeds
            assert all(root.accs[on] - g.accs[on] <= tol for g in kept[1:])
            if len(gens) < len(full):  # stopped early: exactly one rejected child, beyond the tolerance
                assert not gens[-1].accepted and root.accs[on] - gens[-1].accs[on] > tol and len(gens) == stop + 2
    impossible = it.iterative_distill(root, CHAIN, x, y, halves, tolerance=-1.0, progress=False, **FIT)
    assert len(impossible) == 2 and not impossible[1].accepted and it.stopping_point(full, -1.0) == 0
    with pytest.raises(ValueError, match="very x and halves"):  # a root measured on other held-out images
        it.iterative_distill(root, CHAIN, x, y, (halves[0], halves[0]), progress=False, **FIT)


def test_generation_table_marks_only_what_the_tolerance_keeps(setup, full_chain):
    _, full = full_chain
    root = full[0]
    column = "kept (rule on half 0 / 1)"
    for on in (0, 1):
        tol = root.accs[on] - full[1].accs[on]  # keeps G1 exactly, on this half
        stop = it.stopping_point(full, tol, on=on)
        kept = [row[column].split(" / ")[on] for row in it.generation_table(full, tolerance=tol)]
        assert kept[:stop + 1] == ["kept"] * (stop + 1) and stop >= 1
        after = ["rejected"] + ["not trained"] * len(full)
        assert kept[stop + 1:] == after[:len(full) - stop - 1]
    assert [row["kept"] for row in it.generation_table(full)] == ["yes"] * len(full)  # the run's own flags: inf
    assert [row[column] for row in it.generation_table(full, tolerance=math.inf)] == ["kept / kept"] * len(full)
    row = it.generation_table(full)[2]
    assert row["acc half 1"] == f"{100 * full[2].accs[1]:.2f} %" and row["acc both"] == f"{100 * full[2].acc:.2f} %"


def test_equal_budget_trains_three_students_from_one_start(setup):
    teacher, x, y, halves = setup
    root = it.make_root(teacher, x, halves)
    chain = it.iterative_distill(root, CHAIN[:2], x, y, halves, tolerance=math.inf, seed=7, progress=False, **FIT)
    kw = dict(epochs=FIT["epochs"], batch_size=FIT["batch_size"], lr=FIT["lr"])
    got = it.equal_budget(root, CHAIN[:2], x, y, halves, seed=7, **kw)
    reused = it.equal_budget(root, CHAIN[:2], x, y, halves, seed=7, chain=chain, **kw)
    for key in ("chain", "direct", "scratch", "by_depth", "parent_acc", "agreement", "ancestor_epochs"):
        assert got[key] == reused[key]
    assert got["by_depth"] == [g.acc for g in chain] and got["chain"] == chain[2].acc  # nothing chosen: all images
    assert got["ancestor_epochs"] == FIT["epochs"] and got["parent_acc"] == {"chain": chain[1].acc,
                                                                             "direct": root.acc}
    child_seed = 7 + 1000 * 2
    # the chain's final child is its parent's student from child_seed: the seed the other two start from
    again, _ = it.teach([chain[1].model], CHAIN[1], x, y, seed=child_seed, parent_logits=[chain[1].logits],
                        progress=False, **FIT)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), chain[2].model.state_dict().values()))
    direct, _ = it.teach([teacher], CHAIN[1], x, y, seed=child_seed, progress=False, **FIT)
    assert got["direct"] == pytest.approx(_on_all(direct, halves), abs=1e-6)
    torch.manual_seed(child_seed)
    scratch = CHAIN[1]()
    fit(scratch, x, y, seed=child_seed, progress=False, **FIT)
    assert got["scratch"] == pytest.approx(_on_all(scratch, halves), abs=1e-6)
    same_class = (predict(direct, x).argmax(1) == predict(teacher, x).argmax(1)).float().mean().item()
    assert got["agreement"]["direct"] == pytest.approx(same_class)
    with pytest.raises(ValueError, match="plain"):
        it.equal_budget(root, CHAIN, x, y, halves, seed=7, chain=chain, **kw)  # two generations for three


def test_same_seed_same_lineage_other_seed_other_children(setup):
    teacher, x, y, halves = setup
    root = it.make_root(teacher, x, halves)
    a, b, c = (it.iterative_distill(root, CHAIN[:2], x, y, halves, tolerance=math.inf, seed=s, progress=False,
                                    **FIT) for s in (3, 3, 4))
    same = lambda g, h: all(torch.equal(u, v) for u, v in zip(g.model.state_dict().values(),
                                                               h.model.state_dict().values()))
    assert all(same(g, h) for g, h in zip(a, b))
    assert not same(a[-1], c[-1])


def test_children_keep_best_keep_all_and_ancestors(setup):
    teacher, x, y, halves = setup
    root = it.make_root(teacher, x, halves)
    kw = dict(tolerance=math.inf, children=2, progress=False, **FIT)
    best = it.iterative_distill(root, CHAIN[:2], x, y, halves, keep="best", **kw)
    assert [g.name for g in best] == ["G0", "G1.1", "G1.2", "G1.1.1" if best[1].accs[0] >= best[2].accs[0]
                                      else "G1.2.1", best[3].name[:-1] + "2"]
    winner = max(best[1:3], key=lambda g: g.accs[0])
    assert all(g.parents == [winner.name] for g in best[3:])
    assert [g.name for g in it.best_path(best)][:2] == ["G0", winner.name]
    tree = it.iterative_distill(root, CHAIN[:2], x, y, halves, keep="all", **kw)
    assert len(tree) == 1 + 2 + 4 and sorted(g.parents[0] for g in tree[3:]) == ["G1.1", "G1.1", "G1.2", "G1.2"]
    anc = it.iterative_distill(root, CHAIN, x, y, halves, ancestors=2, **{**kw, "children": 1})
    assert [g.parents for g in anc] == [[], ["G0"], ["G0", "G1"], ["G1", "G2"]]
    # architectures as children: a list of builders per generation
    mixed = it.iterative_distill(root, [[_builder((8, 16)), _builder((4, 8))]], x, y, halves,
                                 **{**kw, "children": 1})
    assert [g.widths for g in mixed[1:]] == [[8, 16], [4, 8]]
    with pytest.raises(ValueError):
        it.iterative_distill(root, CHAIN, x, y, halves, keep="some")


def test_shrink_builders_make_smaller_networks():
    teacher = vgg_fmnist()
    x = torch.zeros(2, 1, 28, 28)
    sizes = [count_params(teacher)]
    for f in (0.5, 0.25, 0.125):
        net = shrink_width(teacher, f)()
        assert net.widths == [max(1, round(w * f)) for w in teacher.widths] and net(x).shape == (2, 10)
        sizes.append(count_params(net))
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    params, flops = [], []
    for drop in range(4):
        net = shrink_blocks(teacher, drop)()
        assert len(net.blocks) == 6 - drop and len(net.config["pools"]) == 3 and net(x).shape == (2, 10)
        assert net.widths[-1] == 128  # every stage keeps its output width
        params.append(count_params(net))
        flops.append(count_flops(net))
    assert params[0] == count_params(teacher)
    assert all(a > b for a, b in zip(params, params[1:])) and all(a > b for a, b in zip(flops, flops[1:]))
    assert shrink_blocks(teacher, 3)().widths == [32, 64, 128]
    with pytest.raises(ValueError):
        shrink_blocks(teacher, 4)
    vgg16 = shrink_blocks(vgg16_cifar(), 8)()  # paper scale: 13 convs in 5 stages -> one conv per stage
    assert vgg16.widths == [64, 128, 256, 512, 512] and vgg16(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def _correct(model, half):
    return int((predict(model, half[0]).argmax(1) == half[1]).sum())


def test_cross_fit_stops_on_one_half_and_reports_on_the_other(setup, full_chain):
    _, _, _, halves = setup
    root, full = full_chain
    drops = {round(root.accs[k] - g.accs[k], 9) for k in (0, 1) for g in full[1:]}
    for tol in sorted(drops) + [-1.0, math.inf]:
        cf = it.cross_fit(full, tol)
        for k in (0, 1):  # oracle: walk the chain on half k alone, stop at the first drop beyond the tolerance
            last = full[0]
            for g in full[1:]:
                if root.accs[k] - g.accs[k] > tol:
                    break
                last = g
            assert cf.chosen[k] is last
        assert cf.reported == (cf.chosen[0].accs[1], cf.chosen[1].accs[0])
        # every held-out image counted once, by the generation chosen on the *other* half
        hits = _correct(cf.chosen[0].model, halves[1]) + _correct(cf.chosen[1].model, halves[0])
        assert cf.acc == pytest.approx(hits / 190, abs=1e-6)
    assert it.cross_fit(full).chosen == (full[-1], full[-1]) and it.cross_fit(full).acc == pytest.approx(full[-1].acc)
    with pytest.raises(ValueError, match="one run or two"):
        it.cross_fit([full, full, full])


def test_cross_fit_of_runs_whose_choices_depend_on_the_half(setup):
    teacher, x, y, halves = setup
    root = it.make_root(teacher, x, halves)
    runs = [it.iterative_distill(root, CHAIN[:2], x, y, halves, tolerance=math.inf, children=2, select_on=k,
                                 progress=False, **FIT) for k in (0, 1)]
    assert [g.accs for g in runs[0][1:3]] == [g.accs for g in runs[1][1:3]]  # generation 1: the same children
    cf = it.cross_fit(runs)
    for k, run in enumerate(runs):
        parent = max(run[1:3], key=lambda g: g.accs[k])  # the run kept the parent best on its own half
        assert all(g.parents == [parent.name] for g in run[3:])
        assert cf.chosen[k] is max(run[3:], key=lambda g: g.accs[k])
    hits = _correct(cf.chosen[0].model, halves[1]) + _correct(cf.chosen[1].model, halves[0])
    assert cf.acc == pytest.approx(hits / 190, abs=1e-6)

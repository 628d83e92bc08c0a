"""Layer sensitivity: the scan equals pruning and evaluating each layer by hand, the allocation equals brute force
over the grid, Kendall's τ equals SciPy's and a hand count."""
import copy
import itertools
import math
import random

import pytest
import torch
from torch import nn

from fsc_teach import sensitivity
from fsc_teach.models import VGG
from fsc_teach.prune import apply_masks_, count, magnitude_masks, prunable_weights
from fsc_teach.train import evaluate

from helpers import randomise_bn_


def _net_and_data(seed=0):
    torch.manual_seed(seed)
    net = randomise_bn_(VGG([4, 6, 8], pools=[0, 2], in_channels=1, input_size=8), seed).eval()
    x = torch.randn(37, 1, 8, 8)
    y = net(x).argmax(1)  # labels the dense net gets right: every pruning can only lose accuracy from 1.0 ...
    y[::3] = (y[::3] + 1) % 10  # ... except on a third of them, which it gets wrong
    return net, x, y


def test_layer_scan_equals_pruning_that_layer_and_evaluating():
    net, x, y = _net_and_data()
    before = copy.deepcopy(net.state_dict())
    grid = [0.0, 0.3, 0.6, 0.9]
    curves = sensitivity.layer_scan(net, x, y, grid, batch_size=10)  # several batches, the last one short
    assert list(curves) == list(prunable_weights(net))  # every conv and the linear head, in order
    for name, accs in curves.items():
        for s, acc in zip(grid, accs):
            ref = copy.deepcopy(net)
            apply_masks_(ref, {name: magnitude_masks(ref, s, scope="layer")[name]})  # only this layer
            assert round(acc * len(x)) == round(evaluate(ref, x, y) * len(x)), (name, s)  # same correct count
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the model is only read
    assert not net.training  # its mode is restored


def test_layer_scan_restores_train_mode_and_works_on_any_module():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).train()
    x, y = torch.randn(20, 1, 4, 4), torch.randint(0, 3, (20,))
    curves = sensitivity.layer_scan(net, x, y, [0.5])
    assert net.training and set(curves) == {"1.weight", "3.weight"}
    ref = copy.deepcopy(net)
    apply_masks_(ref, {"3.weight": magnitude_masks(ref, 0.5)["3.weight"]})
    assert curves["3.weight"][0] == pytest.approx(evaluate(ref, x, y))


def test_sensitivity_is_the_mean_drop():
    s = sensitivity.sensitivity({"a": [0.9, 0.5], "b": [1.0, 1.0]}, dense=1.0)
    assert s == pytest.approx({"a": 0.3, "b": 0.0})


def _brute_force(drops, grid, sizes, budget):
    names = list(drops)
    need = count(budget, sum(sizes.values()))
    options = [[(0.0, 0.0)] + [(s, d) for s, d in zip(grid, drops[n]) if s > 0] for n in names]
    best = None
    for combo in itertools.product(*options):
        removed = sum(count(s, sizes[n]) for n, (s, _) in zip(names, combo))
        loss = sum(d for _, d in combo)
        if removed >= need and (best is None or loss < best[0] - 1e-12):
            best = (loss, combo)
    return best


@pytest.mark.parametrize("seed", range(25))
def test_allocate_is_the_exact_optimum_over_the_grid(seed):
    rng = random.Random(seed)
    grid = [0.3, 0.5, 0.7, 0.9]
    names = [f"l{i}" for i in range(rng.randint(2, 5))]
    sizes = {n: rng.randint(5, 400) for n in names}
    drops = {n: sorted(rng.uniform(-0.02, 0.6) for _ in grid) for n in names}
    budget = rng.uniform(0.1, 0.85)
    loss, _ = _brute_force(drops, grid, sizes, budget)
    chosen = sensitivity.allocate(drops, grid, sizes, budget)
    assert list(chosen) == names
    removed = sum(count(chosen[n], sizes[n]) for n in names)
    assert removed >= count(budget, sum(sizes.values()))  # the budget is met ...
    got = sum(0.0 if chosen[n] == 0 else drops[n][grid.index(chosen[n])] for n in names)
    assert got == pytest.approx(loss, abs=1e-12)  # ... at the brute-force optimum's summed drop


def test_allocate_spends_the_budget_on_the_robust_layer_and_refuses_an_impossible_one():
    drops = {"fragile": [0.5, 0.9], "robust": [0.0, 0.01]}
    sizes = {"fragile": 100, "robust": 100}
    assert sensitivity.allocate(drops, [0.5, 0.9], sizes, 0.45) == {"fragile": 0.0, "robust": 0.9}
    with pytest.raises(ValueError, match="budget"):
        sensitivity.allocate(drops, [0.5, 0.9], sizes, 0.95)
    with pytest.raises(ValueError, match="sizes"):
        sensitivity.allocate(drops, [0.5, 0.9], {"fragile": 100}, 0.5)


def test_allocation_masks_prune_each_layer_to_its_own_sparsity():
    net, _, _ = _net_and_data()
    allocation = {"blocks.1.conv.weight": 0.5, "head.1.weight": 0.9}
    masks = sensitivity.allocation_masks(net, allocation)
    for name, s in allocation.items():
        assert torch.equal(masks[name], magnitude_masks(net, s, scope="layer")[name])
    with pytest.raises(ValueError, match="allocation"):
        sensitivity.allocation_masks(net, {"blocks.9.conv.weight": 0.5})


def _hand_tau(a, b):
    """τ-a by counting pairs (no ties in the inputs it is used on)."""
    c = d = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        sign = (a[i] - a[j]) * (b[i] - b[j])
        c, d = c + (sign > 0), d + (sign < 0)
    return (c - d) / (len(a) * (len(a) - 1) / 2)


def test_kendall_tau_by_hand_and_against_scipy():
    assert sensitivity.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert sensitivity.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    assert sensitivity.kendall_tau([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant
    assert math.isnan(sensitivity.kendall_tau([1, 1, 1], [1, 2, 3]))
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(30):
        n = rng.randint(2, 9)
        a = [rng.random() for _ in range(n)]
        b = [rng.random() for _ in range(n)]
        assert sensitivity.kendall_tau(a, b) == pytest.approx(_hand_tau(a, b))
        a_tied = [rng.randint(0, 3) for _ in range(n)]  # ties: τ-b, as SciPy's default
        b_tied = [rng.randint(0, 3) for _ in range(n)]
        ref = stats.kendalltau(a_tied, b_tied).statistic
        got = sensitivity.kendall_tau(a_tied, b_tied)
        assert (math.isnan(ref) and math.isnan(got)) or got == pytest.approx(ref)


def test_rank_agreement_pairs_layers_by_name():
    ref = {"a": 0.1, "b": 0.5, "c": 0.3}
    assert sensitivity.rank_agreement({"c": 0.2, "a": 0.0, "b": 0.9}, ref) == 1.0
    with pytest.raises(ValueError, match="same layers"):
        sensitivity.rank_agreement({"a": 0.1}, ref)

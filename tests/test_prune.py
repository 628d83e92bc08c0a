"""Pruning: masks that persist, pruned equals masked, and the papers' parameter/FLOP counts (Li et al. 2017's
pruned-A VGG-16, Bai et al. 2020's VGG-50 %)."""
import copy
import math

import pytest
import torch
from torch import nn

from fsc_teach.models import (VGG, ResNetCIFAR, build_model, count_flops, count_params, small_cnn, vgg16_cifar,
                              vgg_fmnist)
from fsc_teach.prune import (FILTER_RATIOS, apply_masks_, get_masks, l1_filter_scores, l1_prune, magnitude_masks,
                             prunable_weights, prune_filters, reapply_masks_, remove_masks_, report, filter_ratios,
                             select_filters, sparsity)
from fsc_teach.train import fit


def _round(v):
    return int(math.floor(v + 0.5))  # round half up, as the pruning code counts


def _close(value, paper, rel=0.01):
    return abs(value - paper) <= rel * paper


def _randomize_bn_(model):
    """Non-trivial BatchNorm affine and running statistics, so that a test cannot pass by BN being the identity."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = mod.num_features
                mod.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(n, generator=gen))
                mod.running_mean.copy_(torch.randn(n, generator=gen) * 0.3)
                mod.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
    return model


# (factory, input shape): tiny networks of every supported kind
NETS = {
    "vgg_bn": (lambda: VGG([4, 6, 8], pools=[0, 2], in_channels=3, input_size=8), (3, 8, 8)),
    "vgg_nobn": (lambda: VGG([4, 6, 8], pools=[0, 2], in_channels=3, input_size=8, batch_norm=False), (3, 8, 8)),
    "vgg_mlp": (lambda: VGG([4, 6, 8], pools=[0, 2], in_channels=3, input_size=8, head="mlp", hidden=16),
                (3, 8, 8)),
    "small_cnn": (lambda: small_cnn((6, 8), in_channels=1, input_size=12), (1, 12, 12)),
    "resnet": (lambda: ResNetCIFAR(8, in_channels=3, input_size=8), (3, 8, 8)),
}


def _make(name, seed=0):
    torch.manual_seed(seed)
    factory, shape = NETS[name]
    return _randomize_bn_(factory()), shape


def _masked_equivalent(model, kept):
    """The original network with the removed filters silenced: conv weights and bias AND their BN γ, β zeroed.

    Zeroing only the conv would not do: BatchNorm would then emit the constant β − γμ/σ on the dead channel.
    """
    masked = copy.deepcopy(model)
    with torch.no_grad():
        for i, block in enumerate(masked.blocks):
            conv, bn = (block.conv, block.bn) if hasattr(block, "conv") else (block.conv1, block.bn1)
            drop = torch.ones(conv.out_channels, dtype=torch.bool)
            drop[kept[i]] = False
            conv.weight[drop] = 0
            if conv.bias is not None:
                conv.bias[drop] = 0
            if isinstance(bn, nn.BatchNorm2d):
                bn.weight[drop] = 0
                bn.bias[drop] = 0
    return masked


# ---------------------------------------------------------------------------------------------------------------
# structured pruning
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_pruned_network_equals_masked_original(name, mode):
    model, shape = _make(name)
    pruned, kept = l1_prune(model, 0.5)
    masked = _masked_equivalent(model, kept)
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(2))
    for m in (model, pruned, masked):
        m.train(mode == "train")
    out_pruned, out_masked = pruned(x), masked(x)
    assert torch.allclose(out_pruned, out_masked, atol=1e-5), (out_pruned - out_masked).abs().max()
    assert not torch.allclose(out_pruned, model(x), atol=1e-3)  # the pruning really changed the function
    assert count_params(pruned) < count_params(model)


@pytest.mark.parametrize("name", list(NETS))
def test_pruned_network_rebuilds_from_config_and_state_dict(name):
    model, shape = _make(name)
    pruned, kept = l1_prune(model, {0: 0.5, len(model.blocks) - 1: 0.25})
    assert pruned.widths == [len(k) for k in kept.values()]
    rebuilt = build_model(pruned.arch, copy.deepcopy(pruned.config))
    rebuilt.load_state_dict(pruned.state_dict(), strict=True)
    x = torch.randn(3, *shape)
    assert torch.equal(rebuilt.eval()(x), pruned.eval()(x))


def test_kept_indices_are_sorted_top_l1_filters_of_the_original():
    model, _ = _make("vgg_bn")
    state_before = {k: v.clone() for k, v in model.state_dict().items()}
    ratios = {0: 0.5, 1: 1 / 3, 2: 0.75}
    pruned, kept = l1_prune(model, ratios)
    assert sorted(kept) == [0, 1, 2]
    assert [len(kept[i]) for i in range(3)] == [2, 4, 2] == pruned.widths
    for i, scores in enumerate(l1_filter_scores(model)):
        k = kept[i]
        assert k.dtype == torch.long and torch.equal(k, torch.sort(k).values) and k.unique().numel() == len(k)
        dropped = torch.ones(len(scores), dtype=torch.bool)
        dropped[k] = False
        assert scores[k].min() >= scores[dropped].max()  # survivors are the largest-L1 filters
        old = model.blocks[i].conv.weight[k]
        assert torch.equal(pruned.blocks[i].conv.weight, old if i == 0 else old[:, kept[i - 1]])
        assert torch.equal(pruned.blocks[i].bn.running_mean, model.blocks[i].bn.running_mean[k])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state_before.items())  # original untouched


def test_resnet_prunes_only_inner_widths():
    model, _ = _make("resnet")
    pruned, kept = l1_prune(model, 0.5)
    for old, new, k in zip(model.blocks, pruned.blocks, kept.values()):
        assert new.conv1.out_channels == len(k) == new.conv2.in_channels == new.bn1.num_features
        assert new.conv2.out_channels == old.conv2.out_channels  # block outputs (and shortcuts) untouched
        assert torch.equal(new.conv2.weight, old.conv2.weight[:, k])
        assert torch.equal(new.bn1.running_var, old.bn1.running_var[k])


def test_head_inputs_are_sliced_channel_major():
    model, _ = _make("vgg_bn")  # last block: 8 channels at 2x2 -> Linear(32, 10)
    pruned, kept = l1_prune(model, {2: 0.5})
    k = kept[2]
    old, new = model.head[1].weight, pruned.head[1].weight
    assert new.shape == (10, len(k) * 4)
    assert torch.equal(new, old.view(10, 8, 4)[:, k].reshape(10, -1))


def test_at_least_one_filter_survives_and_bad_keeps_raise():
    model, _ = _make("vgg_bn")
    pruned, kept = l1_prune(model, 1.0)
    assert pruned.widths == [1, 1, 1] and all(len(k) == 1 for k in kept.values())
    with pytest.raises(ValueError):
        prune_filters(model, {0: torch.tensor([0, 0])})  # duplicates
    with pytest.raises(ValueError):
        prune_filters(model, {0: torch.tensor([4])})  # out of range
    with pytest.raises(ValueError):
        prune_filters(model, {7: torch.tensor([0])})  # no such block
    with pytest.raises(ValueError):
        select_filters(l1_filter_scores(model), {0: 1.5})


def test_unmerged_adapter_refuses_to_prune():
    model, _ = _make("vgg_bn")
    model.blocks[1].adapter = nn.Conv2d(6, 6, 1)
    with pytest.raises(ValueError, match="adapter"):
        l1_prune(model, 0.5)


def test_li_et_al_pruned_a_counts():
    model = vgg16_cifar(head="linear")
    pruned, kept = l1_prune(model, filter_ratios("vgg16-A", model))
    assert pruned.widths == [32, 64, 128, 128, 256, 256, 256, 256, 256, 256, 256, 256, 256]
    assert _close(count_params(pruned), 5.26e6), count_params(pruned)
    assert _close(count_flops(pruned, (3, 32, 32)), 2.06e8), count_flops(pruned, (3, 32, 32))


def test_cross_distillation_vgg_50_counts():
    model = vgg16_cifar(head="mlp")
    pruned, kept = l1_prune(model, filter_ratios("vgg16-50%", model))
    assert pruned.widths == [32, 32, 64, 64, 128, 128, 128, 256, 256, 256, 256, 256, 512]
    assert _close(count_params(pruned), 4.53e6), count_params(pruned)
    assert _close(count_flops(pruned, (3, 32, 32)), 0.082e9), count_flops(pruned, (3, 32, 32))


def test_fashion_mnist_schemes_grow_more_aggressive():
    model = vgg_fmnist()
    dense = count_flops(model)
    removed = {}
    for name in ("A", "B", "C", "50%"):
        pruned, _ = l1_prune(model, filter_ratios(name, model))
        removed[name] = 1 - count_flops(pruned) / dense
    assert 0.30 <= removed["A"] <= 0.40
    assert removed["A"] < removed["B"] < removed["C"] and removed["C"] >= 0.70
    half, _ = l1_prune(model, filter_ratios("50%", model))
    assert half.widths == vgg_fmnist(width=0.5).widths
    assert count_params(half) == count_params(vgg_fmnist(width=0.5))
    with pytest.raises(ValueError):
        filter_ratios("A", vgg16_cifar())  # a 6-block scheme on a 13-block network
    assert set(FILTER_RATIOS) >= {"vgg16-A", "vgg16-50%", "A", "B", "C", "50%"}


# ---------------------------------------------------------------------------------------------------------------
# unstructured masks
# ---------------------------------------------------------------------------------------------------------------

def _layer_zero_fraction(w):
    return 1 - int(torch.count_nonzero(w)) / w.numel()


def test_layer_scope_prunes_the_same_fraction_of_every_layer():
    model, _ = _make("vgg_bn")
    masks = magnitude_masks(model, 0.6, scope="layer")
    assert set(masks) == set(prunable_weights(model)) == {"blocks.0.conv.weight", "blocks.1.conv.weight",
                                                          "blocks.2.conv.weight", "head.1.weight"}
    apply_masks_(model, masks)
    for name, w in prunable_weights(model).items():
        assert _layer_zero_fraction(w) == pytest.approx(_round(0.6 * w.numel()) / w.numel())
        assert w[masks[name]].abs().min() > 0
    assert sparsity(model) == pytest.approx(0.6, abs=0.01)
    assert model.blocks[0].bn.weight.count_nonzero() == model.blocks[0].bn.weight.numel()  # BN untouched


def test_global_scope_ranks_all_layers_together():
    model, _ = _make("vgg_bn")
    with torch.no_grad():
        model.blocks[1].conv.weight.mul_(100.0)  # one layer of large weights
    before = {k: v.detach().abs().clone() for k, v in prunable_weights(model).items()}
    masks = magnitude_masks(model, 0.5, scope="global")
    total = sum(m.numel() for m in masks.values())
    assert sum(int((~m).sum()) for m in masks.values()) == _round(0.5 * total)
    # the global threshold: every kept weight is at least as large as every removed one
    kept_min = min(before[k][m].min() for k, m in masks.items() if m.any())
    removed_max = max(before[k][~m].max() for k, m in masks.items() if (~m).any())
    assert kept_min >= removed_max
    apply_masks_(model, masks)
    assert _layer_zero_fraction(model.blocks[1].conv.weight) < 0.05  # the large layer is barely pruned
    assert sparsity(model) == pytest.approx(_round(0.5 * total) / total)


def _data(shape, n=32):
    gen = torch.Generator().manual_seed(3)
    return torch.randn(n, *shape, generator=gen), torch.randint(0, 10, (n,), generator=gen)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_masks_survive_training_with_momentum_weight_decay_and_adam(optimizer):
    model, shape = _make("vgg_bn")
    masks = magnitude_masks(model, 0.7, scope="global")
    apply_masks_(model, masks)
    before = {k: v.detach().clone() for k, v in prunable_weights(model).items()}
    x, y = _data(shape)
    fit(model, x, y, epochs=3, batch_size=8, lr=0.05 if optimizer == "sgd" else 0.01, optimizer=optimizer,
        momentum=0.9, weight_decay=5e-3, progress=False)
    for name, w in prunable_weights(model).items():
        assert torch.all(w[~masks[name]] == 0), name  # exactly zero, not merely small
        assert not torch.equal(w[masks[name]], before[name][masks[name]])  # the survivors did train
    assert sparsity(model) == pytest.approx(0.7, abs=0.01)


def test_stale_optimizer_state_revives_weights_unless_masks_are_reapplied():
    for reapply in (False, True):
        model, shape = _make("vgg_nobn")
        x, y = _data(shape)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        for _ in range(3):  # momentum builds up before pruning
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        apply_masks_(model, magnitude_masks(model, 0.5))
        for _ in range(3):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            if reapply:
                reapply_masks_(model)
        # the momentum buffers still push the masked weights away from zero unless masks are re-applied
        assert (sparsity(model) == pytest.approx(0.5, abs=0.01)) == reapply


def test_deepcopy_then_reapply_restores_the_gradient_masks():
    model, shape = _make("vgg_bn")
    apply_masks_(model, magnitude_masks(model, 0.5))
    clone = reapply_masks_(copy.deepcopy(model))  # PyTorch does not copy tensor hooks; the mask buffers it does
    x, y = _data(shape)
    nn.functional.cross_entropy(clone(x), y).backward()
    for name, mask in get_masks(clone).items():
        grad = clone.get_parameter(name).grad
        assert torch.all(grad[~mask] == 0) and grad[mask].abs().sum() > 0


def test_masks_stay_out_of_the_state_dict_and_can_be_removed():
    model, shape = _make("vgg_bn")
    keys = set(model.state_dict())
    masks = magnitude_masks(model, 0.5)
    apply_masks_(model, masks)
    assert set(model.state_dict()) == keys  # checkpoints of a masked model still load into build_model
    assert set(get_masks(model)) == set(masks)
    apply_masks_(model, magnitude_masks(model, 0.8))  # a second round prunes more, never revives
    assert all(torch.all(get_masks(model)[k] <= m) for k, m in masks.items())
    remove_masks_(model)
    assert get_masks(model) == {}
    x, y = _data(shape)
    nn.functional.cross_entropy(model(x), y).backward()
    w = model.blocks[1].conv.weight
    assert w.grad[w == 0].abs().sum() > 0  # no longer enforced: gradients reach the zeroed weights


def test_report_counts_nonzero_params_and_flops():
    model, shape = _make("vgg_nobn")
    dense = report(model, shape)
    assert dense["sparsity"] == 0 and dense["flops"] == dense["nonzero_flops"] == count_flops(model, shape)
    apply_masks_(model, magnitude_masks(model, 0.5))
    sparse = report(model, shape)
    assert sparse["params"] == dense["params"]
    removed = sum(_round(0.5 * w.numel()) for w in prunable_weights(model).values())
    assert dense["nonzero_params"] - sparse["nonzero_params"] == removed
    assert sparse["nonzero_flops"] < 0.6 * sparse["flops"]
    assert sparse["sparsity"] == pytest.approx(0.5, abs=0.01)


def test_masks_on_a_frozen_copy_then_trainable():
    from fsc_teach.train import freeze
    from fsc_teach.models import vgg_fmnist
    from fsc_teach.train import fit

    net = freeze(vgg_fmnist(width=0.125))
    apply_masks_(net, magnitude_masks(net, 0.5))  # frozen: masks applied, no hook needed
    assert abs(sparsity(net) - 0.5) < 0.01
    for p in net.parameters():
        p.requires_grad_(True)
    reapply_masks_(net)
    x, y = torch.randn(32, 1, 28, 28), torch.arange(32) % 10
    fit(net.train(), x, y, epochs=1, batch_size=16, progress=False)
    assert abs(sparsity(net) - 0.5) < 0.01

import pytest
import torch
from torch import nn

from fsc_teach.data import synthetic_dataset
from fsc_teach.models import (VGG, block_io, build_model, count_flops, count_params, resnet_cifar, small_cnn,
                              vgg16_cifar, vgg_fmnist)


def _close(value, paper, rel=0.01):
    return abs(value - paper) <= rel * paper


@pytest.mark.parametrize("head, params, flops", [("mlp", 14.99e6, 0.314e9), ("linear", 14.72e6, 3.13e8)])
def test_vgg16_cifar_counts_match_the_papers(head, params, flops):
    model = vgg16_cifar(head=head)
    assert _close(count_params(model), params), count_params(model)
    assert _close(count_flops(model, (3, 32, 32)), flops), count_flops(model, (3, 32, 32))


def test_resnet_counts_match_he_et_al():
    assert _close(count_params(resnet_cifar(20)), 0.27e6, rel=0.02)
    assert _close(count_params(resnet_cifar(56)), 0.85e6)
    assert _close(count_flops(resnet_cifar(56), (3, 32, 32)), 125e6)


def test_flops_by_hand_for_one_conv_and_one_linear():
    model = VGG([4], pools=[0], in_channels=1, input_size=8, batch_norm=False)  # conv 1->4 at 8x8, pool to 4x4
    assert count_flops(model, (1, 8, 8)) == 8 * 8 * 4 * 1 * 9 + 4 * 4 * 4 * 10
    assert count_params(model) == 4 * 9 + 4 + 64 * 10 + 10


def test_nonzero_counts_follow_sparsity():
    model = vgg_fmnist(width=0.25)
    dense = count_flops(model)
    nonzero_before = count_params(model, nonzero=True)  # BatchNorm's β starts at zero and is not counted
    with torch.no_grad():
        model.blocks[0].conv.weight[: model.widths[0] // 2] = 0  # half the first conv's filters
    first = model.blocks[0].conv.weight
    assert count_flops(model, nonzero=True) == dense - 28 * 28 * first.numel() // 2
    assert count_params(model, nonzero=True) == nonzero_before - first.numel() // 2


MODELS = [
    (lambda: vgg_fmnist(), (1, 28, 28)),
    (lambda: vgg_fmnist(batch_norm=False, width=0.5), (1, 28, 28)),
    (lambda: small_cnn((16, 32)), (1, 28, 28)),
    (lambda: vgg16_cifar(head="mlp"), (3, 32, 32)),
    (lambda: vgg16_cifar(head="linear", batch_norm=False), (3, 32, 32)),
    (lambda: resnet_cifar(20), (3, 32, 32)),
]


@pytest.mark.parametrize("make, shape", MODELS)
def test_block_io_agrees_with_forward(make, shape):
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randn(4, *shape)
    pairs = block_io(model, x)
    assert len(pairs) == len(model.blocks)
    for (h_in, _), (_, prev_out) in zip(pairs[1:], pairs[:-1]):
        assert h_in is prev_out  # each block's input is the previous block's output
    assert torch.allclose(model.head(pairs[-1][1]), model(x), atol=1e-6)
    assert model(x).shape == (4, 10)
    assert all(out.shape[1] == w for (_, out), w in zip(pairs, model.widths)) or model.arch == "resnet_cifar"


@pytest.mark.parametrize("make, shape", MODELS)
def test_rebuild_from_config_and_state_dict(make, shape):
    model = make().eval()
    clone = build_model(model.arch, model.config).eval()
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, *shape)
    assert torch.equal(model(x), clone(x))


def test_synthetic_cifar_runs_through_paper_models():
    x, y = synthetic_dataset(8, (3, 32, 32))
    for model in (vgg16_cifar(), resnet_cifar(56)):
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward()
        assert logits.shape == (8, 10) and torch.isfinite(loss)


def test_bad_architecture_arguments_are_explained():
    with pytest.raises(ValueError, match="6n\\+2"):
        resnet_cifar(21)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("alexnet", {})
    with pytest.raises(ValueError, match="pools index blocks"):
        VGG([8, 8], pools=[5])


def test_block_parts_agree_with_forward_and_with_hooks():
    """``parts`` returns the output and the adapter's input (and a residual block's shortcut) without hooks."""
    from fsc_teach.models import BasicBlock, ConvBlock

    torch.manual_seed(0)
    for block, x in ((ConvBlock(3, 5, pool="max").eval(), torch.randn(2, 3, 8, 8)),
                     (BasicBlock(4, 6, 8, stride=2).eval(), torch.randn(2, 4, 8, 8))):
        seen = {}
        h = block.adapter.register_forward_hook(lambda _m, inp, _o: seen.__setitem__("z", inp[0]))
        out, z, s = block.parts(x)
        h.remove()
        torch.testing.assert_close(out, block(x))
        torch.testing.assert_close(z, seen["z"])
        if isinstance(block, BasicBlock):
            torch.testing.assert_close(s, block.shortcut(x))
        else:
            assert s is None

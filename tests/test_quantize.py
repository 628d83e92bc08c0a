"""Uniform symmetric weight quantization: level counts, error bounds, per-channel vs per-tensor."""
import pytest
import torch
from torch import nn

from fsc_teach.models import VGG
from fsc_teach.quantize import quant_scale, quantize_model, quantize_tensor


def _weights(seed=0):
    """A conv weight whose output channels have very different ranges, as trained networks often do."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(16, 8, 3, 3, generator=gen)
    return w * torch.logspace(-2, 0, 16).view(16, 1, 1, 1)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("per_channel", [False, True])
def test_levels_and_error_bound(bits, per_channel):
    w = _weights()
    q = quantize_tensor(w, bits, per_channel)
    scale = quant_scale(w, bits, per_channel)
    qmax = 2 ** (bits - 1) - 1
    steps = q / scale
    assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= qmax + 1e-4  # on the grid
    if per_channel:
        assert max(q[c].unique().numel() for c in range(16)) <= 2**bits - 1
    else:
        assert q.unique().numel() <= 2**bits - 1
        assert q.unique().numel() >= min(2**bits - 1, 3)  # the grid is actually used, not collapsed
    assert torch.all((q - w).abs() <= scale / 2 * (1 + 1e-5))
    assert torch.allclose(q.abs().amax(), w.abs().amax())  # the largest weight is exact: nothing is clipped


def test_per_channel_error_is_no_larger_than_per_tensor():
    w = _weights()
    err_tensor = (quantize_tensor(w, 4) - w).pow(2).flatten(1).mean(1)
    err_channel = (quantize_tensor(w, 4, per_channel=True) - w).pow(2).flatten(1).mean(1)
    assert err_channel.sum() < 0.5 * err_tensor.sum()
    assert torch.all(err_channel[:8] < 0.1 * err_tensor[:8])  # channels of small weights gain the most
    assert torch.allclose(err_channel[-1], err_tensor[-1])  # the largest channel sets both scales: no change
    bound_channel = quant_scale(w, 4, per_channel=True).flatten()
    assert torch.all(bound_channel <= quant_scale(w, 4) * (1 + 1e-6))  # every channel's step is at most the global one


def test_zeros_stay_zero_and_quantization_is_idempotent():
    w = _weights()
    w[w.abs() < 0.01] = 0
    w[3] = 0  # an all-zero channel
    for per_channel in (False, True):
        q = quantize_tensor(w, 4, per_channel)
        assert torch.all(q[w == 0] == 0) and torch.isfinite(q).all()
        assert torch.allclose(quantize_tensor(q, 4, per_channel), q, atol=1e-6)


def _model():
    torch.manual_seed(0)
    model = VGG([8, 16], pools=[0, 1], in_channels=3, input_size=8, head="mlp", hidden=32).eval()
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.bias.normal_()
    return model


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantize_model_copies_and_only_touches_conv_and_linear_weights(per_channel):
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    quantized = quantize_model(model, 4, per_channel)
    assert quantized is not model
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the original is untouched
    for name, value in quantized.state_dict().items():
        is_weight = name.endswith("weight") and value.ndim >= 2  # conv and linear weights, not BN's γ
        assert torch.equal(value, before[name]) != is_weight, name
        if is_weight:
            assert value.unique().numel() <= 15 * (value.shape[0] if per_channel else 1)


def test_eight_bits_is_nearly_lossless_and_two_bits_is_not():
    model = _model()
    x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    ref = model(x)

    def rel_error(bits):
        return ((quantize_model(model, bits)(x) - ref).norm() / ref.norm()).item()

    assert rel_error(8) < 0.01
    assert rel_error(2) > 10 * rel_error(8)


@pytest.mark.parametrize("bits", [1, 0, -3, 2.5, True])
def test_fewer_than_two_bits_raises(bits):
    with pytest.raises(ValueError):
        quantize_tensor(_weights(), bits)
    with pytest.raises(ValueError):
        quantize_model(_model(), bits)


# ----------------------------------------------------------- Bai et al. 2020's clipped projection (Tables 17–18)

@pytest.mark.parametrize("bits", [2, 3, 4])
def test_clipped_projection_is_the_symmetric_grid_with_zero_and_idempotent(bits):
    from fsc_teach.quantize import clip_range, quantize_clipped

    w = torch.randn(2000, generator=torch.Generator().manual_seed(bits))
    q = quantize_clipped(w, bits)
    qmax, amax = 2 ** (bits - 1) - 1, clip_range(w)
    assert amax == pytest.approx(min(w.abs().max().item(), abs(w.mean().item()) + 3 * w.std().item()))
    expected = torch.arange(-qmax, qmax + 1) * amax / qmax  # {0, ±1/Q, …, ±1} · amax
    torch.testing.assert_close(q.unique(), expected.to(q.dtype))  # every level used, nothing else
    inside = w.abs() <= amax
    assert torch.all((q - w)[inside].abs() <= amax / qmax / 2 * (1 + 1e-5))  # nearest level
    assert torch.all(q[~inside].abs() == amax)  # beyond three sigma: the outermost level
    torch.testing.assert_close(quantize_clipped(q, bits, amax=amax), q)  # a projection: Π(Π(w)) = Π(w)


def test_three_sigma_clipping_keeps_outliers_from_stretching_the_grid():
    from fsc_teach.quantize import quantize_clipped

    w = torch.randn(4000, generator=torch.Generator().manual_seed(0))
    w[0] = 50.0  # one outlier
    clipped, raw = quantize_clipped(w, 3), quantize_clipped(w, 3, clip_sigma=None)
    bulk = slice(1, None)
    assert (clipped[bulk] - w[bulk]).pow(2).mean() < 0.2 * (raw[bulk] - w[bulk]).pow(2).mean()
    torch.testing.assert_close(raw, quantize_tensor(w, 3))  # without the clip it is the symmetric grid of notebook 01


def test_clipped_projection_rejects_bad_bits_and_handles_zeros():
    from fsc_teach.quantize import quantize_clipped

    with pytest.raises(ValueError, match="bits"):
        quantize_clipped(torch.ones(3), 1)
    assert torch.equal(quantize_clipped(torch.zeros(5), 2), torch.zeros(5))

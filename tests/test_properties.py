"""Property-based tests (Hypothesis): generated arguments either give the oracle's result or a clear error.

For each public function: shapes, dtypes, out-of-range and non-finite values are drawn; when the arguments are
valid the result is compared with the oracle the unit tests use (named in each test), otherwise the call must raise
ValueError or TypeError naming the argument (``helpers.clear_error``, which also counts the distinct bad inputs;
the count is printed at the end of the run). Bounded and derandomised by the ``ci`` profile in conftest.py.
"""
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402

from fsc_teach import cross, data, fskd, losses, prune, quantize, train  # noqa: E402
from fsc_teach.losses import kd_loss  # noqa: E402
from helpers import GOOD_RESULTS, clear_error  # noqa: E402
from test_losses import _manual_kd  # noqa: E402  (the unit tests' oracle: float64 sums by hand)

# Numbers a student might pass: ordinary values, edges, wrong signs, non-finite values and wrong types.
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-3, 12),
                    st.sampled_from([None, "2", True, [1.0]]))
DTYPES = st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool])


def _finite_real(v, low=-math.inf, high=math.inf, low_open=False, high_open=False) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return False
    return (v > low if low_open else v >= low) and (v < high if high_open else v <= high)


def _is_int(v, low=-math.inf, high=math.inf) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _good():
    GOOD_RESULTS[0] += 1


def _tensor(shape, dtype, seed=0):
    t = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2
    return t.to(dtype)


# ------------------------------------------------------------------------------------------------- losses

@given(b=st.integers(0, 4), c_s=st.integers(1, 5), c_t=st.integers(1, 5), T=NUMBERS,
       alpha=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), NUMBERS), ds=DTYPES, dt=DTYPES,
       targets=st.sampled_from(["none", "ok", "float", "out", "negative", "short"]))
def test_kd_loss(b, c_s, c_t, T, alpha, ds, dt, targets):
    s, t = _tensor((b, c_s), ds), _tensor((b, c_t), dt, seed=1)
    y = {"none": None, "ok": torch.arange(b) % c_s, "float": (torch.arange(b) % c_s).float(),
         "out": torch.full((b,), c_s), "negative": torch.full((b,), -1), "short": torch.zeros(max(b - 1, 0)).long()
         }[targets]
    call = lambda: kd_loss(s, t, T=T, alpha=alpha, targets=y)  # noqa: E731
    floats = (torch.float32, torch.float64)
    if ds not in floats or b == 0:
        return clear_error("kd_loss", "student_logits", f"{b}x{c_s} {ds}", call)
    if dt not in floats or c_t != c_s:
        return clear_error("kd_loss", "teacher_logits", f"{b}x{c_t} {dt} for {c_s} classes", call)
    if not _finite_real(T, 0.0, low_open=True):
        return clear_error("kd_loss", "T", repr(T), call)
    if not _finite_real(alpha, 0.0, 1.0):
        return clear_error("kd_loss", "alpha", repr(alpha), call)
    if targets not in ("none", "ok"):
        return clear_error("kd_loss", "targets", targets, call)
    if y is None and alpha != 1.0:
        return clear_error("kd_loss", "alpha", f"{alpha} without targets", call)
    got = call().item()
    expected = _manual_kd(s, t, T, alpha, y if y is not None else torch.zeros(b, dtype=torch.long))
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)
    _good()


def test_the_five_reported_cases_are_clear():
    """Mismatched teacher and student logits name both shapes; the other reported mistakes are in test_validate.py."""
    with pytest.raises(ValueError, match=r"teacher_logits must have the shape of student_logits, \(4, 10\), "
                                         r"got \(4, 9\)"):
        kd_loss(torch.randn(4, 10), torch.randn(4, 9), T=2)


# -------------------------------------------------------------------------------------- train: fit / evaluate

@given(n=st.integers(0, 5), xdtype=DTYPES, ydtype=DTYPES, y_len=st.integers(-1, 1), classes=st.booleans(),
       epochs=st.one_of(st.just(1), NUMBERS), batch_size=st.one_of(st.just(2), NUMBERS),
       lr=st.one_of(st.just(0.1), NUMBERS))
def test_fit(n, xdtype, ydtype, y_len, classes, epochs, batch_size, lr):
    x = _tensor((n, 4), xdtype)
    y = (torch.arange(max(n + y_len, 0)) % (3 if classes else 5)).to(ydtype)
    model = nn.Linear(4, 3)
    call = lambda: train.fit(model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, progress=False)  # noqa: E731
    if xdtype != torch.float32 or n == 0:  # float64 too: the model's weights are float32
        return clear_error("fit", "x", f"{n}x4 {xdtype}", call)
    if not _is_int(batch_size, 1):
        return clear_error("fit", "batch_size", repr(batch_size), call)
    if ydtype in (torch.float32, torch.float64, torch.bool) or y_len != 0:
        return clear_error("fit", "y", f"{len(y)} labels of {ydtype} for {n} samples", call)
    if not _is_int(epochs, 0):
        return clear_error("fit", "epochs", repr(epochs), call)
    if not _finite_real(lr, 0.0):
        return clear_error("fit", "lr", repr(lr), call)
    if not classes and epochs > 0:  # labels 0..4 for a model with 3 outputs
        return clear_error("fit", "y", "labels beyond the model's 3 classes", call)
    history = call()
    assert history["epoch"] == list(range(1, epochs + 1))  # one entry per epoch, every loss finite
    assert all(math.isfinite(v) for v in history["train_loss"])
    _good()


@given(n=st.integers(0, 6), xdtype=DTYPES, ydtype=DTYPES, short=st.booleans(),
       batch_size=st.one_of(st.just(2), NUMBERS),
       device=st.sampled_from([None, "cpu", "cuda", "cuda:3", "gpu", "mps", 0, torch.device("cpu")]))
def test_evaluate_and_predict(n, xdtype, ydtype, short, batch_size, device):
    with pytest.MonkeyPatch.context() as mp:  # a machine without CUDA
        mp.setattr(torch.cuda, "is_available", lambda: False)
        _evaluate_case(n, xdtype, ydtype, short, batch_size, device)


def _evaluate_case(n, xdtype, ydtype, short, batch_size, device):
    model = nn.Linear(4, 3)
    x, y = _tensor((n, 4), xdtype), (torch.arange(max(n - short, 0)) % 3).to(ydtype)
    call = lambda: train.evaluate(model, x, y, batch_size=batch_size, device=device)  # noqa: E731
    if xdtype != torch.float32 or n == 0:  # float64 too: the model's weights are float32
        return clear_error("evaluate", "x", f"{n}x4 {xdtype}", call)
    if not _is_int(batch_size, 1):
        return clear_error("evaluate", "batch_size", repr(batch_size), call)
    if ydtype in (torch.float32, torch.float64, torch.bool) or short:
        return clear_error("evaluate", "y", f"{len(y)} labels of {ydtype} for {n} samples", call)
    if device not in (None, "cpu", torch.device("cpu")):
        return clear_error("evaluate", "device", repr(device), call)
    with torch.no_grad():
        expected = (model(x).argmax(1) == y).float().mean().item()  # the oracle: one forward pass by hand
    assert call() == pytest.approx(expected)
    _good()


@given(value=st.sampled_from(["cpu", "cuda", "cuda:0", "cuda:1", "mps", "tpu", "cpu ", "CUDA", ""]),
       cuda=st.booleans())
def test_fsc_device(value, cuda):
    with pytest.MonkeyPatch.context() as mp:  # CUDA with one GPU, or none; never MPS
        mp.setattr(torch.cuda, "is_available", lambda: cuda)
        mp.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
        mp.setattr(torch.backends.mps, "is_available", lambda: False)
        mp.setenv("FSC_DEVICE", value)
        _device_case(value, cuda)


def _device_case(value, cuda):
    usable = value.strip() in ("cpu",) + (("cuda", "cuda:0") if cuda else ())
    if value == "":
        assert train.get_device().type in {"cpu", "cuda"}  # unset: the default order
    elif usable:
        assert train.get_device() == torch.device(value.strip())
    else:
        clear_error("get_device", "FSC_DEVICE", repr(value), train.get_device)
        with pytest.raises(ValueError, match="available devices: cpu"):
            train.get_device()
    _good()


# ------------------------------------------------------------------------------------------- quantization

@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=3), dtype=DTYPES, bits=NUMBERS,
       per_channel=st.booleans(), poison=st.sampled_from([None, math.nan, math.inf]))
def test_quantize_tensor(shape, dtype, bits, per_channel, poison):
    w = _tensor(tuple(shape), dtype)
    if poison is not None and w.numel() and w.is_floating_point():
        w.view(-1)[0] = poison
    call = lambda: quantize.quantize_tensor(w, bits, per_channel)  # noqa: E731
    if not w.is_floating_point():
        return clear_error("quantize_tensor", "w", f"{tuple(shape)} {dtype}", call)
    if not _is_int(bits, 2):
        return clear_error("quantize_tensor", "bits", repr(bits), call)
    if poison is not None and w.numel():
        return clear_error("quantize_tensor", "w", f"{tuple(shape)} with {poison}", call)
    q, scale = call(), quantize.quant_scale(w, bits, per_channel)
    qmax = 2 ** (bits - 1) - 1
    steps = q / scale  # the oracle of test_quantize: on the grid, within half a step, nothing clipped
    assert torch.allclose(steps, steps.round(), atol=1e-4) and bool((steps.abs() <= qmax + 1e-4).all())
    assert bool(((q - w).abs() <= scale / 2 * (1 + 1e-5) + 1e-12).all())
    _good()


# ---------------------------------------------------------------------------------------------- pruning

@given(sparsity=st.one_of(st.sampled_from([0.0, 0.3, 0.99, 1.0]), NUMBERS),
       scope=st.sampled_from(["layer", "global", "all", None]))
def test_magnitude_masks(sparsity, scope):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(12, 5))
    call = lambda: prune.magnitude_masks(model, sparsity, scope)  # noqa: E731
    if not _finite_real(sparsity, 0.0, 1.0, high_open=True):
        return clear_error("magnitude_masks", "sparsity", repr(sparsity), call)
    if scope not in ("layer", "global"):
        return clear_error("magnitude_masks", "scope", repr(scope), call)
    masks = call()
    counts = {k: int((~m).sum()) for k, m in masks.items()}  # the oracle: exactly round(s·n) pruned
    if scope == "layer":
        assert all(counts[k] == math.floor(sparsity * m.numel() + 0.5) for k, m in masks.items())
    else:
        assert sum(counts.values()) == math.floor(sparsity * sum(m.numel() for m in masks.values()) + 0.5)
    _good()


@given(ratio=NUMBERS)
def test_select_filters(ratio):
    scores = [torch.tensor([3.0, 1.0, 2.0, 0.5]), torch.tensor([1.0, 2.0])]
    call = lambda: prune.select_filters(scores, ratio)  # noqa: E731
    if not _finite_real(ratio, 0.0, 1.0):
        return clear_error("select_filters", "ratios", repr(ratio), call)
    keep = call()
    for s, k in zip(scores, keep.values()):  # the oracle: the top max(1, n − round(r·n)) scores, sorted
        n_keep = max(1, s.numel() - math.floor(ratio * s.numel() + 0.5))
        assert k.tolist() == sorted(s.argsort(descending=True)[:n_keep].tolist())
    _good()


@given(lam=NUMBERS, dtype=DTYPES, keep=NUMBERS)
def test_prox_and_topk(lam, dtype, keep):
    w = _tensor((3, 4), dtype)
    call = lambda: prune.prox_l1(w, lam)  # noqa: E731
    if not w.is_floating_point():
        clear_error("prox_l1", "w", str(dtype), call)
    elif not _finite_real(lam, 0.0):
        clear_error("prox_l1", "lam", repr(lam), call)
    else:  # Eq. 10 by hand, the unit test's oracle
        expected = torch.tensor([v - lam if v > lam else v + lam if v < -lam else 0.0 for v in w.flatten().tolist()],
                                dtype=w.dtype)
        torch.testing.assert_close(call(), expected.view_as(w))
        _good()
    call = lambda: prune.topk_mask(w, keep)  # noqa: E731
    if not _finite_real(keep, 0.0, 1.0):
        clear_error("topk_mask", "keep_fraction", repr(keep), call)
    elif not w.is_floating_point():
        clear_error("topk_mask", "w", str(dtype), call)
    else:
        m = call()
        assert int(m.sum()) == round(keep * w.numel())
        assert m.all() or not m.any() or w.abs()[m].min() >= w.abs()[~m].max()
        _good()


# ------------------------------------------------------------------------------------------------- FSKD

@given(kind=st.sampled_from(["conv", "linear", "conv1d", "none"]), rows=st.integers(0, 4), cols=st.integers(1, 4),
       four_d=st.booleans(), dtype=DTYPES, bias_len=st.sampled_from([None, 0, 1]))
def test_merge_pointwise(kind, rows, cols, four_d, dtype, bias_len):
    torch.manual_seed(0)
    conv = {"conv": nn.Conv2d(2, 3, 3, padding=1), "linear": nn.Linear(3, 4), "conv1d": nn.Conv1d(2, 3, 3),
            "none": None}[kind]
    q = _tensor((rows, cols, 1, 1) if four_d else (rows, cols), dtype)
    bias = None if bias_len is None else torch.randn(rows + bias_len)
    call = lambda: fskd.merge_pointwise(conv, q, bias)  # noqa: E731
    if kind != "conv":
        return clear_error("merge_pointwise", "conv", kind, call)
    if not q.is_floating_point():
        return clear_error("merge_pointwise", "q", str(dtype), call)
    if bias_len == 1:
        return clear_error("merge_pointwise", "bias", f"{rows + 1} entries for {rows} rows", call)
    if cols != 3:
        return clear_error("merge_pointwise", "1x1 conv takes", f"q with {cols} columns", call)
    merged = call()
    x = torch.randn(2, 2, 5, 5)
    with torch.no_grad():  # the oracle of test_fskd: the conv, then the 1x1 conv, by F.conv2d
        expected = F.conv2d(conv(x), q.float().reshape(rows, cols, 1, 1), bias)
        torch.testing.assert_close(merged(x), expected, atol=1e-4, rtol=1e-4)
    _good()


@given(ridge=NUMBERS, rows=st.integers(-1, 1), dtype=DTYPES)
def test_solve_pointwise(ridge, rows, dtype):
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(20, 3, generator=gen).to(dtype)
    q_true = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    ys = xs.double() @ q_true.T + 0.5 if dtype in (torch.float32, torch.float64) else xs
    ys = ys[:20 + rows] if rows < 0 else torch.cat([ys, ys[:rows]])
    call = lambda: fskd.solve_pointwise(xs, ys, ridge=ridge)  # noqa: E731
    if not xs.is_floating_point():
        return clear_error("solve_pointwise", "student_feats", str(dtype), call)
    if rows != 0:
        return clear_error("solve_pointwise", "teacher_feats", f"{len(ys)} rows for 20", call)
    if not _finite_real(ridge, 0.0):
        return clear_error("solve_pointwise", "ridge", repr(ridge), call)
    q, q0 = call()
    if ridge == 0:  # the oracle of test_fskd: an exact linear map is recovered
        torch.testing.assert_close(q, q_true, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(q0, torch.full((2,), 0.5, dtype=torch.float64), atol=1e-4, rtol=1e-4)
    assert q.shape == (2, 3) and bool(torch.isfinite(q).all())
    _good()


# ------------------------------------------------------------------------------------------------- data

@given(k=NUMBERS, seed=st.one_of(st.just(0), NUMBERS), ydtype=DTYPES)
def test_few_shot_indices(k, seed, ydtype):
    targets = (torch.arange(30) % 3).to(ydtype)
    call = lambda: data.few_shot_indices(targets, k, seed=seed)  # noqa: E731
    if ydtype in (torch.float32, torch.float64, torch.bool):
        return clear_error("few_shot_indices", "targets", str(ydtype), call)
    if not _is_int(k, 1):
        return clear_error("few_shot_indices", "k", repr(k), call)
    if not _is_int(seed):
        return clear_error("few_shot_indices", "seed", repr(seed), call)
    if k > 10:
        return clear_error("few_shot_indices", "k=", repr(k), call)
    idx = call()  # the contract of test_data: exactly k per class, sorted, distinct
    assert torch.equal(torch.bincount(targets[idx], minlength=3), torch.full((3,), k))
    assert torch.equal(idx, idx.unique())
    _good()


@given(num_items=NUMBERS, n=NUMBERS)
def test_sample_indices(num_items, n):
    call = lambda: data.sample_indices(num_items, n)  # noqa: E731
    if not _is_int(num_items, 1):
        return clear_error("sample_indices", "num_items", repr(num_items), call)
    if not _is_int(n, 1, num_items):
        return clear_error("sample_indices", "n", repr(n), call)
    idx = call()
    assert len(idx) == n and torch.equal(idx, idx.unique()) and int(idx.max()) < num_items
    _good()


# ------------------------------------------------------------------------------------------------ cross

@given(shape_t=st.sampled_from([(2, 3, 4, 4), (2, 3, 5, 5), (3, 3, 4, 4), (2, 3)]), dtype=DTYPES, mu=NUMBERS)
def test_cross_loss(shape_t, dtype, mu):
    torch.manual_seed(0)
    s_layer, t_layer = nn.Conv2d(3, 2, 3, padding=1), nn.Conv2d(3, 2, 3, padding=1)
    h_s, h_t = torch.randn(2, 3, 4, 4), _tensor(shape_t, dtype)
    call = lambda: losses.cross_loss(s_layer, t_layer, h_s, h_t, mu=mu)  # noqa: E731
    if dtype != torch.float32:  # float64 too: the layers' weights are float32
        return clear_error("cross_loss", "h_t", str(dtype), call)
    if shape_t != (2, 3, 4, 4):
        return clear_error("cross_loss", "h_t", str(shape_t), call)
    if not _finite_real(mu, 0.0, 1.0):
        return clear_error("cross_loss", "mu", repr(mu), call)
    with torch.no_grad():  # the oracle of test_cross: μ·correction + (1 − μ)·imitation, squared norms over N
        sq = lambda a, b: ((a - b) ** 2).sum() / a.shape[0]  # noqa: E731
        h_t32 = h_t.float()
        expected = mu * sq(t_layer(h_t32), s_layer(h_t32)) + (1 - mu) * sq(t_layer(h_s), s_layer(h_s))
    torch.testing.assert_close(call(), expected, rtol=1e-5, atol=1e-5)
    _good()

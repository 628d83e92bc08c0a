"""Property-based tests (Hypothesis): generated arguments either give the oracle's result or a clear error.

For each public function: shapes, dtypes, out-of-range and non-finite values are drawn; when the arguments are
valid the result is compared with the oracle the unit tests use (named in each test), otherwise the call must raise
ValueError or TypeError naming the argument (``helpers.clear_error``, which also counts the distinct bad inputs;
the count is printed at the end of the run). Bounded and derandomised by the ``ci`` profile in conftest.py.

The training methods (``kd.distill``, FitNets, cross distillation, ``iterative.teach``) run one step on a two-block
network and six 8x8 images: the step is recomputed by hand (Nesterov SGD on the loss) or checked for the property
its unit test states (which blocks move, which weights are zero).
"""
import copy
import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

from fsc_teach import (cross, data, fewshot, fitnets, fskd, grid, iterative, kd, losses, models, plots,  # noqa: E402
                       prune, quantize, students, train)
from fsc_teach.losses import LAYER_LOSSES, kd_loss  # noqa: E402
from fsc_teach.models import VGG  # noqa: E402
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


# ============================================================================ methods, students, models, plots
# Tiny networks (two blocks on 8x8 images, three classes) and one-epoch runs on six images: a valid call is either
# compared with an oracle computed here or checked for the property its unit test states.

@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread for these tiny networks: two only wait on each other, the more so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _vgg(widths=(3, 4), seed=0, classes=3):
    torch.manual_seed(seed)
    return VGG(list(widths), pools=[0, 1], in_channels=1, num_classes=classes, input_size=8)


IMAGES = st.sampled_from(["ok", "float64", "int64", "3-D", "3 channels", "empty"])
LABELS = st.sampled_from(["ok", "none", "float", "short", "negative", "beyond"])


def mostly(valid, bad, odds: int = 2):
    """``valid`` in ``odds`` draws of ``odds + 1``, else ``bad``: with several arguments each mostly valid, a good
    share of the examples are valid calls (compared with an oracle) and the rest have one or two mistakes."""
    return st.integers(0, odds).flatmap(lambda i: bad if i == odds else valid)


OK_IMAGES, OK_LABELS = mostly(st.just("ok"), IMAGES, 3), mostly(st.sampled_from(["ok", "none"]), LABELS, 3)
TEMPERATURES = mostly(st.sampled_from([1.0, 4.0]), NUMBERS, 3)
ALPHAS = mostly(st.sampled_from([0.0, 0.5, 1.0]), NUMBERS, 3)
# The tests below try three times the profile's examples (90 in CI, 3000 when thorough): a wrong argument fails in
# microseconds, and a valid call trains a two-block network on six 8x8 images for one step.
MORE = settings(max_examples=3 * settings.default.max_examples)


def _images(kind, n=6, seed=2):
    x = torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    return {"ok": x, "float64": x.double(), "int64": x.long(), "3-D": x[:, 0], "3 channels": x.expand(n, 3, 8, 8),
            "empty": x[:0]}[kind]


def _labels(kind, n=6, classes=3):
    y = torch.arange(n) % classes
    return {"ok": y, "none": None, "float": y.float(), "short": y[:-1], "negative": y - 1, "beyond": y + 1}[kind]


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def _one_sgd_step(model, loss_of, lr, momentum=0.9, weight_decay=5e-4):
    """The parameters after ``fit``'s first step on one full batch: Nesterov SGD from a zero buffer, by hand."""
    params = [p for p in model.parameters()]
    grads = torch.autograd.grad(loss_of(model), params)
    return [(p - lr * (1 + momentum) * (g + weight_decay * p)).detach() for p, g in zip(params, grads)]


def _assert_params(model, expected):
    for p, e in zip(model.parameters(), expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-4, atol=1e-5, equal_nan=True)  # an extreme T: NaN both


# --------------------------------------------------------------------------------------------- kd.distill

@MORE
@given(xk=OK_IMAGES, yk=OK_LABELS, T=TEMPERATURES, alpha=ALPHAS, same=mostly(st.just(False), st.just(True), 3))
def test_distill(xk, yk, T, alpha, same):
    teacher, student = _vgg((4, 6), seed=1).eval(), _vgg(seed=0)
    x, y = _images(xk), _labels(yk)
    student = teacher if same else student
    before = _state(teacher)
    call = lambda: kd.distill(student, teacher, x, y, T=T, alpha=alpha, epochs=1, batch_size=6, lr=0.1,  # noqa: E731
                              progress=False)
    if xk != "ok":
        return clear_error("distill", "x", xk, call)
    if yk not in ("ok", "none"):
        return clear_error("distill", "y", yk, call)
    if not _finite_real(T, 0.0, low_open=True):
        return clear_error("distill", "T", repr(T), call)
    if not _finite_real(alpha, 0.0, 1.0):
        return clear_error("distill", "alpha", repr(alpha), call)
    if same:
        return clear_error("distill", "teacher", "the student itself", call)
    a = 1.0 if y is None else alpha
    with torch.no_grad():
        t_logits = teacher.eval()(x)
    oracle = copy.deepcopy(student).train()  # one step of kd_loss on the whole batch, Nesterov SGD by hand
    expected = _one_sgd_step(oracle, lambda m: kd_loss(m(x), t_logits, T=T, alpha=a,
                                                       targets=None if a == 1.0 else y), lr=0.1)
    history = call()
    assert history["epoch"] == [1] and _same_state(before, teacher.state_dict())
    _assert_params(student, expected)
    _good()


# --------------------------------------------------------------------------------------------------- FitNets

BLOCK_INDEX = st.one_of(st.integers(-1, 2), st.sampled_from([1.0, "0", None, True]))


@MORE
@given(guided=mostly(st.integers(0, 1), BLOCK_INDEX, 3), hint=mostly(st.integers(0, 1), BLOCK_INDEX, 3), xk=OK_IMAGES,
       two_stage=st.booleans())
def test_fitnets(guided, hint, xk, two_stage):
    teacher, student = _vgg((4, 6), seed=1).eval(), _vgg(seed=0)
    x, y = _images(xk), _labels("ok")
    before_t, before_s = _state(teacher), _state(student)
    name = "fitnet_two_stage" if two_stage else "fitnet_single_stage"
    if two_stage:  # stage 1 only: the hint trains the student up to its guided block, nothing after it
        call = lambda: fitnets.fitnet_two_stage(student, teacher, x, y, guided_block=guided,  # noqa: E731
                                                hint_block=hint, stage1_epochs=1, stage2_epochs=0, batch_size=6,
                                                progress=False)
    else:
        call = lambda: fitnets.fitnet_single_stage(student, teacher, x, y, guided_block=guided,  # noqa: E731
                                                   hint_block=hint, epochs=1, batch_size=6, progress=False)
    if xk != "ok":
        return clear_error(name, "x", xk, call)
    if not _is_int(guided, 0, 1):
        return clear_error(name, "guided_block", repr(guided), call)
    if not _is_int(hint, 0, 1):
        return clear_error(name, "hint_block", repr(hint), call)
    if guided > hint:  # the guided layer (2x2) is smaller than the hint (4x4)
        return clear_error(name, "hint_block", f"{hint} with guided_block {guided}", call)
    call()
    assert _same_state(before_t, teacher.state_dict())  # the teacher is only read
    after = student.state_dict()
    changed = {k.split(".")[0] + (k.split(".")[1] if k.startswith("blocks") else "") for k in after
               if k.endswith("weight") and not torch.equal(after[k], before_s[k])}
    if two_stage:
        assert changed == {f"blocks{j}" for j in range(guided + 1)}, changed
    else:
        assert changed == {"blocks0", "blocks1", "head"}, changed
    _good()


# ------------------------------------------------------------------------------------ cross distillation

@MORE
@given(loss=mostly(st.sampled_from(["cross", "nc", "soft"]), st.sampled_from(["l2", None])),
       mu=mostly(st.sampled_from([0.0, 0.6, 1.0]), NUMBERS), steps=mostly(st.integers(0, 5), NUMBERS),
       batch_size=mostly(st.one_of(st.none(), st.integers(1, 8)), NUMBERS),
       prune=mostly(st.sampled_from([None, "structured", "unstructured"]), st.just("channels")),
       sparsity=mostly(st.sampled_from([0.5, 0.0, {1: 0.5}]), st.one_of(NUMBERS, st.sampled_from([{1: 1.0},
                                                                                                  {1: "0.5"}]))),
       quantize=mostly(st.one_of(st.none(), st.integers(2, 8)), NUMBERS))
def test_cross_options(loss, mu, steps, batch_size, prune, sparsity, quantize):
    call = lambda: cross.CrossOptions(loss=loss, mu=mu, steps=steps, batch_size=batch_size,  # noqa: E731
                                      prune=prune, sparsity=sparsity, quantize=quantize)
    if loss not in LAYER_LOSSES:
        return clear_error("CrossOptions", "loss", repr(loss), call)
    if not _finite_real(mu, 0.0, 1.0):
        return clear_error("CrossOptions", "mu", repr(mu), call)
    if not _is_int(steps, 0):
        return clear_error("CrossOptions", "steps", repr(steps), call)
    if batch_size is not None and not _is_int(batch_size, 1):
        return clear_error("CrossOptions", "batch_size", repr(batch_size), call)
    if prune not in (None, "structured", "unstructured"):
        return clear_error("CrossOptions", "prune", repr(prune), call)
    ratios = sparsity.values() if isinstance(sparsity, dict) else [sparsity]
    if not all(_finite_real(r, 0.0, 1.0, high_open=True) for r in ratios):
        return clear_error("CrossOptions", "sparsity", repr(sparsity), call)
    if quantize is not None and not _is_int(quantize, 2):
        return clear_error("CrossOptions", "quantize", repr(quantize), call)
    if quantize is not None and prune is not None:
        return clear_error("CrossOptions", "quantize and prune", f"{quantize} bits with {prune}", call)
    o = call()  # the oracle: the options hold exactly what was given
    assert (o.loss, o.mu, o.steps, o.batch_size, o.prune, o.sparsity, o.quantize) == \
        (loss, mu, steps, batch_size, prune, sparsity, quantize)
    _good()


@MORE
@given(xk=OK_IMAGES, yk=OK_LABELS, student=mostly(st.sampled_from(["none", "copy"]), st.sampled_from(["narrow",
                                                                                                   "linear"]), 3),
       layers=mostly(st.sampled_from([None, [1], [0, 1]]), st.sampled_from([[1, 0], [2], [-1], "1", [1.0]]), 3),
       sparsity=mostly(st.sampled_from([0.5, {1: 0.5}]), st.just({3: 0.5}), 3), seed=mostly(st.just(0), NUMBERS, 3))
def test_cross_distill(xk, yk, student, layers, sparsity, seed):
    teacher = _vgg((4, 6), seed=1).eval()
    s = {"none": None, "copy": copy.deepcopy(teacher), "narrow": _vgg((2, 6)), "linear": nn.Linear(4, 3)}[student]
    x, y = _images(xk), _labels(yk)
    before = _state(teacher)
    call = lambda: cross.cross_distill(s, teacher, x, y=y, steps=1, layers=layers, prune="unstructured",  # noqa: E731
                                       sparsity=sparsity, seed=seed, progress=False)
    if student in ("narrow", "linear"):
        return clear_error("cross_distill", "student", student, call)
    if xk != "ok":
        return clear_error("cross_distill", "x", xk, call)
    if yk not in ("ok", "none"):
        return clear_error("cross_distill", "y", yk, call)
    if not _is_int(seed):
        return clear_error("cross_distill", "seed", repr(seed), call)
    if sparsity == {3: 0.5}:
        return clear_error("cross_distill", "sparsity", repr(sparsity), call)
    if layers is not None and (not isinstance(layers, list) or not all(_is_int(v, 0, 1) for v in layers)):
        return clear_error("cross_distill", "layers", repr(layers), call)
    if layers == [1, 0]:
        return clear_error("cross_distill", "layers", "out of order", call)
    result, info = call()
    distilled = [1] if layers is None else layers  # block 0 of a VGG reads the image: not distilled by default
    assert _same_state(before, teacher.state_dict()) and info["widths"] == teacher.widths
    for j in range(2):  # the oracle: blocks left alone are the teacher's; a pruned one has exactly its zeros
        w, ratio = result.blocks[j].conv.weight, sparsity.get(j, 0.0) if isinstance(sparsity, dict) else sparsity
        if j not in distilled:
            assert torch.equal(w, teacher.blocks[j].conv.weight), j
        elif ratio > 0:
            assert int((w == 0).sum()) == w.numel() - round((1 - ratio) * w.numel()), j
    _good()


# ------------------------------------------------------------------------------------------------ grid

def _cell(a, b=0):
    return 10 * a + b


@MORE
@given(fn=mostly(st.just("ok"), st.sampled_from(["none", "string"])),
       cells=mostly(st.just("ok"), st.sampled_from(["dict", "str", "int", "int keys"])),
       workers=mostly(st.one_of(st.none(), st.integers(1, 3)), NUMBERS),
       cache=mostly(st.sampled_from(["none", "dict"]), st.sampled_from(["list", "int"])))
def test_run_grid(fn, cells, workers, cache):
    f = {"ok": _cell, "none": None, "string": "_cell"}[fn]
    good_cells = [{"a": 1}, {"a": 2, "b": 3}, {"a": 1}]
    c = {"ok": good_cells, "dict": {"a": 1}, "str": "a=1", "int": [1, 2], "int keys": [{1: 2}]}[cells]
    store = {"none": None, "dict": {}, "list": [], "int": 3}[cache]
    call = lambda: grid.run_grid(f, c, workers=workers, cache=store, progress=False)  # noqa: E731
    if fn != "ok":
        return clear_error("run_grid", "fn", fn, call)
    if cells in ("dict", "str"):
        return clear_error("run_grid", "cells", cells, call)
    if cells != "ok":
        return clear_error("run_grid", "cells[0]", cells, call)
    if workers is not None and not _is_int(workers, 1):
        return clear_error("run_grid", "workers", repr(workers), call)
    if cache in ("list", "int"):
        return clear_error("run_grid", "cache", cache, call)
    assert call() == [_cell(**cell) for cell in good_cells]  # the oracle: the cells computed one by one
    if cache == "dict":
        assert sorted(store.values()) == [10, 23]  # each distinct cell once
    _good()


# ------------------------------------------------------------------------------------------ iterative KD

@MORE
@given(m=mostly(st.integers(1, 3), st.just(0)), b=st.integers(0, 3), c=st.integers(1, 4), T=TEMPERATURES,
       dtypes=st.lists(mostly(st.sampled_from([torch.float32, torch.float64]), DTYPES), min_size=3, max_size=3),
       odd=mostly(st.just(-1), st.integers(0, 2)), stacked=mostly(st.just(False), st.just(True)))
def test_ensemble_logits(m, b, c, T, dtypes, odd, stacked):
    logits = [_tensor((b, c + (k == odd)), dtypes[k], seed=k) for k in range(m)]
    given_ = torch.stack(logits) if stacked and m and odd < 0 and len(set(dtypes[:m])) == 1 else logits
    call = lambda: iterative.ensemble_logits(given_, T)  # noqa: E731
    if isinstance(given_, torch.Tensor):
        return clear_error("ensemble_logits", "logits", f"one {tuple(given_.shape)} tensor", call)
    if m == 0:
        return clear_error("ensemble_logits", "logits", "[]", call)
    for k in range(m):
        if not logits[k].is_floating_point():
            return clear_error("ensemble_logits", f"logits[{k}]", str(dtypes[k]), call)
        if k == odd and k > 0:
            return clear_error("ensemble_logits", f"logits[{k}]", f"{c + 1} classes for {c}", call)
        if k == 0 and odd == 0 and m > 1:
            return clear_error("ensemble_logits", "logits[1]", f"{c} classes for {c + 1}", call)
    if not _finite_real(T, 0.0, low_open=True):
        return clear_error("ensemble_logits", "T", repr(T), call)
    got = call()
    assert got.shape == logits[0].shape
    if 1e-3 <= T <= 1e3:  # the oracle: its softmax at T is the mean of the parents' softmaxes (float32 range)
        mean_p = torch.stack([F.softmax(z.double() / T, 1) for z in logits]).mean(0)
        torch.testing.assert_close(F.softmax(got.double() / T, 1), mean_p, rtol=1e-4, atol=1e-6)
    _good()


@MORE
@given(parents=st.sampled_from(["two", "one", "none", "module", "with a tensor"]),
       T=st.one_of(st.just(2.0), NUMBERS))
def test_ensemble_module(parents, T):
    nets = [_vgg(seed=0).eval(), _vgg((2, 2), seed=1).eval()]
    p = {"two": nets, "one": nets[:1], "none": [], "module": nets[0],
         "with a tensor": [nets[0], torch.zeros(2)]}[parents]
    call = lambda: iterative.Ensemble(p, T)  # noqa: E731
    if parents in ("none", "module"):
        return clear_error("Ensemble", "parents", parents, call)
    if parents == "with a tensor":
        return clear_error("Ensemble", "parents[1]", parents, call)
    if not _finite_real(T, 0.0, low_open=True):
        return clear_error("Ensemble", "T", repr(T), call)
    x, ensemble = _images("ok"), call()
    with torch.no_grad():
        got = ensemble(x)
        expected = torch.stack([F.softmax(n(x).double() / T, 1) for n in p]).mean(0)
    assert got.shape == (6, 3)
    if 1e-3 <= T <= 1e3:  # the oracle, within float32's range
        torch.testing.assert_close(F.softmax(got.double() / T, 1), expected, rtol=1e-4, atol=1e-6)
    _good()


@MORE
@given(parents=mostly(st.sampled_from(["one", "two"]), st.sampled_from(["module", "empty"]), 3),
       build=mostly(st.just("ok"), st.sampled_from(["module", "parent"]), 3), xk=OK_IMAGES, yk=OK_LABELS,
       T=TEMPERATURES, alpha=ALPHAS, hint_block=mostly(st.sampled_from([None, None, -1, 0]), st.integers(-3, 2), 3))
def test_teach(parents, build, xk, yk, T, alpha, hint_block):
    nets = [_vgg((4, 6), seed=1).eval(), _vgg((4, 4), seed=2).eval()]
    p = {"one": nets[:1], "two": nets, "module": nets[0], "empty": []}[parents]
    builder = {"ok": lambda: _vgg(seed=5), "module": _vgg(), "parent": lambda: nets[0]}[build]
    x, y = _images(xk), _labels(yk)
    before = [_state(n) for n in nets]
    call = lambda: iterative.teach(p, builder, x, y, T=T, alpha=alpha, hint_block=hint_block,  # noqa: E731
                                   epochs=1, batch_size=6, lr=0.1, progress=False)
    if parents in ("module", "empty"):
        return clear_error("teach", "parents", parents, call)
    if build == "module":
        return clear_error("teach", "build_child", "a network", call)
    if xk != "ok":
        return clear_error("teach", "x", xk, call)
    if yk not in ("ok", "none", "beyond"):  # labels beyond the classes: found once the child is built
        return clear_error("teach", "y", yk, call)
    if not _finite_real(T, 0.0, low_open=True):
        return clear_error("teach", "T", repr(T), call)
    if not _finite_real(alpha, 0.0, 1.0):
        return clear_error("teach", "alpha", repr(alpha), call)
    if hint_block is not None and not -2 <= hint_block <= 1:
        return clear_error("teach", "hint_block", repr(hint_block), call)
    if build == "parent":
        return clear_error("teach", "build_child", "a parent", call)
    if hint_block is not None and len(p) > 1:
        return clear_error("teach", "hint", "two parents", call)
    if yk == "beyond":
        return clear_error("teach", "y", "labels beyond the child's classes", call)
    if hint_block is not None:
        call()
        return _good()
    a = 1.0 if y is None else alpha
    with torch.no_grad():  # the soft target: the parent's logits, or the probability average of two
        target = p[0](x) if len(p) == 1 else iterative.ensemble_logits([n(x) for n in p], T)
    oracle = _vgg(seed=5).train()
    expected = _one_sgd_step(oracle, lambda mod: kd_loss(mod(x), target, T=T, alpha=a,
                                                         targets=None if a == 1.0 else y), lr=0.1)
    child, history = call()
    assert history["epoch"] == [1] and all(_same_state(b, n.state_dict()) for b, n in zip(before, nets))
    _assert_params(child, expected)
    _good()


# ----------------------------------------------------------------------------------------------- students

RATIOS = st.one_of(st.sampled_from([0.0, 0.5, 0.9]), NUMBERS,
                   st.lists(st.one_of(st.sampled_from([0.0, 0.25, 0.75]), NUMBERS), min_size=0, max_size=3))


@MORE
@given(ratio=RATIOS)
def test_slimming_keep(ratio):
    from helpers import randomise_bn_

    model = randomise_bn_(_vgg((4, 6)), seed=3)
    call = lambda: students.slimming_keep(model, ratio)  # noqa: E731
    per_block = isinstance(ratio, list)
    if not per_block and not _finite_real(ratio, 0.0, 1.0, high_open=True):
        return clear_error("slimming_keep", "ratio", repr(ratio), call)
    if per_block and len(ratio) != 2:
        return clear_error("slimming_keep", "ratio", f"{len(ratio)} fractions for 2 blocks", call)
    for j, r in enumerate(ratio if per_block else []):
        if not _finite_real(r, 0.0, 1.0, high_open=True):
            return clear_error("slimming_keep", f"ratio[{j}]", repr(r), call)
    kept = call()
    gammas = [b.bn.weight.detach().abs().tolist() for b in model.blocks]  # the oracle: |γ| ranked by hand
    if per_block:
        ranked = [sorted(range(len(g)), key=lambda i, g=g: g[i]) for g in gammas]
        removed = [set(r[:math.floor(f * len(g) + 0.5)]) for r, f, g in zip(ranked, ratio, gammas)]
    else:
        flat = sorted(((v, j, i) for j, g in enumerate(gammas) for i, v in enumerate(g)), key=lambda t: t[0])
        gone = {(j, i) for _, j, i in flat[:math.floor(ratio * len(flat) + 0.5)]}
        removed = [{i for i in range(len(g)) if (j, i) in gone} for j, g in enumerate(gammas)]
    for j, g in enumerate(gammas):
        expected = [i for i in range(len(g)) if i not in removed[j]] or [max(range(len(g)), key=lambda i: g[i])]
        assert kept[j].tolist() == expected
    _good()


@MORE
@given(factor=st.one_of(st.sampled_from([0.5, 0.25, 1.0, 1.5]), NUMBERS), drop=st.one_of(st.integers(0, 3), NUMBERS),
       model=st.sampled_from(["vgg", "small_cnn", "linear"]))
def test_shrink_builders(factor, drop, model):
    net = {"vgg": VGG([4, 4, 6, 6], pools=[1, 3], in_channels=1, input_size=8), "small_cnn": models.small_cnn((2, 3)),
           "linear": nn.Linear(2, 2)}[model]
    for name, call in (("shrink_width", lambda: students.shrink_width(net, factor)),
                       ("shrink_blocks", lambda: students.shrink_blocks(net, drop))):
        if model != "vgg":
            clear_error(name, "model", model, call)
        elif name == "shrink_width" and not _finite_real(factor, 0.0, low_open=True):
            clear_error(name, "factor", repr(factor), call)
        elif name == "shrink_blocks" and not _is_int(drop, 0, 2):  # one conv per stage may go: two stages
            clear_error(name, "drop", repr(drop), call)
        elif name == "shrink_width":  # the oracle: every width scaled and rounded, at least one
            widths = [max(1, round(w * factor)) for w in net.widths]
            if max(widths) <= 64:
                assert call()().widths == widths
            _good()
        else:
            child = call()()
            assert len(child.blocks) == 4 - drop and child.widths[-1] == 6
            assert child(torch.zeros(2, 1, 8, 8)).shape == (2, 10)  # the head's input is unchanged
            _good()


@MORE
@given(widths=mostly(st.tuples(st.integers(1, 4), st.integers(1, 6)).map(list),
                     st.one_of(st.lists(st.one_of(st.integers(-1, 7), st.sampled_from([2.0, "3", None])), max_size=3),
                               st.sampled_from([None, 4, "4,6"]))))
def test_l1_to_widths(widths):
    teacher = _vgg((4, 6), seed=1).eval()
    call = lambda: students.l1_to_widths(teacher, widths)  # noqa: E731
    if not isinstance(widths, list):
        return clear_error("l1_to_widths", "widths", repr(widths), call)
    if len(widths) != 2:
        return clear_error("l1_to_widths", "widths", f"{len(widths)} widths for 2 blocks", call)
    for i, (w, full) in enumerate(zip(widths, teacher.widths)):
        if not _is_int(w, 1, full):
            return clear_error("l1_to_widths", f"widths[{i}]", repr(w), call)
    student = call()
    assert student.widths == widths and student.training
    w0 = teacher.blocks[0].conv.weight  # the oracle: block 0 keeps its filters of largest L1 norm, in order
    top = sorted(w0.abs().flatten(1).sum(1).argsort(descending=True)[:widths[0]].tolist())
    assert torch.equal(student.blocks[0].conv.weight.detach(), w0[top])
    _good()


@MORE
@given(rank=st.one_of(st.integers(1, 10), NUMBERS), kind=st.sampled_from(["conv", "grouped", "linear"]),
       k=st.sampled_from([1, 3]))
def test_decouple_conv(rank, kind, k):
    torch.manual_seed(0)
    conv = {"conv": nn.Conv2d(2, 3, k, padding=k // 2), "grouped": nn.Conv2d(2, 2, k, groups=2),
            "linear": nn.Linear(2, 3)}[kind]
    call = lambda: students.decouple_conv(conv, rank)  # noqa: E731
    if kind == "linear":
        return clear_error("decouple_conv", "conv", kind, call)
    if not _is_int(rank, 1):
        return clear_error("decouple_conv", "rank", repr(rank), call)
    if kind == "grouped":
        return clear_error("decouple_conv", "conv", "groups=2", call)
    x = torch.randn(2, 2, 5, 5)
    with torch.no_grad():
        got, expected = call()(x), conv(x)
    assert got.shape == expected.shape
    if rank >= min(3, k * k):  # the oracle: a full-rank decoupling is the conv itself
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    _good()


# ------------------------------------------------------------------------------------------------- models

@MORE
@given(upto=st.one_of(st.none(), st.integers(-4, 4), st.sampled_from([1.0, "0", True])), xk=IMAGES)
def test_block_io(upto, xk):
    model = _vgg((3, 4)).eval()
    x = _images(xk)
    call = lambda: models.block_io(model, x, upto=upto)  # noqa: E731
    if xk not in ("ok", "empty"):  # an empty batch is a batch: features of no images
        return clear_error("block_io", "x", xk, call)
    if upto is not None and not _is_int(upto, -2, 1):
        return clear_error("block_io", "upto", repr(upto), call)
    with torch.no_grad():
        pairs = call()
        assert len(pairs) == (2 if upto is None else upto % 2 + 1)
        h = x
        for block, (inp, out) in zip(model.blocks, pairs):  # the oracle: each block applied to the last output
            torch.testing.assert_close(inp, h)
            h = block(h)
            torch.testing.assert_close(out, h)
        if len(pairs) == 2:  # with every block, the head of the last output is the network's output
            torch.testing.assert_close(model.head(pairs[-1][1]), model(x))
    _good()


@MORE
@given(widths=mostly(st.lists(st.integers(1, 5), min_size=1, max_size=3),
                     st.lists(st.one_of(st.integers(-1, 5), st.sampled_from([2.5, "3"])), max_size=3)),
       pools=mostly(st.lists(st.integers(0, 2), max_size=2, unique=True), st.lists(st.integers(-1, 3), max_size=3)),
       input_size=mostly(st.sampled_from([8, 4]), st.sampled_from([1, 0, 8.0])),
       head=mostly(st.sampled_from(["linear", "mlp"]), st.just("conv")))
def test_vgg(widths, pools, input_size, head):
    call = lambda: VGG(widths, pools, in_channels=2, num_classes=3, input_size=input_size, head=head,  # noqa: E731
                       hidden=4)
    if not widths:
        return clear_error("VGG", "widths", "[]", call)
    for i, w in enumerate(widths):
        if not _is_int(w):
            return clear_error("VGG", f"widths[{i}]", repr(w), call)
    if len(set(pools)) != len(pools):
        return clear_error("VGG", "pools", repr(pools), call)
    if not _is_int(input_size, 1):
        return clear_error("VGG", "input_size", repr(input_size), call)
    if input_size < 2 ** len(pools):
        return clear_error("VGG", "input_size", f"{input_size} for {len(pools)} pools", call)
    if head not in ("linear", "mlp"):
        return clear_error("VGG", "head", repr(head), call)
    if min(widths) < 1 or any(not 0 <= p < len(widths) for p in pools):
        return clear_error("VGG", "pools index blocks", f"widths {widths}, pools {pools}", call)
    net = call().eval()  # the oracle: the widths asked for, logits for every class, flops by hand
    assert net.widths == widths and net(torch.zeros(2, 2, input_size, input_size)).shape == (2, 3)
    sides, side = [], input_size
    for i in range(len(widths)):
        sides.append(side)
        side //= 2 if i in pools else 1
    convs = sum(s * s * w * c * 9 for s, w, c in zip(sides, widths, [2] + widths[:-1]))
    linear = widths[-1] * side * side * (3 if head == "linear" else 4) + (4 * 3 if head == "mlp" else 0)
    assert models.count_flops(net, (2, input_size, input_size)) == convs + linear
    _good()


@MORE
@given(input_size=mostly(st.sampled_from([[2, 5, 4], [1, 8, 8], [2, 1, 7]]),
                         st.one_of(st.lists(st.one_of(st.integers(0, 6), st.sampled_from([2.5, "3"])), max_size=4),
                                   st.sampled_from([5, "5x5", None]))),
       model=mostly(st.sampled_from(["conv", "vgg"]), st.just("relu")),
       nonzero=mostly(st.booleans(), st.sampled_from([1, "yes"])))
def test_count_flops(input_size, model, nonzero):
    torch.manual_seed(0)
    net = {"conv": nn.Sequential(nn.Conv2d(2, 3, 3, padding=1)), "vgg": _vgg((3, 4)), "relu": nn.ReLU()}[model]
    with torch.no_grad():
        for p in net.parameters():
            p[p.abs() < 0.1] = 0.0  # some zero weights, for nonzero=True
    call = lambda: models.count_flops(net, input_size, nonzero=nonzero)  # noqa: E731
    if not isinstance(nonzero, bool):
        return clear_error("count_flops", "nonzero", repr(nonzero), call)
    if not isinstance(input_size, list) or not input_size:
        return clear_error("count_flops", "input_size", repr(input_size), call)
    for i, v in enumerate(input_size):
        if not _is_int(v, 1):
            return clear_error("count_flops", f"input_size[{i}]", repr(v), call)
    if model == "vgg" and (len(input_size) != 3 or input_size[0] != 1):
        return clear_error("count_flops", "input_size", f"{input_size} for a 1-channel VGG", call)
    if model == "relu":
        return clear_error("count_flops", "model", "no parameters", call)
    if model == "conv" and (len(input_size) != 3 or input_size[0] != 2):
        return  # a plain module's input is not known to the check: PyTorch refuses it (not a clear-error case)
    if model == "vgg" and input_size[1:] != [8, 8]:
        return  # the VGG's linear head needs its own input size
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    count = [int(w.count_nonzero()) if nonzero else w.numel() for w in weights]
    if model == "conv":  # the oracle: H·W positions, each using every (non-zero) weight once
        expected = input_size[1] * input_size[2] * count[0]
    else:
        expected = 64 * count[0] + 16 * count[1] + count[2]  # 8x8, then 4x4 after the first pool, then the head
    assert call() == expected
    _good()


# -------------------------------------------------------------------------------------------------- plots

@MORE
@given(n=st.integers(0, 6), num_classes=st.one_of(st.integers(1, 4), NUMBERS), pred=st.sampled_from(
    ["ok", "float", "short", "beyond", "2-D"]))
def test_confusion_matrix(n, num_classes, pred):
    y_true = torch.arange(n) % 3
    y_pred = {"ok": (y_true * 2) % 3, "float": y_true.float(), "short": y_true[:-1], "beyond": y_true + 3,
              "2-D": y_true[:, None]}[pred]
    call = lambda: plots.confusion_matrix(y_true, y_pred, num_classes)  # noqa: E731
    if not _is_int(num_classes, 1):
        return clear_error("confusion_matrix", "num_classes", repr(num_classes), call)
    if n and num_classes <= int(y_true.max()):
        return clear_error("confusion_matrix", "y_true", f"classes up to {int(y_true.max())} of {num_classes}", call)
    valid = (pred not in ("float", "2-D") and len(y_pred) == n
             and all(0 <= v < num_classes for v in y_pred.tolist()))
    if not valid:
        return clear_error("confusion_matrix", "y_pred", f"{pred} ({n} labels, {num_classes} classes)", call)
    cm = call()  # the oracle: counts by a Python loop
    expected = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        expected[t][p] += 1
    assert cm.tolist() == expected
    _good()


@MORE
@given(values=st.one_of(st.lists(st.floats(0, 1), max_size=4), st.sampled_from(["0.5", None, [[0.5]], [0.5, "x"]])),
       scale=st.one_of(st.sampled_from([100.0, 1]), NUMBERS), digits=st.one_of(st.integers(0, 4), NUMBERS))
def test_mean_std(values, scale, digits):
    call = lambda: plots.mean_std(values, scale, digits)  # noqa: E731
    if not isinstance(values, list) or any(not isinstance(v, float) for v in values):
        return clear_error("mean_std", "values", repr(values), call)
    if not _finite_real(scale):
        return clear_error("mean_std", "scale", repr(scale), call)
    if not _is_int(digits, 0):
        return clear_error("mean_std", "digits", repr(digits), call)
    import statistics  # the oracle: the standard library's mean and sample standard deviation

    v = [scale * a for a in values]
    expected = "—" if not v else f"{v[0]:.{digits}f}" if len(v) == 1 else \
        f"{statistics.fmean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}"
    got = call()
    assert got == expected or _close_text(got, expected)
    _good()


def _close_text(a: str, b: str) -> bool:
    """Two formatted numbers that differ only in the last digit's rounding (mean by NumPy, by statistics)."""
    fa, fb = [float(t) for t in a.split(" ± ")], [float(t) for t in b.split(" ± ")]
    return len(fa) == len(fb) and all(math.isclose(p, q, rel_tol=1e-6, abs_tol=10 ** -len(a)) for p, q in zip(fa, fb))


# ------------------------------------------------------------------------------------------------ fewshot

@MORE
@given(kind=st.sampled_from(["structured", "unstructured", "channels", None]),
       sparsity=st.one_of(st.sampled_from([0.5, 0.9]), NUMBERS),
       blocks=st.sampled_from([None, (1,), (0, 2), (1, -1), "1", (1.0,)]),
       kd_T=st.one_of(st.just(4.0), NUMBERS), batch_size=st.one_of(st.none(), NUMBERS),
       extra=st.sampled_from([{}, {"views": 2}, {"steps": 3}, {"nothing": 1}, [("views", 2)]]))
def test_scheme_and_settings(kind, sparsity, blocks, kd_T, batch_size, extra):
    call = lambda: fewshot.Scheme(kind, sparsity, blocks)  # noqa: E731
    if kind not in ("structured", "unstructured"):
        clear_error("Scheme", "kind", repr(kind), call)
    elif not _finite_real(sparsity, 0.0, 1.0, low_open=True, high_open=True):
        clear_error("Scheme", "sparsity", repr(sparsity), call)
    elif blocks == "1":
        clear_error("Scheme", "blocks", repr(blocks), call)
    elif repr(blocks) in ("(1, -1)", "(1.0,)"):  # (1.0,) == (1,): compare what was written
        clear_error("Scheme", f"blocks[{len(blocks) - 1}]", repr(blocks), call)
    else:
        s = call()  # the oracle: what was given, and the name the tables print
        assert (s.kind, s.sparsity, s.blocks) == (kind, sparsity, blocks)
        assert s.name == f"{kind} {100 * sparsity:g} %"
        _good()
    call = lambda: fewshot.Settings(kd_T=kd_T, batch_size=batch_size, extra=extra)  # noqa: E731
    if not _finite_real(kd_T, 0.0, low_open=True):
        clear_error("Settings", "kd_T", repr(kd_T), call)
    elif batch_size is not None and not _is_int(batch_size, 1):
        clear_error("Settings", "batch_size", repr(batch_size), call)
    elif not isinstance(extra, dict) or set(extra) - {"views"}:
        clear_error("Settings", "extra", repr(extra), call)
    else:
        s = call()
        assert (s.kd_T, s.batch_size, s.extra) == (kd_T, batch_size, extra) and s.as_dict()["kd_T"] == kd_T
        _good()

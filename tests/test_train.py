import math

import pytest
import torch
from torch import nn

from fsc_teach.models import vgg_fmnist
import threading

from fsc_teach.train import HISTORY_KEYS, eval_mode, evaluate, fit, get_device, map_batches, predict


def _toy(n=256, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.randn(n, 1, 28, 28, generator=gen) * 0.5
    x[torch.arange(n), 0, y * 2, y * 2] += 4.0  # a learnable cue: a bright pixel whose place is the class
    return x, y


def _tiny():
    return vgg_fmnist(width=0.125)


def test_fit_learns_and_returns_history():
    x, y = _toy()
    torch.manual_seed(0)
    model = _tiny()
    before = evaluate(model, x, y)
    hist = fit(model, x, y, epochs=6, batch_size=32, lr=0.05, val=(x, y), progress=False)
    assert set(hist) == {"epoch", "train_loss", "train_acc", "val_acc", "time"}
    assert hist["epoch"] == list(range(1, 7)) and hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > max(0.5, before)
    assert model.training  # evaluating inside fit must not leave the model in eval mode


def test_same_seed_same_numbers():
    x, y = _toy()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = _tiny()
        runs.append((fit(model, x, y, epochs=2, batch_size=32, augment=True, seed=5, progress=False)["train_loss"],
                     predict(model, x[:8])))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])


def test_evaluate_restores_mode_and_predict_is_eval():
    model = _tiny()
    x, y = _toy(32)
    model.train()
    evaluate(model, x, y)
    assert model.training
    model.eval()
    evaluate(model, x, y)
    assert not model.training


def test_map_batches_is_the_ordered_map_and_restores_the_thread_setting():
    model = _tiny().eval()
    x, _ = _toy(64)
    batches = [x[i:i + 8] for i in range(0, 64, 8)]
    with torch.no_grad():
        alone = [model(b) for b in batches]  # each batch by itself, in turn
    threads = torch.get_num_threads()
    for n in (1, 2):  # one intra-op thread: in turn; two: side by side, one thread each
        torch.set_num_threads(n)
        try:
            both = map_batches(model, batches, torch.device("cpu"))
            assert torch.get_num_threads() == n
        finally:
            torch.set_num_threads(threads)
        assert len(both) == len(alone)
        for a, b in zip(both, alone):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # two batches really run at once when two threads are allowed: each waits for the other at a barrier
    barrier, seen = threading.Barrier(2, timeout=30), []
    torch.set_num_threads(2)
    try:
        out = map_batches(lambda b: (barrier.wait(), seen.append(threading.get_ident()), b * 2)[-1],
                          [torch.ones(1), torch.zeros(1)], torch.device("cpu"))
    finally:
        torch.set_num_threads(threads)
    assert [float(t) for t in out] == [2.0, 0.0] and len(set(seen)) == 2


def test_loss_fn_and_params_hooks():
    x, y = _toy(64)
    model = _tiny()
    frozen = [p.clone() for p in model.blocks[0].parameters()]
    seen = []

    def loss_fn(m, xb, yb, extra):
        seen.append(len(xb))
        logits = m(xb)
        return torch.nn.functional.cross_entropy(logits, yb), logits

    fit(model, x, y, epochs=1, batch_size=16, params=model.head.parameters(), loss_fn=loss_fn, progress=False)
    assert seen == [16] * 4
    assert all(torch.equal(a, b) for a, b in zip(frozen, model.blocks[0].parameters()))


def test_bad_arguments():
    model = _tiny()
    with pytest.raises(ValueError, match="y must hold one label per sample"):
        fit(model, torch.zeros(4, 1, 28, 28), torch.zeros(3, dtype=torch.long), progress=False)
    with pytest.raises(ValueError, match="unknown optimizer"):
        fit(model, *_toy(8), optimizer="lbfgs", progress=False)


def test_device_choice(monkeypatch):
    monkeypatch.setenv("FSC_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.delenv("FSC_DEVICE")
    assert get_device().type in {"cuda", "mps", "cpu"}


def test_extra_rows_follow_the_batch_order():
    x, y = _toy(64)
    extra = torch.arange(64).float()
    seen = []

    def loss_fn(model, xb, yb, extra_b):
        rows = extra_b.long()
        assert torch.equal(xb, x[rows]) and torch.equal(yb, y[rows])  # the same samples, in the same order
        seen.append(rows)
        logits = model(xb)
        return torch.nn.functional.cross_entropy(logits, yb), logits

    fit(_tiny(), x, y, epochs=1, batch_size=16, extra=extra, loss_fn=loss_fn, progress=False)
    assert sorted(torch.cat(seen).tolist()) == list(range(64))
    with pytest.raises(ValueError, match="augment"):
        fit(_tiny(), x, y, epochs=1, extra=extra, augment=True, loss_fn=loss_fn, progress=False)


def test_the_loss_owns_the_forward_pass_and_the_history_has_one_shape():
    """loss_fn(model, xb, yb, extra) -> (loss, logits): fit calls it once a step with the model itself; no logits
    means no training accuracy (NaN); every history has the same keys, one value per epoch."""
    x, y = _toy(48)
    model, other = _tiny(), nn.Linear(1, 1)
    calls = []

    def loss_fn(m, xb, yb, extra_b):
        assert m is model and extra_b is None and m.training and other.training
        calls.append(len(xb))
        return m(xb).pow(2).mean() + other.weight.sum() * 0, None

    before = other.weight.detach().clone()
    hist = fit(model, x, y, epochs=2, batch_size=16, loss_fn=loss_fn, modules=[other], progress=False)
    assert calls == [16] * 6
    assert tuple(hist) == HISTORY_KEYS and all(len(v) == 2 for v in hist.values())
    assert all(math.isnan(a) for a in hist["train_acc"] + hist["val_acc"])
    assert not torch.equal(other.weight, before)  # a module beside the model is optimised too (weight decay)
    plain = fit(_tiny(), x, y, epochs=1, val=(x, y), progress=False)
    assert tuple(plain) == HISTORY_KEYS and 0 <= plain["train_acc"][0] <= 1 and 0 <= plain["val_acc"][0] <= 1


def test_eval_mode_restores_each_models_mode():
    a, b = nn.Linear(2, 2).train(), nn.Linear(2, 2).eval()
    with eval_mode(a, b):
        assert not a.training and not b.training
    assert a.training and not b.training
    with pytest.raises(RuntimeError):
        with eval_mode(a):
            raise RuntimeError("restored even on an error")
    assert a.training

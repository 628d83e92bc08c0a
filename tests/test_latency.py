"""Latency measurement: the contract (warm-up runs, interleaved timed runs, medians, settings restored), never a
claim about speed — timings depend on the machine."""
import statistics

import pytest
import torch
from torch import nn

from fsc_teach import latency


class Counting(nn.Module):
    """A network that records every forward call: which one, in which mode, with grad enabled or not."""

    def __init__(self, name, log):
        super().__init__()
        self.name, self.log, self.conv = name, log, nn.Conv2d(1, 2, 3)

    def forward(self, x):
        self.log.append((self.name, self.training, torch.is_grad_enabled(), torch.get_num_threads()))
        return self.conv(x)


def test_warmup_then_interleaved_timed_runs_in_eval_mode_without_grad():
    log = []
    models = {"a": Counting("a", log).train(), "b": Counting("b", log).eval()}
    x = torch.randn(5, 1, 6, 6)
    threads = torch.get_num_threads()
    out = latency.time_forward(models, x, runs=4, warmup=2, threads=1)
    assert [n for n, *_ in log] == ["a", "a", "b", "b"] + ["a", "b"] * 4  # warm-up, then run r of each
    assert all(not training and not grad and t == 1 for _, training, grad, t in log)
    assert torch.get_num_threads() == threads  # restored
    assert models["a"].training and not models["b"].training  # modes restored
    for m in out.values():
        assert len(m.times_s) == 4 and all(t > 0 for t in m.times_s)
        assert (m.batch, m.threads, m.warmup) == (5, 1, 2)
        assert m.median_s == statistics.median(m.times_s)
        q1, q3 = m.quartiles_s
        assert min(m.times_s) <= q1 <= m.median_s <= q3 <= max(m.times_s)
        assert m.ms_per_image == pytest.approx(1e3 * m.median_s / 5)


def test_latency_statistics_from_given_times():
    m = latency.Latency((3.0, 1.0, 2.0, 4.0, 5.0), batch=10, threads=2, warmup=0)
    assert m.median_s == 3.0 and m.quartiles_s == (2.0, 4.0) and m.ms_per_image == 300.0
    one = latency.Latency((0.5,), batch=1, threads=1, warmup=0)
    assert one.quartiles_s == (0.5, 0.5)


def test_bad_arguments_are_named():
    net = nn.Conv2d(1, 2, 3)
    x = torch.randn(2, 1, 5, 5)
    with pytest.raises(ValueError, match="models"):
        latency.time_forward({}, x)
    with pytest.raises(TypeError, match="models"):
        latency.time_forward(net, x)
    with pytest.raises(ValueError, match="runs"):
        latency.time_forward({"n": net}, x, runs=0)
    with pytest.raises((TypeError, ValueError), match="x"):
        latency.time_forward({"n": net}, x.double())

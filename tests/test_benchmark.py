"""The FSKD benchmark script runs end to end at a tiny setting and reports its table and its targets. Its timing
targets depend on the machine: the test reports them (build/timings-tests.json) and never fails on them."""
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import needs_data
from helpers import record_timings

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("fskd_benchmark", ROOT / "benchmarks" / "fskd_benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_data
def test_benchmark_tiny_run_prints_the_table_and_writes_json(tmp_path, capsys):
    bench = _load()
    out = tmp_path / "bench.json"
    assert bench.main(["--scale", "quick", "--ns", "10", "--sparsity", "0.2", "--steps", "4", "--eval-size", "200",
                       "--repeats", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| 10 | FSKD | no |" in text and "FitNet (two-stage)" in text and "few-sample fine-tuning" in text
    assert "FSKD ≤ 5x forward floor" in text  # the targets' column, whatever its yes or no on this machine
    info = json.loads(out.read_text())
    assert [r["method"] for r in info["rows"]] == ["FSKD", "FitNet (two-stage)", "few-sample fine-tuning"]
    assert info["student_params"] < info["teacher_params"]
    for row in info["rows"]:  # durations of real computations: positive on any machine, fast or slow
        assert 0.0 <= row["accuracy"] <= 1.0 and row["seconds"] > 0 and row["floor_seconds"] > 0
    (t,) = info["targets"]
    fskd_row = info["rows"][0]
    assert t["fskd_over_floor"] == pytest.approx(fskd_row["seconds"] / fskd_row["floor_seconds"])  # arithmetic
    record_timings("fskd_benchmark quick, N = 10", {"speedup_vs_fitnet": round(t["speedup_vs_fitnet"], 2),
                                                    "fskd_over_floor": round(t["fskd_over_floor"], 2),
                                                    **{r["method"]: round(r["seconds"], 3) for r in info["rows"]}})
    # FSKD recovers the damaged student from 10 unlabeled images (Table 2's point): far above the pruned accuracy
    assert fskd_row["accuracy"] > info["pruned_acc"] + 0.2

"""FSKD's Table 2 under the protocol: the band rule, the plan, and the committed table (``fsc_teach.table2``)."""
from pathlib import Path

import pytest
import torch

from fsc_teach import benchmark, fewshot, table2
from fsc_teach.models import build_model
from fsc_teach.protocol import MIN_DRAWS, compare
from fsc_teach.train import evaluate

TABLE = Path(__file__).resolve().parents[1] / "results" / "fskd-table2-standard.csv"


def test_bands_are_the_papers_table_1_fractions():
    assert table2.BANDS["A"] == pytest.approx(85.42 / 92.66) and table2.BANDS["C"] == pytest.approx(13.05 / 92.66)
    assert list(table2.LADDER) == sorted(table2.LADDER) and table2.LADDER[0] == 0.05 and table2.LADDER[-1] == 0.9


def test_the_rule_takes_the_ratio_closest_to_each_band():
    # teacher 90 %; by hand: A wants 0.922·90 = 82.97 → 0.1 (83); B wants 46.5 → 0.3 (45, |−1.5| < |+3.5| of 0.2);
    # C wants 12.7 → 0.6 (12)
    acc = {0.0: 0.90, 0.1: 0.83, 0.2: 0.50, 0.3: 0.45, 0.5: 0.30, 0.6: 0.12, 0.9: 0.10}
    chosen = table2.choose_schemes(acc)
    assert {n: s.sparsity for n, s in chosen.items()} == {"A": 0.1, "B": 0.3, "C": 0.6}
    assert all(s.kind == "structured" for s in chosen.values())


def test_a_tie_goes_to_the_milder_ratio():
    chosen = table2.choose_schemes({0.0: 1.0, 0.1: 0.75, 0.2: 0.25, 0.3: 0.0}, bands={"B": 0.5, "C": 0.0})
    assert {n: s.sparsity for n, s in chosen.items()} == {"B": 0.1, "C": 0.3}  # |0.75 − 0.5| = |0.25 − 0.5|


def test_bands_that_pick_one_ratio_twice_are_refused():
    with pytest.raises(ValueError, match="finer ladder"):
        table2.choose_schemes({0.0: 1.0, 0.5: 0.5})
    with pytest.raises(ValueError, match="0.0"):
        table2.choose_schemes({0.5: 0.5})


def test_ladder_accuracies_measure_the_unrepaired_students():
    torch.manual_seed(0)
    teacher = build_model("vgg", {"widths": [8, 8, 8], "pools": [0, 2], "in_channels": 1, "num_classes": 3,
                                  "input_size": 8, "batch_norm": True, "head": "linear"}).eval()
    x, y = torch.randn(40, 1, 8, 8), torch.randint(0, 3, (40,))
    acc = table2.ladder_accuracies(teacher, x, y, ladder=(0.25, 0.5))
    assert set(acc) == {0.0, 0.25, 0.5} and acc[0.0] == evaluate(teacher, x, y)
    student = fewshot.compress("L1-norm", teacher, fewshot.Scheme("structured", 0.5), None, None)
    assert student.widths == [4, 4, 8] and acc[0.5] == evaluate(student, x, y)  # the last block keeps its width


def test_the_plan_is_the_benchmarks_with_table_2s_students_and_sample_sizes():
    schemes = {"A": fewshot.Scheme("structured", 0.1), "B": fewshot.Scheme("structured", 0.2)}
    plan = table2.plan("standard", schemes)
    base = benchmark.PLANS["standard"]
    assert plan.schemes == tuple(schemes.values()) and plan.ks == (10,) and plan.methods == table2.METHODS
    assert "L1+BN" in plan.methods and table2.plan("paper", schemes).ks == (10, 50)
    assert table2.plan("standard", schemes, seeds=(0, 1)).seeds == (0, 1)
    assert plan.settings == {"vgg_fmnist": base.settings["vgg_fmnist"]} and plan.seeds == base.seeds
    assert plan.eval_size == 10_000 and len(plan.seeds) >= MIN_DRAWS
    assert plan.fingerprint("vgg_fmnist") == base.fingerprint("vgg_fmnist")  # cells shared with the benchmark's
    with pytest.raises(ValueError, match="scale"):
        table2.plan("huge", schemes)


def test_read_table_round_trips_write_table_and_feeds_the_paired_rule(tmp_path):
    rows = [{"teacher": "t", "student": "structured 50 %", "kind": "structured", "sparsity": 0.5, "method": m, "k": 10,
             "seed": s, "acc": a, "test_images": 10_000, "params": 7, "flops": 9, "cpu_s": 0.5, "wall_s": 0.6,
             "config": "c"}
            for m, accs in (("FSKD", (0.9, 0.8, 0.85)), ("FitNet", (0.7, 0.75, 0.8))) for s, a in enumerate(accs)]
    back = benchmark.read_table(benchmark.write_table(rows, tmp_path / "t.csv"))
    assert sorted(back, key=lambda r: (r["method"], r["seed"])) == sorted(rows, key=lambda r: (r["method"], r["seed"]))
    c = benchmark.compare_methods(back, "t", "structured 50 %", 10, "FSKD", "FitNet")
    by_hand = [100 * (a - b) for a, b in zip((0.9, 0.8, 0.85), (0.7, 0.75, 0.8))]
    ref = compare([90.0, 80.0, 85.0], [70.0, 75.0, 80.0], names=("FSKD", "FitNet"))
    assert c.mean == pytest.approx(sum(by_hand) / 3) and (c.low, c.high) == pytest.approx((ref.low, ref.high))
    with pytest.raises(FileNotFoundError, match="results/README.md"):
        benchmark.read_table(tmp_path / "missing.csv")


def test_the_committed_table_is_complete_on_the_full_test_set():
    if not TABLE.exists():
        pytest.fail(f"{TABLE} is missing: run notebook 05 at standard (or python -m fsc_teach.table2) and commit it")
    rows = benchmark.read_table(TABLE)
    sparsities = sorted({r["sparsity"] for r in rows})
    assert len(sparsities) == 3 and {r["kind"] for r in rows} == {"structured"}
    plan = table2.plan("standard", {str(s): fewshot.Scheme("structured", s) for s in sparsities})
    expected = {(c["kind"], c["sparsity"], c["k"], c["seed"], c["method"]) for c in benchmark.cells(plan)}
    got = [(r["kind"], r["sparsity"], r["k"], r["seed"], r["method"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == expected
    assert {r["test_images"] for r in rows} == {10_000} and {r["config"] for r in rows} == {plan.fingerprint("vgg_fmnist")}
    assert {r["method"] for r in rows} >= {"L1+BN", "FSKD", "FitNet", "BP"}
    claims = [c for c in benchmark.claims(rows) if c["claim"].startswith("FSKD")]
    assert len(claims) == 3 and all(c["mark"] in "✓✗?" for c in claims)

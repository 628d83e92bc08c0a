"""The committed results table is the standard plan's, complete, and agrees with the benchmark's summaries."""
import csv
from pathlib import Path

import pytest

from fsc_teach import benchmark

TABLE = Path(__file__).resolve().parents[1] / "results" / "benchmark-standard.csv"


def _committed(table: Path, notebook: str) -> list[dict]:
    """The rows of a committed results table, or a failure that says which notebook writes it."""
    if not table.exists():
        pytest.fail(f"{table} is missing: run notebook {notebook} at standard (python scripts/course.py run --scale "
                    f"standard --only {notebook}) and commit results/")
    with open(table, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rows():
    out = _committed(TABLE, "07")
    for r in out:
        r["k"], r["seed"], r["test_images"] = int(r["k"]), int(r["seed"]), int(r["test_images"])
        r["sparsity"], r["acc"], r["cpu_s"] = float(r["sparsity"]), float(r["acc"]), float(r["cpu_s"])
        r["params"], r["flops"] = int(r["params"]), int(r["flops"])
    return out


def test_every_cell_of_the_standard_plan_once_on_the_full_test_set(rows):
    plan = benchmark.PLANS["standard"]
    expected = {(c["teacher"], c["kind"], c["sparsity"], c["k"], c["seed"], c["method"]) for c in benchmark.cells(plan)}
    got = [(r["teacher"], r["kind"], r["sparsity"], r["k"], r["seed"], r["method"]) for r in rows]
    assert len(got) == len(set(got)) and set(got) == expected
    assert {r["test_images"] for r in rows} == {plan.eval_size} == {10_000}
    assert {r["config"] for r in rows} == {plan.fingerprint(t) for t in plan.teachers}  # today's budgets
    assert all(0.0 <= r["acc"] <= 1.0 and r["cpu_s"] >= 0 for r in rows)


def test_claims_are_computable_from_the_table(rows):
    found = benchmark.claims(rows)
    assert found and all(c["mark"] in "✓✗?" for c in found)


SWEEP = TABLE.parent / "budget-sweep-standard.csv"


def test_the_committed_sweep_is_complete_and_chooses_the_standard_plans_budgets():
    from fsc_teach import budget

    if not SWEEP.exists():
        pytest.fail(f"{SWEEP} is missing: run python -m fsc_teach.budget --scale standard and commit results/")
    rows = budget.read_sweep(SWEEP)
    plan = benchmark.PLANS["standard"]
    expected = budget.sweep_cells(plan, budget.SWEEPS["standard"], seeds=budget.SEEDS["standard"])
    fields = ("teacher", "kind", "sparsity", "k", "seed", "method", "budget", "bn")
    want = sorted(tuple(str(c.get(f, c.get("steps", c.get("train_steps", "")))) if f == "budget"
                        else str(c.get(f, True)) for f in fields) for c in expected)
    got = sorted(tuple(str(r[f] if r[f] is not None else "") for f in fields) for r in rows)
    assert got == want and {r["test_images"] for r in rows} == {10_000}
    assert {r["config"] for r in rows} == {c["config"] for c in expected}  # the plan's settings but the budgets
    settings = plan.settings["vgg_fmnist"]
    chosen = budget.choose(rows, cap=budget.CAPS["standard"])
    assert chosen == {"steps": settings.steps, "train_steps": settings.train_steps}


LM_TABLE = TABLE.parent / "lm-standard.csv"


def test_the_language_model_table_has_every_comparison_of_notebook_09_on_five_draws():
    rows = _committed(LM_TABLE, "09")
    assert rows and set(rows[0]) == {"method", "compression", "calibration", "n", "source", "draw", "val_loss",
                                     "seconds"}
    assert all(0.0 < float(r["val_loss"]) < 5.546 for r in rows)  # below uniform guessing over 256 bytes (ln 256)
    draws = lambda **kw: {r["draw"] for r in rows if all(r[k] == v for k, v in kw.items())}  # noqa: E731
    for method in ("Wanda", "SparseGPT"):
        for what in ("50 %", "70 %", "2:4"):
            assert len(draws(method=method, compression=what, n="128", source="code", calibration="student")) >= 5
    assert len(draws(method="GPTQ", compression="W3", n="128", source="code")) >= 5
    assert {r["n"] for r in rows if r["method"] == "SparseGPT" and r["compression"] == "50 %"} >= {"8", "32", "128",
                                                                                                  "512"}
    assert {r["source"] for r in rows if r["n"] == "128"} >= {"code", "prose"}
    assert {r["calibration"] for r in rows} == {"student", "teacher", "asymmetric"}
    assert len(draws(method="SparseGPT + KD", compression="70 %", n="128")) >= 5
    assert len(draws(method="SparseGPT", compression="50 %", n="128", source="prose")) >= 5

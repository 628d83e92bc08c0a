"""The budget sweep (notebook 07): its cells, the plateau rule on curves whose answer is known, and a real sweep
on a toy teacher that resumes from its cache."""
from dataclasses import replace

import pytest

from fsc_teach import budget, grid

from test_few_shot_benchmark import _toy_plan, _toy_world

SWEEP = {"steps": (1, 2), "train_steps": (1, 3)}


def _rows(curves: dict, draws: int = 2) -> list[dict]:
    """Rows of a sweep whose per-draw accuracy (%) is given: {(student, method): {budget: [acc per draw]}}."""
    return [{"student": s, "method": m, "budget": b, "bn": True, "seed": d, "acc": accs[d] / 100, "cpu_s": b / 10}
            for (s, m), curve in curves.items() for b, accs in curve.items() for d in range(draws)]


def test_the_rule_takes_the_smallest_budget_every_method_has_plateaued_at():
    flat = {60: [90.0, 90.0], 200: [90.2, 90.2], 600: [90.4, 90.4]}  # within 0.5 of its best at 60 already
    slow = {60: [80.0, 80.2], 200: [89.6, 89.8], 600: [90.0, 90.2]}  # within 0.5 only from 200 on
    late = {40: [70.0, 70.0], 120: [75.0, 75.0], 360: [80.0, 80.0]}  # still climbing: the largest budget
    rows = _rows({("s1", "Ours"): flat, ("s2", "Ours"): slow, ("s1", "BP"): flat | {}, ("s2", "KD"): late})
    rows = [r | {"budget": {60: 40, 200: 120, 600: 360}[r["budget"]]} if r["method"] == "BP" else r for r in rows]
    assert budget.choose(rows) == {"steps": 200, "train_steps": 360}
    assert budget.choose(rows, tolerance=10.5) == {"steps": 60, "train_steps": 40}
    no_bn = [r | {"bn": False, "acc": 0.0} for r in rows]  # the cells without re-estimation are not budgets
    assert budget.choose(rows + no_bn) == {"steps": 200, "train_steps": 360}


def test_the_rule_refuses_rows_without_a_sweep():
    with pytest.raises(ValueError, match="run_sweep"):
        budget.choose([{"student": "s", "method": "L1+BN", "budget": None, "acc": 0.5, "cpu_s": 0.1}])
    with pytest.raises(ValueError, match="tolerance"):
        budget.choose(_rows({("s", "Ours"): {1: [1.0, 1.0]}}), tolerance=-1)


def test_the_sweep_has_every_budget_once_and_one_cell_without_batchnorm_re_estimation():
    plan = _toy_plan()
    cells = budget.sweep_cells(plan, SWEEP, k=1, seeds=(0, 1))
    assert len(cells) == len({grid.cell_key(c) for c in cells})
    per_draw = 3 * (2 + 1) + 5 * (2 + 1)  # cross distillation and the trained methods, each + one without BN
    # + L1-norm, L1+BN, then FSKD on structured, Wanda and SparseGPT on unstructured students
    assert len(cells) == 2 * (per_draw + 3) + 2 * (per_draw + 4)
    assert sorted(c[f] for c in cells if c["method"] == "BP" and c["seed"] == 0 and c["kind"] == "structured"
                  for f in ("train_steps",)) == [1, 1, 3]
    assert [c for c in cells if c.get("bn") is False and c["method"] == "Ours"][0]["steps"] == 1
    with pytest.raises(ValueError, match="budget"):
        budget.sweep_cells(plan, {"steps": (0,), "train_steps": (1,)})


def test_a_toy_sweep_runs_resumes_and_tabulates(tmp_path):
    teachers, tensors = _toy_world()
    plan = replace(_toy_plan(), schemes=_toy_plan().schemes[:1])
    cache = tmp_path / "sweep.jsonl"
    rows = budget.run_sweep(plan, SWEEP, k=1, seeds=(0, 1), cache=cache, teachers=teachers, tensors=tensors,
                            progress=False, workers=1)
    again = budget.run_sweep(plan, SWEEP, k=1, seeds=(0, 1), cache=cache, teachers=teachers, tensors=tensors,
                             progress=False, workers=2)
    assert [r["acc"] for r in again] == [r["acc"] for r in rows]
    assert len(grid.load_cache(cache)) == len(rows)
    assert {r["budget"] for r in rows if r["method"] == "KD"} == {1, 3}
    chosen = budget.choose(rows)
    assert chosen["steps"] in SWEEP["steps"] and chosen["train_steps"] in SWEEP["train_steps"]
    table = budget.plateau_table(rows)
    assert {t["method"] for t in table} == {"Ours-NC", "Ours", "Ours-S", "BP", "KD", "Iter-KD", "FitNet", "MiR"}
    ours = next(t for t in table if t["method"] == "Ours")
    mean = sum(100 * r["acc"] for r in rows if r["method"] == "Ours" and r["budget"] == 2 and r["bn"]) / 2
    assert ours["budgets"].startswith("1 / 2 ") and ours["accuracy (%)"].split(" / ")[1] == f"{mean:.2f}"


def test_the_written_table_reads_back_to_the_same_rows(tmp_path):
    teachers, tensors = _toy_world()
    plan = replace(_toy_plan(), schemes=_toy_plan().schemes[1:])
    rows = budget.run_sweep(plan, SWEEP, k=1, seeds=(0,), teachers=teachers, tensors=tensors, progress=False)
    path = budget.write_table(rows, tmp_path / "sweep.csv", columns=budget._COLUMNS)
    back = budget.read_sweep(path)
    key = lambda r: (r["method"], r["budget"] or 0, r["bn"])  # noqa: E731
    assert sorted(map(key, back)) == sorted(map(key, rows))
    assert budget.choose(back) == budget.choose(rows) and budget.plateau_table(back) == budget.plateau_table(rows)
    with pytest.raises(FileNotFoundError, match="python -m fsc_teach.budget"):
        budget.read_sweep(tmp_path / "missing.csv")


def test_a_cap_is_a_time_budget_and_the_shortfall_says_what_it_costs():
    climbing = {60: [80.0, 80.0], 200: [85.0, 85.0], 600: [90.0, 90.0]}
    flat = {40: [70.0, 70.0], 120: [70.2, 70.2]}
    rows = _rows({("s", "Ours"): climbing, ("s", "BP"): flat})
    assert budget.choose(rows) == {"steps": 600, "train_steps": 40}
    assert budget.choose(rows, cap={"steps": 200}) == {"steps": 200, "train_steps": 40}
    lost = budget.shortfall(rows, {"steps": 200, "train_steps": 40})
    assert lost == pytest.approx({("s", "Ours"): 5.0, ("s", "BP"): 0.2})
    with pytest.raises(ValueError, match="cap"):
        budget.choose(rows, cap={"steps": 10})
    with pytest.raises(ValueError, match="cap"):
        budget.choose(rows, cap={"epochs": 10})


def test_bad_rows_say_what_a_sweep_row_is():
    with pytest.raises(ValueError, match="sweep row"):
        budget.plateau_table([{"method": "Ours"}])
    with pytest.raises((TypeError, ValueError), match="rows"):
        budget.shortfall("not rows", {"steps": 1, "train_steps": 1})

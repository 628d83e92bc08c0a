"""The classroom kit: placeholders keep names but no solution code, the student edition keeps everything else and
runs from top to bottom."""
import ast
from pathlib import Path

import nbformat
import pytest

from fsc_teach import classroom

from helpers import execute_quick

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _solutions(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])]


def _solution_lines(source):
    """The lines that *are* the solution: function bodies and right-hand sides (not signatures or names)."""
    lines = source.splitlines()
    out = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            out += [lines[i].strip() for i in range(node.body[0].lineno - 1, node.end_lineno)]
        else:
            out += [lines[i].strip() for i in range(node.lineno - 1, node.end_lineno)]
    return [l for l in out if l and not l.startswith(('"""', "#")) and len(l) > 12]


def test_placeholder_keeps_names_and_signatures_only():
    src = ("import math\nhelper = 3\n@staticmethod\ndef my_f(x, y=2):\n    \"\"\"Add.\"\"\"\n    return x + y\n"
           "my_a, (my_b, other) = 1, (2, 3)\n")
    out = classroom.placeholder(src)
    tree = ast.parse(out)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["my_f"]
    assert "return x + y" not in out and "helper" not in out and "import math" not in out
    assert "my_a, my_b = ..., ..." in out and '"""Add."""' in out and "@staticmethod" in out
    ns = {"staticmethod": lambda f: f}
    exec(out, ns)
    with pytest.raises(NotImplementedError):
        ns["my_f"](1)
    assert ns["my_a"] is Ellipsis


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_edition_has_no_solution_code_and_keeps_the_rest(path):
    nb = nbformat.read(path, as_version=4)
    student = classroom.student_edition(nb)
    assert len(student.cells) == len(nb.cells) and _solutions(nb), f"{path.name} has no tagged solution cells"
    for cell, new in zip(nb.cells, student.cells):
        if cell in _solutions(nb):  # (the other cells are compared whole below)
            for line in _solution_lines(cell.source):
                assert line not in new.source, f"{path.name}: solution line {line!r} left in the student edition"
    for orig, new in zip(nb.cells, student.cells):
        if orig in _solutions(nb):
            assert new.outputs == [] and new.execution_count is None and new.source.startswith("# Exercise")
        else:
            assert new == orig  # source, outputs and metadata unchanged
    instructor = classroom.instructor_edition(nb)
    assert all(c.source.startswith("# Solution") for c in _solutions(instructor))


def test_build_editions_writes_both(tmp_path):
    out = classroom.build_editions(tmp_path)
    assert [p.name for p in out["student"]] == [p.name for p in NOTEBOOKS] == [p.name for p in out["instructor"]]
    assert (tmp_path / "student" / "README.md").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_edition_runs_and_the_first_exercise_says_not_yet(path, tmp_path, monkeypatch):
    """The whole student edition executes at quick scale: every self-check prints ✗ with a hint, no traceback."""
    student = tmp_path / path.name
    nbformat.write(classroom.student_edition(nbformat.read(path, as_version=4)), student)
    out = tmp_path / f"run-{path.name}"
    execute_quick(student, out, monkeypatch, cwd=path.parent)  # from notebooks/, as a student would run it
    run = nbformat.read(out, as_version=4)
    assert not [o for c in run.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    code = [c for c in run.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "solution" in c.metadata.get("tags", []))
    check_text = "".join(o.get("text", "") for o in code[first + 1].get("outputs", []))
    assert "✗" in check_text and "Traceback" not in check_text

"""The classroom kit on nbgrader: the notebooks are valid nbgrader sources, the student edition holds no answer,
and nbgrader's autograder gives the instructor edition full marks and the unanswered student edition zero."""
import ast
import shutil
from pathlib import Path

import nbformat
import pytest

from fsc_teach import classroom

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
# CI autogrades its quickest notebook end to end; `make test-classroom` autogrades every one.
IN_CI = "07_few_shot_benchmark"


def _answer_lines(source: str) -> list[str]:
    """The lines between ### BEGIN SOLUTION and ### END SOLUTION (the answer itself), long enough to be telling."""
    inside, out = False, []
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line or "### END SOLUTION" in line:
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            out.append(line.strip())
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_is_an_nbgrader_answer_and_a_graded_check(path):
    nb = nbformat.read(path, as_version=4)
    pairs = classroom.exercises(nb)
    ids = [nb.cells[i].metadata["nbgrader"]["grade_id"] for pair in pairs for i in pair]
    assert len(ids) == len(set(ids)), "grade_id must be unique within a notebook"
    for answer, check in pairs:
        assert "check." in nb.cells[check].source, "a self-check cell calls fsc_teach.check"
        assert _answer_lines(nb.cells[answer].source), "the answer region holds the answer"


def test_a_malformed_exercise_is_named_in_the_error():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("my_x = 1")])
    nb.cells[0].metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "ex1-answer", "locked": False}
    with pytest.raises(ValueError, match="ex1-answer.*BEGIN SOLUTION"):
        classroom.exercises(nb)
    nb.cells[0].source = "### BEGIN SOLUTION\nmy_x = 1\n### END SOLUTION"
    with pytest.raises(ValueError, match="graded, locked self-check"):
        classroom.exercises(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_student_edition_keeps_the_names_and_drops_every_answer(path):
    nb = nbformat.read(path, as_version=4)
    student = classroom.student_edition(nb)
    assert len(student.cells) == len(nb.cells)
    for answer, check in classroom.exercises(nb):
        stub = student.cells[answer].source
        for line in _answer_lines(nb.cells[answer].source):
            assert line not in stub, f"{path.name}: answer line {line!r} left in the student edition"
        assert "raise NotImplementedError()" in stub and "SOLUTION" not in stub
        ast.parse(stub)  # still Python: the signatures and `my_x = ...` lines stay
        mine = {n.name for n in ast.walk(ast.parse(nb.cells[answer].source)) if isinstance(n, ast.FunctionDef)}
        assert mine == {n.name for n in ast.walk(ast.parse(stub)) if isinstance(n, ast.FunctionDef)}
        assert student.cells[check].source == nb.cells[check].source  # the self-check is handed out unchanged
    assert not any(c.get("outputs") for c in student.cells if c.cell_type == "code")


def test_generate_assignment_releases_every_notebook(tmp_path):
    written = classroom.build_editions(tmp_path / "course")
    assert [p.name for p in written["student"]] == [p.name for p in NOTEBOOKS]
    assert (tmp_path / "course" / "nbgrader_config.py").is_file()
    for path in written["student"]:
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and "raise NotImplementedError()" in text
        released = nbformat.read(path, as_version=4)
        locked = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert locked and all("checksum" in c.metadata["nbgrader"] for c in locked)  # nbgrader's tamper check


def _autograde_both(tmp_path: Path, path: Path) -> tuple[dict, dict]:
    course = tmp_path / "course"
    name = path.stem
    written = classroom.build_editions(course, only=[name[:2]])
    for student, notebook in (("instructor", written["instructor"][0]), ("student", written["student"][0])):
        target = course / "submitted" / student / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
    return classroom.autograde(course, name, "instructor"), classroom.autograde(course, name, "student")


def _params():
    return [pytest.param(p, id=p.stem, marks=[] if p.stem == IN_CI else [pytest.mark.classroom]) for p in NOTEBOOKS]


@pytest.mark.slow
@pytest.mark.parametrize("path", _params())
def test_autograde_full_marks_for_the_instructor_zero_for_the_unanswered_student(tmp_path, monkeypatch, path):
    monkeypatch.setenv("FSC_SCALE", "quick")
    monkeypatch.setenv("FSC_STATIC", "1")
    instructor, student = _autograde_both(tmp_path, path)
    checks = len(classroom.exercises(nbformat.read(path, as_version=4)))
    assert instructor["total"] == checks and student["total"] == 0, (instructor, student)
    assert sum(1 for k in student if k.endswith("-check")) == checks  # every self-check was graded
    autograded = tmp_path / "course" / "autograded" / "student" / path.stem / path.name
    run = nbformat.read(autograded, as_version=4)  # the autograder ran the whole notebook: nothing crashed
    errors = [o for c in run.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and {o["ename"] for o in errors} <= {"NotImplementedError", "CheckFailed"}, \
        "an unanswered exercise fails with nbgrader's stub or a self-check's hint, never another error"

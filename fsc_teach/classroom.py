"""The classroom kit: nbgrader assignments made from the course's notebooks.

    python -m fsc_teach.classroom editions [--out build/course] [--only 03 05]   # nbgrader's course folder
    python -m fsc_teach.classroom autograde --out build/course NAME STUDENT       # grade one submission

The committed notebooks *are* nbgrader source notebooks (the instructor edition): every exercise is a markdown
statement, an answer cell (nbgrader metadata ``solution: true``) whose answer lies between ``### BEGIN SOLUTION``
and ``### END SOLUTION``, and a self-check cell (``grade: true``, locked, 1 point) that calls
:mod:`fsc_teach.check`. ``editions`` lays out an nbgrader course folder — ``source/NN_name/NN_name.ipynb`` (one
assignment per notebook), a ``nbgrader_config.py`` and the gradebook ``gradebook.db`` (sqlite) — and runs
``nbgrader generate_assignment`` on it: ``release/NN_name/NN_name.ipynb`` is the student edition (answers replaced
by nbgrader's ``raise NotImplementedError()`` stub, outputs cleared, self-checks locked with checksums). From that
folder an instructor uses nbgrader as usual (``nbgrader release_assignment``, ``collect``, ``autograde``,
``formgrade``). A self-check that fails raises :class:`fsc_teach.check.CheckFailed`: the student reads one line
and a hint, and the autograder scores that cell zero. The course as a web site is :mod:`fsc_teach.site`.
"""
from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
from pathlib import Path

__all__ = ["NBGRADER_CONFIG", "numbered_notebooks", "exercises", "student_edition", "build_editions", "autograde"]

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

# The course folder's nbgrader_config.py: nbgrader's defaults, plus a per-cell time limit that fits a
# `standard`-scale training cell (nbgrader's default is 30 s) and a student id created on first grading.
NBGRADER_CONFIG = '''\
c = get_config()  # noqa: F821 - nbgrader's configuration object
c.CourseDirectory.course_id = "fsc-teach"
c.Execute.timeout = 1800            # seconds per cell (nbgrader's default, 30 s, is too short for training)
c.Autograde.create_student = True   # grade a submission whose student is not in the gradebook yet
'''


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def exercises(nb) -> list[tuple[int, int]]:
    """``(answer cell index, self-check cell index)`` of every exercise, in order; checks the layout.

    Raises ``ValueError`` when an answer cell has no ``### BEGIN SOLUTION`` region or is not followed by a graded,
    locked self-check cell with points.
    """
    pairs = []
    for i, cell in enumerate(nb.cells):
        if not _nbgrader(cell).get("solution"):
            continue
        grade_id = _nbgrader(cell).get("grade_id", f"cell {i}")
        if "### BEGIN SOLUTION" not in cell.source or "### END SOLUTION" not in cell.source:
            raise ValueError(f"answer cell {grade_id!r} has no '### BEGIN SOLUTION' ... '### END SOLUTION' region")
        nxt = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
        meta = _nbgrader(nxt) if nxt is not None else {}
        if not (meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0):
            raise ValueError(f"answer cell {grade_id!r} must be followed by a graded, locked self-check cell "
                             "with points (nbgrader metadata grade/locked/points)")
        pairs.append((i, i + 1))
    return pairs


def student_edition(nb):
    """The student's copy of a source notebook, made in memory by nbgrader's own preprocessors.

    nbgrader's ``ClearSolutions`` replaces every solution region with its stub and ``ClearOutput`` removes all
    outputs: the same two steps ``nbgrader generate_assignment`` applies to each cell.
    """
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = copy.deepcopy(nb)
    for step in (ClearSolutions(), ClearOutput()):
        nb, _ = step.preprocess(nb, {})
    return nb


def numbered_notebooks(src: Path, only: list[str] | None = None) -> list[Path]:
    """The notebooks ``NN_name.ipynb`` in ``src`` (only those whose names start with a prefix in ``only``)."""
    paths = sorted(p for p in src.glob("[0-9]*.ipynb") if not only or any(p.name.startswith(o) for o in only))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks in {src}" + (f" matching {only}" if only else ""))
    return paths


def _api(course: Path):
    """nbgrader's Python API on ``course`` (its sqlite gradebook inside), reading the folder's nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config, PyFileConfigLoader

    scripts = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from the environment's bin folder
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    config = Config()
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = f"sqlite:///{course / 'gradebook.db'}"
    return NbGraderAPI(config=config)


def _ok(result: dict, what: str) -> None:
    if not result.get("success"):
        raise RuntimeError(f"nbgrader {what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")


def build_editions(out: str | Path = "build/course", src: str | Path = NOTEBOOKS,
                   only: list[str] | None = None) -> dict[str, list[Path]]:
    """Lay out an nbgrader course in ``out`` and generate the student edition of every notebook.

    Returns ``{"instructor": [source notebooks], "student": [released notebooks]}``.
    """
    import nbformat

    out = Path(out).resolve()
    (out / "source").mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    api = _api(out)
    written: dict[str, list[Path]] = {"instructor": [], "student": []}
    for path in numbered_notebooks(Path(src), only):
        exercises(nbformat.read(path, as_version=4))  # a clear error for a malformed exercise, before nbgrader's
        name = path.stem
        target = out / "source" / name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        _ok(api.generate_assignment(name, force=True, create=True), f"generate_assignment {name}")
        written["instructor"].append(target)
        written["student"].append(out / "release" / name / path.name)
    return written


def autograde(course: str | Path, name: str, student: str) -> dict[str, float]:
    """Autograde ``course/submitted/STUDENT/NAME`` with nbgrader; returns ``{grade_id: score}`` and ``"total"``."""
    from nbgrader.api import Gradebook

    course = Path(course).resolve()
    _ok(_api(course).autograde(name, student, force=True, create=True), f"autograde {name} for {student}")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        notebook = gb.find_submission_notebook(name, name, student)
        scores = {g.name: float(g.score) for g in notebook.grades}
        scores["total"] = float(notebook.score)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsc_teach.classroom", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ed = sub.add_parser("editions", help="nbgrader course folder: source (instructor) and release (student)")
    ed.add_argument("--out", default="build/course")
    ed.add_argument("--src", default=str(NOTEBOOKS), help="folder of the numbered notebooks")
    ed.add_argument("--only", nargs="*", default=None, help="notebook name prefixes, e.g. 03 05")
    ag = sub.add_parser("autograde", help="autograde course/submitted/STUDENT/NAME with nbgrader")
    ag.add_argument("--out", default="build/course", help="the course folder")
    ag.add_argument("name", help="assignment, e.g. 03_iterative_kd")
    ag.add_argument("student")
    args = parser.parse_args(argv)
    if args.cmd == "editions":
        written = build_editions(args.out, args.src, args.only)
        print(f"nbgrader course in {args.out}: {len(written['student'])} assignments; student editions in "
              f"{Path(args.out) / 'release'}, instructor editions in {Path(args.out) / 'source'}")
    else:
        scores = autograde(args.out, args.name, args.student)
        print("\n".join(f"{k}: {v:g}" for k, v in scores.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

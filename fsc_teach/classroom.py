"""The classroom kit: student and instructor editions of the notebooks.

    python -m fsc_teach.classroom editions [--out build/editions]   # student/ and instructor/ notebooks

**Editions.** Every exercise is a markdown statement, a code cell tagged ``solution`` that defines ``my_…``, and a
self-check cell (``fsc_teach.check``). The *student edition* replaces each solution cell by a placeholder that keeps
the names and signatures — ``def my_f(x):`` raising ``NotImplementedError``, ``my_answer = ...`` — and clears
that cell's outputs; every other cell, outputs included, is kept as it is. The self-checks then print "✗ … not
implemented yet" with a hint instead of a traceback, and the notebook still runs from top to bottom. The
*instructor edition* is the notebook with its solutions and the outputs of the committed ``standard`` run, every
solution cell marked by a comment.

The course as a static web site lives in ``fsc_teach.site``.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

__all__ = ["SOLUTION_TAG", "placeholder", "student_edition", "instructor_edition", "build_editions"]

SOLUTION_TAG = "solution"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PLACEHOLDER_NOTE = "# Exercise: your answer here (the self-check below tells you when it is right)"


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _names(t)]
    return []


def placeholder(source: str) -> str:
    """The student's version of a solution cell: the same ``my_…`` names, no solution code.

    A function keeps its signature (and docstring) and raises ``NotImplementedError``; an assignment to ``my_…``
    names becomes ``my_a, my_b = ..., ...``. Helper statements of the solution are dropped.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    out = [PLACEHOLDER_NOTE]
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body_start = node.body[0].lineno
            header = lines[node.lineno - 1 - len(node.decorator_list):body_start - 1]
            if not header:  # a one-line def: "def f(x): return x"
                header = [lines[node.lineno - 1].split(":", 1)[0] + ":"]
            indent = " " * (node.body[0].col_offset or 4)
            doc = ast.get_docstring(node)
            out += header + ([f'{indent}"""{doc}"""'] if doc else [])
            out.append(f'{indent}raise NotImplementedError("write {node.name} (see the exercise above)")')
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [n for t in targets for n in _names(t) if n.startswith("my_")]
            if names:
                out.append(f"{', '.join(names)} = {', '.join('...' for _ in names)}")
    return "\n".join(out) + "\n"


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and SOLUTION_TAG in cell.metadata.get("tags", [])


def student_edition(nb):
    """A copy of ``nb`` with every solution cell replaced by its ``placeholder`` and its outputs cleared."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _is_solution(cell):
            cell.source = placeholder(cell.source)
            cell.outputs = []
            cell.execution_count = None
    nb.metadata["fsc_teach"] = {"edition": "student"}
    return nb


def instructor_edition(nb):
    """A copy of ``nb`` with its solutions, each solution cell headed by a comment that says so."""
    import copy

    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if _is_solution(cell) and not cell.source.startswith("# Solution"):
            cell.source = "# Solution (instructor edition)\n" + cell.source
    nb.metadata["fsc_teach"] = {"edition": "instructor"}
    return nb


def _notebooks(src: Path) -> list[Path]:
    paths = sorted(src.glob("[0-9]*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no numbered notebooks in {src}")
    return paths


def build_editions(out: str | Path = "build/editions", src: str | Path = NOTEBOOKS) -> dict[str, list[Path]]:
    """Write ``out/student/*.ipynb`` and ``out/instructor/*.ipynb`` (with a README each); returns the paths."""
    import nbformat

    out, written = Path(out), {"student": [], "instructor": []}
    for kind, make in (("student", student_edition), ("instructor", instructor_edition)):
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for path in _notebooks(Path(src)):
            target = folder / path.name
            nbformat.write(make(nbformat.read(path, as_version=4)), target)
            written[kind].append(target)
    (out / "student" / "README.md").write_text(
        "# fsc-teach: student edition\n\nEach exercise's solution cell is a placeholder: replace the `...` or the "
        "`raise NotImplementedError` with your answer and run the self-check cell below it (✓ or a hint).\n"
        "Run the notebooks from the course's environment (`make lab`, then open this folder).\n", encoding="utf-8")
    (out / "instructor" / "README.md").write_text(
        "# fsc-teach: instructor edition\n\nThe notebooks with their solutions (cells headed `# Solution`) and the "
        "outputs of the committed `standard` run. Hand out `../student/`.\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsc_teach.classroom", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("editions")
    p.add_argument("--out", default="build/editions")
    p.add_argument("--src", default=str(NOTEBOOKS), help="folder of the numbered notebooks")
    args = parser.parse_args(argv)
    written = build_editions(args.out, args.src)
    print(f"student edition: {len(written['student'])} notebooks in {Path(args.out) / 'student'}; "
          f"instructor edition in {Path(args.out) / 'instructor'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the notebooks that CI executes once, with nbval: each committed notebook plus its student-edition probes.

    python tests/ci_notebooks.py build/ci      # then: pytest --nbval-lax build/ci/*.ipynb

One execution per notebook serves three checks. nbval runs every cell (any error fails) and compares the outputs of
the cells marked ``# NBVAL_CHECK_OUTPUT`` with the committed ones. The cells appended at the end then replay the
*student edition* of every exercise in the same kernel, reusing the instructor run's state instead of executing
the notebook a second time: nbgrader's stub of the answer cell (``raise NotImplementedError()``), then the locked
self-check, which must fail with :class:`fsc_teach.check.CheckFailed` (a hint, and zero points from nbgrader's
autograder) — not pass, and not crash with another error.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fsc_teach.classroom import exercises, student_edition  # noqa: E402

PROBE = '''\
# Student edition, exercise {number}: the unanswered answer cell, then its self-check must fail with a hint.
import IPython
from fsc_teach.check import CheckFailed

_ns = IPython.get_ipython().user_ns
try:
    exec(compile({stub!r}, "<unanswered {grade_id}>", "exec"), _ns)
except NotImplementedError:
    pass  # nbgrader's stub: the student has not answered yet
try:
    exec(compile({check!r}, "<self-check {check_id}>", "exec"), _ns)
except CheckFailed as err:
    print("unanswered exercise {number} -> 0 points, the student reads:", str(err).splitlines()[0])
else:
    raise AssertionError("the self-check {check_id} passes an unanswered exercise")
'''


def with_probes(nb):
    """``nb`` followed by one probe cell per exercise (see the module docstring)."""
    student = student_edition(nb)
    probes = []
    for number, (answer, check) in enumerate(exercises(nb), start=1):
        meta = nb.cells[answer].metadata["nbgrader"], nb.cells[check].metadata["nbgrader"]
        probes.append(nbformat.v4.new_code_cell(PROBE.format(
            number=number, stub=student.cells[answer].source, check=nb.cells[check].source,
            grade_id=meta[0]["grade_id"], check_id=meta[1]["grade_id"])))
    out = nbformat.from_dict(nb)
    out.cells = list(nb.cells) + probes
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else ROOT / "build" / "ci")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    paths = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in paths:
        nbformat.write(with_probes(nbformat.read(path, as_version=4)), out / path.name)
    print(f"{len(paths)} notebooks with student-edition probes in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

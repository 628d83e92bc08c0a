"""Execute every notebook at `quick` scale with papermill; any failing cell fails the test. Times are reported
(build/timings-quick-tests.json, a warning over budget), never a failure: machines differ in speed."""
from pathlib import Path

import nbformat
import pytest

from helpers import execute_quick, record_timings, warn_if_slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
QUICK_BUDGET_S = 90  # the course's promise for the 2-core CI machine (reported, never a failure)


def _package_names() -> set[str]:
    import importlib
    import pkgutil

    import fsc_teach

    names = set()
    for info in pkgutil.iter_modules(fsc_teach.__path__):
        names.update(getattr(importlib.import_module(f"fsc_teach.{info.name}"), "__all__", []))
    return names


PACKAGE_NAMES = _package_names()


def _local_functions(cells):
    """(name, lines) of every function defined in a code cell that is not an exercise solution."""
    import ast

    for cell in cells:
        if "solution" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("my_"):
                yield node.name, node.end_lineno - node.lineno + 1


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no numbered notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "FSC_SCALE" in tagged[0].source, "one `parameters` cell reading FSC_SCALE"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Learning objectives", "Exercise", "References", "paper"):
        assert heading.lower() in text.lower(), f"{path.name} lacks a '{heading}' section"
    assert any("check." in c.source for c in code), "exercises need automatic self-checks"
    # committed with the outputs of a real run, free of errors
    assert any(c.get("outputs") for c in code), "commit the outputs of a `standard` run (make notebooks)"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    for name, length in _local_functions(code):  # small plotting/widget callbacks only: reusable code is the package's
        assert name not in PACKAGE_NAMES, f"{path.name} re-defines fsc_teach's {name}: import it instead"
        assert length <= 30, f"{path.name}: {name} is {length} lines long; move it into fsc_teach with a test"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_quick_scale(path, tmp_path, monkeypatch):
    seconds = execute_quick(path, tmp_path / path.name, monkeypatch)
    record_timings(path.name, round(seconds, 1), file="timings-quick-tests.json")
    warn_if_slow(f"{path.name} at quick scale", seconds, 1.5 * QUICK_BUDGET_S)  # a report: machines differ

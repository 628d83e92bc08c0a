"""The committed notebooks: their structure, and each one paired with its jupytext source.

Executing them is the nbval run of ``make test`` (``tests/ci_notebooks.py``): one execution per notebook checks
that every cell runs, compares the ``NBVAL_CHECK_OUTPUT`` cells with the committed outputs and replays the student
edition's exercises.
"""
import ast
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

from fsc_teach.classroom import exercises

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
SOURCES = sorted((ROOT / "notebooks" / "src").glob("[0-9]*.py"))


def _package_names() -> set[str]:
    import importlib
    import pkgutil

    import fsc_teach

    names = set()
    for info in pkgutil.iter_modules(fsc_teach.__path__):
        names.update(getattr(importlib.import_module(f"fsc_teach.{info.name}"), "__all__", []))
    return names


PACKAGE_NAMES = _package_names()


def _is_answer(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _local_functions(cells):
    """(name, lines) of every function defined in a code cell that is not an exercise's answer cell."""
    for cell in cells:
        if _is_answer(cell):
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
    assert len(exercises(nb)) >= 2, "exercises: nbgrader answer cells, each followed by a graded self-check"
    # committed with the outputs of a real run, free of errors
    assert any(c.get("outputs") for c in code), "commit the outputs of a `standard` run (make notebooks)"
    assert not [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    for name, length in _local_functions(code):  # small plotting/widget callbacks only: reusable code is the package's
        assert name not in PACKAGE_NAMES, f"{path.name} re-defines fsc_teach's {name}: import it instead"
        assert length <= 30, f"{path.name}: {name} is {length} lines long; move it into fsc_teach with a test"


def test_notebooks_are_paired_with_their_sources_by_jupytext():
    config_file = find_jupytext_configuration_file(str(ROOT / "notebooks"))
    assert config_file, "notebooks/jupytext.toml pairs each notebook with its source"
    config = load_jupytext_configuration_file(config_file)
    assert "src//py:percent" in str(config.formats)
    assert [p.stem for p in SOURCES] == [p.stem for p in NOTEBOOKS], "every notebook has one source, and back"


def _cells(nb) -> list[tuple]:
    return [(c.cell_type, c.source, c.metadata.get("tags", []), c.metadata.get("nbgrader", {})) for c in nb.cells]


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_source_and_notebook_agree(source):
    """Cell by cell: type, text, tags and nbgrader metadata (outputs live in the .ipynb only)."""
    text, notebook = jupytext.read(source), nbformat.read(ROOT / "notebooks" / f"{source.stem}.ipynb", as_version=4)
    mine, theirs = _cells(text), _cells(notebook)
    first = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
    assert mine == theirs, (f"{source.name} and its notebook disagree from cell {first} on: run "
                            f"`jupytext --sync notebooks/src/{source.name}` (or `make sync`)")

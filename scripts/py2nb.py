"""Build notebooks/NN_name.ipynb from the percent-format source notebooks/src/NN_name.py.

    python scripts/py2nb.py notebooks/src/00_setup_and_teachers.py   # one
    python scripts/py2nb.py                                          # all

Cells start with ``# %%`` (code) or ``# %% [markdown]`` (markdown, every line prefixed with ``# ``); tags go after
the marker as ``tags=["parameters"]``. The built notebook has no outputs: run ``make notebooks`` to execute it.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def convert(source: Path) -> nbformat.NotebookNode:
    cells, kind, tags, lines = [], None, [], []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind is None and not text:
            return
        if kind == "markdown":
            text = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in text.split("\n"))
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in source.read_text().split("\n"):
        m = MARKER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        else:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main(args: list[str]) -> int:
    sources = [Path(a) for a in args] or sorted((ROOT / "notebooks" / "src").glob("*.py"))
    for src in sources:
        out = ROOT / "notebooks" / f"{src.stem}.ipynb"
        nbformat.write(convert(src), out)
        print(f"{src} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

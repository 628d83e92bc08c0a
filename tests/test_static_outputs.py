"""What GitHub shows of a committed notebook: no progress bar (frozen at its first frame in a static copy), no
saved widget state, no path of the machine that ran it, no papermill bookkeeping."""
import json
import re
from pathlib import Path

import pytest

from fsc_teach import progress

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
BAR = re.compile(r"\d+%\|")  # tqdm's text: " 37%|███▋      | 351/938"
MACHINE_PATH = re.compile(r"(/work/|/home/|/tmp/|/Users/|/root/|[A-Z]:\\\\Users)")


def _outputs(nb: dict):
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            yield i, out


# Committed before progress bars went static and not re-run since: each must pass (strict) once it is re-run.
NOT_RERUN: set[str] = set()


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason="re-run pending"))
                                  if p.name in NOT_RERUN else p for p in NOTEBOOKS], ids=lambda p: p.name)
def test_a_committed_notebook_reads_cleanly_as_a_static_page(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], "saved widget state: re-run with scripts/course.py (FSC_STATIC=1)"
    assert "papermill" not in nb["metadata"]
    for i, out in _outputs(nb):
        data = out.get("data", {})
        assert "application/vnd.jupyter.widget-view+json" not in data, f"cell {i}: a widget in a static output"
        text = "".join(out.get("text", "")) + "".join(data.get("text/plain", ""))
        assert not BAR.search(text), f"cell {i}: a progress bar in a static output: {text[:80]!r}"
        assert not MACHINE_PATH.search(json.dumps(out)), f"cell {i}: a path of the machine that ran it"
    for cell in nb["cells"]:
        assert "papermill" not in cell.get("metadata", {}) and "execution" not in cell.get("metadata", {})


def test_bars_are_off_in_a_static_run_and_on_otherwise(monkeypatch, capsys):
    monkeypatch.setenv("FSC_STATIC", "1")
    assert progress.static() and progress.bar(range(3)).disable
    list(progress.bar(range(3), desc="static"))
    assert "static" not in capsys.readouterr().err
    monkeypatch.setenv("FSC_STATIC", "0")
    assert not progress.static() and not progress.bar(range(3)).disable
    assert progress.bar(range(3), disable=True).disable  # a caller's own switch still applies
    monkeypatch.delenv("FSC_STATIC")
    assert not progress.static()

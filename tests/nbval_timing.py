"""A pytest plugin for the nbval run: each notebook's execution time, reported, never asserted.

Loaded with ``-p nbval_timing`` (``tests/`` on ``PYTHONPATH``). It sums the setup, call and teardown time of every
cell of a notebook, prints a table at the end of the run, writes ``build/timings-quick-tests.json`` and flags a
notebook over the `quick` budget (90 s on a 2-core CPU) with a line in the summary. Machines differ in speed by
2× or more, so a time is a figure to read, not a test that can fail. Under pytest-xdist (``make test`` runs two
notebooks at a time) the workers' reports reach this hook in the controlling process, and the times include the
wait for the core the other notebook is using (the budget flag is then left out: run ``pytest --nbval-lax
build/ci -p nbval_timing`` without ``-n`` to time each notebook alone).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

QUICK_BUDGET_S = 90.0
_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _seconds[Path(path).name] += report.duration


def pytest_terminal_summary(terminalreporter, config) -> None:
    if not _seconds:
        return
    out = Path(__file__).resolve().parents[1] / "build" / "timings-quick-tests.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({k: round(v, 1) for k, v in sorted(_seconds.items())}, indent=2) + "\n")
    shared = (config.getoption("numprocesses", None) or 0) > 1  # several notebooks at once: the cores are shared
    terminalreporter.section("notebook execution times (quick scale"
                             + (", several at a time: each time includes waiting for a shared core)" if shared else ")"))
    for name, seconds in sorted(_seconds.items()):
        over = seconds > QUICK_BUDGET_S and not shared
        flag = f"  over the {QUICK_BUDGET_S:.0f} s budget on this machine" if over else ""
        terminalreporter.write_line(f"{name:<40} {seconds:6.1f} s{flag}")
    terminalreporter.write_line(f"{'all notebooks':<40} {sum(_seconds.values()):6.1f} s  (written to {out})")

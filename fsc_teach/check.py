"""Self-checks for the notebooks' exercises: a friendly ✓ or a hint, never a bare traceback.

A passing check prints ``✓ …`` and returns ``True`` (so ``if check.equal(...):`` can print a follow-up). A failing
check raises :class:`CheckFailed`, whose message is the hint: Jupyter shows it as those lines alone, in red,
without a traceback (IPython's ``_render_traceback_`` protocol), and the error marks the cell as failed. That error
is what nbgrader's autograder needs: each self-check cell is an autograded test cell, worth its points when it runs
without an error and zero otherwise.
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["CheckFailed", "close", "equal", "that", "runs"]


class CheckFailed(AssertionError):
    """A self-check that did not pass. Jupyter renders it as its message (what failed and the hint) only."""

    def _render_traceback_(self) -> list[str]:  # IPython: the lines shown instead of a traceback
        return [f"\x1b[31m{line}\x1b[0m" for line in str(self).splitlines()]


def _as_tensor(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double()
    return torch.as_tensor(value, dtype=torch.float64)


def _report(ok: bool, what: str, detail: str, hint: str) -> bool:
    """Print ``✓ what`` and return True, or raise :class:`CheckFailed` with the detail and the hint."""
    if ok:
        print(f"✓ {what}")
        return True
    raise CheckFailed(f"✗ {what}: {detail}" + (f"\n  hint: {hint}" if hint else ""))


def _unanswered(value) -> bool:
    return value is None or value is Ellipsis


def close(mine, reference, *, atol: float = 1e-6, rtol: float = 1e-5, what: str = "your answer matches",
          hint: str = "") -> bool:
    """``mine`` equals ``reference`` within tolerance (numbers, lists or tensors of the same shape)."""
    if _unanswered(mine):
        return _report(False, what, "no answer yet (the cell still returns None/...)", hint)
    try:
        a, b = _as_tensor(mine), _as_tensor(reference)
    except (TypeError, ValueError, RuntimeError) as err:
        return _report(False, what, f"could not read your answer as numbers ({err})", hint)
    if a.shape != b.shape:
        return _report(False, what, f"shape {tuple(a.shape)} but expected {tuple(b.shape)}", hint)
    if not torch.isfinite(a).all():
        return _report(False, what, "your answer contains NaN or inf", hint)
    ok = torch.allclose(a, b, atol=atol, rtol=rtol)
    gap = (a - b).abs().max().item() if a.numel() else 0.0
    return _report(ok, what, f"largest difference {gap:.3g} (tolerance {atol:g} + {rtol:g}·|reference|)", hint)


def equal(mine, expected, *, what: str = "your answer is right", hint: str = "") -> bool:
    """``mine == expected`` for exact answers (integers, strings, choices, tuples)."""
    if _unanswered(mine) and not _unanswered(expected):
        return _report(False, what, "no answer yet (the cell still returns None/...)", hint)
    if isinstance(mine, (list, tuple)) and isinstance(expected, (list, tuple)):
        mine, expected = tuple(mine), tuple(expected)  # [3, 4] answers (3, 4)
    try:
        ok = bool(mine == expected)
    except Exception as err:  # e.g. comparing a tensor of another shape: explain, do not crash
        return _report(False, what, f"could not compare {mine!r} with the expected answer ({err})", hint)
    return _report(ok, what, f"got {mine!r}", hint)


def that(condition: bool, what: str, hint: str = "") -> bool:
    """A yes/no property of the answer, e.g. ``check.that(acc > 0.8, "accuracy above 80 %")``."""
    return _report(bool(condition), what, "not yet", hint)


def runs(fn: Callable, *args, what: str | None = None, hint: str = "", **kwargs):
    """Call a student's function and return its result; if it raises, fail the check with one line and a hint."""
    name = what or f"{getattr(fn, '__name__', 'your function')} runs"
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        detail = "not implemented yet"
    except Exception as err:  # a student's bug: explain it in one line instead of a traceback
        detail = f"raised {type(err).__name__}: {err}"
    _report(False, name, detail, hint)

"""Progress bars that read cleanly wherever the notebooks end up.

In a live notebook or terminal ``bar`` is ``tqdm.auto.tqdm``: a widget in Jupyter, text in a terminal. In a static
run (``FSC_STATIC=1``, which the course runner sets for papermill, CI and the committed outputs) every bar is
disabled: a saved notebook would otherwise show each widget's text fallback frozen at "0%" on GitHub, and carry
its widget state. The work itself is the same either way.
"""
from __future__ import annotations

import os

from tqdm.auto import tqdm

__all__ = ["bar", "static"]


def static() -> bool:
    """True in a static run (``FSC_STATIC`` set to anything but "" or "0"): outputs meant to be saved and read."""
    return os.environ.get("FSC_STATIC", "") not in ("", "0")


def bar(iterable=None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled in a static run (and wherever ``disable=True`` is passed)."""
    kwargs["disable"] = bool(kwargs.get("disable", False)) or static()
    return tqdm(iterable, **kwargs)

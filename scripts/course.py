"""Execute the course's notebooks with papermill and render them to HTML.

    python scripts/course.py run [--scale standard] [--out build] [--only 00] [--in-place]

Executed copies go to ``<out>/notebooks/`` and HTML (``fsc_teach.site.build_site``: index, navigation, a local
MathJax) to ``<out>/html/``; the committed notebooks are left untouched unless ``--in-place`` is given (the
maintainers' ``make notebooks``, which commits a real run's outputs).
Run times are written to ``<out>/timings-<scale>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def execute(path: Path, out: Path, scale: str, timeout: int | None = None) -> float:
    """Run one notebook at ``scale`` into ``out``; returns the wall time in seconds (raises on a failing cell)."""
    import papermill

    os.environ["FSC_SCALE"] = scale
    os.environ["FSC_STATIC"] = "1"  # widgets draw their default figure instead of a dead control
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(str(path), str(out), cwd=str(path.parent), kernel_name="python3",
                               progress_bar=False, execution_timeout=timeout)
    return time.perf_counter() - start


def commit_outputs(executed: Path, committed: Path) -> None:
    """Copy an executed notebook over the committed one without papermill's bookkeeping.

    papermill records the machine's paths (``input_path``) and per-cell timings in the metadata; neither belongs in
    a committed notebook, and jupytext's pairing keeps only tags and nbgrader metadata in the cells.
    """
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)  # saved widget state: none in a static run, and none belongs in git
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    nbformat.write(nb, committed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/course.py")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="execute every notebook")
    run.add_argument("--scale", default=os.environ.get("FSC_SCALE", "standard"))
    run.add_argument("--out", default=str(ROOT / "build"))
    run.add_argument("--only", nargs="*", default=[], help="notebook name prefixes, e.g. 00 02")
    run.add_argument("--in-place", action="store_true", help="also replace the committed notebooks' outputs")
    run.add_argument("--no-html", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from fsc_teach.scale import get_scale

    scale = get_scale(args.scale)
    out = Path(args.out)
    paths = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb")
                   if not args.only or any(p.name.startswith(o) for o in args.only))
    timings_path = out / f"timings-{scale}.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    failed = []
    for path in paths:
        target = out / "notebooks" / path.name
        print(f"[{scale}] {path.name} ...", flush=True)
        try:
            seconds = execute(path, target, scale)
        except Exception as err:  # report every notebook, then fail
            print(f"[{scale}] {path.name} FAILED: {type(err).__name__}: {str(err)[:2000]}", flush=True)
            failed.append(path.name)
            continue
        timings[path.name] = round(seconds, 1)
        print(f"[{scale}] {path.name} done in {seconds:.0f} s", flush=True)
        if args.in_place:
            commit_outputs(target, path)
    out.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(timings, indent=2) + "\n")
    if not args.no_html and len(failed) < len(paths):
        from fsc_teach.site import build_site  # the site's renderer: index page, navigation, offline MathJax

        build_site(out / "html", src=out / "notebooks")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    print(f"executed {len(paths)} notebook(s) at scale {scale!r}; copies in {out / 'notebooks'}, HTML in {out / 'html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

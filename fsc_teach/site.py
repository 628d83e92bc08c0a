"""The course as a static web site: one HTML page per committed notebook, and an index.

    python -m fsc_teach.site [--out build/site] [--src notebooks]

nbconvert renders the committed notebooks (executed at ``standard`` scale), one page each with its figures
embedded, a navigation bar (index, previous, next) and an index page listing each notebook's title and learning
objectives. Nothing is re-executed: the site shows exactly the outputs on GitHub.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from fsc_teach.classroom import NOTEBOOKS, _notebooks

__all__ = ["build_site"]

_STYLE = """<style>
.fsc-nav {position: sticky; top: 0; z-index: 10; display: flex; gap: 1.5em; align-items: center;
  padding: 0.6em 1.2em; background: #1f2937; font: 15px system-ui, sans-serif;}
.fsc-nav a {color: #f9fafb; text-decoration: none;} .fsc-nav a:hover {text-decoration: underline;}
.fsc-nav .fsc-title {color: #9ca3af; margin-left: auto;}
</style>"""


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if m:
                return m.group(1).strip()
    return fallback


def _objectives(nb) -> list[str]:
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "Learning objectives" in cell.source:
            return [re.sub(r"\s+", " ", m).strip()
                    for m in re.findall(r"^\d+\.\s+(.+?)(?=^\d+\.|\Z)", cell.source.split("Learning objectives", 1)[1],
                                        flags=re.M | re.S)]
    return []


def _nav(pages: list[tuple[str, str]], i: int | None) -> str:
    links = ['<a href="index.html">fsc-teach · index</a>']
    if i is not None and i > 0:
        links.append(f'<a href="{pages[i - 1][0]}" rel="prev">← {html.escape(pages[i - 1][1])}</a>')
    if i is not None and i + 1 < len(pages):
        links.append(f'<a href="{pages[i + 1][0]}" rel="next">{html.escape(pages[i + 1][1])} →</a>')
    here = f'<span class="fsc-title">{html.escape(pages[i][1])}</span>' if i is not None else ""
    return f'<nav class="fsc-nav">{"".join(links)}{here}</nav>'


def _inject(body: str, nav: str, title: str) -> str:
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    body = body.replace("</head>", _STYLE + "\n</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + nav, body, count=1)


def build_site(out: str | Path = "build/site", src: str | Path = NOTEBOOKS) -> list[Path]:
    """Render every committed notebook to ``out/NN_name.html`` with navigation, plus ``out/index.html``."""
    import nbconvert
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = _notebooks(Path(src))
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(f"{p.stem}.html", _title(nb, p.stem)) for p, nb in zip(paths, nbs)]
    exporter = nbconvert.HTMLExporter()
    written = []
    for i, nb in enumerate(nbs):
        body, _ = exporter.from_notebook_node(nb)
        target = out / pages[i][0]
        target.write_text(_inject(body, _nav(pages, i), pages[i][1]), encoding="utf-8")
        written.append(target)
    items = []
    for (href, title), nb, path in zip(pages, nbs, paths):
        goals = "".join(f"<li>{html.escape(g)}</li>" for g in _objectives(nb))
        items.append(f'<li class="fsc-entry"><a href="{href}"><b>{html.escape(title)}</b></a>'
                     f'<ol class="fsc-goals">{goals}</ol></li>')
    index = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>fsc-teach</title>{_STYLE}"
             "<style>body{margin:0;font:16px/1.5 system-ui,sans-serif;} main{max-width:60em;margin:2em auto;"
             "padding:0 1em;} .fsc-entry{margin-bottom:1.2em;} .fsc-goals{font-size:14px;color:#374151;}</style>"
             f"</head><body>{_nav(pages, None)}<main><h1>fsc-teach: knowledge distillation and few-shot network "
             "compression</h1><p>Executable notebooks that teach the methods from the papers, rendered with the "
             "outputs of a real <code>standard</code> run.</p><ul>" + "".join(items) + "</ul></main></body></html>")
    (out / "index.html").write_text(index, encoding="utf-8")
    return [out / "index.html"] + written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsc_teach.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="build/site", help="the site's folder (default: build/site)")
    parser.add_argument("--src", default=str(NOTEBOOKS), help="folder of the numbered notebooks")
    args = parser.parse_args(argv)
    written = build_site(args.out, args.src)
    print(f"site: {len(written)} pages in {args.out}; open {Path(args.out) / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

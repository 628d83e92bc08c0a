"""The course as a static web site that works offline: one HTML page per committed notebook, and an index.

    python -m fsc_teach.site [--out build/site] [--src notebooks]

nbconvert renders the committed notebooks (executed at ``standard`` scale); nothing is re-executed, so the site
shows exactly the outputs on GitHub. Every page has its figures embedded, a navigation bar (index, previous,
next), and the index page lists each notebook's title and learning objectives, rendered from their markdown.

**Offline.** nbconvert's ``lab`` template loads MathJax, require.js, the Jupyter widget manager and mermaid from
CDNs, so on a classroom network without internet every equation stays raw ``$…$`` text. Here MathJax 2.7 comes
from the ``jupyter-server-mathjax`` package (PyPI), copied into ``<out>/mathjax/``; require.js, the widget
manager and mermaid are left out (the course's widget outputs are tqdm progress bars, whose saved state needs
the widget manager to show anything, and it has no mermaid diagrams). A page requests nothing outside its folder.
"""
from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
from pathlib import Path

from fsc_teach.classroom import NOTEBOOKS, numbered_notebooks

__all__ = ["MATHJAX_DIR", "build_site", "copy_mathjax", "title", "objectives"]

MATHJAX_DIR = "mathjax"  # the local MathJax's folder inside the site
# The combined configurations that jupyter-server-mathjax ships: TeX and MathML in, HTML-CSS out; Safe mode.
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"

_NAV_STYLE = """<style>
.fsc-nav {position: sticky; top: 0; z-index: 10; display: flex; gap: 1.5em; align-items: center;
  padding: 0.6em 1.2em; background: #1f2937; font: 15px system-ui, sans-serif;}
.fsc-nav a {color: #f9fafb; text-decoration: none;} .fsc-nav a:hover {text-decoration: underline;}
.fsc-nav .fsc-title {color: #9ca3af; margin-left: auto;}
</style>"""

# nbconvert's lab template, less everything it would fetch from a CDN, plus the navigation bar
# (``resources["fsc_nav"]``) between <body> and <main>. MathJax stays: its URL is the exporter's ``mathjax_url``.
# jupyter-server-mathjax ships the STIX-Web fonts but not MathJax's own TeX fonts, so HTML-CSS is told to use
# them (as Jupyter's classic notebook does); otherwise it waits forever for the TeX font data.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({"HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null}});
</script>
{{ super() }}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block data_widget_view -%}{%- endblock data_widget_view -%}
{%- block extra_css -%}""" + _NAV_STYLE + """{%- endblock extra_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.fsc_nav }}
<main>
{%- endblock body_header -%}
"""


def title(nb, fallback: str) -> str:
    """The notebook's title: the text of its first ``# heading``, else ``fallback``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if m:
                return m.group(1).strip()
    return fallback


def objectives(nb) -> list[str]:
    """The markdown of each item of the notebook's numbered **Learning objectives** list, one line each.

    The list is the first run of ``1. …`` lines after the words "Learning objectives", up to a blank line.
    """
    for cell in nb.cells:
        if cell.cell_type == "markdown" and "Learning objectives" in cell.source:
            after = cell.source.split("Learning objectives", 1)[1]
            block = re.search(r"^\d+\.\s.*?(?=\n[ \t]*\n|\Z)", after, flags=re.M | re.S)
            items = re.split(r"^\d+\.\s+", block.group(0), flags=re.M)[1:] if block else []
            return [re.sub(r"\s+", " ", item).strip() for item in items]
    return []


def _nav(pages: list[tuple[str, str]], i: int | None) -> str:
    """The navigation bar of page ``i`` (``None``: the index): index, previous and next page, this page's title."""
    links = ['<a href="index.html">fsc-teach · index</a>']
    if i is not None and i > 0:
        links.append(f'<a href="{pages[i - 1][0]}" rel="prev">← {html.escape(pages[i - 1][1])}</a>')
    if i is not None and i + 1 < len(pages):
        links.append(f'<a href="{pages[i + 1][0]}" rel="next">{html.escape(pages[i + 1][1])} →</a>')
    here = f'<span class="fsc-title">{html.escape(pages[i][1])}</span>' if i is not None else ""
    return f'<nav class="fsc-nav">{"".join(links)}{here}</nav>'


def _index_notebook(pages: list[tuple[str, str]], nbs: list):
    """The index as a one-cell markdown notebook, so that it is rendered like every page (markdown and math)."""
    import nbformat

    lines = ["# fsc-teach: knowledge distillation and few-shot network compression", "",
             "Executable notebooks that teach the methods from the papers, rendered with the outputs of a real "
             "`standard` run.", ""]
    for (href, name), nb in zip(pages, nbs):
        lines += [f"- **[{name}]({href})**", ""] + [f"  {k}. {goal}" for k, goal in enumerate(objectives(nb), 1)]
        lines.append("")
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("\n".join(lines))])


def copy_mathjax(out: Path) -> str:
    """Copy MathJax 2.7 from the ``jupyter-server-mathjax`` package to ``out/mathjax``; returns the pages' URL."""
    try:
        import jupyter_server_mathjax
    except ImportError as err:
        raise ImportError("the site serves MathJax locally from the jupyter-server-mathjax package: "
                          "pip install 'jupyter-server-mathjax>=0.2.6,<0.3'") from err
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(static, out / MATHJAX_DIR, dirs_exist_ok=True)
    return f"{MATHJAX_DIR}/MathJax.js?config={MATHJAX_CONFIG}"


def build_site(out: str | Path = "build/site", src: str | Path = NOTEBOOKS) -> list[Path]:
    """Render every committed notebook to ``out/NN_name.html`` with navigation, plus ``out/index.html``.

    Returns the pages, index first. ``out/mathjax/`` holds the MathJax that the pages load.
    """
    import nbconvert
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = numbered_notebooks(Path(src))
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    pages = [(f"{p.stem}.html", title(nb, p.stem)) for p, nb in zip(paths, nbs)]
    exporter = nbconvert.HTMLExporter(template_name="lab", raw_template=_TEMPLATE, mathjax_url=copy_mathjax(out))
    entries = [("index.html", "fsc-teach", _index_notebook(pages, nbs), None)]
    entries += [(href, name, nb, i) for i, ((href, name), nb) in enumerate(zip(pages, nbs))]
    written = []
    for href, name, nb, i in entries:
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}, "fsc_nav": _nav(pages, i)})
        (out / href).write_text(body, encoding="utf-8")
        written.append(out / href)
    return written


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

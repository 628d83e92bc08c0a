"""The static site works offline: every page embeds its figures, links to its neighbours, loads MathJax from its own
folder and nothing from the web; in headless Chromium every equation and figure renders and no raw markdown or TeX
is left in the prose."""
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest

from fsc_teach import site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
TEX = re.compile(r"\$[^$]+\$")  # $…$ and $$…$$: TeX that MathJax has not typeset
REMOTE = re.compile(r"<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//", re.I)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> list[Path]:
    """The site built once from the committed notebooks: index first, then one page per notebook."""
    return site.build_site(tmp_path_factory.mktemp("site"))


def _image_outputs(nb) -> int:
    return sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))


def _has_math(nb) -> bool:
    """Whether the notebook's markdown (cells, or markdown outputs) holds a $…$ equation."""
    texts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    texts += ["".join(o["data"]["text/markdown"]) for c in nb.cells for o in c.get("outputs", [])
              if "text/markdown" in o.get("data", {})]
    return any(TEX.search(t) for t in texts)


def test_objectives_are_the_numbered_list_only():
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    goals = site.objectives(nb)
    assert len(goals) == 4 and goals[0].startswith("load Fashion-MNIST offline and draw reproducible *K-shot*")
    assert goals[-1] == "explain where the course's teachers come from and how their accuracy is verified."


def test_site_pages_embed_every_figure_and_link_to_each_other(pages):
    assert pages[0].name == "index.html" and len(pages) == len(NOTEBOOKS) + 1
    index = pages[0].read_text()
    for i, (page, path) in enumerate(zip(pages[1:], NOTEBOOKS)):
        html = page.read_text()
        assert f'href="{page.name}"' in index
        assert html.count("<img") >= _image_outputs(nbformat.read(path, as_version=4)) > 0, page.name
        assert 'class="fsc-nav"' in html and 'href="index.html"' in html
        assert ('rel="prev"' in html) == (i > 0) and ('rel="next"' in html) == (i < len(NOTEBOOKS) - 1)


def test_site_loads_nothing_from_the_web_and_renders_the_objectives(pages):
    mathjax = pages[0].parent / site.MATHJAX_DIR / "MathJax.js"
    assert mathjax.is_file()
    for page in pages:
        html = page.read_text()
        assert not REMOTE.findall(html), f"{page.name} loads {REMOTE.findall(html)}"
        assert f'<script src="{site.MATHJAX_DIR}/MathJax.js?config=' in html, page.name
    index = pages[0].read_text()
    assert "<em>K-shot</em>" in index and "*K-shot*" not in index and "Scales." not in index
    assert r"$\mathrm{softmax}(z/T)$" in index  # left for MathJax, which the browser test sees typeset


CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and DRIVER) and os.environ.get("CI") != "true",
                                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                           "chromium-driver); CI installs them")

# Resolves when MathJax has typeset the page: its startup's "End" signal, then everything queued before us (the
# template's own Typeset call). The hook must not return the Queue's callback: MathJax would wait on it forever.
WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (!window.MathJax) { done(false); return; }
MathJax.Hub.Register.StartupHook("End", function () { MathJax.Hub.Queue(function () { done(true); }); });
"""

# What the reader sees, measured once the page has settled.
PAGE_FACTS = """
const skip = "pre, code, script, style";  // code and program output may hold ** and $ legitimately
const prose = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const el = node.parentElement;
  if (!el.closest(skip) && el.checkVisibility() && node.data.trim()) prose.push(node.data);
}
return {
  prose: prose,
  figures: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
  tex: document.querySelectorAll('script[type^="math/tex"]').length,
  typeset: document.querySelectorAll("span.MathJax").length,
  errors: document.querySelectorAll(".MathJax_Error, .merror, .noError").length,
};
"""


def _chromium(profile: Path):
    """Headless Chromium that records every network request of the pages it opens (the performance log)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,2000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_script_timeout(120)
    return driver


def _open(driver, page: Path) -> tuple[dict, list[str]]:
    """Load ``page``, wait for MathJax and the fonts; returns its facts and the URLs of every request it made.

    Chromium's Resource Timing lists no file:// resources, so requests come from the DevTools performance log.
    """
    driver.get_log("performance")  # drop the previous page's events
    driver.get(page.as_uri())
    assert driver.execute_async_script(WAIT_FOR_MATHJAX), f"{page.name}: MathJax did not load"
    driver.execute_script("return document.fonts.ready")
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    requests = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"
                and e["params"].get("documentURL", "").startswith("file:")]
    return driver.execute_script(PAGE_FACTS), requests


@pytest.mark.slow
@needs_chromium
def test_site_renders_math_and_figures_offline_in_headless_chromium(pages, tmp_path):
    driver = _chromium(tmp_path / "profile")
    try:
        driver.get(pages[0].as_uri())
        links = driver.execute_script("return [...document.querySelectorAll('main a[href$=\".html\"]')]"
                                      ".map(a => a.href)")
        assert links == [p.as_uri() for p in pages[1:]]
        nbs = [nbformat.read(p, as_version=4) for p in NOTEBOOKS]
        index_has_math = any(TEX.search(goal) for nb in nbs for goal in site.objectives(nb))
        for page, nb in zip(pages, [None] + nbs):
            facts, requests = _open(driver, page)
            remote = [u for u in requests if urlsplit(u).scheme not in ("file", "data", "about")]
            assert requests and not remote, f"{page.name} requested {remote}"
            raw = [t.strip()[:80] for t in facts["prose"] if TEX.search(t) or "**" in t]
            assert not raw, f"{page.name}: raw TeX or markdown in the text: {raw}"
            has_math = index_has_math if nb is None else _has_math(nb)
            assert facts["typeset"] == facts["tex"] and facts["errors"] == 0, f"{page.name}: {facts}"
            assert (facts["typeset"] > 0) == has_math, f"{page.name}: {facts['typeset']} equations typeset"
            expected = 0 if nb is None else _image_outputs(nb)
            assert facts["figures"] >= expected, f"{page.name}: {facts['figures']} of {expected} figures rendered"
            driver.execute_script("const m = document.querySelector('.MathJax_Display, span.MathJax');"
                                  "if (m) m.scrollIntoView({block: 'center'});")
            shot = tmp_path / f"{page.stem}.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()

"""The static site: every page embeds its figures and links to its neighbours, and renders in headless Chromium."""
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from fsc_teach import site

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))


def _image_outputs(nb) -> int:
    return sum(1 for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))


def test_site_pages_embed_every_figure_and_link_to_each_other(tmp_path):
    pages = site.build_site(tmp_path)
    assert pages[0].name == "index.html" and len(pages) == len(NOTEBOOKS) + 1
    index = pages[0].read_text()
    for i, (page, path) in enumerate(zip(pages[1:], NOTEBOOKS)):
        html = page.read_text()
        assert f'href="{page.name}"' in index
        assert html.count("<img") >= _image_outputs(nbformat.read(path, as_version=4)) > 0, page.name
        assert 'class="fsc-nav"' in html and 'href="index.html"' in html
        assert ('rel="prev"' in html) == (i > 0) and ('rel="next"' in html) == (i < len(NOTEBOOKS) - 1)


CHROMIUM, DRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(not (CHROMIUM and DRIVER) and os.environ.get("CI") != "true",
                                    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                           "chromium-driver); CI installs them")


@needs_chromium
def test_site_renders_its_figures_in_headless_chromium(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path / "site"
    pages = site.build_site(folder)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        driver.get(pages[0].as_uri())
        links = driver.execute_script("return [...document.querySelectorAll('main a')].map(a => a.href)")
        assert len(links) == len(NOTEBOOKS)
        for page, path in zip(pages[1:], NOTEBOOKS):
            driver.get(page.as_uri())
            driver.execute_script("return document.fonts ? document.fonts.ready : null")
            rendered = driver.execute_script(
                "return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
            expected = _image_outputs(nbformat.read(path, as_version=4))
            assert rendered >= expected > 0, f"{page.name}: {rendered} of {expected} figures rendered"
            shot = tmp_path / f"{page.stem}.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()

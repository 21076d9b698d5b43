"""The built HTML book in headless Chromium: static widgets work with no kernel and no network.

Needs `_build/html` (make test builds it first) and Debian's chromium (make test installs it).
"""

import contextlib
import html
import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
FRAME = re.compile(r'<div class="d2lmini-frame" data-frame="(\d+)"(?: hidden)?>(.*?)</div>', re.S)


def chromium_path():
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium: `make test` installs Debian's chromium package")
        pytest.skip("no Chromium on this machine (install Debian's chromium to run the browser tests)")
    return path


def stored_widgets(page):
    """The static views stored in the notebook: a list of {label list, frame contents}."""
    nb = json.loads((ROOT / "book" / f"{page}.ipynb").read_text())
    views = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            if "d2lmini-explore" in html:
                labels = json.loads(re.search(r"var labels = (\[.*?\]), name", html).group(1))
                views.append({"labels": labels, "frames": [body for _, body in FRAME.findall(html)]})
    return views


def pages_with_widgets():
    return [p.stem for p in sorted((ROOT / "book").glob("*.ipynb")) if stored_widgets(p.stem)]


@contextlib.contextmanager
def chromium():
    """Debian's Chromium driven by Playwright (skipped, or failed on CI, where there is none)."""
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(chromium_browser):
    """The session's Chromium (tests/conftest.py), once the book is built."""
    if not (HTML / "index.html").is_file():
        pytest.fail("build the book first: `make html` (make test does it before this test)")
    return chromium_browser


def open_page(browser, page_name):
    page = browser.new_page()
    external, errors = [], []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((HTML / "book" / f"{page_name}.html").as_uri())
    page.wait_for_load_state("load")
    return page, external, errors


def frame_content(body):
    """(image source, text) of a stored frame's HTML."""
    src = re.search(r'<img src="([^"]+)"', body)
    text = re.search(r"<pre[^>]*>(.*?)</pre>", body, re.S)
    return (src.group(1) if src else None, html.unescape(text.group(1)) if text else None)


def visible_frame(widget):
    """(index, (image source, text)) of the one visible frame, read from the live page.

    Compared by content, not markup: the theme's scripts add attributes (tabindex on <pre>).
    """
    frames = widget.locator(".d2lmini-frame:not([hidden])")
    assert frames.count() == 1
    img, pre = frames.locator("img"), frames.locator("pre")
    shown = (img.get_attribute("src") if img.count() else None, pre.text_content() if pre.count() else None)
    return int(frames.get_attribute("data-frame")), shown


def check_shown(widget, expected, index):
    """Exactly frame ``index`` is visible, it is the stored precomputed one, and the label says so."""
    shown, body = visible_frame(widget)
    assert shown == index and body == frame_content(expected["frames"][index])
    label = expected["labels"][index]
    assert widget.locator("output").inner_text() == label
    assert widget.locator("input[type=range]").get_attribute("aria-valuetext").endswith(f"= {label}")


def test_some_pages_have_widgets():
    assert len(pages_with_widgets()) >= 3


@pytest.mark.parametrize("page_name", pages_with_widgets())
def test_static_widgets_follow_the_slider_with_no_network(browser, page_name):
    page, external, errors = open_page(browser, page_name)
    stored = stored_widgets(page_name)
    widgets = page.locator(".d2lmini-explore")
    assert widgets.count() == len(stored), "every stored widget is shown by its static view"
    for i, expected in enumerate(stored):
        widget = widgets.nth(i)
        slider = widget.locator("input[type=range]")
        last = len(expected["labels"]) - 1
        check_shown(widget, expected, int(slider.input_value()))
        # Keyboard: Home, then one step right, then End.
        slider.focus()
        page.keyboard.press("Home")
        check_shown(widget, expected, 0)
        if last >= 1:
            page.keyboard.press("ArrowRight")
            check_shown(widget, expected, 1)
        page.keyboard.press("End")
        check_shown(widget, expected, last)
        # A value change, as a pointer drag or assistive technology sets it.
        slider.fill(str(last // 2))
        check_shown(widget, expected, last // 2)
    assert external == [], f"the page made network requests: {external[:5]}"
    assert errors == [], errors
    page.close()


def test_every_page_loads_offline_without_errors(browser):
    for name in ["index", *[p.stem for p in sorted((ROOT / "book").glob("*.ipynb"))]]:
        page, external, errors = open_page(browser, name)
        assert external == [] and errors == [], (name, external[:5], errors)
        assert page.locator("h1").count() >= 1
        if name != "index":
            assert page.locator("img").count() >= 1, f"{name} shows no figure"
            assert "colab.research.google.com" in page.content(), f"{name} has no Colab launch button"
        page.close()

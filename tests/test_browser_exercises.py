"""Hints and solutions in the built HTML book: folded when the page opens, unfolded by a click or Enter.

Needs `_build/html` (make test builds it first) and Debian's chromium, like tests/test_browser.py.
"""

import json

import pytest
import test_browser
from test_book import PAGES
from test_browser import browser, open_page  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser
FOLDED = ["d2lmini-hint", "d2lmini-solution"]


def stored_count(page_name: str, kind: str) -> int:
    """How many <details class="kind"> the notebook's markdown holds."""
    cells = json.loads((test_browser.ROOT / "book" / f"{page_name}.ipynb").read_text())["cells"]
    return sum("".join(c["source"]).count(f'<details class="{kind}">') for c in cells if c["cell_type"] == "markdown")


def content_visible(details) -> bool:
    """Whether anything of a <details> besides its summary is shown.

    checkVisibility, not a bounding box: a closed <details> hides its content by skipping it
    (content-visibility), and skipped elements may still report layout boxes.
    """
    return details.evaluate(
        "d => Array.from(d.children).filter(c => c.tagName !== 'SUMMARY')"
        ".some(c => c.checkVisibility({visibilityProperty: true, opacityProperty: true}))")


@pytest.mark.parametrize("page_name", PAGES)
def test_hints_and_solutions_are_folded_and_open_by_click_and_keyboard(browser, page_name):  # noqa: F811
    page, external, errors = open_page(browser, page_name)
    for kind in FOLDED:
        blocks = page.locator(f"details.{kind}")
        assert blocks.count() == stored_count(page_name, kind) >= 4, f"{page_name}: {kind} blocks missing"
        for i in range(blocks.count()):
            details = blocks.nth(i)
            summary = details.locator(":scope > summary")
            assert not details.evaluate("d => d.open") and not content_visible(details), f"{kind} {i} is open"
            assert summary.is_visible()
            summary.click()  # the mouse
            assert details.evaluate("d => d.open") and content_visible(details), f"{kind} {i} did not open"
            summary.click()
            assert not details.evaluate("d => d.open") and not content_visible(details)
            summary.focus()  # the keyboard
            page.keyboard.press("Enter")
            assert details.evaluate("d => d.open") and content_visible(details), f"{kind} {i}: Enter did not open it"
            page.keyboard.press("Enter")
            assert not details.evaluate("d => d.open")
    assert external == [] and errors == [], (external[:5], errors)
    page.close()

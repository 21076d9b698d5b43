"""The book's structure: table of contents, Colab wiring, executed notebooks, page standards."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["sequence", "text-sequence", "language-model", "rnn", "rnn-scratch", "rnn-concise", "bptt"]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def notebook(name):
    return json.loads((ROOT / "book" / f"{name}.ipynb").read_text())


def source(cell):
    return "".join(cell["source"])


def test_toc_lists_the_seven_pages_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["root"] == "book/index"
    assert [c["file"] for c in toc["chapters"]] == [f"book/{p}" for p in PAGES]
    assert sorted(p.stem for p in (ROOT / "book").glob("*.ipynb")) == sorted(PAGES)


def test_repository_is_configured_once_for_launch_buttons():
    repo = CONFIG["repository"]
    assert repo["branch"] == "main" and repo["url"].startswith("https://github.com/")
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert CONFIG["html"]["use_download_button"] is True
    assert ["html", "text/html", 0] in CONFIG["sphinx"]["config"]["nb_mime_priority_overrides"]


@pytest.mark.parametrize("name", PAGES)
def test_first_code_cell_installs_d2lmini_only_on_colab(name):
    cells = notebook(name)["cells"]
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert all(c["cell_type"] == "markdown" for c in cells[:cells.index(first_code)])
    code = source(first_code)
    repo = CONFIG["repository"]
    assert 'if "google.colab" in sys.modules:' in code
    assert f'%pip install -q "d2lmini @ git+{repo["url"]}@{repo["branch"]}"' in code


@pytest.mark.parametrize("name", PAGES)
def test_notebook_is_committed_executed_in_order_without_errors(name):
    nb = notebook(name)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert "widgets" not in nb["metadata"]  # stored widget state would pull widget code from a CDN


@pytest.mark.parametrize("name", PAGES)
def test_static_widget_views_stay_light(name):
    for cell in notebook(name)["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            if "d2lmini-explore" in html:
                assert len(html.encode()) <= 500_000


@pytest.mark.parametrize("name", PAGES)
def test_page_has_prose_summary_and_exercises(name):
    markdown = "\n".join(source(c) for c in notebook(name)["cells"] if c["cell_type"] == "markdown")
    prose = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|```.*?```|`[^`]*`", " ", markdown, flags=re.S)
    assert len(re.findall(r"[A-Za-z][A-Za-z'-]*", prose)) >= 1200
    assert len(re.findall(r"^# ", markdown, flags=re.M)) == 1
    assert re.search(r"^## Summary", markdown, flags=re.M)
    exercises = re.split(r"^## Exercises[ \t]*$", markdown, maxsplit=1, flags=re.M)
    assert len(exercises) == 2, f"{name} has no '## Exercises' section"
    section = re.split(r"^#{1,2} ", exercises[1], maxsplit=1, flags=re.M)[0]
    # Numbered items at the margin; hints and solutions are indented inside them (tests/test_exercises.py).
    numbered = len(re.findall(r"^\d+\.[ \t]", section, flags=re.M))
    assert numbered >= 4, f"{name} has {numbered} numbered exercises; at least 4 wanted"
    for kind in ["d2lmini-hint", "d2lmini-solution"]:
        assert section.count(f'<details class="{kind}">') == numbered, f"{name}: one {kind} per exercise"


def test_widgets_the_book_promises_exist():
    def explore_names(name):
        found = []
        for cell in notebook(name)["cells"]:
            for out in cell.get("outputs", []):
                html = "".join(out.get("data", {}).get("text/html", ""))
                found += re.findall(r'class="d2lmini-explore".*?aria-label="([^"]+)"', html)
        return found

    assert "steps" in explore_names("sequence")
    assert "temperature" in explore_names("rnn-scratch")
    assert "temperature" in explore_names("rnn-concise")
    assert explore_names("bptt")


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("name", PAGES)
def test_outputs_nbval_does_not_compare_are_asserted_or_only_wall_clock(name):
    """A cell whose output nbval ignores must check its result itself, unless it only prints a timing."""
    for cell in notebook(name)["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = source(cell)
        assert "nbval-skip" not in tags(cell) and "NBVAL_SKIP" not in src, f"{name}: a skipped cell:\n{src}"
        if "nbval-ignore-output" in tags(cell) or "NBVAL_IGNORE_OUTPUT" in src:
            asserts = re.search(r"^\s*assert\b", src, flags=re.M)
            timing = re.search(r"perf_counter|train_time|epoch_time|seconds", src)
            assert asserts or timing, f"{name}: an ignored cell neither asserts nor only times:\n{src}"


def test_nbval_is_strict():
    makefile = (ROOT / "Makefile").read_text()
    assert "--nbval-lax" not in makefile and "--nbval " in makefile + " "
    sanitize = (ROOT / "tests" / "nbval_sanitize.cfg").read_text()
    assert re.findall(r"^regex: (.*)$", sanitize, flags=re.M) == [r"data:image/png;base64,[A-Za-z0-9+/=]+"]

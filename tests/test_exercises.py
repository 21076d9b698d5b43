"""Exercises: every one has a folded hint and a folded solution, and the code in every solution runs.

The format (one notation for the whole chapter) is a numbered list in the "## Exercises" markdown, each
item followed, indented three spaces, by exactly one ``<details class="d2lmini-hint">`` and then one
``<details class="d2lmini-solution">``, never ``open``, with blank lines around their markdown so that
the HTML book, JupyterLab and Colab all render them closed. Each ```python block inside a solution runs
alone in a fresh process started in ``book/``, as a reader would paste it: a process forked, for that block
only, from a worker that has imported torch, matplotlib and d2lmini and run nothing else, so that no block
pays for the imports and none sees what another did.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from test_book import PAGES

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
TIMEOUT = 60  # seconds per solution block: generous, the format asks for about 10 s on one thread
DETAILS = re.compile(r"^(?P<indent> *)<details(?P<attrs>[^>]*)>(?P<body>.*?)^(?P=indent)</details>", re.S | re.M)
PYTHON_FENCE = re.compile(r"^(?P<indent> *)```python[ \t]*\n(?P<code>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
KINDS = {"d2lmini-hint": "Hint", "d2lmini-solution": "Solution"}


def exercises_section(markdown: str) -> str | None:
    """The text under the "## Exercises" heading, up to the next heading of level 1 or 2 (None if absent)."""
    parts = re.split(r"^## Exercises[ \t]*$", markdown, maxsplit=1, flags=re.M)
    if len(parts) < 2:
        return None
    return re.split(r"^#{1,2} ", parts[1], maxsplit=1, flags=re.M)[0]


def exercise_items(section: str) -> list[tuple[int, str]]:
    """The numbered items of the list, as (number, text up to the next item); indented lines belong to the item."""
    starts = list(re.finditer(r"^(\d+)\.[ \t]", section, flags=re.M))
    ends = [m.start() for m in starts[1:]] + [len(section)]
    return [(int(m.group(1)), section[m.start():end]) for m, end in zip(starts, ends)]


def details_blocks(item: str) -> list[dict]:
    """The <details> blocks of an item: their class, attributes, summary, body and indentation."""
    blocks = []
    for m in DETAILS.finditer(item):
        cls = re.search(r'\bclass="([^"]*)"', m["attrs"])
        summary = re.match(r"<summary>(.*?)</summary>", m["body"])
        blocks.append({"class": cls.group(1) if cls else None, "attrs": m["attrs"], "indent": m["indent"],
                       "summary": summary.group(1) if summary else None, "body": m["body"]})
    return blocks


def format_problems(item: str) -> list[str]:
    """What is wrong with one exercise's hint and solution (an empty list when it follows the format)."""
    blocks = details_blocks(item)
    problems = []
    opened = len(re.findall(r"<details\b", item))
    if opened != len(blocks):
        problems.append(f"{opened} <details> opened but {len(blocks)} closed at the same indentation")
    for kind in KINDS:
        found = sum(b["class"] == kind for b in blocks)
        if found != 1:
            problems.append(f'{found} <details class="{kind}"> (exactly one wanted)')
    if [b["class"] for b in blocks if b["class"] in KINDS] == list(KINDS)[::-1]:
        problems.append("the solution comes before the hint")
    for b in blocks:
        name = b["class"] or "<details> without a class"
        if re.search(r"\bopen\b", b["attrs"]):
            problems.append(f"{name} has the `open` attribute: it would render unfolded")
        if b["indent"] != "   ":
            problems.append(f"{name} is indented {len(b['indent'])} spaces, not 3 (it must sit inside the list item)")
        if b["class"] in KINDS and b["summary"] != KINDS[b["class"]]:
            problems.append(f"{name} must open with <summary>{KINDS[b['class']]}</summary>, not {b['summary']!r}")
        if not re.match(r"<summary>.*?</summary>[ \t]*\n[ \t]*\n", b["body"]) or not re.search(r"\n[ \t]*\n *$",
                                                                                             b["body"]):
            problems.append(f"{name} needs a blank line after </summary> and before </details>, "
                            "or its markdown is not rendered")
    return problems


def solution_code(item: str) -> list[str]:
    """The ```python blocks inside an item's solution, dedented."""
    return [textwrap.dedent(m["code"]) for b in details_blocks(item) if b["class"] == "d2lmini-solution"
            for m in PYTHON_FENCE.finditer(b["body"])]


def page_markdown(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


# The worker: imports what the blocks import, then for each request (a JSON line: code, cwd, timeout) forks a
# child that runs the block as __main__ in a new namespace, its stdin empty and its output in files, and
# answers with a JSON line (returncode, stdout, stderr, timed_out). The worker itself never runs a block.
WORKER = r"""
import json, os, signal, sys, tempfile, time, traceback
import matplotlib, matplotlib.pyplot, numpy, torch, d2lmini
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.flush(); sys.stderr.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the block's own process
            os.setpgid(0, 0)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0); os.dup2(out.fileno(), 1); os.dup2(err.fileno(), 2)
            os.chdir(request["cwd"])
            code = 0
            try:
                exec(compile(request["code"], "<solution block>", "exec"), {"__name__": "__main__"})
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
            except BaseException:
                traceback.print_exc(); code = 1
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)
        deadline, status = time.monotonic() + request["timeout"], None
        while status is None and time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            status = status if done else time.sleep(0.02)
        timed_out = status is None
        if timed_out:
            os.killpg(pid, signal.SIGKILL); _, status = os.waitpid(pid, 0)
        out.seek(0); err.seek(0)
        answer = {"returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
                  "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}
    print(json.dumps(answer), flush=True)
"""


class BlockRunner:
    """A warm worker process (see WORKER) that runs one block at a time, each in a process of its own."""

    def __init__(self) -> None:
        python = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
        env = os.environ | {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}  # D2LMINI_DATA_DIR is inherited
        self.process = subprocess.Popen([python, "-c", WORKER], cwd=BOOK, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()

    def run(self, code: str, cwd: Path = BOOK, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
        """Run ``code`` alone in a fresh process in ``cwd``; return the finished process.

        Raises:
            subprocess.TimeoutExpired: it ran longer than ``timeout`` seconds (and was killed).
        """
        with self.lock:
            self.process.stdin.write(json.dumps({"code": code, "cwd": str(cwd), "timeout": timeout}) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the block runner died (exit {self.process.wait()})")
        answer = json.loads(line)
        if answer["timed_out"]:
            raise subprocess.TimeoutExpired(["<solution block>"], timeout, answer["stdout"], answer["stderr"])
        return subprocess.CompletedProcess(["<solution block>"], answer["returncode"], answer["stdout"],
                                           answer["stderr"])

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


@pytest.fixture(scope="module")
def runner():
    """One warm worker per pytest process (with xdist, one per xdist worker: both cores busy)."""
    block_runner = BlockRunner()
    yield block_runner
    block_runner.close()


def solution_blocks() -> list:
    """One pytest parameter per solution code block in the book, named page-exercise-block."""
    params = []
    for page in PAGES:
        section = exercises_section(page_markdown(BOOK / f"{page}.ipynb")) or ""
        for number, item in exercise_items(section):
            for i, code in enumerate(solution_code(item), start=1):
                params.append(pytest.param(code, id=f"{page}-ex{number}-block{i}"))
    return params


# The book's pages -------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_exercise_has_one_folded_hint_and_one_folded_solution(page):
    section = exercises_section(page_markdown(BOOK / f"{page}.ipynb"))
    assert section is not None, f"{page} has no '## Exercises' section"
    items = exercise_items(section)
    assert len(items) >= 4, f"{page} has {len(items)} numbered exercises; at least 4 wanted"
    assert [n for n, _ in items] == list(range(1, len(items) + 1)), f"{page}: exercises are not numbered 1, 2, ..."
    problems = {n: p for n, item in items if (p := format_problems(item))}
    assert not problems, f"{page}: exercises that break the hint/solution format: {problems}"


@pytest.mark.solutions
@pytest.mark.parametrize("code", solution_blocks())
def test_solution_code_runs(code, runner):
    try:
        done = runner.run(code)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the block ran longer than {TIMEOUT} s; use smaller settings (at most ~10 s on one thread)")
    assert done.returncode == 0, f"the block failed (exit {done.returncode}):\n{done.stderr[-3000:]}"


# The checks themselves, on a page faked in tmp_path -----------------------------------------------

def fake_item(number, hint_attrs="", solution_attrs="", code='print("ok")', indent="   "):
    return textwrap.dedent(f"""\
        {number}. **Exercise {number}.** Change something and observe.

        {indent}<details class="d2lmini-hint"{hint_attrs}><summary>Hint</summary>

        {indent}Look at the loss.

        {indent}</details>

        {indent}<details class="d2lmini-solution"{solution_attrs}><summary>Solution</summary>

        {indent}The loss goes down because $x^2 \\ge 0$.

        {indent}```python
        {indent}{code}
        {indent}```

        {indent}</details>
        """)


def write_fake_page(tmp_path, items):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# A page\n\nSome prose.\n"},
             {"cell_type": "markdown", "metadata": {}, "source": "## Exercises\n\n" + "\n".join(items)},
             {"cell_type": "markdown", "metadata": {}, "source": "## Further reading\n\n1. Not an exercise.\n"}]
    path = tmp_path / "fake.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_the_format_check_accepts_the_spec_and_names_each_violation(tmp_path):
    good = [fake_item(n) for n in range(1, 5)]
    items = exercise_items(exercises_section(page_markdown(write_fake_page(tmp_path, good))))
    assert [n for n, _ in items] == [1, 2, 3, 4]  # the list after the next heading is not counted
    assert all(format_problems(item) == [] for _, item in items)
    assert solution_code(items[0][1]) == ['print("ok")\n']

    def problems_of(item):
        return " | ".join(format_problems(item))

    assert "has the `open` attribute" in problems_of(fake_item(1, solution_attrs=" open"))
    assert "has the `open` attribute" in problems_of(fake_item(1, hint_attrs=' open=""'))
    assert 'd2lmini-hint"> (exactly one' in problems_of(fake_item(1).replace("d2lmini-hint", "d2lmini-note"))
    two_solutions = fake_item(1) + fake_item(1).split("\n", 1)[1].split("</details>", 1)[1]
    assert '2 <details class="d2lmini-solution">' in problems_of(two_solutions)
    assert "indented 0 spaces" in problems_of(fake_item(1, indent=""))
    no_blank = fake_item(1).replace("<summary>Hint</summary>\n\n", "<summary>Hint</summary>\n")
    assert "needs a blank line" in problems_of(no_blank)
    assert "must open with <summary>Hint" in problems_of(fake_item(1).replace("<summary>Hint", "<summary>Tip"))
    hint, solution = fake_item(1).split("   <details class=\"d2lmini-solution\"")
    swapped = hint.split("   <details")[0] + "   <details class=\"d2lmini-solution\"" + solution.rstrip() + \
        "\n\n   <details" + hint.split("   <details", 1)[1]
    assert "the solution comes before the hint" in problems_of(swapped)


def test_the_runner_runs_each_block_alone_in_book_and_reports_failures(tmp_path, runner):
    code = "import os, sys, matplotlib\nprint(os.getcwd(), matplotlib.get_backend(), os.environ['OMP_NUM_THREADS'])"
    done = runner.run(code)
    assert done.returncode == 0 and done.stdout.lower().split() == [str(BOOK).lower(), "agg", "1"]
    failing = runner.run("from d2lmini.checks import check_int\ncheck_int('num_steps', 0)")
    assert failing.returncode != 0 and "num_steps" in failing.stderr
    assert runner.run("import sys\nprint('out')\nsys.exit(3)").returncode == 3
    with pytest.raises(subprocess.TimeoutExpired):
        runner.run("import time\ntime.sleep(5)", timeout=1)
    assert runner.run("print(input())").returncode == 1  # stdin is empty, not the runner's own
    # A block that needs a name from another block fails: each runs alone.
    items = exercise_items(exercises_section(page_markdown(write_fake_page(tmp_path, [fake_item(1, code="y = 1"),
                                                                                      fake_item(2, code="print(y)")]))))
    assert [runner.run(solution_code(item)[0]).returncode for _, item in items] == [0, 1]
    # Nor what another did to a module, a seed or the working folder: each block is its own process.
    assert runner.run("import os, torch, d2lmini\nd2lmini.LEFT = 1\ntorch.manual_seed(5)\nos.chdir('/')"
                      ).returncode == 0
    after = runner.run("import os, torch, d2lmini\nprint(hasattr(d2lmini, 'LEFT'), torch.initial_seed(), os.getcwd())")
    left, seed, cwd = after.stdout.split()
    assert (left, cwd) == ("False", str(BOOK)) and seed != "5"

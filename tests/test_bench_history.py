"""bench/history.py: rows appended with fixed, only-growing columns, and the change against the last run."""

import csv
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_history", ROOT / "bench" / "history.py")
history = importlib.util.module_from_spec(spec)
spec.loader.exec_module(history)

WHO = {"commit": "abc", "date": "2026-01-01T00:00:00Z", "machine": "cpu A", "cpus": "2", "python": "3.11.7"}


def rows(path):
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_the_first_row_writes_the_fixed_columns_then_new_ones(tmp_path):
    path = tmp_path / "history.csv"
    assert history.append(path, WHO | {"chapter_s": 61.5, "page_rnn_s": 12.0, "make_test_s": None}) is None
    header, row = rows(path)
    assert header == history.COLUMNS + ["page_rnn_s"]
    assert row[header.index("chapter_s")] == "61.5" and row[header.index("make_test_s")] == ""
    assert row[header.index("commit")] == "abc"


def test_columns_are_only_appended_and_old_rows_keep_their_cells(tmp_path):
    path = tmp_path / "history.csv"
    history.append(path, WHO | {"chapter_s": 61.5, "page_rnn_s": 12.0})
    previous = history.append(path, WHO | {"commit": "def", "chapter_s": 58.0, "page_new_s": 3.0})
    assert previous["commit"] == "abc" and previous["chapter_s"] == "61.5"
    header, first, second = rows(path)
    assert header == history.COLUMNS + ["page_rnn_s", "page_new_s"]  # the new page's column comes last
    assert first[header.index("page_rnn_s")] == "12.0" and first[header.index("page_new_s")] == ""
    assert second[header.index("page_rnn_s")] == "" and second[header.index("page_new_s")] == "3.0"
    history.append(path, WHO | {"commit": "ghi"})
    assert rows(path)[0] == header  # nothing new: the header stays as it was


def test_the_comparison_is_with_the_last_run_on_the_same_machine(tmp_path):
    path = tmp_path / "history.csv"
    history.append(path, WHO | {"commit": "a1", "chapter_s": 60.0})
    history.append(path, WHO | {"commit": "b1", "machine": "cpu B", "chapter_s": 30.0})
    assert history.append(path, WHO | {"commit": "a2", "chapter_s": 61.0})["commit"] == "a1"
    assert history.append(path, WHO | {"commit": "c1", "machine": "cpu C"})["commit"] == "a2"  # else the last


@pytest.mark.parametrize("key, old, new, flagged", [
    ("chapter_s", "60.0", 70.0, True),           # 17 % and 10 s slower
    ("chapter_s", "60.0", 65.0, False),          # 8 %
    ("chapter_s", "60.0", 50.0, False),          # faster
    ("kn7_val_probs_s", "0.2", 0.3, False),      # 50 %, but a tenth of a second is jitter
    ("scratch_val_ppl", "4.0", 4.5, True),       # perplexity: lower is better
    ("scratch_chars_per_s", "100000", 80000, True),  # throughput: higher is better
    ("scratch_chars_per_s", "100000", 120000, False),
])
def test_changes_flag_what_got_worse(key, old, new, flagged):
    (line,) = history.changes({key: old}, {key: new})
    assert line.split()[0] == key and ("worse" in line) == flagged


def test_changes_skip_who_and_figures_missing_on_either_side():
    previous = {"commit": "a", "chapter_s": "60", "book_build_s": ""}
    current = {"commit": "b", "chapter_s": 60.0, "book_build_s": 20.0, "make_test_s": None, "page_x_s": 1.0}
    assert [line.split()[0] for line in history.changes(previous, current)] == ["chapter_s"]

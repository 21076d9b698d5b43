"""The benchmark's history: one row per `make bench` in bench/history.csv, and the change against the last run.

The columns are fixed and only ever grow: a figure the file has not seen yet (a new page, say) becomes a new
column at the end, and older rows leave it empty. Standard library only, so the tests read it without torch.
"""

from __future__ import annotations

import csv
import datetime
import os
import platform
import subprocess
from pathlib import Path

# Who measured, then the figures; `page_<name>_s` columns (one per page) follow in the order first seen.
COLUMNS = ["commit", "date", "machine", "cpus", "python", "torch", "threads",
           "make_test_s", "chapter_s", "book_build_s", "scratch_train_s", "nnrnn_train_s",
           "scratch_val_ppl", "nnrnn_val_ppl", "scratch_chars_per_s", "nnrnn_chars_per_s",
           "kn7_fit_and_test_probs_s", "kn7_val_probs_s"]
ABOUT = COLUMNS[:7]
SLOWDOWN = 0.10  # a figure that got worse by more than this fraction is flagged,
MIN_SECONDS = 0.5  # and for a time, by at least this much (sub-second figures jitter by more than 10 %)


def machine() -> dict[str, str]:
    """The commit (``+dirty`` with uncommitted changes), the UTC date and what the machine is."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"commit": commit, "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": model, "cpus": str(os.cpu_count()), "python": platform.python_version()}


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of ``path`` (none if it does not exist)."""
    if not path.exists():
        return [], []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def append(path: Path, row: dict[str, object]) -> dict[str, str] | None:
    """Append ``row`` to the CSV at ``path``; return the row to compare it with, or ``None`` for the first.

    Columns keep their order; keys the file lacks are added at the end (the file is rewritten once, older rows
    get empty cells). A value of ``None`` is written as an empty cell. The row compared with is the last one
    measured on the same machine, else the last one.
    """
    header, rows = read(path)
    header = header or list(COLUMNS)
    header += [key for key in row if key not in header]
    new = {key: "" if row.get(key) is None else str(row[key]) for key in header}
    previous = next((r for r in reversed(rows) if r.get("machine") == new["machine"]), rows[-1] if rows else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: r.get(key) or "" for key in header} for r in rows)
        writer.writerow(new)
    return previous


def changes(previous: dict[str, str], current: dict[str, object]) -> list[str]:
    """One line per figure present in both rows: old, new and the relative change, slowdowns flagged."""
    lines = []
    for key, value in current.items():
        if key in ABOUT or value in (None, "") or not previous.get(key):
            continue
        old, new = float(previous[key]), float(value)
        change = (new - old) / old if old else 0.0
        # Times (`_s`) and perplexities are better lower; throughputs (`_per_s`) higher.
        if key.endswith("_per_s"):
            worse = change < -SLOWDOWN
        else:
            worse = change > SLOWDOWN and (not key.endswith("_s") or new - old >= MIN_SECONDS)
        flag = "   <-- worse" if worse else ""
        lines.append(f"  {key:28s} {old:10.3f} -> {new:10.3f}  {change:+7.1%}{flag}")
    return lines


def record(path: Path, figures: dict[str, object]) -> None:
    """Append this run (``figures`` plus who and where) to ``path`` and print the change against the last run."""
    row = machine() | figures
    previous = append(path, row)
    print(f"\nAppended to {path} ({row['commit']}, {row['date']}).")
    if previous is None:
        print("The first row: nothing to compare with yet.")
        return
    print(f"Change against {previous.get('commit')} of {previous.get('date')} on {previous.get('machine')}:")
    print("\n".join(changes(previous, row)) or "  no figure in common")

"""Execute book notebooks in place, each top to bottom in a fresh kernel.

Usage: python scripts/run_notebooks.py [--json FILE] [NOTEBOOK ...]   (default: every book/*.ipynb)

Widget state is not stored: the book shows the static view of d2lmini widgets,
and stored widget state would make the HTML book load widget code from a CDN.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BOOK = Path(__file__).resolve().parent.parent / "book"


def run(path: Path, timeout: int = 900) -> float:
    """Execute ``path`` in place in a fresh kernel and return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("jupytext", None)  # pages may be drafted as text files; the notebook is the source
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--json", type=Path, help="also write {notebook: seconds} to this file")
    args = parser.parse_args()
    paths = args.notebooks or sorted(BOOK.glob("*.ipynb"))
    times = {}
    for path in paths:
        times[path.stem] = run(path)
        print(f"{path.name:28s} {times[path.stem]:7.1f} s", flush=True)
    print(f"{'total':28s} {sum(times.values()):7.1f} s")
    if args.json:
        args.json.write_text(json.dumps(times, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

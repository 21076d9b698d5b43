"""Results of the chapter's slow experiments, shipped inside the package.

``make studies`` (``python studies/run.py all``) writes one JSON file per study into
``d2lmini/study_results/``, with the command, seeds, package versions and machine that produced
it. They are package data: a wheel carries the results of its own version, so a page reads them
with no network, in a clone, from an installed wheel, or in Colab alike. Pages show those files
instead of retyping their numbers.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

STUDIES_DIR_ENV = "D2LMINI_STUDIES_DIR"
RESULTS = "study_results"


def studies_dir() -> Traversable:
    """Return the folder ``load_study`` reads: ``$D2LMINI_STUDIES_DIR`` if set, else the package's own results."""
    if os.environ.get(STUDIES_DIR_ENV):
        return Path(os.environ[STUDIES_DIR_ENV])
    return resources.files("d2lmini") / RESULTS


def load_study(name: str) -> dict:
    """Return the parsed ``<name>.json`` from the package's study results (or ``$D2LMINI_STUDIES_DIR``).

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not a plain file stem.
        FileNotFoundError: there is no such study (the message lists those there are).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a study's name as a str, such as 'seeds', got {type(name).__name__}")
    if not name or "/" in name or "\\" in name or name.startswith(".") or name.endswith(".json"):
        raise ValueError(f"give a study's name such as 'seeds' (the stem of study_results/<name>.json), got {name!r}")
    folder = studies_dir()
    path = folder / f"{name}.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")) \
            if folder.is_dir() else []
        raise FileNotFoundError(f"no study {name!r} in {folder} (found: {known}); run `make studies` to create it"
                                + (f", or unset {STUDIES_DIR_ENV}" if os.environ.get(STUDIES_DIR_ENV) else ""))
    return json.loads(path.read_text(encoding="utf-8"))

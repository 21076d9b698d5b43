"""Results of the chapter's slow experiments, read from the committed files in ``studies/``.

``make studies`` (``python studies/run.py all``) writes one JSON file per study, with the
command, seeds, package versions and machine that produced it. Pages show those files
instead of retyping their numbers. In a clone of the repository the files are read from
disk; elsewhere (Colab fetches only the notebook) they are downloaded from the repository.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

STUDIES_URL = "https://raw.githubusercontent.com/d2lmini/d2lmini/main/studies/"
STUDIES_DIR_ENV = "D2LMINI_STUDIES_DIR"


def studies_dir() -> Path | None:
    """Return the local ``studies/`` folder, or ``None``.

    ``$D2LMINI_STUDIES_DIR`` if set; else the repository around the working directory (a page run
    from ``book/``); else the repository this package was installed from in editable mode.
    """
    if os.environ.get(STUDIES_DIR_ENV):
        return Path(os.environ[STUDIES_DIR_ENV])
    package_repo = Path(__file__).resolve().parent.parent
    for parent in (Path.cwd(), *Path.cwd().parents, package_repo):
        if (parent / "studies").is_dir() and (parent / "d2lmini").is_dir():
            return parent / "studies"
    return None


def load_study(name: str) -> dict:
    """Return the parsed ``studies/<name>.json``.

    Read from the local repository when the page runs inside a clone (the book, CI),
    otherwise downloaded from the repository on GitHub (Colab).

    Raises:
        ValueError: ``name`` is not a plain file stem.
        FileNotFoundError: a local ``studies/`` folder exists but has no such study.
        RuntimeError: there is no local folder and the download failed.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"give a study's name such as 'seeds' (the stem of studies/<name>.json), got {name!r}")
    folder = studies_dir()
    if folder is not None:
        path = folder / f"{name}.json"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.json"))
            raise FileNotFoundError(f"no study {name!r} in {folder} (found: {known}); run `make studies` to create it")
        return json.loads(path.read_text(encoding="utf-8"))
    url = STUDIES_URL + f"{name}.json"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read().decode("utf-8"))
    except OSError as exc:
        raise RuntimeError(f"could not download the study {name!r} from {url}: {exc}. Run the page inside a clone "
                           f"of the repository, or set {STUDIES_DIR_ENV} to a folder holding {name}.json") from exc

"""Every page runs as Colab runs it: the notebook alone in an empty folder, d2lmini installed from the wheel
into a clean venv, and no network beyond the data download Colab would make (the data comes from a folder).

The kernel runs in the clean venv with every proxy pointing at a closed loopback port, so anything that
reaches for the network (such as the old ``load_study`` download from GitHub) fails. Slow (a new venv, then the
whole chapter: a few minutes on an idle machine, far more on a busy one, hence the generous cell timeout): marked
``package`` and run by ``make package``, whose two workers share the venv (conftest's ``clean_venv``) and split
the pages between them.
"""

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "book").glob("*.ipynb"))
NO_NETWORK = "http://127.0.0.1:9"  # the discard port: nothing listens, every connection is refused

pytestmark = pytest.mark.package

# Runs in the clean venv: the installed package reads its own study results, with no repository around.
STUDIES_CHECK = """
import d2lmini as d2l, d2lmini.studies as s
print("folder", s.studies_dir())
print("seeds", d2l.load_study("seeds")["study"])
"""

# Runs in this venv: executes one notebook with the clean venv's kernel, from the notebook's own folder.
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, kernel_name="colab", timeout=1800, resources={"metadata": {"path": sys.argv[2]}}).execute()
print("executed", len(nb.cells))
"""


def run(*cmd, cwd=ROOT, env=None, timeout=3600):
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    command = " ".join(map(str, cmd))
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "D2LMINI_STUDIES_DIR", "JUPYTER_PATH")
    return {k: v for k, v in os.environ.items() if k not in drop} | extra


@pytest.fixture(scope="module")
def colab(clean_venv, tmp_path_factory):
    """conftest's clean venv (the wheel, torch and ipykernel, all pinned, and its kernelspec ``colab``), a data
    folder, and an environment in which every proxy points at a closed port."""
    from d2lmini.data import TIME_MACHINE_SHA1, TIME_MACHINE_URL, download

    data = tmp_path_factory.mktemp("data")  # what Colab would download: the book itself, nothing else
    shutil.copy(download(TIME_MACHINE_URL, TIME_MACHINE_SHA1, "timemachine.txt"), data / "timemachine.txt")
    base = clean_venv["base"]
    env = clean_env(JUPYTER_PATH=str(base / "jupyter"), D2LMINI_DATA_DIR=str(data),
                    XDG_CACHE_HOME=str(tmp_path_factory.mktemp("cache")), MPLBACKEND="agg", PIP_NO_INDEX="1",
                    **{k: NO_NETWORK for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")},
                    no_proxy="", NO_PROXY="")
    return {"wheel": clean_venv["wheel"], "python": clean_venv["python"], "env": env, "base": base}


def test_the_wheel_ships_the_study_results_and_load_study_reads_them_offline(colab, tmp_path):
    with zipfile.ZipFile(colab["wheel"]) as zf:
        shipped = {Path(n).name for n in zf.namelist() if n.startswith("d2lmini/study_results/")}
    assert shipped == {p.name for p in (ROOT / "d2lmini" / "study_results").glob("*.json")} and shipped
    out = run(colab["python"], "-c", STUDIES_CHECK, cwd=tmp_path, env=colab["env"])
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines())
    assert Path(lines["folder"]).is_relative_to(colab["base"] / "venv") and lines["seeds"] == "seeds"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_page_runs_alone_from_the_installed_wheel_without_network(colab, page, tmp_path):
    folder = tmp_path / "content"  # Colab's working folder: the notebook and nothing else
    folder.mkdir()
    shutil.copy(page, folder / page.name)
    start = time.perf_counter()
    out = run(sys.executable, "-c", EXECUTE, folder / page.name, folder, cwd=folder, env=colab["env"])
    print(f"{page.name}: {time.perf_counter() - start:.0f} s")
    assert out.startswith("executed")

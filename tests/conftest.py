import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
# torch as requirements.txt pins it: the CPU build that lies on the project machines; an unpinned torch would
# be a multi-GB CUDA build. CI sets TORCH_INDEX_URL to PyTorch's CPU index, where that build comes from there.
TORCH = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
TORCH_INDEX = ["--no-deps", "--index-url", os.environ["TORCH_INDEX_URL"]] if os.environ.get("TORCH_INDEX_URL") else []


def build_dist(out: Path) -> tuple[Path, Path]:
    """Build the sdist and, from it, the wheel into ``out``, with the pinned setuptools; return ``(wheel, sdist)``.

    setuptools writes its egg-info into the checkout while it builds, so two builds at once (two xdist workers)
    would corrupt each other's file lists: a lock in the temporary folder lets one build at a time.
    """
    with open(Path(tempfile.gettempdir()) / "d2lmini-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                              capture_output=True, text=True)
    assert done.returncode == 0, f"building the package failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist


def pinned_versions() -> list[str]:
    """The exact pins of requirements-book.txt and requirements.txt (torch's CPU build among them)."""
    lines = []
    for name in ("requirements-book.txt", "requirements.txt"):
        lines += [line for line in (ROOT / name).read_text().splitlines() if re.match(r"^[\w.\-\[\]]+==", line)]
    return lines


def _run(*cmd: object) -> None:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"


@pytest.fixture(scope="session")
def clean_venv(tmp_path_factory, request) -> dict[str, Path]:
    """The wheel and sdist, and a clean venv with the wheel installed as a user would, built once per test run.

    The venv gets torch first, then the wheel and ipykernel, every version held to the pins (the wheel's loose
    bounds must accept them; nothing newer comes from the network), and a kernelspec ``colab`` for its Python.
    Under pytest-xdist the workers share one copy: the first to arrive builds it under a file lock in the run's
    common temporary folder, the others wait and reuse it. Returns ``{"wheel", "sdist", "python", "base"}``.
    """
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker
        shared = shared.parent  # the run's folder, above each worker's own
    base = shared / "clean-venv"
    with FileLock(str(shared / "clean-venv.lock")):
        if not (base / "ready").exists():
            shutil.rmtree(base, ignore_errors=True)  # a build that failed half-way is not reused
            base.mkdir()
            wheel, sdist = build_dist(base / "dist")
            venv = base / "venv"
            _run(sys.executable, "-m", "venv", venv)
            (base / "constraints.txt").write_text("\n".join(pinned_versions()) + "\n")
            pip = [venv / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q",
                   "-c", base / "constraints.txt"]
            _run(*pip, *TORCH_INDEX, TORCH)  # first, so the wheel's loose torch>=2.1 is met by the pinned CPU build
            _run(*pip, wheel, "ipykernel")
            spec = base / "jupyter" / "kernels" / "colab"
            spec.mkdir(parents=True)
            (spec / "kernel.json").write_text(json.dumps({
                "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "clean venv", "language": "python"}))
            (base / "ready").write_text(json.dumps({"wheel": str(wheel), "sdist": str(sdist)}))
    built = json.loads((base / "ready").read_text())
    return {"wheel": Path(built["wheel"]), "sdist": Path(built["sdist"]), "python": base / "venv" / "bin" / "python",
            "base": base}


@pytest.fixture(scope="session")
def time_machine_available() -> None:
    """Tests that read the real book find it as the pages do: D2LMINI_DATA_DIR, the cache, or a download.

    Fails (never skips) with the package's own error when none of the three works.
    """
    from d2lmini.data import DownloadError, read_time_machine

    try:
        read_time_machine()
    except DownloadError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the whole session (per xdist worker); each browser test opens its own pages."""
    from test_browser import chromium

    with chromium() as browser:
        yield browser

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

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

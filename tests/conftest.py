import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# torch as requirements.txt pins it: the CPU build that lies on the project machines; an unpinned torch would
# be a multi-GB CUDA build. CI sets TORCH_INDEX_URL to PyTorch's CPU index, where that build comes from there.
TORCH = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch=="))
TORCH_INDEX = ["--no-deps", "--index-url", os.environ["TORCH_INDEX_URL"]] if os.environ.get("TORCH_INDEX_URL") else []


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

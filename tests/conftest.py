from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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

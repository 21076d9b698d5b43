import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def time_machine_available() -> None:
    """Tests that read the real book need it in D2LMINI_DATA_DIR (set by the Makefile and .ci/run)."""
    data_dir = os.environ.get("D2LMINI_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "timemachine.txt").is_file():
        pytest.fail("set D2LMINI_DATA_DIR to a folder holding timemachine.txt (make test does this "
                    "when ../shared/data exists)")

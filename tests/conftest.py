import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(autouse=True)
def _seeded():
    import gvcourse

    gvcourse.seed_all(0)
    yield


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")

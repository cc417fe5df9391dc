import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # for this process only: the notebooks' kernels keep their inline backend

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(autouse=True)
def _seeded():
    import gvcourse

    gvcourse.seed_all(0)
    yield


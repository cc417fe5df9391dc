import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # for this process only: the notebooks' kernels keep their inline backend

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def pytest_collection_modifyitems(config, items):
    """nbval's items (one per notebook cell) execute notebooks: mark them slow, so `-m "not slow"` skips them."""
    slow = pytest.mark.slow
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(slow)


@pytest.fixture(autouse=True)
def _seeded():
    import gvcourse

    gvcourse.seed_all(0)
    yield


import os
import sys
from pathlib import Path

import matplotlib
import pytest

# At the repository's root so that it applies to every run — `pytest`, `pytest tests/test_x.py` and
# `pytest book/chapter.ipynb` alike: the emulated CPU, one thread, each notebook on one worker.
ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "scripts")]  # the tests' helper modules; the repository's scripts

from emulated_cpu import AVX2_CPU  # noqa: E402  (needs the path above)

matplotlib.use("Agg")  # for this process only: the notebooks' kernels keep their inline backend

# Every process the suite starts — above all nbval's notebook kernels — chooses kernels as an AVX2-only CPU would
# and starts on one thread (two workers on two cores never oversubscribe), while scripts/execute_notebook.py
# stored the outputs with this machine's own choices and PyTorch's default thread count. Strict nbval therefore
# fails wherever a stored number depends on the CPU or the threads; the notebooks pass because
# gvcourse.setup_notebook() applies the numerics policy (gvcourse.reproducibility).
# Tests that need the machine's native choices (test_reproducibility's control) strip these variables.
os.environ.update(AVX2_CPU)
os.environ.setdefault("OMP_NUM_THREADS", "1")


pytest_plugins = ["sitebuild"]  # the site, its server and the browser: one of each per worker, for the whole session


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config, items):
    """nbval's items (one per notebook cell) execute notebooks: mark them slow, so `-m "not slow"` skips them, and
    keep each notebook's cells together on one xdist worker (`--dist loadgroup`: they share one kernel). Every other
    test without an `xdist_group` goes to whichever worker is free, so no module's tests queue behind one worker."""
    slow = pytest.mark.slow
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(slow)
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(ROOT).as_posix()))


@pytest.fixture(autouse=True)
def _seeded():
    import gvcourse

    gvcourse.seed_all(0)
    yield


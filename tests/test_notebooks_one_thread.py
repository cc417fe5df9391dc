"""Strict nbval again with one thread: stored outputs must not depend on the thread count (DESIGN §5).

The main run checks the notebooks with PyTorch's default threads (2 on the course machines);
this runs the same check in a subprocess whose kernels see OMP_NUM_THREADS=1.
"""

import os
import subprocess
import sys

from notebooks import ROOT, toc_notebooks


def test_nbval_with_one_thread():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    paths = [str(p.relative_to(ROOT)) for p in toc_notebooks()]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                           "--nbval", "--nbval-current-env", *paths], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]

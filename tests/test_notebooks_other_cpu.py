"""Strict nbval again, as if on another CPU: the stored outputs must not depend on the machine.

The main run checks the notebooks with this machine's native choices (its widest vector instructions, the
environment's thread count). This runs the same check in a subprocess whose kernels see what an AVX2-only CPU
with one thread would choose — PyTorch's AVX2 kernels, MKL restricted to AVX2, oneDNN capped at AVX2 — so a
notebook whose numbers depend on the CPU fails here even on a machine like the one that executed it.
gvcourse.setup_notebook() applies the course's numerics policy (gvcourse.reproducibility) that makes them agree.
"""

import os
import subprocess
import sys

from notebooks import ROOT, toc_notebooks
from test_reproducibility import AVX2_CPU


def test_nbval_as_on_an_avx2_cpu_with_one_thread():
    env = dict(os.environ, **AVX2_CPU, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    paths = [str(p.relative_to(ROOT)) for p in toc_notebooks()]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                           "--nbval", "--nbval-current-env", *paths], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:]

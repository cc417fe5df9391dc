"""ruff runs in the test suite, so CI enforces it: `ruff check gvcourse tests scripts benchmarks conftest.py` must
be clean.

The rules are in pyproject.toml ([tool.ruff]); book/ is excluded (notebooks are checked by nbval and the guards).
"""

from __future__ import annotations

import subprocess
import sys

from notebooks import ROOT

PATHS = ["gvcourse", "tests", "scripts", "benchmarks", "conftest.py"]


def test_ruff_check_is_clean():
    # ruff is pinned in requirements.txt; `python -m ruff` finds the one installed for this interpreter
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *PATHS], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"ruff check {' '.join(PATHS)} found problems:\n{proc.stdout}{proc.stderr}"

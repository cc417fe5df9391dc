#!/usr/bin/env python3
"""Wall time and peak memory of every notebook, executed fresh in a new kernel (kernel start included).

    python benchmarks/notebooks.py            # every notebook in _toc.yml, in toc order
    python benchmarks/notebooks.py book/rnn.ipynb book/gan.ipynb

Each notebook is run top to bottom with nbclient in its own kernel, exactly as scripts/execute_notebook.py
runs it, but nothing is written back. Wall time counts from before the kernel starts to after the last cell;
peak memory is the kernel process's high-water mark of resident memory (VmHWM in /proc/PID/status), read just
before the kernel shuts down. The slowest cell is listed too (budgets in ARCHITECTURE.md: notebook ≤ 90 s,
cell ≤ 30 s, all notebooks ≤ 600 s serial).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from execute_notebook import toc_notebooks  # noqa: E402

NOTEBOOK_BUDGET, CELL_BUDGET, TOTAL_BUDGET = 90.0, 30.0, 600.0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(path: Path, timeout: int = 600) -> tuple[float, float, float, int]:
    """(wall seconds incl. kernel start, peak kernel RSS in MB, slowest cell seconds, its index)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    slowest, slowest_index = 0.0, -1
    with client.setup_kernel(stderr=subprocess.DEVNULL):  # the kernel's start-up notices would break up the table
        for index, cell in enumerate(nb.cells):
            t0 = time.perf_counter()
            client.execute_cell(cell, index)
            seconds = time.perf_counter() - t0
            if cell.cell_type == "code" and seconds > slowest:
                slowest, slowest_index = seconds, index
        peak = _peak_rss_mb(client.km.provisioner.process.pid)
    return time.perf_counter() - start, peak, slowest, slowest_index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    print(f"{'notebook':34s} {'wall (s)':>9s} {'peak RSS (MB)':>14s} {'slowest cell (s)':>17s}  budget")
    total, over = 0.0, []
    for path in paths:
        wall, peak, slowest, index = run(path)
        total += wall
        ok = wall <= NOTEBOOK_BUDGET and slowest <= CELL_BUDGET
        if not ok:
            over.append(path.name)
        name = str(path.relative_to(ROOT))
        print(f"{name:34s} {wall:9.1f} {peak:14.0f} {slowest:11.1f} (#{index:<3d}) {'ok' if ok else 'OVER'}",
              flush=True)
    verdict = "ok" if total <= TOTAL_BUDGET else "OVER"
    print(f"{'total':34s} {total:9.1f}   (budget {TOTAL_BUDGET:.0f} s serial)  {verdict}")
    if over:
        print("over budget:", ", ".join(over))
    return 0


if __name__ == "__main__":
    sys.exit(main())

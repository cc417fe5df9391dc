#!/usr/bin/env python3
"""Execute course notebooks top to bottom in a fresh kernel and store their outputs.

This is the only way committed notebooks are produced: it runs every cell with nbclient
(``store_widget_state=True`` so explorers work on the static site), records cell timings in
the cell metadata, and writes the notebook back. It prints each notebook's wall time.

    python scripts/execute_notebook.py book/backprop.ipynb [more.ipynb ...]
    python scripts/execute_notebook.py --all        # every notebook named in _toc.yml
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def toc_notebooks() -> list[Path]:
    entries = re.findall(r"^\s*-?\s*(?:root|file):\s*([^\s#]+)", (ROOT / "_toc.yml").read_text(), flags=re.M)
    paths = [ROOT / f"{e}.ipynb" for e in entries]
    return [p for p in paths if p.is_file()]


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True, record_timing=True)
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    if not _has_widgets(nb):
        nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return elapsed


def _has_widgets(nb) -> bool:
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return bool(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook in _toc.yml")
    parser.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    paths = toc_notebooks() if args.all else [p.resolve() for p in args.notebooks]
    if not paths:
        parser.error("name notebooks or pass --all")
    total = 0.0
    for path in paths:
        seconds = execute(path, args.timeout)
        total += seconds
        print(f"{path.relative_to(ROOT)}: {seconds:.1f} s", flush=True)
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

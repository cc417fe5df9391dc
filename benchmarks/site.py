#!/usr/bin/env python3
"""Build time of the website from the stored notebook outputs, and the heaviest pages.

    python benchmarks/site.py

Runs the README's build (scripts/build_site.sh: npm ci, vendored assets, jupyter-book build -W -n --keep-going)
into a fresh temporary directory and times it, then lists the ten heaviest HTML pages. A page's weight is its
HTML file, which holds its figures and explorer frames inline (budgets in ARCHITECTURE.md: build ≤ 60 s, no page
over 5 MB).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_BUDGET, PAGE_BUDGET_MB = 60.0, 5.0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="gv-site-") as out:
        start = time.perf_counter()
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "build_site.sh"), out], cwd=ROOT,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            print("site build FAILED")
            return 1
        html = Path(out) / "_build" / "html"
        pages = sorted(html.rglob("*.html"), key=lambda p: p.stat().st_size, reverse=True)
        total = sum(p.stat().st_size for p in html.rglob("*") if p.is_file())
        print(f"site build from stored outputs: {seconds:.1f} s (budget {BUILD_BUDGET:.0f} s) "
              f"{'ok' if seconds <= BUILD_BUDGET else 'OVER'}")
        print(f"whole site: {total / 1e6:.1f} MB in {sum(1 for p in html.rglob('*') if p.is_file())} files")
        print(f"{'heaviest pages':40s} {'MB':>6s}")
        for page in pages[:10]:
            size = page.stat().st_size / 1e6
            print(f"{str(page.relative_to(html)):40s} {size:6.2f} {'ok' if size <= PAGE_BUDGET_MB else 'OVER'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

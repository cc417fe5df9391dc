#!/usr/bin/env python3
"""Copy the front-end files the website serves itself from node_modules/ into book/_static/vendor/.

Run after `npm ci` (scripts/build_site.sh does both). The files are never committed; package.json and
package-lock.json pin their versions. Served from the site itself, they make every page work offline:

- MathJax 3 (tex-chtml and its fonts)       → vendor/mathjax/
- require.js                                 → vendor/require.js
- @jupyter-widgets/html-manager (embed-amd)  → vendor/html-manager/
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_static" / "vendor"

COPIES = [
    ("mathjax/es5/tex-chtml.js", "mathjax/tex-chtml.js"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist", "html-manager"),
]


def main() -> int:
    if not NODE.is_dir():
        print("node_modules/ is missing: run `npm ci` first (scripts/build_site.sh does)", file=sys.stderr)
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for src, dst in COPIES:
        s, d = NODE / src, VENDOR / dst
        if not s.exists():
            print(f"missing {s}: is package-lock.json installed?", file=sys.stderr)
            return 1
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, ignore=shutil.ignore_patterns("*.map", "*.LICENSE.txt", "libembed*", "embed.js"))
        else:
            shutil.copy2(s, d)
    size = sum(p.stat().st_size for p in VENDOR.rglob("*") if p.is_file())
    print(f"vendored {len(COPIES)} files and folders into {VENDOR.relative_to(ROOT)} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

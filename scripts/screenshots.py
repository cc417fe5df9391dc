#!/usr/bin/env python3
"""Screenshots of the built website at phone, tablet and laptop widths, for people to look at.

    python scripts/screenshots.py [--site _build/html] [--out screenshots] [--widths 390 800 1280] [PAGE ...]

PAGE is a page path without .html (e.g. book/residual); default: every page in _toc.yml. Serves the site on
127.0.0.1 and drives Debian's Chromium (/usr/bin/chromium) with Playwright, as tests/test_site.py does. Not a test:
what a page should look like is for a reader to judge; the tests check what can be measured (layout, toggles,
weight, accessibility).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="*")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots")
    parser.add_argument("--widths", type=int, nargs="+", default=[390, 800, 1280])
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        parser.error(f"no built site in {args.site}: run bash scripts/build_site.sh first")
    args.out.mkdir(parents=True, exist_ok=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(args.site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True)
        for page_path in args.pages or toc_pages():
            for width in args.widths:
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/{page_path}.html", wait_until="networkidle")
                target = args.out / f"{page_path.replace('/', '_')}-{width}.png"
                page.screenshot(path=str(target))
                print(target)
                context.close()
        browser.close()
    server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The website for the tests: built once per test session as the README does (or the build CI made first), served
on 127.0.0.1, and opened in Debian's Chromium with every request that leaves the site blocked.

A pytest plugin (the root conftest.py loads it): the fixtures `site`, `server` and `browser` are session-scoped, so each
xdist worker starts one server and one browser however its tests are interleaved with other modules'."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
BUILT_SITE = "GVCOURSE_SITE"  # a site the caller built from this checkout with scripts/build_site.sh (.ci/run does)
SOURCES = ["_config.yml", "_toc.yml", "book"]  # what the build reads ...
SOURCE_SUFFIXES = {".ipynb", ".md", ".bib", ".yml", ".py", ".css", ".js", ".html", ".png", ".svg"}  # ... in book/


def build_site(out: Path) -> Path:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "build_site.sh"), str(out)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, f"site build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out / "_build" / "html"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path):
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def chromium_or_skip():
    """Path to Debian's Chromium; skip without it on a laptop, but never under CI."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("CI is set but /usr/bin/chromium is missing: .ci/run must install Debian's chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def npm_or_skip():
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but npm is missing")
        pytest.skip("npm is not installed")


def _newest_source() -> tuple[float, Path]:
    skip = {".ipynb_checkpoints", "__pycache__"}
    files = [p for name in SOURCES for p in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))
             if p.is_file() and p.suffix in SOURCE_SUFFIXES and not skip & set(p.parts)]
    return max((p.stat().st_mtime, p) for p in files)


def prebuilt_site(html: Path) -> Path:
    """The site in `html` (from $GVCOURSE_SITE), checked to be built after every source of the book was last changed
    (Sphinx writes searchindex.js last; index.html, a redirect, is not rewritten by every build)."""
    stamp = html / "searchindex.js"
    if not stamp.is_file():
        pytest.fail(f"${BUILT_SITE}={html} holds no built site: build it with bash scripts/build_site.sh, or unset it")
    newest, path = _newest_source()
    if newest > stamp.stat().st_mtime:
        pytest.fail(f"${BUILT_SITE}={html} is older than {path.relative_to(ROOT)}: rebuild it, or unset {BUILT_SITE}")
    return html


@pytest.fixture(scope="session")
def site(tmp_path_factory, worker_id):
    """The built site's html directory. CI builds the site first (the README's command) and names it in
    $GVCOURSE_SITE, so a CI run builds it once; otherwise the first xdist worker that needs it builds it under a
    file lock while the other waits."""
    if os.environ.get(BUILT_SITE):
        return prebuilt_site(Path(os.environ[BUILT_SITE]).resolve())
    npm_or_skip()
    if worker_id == "master":  # not under xdist
        return build_site(tmp_path_factory.mktemp("site"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # this session's directory, common to its workers
    with FileLock(str(shared / "site.lock")):
        html = shared / "site" / "_build" / "html"
        if not (shared / "site.built").exists():
            build_site(shared / "site")
            (shared / "site.built").touch()
    return html


@pytest.fixture(scope="session")
def server(site):
    srv, url = serve(site)
    yield url
    srv.shutdown()


ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield b
        b.close()


def open_offline(browser, url, width=1280, on_request_finished=None):
    """A page whose every request leaving 127.0.0.1 is blocked and recorded, with page errors recorded; the reader
    has scrolled to the first widget, if any (see show_widgets). `on_request_finished(request)` sees every request
    the page completes, from the first."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    outside, errors = [], []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}") if r.status >= 400 else None)
    if on_request_finished:
        page.on("requestfinished", on_request_finished)
    page.goto(url, wait_until="networkidle")
    return context, page, outside, errors


WIDTHS = [390, 800, 1280]  # a phone, a tablet, a laptop
WIDGET_VIEWS = 'script[type="application/vnd.jupyter.widget-view+json"]'


def show_widgets(page):
    """Scroll to the page's first widget, as a reader would: the widget manager loads only when one is near
    (book/_static/widgets-lazy.js). Waits until every widget is drawn, then scrolls back to the top."""
    views = page.locator(WIDGET_VIEWS).count()
    if not views:
        return
    page.evaluate("""sel => [...document.querySelectorAll(sel)].map(s => s.parentElement)
                             .find(p => p && p.getClientRects().length).scrollIntoView()""", WIDGET_VIEWS)
    page.wait_for_function("n => document.querySelectorAll('.widget-subarea').length >= n", arg=views, timeout=30000)
    page.wait_for_load_state("networkidle")
    page.evaluate("() => window.scrollTo(0, 0)")

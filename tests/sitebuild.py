"""Build the website once per test session (as the README does) and serve it on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


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

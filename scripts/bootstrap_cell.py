"""The hidden first cell of every notebook: install gvcourse when it is missing (Colab).

``python scripts/bootstrap_cell.py`` prints the cell's source; tests check that every notebook's
first cell equals it, with the repository URL taken from ``_config.yml``.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def repository_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", text, flags=re.M)
    if not match:
        raise RuntimeError("_config.yml has no repository.url")
    return match.group(1)


def bootstrap_source(url: str | None = None) -> str:
    url = url or repository_url()
    return (
        "# Runs on Colab or anywhere gvcourse is missing: install the course package, then carry on.\n"
        "try:\n"
        "    import gvcourse  # noqa: F401\n"
        "except ImportError:\n"
        "    import subprocess, sys\n"
        f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "gvcourse @ git+{url}"])'
    )


if __name__ == "__main__":
    print(bootstrap_source())

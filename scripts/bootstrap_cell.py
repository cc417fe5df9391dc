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


def release_tag() -> str:
    """The git tag of this version of gvcourse (``v`` + pyproject's version): what the install cell installs."""
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M)
    if not match:
        raise RuntimeError("pyproject.toml has no version")
    return f"v{match.group(1)}"


def bootstrap_source(url: str | None = None, tag: str | None = None) -> str:
    """The install cell: the release of gvcourse the notebook was written for, and one clear sentence if it fails.

    ``SystemExit`` stops "Run all" at this cell with the message alone (no traceback), instead of a
    CalledProcessError here and "No module named 'gvcourse'" in the next cell.
    """
    url, tag = url or repository_url(), tag or release_tag()
    return (
        "# Runs on Colab or anywhere gvcourse is missing: install the course package, then carry on.\n"
        "try:\n"
        "    import gvcourse  # noqa: F401\n"
        "except ImportError:\n"
        "    import subprocess, sys\n"
        f'    source = "gvcourse @ git+{url}@{tag}"\n'
        '    if subprocess.call([sys.executable, "-m", "pip", "install", "-q", source]) != 0:\n'
        '        raise SystemExit(f"Could not install the course package ({source}). Check that this machine is "\n'
        '                         "online, or install it with pip yourself; then restart the kernel and run again.")'
    )


if __name__ == "__main__":
    print(bootstrap_source())

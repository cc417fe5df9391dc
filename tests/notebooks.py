"""Shared helpers for the notebook tests: which notebooks the book has."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def toc_entries() -> list[str]:
    return re.findall(r"^\s*-?\s*(?:root|file):\s*([^\s#]+)", (ROOT / "_toc.yml").read_text(), flags=re.M)


def resolve(entry: str) -> Path | None:
    for ext in (".ipynb", ".md"):
        p = ROOT / f"{entry}{ext}"
        if p.is_file():
            return p
    return None


def toc_notebooks() -> list[Path]:
    return [p for e in toc_entries() if (p := resolve(e)) is not None and p.suffix == ".ipynb"]


def book_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts)


def read(path: Path):
    return nbformat.read(path, as_version=4)

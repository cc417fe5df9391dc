"""The prose writes the loss as ℒ and keeps L for depth (book/notation.md).

A markdown cell or page that writes a derivative of the loss as ∂L, dL/ or ∇L, or the loss itself as L(θ), brings
back the clash issue 17 removed. Code spans and fenced code are exempt: code and what it prints may call the loss
`L` (notation.md, "The loss in code and printed labels").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
PAGES = sorted([*BOOK.glob("*.ipynb"), *BOOK.glob("labs/*.ipynb"), *BOOK.glob("*.md"), *BOOK.glob("labs/*.md")])

CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
LOSS_AS_L = re.compile(
    r"\\partial\s*L(?![A-Za-z])"  # \partial L, \partial L_G
    r"|\\nabla_\\theta\s*L(?![A-Za-z])"  # \nabla_\theta L
    r"|(?<![A-Za-z\\])dL/d"  # dL/dx in prose
    r"|∂L(?![A-Za-z])"  # ‖∂L/∂W‖ in prose
    r"|(?<![A-Za-z\\])L\(\\theta\)"  # L(\theta)
)


def prose(path: Path) -> list[tuple[str, str]]:
    """(where, text) of every markdown cell of a notebook, or of the whole page, with code removed."""
    if path.suffix == ".md":
        return [(path.name, CODE.sub("", path.read_text(encoding="utf-8")))]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(f"{path.name} cell {i}", CODE.sub("", "".join(c["source"])))
            for i, c in enumerate(cells) if c["cell_type"] == "markdown"]


def test_the_pattern_catches_the_old_notation_and_spares_the_new():
    for old in (r"$\partial L/\partial s$", r"$\frac{\partial L}{\partial W}$", r"$\partial L_G/\partial a$",
                r"$\nabla_\theta L$", "‖∂L/∂W‖", "a loss $L(\\theta)$", "dL/dx in prose"):
        assert LOSS_AS_L.search(old), old
    for new in (r"$\partial \mathcal{L}/\partial s$", r"$\partial h_L/\partial h_0$", r"$\partial\mathcal L_G$",
                "‖∂ℒ/∂W‖", r"$(\gamma\,\|W\|)^L$", r"$\chi_1^L$", "$L = 3$", "the report's `‖∂L/∂W‖`",
                "`dL/dx`", r"$\|\partial \mathcal{L}/\partial x_L\|$"):
        assert not LOSS_AS_L.search(CODE.sub("", new)), new


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(BOOK)))
def test_prose_writes_the_loss_as_script_L(path):
    found = [f"{where}: {m.group(0)!r} in …{text[max(m.start() - 40, 0):m.end() + 40]!r}…"
             for where, text in prose(path) for m in LOSS_AS_L.finditer(text)]
    assert not found, "the loss is ℒ in prose (book/notation.md); L is depth:\n" + "\n".join(found)

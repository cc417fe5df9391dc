#!/usr/bin/env python3
"""Write the student versions of the course's labs, or list the checked exercises.

    python scripts/student_labs.py --student DIR [--source book/labs]
    python scripts/student_labs.py --list

Repository tooling, not part of gvcourse: it reads the instructor notebooks of this checkout (``book/labs``)
and needs nbformat. Every lab is written with its solutions removed (cells tagged ``solution`` or
``instructor``, markdown ``{solution}`` blocks), its scaffolds shown (cells tagged ``scaffold`` lose
``remove-cell``) and its outputs cleared (:func:`student_notebook`). The student notebooks keep their first
cell, which installs gvcourse when it is missing, so they run on Colab or any Jupyter server with PyTorch.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's gvcourse, not whichever copy is installed

from gvcourse.labs import LABS, describe, exercise_ids  # noqa: E402

LAB_FOLDER = ROOT / "book" / "labs"

SOLUTION_TAGS = ("solution", "instructor")
SCAFFOLD_TAG = "scaffold"
_HIDDEN_IN_BOOK = ("remove-cell", "remove-input", "hide-cell", "hide-input")
_FENCE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution(?:-start)?\}")


def _strip_solution_blocks(text: str) -> str:
    """Remove every ``{solution}`` directive (colon or backtick fence, nested fences respected) from markdown."""
    out: list[str] = []
    closing: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if closing is None:
            m = _FENCE.match(stripped)
            if m:
                closing = m.group("fence")
                continue
            out.append(line)
        elif stripped == closing:
            closing = None
    if closing is not None:
        raise ValueError(f"a {{solution}} block opened with {closing} is never closed")
    result = "\n".join(out)
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result.strip("\n")


def student_notebook(nb):
    """The student version of an instructor notebook (an ``nbformat`` node; the input is not modified).

    - cells tagged ``solution`` or ``instructor`` are removed;
    - ``{solution}`` blocks are removed from markdown cells (a cell left empty is dropped);
    - cells tagged ``scaffold`` (hidden in the book with ``remove-cell``) are shown: the hiding tags go;
    - every output, execution count, timing and the saved widget state are cleared.
    """
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in SOLUTION_TAGS for t in tags):
            continue
        if SCAFFOLD_TAG in tags:
            cell.metadata["tags"] = [t for t in tags if t not in _HIDDEN_IN_BOOK]
        if cell.cell_type == "markdown":
            cell.source = _strip_solution_blocks(cell.source)
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata["gvcourse"] = {"student_version": True}
    nbformat.validate(nb)
    return nb


def lab_sources(source: str | Path | None = None) -> list[Path]:
    """The instructor lab notebooks, in teaching order, from ``source`` (by default this checkout's ``book/labs``)."""
    folder = LAB_FOLDER if source is None else Path(source)
    missing = [f"{stem}.ipynb" for stem in LABS if not (folder / f"{stem}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} does not hold the lab notebooks (missing {', '.join(missing)})")
    return [folder / f"{stem}.ipynb" for stem in LABS]


def write_student_versions(dest: str | Path, source: str | Path | None = None) -> list[Path]:
    """Write the student version of every lab into ``dest`` (created if needed); return the paths written."""
    paths = lab_sources(source)
    dest = Path(dest)
    if dest.resolve() == paths[0].parent.resolve():
        raise ValueError(f"the destination {dest} is the labs' source folder; writing there would overwrite the "
                         "instructor versions")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = student_notebook(nbformat.read(path, as_version=4))
        target = dest / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/student_labs.py",
                                     description="Write the student versions of the course's labs, or list the "
                                                 "checked exercises.")
    parser.add_argument("--student", metavar="DIR", help="write the student notebooks into DIR")
    parser.add_argument("--source", metavar="DIR", help="folder with the instructor labs (default: book/labs)")
    parser.add_argument("--list", action="store_true", help="list the checked exercises")
    args = parser.parse_args(argv)
    if not args.student and not args.list:
        parser.error("give --student DIR (or --list)")
    if args.list:
        for ex in exercise_ids():
            print(describe(ex))
    if args.student:
        try:
            written = write_student_versions(args.student, args.source)
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

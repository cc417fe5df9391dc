#!/usr/bin/env python3
"""Write the student versions of the course's labs, or list the checked exercises.

    python scripts/student_labs.py --student DIR [--source book/labs] [--variant NAME]
    python scripts/student_labs.py --list

Repository tooling, not part of gvcourse: it reads the instructor notebooks of this checkout (``book/labs``)
and needs nbformat. Every lab is written with its solutions removed (cells tagged ``solution`` or
``instructor``, markdown ``{solution}`` blocks), its scaffolds shown (cells tagged ``scaffold`` lose
``remove-cell``) and its outputs cleared (:func:`student_notebook`). The student notebooks keep their first
cell, which installs gvcourse when it is missing, so they run on Colab or any Jupyter server with PyTorch.
Relative links (``../backprop.ipynb``) would break once the notebooks are copied out of the repository, so
they are rewritten to absolute links into the course's repository (``repository.url`` and ``branch`` of
``_config.yml``; the course has no separate website address). ``--variant NAME`` writes a student's own variant:
a ``labs.use_variant(NAME)`` cell after the setup cell of the labs whose networks depend on it
(``labs.VARIANT_LABS``), so that numbers copied from the website or a neighbour are refused by the checkers.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's gvcourse, not whichever copy is installed

from gvcourse.labs import LABS, VARIANT_LABS, describe, exercise_ids, use_variant  # noqa: E402

LAB_FOLDER = ROOT / "book" / "labs"

SOLUTION_TAGS = ("solution", "instructor")
SCAFFOLD_TAG = "scaffold"
CHECK_TAG = "check"  # folded in the book (hide-output: the verdict on the solution); shown to students
_HIDDEN_IN_BOOK = ("remove-cell", "remove-input", "hide-cell", "hide-input", "hide-output")
# a markdown link or image target: ](target) or ](target "title")
_LINK = re.compile(r"(\]\()(?P<target>[^)\s]+)(?P<rest>(?:\s+\"[^\"]*\")?\))")
_ABSOLUTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|/)", re.IGNORECASE)


def course_url(config: str | Path | None = None) -> str:
    """The web address of the book's folder in the course repository, from ``_config.yml``'s ``repository``."""
    with open(ROOT / "_config.yml" if config is None else config, encoding="utf-8") as fh:
        repo = yaml.safe_load(fh)["repository"]
    url, branch = str(repo["url"]).rstrip("/"), str(repo.get("branch", "main"))
    book = str(repo.get("path_to_book", "") or "").strip("/")
    return "/".join(part for part in (f"{url}/blob/{branch}", book, "book") if part)


def absolute_links(text: str, base: str, folder: str = "labs") -> str:
    """Rewrite the relative link targets of markdown ``text`` (relative to ``book/<folder>``) to ``base``/..."""
    def rewrite(m: re.Match) -> str:
        target = m.group("target")
        if _ABSOLUTE.match(target):
            return m.group(0)
        parts = [p for p in f"{folder}/{target}".split("/") if p not in ("", ".")]
        resolved: list[str] = []
        for part in parts:
            if part == "..":
                if not resolved:
                    raise ValueError(f"the link {target!r} leaves the book's folder")
                resolved.pop()
            else:
                resolved.append(part)
        return f"{m.group(1)}{base}/{'/'.join(resolved)}{m.group('rest')}"
    return _LINK.sub(rewrite, text)


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


def variant_cell(name: str):
    """The code cell that puts a student's kernel on their own variant of the lab (see ``labs.use_variant``)."""
    use_variant(name)  # refuses a bad name now, not in the student's kernel
    use_variant(None)
    cell = nbformat.v4.new_code_cell(f"labs.use_variant({name!r})  # your own variant of the lab's networks: your "
                                     "numbers differ from the website's and your neighbours'")
    cell.metadata["tags"] = ["variant"]
    return cell


def student_notebook(nb, base_url: str | None = None, variant: str | None = None):
    """The student version of an instructor notebook (an ``nbformat`` node; the input is not modified).

    - cells tagged ``solution`` or ``instructor`` are removed;
    - ``{solution}`` blocks are removed from markdown cells (a cell left empty is dropped);
    - cells tagged ``scaffold`` (hidden in the book with ``remove-cell``) and ``check`` (output folded in the
      book) are shown: the hiding tags go;
    - every output, execution count, timing and the saved widget state are cleared;
    - relative links become absolute links to the course (``base_url``, by default :func:`course_url`);
    - with ``variant``, a :func:`variant_cell` follows the cell that calls ``setup_notebook()``.
    """
    base = course_url() if base_url is None else base_url.rstrip("/")
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if any(t in SOLUTION_TAGS for t in tags):
            continue
        if SCAFFOLD_TAG in tags or CHECK_TAG in tags:
            cell.metadata["tags"] = [t for t in tags if t not in _HIDDEN_IN_BOOK]
        if cell.cell_type == "markdown":
            cell.source = absolute_links(_strip_solution_blocks(cell.source), base)
            if not cell.source.strip():
                continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        cells.append(cell)
        if variant is not None and cell.cell_type == "code" and "setup_notebook(" in cell.source:
            cells.append(variant_cell(variant))
    if variant is not None and not any("variant" in c.metadata.get("tags", []) for c in cells):
        raise ValueError("the notebook has no cell calling setup_notebook() to put the variant cell after")
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


def write_student_versions(dest: str | Path, source: str | Path | None = None,
                           variant: str | None = None) -> list[Path]:
    """Write the student version of every lab into ``dest`` (created if needed); return the paths written.

    With ``variant`` (a student's name or id), the labs in ``VARIANT_LABS`` are that student's variant."""
    paths = lab_sources(source)
    dest = Path(dest)
    if dest.resolve() == paths[0].parent.resolve():
        raise ValueError(f"the destination {dest} is the labs' source folder; writing there would overwrite the "
                         "instructor versions")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        own = variant if path.stem in VARIANT_LABS else None
        nb = student_notebook(nbformat.read(path, as_version=4), variant=own)
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
    parser.add_argument("--variant", metavar="NAME", help="a student's name or id: write that student's own "
                                                          "variant of the labs (see labs.use_variant)")
    parser.add_argument("--list", action="store_true", help="list the checked exercises")
    args = parser.parse_args(argv)
    if not args.student and not args.list:
        parser.error("give --student DIR (or --list)")
    if args.list:
        for ex in exercise_ids():
            print(describe(ex))
    if args.student:
        try:
            written = write_student_versions(args.student, args.source, args.variant)
        except (FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

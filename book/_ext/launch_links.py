"""Sphinx extension: the Colab and Binder buttons open the launch notebooks (``launch/``), not ``book/``.

The chapters in ``book/`` are written in MyST: ``{cite}`` roles, ``:::{exercise}`` and ``:::{solution}`` blocks,
admonitions. Jupyter and Colab show that markup as plain text, solutions in full view. ``scripts/launch_notebooks.py``
writes a plain-Markdown copy of every notebook into ``launch/`` (same layout as ``book/``; the labs as their student
versions). sphinx-book-theme builds each launch URL from ``repository.path_to_book`` and the page's name, ending in
``book/NAME.ipynb``; this extension rewrites that ending to ``launch/NAME.ipynb`` after the theme has built the
buttons, and warns (an error under ``-W``) when a URL does not end in the page's notebook or the launch notebook is
missing from the repository.

The theme's download button serves the page's source as Sphinx copied it (``_sources/book/NAME.ipynb``): the MyST
notebook. When the build has finished, this extension puts the launch notebook there instead, so a notebook
downloaded from the website opens in Jupyter as it does in Colab (and a lab downloads as its student version).
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)

BOOK_DIR = "book"
LAUNCH_DIR = "launch"
LAUNCH_GROUP = "launch-buttons"  # the label sphinx-book-theme gives its launch-button group


def launch_path(source: str | PurePosixPath) -> str:
    """The launch notebook of a book notebook, both relative to the repository root.

    ``book/backprop.ipynb`` -> ``launch/backprop.ipynb``; ``book/labs/lab1_backprop.ipynb`` ->
    ``launch/labs/lab1_backprop.ipynb``.
    """
    path = PurePosixPath(source)
    if path.suffix != ".ipynb" or not path.parts or path.parts[0] != BOOK_DIR or len(path.parts) < 2:
        raise ValueError(f"{str(source)!r} is not a notebook under {BOOK_DIR}/ (expected {BOOK_DIR}/NAME.ipynb)")
    return PurePosixPath(LAUNCH_DIR, *path.parts[1:]).as_posix()


def retarget(url: str, source: str) -> str:
    """A launch URL built for ``source`` (``book/NAME.ipynb``, the end of the URL), pointed at its launch notebook."""
    if not url.endswith(source):
        raise ValueError(f"the launch URL {url!r} does not end in the page's notebook {source!r}")
    return url[: -len(source)] + launch_path(source)


def _retarget_buttons(app, pagename, templatename, context, doctree):
    groups = [b for b in context.get("header_buttons", []) if b.get("label") == LAUNCH_GROUP]
    if not groups:
        return
    book_relpath = app.config["html_theme_options"].get("path_to_docs", "").strip("/")
    source = f"{book_relpath}/{pagename}.ipynb" if book_relpath else f"{pagename}.ipynb"
    try:
        target = launch_path(source)
    except ValueError as err:
        LOGGER.warning(f"launch buttons of {pagename}: {err}")
        return
    if not (Path(app.srcdir) / target).is_file():
        LOGGER.warning(f"launch buttons of {pagename}: {target} does not exist; run python scripts/launch_notebooks.py")
    for group in groups:
        for button in group.get("buttons", []):
            if "url" not in button:
                continue  # Thebe's "live code" button runs JavaScript, not a URL
            try:
                button["url"] = retarget(button["url"], source)
            except ValueError as err:
                LOGGER.warning(f"launch buttons of {pagename}: {err}")


def _serve_launch_notebooks(app, exception):
    """Replace each notebook's copy under ``_sources/`` (the download button's file) by its launch notebook."""
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir) / "_sources"
    for copied in sorted(sources.rglob("*.ipynb")):
        source = copied.relative_to(sources).as_posix()
        try:
            target = Path(app.srcdir) / launch_path(source)
        except ValueError:
            continue  # not a notebook of book/
        if target.is_file():
            shutil.copyfile(target, copied)
        else:
            LOGGER.warning(f"download of {source}: {target.relative_to(app.srcdir)} does not exist; "
                           "run python scripts/launch_notebooks.py")


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501) has built the buttons
    app.connect("html-page-context", _retarget_buttons, priority=600)
    app.connect("build-finished", _serve_launch_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

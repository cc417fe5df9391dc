"""Sphinx extension: number exercises per page (each chapter and lab starts at Exercise 1).

sphinx-exercise numbers exercises with Sphinx's figure numbering (numfig). Without numbered sections in the table of
contents every page shares one counter, so lab 1's first exercise was boxed "Exercise 34", while the lab's text and
headings call it Exercise 1. Numbered sections would give "Exercise 12.1" and renumber when chapters move. After
Sphinx has assigned its numbers (``env-get-updated``), each page's exercises are renumbered 1, 2, … in the order
they appear; the boxes, the solutions' titles and ``{ref}``/``{numref}`` links all read these numbers.
"""

from __future__ import annotations

FIGTYPES = ("exercise",)


def number_per_page(app, env):
    changed = []
    for docname, numbers in env.toc_fignumbers.items():
        for figtype in FIGTYPES:
            ids = numbers.get(figtype)
            if not ids:
                continue
            in_order = sorted(ids, key=ids.get)  # Sphinx's numbers follow the order in the document
            renumbered = {node_id: (i,) for i, node_id in enumerate(in_order, start=1)}
            if renumbered != ids:
                numbers[figtype] = renumbered
                changed.append(docname)
    return changed


def setup(app):
    # after Sphinx's own TocTreeCollector (default priority 500) has assigned the book-wide numbers
    app.connect("env-get-updated", number_per_page, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

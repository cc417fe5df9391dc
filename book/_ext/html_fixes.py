"""Sphinx extension: small fixes to what the theme and its extensions write, found by the site's tests.

- Duplicate inline scripts: sphinx-thebe registers its configuration script twice in Jupyter Book 1, and
  the second ``const THEBE_JS_URL`` throws "Identifier has already been declared" on every page.
  Scripts are de-duplicated per page.
- Accessibility (axe-core, tests/test_site.py):
  * the theme's search *field* button shows the text "Search Ctrl+K" but is labelled ``aria-label="Search"``
    (label-content-name-mismatch); the visible text is a fine name, so the label is dropped there
    (the icon-only search button keeps it);
  * the colour-mode button is labelled "Color mode" but FontAwesome turns its icons' ``title`` ("Light",
    "Dark", …) into visible SVG titles (label-content-name-mismatch); the icons lose their titles;
  * myst-nb's toggle for hidden code cells (``hide-input``) is a ``<summary aria-label="Toggle hidden content">``
    whose visible text is "Show code cell source" (label-content-name-mismatch); the visible text is kept as its name;
  * docutils writes bibliography entries as ``role="doc-biblioentry"`` inside ``role="list"``, which
    needs ``listitem`` children (aria-required-children); entries become list items.
- Page weight: pydata-sphinx-theme loads FontAwesome's JavaScript (1.5 MB, scripts/fontawesome.js) on every page
  to turn icons into SVG, but its stylesheet already draws the same icons from FontAwesome's web fonts (which the
  page loads anyway). The script tag is dropped; icons are drawn by the stylesheet.
"""

from __future__ import annotations

import re
from pathlib import Path

_SEARCH_FIELD = re.compile(r'(<button class="btn search-button-field[^"]*"[^>]*?) aria-label="Search"')
_THEME_SWITCH_ICON = re.compile(r'(<i class="theme-switch [^"]*" data-mode="\w+")\s+title="[^"]*"')
_HIDDEN_CELL_TOGGLE = re.compile(r'<summary aria-label="Toggle hidden content">')
_FONTAWESOME_JS = re.compile(r'\s*<script defer src="[^"]*_static/scripts/fontawesome\.js[^"]*"></script>')
_BIBLIOENTRY = re.compile(r'(<div class="citation" id="[^"]+") role="doc-biblioentry"')


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        attributes = getattr(js, "attributes", {})
        key = (getattr(js, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def fix_html(text: str) -> str:
    text = _SEARCH_FIELD.sub(r"\1", text)
    text = _THEME_SWITCH_ICON.sub(r"\1", text)
    text = _HIDDEN_CELL_TOGGLE.sub("<summary>", text)
    text = _FONTAWESOME_JS.sub("", text)
    return _BIBLIOENTRY.sub(r'\1 role="listitem"', text)


def _patch_pages(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = fix_html(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.connect("build-finished", _patch_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

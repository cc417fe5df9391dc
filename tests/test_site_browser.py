"""Every page of the website in a browser, offline: no request leaves the site and none fails, no page error, math
typeset by the site's own MathJax, alt text on every image; what a first visit transfers; no serious or critical
accessibility violation (axe-core); nothing cut off at phone, tablet and laptop widths; every control of every static
explorer changes the frame shown, from the keyboard.

Each page is opened once (`visit`) and looked at in the order a reader meets it: it loads, the reader scrolls to the
first widget, reads it at laptop width, turns a tablet and a phone, and plays with the explorers. The findings are
kept and each check is its own test, so a failure names the page and the check. Each page's tests form one xdist
group (one worker opens the page; the other takes other pages)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from notebooks import ROOT, toc_entries
from sitebuild import WIDGET_VIEWS, WIDTHS, open_offline, show_widgets

pytestmark = pytest.mark.slow  # drives a browser over the built site

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FIRST_VISIT_LIMIT = 4_500_000  # bytes; every page was 2.4-3.7 MB in December 2026 (explorer pages 8.3-8.8 MB before)

# What a reader cannot reach at a given width: the page wider than the screen, display equations and outputs whose
# content is wider than their box but that do not scroll (or that stick out of the text column), and numbers of
# gvcourse.diagnose's table broken across lines.
LAYOUT_PROBLEMS = """() => {
    const problems = [], W = innerWidth, scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const shown = el => el.getClientRects().length > 0;
    const text = el => el.textContent.replace(/\\s+/g, ' ').trim().slice(0, 50);
    const pageWidth = document.documentElement.scrollWidth;
    if (pageWidth > W) problems.push(`page is ${pageWidth}px wide`);
    const column = document.querySelector('.bd-article').getBoundingClientRect().right;
    const boxes = [['equation', 'div.math mjx-container[display="true"]'],
                   ['output', '.cell_output pre, .cell_output > .output']];
    for (const [kind, sel] of boxes) {
        for (const el of document.querySelectorAll(sel)) {
            if (!shown(el)) continue;  // e.g. inside a closed solution dropdown
            if (el.scrollWidth > el.clientWidth + 1 && !scrolls(el)) problems.push(`${kind} clipped: ${text(el)}`);
            const right = el.getBoundingClientRect().right;
            if (right > Math.min(W, column) + 1) problems.push(`${kind} sticks out: ${text(el)}`);
        }
    }
    for (const td of document.querySelectorAll('.gv-diagnosis-table td, .gv-diagnosis-table th')) {
        const range = document.createRange(); range.selectNodeContents(td);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.bottom)));
        if (lines.size > 1) problems.push(`diagnose table cell wraps: ${text(td)}`);
    }
    return problems; }"""

VISIBLE_FRAME = """el => { const img = [...el.querySelectorAll('.widget-html img')].find(i => i.offsetParent !== null);
                           return img ? img.alt : null; }"""


@dataclass
class Visit:
    """What one reader's visit to a page found."""

    outside: list[str]  # requests that tried to leave the site (blocked)
    errors: list[str]  # page errors and failed responses
    math_typeset: bool  # MathJax rendered the page's math (True when it has none)
    images_without_alt: int
    first_visit_files: dict[str, int]  # URL -> bytes received, before the reader comes near a widget
    has_widgets: bool
    axe_violations: list[str]  # serious and critical only
    layout: dict[int, list[str]]  # width -> problems
    explorers: list[str] | None  # problems; None when the page has no static explorer

    @property
    def first_visit_bytes(self) -> int:
        return sum(self.first_visit_files.values())

    @property
    def first_visit_names(self) -> list[str]:
        return [urlparse(url).path.rsplit("/", 1)[-1] for url in self.first_visit_files]


def _math_typeset(page) -> bool:
    if not page.locator("div.math, span.math").count():
        return True
    try:  # typeset by the site's MathJax (some math is inside closed dropdowns, so "attached", not "visible")
        page.wait_for_selector("mjx-container", state="attached", timeout=15000)
        return True
    except Exception:
        return False


def _axe(page) -> list[str]:
    # as a reader meets the page: stylesheets and fonts loaded, and the theme's tab stops for scrollable cells
    # updated (it debounces that by 300 ms)
    page.evaluate("async () => { await document.fonts.ready; }")
    page.wait_for_timeout(400)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — e.g. {v['nodes'][0]['target']}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _layout(page) -> dict[int, list[str]]:
    """Look at the page at each width, as when a reader turns a tablet or resizes a window."""
    page.evaluate("async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise;"
                  "              await document.fonts.ready; }")
    found = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        found[width] = page.evaluate(LAYOUT_PROBLEMS)
    return found


def _explorers(page) -> list[str] | None:
    """Press each slider's and dropdown's arrow keys; every press must change the frame shown."""
    explorers = page.locator(".gv-static-explorer")
    if explorers.count() == 0:
        return None
    page.wait_for_selector(".gv-static-explorer .widget-html img")
    problems = []
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        before = explorer.evaluate(VISIBLE_FRAME)
        if not before:
            problems.append(f"explorer {i} shows no frame")
            continue
        handles = explorer.locator(".noUi-handle")
        for j in range(handles.count()):
            handle = handles.nth(j)
            handle.focus()
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            page.wait_for_timeout(200)
            after = explorer.evaluate(VISIBLE_FRAME)
            if not after or after == before:
                problems.append(f"explorer {i} slider {j} did not change the frame")
            before = after or before
        selects = explorer.locator("select")
        for j in range(selects.count()):
            select = selects.nth(j)
            select.focus()
            page.keyboard.press("ArrowDown")
            page.wait_for_timeout(200)
            after = explorer.evaluate(VISIBLE_FRAME)
            if after == before:  # already on the last option: go up instead
                page.keyboard.press("ArrowUp")
                page.keyboard.press("ArrowUp")
                page.wait_for_timeout(200)
                after = explorer.evaluate(VISIBLE_FRAME)
            if not after or after == before:
                problems.append(f"explorer {i} dropdown {j} did not change the frame")
            before = after or before
    return problems


_VISITS: dict[str, Visit] = {}


def visit(browser, server, entry: str) -> Visit:
    """Open the page once per worker (its tests share one xdist group) and keep what the visit found."""
    if entry not in _VISITS:
        files: dict[str, int] = {}

        def finished(request):
            files[request.url] = request.sizes()["responseBodySize"]

        context, page, outside, errors = open_offline(browser, f"{server}/{entry}.html",
                                                      on_request_finished=finished)
        try:
            first = dict(files)
            has_widgets = page.locator(WIDGET_VIEWS).count() > 0
            show_widgets(page)
            _VISITS[entry] = Visit(
                outside=outside, errors=errors, math_typeset=_math_typeset(page),
                images_without_alt=page.eval_on_selector_all(
                    "main img", "imgs => imgs.filter(i => !(i.alt||'').trim()).length"),
                first_visit_files=first, has_widgets=has_widgets,
                axe_violations=_axe(page), layout=_layout(page), explorers=_explorers(page))
        finally:
            context.close()
    return _VISITS[entry]


def per_page():
    """Each page as a parameter whose tests stay together on one worker."""
    return [pytest.param(entry, id=entry, marks=pytest.mark.xdist_group(f"page:{entry}")) for entry in toc_entries()]


@pytest.mark.parametrize("entry", per_page())
def test_page_works_offline_without_errors(browser, server, entry):
    found = visit(browser, server, entry)
    assert not found.outside, f"{entry} requests outside the site: {found.outside[:5]}"
    assert not found.errors, f"{entry} page errors or missing files: {found.errors[:3]}"
    assert found.math_typeset, f"{entry}: the math was not typeset by the site's MathJax"
    assert found.images_without_alt == 0, f"{entry}: {found.images_without_alt} images without alt text"


@pytest.mark.parametrize("entry", per_page())
def test_page_weight_on_a_first_visit(browser, server, entry):
    """What a first visit transfers (empty cache, nothing scrolled) stays under FIRST_VISIT_LIMIT. FontAwesome's
    1.5 MB script is never loaded (the stylesheet draws the icons), and the 3.6 MB widget manager only on pages with
    widgets, once the reader comes near one."""
    found = visit(browser, server, entry)
    names = found.first_visit_names
    assert found.first_visit_bytes <= FIRST_VISIT_LIMIT, \
        f"{entry}: {found.first_visit_bytes / 1e6:.2f} MB on a first visit"
    assert "fontawesome.js" not in names, f"{entry} loads fontawesome.js"
    assert "embed-amd.js" not in names, f"{entry} loads the widget manager before a widget is near"
    if not found.has_widgets:
        assert not [n for n in names if n.endswith(("embed-amd.js", "require.js"))], \
            f"{entry} has no widgets but loads widget scripts"


@pytest.mark.parametrize("entry", per_page())
def test_accessibility_axe(browser, server, entry):
    found = visit(browser, server, entry)
    assert not found.axe_violations, f"{entry}: " + "; ".join(found.axe_violations)


@pytest.mark.parametrize("entry", per_page())
def test_nothing_is_cut_off_at_the_right_edge(browser, server, entry):
    """At phone, tablet and laptop widths the page fits the screen, every display equation and output wider than the
    text scrolls in its own box, and the diagnose report's numbers stay on one line."""
    found = visit(browser, server, entry)
    problems = {f"{width}px": p[:3] for width, p in found.layout.items() if p}
    assert not problems, f"{entry}: {problems}"


@pytest.mark.parametrize("entry", per_page())
def test_static_explorers_respond_to_the_keyboard_offline(browser, server, entry):
    """Every control of every static explorer changes the frame shown, with no kernel and no network."""
    found = visit(browser, server, entry)
    if found.explorers is None:
        pytest.skip(f"{entry} has no static explorer")
    assert not found.explorers, f"{entry}: {found.explorers}"

"""The website in a browser, second half: accessibility (axe-core), layout at phone, tablet and laptop widths, and
what a first visit transfers. Split from test_site.py so that two xdist workers share the browser tests; both
modules use the one site build of the session (test_site.site)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from test_site import (  # noqa: F401  (fixtures)
    AXE,
    FIRST_VISIT_LIMIT,
    LAYOUT_PROBLEMS,
    WIDGET_VIEWS,
    WIDTHS,
    browser,
    open_offline,
    pages,
    server,
    show_widgets,
    site,
)

pytestmark = pytest.mark.slow  # drives a browser over the built site


@pytest.mark.parametrize("entry", pages())
def test_accessibility_axe(browser, server, entry):
    context, page, _, _ = open_offline(browser, f"{server}/{entry}.html")
    try:
        # as a reader meets the page: stylesheets and fonts loaded, and the theme's tab stops for scrollable
        # cells updated (it debounces that by 300 ms)
        page.evaluate("async () => { await document.fonts.ready; }")
        page.wait_for_timeout(400)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        bad = [f"{v['id']} ({v['impact']}): {v['help']} — e.g. {v['nodes'][0]['target']}"
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not bad, f"{entry}: " + "; ".join(bad)
    finally:
        context.close()


def test_nothing_is_cut_off_at_the_right_edge(browser, server):
    """At phone, tablet and laptop widths every page fits the screen, every display equation and output that is wider
    than the text scrolls in its own box, and the diagnose report's numbers stay on one line. Each page is loaded
    once and looked at in each width, as when a reader turns a tablet or resizes a window."""
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    problems = {}
    try:
        for entry in pages():
            page = context.new_page()
            page.goto(f"{server}/{entry}.html", wait_until="load")
            page.evaluate("async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise;"
                          "              await document.fonts.ready; }")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                found = page.evaluate(LAYOUT_PROBLEMS)
                if found:
                    problems[f"{entry} at {width}px"] = found[:3]
            page.close()
    finally:
        context.close()
    assert not problems, problems


def test_page_weight_on_a_first_visit(browser, server, tmp_path_factory):
    """What a first visit transfers (empty cache, nothing scrolled): every page stays under FIRST_VISIT_LIMIT.
    FontAwesome's 1.5 MB script is never loaded (the stylesheet draws the icons), and the 3.6 MB widget manager
    only on pages with widgets, once the reader comes near one. The weights are left in page-weights.json."""
    weights, problems = {}, []
    for entry in pages():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sizes = {}
        page.on("requestfinished", lambda r, sizes=sizes: sizes.__setitem__(r.url, r.sizes()["responseBodySize"]))
        page.goto(f"{server}/{entry}.html", wait_until="networkidle")
        first = sum(sizes.values())
        names = [urlparse(u).path.rsplit("/", 1)[-1] for u in sizes]
        has_widgets = page.locator(WIDGET_VIEWS).count() > 0
        show_widgets(page)
        weights[entry] = {"first_visit": first, "with_widgets": sum(sizes.values())}
        context.close()
        if first > FIRST_VISIT_LIMIT:
            problems.append(f"{entry}: {first / 1e6:.2f} MB on a first visit")
        if "fontawesome.js" in names:
            problems.append(f"{entry} loads fontawesome.js")
        if "embed-amd.js" in names:
            problems.append(f"{entry} loads the widget manager before a widget is near")
        if not has_widgets and any(n.endswith(("embed-amd.js", "require.js")) for n in names):
            problems.append(f"{entry} has no widgets but loads widget scripts")
    out = Path(tmp_path_factory.getbasetemp()) / "page-weights.json"
    out.write_text(json.dumps(weights, indent=1))
    assert not problems, problems

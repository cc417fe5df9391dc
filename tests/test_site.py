"""The website: it builds with -W -n --keep-going as the README says, and works in a real browser offline.

Build checks: every chapter page exists, images have alt text, pages stay light, exercises, citations and
launch links render. Browser checks (Playwright for Python driving Debian's Chromium — never
`playwright install`): every page loads with every request leaving 127.0.0.1 blocked and none attempted, no
page errors, math typeset by the locally served MathJax, search works, and axe-core finds no serious or
critical accessibility violation (tests/test_site_browser.py holds the heaviest browser tests, so two xdist
workers share them; the site is built once per session for both).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from notebooks import ROOT, read, toc_entries, toc_notebooks
from sitebuild import build_site, chromium_or_skip, npm_or_skip, serve

pytestmark = pytest.mark.slow  # builds the whole site, then drives a browser


@pytest.fixture(scope="module")
def site(tmp_path_factory, worker_id):
    """The site, built once per test session: the browser tests are split over two modules (so two xdist workers
    share them) and the first worker to need the site builds it while the other waits on a file lock."""
    npm_or_skip()
    if worker_id == "master":  # not under xdist
        return build_site(tmp_path_factory.mktemp("site"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent  # this session's directory, common to its workers
    with FileLock(str(shared / "site.lock")):
        html = shared / "site" / "_build" / "html"
        if not (shared / "site.built").exists():
            build_site(shared / "site")
            (shared / "site.built").touch()
    return html

def test_every_chapter_page_is_built(site):
    for nb in toc_notebooks():
        page = site / nb.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"missing page {page.name}"


def test_images_have_alt_text_and_pages_are_light(site):
    for nb in toc_notebooks():
        page = site / nb.relative_to(ROOT).with_suffix(".html")
        html = re.sub(r"<script[^>]*>.*?</script>", "", page.read_text(), flags=re.S)  # not widget-state JSON
        for img in re.findall(r"<img [^>]*>", html):
            if "logo" in img:
                continue
            alt = re.search(r'alt="([^"]*)"', img)
            assert alt and len(alt.group(1)) > 20, f"{page.name}: image without alt text: {img[:120]}"
        assert page.stat().st_size < 5_000_000


def _png_size(path: Path) -> tuple[int, int]:
    import struct

    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    return struct.unpack(">II", head[16:24])


def test_figures_are_sharp_on_hidpi_screens(site):
    """Every figure of a chapter is shown at a fixed size that its PNG covers twice over (2x screens)."""
    checked = 0
    for nb in toc_notebooks():
        page = site / nb.relative_to(ROOT).with_suffix(".html")
        html = re.sub(r"<script[^>]*>.*?</script>", "", page.read_text(), flags=re.S)
        for img in re.findall(r'<img [^>]*src="(?:\.\./)*_images/[^"]+"[^>]*>', html):
            src = re.search(r'src="((?:\.\./)*_images/[^"]+)"', img).group(1)
            width = re.search(r'width="?(\d+)(?:px)?"?', img) or re.search(r"width:\s*(\d+)px", img)
            assert width, f"{page.name}: figure without a display width: {img[:160]}"
            pixels, _ = _png_size((page.parent / src).resolve())
            assert pixels >= 2 * int(width.group(1)), f"{page.name}: {src} has {pixels} px for {width.group(1)} shown"
            checked += 1
    assert checked >= 40


def test_exercises_and_citations_render(site):
    for nb in toc_notebooks():
        html = (site / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        if nb.stem == "intro":
            continue
        assert html.count('class="admonition exercise') + html.count("exercise admonition") >= 2 or \
            len(re.findall(r'exercise', html)) >= 4, f"{nb.name}: fewer than two exercises"
        assert "solution" in html and "dropdown" in html
        assert 'class="reference internal"' in html


def test_exercises_are_numbered_per_page(site):
    """Every page's exercise boxes read Exercise 1, 2, … (not a count running through the book), and a box under a
    heading "Exercise N: …" (as in the labs) carries that number N; links to exercises use the same numbers."""
    for entry in pages():
        html = (site / f"{entry}.html").read_text()
        boxes = [int(n) for n in re.findall(r'class="caption-number">Exercise (\d+)', html)]
        assert boxes == list(range(1, len(boxes) + 1)), f"{entry}: exercises numbered {boxes}"
        for heading in re.finditer(r"<h[1-6]>Exercise (\d+)\b", html):
            box = re.compile(r'class="caption-number">Exercise (\d+)').search(html, heading.end())
            assert box and box.group(1) == heading.group(1), f"{entry}: heading Exercise {heading.group(1)} boxes " \
                f"Exercise {box and box.group(1)}"
    lab1 = (site / "book/labs/lab1_backprop.html").read_text()
    assert re.search(r'id="lab1-ex-find-bug">\s*<p class="admonition-title"><span class="caption-number">Exercise 3 ',
                     lab1)
    facilitator = (site / "book/labs/facilitator.html").read_text()
    assert re.search(r'href="lab1_backprop.html#lab1-ex-find-bug"><span class="std std-numref">Exercise 3</span>',
                     facilitator)


AUTHOR_YEAR = re.compile(r"^[^\W\d][^,]*( and [^,]+| et al\.)?, (\d{4}|n\.d\.)[a-z]?$")


def test_references_read_author_year_without_raw_latex(site):
    """The bibliography's labels are author-year ("He et al., 2016a"), as the text cites, with no raw LaTeX
    (\\emph, braces) left in an entry; every citation in the text names the label of the entry it links to."""
    html = (site / "book/references.html").read_text()
    entries = re.findall(r'<div class="citation" id="([^"]+)"[^>]*>\s*<span class="label"><span class="fn-bracket">\['
                         r'</span>(.*?)<span class="fn-bracket">\]</span></span>\s*(.*?)</div>', html, flags=re.S)
    assert len(entries) >= 40, f"only {len(entries)} bibliography entries found"
    labels = {}
    for anchor, label, body in entries:
        assert AUTHOR_YEAR.match(label), f"bibliography label is not author-year: {label}"
        text = re.sub(r"<[^>]+>", "", body)
        assert not re.search(r"\\[A-Za-z]+|[{}]", text), f"raw LaTeX in the entry {label}: {text[:200]}"
        labels[anchor] = label
    assert len(set(labels.values())) == len(labels), "two bibliography entries share a label"
    cited = 0
    for entry in pages():
        page = re.sub(r' title="[^"]*"', "", (site / f"{entry}.html").read_text())
        for group in re.findall(r'<span class="bibtex-citation" id="[^"]+">(.*?)</span>', page, flags=re.S):
            assert group.startswith("[") and group.endswith("]"), f"{entry}: citation {group[:80]}"
            links = r'<a class="reference internal" href="(?:[./]*book/)?references.html#([^"]+)">(.*?)</a>'
            for anchor, text in re.findall(links, group):
                text = re.sub(r"<[^>]+>", "", text)  # "et al." is in italics
                assert text == labels[anchor], f"{entry}: cites {text!r} for the entry labelled {labels[anchor]!r}"
                cited += 1
    assert cited >= 100, f"only {cited} citations found in the text"


def test_launch_links_point_at_the_real_notebooks(site):
    """Every chapter's Colab and Binder buttons open its launch notebook (launch/, plain Markdown), which exists."""
    from bootstrap_cell import repository_url
    from launch_notebooks import launch_path, raw_myst

    repo = repository_url().removeprefix("https://github.com/")
    for nb in toc_notebooks():
        rel = nb.relative_to(ROOT)
        html = (site / rel.with_suffix(".html")).read_text()
        target = launch_path(rel.as_posix())
        binder = f"https://mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/{target}"
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/{target}"
        assert binder in html, f"{rel}: no Binder link {binder}"
        assert colab in html, f"{rel}: no Colab link {colab}"
        assert f"/{rel.as_posix()}" not in html.replace(f"_sources/{rel.as_posix()}", ""), \
            f"{rel}: a link still opens the MyST notebook"
        launched = read(ROOT / target)
        assert not [m for c in launched.cells if c.cell_type == "markdown" for m in raw_myst(c.source)]


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def server(site):
    srv, url = serve(site)
    yield url
    srv.shutdown()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS, headless=True)
        yield b
        b.close()


def pages():
    return [e for e in toc_entries()]


def open_offline(browser, url, width=1280):
    """A page whose every request leaving 127.0.0.1 is blocked and recorded, with page errors recorded."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    outside, errors = [], []

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} for {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="networkidle")
    show_widgets(page)
    return context, page, outside, errors


WIDGET_VIEWS = 'script[type="application/vnd.jupyter.widget-view+json"]'


def show_widgets(page):
    """Scroll to the page's first widget, as a reader would: the widget manager loads only when one is near
    (book/_static/widgets-lazy.js). Waits until every widget is drawn, then scrolls back to the top."""
    views = page.locator(WIDGET_VIEWS).count()
    if not views:
        return
    page.evaluate("""sel => [...document.querySelectorAll(sel)].map(s => s.parentElement)
                             .find(p => p && p.getClientRects().length).scrollIntoView()""", WIDGET_VIEWS)
    page.wait_for_function("n => document.querySelectorAll('.widget-subarea').length >= n", arg=views, timeout=30000)
    page.wait_for_load_state("networkidle")
    page.evaluate("() => window.scrollTo(0, 0)")


@pytest.mark.parametrize("entry", pages())
def test_page_offline_without_errors(browser, server, entry):
    context, page, outside, errors = open_offline(browser, f"{server}/{entry}.html")
    try:
        assert not outside, f"{entry} requests outside the site: {outside[:5]}"
        assert not errors, f"{entry} page errors or missing files: {errors[:3]}"
        if page.locator("div.math, span.math").count():  # typeset by the site's MathJax (some inside closed dropdowns)
            page.wait_for_selector("mjx-container", state="attached", timeout=15000)
        missing = page.eval_on_selector_all("main img", "imgs => imgs.filter(i => !(i.alt||'').trim()).length")
        assert missing == 0, f"{entry}: {missing} images without alt text"
    finally:
        context.close()





VISIBLE_FRAME = """el => { const img = [...el.querySelectorAll('.widget-html img')].find(i => i.offsetParent !== null);
                           return img ? img.alt : null; }"""


@pytest.mark.parametrize("entry", pages())
def test_static_explorers_respond_to_the_keyboard_offline(browser, server, entry):
    """Every control of every static explorer changes the frame shown, with no kernel and no network."""
    context, page, outside, errors = open_offline(browser, f"{server}/{entry}.html")
    try:
        explorers = page.locator(".gv-static-explorer")
        if explorers.count() == 0:
            pytest.skip(f"{entry} has no static explorer")
        page.wait_for_selector(".gv-static-explorer .widget-html img")
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            before = explorer.evaluate(VISIBLE_FRAME)
            assert before, f"{entry}: explorer {i} shows no frame"
            handles = explorer.locator(".noUi-handle")
            for j in range(handles.count()):
                handle = handles.nth(j)
                handle.focus()
                at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
                page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
                page.wait_for_timeout(200)
                after = explorer.evaluate(VISIBLE_FRAME)
                assert after and after != before, f"{entry}: explorer {i} slider {j} did not change the frame"
                before = after
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
                assert after and after != before, f"{entry}: explorer {i} dropdown {j} did not change the frame"
                before = after
        assert not outside and not errors, (outside, errors)
    finally:
        context.close()


WIDTHS = [390, 800, 1280]  # a phone, a tablet, a laptop

# True when some element matching the selector can be seen and clicked: it has a size, lies in the viewport and is
# what the browser hits at its centre (not hidden under another element or moved off-canvas).
SHOWN = """sel => [...document.querySelectorAll(sel)].some(el => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (!r.width || !r.height || s.visibility === 'hidden' || r.right <= 0 || r.left >= innerWidth) return false;
    const x = r.left + r.width / 2, y = Math.min(r.top + r.height / 2, innerHeight - 1);
    if (y < 0) return false;
    const hit = document.elementFromPoint(x, y);
    return !!hit && (el === hit || el.contains(hit) || hit.contains(el)); })"""
CHAPTER_LIST = "nav.bd-docs-nav a.reference"
PAGE_CONTENTS = "#pst-page-toc-nav a"


def _toggle_and_wait(page, button, selector, shown):
    page.locator(button).filter(visible=True).first.click()
    page.wait_for_function(f"s => ({SHOWN})(s) === {str(shown).lower()}", arg=selector, timeout=3000)


@pytest.mark.parametrize("width", WIDTHS)
def test_sidebar_toggles_work_on_phones_tablets_and_laptops(browser, server, width):
    """The chapter-list (hamburger) and page-contents buttons show and hide their sidebars at every width.

    pydata-sphinx-theme 0.17 once put a second, hidden `.primary-toggle` on the page that both themes' scripts bound
    to: the visible buttons then did nothing (phones, tablets) or could not collapse the sidebar (laptops)."""
    context, page, outside, errors = open_offline(browser, f"{server}/book/backprop.html", width)
    try:
        toggles = page.locator(".primary-toggle")
        assert toggles.count() == 1, f"{toggles.count()} chapter-list toggles on the page"
        strip = page.evaluate("() => document.querySelector('#pst-header')?.getBoundingClientRect().height || 0")
        assert strip == 0, "the theme's extra top navbar (with a second search box) is back"
        assert page.locator(".search-button-field").count() == 1, "more than one search field"
        opened_at_start = page.evaluate(SHOWN, CHAPTER_LIST)
        assert opened_at_start == (width >= 992), f"{width}px: chapter list shown at start: {opened_at_start}"
        if opened_at_start:  # a laptop: the button collapses the sidebar and brings it back
            _toggle_and_wait(page, ".primary-toggle", CHAPTER_LIST, False)
            _toggle_and_wait(page, ".primary-toggle", CHAPTER_LIST, True)
        else:  # a phone or tablet: the button opens the sidebar as a drawer; Escape closes it
            _toggle_and_wait(page, ".primary-toggle", CHAPTER_LIST, True)
            page.keyboard.press("Escape")
            page.wait_for_function(f"s => !({SHOWN})(s)", arg=CHAPTER_LIST, timeout=3000)
        secondary = page.locator(".secondary-toggle").filter(visible=True)
        if page.evaluate(SHOWN, PAGE_CONTENTS):
            assert width >= 1200, f"{width}px: page contents shown beside the text"
        else:
            assert secondary.count() == 1, f"{width}px: the page contents are neither shown nor behind a button"
            _toggle_and_wait(page, ".secondary-toggle", PAGE_CONTENTS, True)
            page.keyboard.press("Escape")
            page.wait_for_function(f"s => !({SHOWN})(s)", arg=PAGE_CONTENTS, timeout=3000)
        assert not outside and not errors, (outside, errors)
    finally:
        context.close()


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





FIRST_VISIT_LIMIT = 4_500_000  # bytes; every page was 2.4-3.7 MB in December 2026 (explorer pages 8.3-8.8 MB before)





def test_search_works_offline(browser, server):
    context, page, outside, errors = open_offline(browser, f"{server}/search.html?q=gradient")
    try:
        page.wait_for_selector("#search-results li, ul.search li", timeout=15000)
        assert page.locator("ul.search li").count() >= 1
        assert not outside and not errors
    finally:
        context.close()

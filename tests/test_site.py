"""The website: it builds with -W -n --keep-going as the README says (tests/sitebuild.py), and its pages hold what
they should: every chapter page, alt text, sharp figures, exercises numbered per page with folded solutions,
author-year citations, launch links to the real notebooks. In the browser (Playwright for Python driving Debian's
Chromium — never `playwright install`): the sidebars open and close at every width, and search works offline.
What each page does in the browser is checked in tests/test_site_browser.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from notebooks import ROOT, read, toc_entries, toc_notebooks
from sitebuild import WIDTHS, open_offline, show_widgets

pytestmark = pytest.mark.slow  # builds the whole site, then drives a browser


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


EXERCISE = re.compile(r'<div class="exercise[^"]*admonition[^"]*" id="([^"]+)"')
SOLUTION = re.compile(r'<div class="(solution[^"]*)" id="[^"]+">\s*<p class="admonition-title">Solution to\s*'
                      r'<a class="reference internal" href="#([^"]+)"')


def test_every_exercise_has_a_folded_solution_and_chapters_cite(site):
    """Every chapter and lab has at least two exercises; each exercise has exactly one solution, folded (a dropdown
    the reader opens), that links back to it; every chapter cites the literature (links into References)."""
    for nb in toc_notebooks():
        if nb.stem == "intro":
            continue
        html = (site / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        exercises = EXERCISE.findall(html)
        assert len(exercises) >= 2, f"{nb.name}: {len(exercises)} exercises"
        solutions = SOLUTION.findall(html)
        assert len(solutions) == html.count('<div class="solution'), f"{nb.name}: a solution without its link"
        unfolded = [target for classes, target in solutions if "dropdown" not in classes.split()]
        assert not unfolded, f"{nb.name}: solutions shown unfolded: {unfolded}"
        answered = sorted(target for _, target in solutions)
        assert answered == sorted(exercises), f"{nb.name}: exercises {sorted(exercises)}, solutions for {answered}"
        assert re.search(r'href="(\.\./)*(book/)?references\.html#', html), f"{nb.name}: no citation into References"


def test_exercises_are_numbered_per_page(site):
    """Every page's exercise boxes read Exercise 1, 2, … (not a count running through the book), and a box under a
    heading "Exercise N: …" (as in the labs) carries that number N; links to exercises use the same numbers."""
    for entry in toc_entries():
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
    for entry in toc_entries():
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
    """Every chapter's Colab and Binder buttons open its launch notebook (launch/, plain Markdown), which exists, and
    its download button serves that same notebook (not the MyST source, whose markup plain Jupyter shows raw)."""
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
        downloaded = site / "_sources" / rel  # the file the page's download button serves
        assert f'href="{"../" * (len(rel.parts) - 1)}_sources/{rel.as_posix()}"' in html, f"{rel}: no download link"
        assert downloaded.read_bytes() == (ROOT / target).read_bytes(), f"{rel}: the download is not {target}"



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
        show_widgets(page)
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


def test_search_works_offline(browser, server):
    context, page, outside, errors = open_offline(browser, f"{server}/search.html?q=gradient")
    try:
        page.wait_for_selector("#search-results li, ul.search li", timeout=15000)
        assert page.locator("ul.search li").count() >= 1
        assert not outside and not errors
    finally:
        context.close()

"""Guards on the committed notebooks: what nbval alone cannot see (ARCHITECTURE.md, "Writing a chapter")."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from bootstrap_cell import bootstrap_source
from notebooks import ROOT, book_notebooks, read, resolve, toc_entries, toc_notebooks

NOTEBOOKS = toc_notebooks()
IDS = [str(p.relative_to(ROOT)) for p in NOTEBOOKS]
UNSTABLE = [
    (re.compile(r"\b0x[0-9a-fA-F]{6,}"), "a memory address"),
    (re.compile(r"/tmp/ipykernel_\d+"), "a temp path"),
    (re.compile(r"<[\w.]+ object at "), "an object repr"),
    (re.compile(r"\[<matplotlib\.\w+"), "a matplotlib repr"),
    (re.compile(r"\d+(\.\d+)?it/s|s/it\]"), "a progress-bar rate"),
]


def test_every_toc_entry_exists():
    missing = [e for e in toc_entries() if resolve(e) is None]
    assert not missing, f"_toc.yml names files that do not exist: {missing}"


def test_every_notebook_is_in_the_toc():
    listed = {p.resolve() for p in NOTEBOOKS}
    orphans = [str(p.relative_to(ROOT)) for p in book_notebooks() if p.resolve() not in listed]
    assert not orphans, f"notebooks missing from _toc.yml: {orphans}"


def _linked_pages(path, text: str) -> set:
    return {(path.parent / target).resolve() for target in re.findall(r"\]\(([^)#\s]+\.(?:ipynb|md))", text)}


def test_the_introduction_outlines_every_chapter():
    """The introduction's outline links every page of the table of contents and nothing else; the labs are linked
    from the facilitator guide the outline points to. A chapter added to _toc.yml but not to the outline, or dropped
    from the book but still promised there, fails."""
    intro_path, guide_path = ROOT / "book" / "intro.ipynb", ROOT / "book" / "labs" / "facilitator.md"
    prose = "\n".join(c.source for c in read(intro_path).cells if c.cell_type == "markdown")
    outline = _linked_pages(intro_path, prose)
    labs = {p for p in _linked_pages(guide_path, guide_path.read_text()) if p.parent == guide_path.parent}
    pages = {p.resolve() for e in toc_entries() if (p := resolve(e)) is not None} - {intro_path.resolve()}
    assert outline - pages == set(), f"the outline links pages not in the book: {sorted(outline - pages)}"
    missing = pages - outline - labs
    assert not missing, f"neither the outline nor the lab guide links: {sorted(p.relative_to(ROOT) for p in missing)}"
    assert guide_path.resolve() in outline, "the outline does not link the lab guide"


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_executed_in_order_without_errors(path):
    cells = _code_cells(read(path))
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} — run scripts/execute_notebook.py {path.relative_to(ROOT)}")
    for i, c in enumerate(cells):
        if "raises-exception" in c.metadata.get("tags", []):
            continue
        errors = [o for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name} cell {i}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_is_hidden_bootstrap_in_sync_with_config(path):
    first = read(path).cells[0]
    assert first.cell_type == "code"
    assert "remove-cell" in first.metadata.get("tags", [])
    assert first.source == bootstrap_source(), f"{path.name}: bootstrap cell differs from scripts/bootstrap_cell.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_h1_and_no_skipped_heading_levels(path):
    nb = read(path)
    levels = []
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        in_fence = False
        for line in c.source.splitlines():
            if line.lstrip().startswith(("```", ":::")):
                in_fence = not in_fence
            m = re.match(r"^(#{1,6}) ", line)
            if m and not in_fence:
                levels.append(len(m.group(1)))
    assert levels.count(1) == 1 and levels[0] == 1, f"{path.name}: needs exactly one H1, first"
    for a, b in zip(levels, levels[1:]):
        assert b <= a + 1, f"{path.name}: heading level jumps from H{a} to H{b}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_are_stable_and_figures_have_alt_text(path):
    for i, c in enumerate(read(path).cells):
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            text = o.get("text", "") + o.get("data", {}).get("text/plain", "")
            for pattern, what in UNSTABLE:
                assert not pattern.search(text), f"{path.name} cell {i} prints {what}"
            if "image/png" in o.get("data", {}):
                alt = o.get("metadata", {}).get("image/png", {}).get("alt", "")
                assert len(alt) > 20, f"{path.name} cell {i}: a figure without alt text"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_widget_state_saved(path):
    nb = read(path)
    views = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    if views:
        state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        assert state.get("state"), f"{path.name} shows widgets but saved no widget state"


def _stamp(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_recorded_runtime_within_budget(path):
    """Timings recorded by scripts/execute_notebook.py: every cell ≤ 30 s, the notebook ≤ 60 s (ARCHITECTURE.md)."""
    total = 0.0
    for i, c in enumerate(_code_cells(read(path))):
        ex = c.metadata.get("execution", {})
        assert "iopub.execute_input" in ex, f"{path.name}: no timings — execute with scripts/execute_notebook.py"
        seconds = (_stamp(ex["shell.execute_reply"]) - _stamp(ex["iopub.execute_input"])).total_seconds()
        assert seconds <= 30, f"{path.name} cell {i} took {seconds:.0f} s"
        total += seconds
    assert total <= 60, f"{path.name} took {total:.0f} s"


_FENCE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(\{[\w-]+\})?")


def fenced_code_in_solutions(markdown: str) -> list[str]:
    """Labels of the `{solution}` blocks in `markdown` that contain a code fence (``` or ~~~)."""
    found, stack = [], []  # stack of open fences: (marker, directive, label)
    for line in markdown.splitlines():
        m = _FENCE.match(line)
        if not m:
            continue
        marker, directive = m.group(1), m.group(2)
        if stack and directive is None and marker == stack[-1][0] and not line.strip().strip(marker[0]):
            stack.pop()  # a bare fence of the same length closes the innermost open block
            continue
        inside = [label for _, d, label in stack if d == "{solution}"]
        if inside and marker[0] in "`~" and inside[-1] not in found:
            found.append(inside[-1])
        if directive is not None or marker[0] in "`~":
            stack.append((marker, directive, line[m.end():].strip() or "(no label)"))
    return found


def test_fenced_code_in_solutions_is_found():
    text = ":::{solution} ex-a\n:class: dropdown\n```python\nprint(1)\n```\n:::\n"
    assert fenced_code_in_solutions(text) == ["ex-a"]
    nested = "::::{solution} ex-b\n:::{note}\n~~~\nx\n~~~\n:::\n::::\n:::{solution} ex-c\nprose\n:::\n"
    assert fenced_code_in_solutions(nested) == ["ex-b"]
    gated = ":::{solution-start} ex-d\n:class: dropdown\n:::\n"
    assert fenced_code_in_solutions(gated) == []
    outside = "```python\nx = 1\n```\n:::{solution} ex-e\nthe answer is 1\n:::\n"
    assert fenced_code_in_solutions(outside) == []


@pytest.mark.parametrize("path", book_notebooks(), ids=[str(p.relative_to(ROOT)) for p in book_notebooks()])
def test_solutions_with_code_are_executed_cells(path):
    """A solution's code runs as a code cell between `solution-start` and `solution-end` (CI re-checks its output),
    never as a code fence inside a markdown `{solution}` block (issue 17, item 8)."""
    bad = [(i, label) for i, c in enumerate(read(path).cells) if c.cell_type == "markdown"
           for label in fenced_code_in_solutions(c.source)]
    assert not bad, (f"{path.name}: code fences inside {{solution}} blocks (cell, label): {bad} — make the code an "
                     "executed cell between :::{solution-start} and :::{solution-end} markdown cells")


_PLOTTING_LINE = re.compile(
    r"^\s*(fig|axes?|ax\d*|plt|twin|cbar|handles|legend)\b|\.set_(x|y)label|\.legend\(|\.plot\(|\.semilogy\("
    r"|\.axhline|\.fill_between|\.annotate|\.text\(|set_alt_text")


def is_figure_plumbing(cell) -> bool:
    """A code cell that draws a figure, prints nothing, and is mostly matplotlib calls (8+ lines)."""
    if cell.cell_type != "code":
        return False
    # an explorer's output carries a PNG too (its starting frame, for readers without widgets): not a figure cell
    widget = "application/vnd.jupyter.widget-view+json"
    outputs = [o for o in cell.get("outputs", []) if widget not in o.get("data", {})]
    draws = any("image/png" in o.get("data", {}) for o in outputs)
    prints = any(o.get("output_type") == "stream" or
                 ("text/plain" in o.get("data", {}) and "image/png" not in o.get("data", {})) for o in outputs)
    lines = [line for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not draws or prints or len(lines) < 8:
        return False
    return sum(bool(_PLOTTING_LINE.search(line)) for line in lines) >= 0.4 * len(lines)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_figure_plumbing_is_folded(path):
    """Readers see the teaching code: long figure-drawing cells are folded behind a toggle (tag hide-input)."""
    unfolded = [i for i, cell in enumerate(read(path).cells) if is_figure_plumbing(cell)
                and not {"hide-input", "remove-input", "hide-cell", "remove-cell"} & set(cell.metadata.get("tags", []))]
    assert not unfolded, f"{path.name}: tag these figure cells hide-input: {unfolded}"

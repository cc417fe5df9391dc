"""The launch notebooks (launch/): current, free of MyST, and where the website's Colab and Binder buttons point.

scripts/launch_notebooks.py writes a plain-Markdown copy of every notebook of the book (the labs as their student
versions); book/_ext/launch_links.py points the launch buttons at them. Fast: no kernel, no site build.
"""

from __future__ import annotations

import copy
import functools
import re
import types

import nbformat
import pytest
from launch_notebooks import (
    LAUNCH,
    BookIndex,
    MystToMarkdown,
    _notebooks_in,
    book_notebooks,
    build_index,
    launch_notebook,
    launch_path,
    raw_myst,
    stale_files,
)
from notebooks import ROOT, toc_notebooks


@pytest.fixture(scope="module")
def index():
    return build_index()


def test_committed_launch_notebooks_are_current():
    problems = stale_files()
    assert not problems, "launch/ is not what book/ gives; run python scripts/launch_notebooks.py\n" + \
        "\n".join(problems)


def test_every_book_notebook_has_a_launch_notebook():
    assert book_notebooks() == toc_notebooks()
    for nb in toc_notebooks():
        assert (ROOT / launch_path(nb.relative_to(ROOT).as_posix())).is_file()


def _launch_copies():
    return sorted(_notebooks_in(LAUNCH))


@pytest.mark.parametrize("path", _launch_copies(), ids=lambda p: p.relative_to(LAUNCH).as_posix())
def test_launch_notebook_reads_cleanly_without_myst(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert raw_myst(text) == [], f"{path.name}: raw MyST {raw_myst(text)[:3]}"
    for needle in ("{cite}", "{ref}", "{numref}", "{doc}", ":::{", "```{", "{solution", "{exercise"):
        assert needle not in text, f"{path.name} still contains {needle}"
    source = ROOT / nb.metadata["gvcourse"]["launch_version_of"]
    book = nbformat.read(source, as_version=4)
    assert nb.cells[1].source == book.cells[0].source, "the install cell must stay, unchanged, before the chapter"
    assert "remove-cell" in book.cells[0].metadata["tags"]
    exercises = sum(c.source.count(":::{exercise}") for c in book.cells if c.cell_type == "markdown")
    numbers = [int(n) for n in re.findall(r"\*\*Exercise (\d+)[ .(]", text)]
    assert numbers == list(range(1, exercises + 1)), f"{path.name}: exercises numbered {numbers}"
    for target in re.findall(r"\]\(([^)\s#:]+\.ipynb)(?:#[^)]*)?\)", text):
        assert (path.parent / target).is_file(), f"{path.name}: the link {target} leads nowhere"
    if "{cite}" in "\n".join(c.source for c in book.cells if c.cell_type == "markdown"):
        assert nb.cells[-1].source.startswith("## References\n")
        assert "](#References)" in text


def test_chapters_keep_outputs_and_collapse_solutions():
    nb = nbformat.read(LAUNCH / "backprop.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert sum(bool(c.outputs) for c in code) > len(code) // 2, "a chapter's launch copy keeps its outputs"
    assert all("execution" not in c.metadata for c in code), "cell timings are not copied"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # backprop's solutions are executed code cells (gated), each announced before its code
    assert [n for n in range(1, 6) if f"**Solution to Exercise {n}.**" in text] == [1, 2, 3, 4]
    assert "&#91;[Rumelhart et al., 1986b](#References)&#93;" in text
    assert "\\[" not in text and "\\(" not in text, "a math delimiter to renderers that find math first"
    # normalization's solutions are prose: folded, one per exercise
    prose = nbformat.read(LAUNCH / "normalization.ipynb", as_version=4)
    text = "\n".join(c.source for c in prose.cells if c.cell_type == "markdown")
    assert text.count("<details>") == text.count("</details>") == 3
    assert "<summary><b>Solution to Exercise 1</b></summary>" in text


def test_labs_open_as_student_versions():
    for path in sorted((LAUNCH / "labs").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "Solution to Exercise" not in text and "<details>" not in text, f"{path.name} shows a solution"
        for cell in nb.cells:
            tags = cell.metadata.get("tags", [])
            assert not {"solution", "instructor"} & set(tags), f"{path.name} keeps a solution cell"
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: a student notebook has no outputs (no '✓ correct')"
        assert any("scaffold" in c.metadata.get("tags", []) for c in nb.cells)
        assert nb.metadata["gvcourse"]["student_version"] is True


# -- the website's launch buttons ----------------------------------------------------------------------------------


@functools.cache
def _theme_options() -> dict:
    """html_theme_options as Jupyter Book 1 derives them from _config.yml (repository, launch_buttons, …)."""
    from jupyter_book.config import get_final_config

    config, _ = get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                 cli_config={"latex_individualpages": False})
    return config["html_theme_options"]


def _theme_launch_urls(page: str) -> dict[str, str]:
    """The Colab and Binder URLs sphinx-book-theme builds for ``page`` from _config.yml, after launch_links."""
    from launch_links import _retarget_buttons
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    options = copy.deepcopy(_theme_options())
    app = types.SimpleNamespace(
        builder=None, srcdir=str(ROOT), config=_Config(html_theme_options=options, html_context={}),
        env=types.SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                                  metadata={page: {"kernelspec": {"name": "python3"}}}))
    update_context_with_repository_info(app)
    context = {"header_buttons": [], "pagename": page, "sourcename": f"{page}.ipynb", **app.config.html_context}
    add_launch_buttons(app, page, "page.html", context, None)
    _retarget_buttons(app, page, "page.html", context, None)
    group = next(b for b in context["header_buttons"] if b.get("label") == "launch-buttons")
    return {b["text"]: b["url"] for b in group["buttons"]}


class _Config(types.SimpleNamespace):
    """Sphinx's config: attributes, and ``config["name"]`` as sphinx-book-theme reads it."""

    def __getitem__(self, key):
        return getattr(self, key)


@pytest.mark.parametrize("nb", toc_notebooks(), ids=lambda p: p.stem)
def test_colab_and_binder_buttons_open_an_existing_launch_notebook(nb):
    from bootstrap_cell import repository_url

    page = nb.relative_to(ROOT).with_suffix("").as_posix()
    urls = _theme_launch_urls(page)
    target = launch_path(f"{page}.ipynb")
    repo = repository_url().removeprefix("https://github.com/")
    assert urls == {"Binder": f"https://mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/{target}",
                    "Colab": f"https://colab.research.google.com/github/{repo}/blob/main/{target}"}
    assert (ROOT / target).is_file()


def test_launch_path_rule():
    assert launch_path("book/backprop.ipynb") == "launch/backprop.ipynb"
    assert launch_path("book/labs/lab1_backprop.ipynb") == "launch/labs/lab1_backprop.ipynb"
    for bad in ("book/closing.md", "backprop.ipynb", "launch/backprop.ipynb", "book"):
        with pytest.raises(ValueError, match="not a notebook under book/"):
            launch_path(bad)


# -- the MyST converter ---------------------------------------------------------------------------------------------


def _converter(sources=()):
    index = BookIndex(labels={"he2016deep": "He et al., 2016a", "glorot2010understanding": "Glorot and Bengio, 2010"},
                      entries={"he2016deep": "K. He. Deep residual learning.", "glorot2010understanding": "X. G."},
                      order=["glorot2010understanding", "he2016deep"])
    index.add_page("book/x.ipynb", sources)
    index.targets["sec-a"] = ("book/y.ipynb", "A section")
    return MystToMarkdown("book/x.ipynb", index, repo_url="https://github.com/o/r")


EXERCISES = [":::{exercise}\n:label: ex-a\nFirst.\n:::", ":::{exercise} A title\n:label: ex-b\n$$\nx\n$$\n:::"]


def test_citations_become_author_year_links_and_a_references_section():
    c = _converter()
    assert c.convert("as {cite}`he2016deep,glorot2010understanding` show") == \
        "as &#91;[He et al., 2016a](#References); [Glorot and Bengio, 2010](#References)&#93; show"
    assert c.convert("{cite:t}`he2016deep`") == "He et al. &#91;[2016a](#References)&#93;"
    refs = c.references()
    assert refs.index("Glorot and Bengio") < refs.index("He et al.") and refs.startswith("## References")
    with pytest.raises(ValueError, match="nobody2020"):
        c.convert("{cite}`nobody2020`")


def test_exercises_are_numbered_per_page_and_solutions_collapse():
    c = _converter(EXERCISES)
    assert c.convert(EXERCISES[0]) == "**Exercise 1.** First."
    assert c.convert(EXERCISES[1]) == "**Exercise 2 (A title).**\n\n$$\nx\n$$"
    solution = c.convert(":::{solution} ex-b\n:class: dropdown\nIt is **2**.\n```python\nprint(2)\n```\n:::")
    assert solution == ("<details>\n<summary><b>Solution to Exercise 2</b></summary>\n\nIt is **2**.\n```python\n"
                        "print(2)\n```\n\n</details>")
    assert c.convert("see {ref}`ex-a` and {ref}`the section <sec-a>`") == "see Exercise 1 and [the section](y.ipynb)"
    with pytest.raises(ValueError, match="no exercise is labelled 'ex-z'"):
        c.convert(":::{solution} ex-z\n:::")


def test_gated_solution_cells_stay_executable_after_a_solution_line():
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell("# install", metadata={"tags": ["remove-cell"]}),
                  nbformat.v4.new_markdown_cell("# T\n\n" + EXERCISES[0]),
                  nbformat.v4.new_markdown_cell(":::{solution-start} ex-a\n:class: dropdown\n:::"),
                  nbformat.v4.new_code_cell("print(41 + 1)", outputs=[nbformat.v4.new_output("stream", text="42\n")],
                                            execution_count=3),
                  nbformat.v4.new_markdown_cell("It prints 42."),
                  nbformat.v4.new_markdown_cell(":::{solution-end}\n:::\n\nAfter the solution."),
                  nbformat.v4.new_code_cell("x = 1", outputs=[], execution_count=4,
                                            metadata={"tags": ["hide-input"]})]
    root = _tmp_book(book)
    index = BookIndex()
    index.add_page("book/x.ipynb", [c.source for c in book.cells if c.cell_type == "markdown"])
    nb = launch_notebook(root / "book" / "x.ipynb", index, root=root)
    sources = [c.source for c in nb.cells]
    assert sources[1] == "# install"
    assert sources[3].startswith("**Solution to Exercise 1.** Try the exercise yourself first")
    code = nb.cells[4]
    assert code.source == "print(41 + 1)" and code.outputs == [] and code.metadata["jupyter"]["source_hidden"]
    assert sources[5] == "<details>\n<summary><b>Solution to Exercise 1: what the code shows</b></summary>\n\n" \
        "It prints 42.\n\n</details>"
    assert sources[6] == "*End of the solution to Exercise 1.*\n\nAfter the solution."
    assert nb.cells[7].metadata["jupyter"]["source_hidden"] and nb.cells[7].execution_count == 4


def _tmp_book(nb):
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp())
    (root / "book").mkdir()
    nbformat.write(nb, root / "book" / "x.ipynb")
    return root


def test_admonitions_roles_in_code_and_unknown_markup():
    c = _converter()
    assert c.convert("```{admonition} Key idea\n:class: important\nProducts vanish.\n```") == \
        "**Key idea.** Products vanish."
    assert c.convert(":::{note}\n* a list\n:::") == "**Note.**\n\n* a list"
    assert c.convert("```{admonition} More\n:class: dropdown\nHidden.\n```") == \
        "<details>\n<summary><b>More</b></summary>\n\nHidden.\n\n</details>"
    quoted = "write `{cite}` roles, and\n```md\n:::{exercise}\n```"
    assert c.convert(quoted) == quoted and raw_myst(quoted) == []
    assert raw_myst("a {cite}`x` b") == ["{cite}`x`"]
    assert c.convert("(sec-x)=\n## Heading") == "## Heading"
    assert c.convert("the rocket ({fa}`rocket`)") == "the rocket (🚀)"
    with pytest.raises(ValueError, match=r"directive \{tableofcontents\}"):
        c.convert("```{tableofcontents}\n```")
    with pytest.raises(ValueError, match=r"role \{unknownrole\}"):
        c.convert("{unknownrole}`x`")


def test_links_to_markdown_pages_leave_the_notebook_folder(index):
    c = MystToMarkdown("book/intro.ipynb", index, repo_url="https://github.com/o/r")
    if index.baseurl:
        pytest.skip("html.baseurl is set: links go to the website")
    assert c.links("[Closing](closing.md) and [lab](labs/lab1_backprop.ipynb)") == \
        "[Closing](https://github.com/o/r/blob/main/book/closing.md) and [lab](labs/lab1_backprop.ipynb)"
    assert c.links("[References](references.md)") == "[References](https://github.com/o/r/blob/main/book/references.bib)"


def test_build_warns_when_a_launch_notebook_is_missing(tmp_path, caplog):
    """Under -W the site build fails rather than publish a Colab button that opens nothing."""
    from launch_links import _retarget_buttons

    app = types.SimpleNamespace(srcdir=str(tmp_path), config=_Config(html_theme_options={"path_to_docs": ""}))
    url = "https://colab.research.google.com/github/o/r/blob/main/book/x.ipynb"
    context = {"header_buttons": [{"label": "launch-buttons", "buttons": [{"text": "Colab", "url": url}]}]}
    with caplog.at_level("WARNING"):
        _retarget_buttons(app, "book/x", "page.html", context, None)
    assert "launch/x.ipynb does not exist; run python scripts/launch_notebooks.py" in caplog.text
    assert context["header_buttons"][0]["buttons"][0]["url"].endswith("/blob/main/launch/x.ipynb")

#!/usr/bin/env python3
"""Write the launch notebooks: the copies of the chapters and labs that Colab and Binder open.

    python scripts/launch_notebooks.py            # rewrite launch/ from book/
    python scripts/launch_notebooks.py --check    # exit 1 if launch/ is not what book/ gives (what the test checks)
    python scripts/launch_notebooks.py --out DIR  # write them somewhere else

Why: the book's notebooks are written in MyST for Jupyter Book — ``{cite}`` roles, ``:::{exercise}`` and
``:::{solution}`` blocks, admonitions, gated ``{solution-start}``/``{solution-end}`` cells. Plain Jupyter and Colab
show that markup as text, with every solution in full view under its exercise. The website's Colab and Binder
buttons therefore open these launch notebooks (``book/_ext/launch_links.py`` points them here), which carry the
same cells in plain Markdown:

- citations read "[He et al., 2016a]" as on the website (the same author-year labels, from
  ``book/_ext/author_year_bib.py``), each linked to a "References" section at the end of the notebook that lists
  the works the page cites (the bibliography has no DOIs or URLs to link to instead);
- ``{ref}``/``{numref}``/``{doc}`` become text or a link to the other launch notebook, ``{glue}`` the glued value,
  ``{eval}`` its expression as code, ``{fa}`` icons a character;
- exercises open with a bold "Exercise N" (numbered per page, as on the website), admonitions with their bold title;
- solutions are collapsed in an HTML ``<details>`` element (Jupyter and Colab both render it); the code cells of a
  gated solution stay where they are and stay executable (moving them would run them in a different state), after
  a bold "Solution to Exercise N" line, with their outputs cleared and their source collapsed in JupyterLab; the
  markdown cells between them (which quote the numbers) are collapsed in ``<details>``;
- cell tags: the first cell (``remove-cell``: it installs gvcourse on Colab) is kept and runs; ``remove-output``
  cells (live explorers that need a kernel) lose their stored output; ``hide-input``/``remove-input`` and
  ``hide-output`` collapse the source or output in JupyterLab (``metadata.jupyter``).

Outputs. A chapter's launch notebook **keeps the stored outputs** (without cell timings): Colab shows a notebook
before anything runs, so the reader sees the figures and the numbers the prose quotes at once, as on the website,
and "Run all" reproduces them (every chapter applies the numerics policy). The cost is a second copy of the outputs
in the repository, and the launch notebooks must be rewritten whenever a chapter is re-executed —
``tests/test_launch_notebooks.py`` fails until they are. The **labs** open as their student versions
(``scripts/student_labs.py``: solutions and instructor cells removed, scaffolds shown, outputs cleared): a student
who presses the Colab button gets a notebook to work in, with no answer and no "✓ correct" in sight.

Links between notebooks stay relative (``launch/`` has the layout of ``book/``); links to the Markdown pages of the
book (``closing.md``, ``labs/facilitator.md``, …) point to the website when ``html.baseurl`` is set in
``_config.yml``, otherwise to the file on GitHub.
"""

from __future__ import annotations

import argparse
import copy
import filecmp
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "scripts"))

from bootstrap_cell import repository_url  # noqa: E402
from launch_links import BOOK_DIR, LAUNCH_DIR, launch_path  # noqa: E402

LAUNCH = ROOT / LAUNCH_DIR
LAB_DIR = "labs"

ADMONITIONS = {"admonition": "", "note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning",
               "caution": "Caution", "attention": "Attention", "danger": "Danger", "error": "Error", "hint": "Hint",
               "seealso": "See also", "margin": "", "sidebar": ""}
ICONS = {"rocket": "🚀"}
SOLUTION_SUMMARY = "Solution to Exercise {n}"

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>:{3,}|`{3,}|~{3,})\{(?P<name>[\w:.-]+)\}[ \t]*(?P<arg>.*?)\s*$")
_CODE_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_OPTION = re.compile(r"^[ \t]*:(?P<key>[\w-]+):[ \t]*(?P<value>.*?)\s*$")
_TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
_COMMENT = re.compile(r"^%")
# a role, or a code span / math that must be left alone (scanned left to right, so whatever starts first wins)
_INLINE = re.compile(r"(?P<role>\{(?P<name>[a-z][\w:+.-]*)\}(?P<tick>`+)(?P<content>.+?)(?P=tick))"
                     r"|(?P<code>(?P<ctick>`+).+?(?P=ctick))"
                     r"|(?P<math>\$\$.+?\$\$|\$[^$\n]+\$)", flags=re.S)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", flags=re.S)
_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$", flags=re.M)
_PLAIN_START = re.compile(r"^(?![ \t]*([-*+>|#<]|\d+[.)]|\$\$|`{3}|~{3}|:{3}|\s*$))")
_CITE_ROLES = ("cite", "cite:p", "cite:ps", "cite:t", "cite:ts")


# ---------------------------------------------------------------------------------------------------------------------
# What a page refers to: its exercises, targets and citations, and the bibliography's author-year labels


def toc_documents(root: Path = ROOT) -> list[Path]:
    """The book's pages (notebooks and Markdown), in the order of ``_toc.yml``."""
    entries = re.findall(r"^\s*-?\s*(?:root|file):\s*([^\s#]+)", (root / "_toc.yml").read_text(), flags=re.M)
    docs = []
    for entry in entries:
        for ext in (".ipynb", ".md"):
            if (root / f"{entry}{ext}").is_file():
                docs.append(root / f"{entry}{ext}")
                break
    return docs


def markdown_sources(path: Path) -> list[str]:
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def raw_myst(text: str) -> list[str]:
    """MyST markup in Markdown text, outside code blocks and code spans (where it is only quoted)."""
    found, closing, kept = [], None, []
    for line in text.splitlines():
        if closing is None:
            m = _CODE_FENCE.match(line)
            if m and not _DIRECTIVE.match(line):
                closing = m.group("fence")
                continue
            kept.append(line)
        elif _closes(line, closing):
            closing = None
    prose = "\n".join(kept)
    found += [m.group(0) for m in _INLINE.finditer(prose) if m.group("role")]
    found += [m.group(0) for m in re.finditer(r"^[ \t]*(:{3,}|`{3,}|~{3,})\{.*$|^\([^()\s]+\)=\s*$", prose, flags=re.M)]
    return found


@dataclass
class BookIndex:
    """Exercises (label -> page, number), targets (label -> page, title) and the citation labels of the book."""

    exercises: dict[str, tuple[str, int]] = field(default_factory=dict)
    targets: dict[str, tuple[str, str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # bibtex key -> "He et al., 2016a"
    entries: dict[str, str] = field(default_factory=dict)  # bibtex key -> the formatted entry, in Markdown
    order: list[str] = field(default_factory=list)  # keys in the bibliography's order
    glue: dict[str, dict[str, str]] = field(default_factory=dict)  # page -> glued name -> text
    baseurl: str = ""

    def add_page(self, page: str, sources: Sequence[str]) -> None:
        number = 0
        for text in sources:
            lines = text.splitlines()
            for i, line in enumerate(lines):
                m = _DIRECTIVE.match(line)
                if m and m.group("name") in ("exercise", "exercise-start"):
                    number += 1
                    label = _options(lines[i + 1:])[0].get("label")
                    if label:
                        self.exercises[label] = (page, number)
                t = _TARGET.match(line)
                if t:
                    heading = _HEADING.search("\n".join(lines[i + 1:]))
                    self.targets[t.group("label")] = (page, heading.group("text") if heading else t.group("label"))


def cited_keys(text: str) -> list[str]:
    keys = []
    for m in _INLINE.finditer(text):
        if m.group("role") and m.group("name") in _CITE_ROLES:
            keys += [k.strip() for k in m.group("content").split(",") if k.strip()]
    return keys


def build_index(root: Path = ROOT) -> BookIndex:
    """Index every page of the book and format the bibliography as the website does (the works cited anywhere)."""
    import author_year_bib
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin, register_plugin

    index = BookIndex(baseurl=_baseurl(root))
    cited: list[str] = []
    for doc in toc_documents(root):
        page = doc.relative_to(root).as_posix()
        sources = markdown_sources(doc)
        index.add_page(page, sources)
        for text in sources:
            cited += cited_keys(text)
        if doc.suffix == ".ipynb":
            index.glue[page] = _glued_values(nbformat.read(doc, as_version=4))
    bib = parse_file(str(root / "book" / "references.bib"))
    missing = sorted(set(cited) - set(bib.entries))
    if missing:
        raise ValueError(f"cited but not in book/references.bib: {', '.join(missing)}")
    register_plugin("pybtex.style.labels", "author_year", author_year_bib.AuthorYearLabelStyle)
    style = author_year_bib.AuthorYearStyle()
    backend = find_plugin("pybtex.backends", "markdown")()
    keys = list(dict.fromkeys(cited))
    urls: list[str] = []

    def placeholder(m: re.Match) -> str:  # pybtex's Markdown backend would print "\\url https\\://…"
        urls.append(m.group(1))
        return f"URLPLACEHOLDER{len(urls) - 1}X"

    for key in keys:
        for name, value in bib.entries[key].fields.items():
            bib.entries[key].fields[name] = re.sub(r"\\url\{([^{}]+)\}", placeholder, value)
    for entry in style.format_entries(style.sort([bib.entries[k] for k in keys])):
        # pybtex escapes every "." "-" "(" ")": fine in Markdown, but "\\(…\\)" and "\\[…\\]" are math delimiters to
        # renderers that find math before Markdown; brackets become entities
        text = " ".join(entry.text.render(backend).split())
        text = re.sub(r"\\([.()\-])", r"\1", text).replace("\\[", "&#91;").replace("\\]", "&#93;")
        text = re.sub(r"URLPLACEHOLDER(\d+)X", lambda m: f"<{urls[int(m.group(1))]}>", text)
        index.labels[entry.key] = entry.label
        index.entries[entry.key] = text
        index.order.append(entry.key)
    return index


def _baseurl(root: Path) -> str:
    m = re.search(r"^html:\s*\n(?:[ \t]+.*\n)*?[ \t]+baseurl:\s*[\"']?([^\s\"']+)", (root / "_config.yml").read_text(),
                  flags=re.M)
    return m.group(1).rstrip("/") if m else ""


def _glued_values(nb) -> dict[str, str]:
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name and "text/plain" in out.get("data", {}):
                values[name] = "".join(out["data"]["text/plain"]).strip("'\"")
    return values


# ---------------------------------------------------------------------------------------------------------------------
# MyST to plain Markdown


def _options(lines: Sequence[str]) -> tuple[dict[str, str], int]:
    """The ``:key: value`` options at the start of a directive's body, and how many lines they take."""
    options, n = {}, 0
    if lines and lines[0].strip() == "---":  # YAML options block
        for n, line in enumerate(lines[1:], start=2):
            if line.strip() == "---":
                return options, n
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        raise ValueError("a directive's YAML options block (---) is never closed")
    for line in lines:
        m = _OPTION.match(line)
        if not m:
            break
        options[m.group("key")] = m.group("value")
        n += 1
    return options, n


def _closes(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def _lead(title: str, body: str) -> str:
    """``**title**`` in front of the body: on its first line when that is a plain paragraph, else a paragraph alone."""
    title = title.strip()
    bold = f"**{title}**" if title.endswith((".", "?", "!", ":")) else f"**{title}.**"
    if body and _PLAIN_START.match(body.splitlines()[0]):
        return f"{bold} {body}"
    return f"{bold}\n\n{body}" if body else bold


def _details(summary: str, body: str) -> str:
    return f"<details>\n<summary><b>{summary}</b></summary>\n\n{body}\n\n</details>"


class MystToMarkdown:
    """Converts one page's markdown cells, in order; keeps the state that spans cells (gated solutions)."""

    def __init__(self, page: str, index: BookIndex, repo_url: str | None = None):
        self.page = page  # "book/backprop.ipynb"
        self.index = index
        self.repo_url = repo_url or repository_url()
        self.cited: list[str] = []
        self.gated: tuple[str, str] | None = None  # ("solution" | "exercise", label) while inside a gated block

    # -- blocks --------------------------------------------------------------------------------------------------------

    def convert(self, text: str) -> str:
        lines, out, i = text.splitlines(), [], 0
        chunk: list[str] = []

        def flush():
            if chunk:
                out.append(self.inline("\n".join(chunk)))
                chunk.clear()

        while i < len(lines):
            line = lines[i]
            directive = _DIRECTIVE.match(line)
            fence = None if directive else _CODE_FENCE.match(line)
            if directive:
                flush()
                j = i + 1
                while j < len(lines) and not _closes(lines[j], directive.group("fence")):
                    j += 1
                body = lines[i + 1:j]
                options, n = _options(body)
                out.append(self.directive(directive.group("name"), directive.group("arg"), options, body[n:]))
                i = j + 1
            elif fence:
                flush()
                j = i + 1
                while j < len(lines) and not _closes(lines[j], fence.group("fence")):
                    j += 1
                out.append("\n".join(lines[i:j + 1]))
                i = j + 1
            elif _TARGET.match(line) or _COMMENT.match(line):
                i += 1
            else:
                chunk.append(line)
                i += 1
        flush()
        result = "\n".join(out)
        return re.sub(r"\n{3,}", "\n\n", result).strip("\n")

    def directive(self, name: str, arg: str, options: dict[str, str], body: list[str]) -> str:
        content = self.convert("\n".join(body))
        classes = options.get("class", "").split()
        if name in ("exercise", "exercise-start"):
            number = self._exercise_number(options.get("label"))
            title = f"Exercise {number}" + (f" ({self.inline(arg)})" if arg else "")
            if name == "exercise-start":
                self.gated = ("exercise", options.get("label", ""))
            return _lead(title, content)
        if name == "exercise-end":
            self.gated = None
            return content
        if name == "solution":
            return _details(SOLUTION_SUMMARY.format(n=self._exercise_number(arg)), content)
        if name == "solution-start":
            n = self._exercise_number(arg)
            self.gated = ("solution", arg)
            note = (f"**{SOLUTION_SUMMARY.format(n=n)}.** Try the exercise yourself first: the code below, up to "
                    f"the end of the solution, solves it.")
            return f"{note}\n\n{content}" if content else note
        if name == "solution-end":
            if self.gated is None or self.gated[0] != "solution":
                return content  # a student version keeps the end marker of a solution it removed
            n = self._exercise_number(self.gated[1])
            self.gated = None
            end = f"*End of the solution to Exercise {n}.*"
            return f"{end}\n\n{content}" if content else end
        if name in ADMONITIONS or name == "dropdown":
            title = self.inline(arg) if arg else ADMONITIONS.get(name, "") or name.capitalize()
            if name == "dropdown" or "dropdown" in classes:
                return _details(title, content)
            return _lead(title, content) if title else content
        if name in ("figure", "image"):
            alt = options.get("alt", "")
            picture = f"![{alt}]({self._relative_asset(arg)})"
            return f"{picture}\n\n*{content}*" if content else picture
        if name == "math":
            return f"$$\n{chr(10).join(body).strip()}\n$$"
        if name in ("code-block", "code", "sourcecode", "code-cell"):
            return f"```{arg}\n{chr(10).join(body)}\n```"
        raise ValueError(f"{self.page}: the directive {{{name}}} has no plain-Markdown form in "
                         f"scripts/launch_notebooks.py; add one there (known: exercise, solution, the gated forms, "
                         f"admonitions, dropdown, figure, image, math, code-block)")

    # -- inline roles --------------------------------------------------------------------------------------------------

    def inline(self, text: str) -> str:
        return _INLINE.sub(lambda m: self.role(m.group("name"), m.group("content")) if m.group("role")
                           else m.group(0), text)

    def role(self, name: str, content: str) -> str:
        if name in _CITE_ROLES:
            return self._cite(name, [k.strip() for k in content.split(",") if k.strip()])
        explicit = _EXPLICIT.match(content)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else ("", content.strip())
        if name in ("ref", "numref"):
            return self._ref(name, text, target)
        if name == "doc":
            return self._doc(text, target)
        if name == "eval":
            return f"`{content}`"
        if name in ("glue", "glue:", "glue:text", "glue:any"):
            key = content.split(":")[0]
            values = self.index.glue.get(self.page, {})
            if key not in values:
                raise ValueError(f"{self.page}: {{{name}}}`{content}` names no glued value of this page")
            return values[key]
        if name == "fa":
            return ICONS.get(content.strip(), "")
        if name in ("math",):
            return f"${content}$"
        if name in ("code", "literal", "samp", "file"):
            return f"`{content}`"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        if name in ("abbr", "term", "dfn", "index"):
            return re.sub(r"\s*\([^)]*\)$", "", text or content)
        if name == "download":
            return f"[{text or target}]({target})"
        raise ValueError(f"{self.page}: the role {{{name}}} has no plain-Markdown form in scripts/launch_notebooks.py")

    def _cite(self, name: str, keys: list[str]) -> str:
        for key in keys:
            if key not in self.index.labels:
                raise ValueError(f"{self.page}: {{{name}}} cites {key!r}, which book/references.bib does not hold")
        self.cited += keys
        labels = [self.index.labels[k] for k in keys]
        if name in ("cite:t", "cite:ts"):  # "He et al. [2016a]"
            parts = []
            for label in labels:
                who, _, year = label.rpartition(", ")
                parts.append(f"{who} &#91;[{year}](#References)&#93;")
            return ", ".join(parts)
        # "[He et al., 2016a]" as on the website; entities, because "\\[" opens display math in some renderers
        return "&#91;" + "; ".join(f"[{label}](#References)" for label in labels) + "&#93;"

    def _ref(self, name: str, text: str, label: str) -> str:
        if label in self.index.exercises:
            page, number = self.index.exercises[label]
            title = f"Exercise {number}"
        elif label in self.index.targets:
            page, title = self.index.targets[label]
        else:
            raise ValueError(f"{self.page}: {{{name}}} refers to {label!r}, which no page of the book defines")
        if text:
            title = text.replace("{number}", title.rpartition(" ")[2]).replace("%s", title.rpartition(" ")[2])
        return title if page == self.page else f"[{title}]({self._link_to(page)})"

    def _doc(self, text: str, target: str) -> str:
        base = PurePosixPath(self.page).parent
        page = os.path.normpath((base / target).as_posix()) if not target.startswith("/") else target.lstrip("/")
        for ext in (".ipynb", ".md"):
            if (ROOT / f"{page}{ext}").is_file():
                page = f"{page}{ext}"
                break
        title = text or PurePosixPath(page).stem.replace("_", " ")
        return f"[{title}]({self._link_to(page)})"

    def _link_to(self, page: str) -> str:
        """A link from this launch notebook to another page of the book."""
        if page.endswith(".ipynb"):
            here = PurePosixPath(launch_path(self.page)).parent
            return PurePosixPath(os.path.relpath(launch_path(page), here)).as_posix()
        return self.page_url(page)

    def page_url(self, page: str) -> str:
        """The website's page when ``html.baseurl`` is set; else the file on GitHub (for the References page, the
        BibTeX file: GitHub shows references.md as a bare ``{bibliography}`` directive)."""
        if self.index.baseurl:
            return f"{self.index.baseurl}/{PurePosixPath(page).with_suffix('.html').as_posix()}"
        if page == f"{BOOK_DIR}/references.md":
            page = f"{BOOK_DIR}/references.bib"
        return f"{self.repo_url}/blob/main/{page}"

    def _relative_asset(self, path: str) -> str:
        if re.match(r"^[a-z]+://", path):
            return path
        source = (PurePosixPath(self.page).parent / path).as_posix()
        return PurePosixPath(os.path.relpath(source, PurePosixPath(launch_path(self.page)).parent)).as_posix()

    def _exercise_number(self, label: str | None) -> int:
        if not label or label not in self.index.exercises:
            raise ValueError(f"{self.page}: no exercise is labelled {label!r}")
        page, number = self.index.exercises[label]
        if page != self.page:
            raise ValueError(f"{self.page}: the solution of {label!r} is not on the page of its exercise ({page})")
        return number

    def links(self, text: str) -> str:
        """Markdown links to the book's ``.md`` pages point to the website or GitHub (they have no launch copy)."""

        def fix(m: re.Match) -> str:
            target, anchor = m.group("target"), m.group("anchor") or ""
            if re.match(r"^[a-z]+:", target) or not target.endswith(".md"):
                return m.group(0)
            page = os.path.normpath((PurePosixPath(self.page).parent / target).as_posix())
            url = self.page_url(page)
            return f"]({url}{anchor if self.index.baseurl else ''})"

        return re.sub(r"\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)", fix, text)

    def references(self) -> str:
        """The "References" section: the works this page cites, in the bibliography's order."""
        keys = [k for k in self.index.order if k in set(self.cited)]
        lines = ["## References", ""]
        lines += [f"- **&#91;{self.index.labels[k]}&#93;** {self.index.entries[k]}" for k in keys]
        if self.index.baseurl:
            lines += ["", f"The course's whole bibliography: [References]({self.page_url('book/references.md')})."]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# Notebooks


def _hide(cell, what: str) -> None:
    cell.metadata.setdefault("jupyter", {})[what] = True


def launch_notebook(path: Path, index: BookIndex, root: Path = ROOT, student: Callable | None = None):
    """The launch version of the book notebook at ``path`` (an ``nbformat`` node; the file is not modified)."""
    page = path.relative_to(root).as_posix()
    nb = nbformat.read(path, as_version=4)
    is_lab = PurePosixPath(page).parts[1] == LAB_DIR
    if is_lab:
        if student is None:
            from student_labs import student_notebook as student
        nb = student(nb)
    else:
        nb = copy.deepcopy(nb)
    converter = MystToMarkdown(page, index)
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            if "remove-cell" in tags:
                continue
            inside = converter.gated
            cell.source = converter.links(converter.convert(cell.source))
            if not cell.source.strip():
                continue
            if inside and inside[0] == "solution" and converter.gated == inside:  # prose of a gated solution
                n = converter._exercise_number(inside[1])
                cell.source = _details(f"{SOLUTION_SUMMARY.format(n=n)}: what the code shows", cell.source)
        elif cell.cell_type == "code":
            cell.metadata.pop("execution", None)
            if converter.gated and converter.gated[0] == "solution":
                cell.outputs, cell.execution_count = [], None
                _hide(cell, "source_hidden")
            if "remove-output" in tags:
                cell.outputs = []
            if set(tags) & {"hide-input", "remove-input"}:
                _hide(cell, "source_hidden")
            if set(tags) & {"hide-output"}:
                _hide(cell, "outputs_hidden")
            if "hide-cell" in tags:
                _hide(cell, "source_hidden")
                _hide(cell, "outputs_hidden")
        cells.append(cell)
    if converter.gated:
        raise ValueError(f"{page}: the gated {converter.gated[0]} of {converter.gated[1]!r} is never ended")
    title = f"[{_title(nb)}]({converter.page_url(page)})" if index.baseurl else f"\u201c{_title(nb)}\u201d"
    banner = (f"*A runnable copy of the page {title} of the course \"Vanishing Gradients\", for Jupyter and Colab. "
              f"Run the cells in order: the first installs the course package when it is missing.*")
    if is_lab:
        banner += " *This is the student version: solutions are not included.*"
    cells.insert(0, nbformat.v4.new_markdown_cell(banner))
    if converter.cited:
        cells.append(nbformat.v4.new_markdown_cell(converter.references()))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):  # stable ids: the same notebook gives the same file
        cell["id"] = f"cell-{i}"
    nb.metadata["gvcourse"] = {**nb.metadata.get("gvcourse", {}), "launch_version_of": page,
                               "generated_by": "scripts/launch_notebooks.py"}
    nbformat.validate(nb)
    leftover = [m for c in nb.cells if c.cell_type == "markdown" for m in raw_myst(c.source)]
    if leftover:
        raise ValueError(f"{page}: MyST markup left after the conversion: {leftover[0]!r}")
    return nb


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+?)\s*$", cell.source, flags=re.M)
            if m:
                return m.group(1)
    return "this chapter"


def book_notebooks(root: Path = ROOT) -> list[Path]:
    return [p for p in toc_documents(root) if p.suffix == ".ipynb"]


def write_launch_notebooks(dest: str | Path = LAUNCH, root: Path = ROOT) -> list[Path]:
    """Write the launch notebook of every notebook in ``_toc.yml`` under ``dest`` (``book/`` → ``dest/``)."""
    dest = Path(dest)
    if dest.resolve() == (root / BOOK_DIR).resolve():
        raise ValueError(f"the destination {dest} is the book itself; writing there would overwrite the chapters")
    index = build_index(root)
    written = []
    for path in book_notebooks(root):
        target = dest / PurePosixPath(launch_path(path.relative_to(root).as_posix())).relative_to(LAUNCH_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(launch_notebook(path, index, root), target)
        written.append(target)
    for old in set(_notebooks_in(dest)) - set(written):  # a chapter removed from the book: its launch copy goes
        if "launch_version_of" in nbformat.read(old, as_version=4).metadata.get("gvcourse", {}):
            old.unlink()
    return written


def _notebooks_in(folder: Path) -> list[Path]:
    """The notebooks under ``folder``, not Jupyter's ``.ipynb_checkpoints`` or other hidden folders."""
    if not folder.is_dir():
        return []
    return [p for p in folder.rglob("*.ipynb") if not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def stale_files(dest: Path = LAUNCH, root: Path = ROOT) -> list[str]:
    """What differs between ``dest`` and freshly generated launch notebooks (missing, changed or extra files)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.relative_to(tmp).as_posix() for p in write_launch_notebooks(tmp, root)}
        present = {p.relative_to(dest).as_posix() for p in _notebooks_in(dest)}
        problems = [f"missing {name}" for name in sorted(fresh - present)]
        problems += [f"not generated from book/: {name}" for name in sorted(present - fresh)]
        problems += [f"out of date {name}" for name in sorted(fresh & present)
                     if not filecmp.cmp(Path(tmp) / name, dest / name, shallow=False)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/launch_notebooks.py",
                                     description="Write the plain-Markdown notebooks that Colab and Binder open.")
    parser.add_argument("--out", metavar="DIR", default=str(LAUNCH), help="where to write them (default: launch/)")
    parser.add_argument("--check", action="store_true", help="only report whether launch/ is current")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale_files(Path(args.out))
            for problem in problems:
                print(problem)
            if problems:
                print("run: python scripts/launch_notebooks.py", file=sys.stderr)
            return 1 if problems else 0
        for path in write_launch_notebooks(args.out):
            print(f"wrote {path}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

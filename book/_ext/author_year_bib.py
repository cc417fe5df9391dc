"""Sphinx extension: an author–year bibliography to match the author–year citations in the text.

The text cites with sphinxcontrib-bibtex's ``author_year`` reference style ("[He et al., 2016]"), but the
bibliography's labels came from pybtex's alpha style ("[HZRS16]", "[CvMerrienboerG+14]"), so a reader could not find
a citation in the list. This registers

- a pybtex label style ``author_year`` ("He et al., 2016", "Glorot and Bengio, 2010", "Hochreiter, 1991"), with "a",
  "b", … after the year when two entries would read the same ("He et al., 2016a" and "He et al., 2016b");
- a pybtex formatting style ``author_year`` (pybtex's plain style, sorted by author, year and title, with those
  labels), set as ``bibtex_default_style``;
- a sphinxcontrib-bibtex reference style ``author_year_labelled``: ``author_year`` whose year is the year of the
  entry's label, so the text cites "[He et al., 2016a]" exactly as the bibliography lists it, and several works
  are separated by semicolons.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from pybtex.plugin import register_plugin as register_pybtex_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle, basic_author_year
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join, join2, node, post_text, pre_text, reference

YEAR_SEP = ", "


def _surnames(persons) -> list[str]:
    return [" ".join(str(part) for part in p.rich_prelast_names + p.rich_last_names) for p in persons]


class AuthorYearLabelStyle(BaseLabelStyle):
    def format_label(self, entry) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = _surnames(persons)
        if not names:
            who = entry.fields.get("organization") or entry.fields.get("title") or entry.key
        elif len(names) == 1:
            who = names[0]
        elif len(names) == 2:
            who = f"{names[0]} and {names[1]}"
        else:
            who = f"{names[0]} et al."
        return f"{who}{YEAR_SEP}{entry.fields.get('year', 'n.d.')}"

    def format_labels(self, sorted_entries):
        labels = [self.format_label(entry) for entry in sorted_entries]
        total, seen = Counter(labels), Counter()
        for label in labels:
            if total[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(PlainStyle):
    default_label_style = "author_year"


@node
def labelled_year(children, data):
    """The year as the bibliography's label writes it: "2016a" where two entries share author and year."""
    assert not children
    return Text(data["formatted_entry"].label.rpartition(YEAR_SEP)[2])


@dataclasses.dataclass
class _Parenthetical(basic_author_year.BasicAuthorYearParentheticalReferenceStyle):
    def inner(self, role_name):
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[join(sep=self.author_year_sep)[
                self.person.author_or_editor_or_title(full="s" in role_name), labelled_year]],
            post_text,
        ]


@dataclasses.dataclass
class _Textual(basic_author_year.BasicAuthorYearTextualReferenceStyle):
    def inner(self, role_name):
        return join(sep=self.text_reference_sep)[
            self.person.author_or_editor_or_title(full="s" in role_name),
            join[self.bracket.left,
                 join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[pre_text, reference[labelled_year], post_text],
                 self.bracket.right],
        ]


@dataclasses.dataclass
class AuthorYearLabelledReferenceStyle(AuthorYearReferenceStyle):
    # "[Bengio et al., 1994; Hochreiter, 1991]": a comma already separates author and year
    bracket_parenthetical: BracketStyle = dataclasses.field(default_factory=lambda: BracketStyle(sep="; "))

    def __post_init__(self):
        super().__post_init__()
        kinds = {basic_author_year.BasicAuthorYearParentheticalReferenceStyle: _Parenthetical,
                 basic_author_year.BasicAuthorYearTextualReferenceStyle: _Textual}
        self.styles[:] = [kinds[type(s)](**{f.name: getattr(s, f.name) for f in dataclasses.fields(s)})
                          if type(s) in kinds else s for s in self.styles]
        self.role_style.update((role, style) for style in self.styles for role in style.role_names())


def setup(app):
    register_pybtex_plugin("pybtex.style.labels", "author_year", AuthorYearLabelStyle)
    register_pybtex_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle)
    register_bibtex_plugin("sphinxcontrib.bibtex.style.referencing", "author_year_labelled",
                           AuthorYearLabelledReferenceStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

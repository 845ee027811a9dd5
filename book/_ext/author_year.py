"""Bibliography labels that match the author-year citations in the text.

The chapters cite with sphinxcontrib-bibtex's ``author_year`` reference style, "[Radhakrishnan et al., 2020]";
pybtex's ``plain`` style labels the references page "[1]", "[2]". The ``author_year`` formatting style
registered here is ``plain`` with labels built the same way as the citations: one author's last name, two
joined by "and", three or more as the first "et al.", then the year; works that would share a label get
"a", "b" after the year. The references are sorted as their labels read.
"""

from __future__ import annotations

from collections import Counter
from string import ascii_lowercase

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle

STYLE = "author_year"


def _last(person) -> str:
    """A person's last name as plain text (braces and TeX accents resolved)."""
    return Text.from_latex(" ".join(person.last_names)).render_as("text")


def author_year(entry) -> str:
    """``Ji and Telgarsky, 2019`` or ``Radhakrishnan et al., 2020`` for a pybtex ``entry``."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    if not people:
        names = entry.fields.get("title", entry.key)
    elif len(people) == 1:
        names = _last(people[0])
    elif len(people) == 2:
        names = f"{_last(people[0])} and {_last(people[1])}"
    else:
        names = f"{_last(people[0])} et al."
    return f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearOrder(BaseSortingStyle):
    """By the label's names, then year, then title: the order a reader looks a citation up in."""

    def sorting_key(self, entry):
        names, _, year = author_year(entry).rpartition(", ")
        return (names.lower(), year, entry.fields.get("title", "").lower())


class AuthorYearLabels(BaseLabelStyle):
    """Author-year labels, with a letter after the year where two works would share one."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        shared, seen = Counter(labels), Counter()
        for label in labels:
            if shared[label] > 1:
                seen[label] += 1
                label = f"{label}{ascii_lowercase[seen[label] - 1]}"
            yield label


class AuthorYearStyle(PlainStyle):
    """pybtex's ``plain`` entries, sorted by author, year and title, labelled author-year."""

    default_label_style = AuthorYearLabels
    default_sorting_style = AuthorYearOrder


def setup(app):
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

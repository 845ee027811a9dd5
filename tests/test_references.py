"""Every entry of references.bib links to the work: a DOI, a URL or an arXiv eprint (book/references.md promises one).

The references page is rendered by sphinxcontrib-bibtex with the book's ``author_year`` style (pybtex's ``plain``,
book/_ext/author_year.py), which shows a ``url`` as a link, an ``eprint`` as a link to https://arxiv.org/abs/<id>
and a ``doi`` as a link to https://doi.org/<doi>.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from docutils import nodes
from pybtex.database import BibliographyData, parse_file, parse_string
from pybtex_docutils import Backend

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("author_year", ROOT / "book" / "_ext" / "author_year.py")
author_year = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(author_year)

LINK_FIELDS = ("doi", "url", "eprint")
# arXiv identifiers: new style 1802.06509 (four or five digits after the dot), old style math.OC/0601001 or
# hep-th/9901001; an optional version, v2
ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})(v\d+)?")
DOI = re.compile(r"10\.\d{4,9}/\S+")
URL = re.compile(r"https?://\S+")


def _bibliography() -> BibliographyData:
    return parse_file(str(ROOT / "references.bib"))


def _field(entry, name: str) -> str:
    """A field's value whatever the case of its name in the file (``archivePrefix``, ``archiveprefix``)."""
    return entry.fields.get(name, "").strip()


def unlinked(bib: BibliographyData) -> list[str]:
    """Keys of the entries with none of doi, url and eprint."""
    return [key for key, entry in bib.entries.items() if not any(_field(entry, f) for f in LINK_FIELDS)]


def malformed(bib: BibliographyData) -> list[str]:
    """``key: field`` for each link field that does not look like its kind: an eprint that is no arXiv id or
    lacks ``archiveprefix = {arXiv}``, a doi that is not 10.NNNN/..., a url that is not http(s)."""
    bad = []
    for key, entry in bib.entries.items():
        doi, url, eprint = (_field(entry, f) for f in LINK_FIELDS)
        if eprint and (not ARXIV_ID.fullmatch(eprint) or _field(entry, "archiveprefix").lower() != "arxiv"):
            bad.append(f"{key}: eprint")
        if doi and not DOI.fullmatch(doi):
            bad.append(f"{key}: doi")
        if url and not URL.fullmatch(url):
            bad.append(f"{key}: url")
    return bad


def test_references_bib_is_not_empty():
    assert len(_bibliography().entries) >= 10


def test_every_reference_has_a_doi_url_or_eprint():
    assert unlinked(_bibliography()) == []


def test_every_link_field_is_well_formed():
    """Each eprint an arXiv id (NNNN.NNNNN or archive/NNNNNNN) marked arXiv, each doi a DOI, each url http(s)."""
    assert malformed(_bibliography()) == []


def test_every_reference_renders_a_link():
    """The configured style shows each entry with at least one clickable link, as the references page does."""
    bib = _bibliography()
    entries = list(author_year.AuthorYearStyle().format_entries(bib.entries.values()))
    assert len(entries) == len(bib.entries)
    for entry in entries:
        rendered = entry.text.render(Backend())
        links = [ref["refuri"] for node in rendered for ref in node.findall(nodes.reference)]
        assert any(URL.fullmatch(link) for link in links), f"{entry.key} ({entry.label}) renders no link"


BROKEN = {
    "no link": "@inproceedings{a2020x, title = {T}, author = {A, B}, booktitle = {C}, year = {2020}}",
    "an eprint that is no arXiv id": (
        "@misc{a2020x, title = {T}, author = {A, B}, year = {2020}, eprint = {2020.1}, archiveprefix = {arXiv}}"
    ),
    "an eprint not marked arXiv": "@misc{a2020x, title = {T}, author = {A, B}, year = {2020}, eprint = {2003.06340}}",
    "a doi given as a URL": "@article{a2020x, title = {T}, author = {A, B}, year = {2020}, doi = {doi.org/10.1/x}}",
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_checks_refuse_a_broken_entry(case):
    """The checks above can fail: an entry without a link, or with a malformed one, is reported."""
    bib = parse_string(BROKEN[case], "bibtex")
    assert unlinked(bib) + malformed(bib) != []

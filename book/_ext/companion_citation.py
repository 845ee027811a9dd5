"""How to cite the companion, from one place: ``CITATION.cff`` at the top of the repository.

``CITATION.cff`` holds the companion's authors, version and release date, and, once they exist, the website's
address (``url``) and the archive's DOI (``doi``). At build time this extension

- renders the ``bibtex-entries`` directive as the named entries of the book's ``.bib`` files, as written there;
- renders the ``companion-bibtex`` directive (the *How to cite* page) as the ``@software`` BibTeX entry built
  from that file, followed by a note that says where the URL and DOI come from, or that they are not set yet;
- sets ``html_baseurl`` (canonical links) from ``url`` when the file gives one;
- stops the build when ``author`` in ``_config.yml`` is not the file's authors, so that the book's footer, its
  PDF's title page and the citation never disagree.

README ("Site address and DOI") says how to fill in ``url`` and ``doi``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

CFF = "CITATION.cff"
KEY = "deeplinear_companion"


def read_citation(root: str | Path) -> dict:
    """The parsed ``CITATION.cff`` of the book in ``root``."""
    path = Path(root) / CFF
    if not path.exists():
        raise ConfigError(
            f"{CFF} is missing from {root}: the companion's citation is read from it"
        )
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def author_names(cff: dict) -> list[str]:
    """Each author as written in a bibliography: an entity's ``name``, a person's given and family names."""
    names = []
    for author in cff.get("authors", []):
        if "name" in author:
            names.append(str(author["name"]))
        else:
            given, family = (
                author.get("given-names", ""),
                author.get("family-names", ""),
            )
            names.append(f"{given} {family}".strip())
    return names


def _bibtex_author(cff: dict) -> str:
    parts = []
    for author in cff.get("authors", []):
        if "name" in author:
            parts.append(
                "{" + str(author["name"]) + "}"
            )  # an entity: BibTeX must not split it into names
        else:
            parts.append(
                f"{author.get('family-names', '')}, {author.get('given-names', '')}".strip(
                    ", "
                )
            )
    return " and ".join(parts)


def bibtex(cff: dict) -> str:
    """The companion's ``@software`` BibTeX entry, from ``cff`` only (no field that the file does not give)."""
    year = re.match(r"\d{4}", str(cff.get("date-released", ""))) or None
    fields = [
        ("title", cff["title"]),
        ("author", _bibtex_author(cff)),
        ("year", year.group(0) if year else None),
        ("version", cff.get("version")),
        ("url", cff.get("url") or cff.get("repository-code")),
        ("doi", cff.get("doi")),
        ("license", cff.get("license")),
    ]
    width = max(len(name) for name, value in fields if value)
    lines = [f"  {name:<{width}} = {{{value}}}" for name, value in fields if value]
    return f"@software{{{KEY},\n" + ",\n".join(lines) + "\n}"


def note(cff: dict) -> str:
    """What the entry's URL and DOI are, or that they are not set yet, in one or two sentences."""
    url = cff.get("url") or cff.get("repository-code")
    said = [
        f"The address is the published website, {url}."
        if url
        else "No web address is set yet."
    ]
    if cff.get("doi"):
        said.append(
            f"The DOI, https://doi.org/{cff['doi']}, resolves to the archived release."
        )
    else:
        said.append(
            "No DOI has been minted yet: until the archive exists, cite the version and the address "
            "you used, and check this page again later."
        )
    return " ".join(said)


class CompanionBibtex(SphinxDirective):
    """The companion's BibTeX entry and a note on its URL and DOI, read from ``CITATION.cff``."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        path = Path(self.env.srcdir) / CFF
        self.env.note_dependency(str(path))
        cff = read_citation(self.env.srcdir)
        block = nodes.literal_block(text=bibtex(cff), language="bibtex")
        return [block, nodes.paragraph(text=note(cff))]


class BibtexEntries(SphinxDirective):
    """The BibTeX source of the entries named in the argument, from the book's ``bibtex_bibfiles``."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False

    def run(self) -> list[nodes.Node]:
        from pybtex.database import BibliographyData, parse_file

        entries = {}
        for name in self.config.bibtex_bibfiles:
            path = Path(self.env.srcdir) / name
            self.env.note_dependency(str(path))
            entries.update(parse_file(str(path)).entries)
        keys = self.arguments[0].split()
        missing = [key for key in keys if key not in entries]
        if missing:
            raise self.error(
                f"not in {', '.join(self.config.bibtex_bibfiles)}: {', '.join(missing)}"
            )
        text = (
            BibliographyData(entries={key: entries[key] for key in keys})
            .to_string("bibtex")
            .strip()
        )
        return [nodes.literal_block(text=text, language="bibtex")]


def _config_inited(app, config) -> None:
    cff = read_citation(app.srcdir)
    authors = ", ".join(author_names(cff))
    if config.author != authors:
        raise ConfigError(
            f"author in _config.yml is {config.author!r}, CITATION.cff's authors are {authors!r}: "
            "make them the same (CITATION.cff is the one place that names the authors)"
        )
    if cff.get("url") and not config.html_baseurl:
        config.html_baseurl = str(cff["url"])


def setup(app):
    app.add_directive("companion-bibtex", CompanionBibtex)
    app.add_directive("bibtex-entries", BibtexEntries)
    app.connect("config-inited", _config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""How to cite the companion, from one place: ``CITATION.cff`` at the top of the repository.

``CITATION.cff`` holds the companion's authors, version and release date, and, once they exist, the website's
address (``url``) and the archive's DOI (``doi``). At build time this extension

- renders the ``bibtex-entries`` directive as the named entries of the book's ``.bib`` files, as written there;
- renders the ``companion-bibtex`` directive (the *How to cite* page) as the ``@software`` BibTeX entry built
  from that file, followed by a note that says where the URL and DOI come from, or that they are not set yet;
- ends every chapter's web page (each notebook of the book) with a *Cite this page* section: an ``@inbook``
  BibTeX entry for that chapter, with its title and number, built from the same file, whose URL is the page on
  the published website (``url``), else the notebook in the repository the book is built from
  (``book/_ext/launch_links.py``), else none;
- sets ``html_baseurl`` (canonical links) from ``url`` when the file gives one;
- stops the build when ``author`` in ``_config.yml`` is not the file's authors, so that the book's footer, its
  PDF's title page and the citation never disagree.

README ("Site address and DOI") says how to fill in ``url`` and ``doi``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

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


def _year(cff: dict) -> str | None:
    year = re.match(r"\d{4}", str(cff.get("date-released", "")))
    return year.group(0) if year else None


def chapter_bibtex(
    cff: dict,
    docname: str,
    title: str,
    number: int | None = None,
    url: str | None = None,
) -> str:
    """The ``@inbook`` BibTeX entry for one chapter (page ``docname``, titled ``title``, numbered ``number`` when
    it is in a numbered part) of the companion described by ``cff``."""
    fields = [
        ("title", title),
        ("chapter", number),
        ("booktitle", cff["title"]),
        ("author", _bibtex_author(cff)),
        ("year", _year(cff)),
        ("version", cff.get("version")),
        ("url", url),
        ("doi", cff.get("doi")),
    ]
    width = max(len(name) for name, value in fields if value)
    lines = [f"  {name:<{width}} = {{{value}}}" for name, value in fields if value]
    key = f"{KEY}_" + re.sub(
        r"\W+", "_", Path(docname).name.split("-")[0] if number else Path(docname).name
    )
    return f"@inbook{{{key},\n" + ",\n".join(lines) + "\n}"


def page_url(
    cff: dict, docname: str, repository: str | None, branch: str, suffix: str
) -> str | None:
    """Where a chapter lives: its page on the published website, else its source in the repository, else None."""
    if cff.get("url"):
        return urljoin(str(cff["url"]).rstrip("/") + "/", f"{docname}.html")
    if repository:
        return f"{repository}/blob/{branch}/{docname}{suffix}"
    return None


def _cite_this_page(app, doctree, docname) -> None:
    """Append *Cite this page* to a chapter's (a notebook's) web page."""
    source = Path(app.env.doc2path(docname))
    if app.builder.format != "html" or source.suffix != ".ipynb":
        return
    top = next(iter(doctree.findall(nodes.section)), None)
    if top is None:
        return
    cff = read_citation(app.srcdir)
    numbers = app.env.toc_secnumbers.get(docname, {}).get("")
    number = numbers[0] if numbers else None
    title = app.env.titles[docname].astext()
    repository = app.config.html_theme_options.get("repository_url") or None
    branch = app.config.html_theme_options.get("repository_branch") or "main"
    url = page_url(cff, docname, repository, branch, source.suffix)
    # a container with a rubric, not a section: a section added now would be numbered as the page itself
    section = nodes.container(ids=["cite-this-page"], classes=["cite-this-page"])
    section += nodes.rubric(text="Cite this page")
    said = (
        f"Chapter {number} of the companion" if number else "This page of the companion"
    )
    cite = "book/how-to-cite"
    how = (
        nodes.reference(
            "", "How to cite", refuri=app.builder.get_relative_uri(docname, cite)
        )
        if cite in app.env.all_docs
        else nodes.Text("How to cite")
    )
    section += nodes.paragraph(
        "",
        "",
        nodes.Text(
            f"{said} in BibTeX, from CITATION.cff (the whole companion and the two papers: "
        ),
        how,
        nodes.Text("):"),
    )
    section += nodes.literal_block(
        text=chapter_bibtex(cff, docname, title, number, url), language="bibtex"
    )
    top += section


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
    app.connect("doctree-resolved", _cite_this_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""The website in a real browser: math typeset, images load, no console errors, no outward requests.

Builds the book from the committed (executed) notebooks without re-executing them, serves it on
127.0.0.1 and opens every page in Debian's headless Chromium through Playwright. Skipped, with a
message saying so, where Chromium is not installed (.ci/run installs it, so CI always runs this).
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import http.server
import os
import re
import shutil
import struct
import subprocess
import sys
import threading
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

from deeplinear_book import ledger, numbers

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="SKIPPED the browser test of the website: Chromium is not installed (apt-get install chromium)",
)
# Outward links allowed in the page chrome: the launch buttons (and nothing else).
LAUNCH_HOSTS = {"mybinder.org", "colab.research.google.com"}
# The site is built as if published from this repository, so that the launch buttons appear.
REPOSITORY = "https://github.com/example-org/deeplinear-companion"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The book built from the committed notebooks (no execution), with the repository's config."""
    out = tmp_path_factory.mktemp("site")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    # Paths in a --config file are read relative to that file: make them absolute.
    config["bibtex_bibfiles"] = [str(ROOT / p) for p in config["bibtex_bibfiles"]]
    config["sphinx"]["local_extensions"] = {
        name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()
    }
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [
            str(jb),
            "build",
            str(ROOT),
            "--config",
            str(out / "_config.yml"),
            "--path-output",
            str(out),
            "--warningiserror",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "DEEPLINEAR_REPOSITORY_URL": REPOSITORY},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html"


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*.html") if "_static" not in p.parts)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, bool]] = []  # (href, inside the article body)
        self.ids: set[str] = set()
        self._depth = 0  # nesting depth inside <article>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "article":
            self._depth += 1
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], self._depth > 0))

    def handle_endtag(self, tag):
        if tag == "article" and self._depth:
            self._depth -= 1


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


class _Text(HTMLParser):
    """The text of a page's article, without scripts and styles."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _page_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return re.sub(r"\s+", " ", "".join(parser.parts))


def test_pages_show_the_committed_numbers_that_the_report_reads(site):
    """Every {glue:text} number on a chapter page is the committed one (which nbval verifies and the
    reproduction report reads), formatted as the page asks and written for a reader (2.7×10⁻²⁸): pages and report
    agree on every machine."""
    from deeplinear_book import glued_text

    missing, checked = [], 0
    for nb in sorted((ROOT / "book").glob("0*.ipynb")):
        values = glued_text(nb)
        text = _page_text(site / "book" / f"{nb.stem}.html").replace("\u2019", "'")  # Sphinx's smart quotes
        source = "\n".join(
            c["source"] if isinstance(c["source"], str) else "".join(c["source"])
            for c in yaml.safe_load(nb.read_text())["cells"]
            if c["cell_type"] == "markdown"
        )
        for name, spec in re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)(?::([^`]*))?`", source):
            try:  # a glued string is stored as its repr: '...' or, holding an apostrophe, "..."
                raw = str(ast.literal_eval(values[name]))
            except (ValueError, SyntaxError):
                raw = values[name]
            try:
                shown = f"{float(raw):{spec}}" if spec else raw
            except ValueError:
                shown = raw
            shown = numbers.reader_text(shown)  # as the build writes it for a reader (book/_ext/reader_numbers.py)
            checked += 1
            if shown not in text:
                missing.append(f"{nb.stem}: {name} should read {shown!r}")
    assert checked > 100, checked
    assert not missing, "\n".join(missing)


def test_internal_links_resolve(site):
    ids = functools.cache(lambda target: _parse(target).ids)  # every chapter links into api.html hundreds of times
    broken = []
    for page in _pages(site):
        for href, _ in _parse(site / page).links:
            url = urlparse(href)
            if url.scheme or href.startswith(("mailto:", "javascript:")):
                continue
            target = (site / page).parent / unquote(url.path) if url.path else site / page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page}: {href}")
            elif url.fragment and target.suffix == ".html" and url.fragment not in ids(target):
                broken.append(f"{page}: {href} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_every_ledger_row_has_one_anchor_that_its_chapters_summary_links_to(site):
    """The reproduction report gives each row of the claims ledger one anchor, made from its id
    (deeplinear_book.ledger.anchor), and each chapter's Summary links each of its rows there (the links resolve:
    test_internal_links_resolve)."""
    book = ledger.load(ROOT / "book" / "ledger.toml")
    ids = re.findall(r'\bid="([^"]+)"', (site / "book" / "reproduction-report.html").read_text(encoding="utf-8"))
    problems = [
        f"{e.number} {e.id}: {ids.count(ledger.anchor(e))} anchors"
        for e in book.rows()
        if ids.count(ledger.anchor(e)) != 1
    ]
    for chapter in book.chapters():
        page = (site / "book" / f"{chapter}.html").read_text(encoding="utf-8")
        linked = set(re.findall(r'href="reproduction-report\.html#([\w-]+)"', page))
        problems += [
            f"{chapter}: its Summary does not link {e.number} {e.id}"
            for e in book.for_chapter(chapter)
            if ledger.anchor(e) not in linked
        ]
    assert not problems, "\n".join(problems)


def test_only_launch_buttons_link_outward_from_the_page_chrome(site):
    outward = []
    for page in _pages(site):
        for href, in_article in _parse(site / page).links:
            host = urlparse(href).hostname
            if host and not in_article and host not in LAUNCH_HOSTS:
                outward.append(f"{page}: {href}")
    assert not outward, "\n".join(outward)


def _launch_links(html: str) -> list[str]:
    return [
        unescape(h) for h in re.findall(r'href="(https://(?:mybinder\.org|colab\.research\.google\.com)/[^"]*)"', html)
    ]


def test_launch_buttons_open_each_chapter_on_binder_and_colab(site):
    """Every notebook page launches *its own* notebook, at the configured branch; other pages don't."""
    branch = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"]
    org_repo = urlparse(REPOSITORY).path.strip("/")
    notebooks = {f"book/{nb.stem}.html": f"book/{nb.name}" for nb in (ROOT / "book").glob("*.ipynb")}
    assert notebooks
    for page in _pages(site):
        links = set(_launch_links((site / page).read_text(encoding="utf-8")))
        if page not in notebooks:
            assert not links, f"{page} is not a notebook but has launch buttons: {links}"
            continue
        source = notebooks[page]
        assert (ROOT / source).is_file()
        assert links == {
            f"https://mybinder.org/v2/gh/{org_repo}/{branch}?urlpath=lab/tree/{source}",
            f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{source}",
        }, page


def test_every_chapter_has_a_download_button_for_its_notebook(site):
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        html = (site / "book" / f"{nb.stem}.html").read_text(encoding="utf-8")
        assert f"_sources/book/{nb.stem}.ipynb" in html, nb.stem
        assert (site / "_sources" / "book" / f"{nb.stem}.ipynb").exists()


def test_library_calls_in_a_chapter_link_to_the_api_page(site):
    """sphinx-codeautolink turns each library call in a code cell into a link to its API entry."""
    for chapter, target in (
        ("01-alignment", "deeplinear.metrics.alignment_defect"),
        ("04-singular-value-dynamics", "deeplinear.dynamics.planted_problem"),
        ("08-mnist-classification", "deeplinear.reduction.reduce_network"),
    ):
        html = (site / "book" / f"{chapter}.html").read_text(encoding="utf-8")
        assert f'api.html#{target}"' in html, (chapter, target)
        anchor = f'id="{target}"'
        assert anchor in (site / "book" / "api.html").read_text(encoding="utf-8"), target


def test_figures_have_images_captions_and_alt_text(site):
    chapters = [f"book/{nb.stem}.html" for nb in (ROOT / "book").glob("*.ipynb")]
    figures = 0
    for page in _pages(site):
        html = (site / page).read_text(encoding="utf-8")
        for figure in html.split("<figure")[1:]:
            figure = figure.split("</figure>")[0]
            figures += 1
            assert "<img" in figure, (
                f"{page}: a figure without its image (was the chapter executed with a GUI-less backend?)"
            )
            assert "<figcaption" in figure, f"{page}: a figure without caption"
            assert 'alt=""' not in figure and "alt=" in figure, f"{page}: a figure without alt text"
    assert figures >= len(chapters), "every chapter shows at least one figure"


# What a reader sees, checked at a laptop's width and a phone's (CSS px).
VIEWPORTS = {"laptop": 1366, "phone": 390}
# The smallest text of a figure as displayed, in CSS px (house style: "text at least 9 px as displayed").
MIN_FIGURE_TEXT_PX = 9.0
# Raw TeX in a page's text: a control word (\emph, \mathrm, \times), \( \) \[ \], or a dollar sign. Code is left out:
# code cells' input, literal blocks outside cell outputs, inline code and the API's signatures (a printed output is
# prose to a reader).
RAW_TEX = re.compile(r"\\[A-Za-z]+|\\[()\[\]]|\$")
_PROSE_TEXT = r"""() => {
  const article = document.querySelector('article');
  if (!article) return '';
  const copy = article.cloneNode(true);
  copy.querySelectorAll('mjx-container, script, style, code, .cell_input, dt.sig').forEach(e => e.remove());
  copy.querySelectorAll('pre').forEach(e => { if (!e.closest('.cell_output')) e.remove(); });
  return copy.textContent.replace(/\s+/g, ' ');
}"""
# Numbers as Python writes them, not as a reader reads them (deeplinear_book.numbers): e-notation (2.7e-28) and
# decimals with more than six significant digits (1.0000000000).
_E_NOTATION = re.compile(r"(?<![\w.])-?\d+(\.\d+)?[eE][+-]?\d+(?![\w.])")
_LONG_DECIMAL = re.compile(r"(?<![\w.\-])-?\d+\.\d+(?![\w.]|-\d)")


def unreadable_numbers(text: str) -> list[str]:
    """Each number in ``text`` in e-notation or with more than six significant digits, with its context."""
    found = [m for m in _E_NOTATION.finditer(text)]
    found += [m for m in _LONG_DECIMAL.finditer(text) if numbers.significant_digits(m[0]) > numbers.MAX_SIGNIFICANT]
    return [f"…{text[max(0, m.start() - 40) : m.end() + 20]}…" for m in sorted(found, key=lambda m: m.start())]


def test_unreadable_numbers_are_found():
    """The check above against hand-written cases: what a reader should and should not see."""
    assert len(unreadable_numbers("a loss of 2.7e-28, a score of 1.0000000000 and 1e+03 times")) == 3
    assert unreadable_numbers("a loss of 2.7×10⁻²⁸, 1 (to 10⁻¹⁰), 0.912345, Python 3.11.2, on 2026-12-06") == []
    assert unreadable_numbers(numbers.reader_text("2.7e-28, 1.0000000000 and 1.00000001")) == []


_MATH_ERRORS = r"""() => Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]')).map(e =>
  (e.getAttribute('data-mjx-error') || e.textContent) + ' in: ' +
  (e.closest('.math, mjx-container')?.parentElement?.textContent || '').replace(/\s+/g, ' ').slice(0, 80))"""
# Each visible table against the room its column gives it: the article's content box, and the scrolling box
# that the theme wraps a table in (a table wider than that box is cut off, its last columns off-screen).
_WIDE_TABLES = r"""() => Array.from(document.querySelectorAll('article table')).filter(t => t.offsetParent !== null)
  .map(t => {
    const article = t.closest('article'), css = getComputedStyle(article);
    const right = article.getBoundingClientRect().right - parseFloat(css.paddingRight);
    const box = t.closest('.pst-scrollable-table-container') || t.parentElement;
    const r = t.getBoundingClientRect();
    const room = Math.min(box.clientWidth, right - r.left);
    const head = (t.querySelector('th, td')?.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 40);
    return {head, width: Math.max(r.width, t.scrollWidth), room};
  }).filter(t => t.width > t.room + 1).map(t => `${t.head}: ${Math.round(t.width)} px in ${Math.round(t.room)} px`)"""
# The claims ledger's rows (deeplinear_book.report.claims_table: a table of class ledger-table) and, for each, whether
# its verdict badges lie within the article's column and are drawn.
_LEDGER_ROWS = r"""() => Array.from(document.querySelectorAll('table.ledger-table tbody tr')).map(tr => {
  const article = tr.closest('article').getBoundingClientRect();
  const badges = Array.from(tr.querySelectorAll('.sd-badge'));
  const seen = badges.filter(b => {
    const r = b.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.left >= article.left - 1 && r.right <= article.right + 1 &&
      getComputedStyle(b).visibility !== 'hidden';
  });
  return {claim: tr.textContent.replace(/\s+/g, ' ').trim().slice(0, 50), badges: badges.length, seen: seen.length,
          verdicts: badges.map(b => b.textContent.trim()), paper: !tr.textContent.includes('no paper experiment')};
})"""
# A page that scrolls sideways: the document wider than the viewport. Named with the elements that stick out past
# its right edge without a scrolling box of their own to hold them (a code block or a table may scroll inside itself).
_WIDER_THAN_SCREEN = r"""() => {
  const screen = document.documentElement.clientWidth, wide = document.documentElement.scrollWidth;
  if (wide <= screen) return [];
  const held = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
    if (getComputedStyle(p).overflowX !== 'visible' && p.getBoundingClientRect().right <= screen + 1) return true;
    return false; };
  const out = Array.from(document.querySelectorAll('body *')).filter(e => {
    const r = e.getBoundingClientRect(), parent = e.parentElement.getBoundingClientRect();
    return r.width > 0 && r.right > screen + 1 && parent.right <= screen + 1 && !held(e) &&
      getComputedStyle(e).visibility !== 'hidden';
  }).slice(0, 5).map(e => `<${e.tagName.toLowerCase()}> "${(e.textContent || '').replace(/\s+/g, ' ').trim()
    .slice(0, 50)}" reaches ${Math.round(e.getBoundingClientRect().right)} px`);
  return [`${wide} px wide at ${screen} px` + (out.length ? ': ' + out.join('; ') : '')];
}"""
# Each loaded image of the article: the file the browser chose (a <picture> serves a phone rendition below 640 px),
# its pixel width, its width as displayed, and how far it reaches against the screen and the article's column.
_IMAGES = """() => Array.from(document.querySelectorAll('article img')).filter(i => i.complete && i.naturalWidth > 0)
  .map(i => {
    const r = i.getBoundingClientRect(), article = i.closest('article'), css = getComputedStyle(article);
    const column = article.getBoundingClientRect().width - parseFloat(css.paddingLeft) - parseFloat(css.paddingRight);
    return {src: i.currentSrc || i.src, natural: i.naturalWidth, shown: r.width, right: r.right, column,
            screen: document.documentElement.clientWidth};
  })"""
# Whether every <picture> shows the source that its media query chooses at this width (the browser swaps it after
# a resize, asynchronously).
_PICTURES_SETTLED = """() => Array.from(document.querySelectorAll('article picture')).every(p => {
  const source = Array.from(p.querySelectorAll('source')).find(s => matchMedia(s.media).matches);
  const img = p.querySelector('img'), want = source ? source.getAttribute('srcset') : img.getAttribute('src');
  return img.complete && img.naturalWidth > 0 && img.currentSrc.endsWith(want.split('/').pop());
})"""


def _png_ppi(png: bytes) -> float | None:
    """The pixels per inch a PNG records (its pHYs chunk, which matplotlib writes), or None."""
    at = 8
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        if png[at + 4 : at + 8] == b"pHYs":
            x, _, unit = struct.unpack(">IIB", png[at + 8 : at + 17])
            return x * 0.0254 if unit == 1 else None
        at += 12 + length
    return None


def _figure_records() -> dict[str, tuple[str, float | None, float | None]]:
    """sha256 of every PNG a notebook shows, and of each figure's phone rendition -> (notebook: glued name,
    smallest text in pt, pixels per inch); a glued figure is also found by its glued name.

    The site names each image file by the sha256 of its bytes (myst-nb; book/_ext/picture_figures.py for the phone
    renditions; the landing page's figure by its glued name), so an image on a page is found here by its file name.
    The smallest text is what deeplinear_book.figure recorded in the glued output's metadata."""
    import nbformat

    records = {}
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in nbformat.read(nb, 4).cells:
            for out in cell.get("outputs", []):
                for mime, data in out.get("data", {}).items():
                    if mime.endswith("image/png"):
                        png = base64.b64decode(data)
                        name = out.get("metadata", {}).get("scrapbook", {}).get("name", "an unglued figure")
                        companion = out.get("metadata", {}).get("companion", {})
                        record = (f"{nb.stem}: {name}", companion.get("smallest_text_pt"), _png_ppi(png))
                        records[hashlib.sha256(png).hexdigest()] = records[name] = record
                        phone = base64.b64decode(companion.get("phone", {}).get("image/png", ""))
                        if phone:
                            pt, ppi = companion["phone"].get("smallest_text_pt"), _png_ppi(phone)
                            records[hashlib.sha256(phone).hexdigest()] = (f"{nb.stem}: {name} (phone)", pt, ppi)
    return records


def _figure_text(images: list[dict], records: dict) -> tuple[list[str], list[str]]:
    """(problems, measurements): each figure's smallest text as displayed, in CSS px, against the minimum; its
    pixels against twice its displayed width (sharp on a 2x screen); its width against the screen and the column."""
    problems, measured = [], []
    for image in images:
        record = records.get(Path(urlparse(image["src"]).path).stem)
        if record is None:
            continue  # not a notebook's figure (no figure is shown otherwise today)
        name, pt, ppi = record
        if image["natural"] < 2 * image["shown"] - 1:
            problems.append(
                f"figure {name}: {image['natural']} px shown at {image['shown']:.0f} CSS px, under 2x (soft on a 2x "
                "screen)"
            )
        if image["right"] > image["screen"] + 1 or image["shown"] > image["column"] + 1:
            problems.append(
                f"figure {name}: {image['shown']:.0f} px wide, reaching {image['right']:.0f} px, wider than the "
                f"column ({image['column']:.0f} px) or the screen ({image['screen']} px)"
            )
        if pt is None or ppi is None:
            problems.append(f"figure {name} records no smallest text size (glue it with deeplinear_book.figure)")
            continue
        shown = pt * ppi / 72 * image["shown"] / image["natural"]
        measured.append(f"{name}: {shown:.1f} px ({image['natural']} px wide shown at {image['shown']:.0f})")
        if round(shown, 1) < MIN_FIGURE_TEXT_PX:
            problems.append(
                f"figure {name}: smallest text {shown:.1f} px as displayed, under {MIN_FIGURE_TEXT_PX:g} px "
                f"({pt:g} pt at {ppi:.0f} ppi; {image['natural']} px wide shown at {image['shown']:.0f} px)"
            )
    return problems, measured


def _check_page(page, page_path: str, viewport: str, records: dict) -> list[str]:
    """What is wrong with one rendered page at one viewport."""
    problems: list[str] = []
    if page.evaluate("() => typeof window.MathJax !== 'undefined' && !!MathJax.startup"):
        page.evaluate("() => MathJax.startup.promise")
        problems += [f"MathJax error: {e}" for e in page.evaluate(_MATH_ERRORS)]
        wide = page.evaluate(
            "() => Array.from(document.querySelectorAll('mjx-container[display=\"true\"]'))"
            ".filter(m => m.scrollWidth > m.parentElement.clientWidth + 2)"
            ".map(m => m.parentElement.textContent.replace(/\\s+/g, ' ').slice(0, 60))"
        )
        if viewport == "laptop":  # a phone scrolls a long display equation sideways
            problems += [f"display equation wider than the column (cut off): {w}" for w in wide]
    elif page.query_selector(".math"):
        problems.append("math on the page but MathJax did not load")
    text = page.evaluate(_PROSE_TEXT)
    for m in RAW_TEX.finditer(text):
        if not (m[0] == "$" and page_path == "book/api.html"):  # docstrings name $ENVIRONMENT variables
            problems.append(f"raw TeX in the text: …{text[max(0, m.start() - 30) : m.end() + 30]}…")
    if viewport == "laptop":  # the text is the same at both widths; code cells and their printed output excepted
        prose = page.evaluate(_PROSE_TEXT.replace("if (!e.closest('.cell_output')) ", ""))
        problems += [f"a number not written for a reader: {n}" for n in unreadable_numbers(prose)]
    problems += [f"table wider than its column: {t}" for t in page.evaluate(_WIDE_TABLES)]
    problems += [f"page wider than the screen: {w}" for w in page.evaluate(_WIDER_THAN_SCREEN)]
    broken = page.evaluate(
        "() => Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    problems += [f"image did not load: {src}" for src in broken]
    if page_path == "book/reproduction-report.html":
        rows = page.evaluate(_LEDGER_ROWS)
        claims = len(ledger.load(ROOT / "book" / "ledger.toml").claims)
        if len(rows) != claims:
            problems.append(f"the claims ledger shows {len(rows)} rows for the ledger's {claims} claims")
        for row in rows:  # a badge for the book run, and one for the paper run where a paper runs the experiment
            expected = 2 if row["paper"] else 1
            if (
                row["seen"] < expected
                or row["seen"] != row["badges"]
                or not set(row["verdicts"]) <= set(ledger.VERDICTS)
            ):
                problems.append(f"claims ledger: the verdicts of {row['claim']!r} are not all in view: {row}")
    # the figure as the browser chose it: on a phone, its one-column rendition (book/_ext/picture_figures.py)
    problems += _figure_text(page.evaluate(_IMAGES), records)[0]
    return problems


def _redirect(path: Path) -> str | None:
    """Where a page that only redirects (a meta refresh, as Jupyter Book's root index.html) sends the browser."""
    refresh = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)
    found = refresh.search(path.read_text(encoding="utf-8"))
    return found.group(1) if found else None


# Resolves when MathJax has typeset the page (its startup promise), at once on a page without it: a page is checked
# as soon as its math is typeset instead of after half a second without network traffic.
_MATH_TYPESET = "() => window.MathJax?.startup?.promise ? MathJax.startup.promise.then(() => true) : true"


def test_pages_render_in_chromium(site, server):
    """Every page at a laptop's and a phone's width: math typeset without errors and no raw TeX in the text,
    no page wider than the screen, no table wider than its column (the claims ledger's verdicts in view), images
    loaded, every figure's smallest text readable as displayed, no console errors, no request to another host."""
    sync_api = pytest.importorskip("playwright.sync_api")
    records = _figure_records()
    failures: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        for page_path in _pages(site):
            target = _redirect(site / page_path)
            if target is not None:  # the root index only sends the browser on, to a page checked in its turn
                assert (site / page_path).parent.joinpath(target).is_file(), f"{page_path} redirects to {target}"
                continue
            page = browser.new_page(viewport={"width": VIEWPORTS["laptop"], "height": 900})
            problems: list[str] = []
            page.on("console", lambda m, p=problems: m.type == "error" and p.append(f"console: {m.text}"))
            page.on("pageerror", lambda e, p=problems: p.append(f"page error: {e}"))

            def route(r, p=problems):
                host = urlparse(r.request.url).hostname
                if r.request.url.startswith(server) or host is None:
                    r.continue_()
                else:
                    p.append(f"outward request: {r.request.url}")
                    r.abort()

            page.route("**/*", route)
            page.goto(urljoin(server, page_path), wait_until="load")  # every script, MathJax's included, has run
            page.evaluate(_MATH_TYPESET)
            for viewport, width in VIEWPORTS.items():  # each page loaded once, then narrowed to a phone's width
                page.set_viewport_size({"width": width, "height": 900})
                page.wait_for_timeout(100)
                page.wait_for_function(_PICTURES_SETTLED, timeout=10_000)
                found = _check_page(page, page_path, viewport, records)
                failures += [f"{page_path} ({width} px): {p}" for p in problems + found]
                problems.clear()
            page.close()
        browser.close()
    assert not failures, "\n".join(failures)


def test_every_figure_records_its_smallest_text_and_resolution():
    """The figure check above needs, for each figure a chapter glues, the smallest text that deeplinear_book.figure
    records and the pixels per inch that the PNG records: without them it could not measure the figure."""
    missing = [f"{name}: {pt=}, {ppi=}" for name, pt, ppi in _figure_records().values() if pt is None or ppi is None]
    assert not missing, "\n".join(missing)


def test_landing_page_answers_a_newcomer(site):
    """The landing page shows the README's two commands, links to the repository, names every erratum of the
    ledger, and has a row for each chapter's last execution; every chapter page ends with its own BibTeX."""
    intro = (site / "book" / "intro.html").read_text(encoding="utf-8")
    text = _page_text(site / "book" / "intro.html")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.search(r"## Two commands.*?```bash\n(.*?)```", readme, re.S)[1]
    for line in commands.splitlines():
        assert unescape(re.sub(r"\s+", " ", line)).split("#")[0].strip() in text, line
    assert f'href="{REPOSITORY}"' in intro
    errata = [f for f in ledger.load(ROOT / "book" / "ledger.toml").findings if f.kind == "erratum"]
    letters = functools.partial(re.sub, r"\W", "")  # Sphinx typesets quotes and apostrophes
    assert errata and not [f.title for f in errata if letters(f.title) not in letters(text)]
    table = intro.split('class="chapter-executions', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr") == 1 + len(list((ROOT / "book").glob("*.ipynb"))), "a row per chapter"
    for nb in sorted((ROOT / "book").glob("*.ipynb")):
        page = _page_text(site / "book" / f"{nb.stem}.html")
        assert "Cite this page" in page and "@inbook{deeplinear_companion_" in page, nb.stem
        title = re.search(r"^# (.+)$", "".join(yaml.safe_load(nb.read_text())["cells"][0]["source"]), re.M)
        assert title is None or f"title = {{{title[1].strip()}}}" in re.sub(r" +", " ", page), nb.stem


def test_search_excerpts_read_math_as_text(site, server):
    """The search page's excerpts and titles show math as text, not TeX source (static/offline-search.js)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(urljoin(server, "search.html?q=singular"), wait_until="networkidle")
        page.wait_for_function(
            "() => { const r = Array.from(document.querySelectorAll('#search-results li'))"
            ".filter(li => !li.querySelector(':scope > span'));"  # an API object's result: a description, no excerpt
            " return r.length > 3 && r.every(li => li.querySelector('p.context')); }",
            timeout=20000,
        )
        shown = page.evaluate("() => document.getElementById('search-results').innerText")
        read = page.evaluate(r"() => plainMath('\\(W_1^{(t)} = U_1\\Sigma_1^{(t)}V_1^T\\)')")
        browser.close()
    assert read == "W₁⁽ᵗ⁾ = U₁Σ₁⁽ᵗ⁾V₁ᵀ"
    raw = [shown[max(0, m.start() - 30) : m.end() + 30] for m in RAW_TEX.finditer(shown)]
    assert not raw, raw

"""A self-contained website: an archived copy must work offline and quietly.

- MathJax is served from the built site itself instead of a CDN.
- Each page's scripts are de-duplicated: jupyter-book 1 registers sphinx-thebe's configuration
  twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared".
- The theme's default colour mode is set (pydata-sphinx-theme logs a console error when empty).
- No header bar: pydata-sphinx-theme 0.16+ adds one holding a second search box whenever ``navbar_persistent``
  is not set, above sphinx-book-theme's own search field in the sidebar.
- The general index fits a phone's column (``static/companion.css``).
- Search excerpts read math as text, not TeX (``static/offline-search.js``), and show offline too: over
  file:// a browser refuses the fetch() with which Sphinx's search page reads each result's page, so the
  build also writes every page's article into
  ``_static/offline-pages.js``, which ``static/offline-search.js`` answers those fetches from.

MathJax 3 comes from the PyPI package ``django-static-mathjax`` (pinned in the lock; it has no
dependencies and ships MathJax's ``es5`` build). At build time the parts the pages load are copied
into ``_static/mathjax/`` and ``mathjax_path`` points there instead of a CDN.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bs4 import BeautifulSoup

# What the pages can load: the combined TeX/MathML -> CommonHTML component, its fonts, the TeX
# extensions it autoloads, and the menu's accessibility and UI components.
PARTS = (
    "tex-mml-chtml.js",
    "output/chtml/fonts/woff-v2",
    "input/tex/extensions",
    "a11y",
    "ui",
    "sre",
)
TARGET = "mathjax"
STATIC = Path(__file__).parent / "static"
OFFLINE_PAGES = "offline-pages.js"
# Left out of a page's excerpt text: what is not prose, and the pages that are not content.
NOT_TEXT = ("script", "style", "img", "svg", "a.headerlink", "button", ".cell_input")
NOT_PAGES = {"search.html", "genindex.html", "py-modindex.html"}


def _es5() -> Path:
    try:
        import mathjax  # the django-static-mathjax package
    except ImportError as exc:
        raise RuntimeError(
            "MathJax is not installed: run `make env` (django-static-mathjax is in the lock)"
        ) from exc
    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _configure(app) -> None:
    _es5()  # fail early, before any page is written, if MathJax is missing
    app.config.mathjax_path = f"{TARGET}/tex-mml-chtml.js"
    app.config.html_context.setdefault("default_mode", "light")


def _config_inited(app, config) -> None:
    config.html_theme_options.setdefault("navbar_persistent", [])
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", None) or {}
        key = (
            getattr(script, "filename", None) or "",
            repr(sorted(attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def article_html(page: str) -> str | None:
    """A page's article as ``<div role="main">`` with only its text, its elements' ids (for anchors) and the
    class that marks math (which the search page reads as text: ``static/offline-search.js``)."""
    soup = BeautifulSoup(page, "html.parser")
    article = soup.find("article")
    if article is None:
        return None
    for element in article.select(", ".join(NOT_TEXT)):
        element.decompose()
    for element in article.find_all(True):
        math = "math" in (element.get("class") or [])
        element.attrs = {"id": element["id"]} if element.has_attr("id") else {}
        if math:
            element["class"] = "math"
    return f'<div role="main">{article.decode_contents()}</div>'


def _write_offline_pages(outdir: Path) -> None:
    pages = {}
    for path in sorted(outdir.rglob("*.html")):
        name = path.relative_to(outdir).as_posix()
        if name in NOT_PAGES or name.startswith("_"):
            continue
        html = article_html(path.read_text(encoding="utf-8"))
        if html is not None:
            pages[name] = html
    script = (
        "window.DEEPLINEAR_OFFLINE_PAGES = "
        + json.dumps(pages, ensure_ascii=False)
        + ";\n"
    )
    (outdir / "_static" / OFFLINE_PAGES).write_text(script, encoding="utf-8")


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    _write_offline_pages(Path(app.outdir))
    source, target = _es5(), Path(app.outdir) / "_static" / TARGET
    for part in PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.add_js_file("offline-search.js", loading_method="defer")
    app.add_css_file("companion.css")
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _configure)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""A self-contained website: an archived copy must work offline and quietly.

- MathJax is served from the built site itself instead of a CDN.
- Each page's scripts are de-duplicated: jupyter-book 1 registers sphinx-thebe's configuration
  twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already been declared".
- The theme's default colour mode is set (pydata-sphinx-theme logs a console error when empty).

MathJax 3 comes from the PyPI package ``django-static-mathjax`` (pinned in the lock; it has no
dependencies and ships MathJax's ``es5`` build). At build time the parts the pages load are copied
into ``_static/mathjax/`` and ``mathjax_path`` points there instead of a CDN.
"""

from __future__ import annotations

import shutil
from pathlib import Path

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


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = _es5(), Path(app.outdir) / "_static" / TARGET
    for part in PARTS:
        src, dst = source / part, target / part
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def setup(app):
    app.connect("builder-inited", _configure)
    app.connect("html-page-context", _dedupe_scripts)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

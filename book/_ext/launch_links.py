"""Binder and Colab launch buttons that point at the repository the book was built from.

The repository's address is taken from, in order: the environment variable
``DEEPLINEAR_REPOSITORY_URL``, ``repository.url`` in ``_config.yml``, and the clone's ``origin``
remote. A fork therefore launches the fork, and no address is typed into the configuration.
Binder and Colab open notebooks from GitHub only, so an address that is not a GitHub repository
(a local clone, for instance) builds the book without launch buttons rather than with buttons to
the wrong place; the build log says which happened.

The same address is what the ``repository`` role links to (``{repository}`the repository```): the
landing page's link to the code, and the commits that the landing page names. Without one the role
gives its text alone.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

LOGGER = logging.getLogger(__name__)
ENV = "DEEPLINEAR_REPOSITORY_URL"
# https://github.com/ORG/REPO(.git), git@github.com:ORG/REPO(.git), ssh://git@github.com/ORG/REPO
_GITHUB = re.compile(
    r"^(?:https?://(?:[^@/]+@)?github\.com/|git@github\.com:|ssh://git@github\.com/)"
    r"(?P<org>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$"
)


def github_url(url: str | None) -> str | None:
    """``https://github.com/ORG/REPO`` for any spelling of a GitHub remote, else None."""
    match = _GITHUB.match((url or "").strip())
    return f"https://github.com/{match['org']}/{match['repo']}" if match else None


def origin_url(directory: str | Path) -> str | None:
    """The ``origin`` remote of the git clone holding ``directory``, or None."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def configure(options: dict, srcdir: str | Path, environ=os.environ) -> str | None:
    """Set ``repository_url`` in the theme ``options``, or drop the launch buttons; return the URL."""
    candidates = [
        (f"${ENV}", environ.get(ENV)),
        ("repository.url in _config.yml", options.get("repository_url")),
        ("the clone's origin remote", origin_url(srcdir)),
    ]
    source, given = next(((s, u) for s, u in candidates if u), ("nothing", None))
    url = github_url(given)
    if url is None:
        options["repository_url"] = ""
        options["launch_buttons"] = {}
        LOGGER.info(
            f"launch buttons left out: {source} gives no GitHub repository ({given!r}); "
            f"set {ENV}=https://github.com/ORG/REPO to add them"
        )
    else:
        options["repository_url"] = url
        LOGGER.info(f"launch buttons open {url} (from {source})")
    return url


class RepositoryLink(SphinxRole):
    """``{repository}`TEXT```: TEXT linked to the repository the book is built from (`configure`); TEXT
    alone where the build knows no repository."""

    def run(self):
        url = self.config.html_theme_options.get("repository_url")
        if not url:
            return [nodes.Text(self.text)], []
        return [nodes.reference(self.rawtext, self.text, refuri=url)], []


def _config_inited(app, config) -> None:
    configure(config.html_theme_options, app.srcdir)


def setup(app):
    app.connect("config-inited", _config_inited)
    app.add_role("repository", RepositoryLink())
    return {"parallel_read_safe": True, "parallel_write_safe": True}

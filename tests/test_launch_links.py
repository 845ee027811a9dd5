"""Where the launch buttons point: book/_ext/launch_links.py (the site test checks the built pages)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("launch_links", ROOT / "book" / "_ext" / "launch_links.py")
launch_links = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(launch_links)

BUTTONS = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}


@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/Org-1/repo.name",
        "https://github.com/Org-1/repo.name.git",
        "https://github.com/Org-1/repo.name/",
        "https://user:token@github.com/Org-1/repo.name.git",
        "git@github.com:Org-1/repo.name.git",
        "ssh://git@github.com/Org-1/repo.name.git",
    ],
)
def test_every_spelling_of_a_github_remote_gives_the_web_address(remote):
    assert launch_links.github_url(remote) == "https://github.com/Org-1/repo.name"


@pytest.mark.parametrize(
    "remote",
    [
        "",
        None,
        "/tmp/clone",
        "file:///srv/git/repo",
        "https://gitlab.com/org/repo",
        "https://github.com/org",
        "https://github.com/org/repo/tree/main",
        "https://example.org/github.com/a/b",
    ],
)
def test_anything_else_is_not_a_github_repository(remote):
    assert launch_links.github_url(remote) is None


def _git_clone_with_origin(path: Path, origin: str | None) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if origin:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", origin], check=True)
    return path


def test_the_origin_remote_is_used_when_nothing_else_is_given(tmp_path):
    clone = _git_clone_with_origin(tmp_path, "git@github.com:someone/fork.git")
    options = {"repository_url": "", "launch_buttons": dict(BUTTONS)}
    assert launch_links.configure(options, clone, environ={}) == "https://github.com/someone/fork"
    assert options == {"repository_url": "https://github.com/someone/fork", "launch_buttons": BUTTONS}


def test_the_environment_overrides_the_config_which_overrides_the_origin(tmp_path):
    clone = _git_clone_with_origin(tmp_path, "https://github.com/from/origin")
    options = {"repository_url": "https://github.com/from/config", "launch_buttons": dict(BUTTONS)}
    env = {launch_links.ENV: "https://github.com/from/env.git"}
    assert launch_links.configure(dict(options), clone, environ=env) == "https://github.com/from/env"
    assert launch_links.configure(dict(options), clone, environ={}) == "https://github.com/from/config"


@pytest.mark.parametrize("origin", [None, "/srv/git/companion.git"])
def test_without_a_github_address_the_buttons_are_left_out_not_pointed_elsewhere(tmp_path, origin):
    clone = _git_clone_with_origin(tmp_path, origin)
    options = {"repository_url": "", "launch_buttons": dict(BUTTONS)}
    assert launch_links.configure(options, clone, environ={}) is None
    assert options == {"repository_url": "", "launch_buttons": {}}


def test_outside_a_git_clone_there_is_no_origin(tmp_path):
    assert launch_links.origin_url(tmp_path / "not-a-clone") is None

"""Shared fixtures: a hermetic environment and ready-made tdm repositories."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis.configuration
import pygit2
import pytest
from helpers import generate_in_process, init_repo, strip_generated

if TYPE_CHECKING:
    import httpx

    from tdm.server.settings import Settings

# hypothesis caches what it learns in ./.hypothesis; keep the checkout clean
hypothesis.configuration.set_hypothesis_home_dir(
    Path(tempfile.gettempdir()) / f"tdm-tests-hypothesis-{os.getuid()}"
)

_FIXED_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "TDM_NO_PROGRESS": "1",
}
_UNSET = ("TDM_DEBUG", "TDM_MASKING_KEY", "CI", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")
_GIT_LEVELS = (
    pygit2.enums.ConfigLevel.GLOBAL,
    pygit2.enums.ConfigLevel.XDG,
    pygit2.enums.ConfigLevel.SYSTEM,
)


class _SearchPath:
    """Restores pygit2's search paths (MonkeyPatch cannot set items on that object)."""

    def __init__(self) -> None:
        self.saved = {level: pygit2.settings.search_path[level] for level in _GIT_LEVELS}

    def point_to(self, home: Path) -> None:
        for level in _GIT_LEVELS:
            pygit2.settings.search_path[level] = str(home)

    def restore(self) -> None:
        for level, value in self.saved.items():
            pygit2.settings.search_path[level] = value


def _apply(mp: pytest.MonkeyPatch, base: Path) -> None:
    """Point HOME and git's global configuration at empty files under ``base``."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    global_config = base / "gitconfig"
    global_config.write_text("")
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    mp.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    for key, value in _FIXED_ENV.items():
        mp.setenv(key, value)
    for key in _UNSET:
        mp.delenv(key, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _hermetic_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Isolation for session- and module-scoped fixtures too (they run before `hermetic`)."""
    base = tmp_path_factory.mktemp("session-env")
    paths = _SearchPath()
    with pytest.MonkeyPatch.context() as mp:
        _apply(mp, base)
        paths.point_to(base / "home")
        try:
            yield
        finally:
            paths.restore()


@pytest.fixture(autouse=True)
def hermetic(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Never read or write the real home directory or the user's git configuration."""
    base = tmp_path_factory.mktemp("env")
    paths = _SearchPath()
    _apply(monkeypatch, base)
    paths.point_to(base / "home")
    try:
        yield
    finally:
        paths.restore()


@pytest.fixture(scope="session")
def _smoke_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample repository with the smoke template generated, built once per worker."""
    root = tmp_path_factory.mktemp("smoke-master") / "shop"
    init_repo(root, sample=True)
    strip_generated(root)
    generate_in_process(root, ["smoke"])
    return root


@pytest.fixture
def smoke_repo(_smoke_master: Path, tmp_path: Path) -> Path:
    """A private copy of the sample repository with datasets/smoke generated (by this tdm)."""
    root = tmp_path / "smoke-shop"
    shutil.copytree(_smoke_master, root, symlinks=True)
    return root


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    """A fresh `tdm init --sample` repository, as shipped (with its committed smoke data)."""
    root = tmp_path / "shop"
    init_repo(root, sample=True)
    return root


@pytest.fixture
def bare_sample(tmp_path: Path) -> Path:
    """The sample's schemas and templates with no datasets and no tdm.lock."""
    root = tmp_path / "shop"
    init_repo(root, sample=True)
    strip_generated(root)
    return root


@pytest.fixture(scope="session")
def _served_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample committed on main with env/dev and env/staging (tdm serve's tests)."""
    from serverkit import served_repo

    return served_repo(tmp_path_factory.mktemp("served-master") / "shop")


@pytest.fixture
def served(_served_master: Path, tmp_path: Path) -> Path:
    """A private copy of :func:`_served_master`."""
    root = tmp_path / "shop"
    shutil.copytree(_served_master, root, symlinks=True)
    return root


# the fixtures of tdm serve's tests (tests/test_server.py, tests/test_server_writes.py);
# a module defining a fixture of the same name uses its own


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def repo(served: Path) -> Path:
    return served


@pytest.fixture
def tokens(tmp_path: Path) -> dict[str, str]:
    from serverkit import make_tokens

    return make_tokens(tmp_path / "config" / "tokens")


@pytest.fixture
def settings(repo: Path, tmp_path: Path, tokens: dict[str, str]) -> Settings:
    from tdm.server.settings import Settings

    return Settings(root=repo, tokens_file=tmp_path / "config" / "tokens")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from serverkit import client_for

    async with client_for(settings) as c:
        yield c

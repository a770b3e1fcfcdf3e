"""pytest plugin (entry point ``pytest11``): fixtures that read pinned dataset versions.

    def test_checkout(tdm_dataset):
        customers = tdm_dataset("smoke/customers", rev="v1.0")

The repository is the one holding the tests (pytest's rootdir), or ``--tdm-repo``
on the command line, or the ``tdm_repo`` ini setting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from tdm.api import Repository
from tdm.api import open as open_repository
from tdm.versions import read_dataset_lines


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tdm")
    group.addoption("--tdm-repo", default=None, help="tdm repository the tdm_* fixtures read from")
    parser.addini("tdm_repo", "tdm repository the tdm_* fixtures read from", default="")


@pytest.fixture(scope="session")
def tdm_repo(pytestconfig: pytest.Config) -> Repository:
    """The tdm repository of this test run."""
    option = pytestconfig.getoption("--tdm-repo")
    ini = pytestconfig.getini("tdm_repo")
    base = Path(str(pytestconfig.rootpath))
    where = Path(option) if option else (base / ini if ini else base)
    return open_repository(where)


@pytest.fixture(scope="session")
def tdm_dataset(tdm_repo: Repository) -> Callable[..., list[dict[str, Any]]]:
    """A function ``(name, rev=None) -> list of rows``; each (name, rev) is read once per session.

    Pin ``rev`` (a version tag such as "v1.0") so the test sees the same data whatever
    the working tree holds."""
    cache: dict[tuple[str, str | None], list[bytes]] = {}

    def load(name: str, rev: str | None = None) -> list[dict[str, Any]]:
        key = (name, rev)
        if key not in cache:
            cache[key] = list(read_dataset_lines(tdm_repo.project, name, rev))
        # parsed anew on every call: one test's changes to its rows never leak into another's
        return [orjson.loads(line) for line in cache[key]]

    return load

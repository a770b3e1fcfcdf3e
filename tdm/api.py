"""The Python API: ``tdm.open(path)`` and what it returns.

The CLI calls the same functions; datasets at a revision are read straight
from git objects, without a checkout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tdm.project import Project

if TYPE_CHECKING:
    from tdm.snapshot import Snapshot
    from tdm.versions import Version


class Repository:
    """A tdm repository: datasets, schemas and versions, at any revision."""

    def __init__(self, project: Project) -> None:
        self.project = project

    @property
    def root(self) -> Path:
        return self.project.root

    def dataset(self, name: str, rev: str | None = None) -> Iterator[dict[str, Any]]:
        """Rows of ``"template/dataset"`` (or ``"template/dataset@rev"``), streamed.

        With ``rev`` (a tag such as ``"v1.0"``, a branch or a commit) the rows come from git
        objects at that revision; without it, from the working tree."""
        from tdm.versions import read_dataset

        return read_dataset(self.project, name, rev)

    def datasets(self, rev: str | None = None) -> list[str]:
        """Names (``template/dataset``) of the datasets in the working tree or at ``rev``."""
        from tdm.versions import list_datasets

        return list_datasets(self.project, rev)

    def schema(self, name: str, rev: str | None = None) -> dict[str, Any]:
        """A schema document, from the working tree or at ``rev``."""
        from tdm.versions import read_schema

        return read_schema(self.project, name, rev)

    def snapshot(self, rev: str | None = None) -> Snapshot:
        """The repository at ``rev`` (or the working tree): its templates, schemas, lock
        and datasets, read without a checkout (see :mod:`tdm.snapshot`)."""
        from tdm import snapshot

        return snapshot.at(self.project, rev)

    def versions(self) -> list[Version]:
        """The tdm versions (tags vX, vX.Y, vX.Y.Z), newest first."""
        from tdm.versions import versions

        return versions(self.project)

    def __repr__(self) -> str:
        return f"tdm.Repository({str(self.root)!r})"


def open(path: str | Path = ".") -> Repository:  # shadows the builtin on purpose: tdm.open()
    """The tdm repository containing ``path``."""
    return Repository(Project.find(path))

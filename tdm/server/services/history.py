"""Versions (tags) and environments (branches), as `tdm versions` and `tdm env list` see them."""

from __future__ import annotations

from tdm import envs, versions
from tdm.project import Project
from tdm.server.models import EnvironmentItem, VersionDataset, VersionItem


def list_versions(project: Project) -> list[VersionItem]:
    return [version_item(v) for v in versions.versions(project)]


def version_item(v: versions.Version) -> VersionItem:
    """A version (tag) as the API shows it."""
    return VersionItem(
        version=v.name,
        commit=v.commit,
        date=v.date,
        tagger=v.tagger,
        message=v.message,
        datasets=[
            VersionDataset(dataset=d.dataset, rows=d.rows, sha256=d.sha256, schema=d.schema)
            for d in v.datasets
        ],
    )


def list_environments(project: Project) -> list[EnvironmentItem]:
    return [EnvironmentItem(**e.to_json()) for e in envs.list_envs(project)]

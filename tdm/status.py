"""``tdm status``: which datasets are stale, missing or edited by hand, and which tdm files changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tdm import gitio
from tdm.errors import UserError
from tdm.measure import file_sha256
from tdm.plans import TemplatePlanner
from tdm.project import MANAGED, Project

DatasetState = Literal["up to date", "stale", "missing", "modified", "orphaned", "unknown"]


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str  # "<template>/<dataset>"
    path: str
    state: DatasetState
    reason: str


@dataclass
class StatusReport:
    datasets: list[DatasetStatus] = field(default_factory=list)
    files: list[gitio.FileState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # templates that could not be read
    git: bool = True
    #: row conflicts a merge left (tdm merge-driver), in words
    conflicts: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            all(d.state == "up to date" for d in self.datasets)
            and not self.problems
            and not self.conflicts
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "datasets": [
                {"dataset": d.dataset, "path": d.path, "state": d.state, "reason": d.reason}
                for d in self.datasets
            ],
            "files": [{"path": f.path, "state": f.state, "staged": f.staged} for f in self.files],
            "problems": self.problems,
            "conflicts": self.conflicts,
            "git": self.git,
        }


def status(project: Project, templates: list[str] | None = None) -> StatusReport:
    """Compare every template's datasets (or only ``templates``') with tdm.lock and the
    files on disk."""
    only = project.select_templates(templates)
    report = StatusReport()
    lock = project.read_lock()
    known: set[str] = set()
    for name in project.template_names():
        try:
            planner = TemplatePlanner(project, name)
            recipes = {ds: planner.recipe(ds) for ds in planner.template.datasets}
        except UserError as exc:
            report.problems.append(str(exc))
            known.update(k for k in lock.datasets if k.startswith(f"{name}/"))
            continue
        for ds, recipe in recipes.items():
            key = f"{name}/{ds}"
            known.add(key)
            path = project.dataset_path(name, ds)
            rel = project.rel(path)
            entry = lock.datasets.get(key)
            sha = file_sha256(path, missing_ok=True)
            if sha is None:
                report.datasets.append(DatasetStatus(key, rel, "missing", "not generated yet"))
            elif entry is None:
                report.datasets.append(
                    DatasetStatus(key, rel, "unknown", "not recorded in tdm.lock")
                )
            elif entry.recipe != recipe:
                report.datasets.append(
                    DatasetStatus(
                        key, rel, "stale", f"schema '{entry.schema_}' or template '{name}' changed"
                    )
                )
            elif entry.sha256 != sha:
                report.datasets.append(
                    DatasetStatus(key, rel, "modified", "content differs from tdm.lock")
                )
            else:
                report.datasets.append(
                    DatasetStatus(key, rel, "up to date", f"{entry.rows:,} rows")
                )
    for path in project.dataset_files():
        key = f"{path.parent.name}/{path.stem}"
        if key in known:
            continue
        entry = lock.datasets.get(key)
        rel = project.rel(path)
        if entry is None:
            report.datasets.append(
                DatasetStatus(key, rel, "orphaned", "no template or tdm.lock entry")
            )
        elif entry.sha256 != file_sha256(path, missing_ok=True):
            report.datasets.append(
                DatasetStatus(key, rel, "modified", "content differs from tdm.lock")
            )
        else:
            report.datasets.append(
                DatasetStatus(key, rel, "up to date", f"{entry.rows:,} rows (not generated)")
            )
    if only is not None:
        report.datasets = [d for d in report.datasets if d.dataset.split("/")[0] in only]
    repo = gitio.discover(project.root)
    if repo is None:
        report.git = False
    else:
        report.files = gitio.status(repo, project.root, MANAGED)
        from tdm.merge import Conflict, pending_conflicts

        for doc in pending_conflicts(project):
            key = doc.get("primary_key", "key")
            for c in doc.get("conflicts", []):
                conflict = Conflict(c.get("key"), c.get("kind", ""), c.get("ours"), c.get("theirs"))
                report.conflicts.append(f"{doc.get('dataset')}: {conflict.describe(key)}")
    return report

"""``tdm status``: which datasets are stale, missing or edited by hand, and which tdm files changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tdm import gitio
from tdm.errors import UserError
from tdm.hashcache import FileHashes
from tdm.models import Lock
from tdm.project import MANAGED, Project
from tdm.recipes import TemplatePlanner

DatasetState = Literal[
    "up to date", "stale", "missing", "modified", "orphaned", "unknown", "blocked", "removed"
]


@dataclass(frozen=True)
class DatasetStatus:
    dataset: str  # "<template>/<dataset>"
    path: str
    state: DatasetState
    reason: str
    recorded: bool = False  # tdm.lock has an entry for it


@dataclass
class StatusReport:
    datasets: list[DatasetStatus] = field(default_factory=list)
    files: list[gitio.FileState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # templates that could not be read
    git: bool = True
    #: row conflicts a merge left (tdm merge-driver), in words
    conflicts: list[str] = field(default_factory=list)
    #: temp files an interrupted or killed tdm run left (`tdm clean` removes them)
    temp_files: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return (
            all(d.state == "up to date" for d in self.datasets)
            and not self.problems
            and not self.conflicts
            and not self.temp_files
        )

    @property
    def lost(self) -> list[DatasetStatus]:
        """Datasets tdm.lock records whose file is gone (not removed on purpose)."""
        return [d for d in self.datasets if d.state == "missing" and d.recorded]

    @property
    def exit_code(self) -> int:
        """2 when a tdm file is malformed (as in validate), 1 when recorded data is gone."""
        if self.problems:
            return 2
        return 1 if self.lost else 0

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
            "temp_files": self.temp_files,
            "git": self.git,
        }


def status(project: Project, templates: list[str] | None = None) -> StatusReport:
    """Compare every template's datasets (or only ``templates``') with tdm.lock and the
    files on disk."""
    only = project.select_templates(templates)
    report = StatusReport()
    lock = project.read_lock()
    known: set[str] = set()
    repo = gitio.discover(project.root)
    # files unchanged since an earlier run hashed them are not read again
    hashes = FileHashes(None if repo is None else gitio.state_dir(repo))
    for name in project.template_names():
        try:
            planner = TemplatePlanner(project, name)
            recipes = {ds: planner.recipe(ds) for ds in planner.template.datasets}
        except UserError as exc:
            if str(exc) not in report.problems:  # one broken schema may break many templates
                report.problems.append(str(exc))
            _blocked(project, name, lock, exc, report, known)
            continue
        for ds, recipe in recipes.items():
            key = f"{name}/{ds}"
            known.add(key)
            path = project.dataset_path(name, ds)
            rel = project.rel(path)
            entry = lock.datasets.get(key)
            sha = hashes.sha256(path)
            if sha is None and entry is not None:
                report.datasets.append(
                    DatasetStatus(
                        key,
                        rel,
                        "missing",
                        f"recorded in tdm.lock but the file is gone: `tdm generate {name}` "
                        f"recreates it, `tdm rm {key}` removes it on purpose",
                        recorded=True,
                    )
                )
            elif sha is None:
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
    for key, entry in sorted(lock.datasets.items()):
        if key in known:
            continue
        folder, _, ds = key.partition("/")
        try:
            path = project.dataset_path(folder, ds)
        except (ValueError, UserError):
            continue
        if path.exists():
            continue  # listed with the files below
        known.add(key)
        if entry.masked is not None:
            report.datasets.append(
                DatasetStatus(
                    key,
                    project.rel(path),
                    "missing",
                    "made by `tdm mask` and recorded in tdm.lock, but the file is gone: "
                    f"restore it or `tdm rm {key}`",
                    recorded=True,
                )
            )
        else:
            report.datasets.append(
                DatasetStatus(
                    key,
                    project.rel(path),
                    "removed",
                    f"no longer in templates/{folder}.yaml; `tdm generate {folder}` or "
                    f"`tdm rm {key}` drops its tdm.lock entry",
                    recorded=True,
                )
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
        elif entry.sha256 != hashes.sha256(path):
            report.datasets.append(
                DatasetStatus(key, rel, "modified", "content differs from tdm.lock")
            )
        else:
            report.datasets.append(
                DatasetStatus(key, rel, "up to date", f"{entry.rows:,} rows (not generated)")
            )
    hashes.save()
    from tdm.replock import temp_files

    report.temp_files = [project.rel(p) for p in temp_files(project)]
    if only is not None:
        report.datasets = [d for d in report.datasets if d.dataset.split("/")[0] in only]
    if repo is None:
        report.git = False
    else:
        report.files = gitio.status(repo, project.root, MANAGED)
        report.conflicts = _conflicts(project, repo)
    return report


def _conflicts(project: Project, repo: gitio.Repository) -> list[str]:
    """The row conflicts the merge driver left, in words.  tdm.merge (and the snapshot
    reader it brings) is only loaded when its reports folder exists."""
    if not (gitio.state_dir(repo) / "conflicts").is_dir():  # tdm.merge.conflict_dir
        return []
    from tdm.merge import Conflict, pending_conflicts

    found = []
    for doc in pending_conflicts(project):
        key = doc.get("primary_key", "key")
        for c in doc.get("conflicts", []):
            conflict = Conflict(c.get("key"), c.get("kind", ""), c.get("ours"), c.get("theirs"))
            found.append(f"{doc.get('dataset')}: {conflict.describe(key)}")
    return found


def _blocked(
    project: Project,
    name: str,
    lock: Lock,
    exc: UserError,
    report: StatusReport,
    known: set[str],
) -> None:
    """A template that cannot be planned: its datasets are listed as not checked."""
    try:
        datasets = list(project.template(name).datasets)
    except UserError:
        datasets = []
    keys = {f"{name}/{ds}" for ds in datasets} | {
        k for k in lock.datasets if k.startswith(f"{name}/")
    }
    culprit = exc.path or f"templates/{name}.yaml"
    for key in sorted(keys):
        known.add(key)
        folder, _, ds = key.partition("/")
        try:
            rel = project.rel(project.dataset_path(folder, ds))
        except (ValueError, UserError):
            continue
        report.datasets.append(
            DatasetStatus(
                key,
                rel,
                "blocked",
                f"not checked: {culprit} is broken (see above)",
                recorded=key in lock.datasets,
            )
        )

"""Versions in git: commit, tag, versions, checkout, log and show, over :mod:`tdm.gitio`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tdm import canon, gitio, snapshot
from tdm._version import __version__
from tdm.errors import CheckFailed, UserError
from tdm.measure import Measure
from tdm.models import check_name
from tdm.project import COMMITTED, MANAGED, Project
from tdm.snapshot import TreeSnapshot

if TYPE_CHECKING:
    from tdm.validate import ValidationReport

VERSION_RE = re.compile(r"^v(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}$")
MANIFEST_MARK = "tdm-manifest: "


class ValidationFailed(CheckFailed):
    """`tdm commit` refused: the data does not validate."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        # a malformed file is exit 2 here as in `tdm validate`; findings in the data are 1
        self.exit_code = report.exit_code
        n = len(report.findings) + sum(report.omitted.values())
        super().__init__(
            f"validation found {n} problem(s); nothing was committed (fix them, or --no-verify)"
        )


# ---------------------------------------------------------------------- commit


@dataclass(frozen=True)
class CommitResult:
    commit: str | None  # None: nothing to commit
    branch: str | None
    files: list[gitio.FileState]
    validated: int  # datasets read
    cached: int  # datasets skipped by the validation cache


def commit(
    project: Project, message: str, *, verify: bool = True, all_tracked: bool = False
) -> CommitResult:
    """Validate (unless ``verify`` is False), stage the tdm files and commit them."""
    # imported here: checkout, log and show need none of the validation machinery
    from tdm.validate import record_cache, validate
    from tdm.vcache import ValidationCache

    if not message.strip():
        raise UserError("empty commit message; give one with -m")
    git = gitio.Git(project.root)
    git.signature()  # a missing identity fails before any work
    changes = git.changes(COMMITTED)
    report: ValidationReport | None = None
    cache = ValidationCache(git)
    if verify:
        report = validate(project, cache=cache)
        if not report.ok:
            raise ValidationFailed(report)
    index = git.stage(COMMITTED, all_tracked=all_tracked)
    oid = git.commit(index, message if message.endswith("\n") else message + "\n")
    validated = sum(1 for d in report.datasets if not d.cached) if report else 0
    cached = sum(1 for d in report.datasets if d.cached) if report else 0
    if oid is None:
        return CommitResult(None, git.current_branch(), [], validated, cached)
    if report is not None:
        record_cache(report, project, cache)
    committed = [
        gitio.FileState(f.path, "added" if f.state == "untracked" else f.state, True)
        for f in changes
    ]
    return CommitResult(str(oid), git.current_branch(), committed, validated, cached)


# ---------------------------------------------------------------------- manifests and tags


@dataclass(frozen=True)
class DatasetInfo:
    dataset: str  # "<template>/<dataset>"
    rows: int
    sha256: str
    schema: str | None


def manifest(git: gitio.Git, commit: gitio.Commit) -> list[DatasetInfo]:
    """Every dataset file in ``commit`` with its row count and sha256 (read from the blobs)."""
    snap = TreeSnapshot.of_commit(git, commit, str(commit.short_id))
    try:
        lock = snap.lock_entries()
    except UserError:
        lock = {}  # a lock that is not JSON names no schemas
    out = []
    for key, rel in snap.datasets().items():
        chunks = snap.chunks(rel)
        if chunks is None:
            continue
        measured = Measure()
        for chunk in chunks:
            measured.update(chunk)
        entry = lock.get(key)
        schema = entry.get("schema") if isinstance(entry, dict) else None
        out.append(DatasetInfo(key, measured.rows, measured.sha256, schema))
    return out


@dataclass(frozen=True)
class Version:
    name: str
    commit: str
    date: int | None
    tagger: str | None
    message: str
    datasets: list[DatasetInfo] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.name,
            "commit": self.commit,
            "date": self.date,
            "tagger": self.tagger,
            "message": self.message,
            "datasets": [
                {"dataset": d.dataset, "rows": d.rows, "sha256": d.sha256, "schema": d.schema}
                for d in self.datasets
            ],
        }


def version_key(name: str) -> tuple[int, ...]:
    parts = [int(p) for p in name[1:].split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def check_version(name: str) -> str:
    if not VERSION_RE.match(name):
        raise UserError(f"'{name}' is not a version: use vX, vX.Y or vX.Y.Z, e.g. v1.2")
    return name


def tag(
    project: Project, name: str, message: str | None = None, *, rev: str | None = None
) -> Version:
    """An annotated tag on HEAD whose message carries the manifest of its datasets; with
    ``rev``, on that commit (a branch's tip, say), whatever the working tree holds."""
    check_version(name)
    git = gitio.Git(project.root)
    head = git.head() if rev is None else git.resolve(rev)
    if head is None:
        raise CheckFailed("nothing is committed yet; run `tdm commit` before tagging a version")
    if git.has_tag(name):
        raise CheckFailed(f"tag {name} already exists; versions are never moved, so pick a new one")
    dirty = git.changes(MANAGED) if rev is None else []
    if dirty:
        files = ", ".join(f"{f.path} ({f.state})" for f in dirty[:8])
        raise CheckFailed(
            f"uncommitted tdm changes ({files}): the tag would not describe what you see; "
            "commit them with `tdm commit` first"
        )
    git.signature()
    datasets = manifest(git, head)
    summary = "\n".join(f"  {d.dataset}: {d.rows:,} rows, sha256 {d.sha256[:12]}" for d in datasets)
    payload = {
        "tdm_version": __version__,
        "datasets": {
            d.dataset: {"rows": d.rows, "sha256": d.sha256, "schema": d.schema} for d in datasets
        },
    }
    text = (message or f"tdm data version {name}").strip()
    body = f"{text}\n\nDatasets:\n{summary or '  (none)'}\n\n{MANIFEST_MARK}{orjson.dumps(payload).decode()}\n"
    git.create_tag(name, head, body)
    return Version(name, str(head.id), git.signature().time, git.signature().name, text, datasets)


def _parse_message(message: str) -> tuple[str, list[DatasetInfo] | None]:
    text = message
    datasets: list[DatasetInfo] | None = None
    idx = message.rfind("\n" + MANIFEST_MARK)
    if idx >= 0 or message.startswith(MANIFEST_MARK):
        raw = message[idx + 1 + len(MANIFEST_MARK) :] if idx >= 0 else message[len(MANIFEST_MARK) :]
        try:
            data = orjson.loads(raw.strip())
            datasets = [
                DatasetInfo(k, int(v["rows"]), str(v["sha256"]), v.get("schema"))
                for k, v in sorted(data.get("datasets", {}).items())
            ]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            datasets = None
        text = message[:idx] if idx >= 0 else ""
    text = text.split("\n\nDatasets:\n")[0].strip()
    return text, datasets


def versions(project: Project) -> list[Version]:
    """Tags that are tdm versions (vX, vX.Y, vX.Y.Z), newest version first."""
    git = gitio.Git(project.root)
    out = []
    for t in git.tags():
        if not VERSION_RE.match(t.name):
            continue
        text, datasets = _parse_message(t.message)
        if datasets is None:  # a plain git tag: describe it from the commit
            datasets = manifest(git, git.resolve(t.target))
        out.append(Version(t.name, t.target, t.time, t.tagger, text, datasets))
    return sorted(out, key=lambda v: version_key(v.name), reverse=True)


# ---------------------------------------------------------------------- checkout


@dataclass(frozen=True)
class CheckoutResult:
    commit: str
    branch: str | None  # None: detached HEAD


def checkout(project: Project, rev: str, *, force: bool = False) -> CheckoutResult:
    """Make the working tree match ``rev``; refuses to overwrite uncommitted changes unless ``force``."""
    git = gitio.Git(project.root)
    try:
        commit_obj, branch = git.checkout(rev, force=force)
    except gitio.CheckoutConflict as exc:
        clashes = exc.paths
        listed = ", ".join(clashes[:10]) + (
            f" and {len(clashes) - 10} more" if len(clashes) > 10 else ""
        )
        raise CheckFailed(
            f"checking out {rev} would overwrite uncommitted changes in: {listed}; "
            "commit them (`tdm commit`) or discard them with --force"
        ) from None
    return CheckoutResult(str(commit_obj.id), branch)


# ---------------------------------------------------------------------- log


@dataclass(frozen=True)
class LogEntry:
    commit: gitio.CommitInfo
    files: list[str]

    def to_json(self) -> dict[str, Any]:
        c = self.commit
        return {
            "commit": c.id,
            "author": c.author,
            "email": c.email,
            "date": c.time,
            "message": c.message,
            "files": self.files,
        }


def log(project: Project, limit: int | None = None) -> list[LogEntry]:
    """Commits that changed tdm files, newest first."""
    git = gitio.Git(project.root)
    out: list[LogEntry] = []
    for c in git.walk():
        files = git.changed_paths(c, MANAGED)
        if files:
            out.append(LogEntry(gitio.info(c), files))
            if limit is not None and len(out) >= limit:
                break
    return out


# ---------------------------------------------------------------------- reading datasets


def parse_dataset_name(name: str) -> tuple[str, str, str | None]:
    """``template/dataset[@rev]`` -> (template, dataset, rev)."""
    base, _, rev = name.partition("@")
    template, sep, dataset = base.partition("/")
    if not sep:
        raise UserError(
            f"dataset '{name}' must be written <template>/<dataset>, e.g. smoke/customers"
        )
    try:
        check_name(template, "template")
        check_name(dataset, "dataset")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return template, dataset, rev or None


def _rows(lines: Iterator[bytes], display: str) -> Iterator[dict[str, Any]]:
    loads = orjson.loads
    for line_no, line in enumerate(lines, start=1):
        try:
            yield loads(line)
        except orjson.JSONDecodeError as exc:
            raise UserError(
                f"line {line_no} is not valid JSON: {canon.decode_error(line, exc)}", path=display
            ) from None


def read_dataset(project: Project, name: str, rev: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of ``template/dataset``: from git objects at ``rev``, or the working tree when None."""
    lines, display = dataset_lines(project, name, rev)
    return _rows(lines, display)


def read_dataset_lines(project: Project, name: str, rev: str | None = None) -> Iterator[bytes]:
    """The JSON lines of a dataset, unparsed (see :func:`read_dataset`)."""
    return dataset_lines(project, name, rev)[0]


def dataset_lines(
    project: Project, name: str, rev: str | None = None
) -> tuple[Iterator[bytes], str]:
    """The lines of a dataset (each with its newline), and a name for it in messages."""
    template, dataset, at = parse_dataset_name(name)
    rev = rev if rev is not None else at
    snap = snapshot.at(project, rev) if rev is not None else snapshot.WorktreeSnapshot(project)
    rel = snap.dataset_file(f"{template}/{dataset}")
    lines = snap.lines(rel)
    if lines is None:
        if rev is None:
            raise UserError(
                f"dataset '{template}/{dataset}' does not exist ({rel}); see `tdm status`"
            )
        raise UserError(
            f"dataset '{template}/{dataset}' does not exist at {rev} ({rel} is not in that commit)"
        )
    return lines, snap.where(rel)


def list_datasets(project: Project, rev: str | None = None) -> list[str]:
    """``template/dataset`` names in the working tree or at ``rev``."""
    snap = snapshot.at(project, rev) if rev is not None else snapshot.WorktreeSnapshot(project)
    return list(snap.datasets())


def read_schema(project: Project, name: str, rev: str | None = None) -> dict[str, Any]:
    """A schema document (YAML or JSON) from the working tree or at ``rev``, checked as
    ``tdm validate`` loads it."""
    snap = snapshot.at(project, rev) if rev is not None else snapshot.WorktreeSnapshot(project)
    return dict(snap.schema(name).data)


def has_field(row: dict[str, Any], path: str) -> bool:
    """True when the dotted ``path`` names a field of ``row`` (whatever its value)."""
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


def matches(row: dict[str, Any], where: list[tuple[str, Any]]) -> bool:
    """True when every (dotted field, value) pair equals the row's value."""
    for path, want in where:
        value: Any = row
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return False
            value = value[part]
        if value != want:
            return False
    return True


def parse_where(items: list[str]) -> list[tuple[str, Any]]:
    """``FIELD=VALUE`` filters; VALUE is JSON when it parses (5, true, null), else a string."""
    out = []
    for item in items:
        fld, sep, raw = item.partition("=")
        if not sep or not fld:
            raise UserError(f"--where '{item}' must look like FIELD=VALUE, e.g. country=DE or id=5")
        try:
            value: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        out.append((fld, value))
    return out

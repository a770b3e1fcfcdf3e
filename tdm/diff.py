"""``tdm diff``: what changed between two versions of a tdm repository.

Two *sides* are compared: git commits, or a commit and the working tree.  Files are
matched by path and compared by blob id first, so an unchanged dataset is never
read, however large.  Then:

- schemas: every change, with the schema registry's verdict for a compatibility mode and
  rule set (:mod:`tdm.schemadiff`); the transitive modes also check every tagged version;
- datasets: rows added, removed and changed by primary key (:mod:`tdm.datadiff`);
- templates, masking rules, tdm.yaml and tdm.lock: their changes in words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from tdm import gitio
from tdm.canon import dumps, show
from tdm.datadiff import RowDiff, diff_rows
from tdm.errors import GitError, UserError
from tdm.measure import count_rows
from tdm.project import CONFIG_FILE, LOCK_FILE, MASKING_DIR, TEMPLATE_DIR, Project
from tdm.schemadiff import (
    Compat,
    Rules,
    SchemaChange,
    compare,
    primary_key,
    schema_added,
    schema_removed,
)
from tdm.snapshot import SUFFIXES, Snapshot, TreeSnapshot, WorktreeSnapshot

Status = Literal["added", "removed", "modified"]
_SUFFIXES = SUFFIXES

# ---------------------------------------------------------------------- sides

#: one version of the repository's tdm files (see :mod:`tdm.snapshot`)
Side = Snapshot


def _same(a: Side, b: Side, rel: str) -> bool | None:
    """True/False when blob ids decide it, None when a file must be read."""
    ida, idb = a.blob_id(rel), b.blob_id(rel)
    if ida is not None and idb is not None:
        return ida == idb
    return None


# ---------------------------------------------------------------------- results


@dataclass
class SchemaDiff:
    name: str
    path: str
    status: Status
    changes: list[SchemaChange] = field(default_factory=list)


@dataclass
class FileDiff:
    """A template, masking file, tdm.yaml or tdm.lock, summarised in words."""

    path: str
    kind: Literal["config", "lock", "template", "masking"]
    status: Status
    changes: list[str] = field(default_factory=list)


@dataclass
class DatasetDiff:
    name: str  # template/dataset
    path: str
    status: Status
    schema: str | None
    primary_key: str | None
    rows: RowDiff


@dataclass
class DiffReport:
    base: Side
    head: Side
    compat: Compat
    sample: int
    rules: Rules = "strict"
    schemas: list[SchemaDiff] = field(default_factory=list)
    files: list[FileDiff] = field(default_factory=list)
    datasets: list[DatasetDiff] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.schemas or self.files or self.datasets)

    def breaking(self) -> list[tuple[SchemaDiff, SchemaChange]]:
        return [(s, c) for s in self.schemas for c in s.changes if c.breaking(self.compat)]


# ---------------------------------------------------------------------- revisions


def sides(project: Project, base: str | None, head: str | None) -> tuple[Side, Side]:
    """The two sides named on the command line, as git reads them:

    - nothing: HEAD and the working tree;
    - ``A``: A and the working tree;
    - ``A B`` or ``A..B``: A and B;
    - ``A...B``: the merge base of A and B, and B (what a pull request from B into A shows).
    """
    git = gitio.Git(project.root)
    if base is not None and head is None:
        if "..." in base:
            left, _, right = base.partition("...")
            return _merge_base_sides(git, left or "HEAD", right or "HEAD")
        if ".." in base:
            left, _, right = base.partition("..")
            return _commit_side(git, left or "HEAD"), _commit_side(git, right or "HEAD")
    elif base is not None and (".." in base or (head is not None and ".." in head)):
        raise UserError("give either two revisions (A B) or one range (A..B or A...B), not both")
    if base is None:
        head_commit = git.head()
        return TreeSnapshot.of_commit(git, head_commit, "HEAD"), WorktreeSnapshot(project, git)
    if head is None:
        return _commit_side(git, base), WorktreeSnapshot(project, git)
    return _commit_side(git, base), _commit_side(git, head)


def _commit_side(git: gitio.Git, rev: str) -> TreeSnapshot:
    return TreeSnapshot.of_commit(git, git.resolve(rev), rev)


def _merge_base_sides(git: gitio.Git, left: str, right: str) -> tuple[Side, Side]:
    a, b = git.resolve(left), git.resolve(right)
    found = git.merge_base(a, b)
    if found is None:
        raise GitError(
            f"'{left}' and '{right}' have no common ancestor; compare them with `tdm diff {left} {right}`"
        )
    return (
        TreeSnapshot.of_commit(git, found, f"merge-base({left}, {right})"),
        TreeSnapshot.of_commit(git, b, right),
    )


# ---------------------------------------------------------------------- the diff


def diff(
    project: Project,
    base: str | None = None,
    head: str | None = None,
    *,
    compat: Compat = "backward",
    sample: int = 5,
    rules: Rules = "strict",
) -> DiffReport:
    if sample < 0:
        raise UserError("--rows must be 0 or more")
    a, b = sides(project, base, head)
    return diff_sides(a, b, compat=compat, sample=sample, rules=rules)


def diff_sides(
    a: Side, b: Side, *, compat: Compat = "backward", sample: int = 5, rules: Rules = "strict"
) -> DiffReport:
    report = DiffReport(a, b, compat, sample, rules)
    schemas_a, schemas_b = _schema_files(a), _schema_files(b)
    report.schemas = list(_schemas(a, b, schemas_a, schemas_b, compat, rules))
    if compat.endswith("-transitive"):
        report.schemas = _transitive(a, b, schemas_a, schemas_b, compat, rules, report.schemas)
    report.files = [
        *_config(a, b),
        *_named_files(a, b, TEMPLATE_DIR, "template", _template_changes),
        *_named_files(a, b, MASKING_DIR, "masking", _masking_changes),
        *_lock(a, b),
    ]
    report.datasets = list(_datasets(a, b, schemas_a, schemas_b, sample))
    return report


def _schema_files(side: Side) -> dict[str, str]:
    """schema name -> its file (the first of .yaml, .yml, .json, as tdm loads it)."""
    return side.schema_files()


def _schemas(
    a: Side,
    b: Side,
    files_a: dict[str, str],
    files_b: dict[str, str],
    compat: Compat = "backward",
    rules: Rules = "strict",
) -> Iterator[SchemaDiff]:
    for name in sorted(files_a.keys() | files_b.keys()):
        rel_a, rel_b = files_a.get(name), files_b.get(name)
        if rel_a is None:
            assert rel_b is not None
            yield SchemaDiff(name, rel_b, "added", [schema_added(name, rules)])
            continue
        if rel_b is None:
            yield SchemaDiff(name, rel_a, "removed", [schema_removed(name, rules)])
            continue
        if rel_a == rel_b and _same(a, b, rel_a):
            continue
        old, new = a.mapping(rel_a), b.mapping(rel_b)
        changes = compare(old, new, compat=_plain(compat), rules=rules)
        if changes:
            yield SchemaDiff(name, rel_b, "modified", changes)


def _plain(compat: Compat) -> Compat:
    base = compat.removesuffix("-transitive")
    return "forward" if base == "forward" else "full" if base == "full" else "backward"


def _transitive(
    a: Side,
    b: Side,
    files_a: dict[str, str],
    files_b: dict[str, str],
    compat: Compat,
    rules: Rules,
    found: list[SchemaDiff],
) -> list[SchemaDiff]:
    """The head's schemas checked against every tagged version that has them; only what
    breaks is added, each change naming the version it breaks against."""
    by_name = {s.name: s for s in found}
    for tag, side in tagged_sides(b):
        files_t = _schema_files(side)
        for name, rel_b in sorted(files_b.items()):
            rel_t = files_t.get(name)
            if rel_t is None:
                continue
            rel_a = files_a.get(name)
            known = {b.blob_id(rel_b), a.blob_id(rel_a) if rel_a is not None else None}
            if side.blob_id(rel_t) in known - {None}:
                continue  # the head's own version, or the base's (compared above)
            old, new = side.mapping(rel_t), b.mapping(rel_b)
            changes = compare(old, new, compat=_plain(compat), rules=rules)
            breaks = [c.against(tag) for c in changes if c.breaking()]
            if not breaks:
                continue
            if name not in by_name:
                by_name[name] = SchemaDiff(name, rel_b, "modified")
            by_name[name].changes.extend(breaks)
    return [by_name[n] for n in sorted(by_name)]


# ---------------------------------------------------------------------- tagged versions


def tagged_sides(head: Side) -> list[tuple[str, Side]]:
    """Every tag named ``v*``, in version order (v1.2 before v1.10), as a side to read."""
    git = getattr(head, "git", None)
    if git is None:
        return []
    tags = [t for t in git.tags() if t.name.startswith("v")]
    tags.sort(key=lambda t: _version_key(t.name))
    return [(t.name, TreeSnapshot.of_commit(git, git.resolve(t.target), t.name)) for t in tags]


def _version_key(name: str) -> tuple[Any, ...]:
    import re

    return tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.findall(r"\d+|\D+", name)
    )


def _config(a: Side, b: Side) -> list[FileDiff]:
    return _file_diff(a, b, CONFIG_FILE, "config", _generic_changes)


def _lock(a: Side, b: Side) -> list[FileDiff]:
    return _file_diff(a, b, LOCK_FILE, "lock", _lock_changes)


def _named_files(a: Side, b: Side, folder: str, kind: Any, describe: Any) -> list[FileDiff]:
    out = []
    for name in sorted(set(a.files(folder)) | set(b.files(folder))):
        if name.endswith(_SUFFIXES):
            out.extend(_file_diff(a, b, f"{folder}/{name}", kind, describe))
    return out


def _file_diff(a: Side, b: Side, rel: str, kind: Any, describe: Any) -> list[FileDiff]:
    if _same(a, b, rel):
        return []
    old_raw, new_raw = a.read(rel), b.read(rel)
    if old_raw == new_raw:
        return []
    if old_raw is None:
        return [FileDiff(rel, kind, "added", describe({}, b.mapping(rel)))]
    if new_raw is None:
        return [FileDiff(rel, kind, "removed", [])]
    changes = describe(a.mapping(rel), b.mapping(rel))
    if not changes:
        changes = ["formatting or comments only"]
    return [FileDiff(rel, kind, "modified", changes)]


# ---------------------------------------------------------------------- datasets


def _schema_of(side: Side, dataset: str) -> str | None:
    """The schema a dataset follows at ``side`` (:meth:`Snapshot.dataset_schema`)."""
    return side.dataset_schema(dataset)


def _key_of(side: Side, schema: str | None, schema_files: dict[str, str]) -> str | None:
    if schema is None or schema not in schema_files:
        return None
    return primary_key(side.mapping(schema_files[schema]))


def _datasets(
    a: Side, b: Side, schemas_a: dict[str, str], schemas_b: dict[str, str], sample: int
) -> Iterator[DatasetDiff]:
    names_a, names_b = a.datasets(), b.datasets()
    for name in sorted(names_a.keys() | names_b.keys()):
        rel_a, rel_b = names_a.get(name), names_b.get(name)
        rel = rel_b or rel_a
        assert rel is not None
        if rel_a is not None and rel_b is not None and _same(a, b, rel):
            continue
        schema = _schema_of(b, name) if rel_b else _schema_of(a, name)
        if rel_a is None or rel_b is None:
            side = b if rel_a is None else a
            data = side.read(rel) or b""
            rows = count_rows(data)
            del data
            result = RowDiff("line", 0 if rel_a is None else rows, rows if rel_a is None else 0)
            yield DatasetDiff(
                name,
                rel,
                "added" if rel_a is None else "removed",
                schema,
                _key_of(side, schema, schemas_b if rel_a is None else schemas_a),
                result,
            )
            continue
        schema_a = _schema_of(a, name)
        key_a = _key_of(a, schema_a, schemas_a)
        key_b = _key_of(b, schema, schemas_b)
        notes = []
        key = key_b
        missing = [
            f"schema '{s}' does not exist at {side.label}"
            for s, side, files in ((schema_a, a, schemas_a), (schema, b, schemas_b))
            if s is not None and s not in files
        ]
        if missing:
            notes.append(f"{'; '.join(dict.fromkeys(missing))}; compared lines")
            key = None
        elif key_a != key_b:
            notes.append(
                f"the primary key changed ({key_a or 'none'} -> {key_b or 'none'}); compared lines"
            )
            key = None
        elif key is None:
            notes.append(
                f"schema '{schema}' has no primary key (x-tdm.primary_key); compared lines"
                if schema
                else "no schema found for this dataset; compared lines"
            )
        old = a.read(rel) or b""
        new = b.read(rel) or b""
        result = diff_rows(
            old, new, key, sample=sample, side_names=(f"in {a.where(rel)}", f"in {b.where(rel)}")
        )
        del old, new
        if not result.differs:
            continue  # the same rows (the working file's blob id was not known)
        result.notes[:0] = notes
        yield DatasetDiff(name, rel, "modified", schema, key, result)


# ---------------------------------------------------------------------- files in words


def _generic_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in [*old, *(k for k in new if k not in old)]:
        path = f"{prefix}{key}"
        if key not in new:
            out.append(f"{path} removed (was {show(old[key])})")
        elif key not in old:
            out.append(f"{path} added: {show(new[key])}")
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            out.extend(_generic_changes(old[key], new[key], f"{path}."))
        elif dumps(old[key]) != dumps(new[key]):
            out.append(f"{path} {show(old[key])} -> {show(new[key])}")
    return out


def _template_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = _generic_changes(
        {k: v for k, v in old.items() if k != "datasets"},
        {k: v for k, v in new.items() if k != "datasets"},
    )
    before = old.get("datasets") if isinstance(old.get("datasets"), dict) else {}
    after = new.get("datasets") if isinstance(new.get("datasets"), dict) else {}
    assert isinstance(before, dict) and isinstance(after, dict)
    for name in [*before, *(n for n in after if n not in before)]:
        if name not in after:
            out.append(f"dataset {name} removed")
        elif name not in before:
            spec = after[name] if isinstance(after[name], dict) else {}
            out.append(
                f"dataset {name} added (schema {spec.get('schema', '?')}, count {spec.get('count', '?')})"
            )
        elif isinstance(before[name], dict) and isinstance(after[name], dict):
            out.extend(f"{name}: {c}" for c in _generic_changes(before[name], after[name]))
    return out


def _masking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = _generic_changes(
        {k: v for k, v in old.items() if k != "rules"},
        {k: v for k, v in new.items() if k != "rules"},
    )
    before = old.get("rules") if isinstance(old.get("rules"), dict) else {}
    after = new.get("rules") if isinstance(new.get("rules"), dict) else {}
    assert isinstance(before, dict) and isinstance(after, dict)
    for name in [*before, *(n for n in after if n not in before)]:
        a = before.get(name) if isinstance(before.get(name), dict) else {}
        b = after.get(name) if isinstance(after.get(name), dict) else {}
        assert isinstance(a, dict) and isinstance(b, dict)
        if name not in after:
            out.append(f"rule for {name} removed (was {a.get('strategy', '?')})")
        elif name not in before:
            out.append(f"rule for {name} added ({b.get('strategy', '?')})")
        else:
            if a.get("strategy") != b.get("strategy"):
                out.append(
                    f"rule for {name} changed from {a.get('strategy')} to {b.get('strategy')}"
                )
            rest_a = {k: v for k, v in a.items() if k != "strategy"}
            rest_b = {k: v for k, v in b.items() if k != "strategy"}
            out.extend(f"rule for {name}: {c}" for c in _generic_changes(rest_a, rest_b))
    return out


_OPAQUE = ("sha256", "recipe")


def _lock_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = old.get("datasets") if isinstance(old.get("datasets"), dict) else {}
    after = new.get("datasets") if isinstance(new.get("datasets"), dict) else {}
    assert isinstance(before, dict) and isinstance(after, dict)
    out = []
    for name in sorted(before.keys() | after.keys()):
        a = before.get(name) if isinstance(before.get(name), dict) else {}
        b = after.get(name) if isinstance(after.get(name), dict) else {}
        assert isinstance(a, dict) and isinstance(b, dict)
        if name not in after:
            out.append(f"{name}: entry removed")
            continue
        if name not in before:
            out.append(f"{name}: entry added ({b.get('rows', '?')} rows)")
            continue
        parts = []
        for key in sorted(a.keys() | b.keys()):
            if dumps(a.get(key)) == dumps(b.get(key)):
                continue
            if key in _OPAQUE:
                parts.append(f"{key} changed")
            else:
                parts.append(f"{key} {show(a.get(key))} -> {show(b.get(key))}")
        if parts:
            out.append(f"{name}: {', '.join(parts)}")
    return out

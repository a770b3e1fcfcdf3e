"""``tdm validate``: files, dataset rows, primary keys, references and tdm.lock.

Rows are streamed: each line is parsed with orjson and checked by a compiled
jsonschema-rs validator; only failing rows are explained in full.  Problems
are collected as findings (capped per file, with a total count) rather than
stopping at the first, so one run shows everything that needs fixing.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson

from tdm import canon
from tdm.checkcache import CheckedRecipes
from tdm.errors import UserError
from tdm.measure import file_sha256
from tdm.models import FieldHint, Lock, Template
from tdm.project import DATASET_DIR, Project, SchemaDoc
from tdm.recipes import TemplatePlanner, dataset_refs, match_ref_target
from tdm.vcache import ValidationCache

FindingKind = Literal["file", "row", "primary_key", "foreign_key", "lock", "dataset", "masking"]
ROW_FINDINGS_PER_FILE = 20
READ_BLOCK = 8 << 20


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    path: str
    line: int | None
    message: str
    pointer: str | None = None  # JSON path inside the row

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        at = f" at {self.pointer}" if self.pointer else ""
        return f"{where}: {self.message}{at}"


@dataclass(frozen=True)
class DatasetSummary:
    path: str
    schema: str | None
    rows: int
    findings: int
    cached: bool = False  # not read: validated before with identical content and schema


@dataclass
class ValidationReport:
    findings: list[Finding] = field(default_factory=list)
    datasets: list[DatasetSummary] = field(default_factory=list)
    #: findings not listed because of the per-file cap, by file
    omitted: dict[str, int] = field(default_factory=dict)
    #: what the validation cache needs to record this run (see record_cache)
    targets: list[_Target] = field(default_factory=list, repr=False)
    #: schemas that did not load, by name -> their file (already a finding each)
    broken_schemas: dict[str, str] = field(default_factory=dict, repr=False)
    #: dataset files not checked because a file they depend on is broken: folder -> name -> schema
    blocked: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def exit_code(self) -> int:
        if any(f.kind == "file" for f in self.findings):
            return 2
        return 1 if self.findings else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "findings": [
                {
                    "kind": f.kind,
                    "path": f.path,
                    "line": f.line,
                    "pointer": f.pointer,
                    "message": f.message,
                }
                for f in self.findings
            ],
            "omitted": self.omitted,
            "datasets": [
                {
                    "path": d.path,
                    "schema": d.schema,
                    "rows": d.rows,
                    "findings": d.findings,
                    "cached": d.cached,
                }
                for d in self.datasets
            ],
        }


@dataclass
class _Target:
    """A dataset file to check and what it is checked against."""

    path: Path
    rel: str
    folder: str
    name: str
    schema: SchemaDoc | None
    refs: dict[str, str]  # field -> "target.field" as written


def validate(
    project: Project,
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cache: ValidationCache | None = None,
    only_templates: list[str] | None = None,
) -> ValidationReport:
    """Check every tdm file and dataset of ``project``; large files are split over ``jobs`` processes.

    With ``only_templates``, only the datasets of those templates (dataset folders) are read;
    every tdm file is still checked.

    With a ``cache``, datasets validated before with identical content, schema, lock entry
    and referenced datasets are not read (files and templates are always checked)."""
    jobs = jobs or os.cpu_count() or 1
    only = project.select_templates(only_templates)
    report = ValidationReport()
    schemas = _check_files(project, report)
    templates = _load_templates(project, report, schemas)
    targets = _targets(project, report, schemas, templates)
    if only is not None:  # references stay inside a folder, so the selection is closed
        targets = [t for t in targets if t.folder in only]
    report.targets = targets
    lock = project.read_lock()
    _check_links(project, report)
    _check_missing(project, lock, report)
    _check_masking(project, targets, lock, report)
    keys: dict[tuple[str, str, str], set[Any]] = {}  # (folder, dataset, field) -> values
    pending: list[tuple[_Target, str, str, str, list[tuple[int, Any]]]] = []
    needed = _needed_keys(targets, report)
    skip = _cached(targets, project, cache) if cache is not None else set()
    for target in targets:
        if target.rel in skip:
            entry = lock.datasets.get(f"{target.folder}/{target.name}")
            rows = entry.rows if entry is not None else 0
            schema_name = target.schema.name if target.schema else None
            report.datasets.append(DatasetSummary(target.rel, schema_name, rows, 0, cached=True))
            if progress:
                progress(target.rel, 1, len(targets))
            continue
        want = {f for (folder, ds, f) in needed if folder == target.folder and ds == target.name}
        result = _scan(target, report, want, jobs, project)
        if progress:
            progress(target.rel, 1, len(targets))
        if result is None:
            continue
        sha, found_keys, ref_values = result
        for f, values in found_keys.items():
            keys[(target.folder, target.name, f)] = values
        entry = lock.datasets.get(f"{target.folder}/{target.name}")
        if entry is not None and entry.sha256 != sha:
            report.findings.append(
                Finding(
                    "lock",
                    target.rel,
                    None,
                    "content does not match tdm.lock (edited by hand?); regenerate it with "
                    "`tdm generate`, restore it from git, or, to keep the hand edit, "
                    "record it with `tdm resolve tdm.lock`",
                )
            )
        for f, (parent, parent_field) in _resolved_refs(target, targets).items():
            pending.append((target, f, parent, parent_field, ref_values.get(f, [])))
    for target, f, parent, parent_field, ref_list in pending:
        parent_keys = keys.get((target.folder, parent, parent_field))
        if parent_keys is None:
            continue
        bad = [(line, v) for line, v in ref_list if v is not None and v not in parent_keys]
        for line, v in bad[:ROW_FINDINGS_PER_FILE]:
            report.findings.append(
                Finding(
                    "foreign_key",
                    target.rel,
                    line,
                    f"{f}={v!r} has no row in {target.folder}/{parent} ({parent_field})",
                    f"/{f}",
                )
            )
        if len(bad) > ROW_FINDINGS_PER_FILE:
            report.omitted[target.rel] = (
                report.omitted.get(target.rel, 0) + len(bad) - ROW_FINDINGS_PER_FILE
            )
    _note_blocked(project, report)
    return report


def _check_links(project: Project, report: ValidationReport) -> None:
    """Dataset files that are symbolic links: never read, and git would commit the link."""
    base = project.root / DATASET_DIR
    if not base.is_dir():
        return
    for path in sorted(base.glob("*/*.jsonl")):
        if path.is_symlink():
            report.findings.append(
                Finding(
                    "file",
                    project.rel_link(path),
                    None,
                    f"is a symbolic link (to {os.readlink(path)}); tdm never reads through "
                    "links and git would commit the link, not the data: replace it with the "
                    "real file, or remove it",
                )
            )


def _check_missing(project: Project, lock: Lock, report: ValidationReport) -> None:
    """Data that tdm.lock records but that is gone, and datasets without a tdm.lock.

    Removing data on purpose is explicit: `tdm rm TEMPLATE/DATASET`, or deleting the
    dataset from its template (the stale tdm.lock entry is then not a finding; the
    next `tdm generate` of that template, or `tdm rm`, drops it)."""
    for key, entry in sorted(lock.datasets.items()):
        folder, _, name = key.partition("/")
        try:
            path = project.dataset_path(folder, name)
        except (ValueError, UserError):
            continue  # a malformed name in tdm.lock: never a path
        if path.exists() or path.is_symlink():
            continue
        if entry.masked is None and not _template_lists(project, folder, name):
            continue  # its template no longer lists it: removed on purpose
        report.findings.append(
            Finding(
                "dataset",
                project.rel(path),
                None,
                f"is recorded in tdm.lock ({entry.rows:,} rows) but the file is missing; "
                + (
                    f"recreate it with `tdm mask ... -o {project.rel(path)}` or restore it from git"
                    if entry.masked is not None
                    else f"recreate it with `tdm generate {folder}` or restore it from git"
                )
                + f", or remove it on purpose with `tdm rm {key}`",
            )
        )
    if not (project.root / "tdm.lock").exists():
        files = project.dataset_files()
        # hand-written data may never have had a tdm.lock; one HEAD has was deleted
        if files and _lock_in_head(project):
            report.findings.append(
                Finding(
                    "lock",
                    "tdm.lock",
                    None,
                    f"is missing (HEAD has it), but {DATASET_DIR}/ has {len(files)} dataset file(s) "
                    "it should record; restore it from git (`git checkout -- tdm.lock`) or run "
                    "`tdm generate` to write it",
                )
            )


def _lock_in_head(project: Project) -> bool:
    """Whether the commit at HEAD has this repository's tdm.lock."""
    from tdm import gitio, snapshot

    try:
        git = gitio.Git(project.root)
        return snapshot.at(project, "HEAD", git).blob_id("tdm.lock") is not None
    except (UserError, ValueError, OSError):
        return False


def _template_lists(project: Project, template: str, dataset: str) -> bool:
    """Whether templates/TEMPLATE lists DATASET (a template that does not load counts as
    listing it: its datasets are not known to be gone)."""
    if template not in project.template_names():
        return False
    try:
        return dataset in project.template(template).datasets
    except UserError:
        return True


def _note_blocked(project: Project, report: ValidationReport) -> None:
    """Say, on each broken schema's finding, which datasets it kept from being checked."""
    by_schema: dict[str, list[str]] = {}
    for folder, names in report.blocked.items():
        for name, schema in names.items():
            by_schema.setdefault(schema, []).append(f"{folder}/{name}")
    for i, f in enumerate(report.findings):
        if f.kind != "file":
            continue
        for schema, display in report.broken_schemas.items():
            if f.path == display and by_schema.get(schema):
                blocked = sorted(by_schema.pop(schema))
                report.findings[i] = Finding(
                    f.kind,
                    f.path,
                    f.line,
                    f"{f.message} (blocks checking {', '.join(blocked)})",
                    f.pointer,
                )
                break


def _check_masking(
    project: Project, targets: list[_Target], lock: Lock, report: ValidationReport
) -> None:
    """A dataset that came from `tdm mask`: every field its schema marks ``pii: true``
    must have a masking rule (or have been allowed unmasked when it was made)."""
    from tdm.fields import pii_fields

    for target in targets:
        entry = lock.datasets.get(f"{target.folder}/{target.name}")
        if entry is None or entry.masked is None or target.schema is None:
            continue
        rules_name = Path(entry.masked.rules).stem
        try:
            rules = project.masking(rules_name)
        except UserError:
            report.findings.append(
                Finding(
                    "masking",
                    target.rel,
                    None,
                    f"came from `tdm mask` with {entry.masked.rules}, which no longer loads; restore it",
                )
            )
            continue
        covered = [*rules.rules, *entry.masked.allowed_unmasked]
        declared = {
            f for f, why in pii_fields(target.schema.data).items() if why == "declared pii: true"
        }
        for f in sorted(declared):
            if not any(f == c or f.startswith(c + ".") for c in covered):
                report.findings.append(
                    Finding(
                        "masking",
                        target.rel,
                        None,
                        f"field {f} is marked pii in schema '{target.schema.name}' but "
                        f"{entry.masked.rules} has no rule for it; add one and run `tdm mask` again",
                    )
                )


def _cache_keys(
    targets: list[_Target], project: Project, cache: ValidationCache
) -> dict[str, str | None]:
    lock = project.read_lock()
    oids = {t.rel: cache.oid(t.rel) for t in targets}
    by_name = {(t.folder, t.name): t for t in targets}
    out: dict[str, str | None] = {}
    for t in targets:
        assert t.schema is not None
        entry = lock.datasets.get(f"{t.folder}/{t.name}")
        parts: list[str | None] = [
            oids[t.rel],
            t.rel,
            _schema_key(project, t.schema),
            entry.sha256 if entry is not None else "-",
            canon.dumps(t.refs).decode(),
        ]
        for name, _field in sorted(_resolved_refs(t, targets).values()):
            parent = by_name.get((t.folder, name))
            parts.append(oids.get(parent.rel) if parent is not None else None)
        out[t.rel] = None if any(p is None for p in parts) else cache.key(*[str(p) for p in parts])
    return out


def _cached(targets: list[_Target], project: Project, cache: ValidationCache) -> set[str]:
    """Datasets that need not be read: cached, and not the parent of one that is read."""
    keys = _cache_keys(targets, project, cache)
    skip = {rel for rel, key in keys.items() if key is not None and cache.seen(key)}
    by_name = {(t.folder, t.name): t for t in targets}
    changed = True
    while changed:  # a dataset that is read needs its parents' keys for its references
        changed = False
        for t in targets:
            if t.rel in skip:
                continue
            for name, _field in _resolved_refs(t, targets).values():
                parent = by_name.get((t.folder, name))
                if parent is not None and parent.rel in skip:
                    skip.discard(parent.rel)
                    changed = True
    return skip


def record_cache(report: ValidationReport, project: Project, cache: ValidationCache) -> int:
    """Remember every dataset of a clean ``report`` whose file git now knows (after a commit)."""
    if not report.ok:
        return 0
    keys = [k for k in _cache_keys(report.targets, project, cache).values() if k is not None]
    cache.record(keys)
    return len(keys)


def _file_finding(report: ValidationReport, exc: UserError) -> None:
    """A broken file, reported once however many templates or rules it breaks."""
    finding = Finding("file", exc.path or "tdm", exc.line, _strip_where(exc))
    if finding not in report.findings:
        report.findings.append(finding)


def _strip_where(exc: UserError) -> str:
    text = str(exc)
    prefix = f"{exc.path}:{exc.line}: " if exc.line is not None else f"{exc.path}: "
    return text[len(prefix) :] if exc.path and text.startswith(prefix) else text


def _check_files(project: Project, report: ValidationReport) -> dict[str, SchemaDoc]:
    schemas: dict[str, SchemaDoc] = {}
    for name in project.schema_names():
        try:
            schemas[name] = project.schema(name)
        except UserError as exc:
            _file_finding(report, exc)
            report.broken_schemas[name] = exc.path or name
    for name in project.masking_names():
        try:
            rules = project.masking(name)
        except UserError as exc:
            _file_finding(report, exc)
            continue
        doc = project.masking_doc(name)
        schema = schemas.get(rules.schema_)
        if schema is None and rules.schema_ in report.broken_schemas:
            continue  # the schema's own finding says what is wrong
        if schema is None:
            report.findings.append(
                Finding(
                    "file",
                    doc.path,
                    doc.line_of(("schema",)),
                    f"schema '{rules.schema_}' does not exist",
                )
            )
            continue
        props = schema.data.get("properties", {})
        for field_name, rule in rules.rules.items():
            if field_name not in props:
                report.findings.append(
                    Finding(
                        "file",
                        doc.path,
                        doc.line_of(("rules", field_name)),
                        f"rule for '{field_name}', which is not a property of {schema.display}",
                    )
                )
            per = getattr(rule, "per", None)
            if per is not None and per not in props:
                report.findings.append(
                    Finding(
                        "file",
                        doc.path,
                        doc.line_of(("rules", field_name, "per")),
                        f"'per: {per}' names no property of {schema.display}",
                    )
                )
    return schemas


def _load_templates(
    project: Project, report: ValidationReport, schemas: dict[str, SchemaDoc]
) -> dict[str, Template]:
    templates: dict[str, Template] = {}
    checks = CheckedRecipes(project)
    for name in project.template_names():
        try:
            template = project.template(name)
            # planning checks everything generate would: schemas, generators, refs, overrides;
            # it is skipped (no generators, no Faker pools) when every dataset's recipe is
            # known to plan and pass its self-check (tdm.checkcache)
            planner = TemplatePlanner(project, name, template, checks)
            if not _all_checked(planner, checks):
                planner.plan_all()
        except UserError as exc:
            _file_finding(report, exc)
            continue
        templates[name] = template
    return templates


def _all_checked(planner: TemplatePlanner, checks: CheckedRecipes) -> bool:
    try:
        return all(
            checks.seen(f"{planner.name}/{ds}", planner.recipe(ds))
            for ds in planner.template.datasets
        )
    except UserError:
        return False  # planning reports it, with the same message as always


def _targets(
    project: Project,
    report: ValidationReport,
    schemas: dict[str, SchemaDoc],
    templates: dict[str, Template],
) -> list[_Target]:
    lock = project.read_lock()
    targets: list[_Target] = []
    for path in project.dataset_files():
        folder, name = path.parent.name, path.stem
        rel = project.rel(path)
        schema_name: str | None = None
        overrides: dict[str, FieldHint] = {}
        template = templates.get(folder)
        if template is not None and name in template.datasets:
            spec = template.datasets[name]
            schema_name, overrides = spec.schema_, dict(spec.overrides)
        elif f"{folder}/{name}" in lock.datasets:
            schema_name = lock.datasets[f"{folder}/{name}"].schema_
        if schema_name is None:
            if folder not in templates and folder in project.template_names():
                # the template itself is broken: already a finding
                report.blocked.setdefault(folder, {})[name] = name
                continue
            report.findings.append(
                Finding(
                    "dataset",
                    rel,
                    None,
                    f"no template or tdm.lock entry says which schema this dataset follows; add it to "
                    f"templates/{folder}.yaml or remove the file",
                )
            )
            continue
        schema = schemas.get(schema_name)
        if schema is None:
            # reported with the schema file or the template
            report.blocked.setdefault(folder, {})[name] = schema_name
            continue
        targets.append(_Target(path, rel, folder, name, schema, dataset_refs(schema, overrides)))
    # parents before children is not needed for correctness (references are checked
    # after every file is read) but gives findings a stable order
    return sorted(targets, key=lambda t: t.rel)


def _resolve(target: _Target, ref: str, targets: list[_Target]) -> tuple[str, str] | None:
    dataset, _, parent_field = ref.rpartition(".")
    schemas = {t.name: t.schema.name for t in targets if t.folder == target.folder and t.schema}
    found, _ = match_ref_target(dataset, schemas)
    return (found, parent_field) if found is not None else None


def _resolved_refs(target: _Target, targets: list[_Target]) -> dict[str, tuple[str, str]]:
    out = {}
    for f, ref in target.refs.items():
        resolved = _resolve(target, ref, targets)
        if resolved is not None:
            out[f] = resolved
    return out


def _needed_keys(targets: list[_Target], report: ValidationReport) -> set[tuple[str, str, str]]:
    needed: set[tuple[str, str, str]] = set()
    for target in targets:
        for f, ref in target.refs.items():
            resolved = _resolve(target, ref, targets)
            if resolved is None and _blocked_target(target, ref, report):
                continue  # the parent dataset exists but could not be checked: said already
            if resolved is None:
                report.findings.append(
                    Finding(
                        "foreign_key",
                        target.rel,
                        None,
                        f"{f} references '{ref}', but {DATASET_DIR}/{target.folder}/ has no such dataset",
                    )
                )
                continue
            needed.add((target.folder, resolved[0], resolved[1]))
    return needed


def _blocked_target(target: _Target, ref: str, report: ValidationReport) -> bool:
    dataset = ref.rpartition(".")[0]
    found, _ = match_ref_target(dataset, report.blocked.get(target.folder, {}))
    return found is not None


def _ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Split a file into ``parts`` byte ranges that start and end at line boundaries."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as fh:
        for k in range(1, parts):
            fh.seek(max(size * k // parts, bounds[-1]))
            fh.readline()
            pos = min(fh.tell(), size)
            if pos > bounds[-1]:
                bounds.append(pos)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a] or [(0, 0)]


@dataclass
class _Part:
    """What one worker found in one byte range of a dataset file."""

    lines: int = 0
    findings: list[tuple[FindingKind, int, str, str | None]] = field(default_factory=list)
    total: int = 0
    #: per field, one value per line (None where the row is invalid or lacks it)
    columns: dict[str, list[Any]] = field(default_factory=dict)


def _scan_range(
    path: Path,
    start: int,
    stop: int,
    schema: dict[str, Any],
    fields: list[str],
    cap: int,
    others: dict[str, Any],
) -> _Part:
    from tdm import jsonschema_norm

    validator = jsonschema_norm.document_validator(schema, others.get)
    part = _Part(columns={f: [] for f in fields})
    loads = orjson.loads
    is_valid = validator.is_valid
    cols = [(f, part.columns[f]) for f in fields]
    line_no = 0

    def add(kind: FindingKind, message: str, pointer: str | None = None) -> None:
        part.total += 1
        if len(part.findings) < cap:
            part.findings.append((kind, line_no, message, pointer))

    with path.open("rb") as fh:
        fh.seek(start)
        remaining = stop - start
        rest = b""
        while remaining > 0 or rest:
            block = fh.read(min(READ_BLOCK, remaining)) if remaining > 0 else b""
            remaining -= len(block)
            lines = (rest + block).split(b"\n")
            rest = lines.pop() if remaining > 0 else b""
            if remaining <= 0 and lines and lines[-1] == b"":
                lines.pop()
            for line in lines:
                line_no += 1
                if line_no == 1 and start == 0 and line.startswith(_BOM):
                    # reported once; the row is still read, so its keys count for references
                    add(
                        "row",
                        "starts with a UTF-8 byte-order mark (BOM), which JSON Lines "
                        "does not allow; remove it (tdm never writes one)",
                    )
                    line = line[len(_BOM) :]
                try:
                    row = loads(line)
                except orjson.JSONDecodeError as exc:
                    add("row", f"not valid JSON: {canon.decode_error(line, exc)}")
                    for _, col in cols:
                        col.append(None)
                    continue
                if not is_valid(row):
                    for error in validator.iter_errors(row):
                        pointer = "/" + "/".join(str(p) for p in error.instance_path)
                        add("row", error.message, pointer)
                    if not isinstance(row, dict):
                        for _, col in cols:
                            col.append(None)
                        continue
                # an invalid row still contributes its keys, so one bad field does not
                # also show up as dangling references in every child dataset
                for f, col in cols:
                    value = row.get(f)
                    col.append(value if isinstance(value, str | int | float | bool) else None)
            if not block:
                break
    part.lines = line_no
    return part


PARALLEL_BYTES = 32 << 20
_BOM = b"\xef\xbb\xbf"


def _scan(
    target: _Target,
    report: ValidationReport,
    want: set[str],
    jobs: int,
    project: Project,
) -> tuple[str, dict[str, set[Any]], dict[str, list[tuple[int, Any]]]] | None:
    """Check every row of ``target``; the schema files its schema references come from
    ``project``."""
    assert target.schema is not None
    schema = target.schema
    others = project.schema_externals(schema.data, schema.display)
    pk = schema.primary_key
    fields = sorted({*want, *target.refs, *([pk] if pk else [])})
    size = target.path.stat().st_size
    parts_wanted = jobs if size >= PARALLEL_BYTES else 1
    ranges = _ranges(target.path, parts_wanted)
    args = [
        (target.path, a, b, schema.data, fields, ROW_FINDINGS_PER_FILE, others) for a, b in ranges
    ]
    if len(ranges) > 1:
        with ProcessPoolExecutor(len(ranges), mp_context=_mp_context()) as pool:
            futures = [pool.submit(_scan_range, *a) for a in args]
            sha = file_sha256(target.path)
            parts = [f.result() for f in futures]
    else:
        parts = [_scan_range(*args[0])]
        sha = file_sha256(target.path)
    listed = total = offset = 0
    columns: dict[str, list[Any]] = {f: [] for f in fields}
    for part in parts:
        for kind, line, message, pointer in part.findings:
            if listed < ROW_FINDINGS_PER_FILE:
                report.findings.append(Finding(kind, target.rel, offset + line, message, pointer))
                listed += 1
        total += part.total
        offset += part.lines
        for f in fields:
            columns[f].extend(part.columns[f])
    keys: dict[str, set[Any]] = {}
    if pk is not None:
        seen: set[Any] = set()
        for line, value in enumerate(columns[pk], start=1):
            if value is None:
                continue
            if value in seen:
                total += 1
                if listed < ROW_FINDINGS_PER_FILE:
                    listed += 1
                    report.findings.append(
                        Finding(
                            "primary_key",
                            target.rel,
                            line,
                            f"duplicate primary key {pk}={value!r}",
                            f"/{pk}",
                        )
                    )
            else:
                seen.add(value)
        keys[pk] = seen
    for f in want:
        if f != pk:
            keys[f] = {v for v in columns[f] if v is not None}
    ref_values = {
        f: [(line, v) for line, v in enumerate(columns[f], start=1) if v is not None]
        for f in target.refs
    }
    if total > listed:
        report.omitted[target.rel] = total - listed
    report.datasets.append(DatasetSummary(target.rel, schema.name, offset, total))
    return sha, keys, ref_values


def _mp_context() -> multiprocessing.context.BaseContext:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _schema_key(project: Project, schema: SchemaDoc) -> str:
    """A hash of what decides row validity: the schema file, plus the files it references."""
    others = project.schema_externals(schema.data, schema.display)
    if not others:
        return hashlib.sha256(schema.raw_bytes).hexdigest()
    return canon.sha256({"schema": schema.data, "others": others})

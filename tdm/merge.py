"""Three-way merges of datasets by primary key, and of tdm.lock.

Git merges JSON Lines files line by line, so two branches that edit nearby rows
conflict.  tdm merges rows by key instead:

- a row changed (or removed) on one side only takes that side's version;
- a row changed the same way on both sides is taken once;
- a row changed differently on both sides, or changed on one side and removed
  on the other, or added with the same key and different content on both, is a
  conflict: the merged file keeps *our* version so it stays valid JSON Lines,
  and the conflict is described (key, fields, both values) for ``tdm resolve``.

The base file's order is kept; rows added by ours, then by theirs, follow it.
Only the lines that differ from the base are decoded (see :mod:`tdm.datadiff`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tdm import canon, gitio
from tdm.datadiff import field_changes, key_id, line_delta
from tdm.errors import UserError
from tdm.fsutil import write_bytes_atomic
from tdm.measure import measure
from tdm.models import check_name
from tdm.project import LOCK_FILE, Project
from tdm.snapshot import Snapshot, TreeSnapshot, WorktreeSnapshot


@dataclass
class Conflict:
    key: Any
    kind: str  # both_changed | changed_removed | removed_changed | both_added
    ours: dict[str, Any] | None
    theirs: dict[str, Any] | None

    def fields(self) -> list[str]:
        if self.ours is None or self.theirs is None:
            return []
        return [c.name for c in field_changes(self.ours, self.theirs)]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "fields": self.fields(),
            "ours": self.ours,
            "theirs": self.theirs,
        }

    def describe(self, key_name: str) -> str:
        k = orjson.dumps(self.key).decode()
        if self.kind == "both_changed":
            return f"{key_name}={k}: both sides changed {', '.join(self.fields()) or 'the row'}"
        if self.kind == "changed_removed":
            return f"{key_name}={k}: changed on our side, removed on theirs"
        if self.kind == "removed_changed":
            return f"{key_name}={k}: removed on our side, changed on theirs"
        return f"{key_name}={k}: added on both sides with different values"


@dataclass
class MergeResult:
    data: bytes
    conflicts: list[Conflict] = field(default_factory=list)
    rows: int = 0

    @property
    def clean(self) -> bool:
        return not self.conflicts


class CannotMerge(Exception):
    """The rows cannot be matched by key (no key, a repeated key, a row that is not JSON)."""


Indexed = dict[tuple[bool, Any], tuple[Any, dict[str, Any], bytes]]  # key id -> (key, row, line)


def _index(lines: dict[bytes, int], key: str, side: str) -> Indexed:
    out: Indexed = {}
    for line, times in lines.items():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise CannotMerge(f"a row {side} is not valid JSON ({exc})") from None
        if not isinstance(row, dict) or key not in row or isinstance(row[key], (dict, list)):
            raise CannotMerge(f"a row {side} has no usable primary key '{key}'")
        kid = key_id(row[key])
        if times > 1 or kid in out:
            raise CannotMerge(f"primary key {key}={orjson.dumps(row[key]).decode()} repeats {side}")
        out[kid] = (row[key], row, line)
    return out


def merge_rows(base: bytes, ours: bytes, theirs: bytes, key: str) -> MergeResult:
    """Merge two versions of a dataset that both descend from ``base``, by ``key``."""
    d_ours = line_delta(base, ours)
    d_theirs = line_delta(base, theirs)
    gone_o = _index(d_ours.only_old, key, "in the base")
    new_o = _index(d_ours.only_new, key, "on our side")
    gone_t = _index(d_theirs.only_old, key, "in the base")
    new_t = _index(d_theirs.only_new, key, "on their side")
    touched = set(d_ours.only_old) | set(d_theirs.only_old)
    conflicts: list[Conflict] = []
    out: list[bytes] = []
    base_keys: set[tuple[bool, Any]] = set()
    for raw in io.BytesIO(base):
        line = raw.strip(b"\r\n\t ")
        if not line:
            continue
        if line not in touched:
            out.append(line)  # the same on both sides
            continue
        row = orjson.loads(line)
        k = row[key]
        kid = key_id(k)
        base_keys.add(kid)
        in_o, in_t = kid in new_o, kid in new_t
        removed_o = kid in gone_o and not in_o
        removed_t = kid in gone_t and not in_t
        if in_o and in_t:
            ours_row, theirs_row = new_o[kid], new_t[kid]
            if field_changes(ours_row[1], theirs_row[1]):
                conflicts.append(Conflict(k, "both_changed", ours_row[1], theirs_row[1]))
            out.append(ours_row[2])
        elif in_o:
            if removed_t:
                conflicts.append(Conflict(k, "changed_removed", new_o[kid][1], None))
            out.append(new_o[kid][2])
        elif in_t:
            if removed_o:
                conflicts.append(Conflict(k, "removed_changed", None, new_t[kid][1]))
                continue  # ours removed it: stays removed until resolved
            out.append(new_t[kid][2])
        elif not (removed_o or removed_t):
            out.append(line)
    for kid, (_, _, line) in new_o.items():
        if kid not in base_keys:
            out.append(line)
    for kid, (k, row, added) in new_t.items():
        if kid in base_keys:
            continue
        other = new_o.get(kid)
        if other is None:
            out.append(added)
        elif field_changes(other[1], row):
            conflicts.append(Conflict(k, "both_added", other[1], row))
    data = b"".join(line + b"\n" for line in out)
    return MergeResult(data, conflicts, len(out))


# ---------------------------------------------------------------------- tdm.lock


def merge_lock(
    base: dict[str, Any],
    ours: dict[str, Any],
    theirs: dict[str, Any],
    merged_data: dict[str, bytes],
) -> dict[str, Any]:
    """tdm.lock is derived: entries merge per dataset (one side's change wins over an
    unchanged entry; when both changed, theirs), then ``rows`` and ``sha256`` are
    recomputed from the merged datasets in ``merged_data`` (``template/dataset`` ->
    bytes)."""
    b = base.get("datasets", {}) if isinstance(base.get("datasets"), dict) else {}
    o = ours.get("datasets", {}) if isinstance(ours.get("datasets"), dict) else {}
    t = theirs.get("datasets", {}) if isinstance(theirs.get("datasets"), dict) else {}
    out: dict[str, Any] = {}
    for name in sorted(b.keys() | o.keys() | t.keys()):
        eb, eo, et = b.get(name), o.get(name), t.get(name)
        if eo == eb:
            chosen = et
        elif et == eb:
            chosen = eo
        else:
            chosen = et if et is not None else eo
        if chosen is None:
            continue
        chosen = dict(chosen)
        data = merged_data.get(name)
        if data is not None:
            chosen["rows"], chosen["sha256"] = measure(data)
        out[name] = chosen
    merged = dict(theirs) if theirs else dict(ours)
    merged["datasets"] = out
    return merged


def dumps_lock(lock: dict[str, Any]) -> bytes:
    """The bytes tdm writes for a lock (sorted keys, two-space indent)."""
    return canon.pretty(lock)


# ---------------------------------------------------------------------- two commits


@dataclass
class CommitMerge:
    """Two commits merged in memory: datasets changed on both sides merged by key,
    tdm.lock merged and recomputed for them, the rest by libgit2."""

    #: the merged tree; None when it was not asked for or the merge is not clean
    tree: gitio.Tree | None
    #: ``template/dataset`` -> its rows merged by key (conflicting rows keep ours)
    results: dict[str, MergeResult] = field(default_factory=dict)
    #: what keeps the merge from being clean, one line each (path: reason)
    problems: list[str] = field(default_factory=list)

    @property
    def merged_by_key(self) -> list[str]:
        return sorted(self.results)

    @property
    def clean(self) -> bool:
        return not self.problems


def merge_commits(
    git: gitio.Git,
    ours: gitio.Commit,
    theirs: gitio.Commit,
    *,
    keys: Snapshot | None = None,
    datasets: Collection[str] | None = None,
    write_tree: bool = True,
) -> CommitMerge:
    """The three-way merge of ``ours`` and ``theirs`` (from their merge base), computed
    in memory; nothing in the working tree, the index or the refs changes.

    Every dataset changed on both sides is merged by its primary key, as ``keys`` (a
    snapshot, default: ``ours``) says which schema it follows (:meth:`Snapshot.dataset_schema`);
    ``datasets`` limits that to some names.  With ``write_tree`` the whole trees are merged
    too (libgit2), the merged datasets and a merged tdm.lock put in, and the merged tree
    written when nothing conflicts."""
    base = git.merge_base(ours, theirs)
    snaps = [
        TreeSnapshot.of_commit(git, commit, label)
        for commit, label in ((base, "base"), (ours, "ours"), (theirs, "theirs"))
    ]
    keys = keys or snaps[1]
    out = CommitMerge(None)
    tree = git.merge(ours, theirs) if write_tree else None
    for name, rel in sorted(snaps[1].datasets().items()):
        if datasets is not None and name not in datasets:
            continue
        ids = [s.blob_id(rel) for s in snaps]
        b, o, t = ids
        if b is None or o is None or t is None or o == t or b in (o, t):
            continue  # not changed on both sides: libgit2's result is exact
        key = keys.primary_key(name)
        if key is None:
            out.problems.append(f"{rel}: changed on both sides and its schema has no primary key")
            continue
        try:
            res = merge_rows(git.read_blob(b), git.read_blob(o), git.read_blob(t), key)
        except CannotMerge as exc:
            out.problems.append(f"{rel}: {exc}")
            continue
        out.results[name] = res
        if not res.clean:
            out.problems.extend(f"{rel}: {c.describe(key)}" for c in res.conflicts)
        elif tree is not None:
            tree.put(rel, res.data)
    if tree is None:
        return out
    clean = {n: r.data for n, r in out.results.items() if r.clean}
    if clean or LOCK_FILE in tree.conflicts():
        docs = [_json(s.read(LOCK_FILE) or b"{}") for s in snaps]
        tree.put(LOCK_FILE, dumps_lock(merge_lock(docs[0], docs[1], docs[2], clean)))
    out.problems.extend(f"{path}: conflicting changes" for path in tree.conflicts())
    if not out.problems:
        out.tree = tree.write_tree()
    return out


def _json(data: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return doc if isinstance(doc, dict) else {}


# ---------------------------------------------------------------------- git integration

DRIVER = "tdm"
ATTRIBUTES = (
    "# tdm: datasets and tdm.lock merge by primary key (see `tdm merge-driver --help`)\n"
    "datasets/*/*.jsonl merge=tdm\n"
    "tdm.lock merge=tdm\n"
)


def register(project: Project) -> list[str]:
    """Declare the driver in ``.gitattributes`` (committed with the data) and configure it
    in the repository's git config (``merge.tdm.driver``).  Returns what changed."""
    import shlex
    import sys

    from tdm.fsutil import write_text_atomic

    changed = []
    path = project.root / ".gitattributes"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "merge=tdm" not in text:
        sep = "" if not text or text.endswith("\n") else "\n"
        write_text_atomic(path, text + sep + ATTRIBUTES)
        changed.append(".gitattributes")
    repo = gitio.discover(project.root)
    if repo is not None:
        driver = f"{shlex.quote(sys.executable)} -m tdm merge-driver %O %A %B %P"
        config = repo.config
        if _config_get(config, f"merge.{DRIVER}.driver") != driver:
            config[f"merge.{DRIVER}.name"] = "tdm: merge datasets by primary key"
            config[f"merge.{DRIVER}.driver"] = driver
            changed.append(f"git config merge.{DRIVER}.driver")
    return changed


def _config_get(config: Any, name: str) -> str | None:
    try:
        return str(config[name])
    except KeyError:
        return None


def conflict_dir(repo: gitio.Repository) -> Path:
    return gitio.state_dir(repo) / "conflicts"


def report_path(repo: gitio.Repository, rel_to_git: str) -> Path:
    """One report per conflicted file; the path is percent-encoded, so no two collide."""
    from urllib.parse import quote

    return conflict_dir(repo) / (quote(rel_to_git, safe="") + ".json")


def dataset_key(project: Project, dataset: str) -> str | None:
    """The primary key of ``template/dataset`` as the working tree declares it."""
    try:
        return WorktreeSnapshot(project).primary_key(dataset)
    except UserError:
        return None


@dataclass
class DriverOutcome:
    clean: bool
    messages: list[str] = field(default_factory=list)


def run_driver(base: Path, ours: Path, theirs: Path, path: str, cwd: Path) -> DriverOutcome:
    """``git merge`` calls this for a dataset or tdm.lock: merge into ``ours``."""
    repo = gitio.discover(cwd)
    if repo is None or repo.workdir is None:
        return DriverOutcome(False, [f"tdm merge-driver: {cwd} is not in a git work tree"])
    workdir = Path(repo.workdir)
    target = workdir / path
    try:
        project = Project.find(target.parent)
    except UserError as exc:
        return DriverOutcome(False, [f"tdm merge-driver: {path}: {exc}"])
    rel = project.rel(target)
    if rel == "tdm.lock":
        return _drive_lock(project, repo, base, ours, theirs)
    parts = rel.split("/")
    dataset = f"{parts[1]}/{parts[2][: -len('.jsonl')]}" if len(parts) == 3 else rel
    key = dataset_key(project, dataset)
    if key is None:
        return DriverOutcome(
            False,
            [f"tdm: {path}: no primary key for {dataset}; merge it by hand, then `git add` it"],
        )
    try:
        result = merge_rows(base.read_bytes(), ours.read_bytes(), theirs.read_bytes(), key)
    except CannotMerge as exc:
        return DriverOutcome(False, [f"tdm: {path}: {exc}; merge it by hand, then `git add` it"])
    ours.write_bytes(result.data)
    report = report_path(repo, path)
    if result.clean:
        report.unlink(missing_ok=True)
        return DriverOutcome(True)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_bytes(
        orjson.dumps(
            {
                "path": rel,
                "dataset": dataset,
                "primary_key": key,
                "conflicts": [c.to_json() for c in result.conflicts],
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    lines = [f"tdm: {path}: {len(result.conflicts)} row conflict(s) (our rows kept for now):"]
    lines += [f"  {c.describe(key)}" for c in result.conflicts[:10]]
    lines.append(f"  settle with: tdm resolve {dataset} --ours|--theirs [--key K]")
    return DriverOutcome(False, lines)


def _drive_lock(
    project: Project, repo: gitio.Repository, base: Path, ours: Path, theirs: Path
) -> DriverOutcome:
    """Entries merge per dataset; an entry both sides changed is recomputed from the
    datasets merged by key (:func:`merge_commits`), read from the commits git is merging
    (git names their tip in ``GITHEAD_<id>``; the lock is merged before the datasets)."""
    try:
        docs = [orjson.loads(p.read_bytes()) for p in (base, ours, theirs)]
    except orjson.JSONDecodeError as exc:
        return DriverOutcome(False, [f"tdm: tdm.lock is not valid JSON on one side ({exc})"])
    b, o, t = (d.get("datasets", {}) if isinstance(d, dict) else {} for d in docs)
    both = [n for n in set(o) & set(t) if o[n] != b.get(n) and t[n] != b.get(n) and o[n] != t[n]]
    merged_data: dict[str, bytes] = {}
    if both:
        theirs_ids = [k[len("GITHEAD_") :] for k in os.environ if k.startswith("GITHEAD_")]
        if len(theirs_ids) != 1 or repo.head_is_unborn:
            return DriverOutcome(
                False,
                [
                    "tdm: tdm.lock: datasets changed on both sides; after the merge run "
                    "`tdm resolve tdm.lock` to recompute it"
                ],
            )
        git = gitio.Git(project.root)
        ours_c = git.head()
        assert ours_c is not None
        merged = merge_commits(
            git,
            ours_c,
            git.resolve(theirs_ids[0]),
            keys=WorktreeSnapshot(project),
            datasets=both,
            write_tree=False,
        )
        merged_data = {name: res.data for name, res in merged.results.items()}
    lock = merge_lock(docs[0] or {}, docs[1] or {}, docs[2] or {}, merged_data)
    ours.write_bytes(dumps_lock(lock))
    return DriverOutcome(True)


@dataclass
class ResolveResult:
    dataset: str
    settled: int
    remaining: int
    staged: bool


def resolve(project: Project, dataset: str, side: str, key: str | None = None) -> ResolveResult:
    """Settle the row conflicts of a merge: ``ours`` keeps the rows as they are in the
    file, ``theirs`` puts their version in (or removes the row they removed)."""
    git = gitio.Git(project.root)
    if dataset in ("tdm.lock", "lock"):
        refresh_lock(project, git)
        return ResolveResult("tdm.lock", 0, 0, True)
    from tdm.versions import parse_dataset_name

    parse_dataset_name(dataset)  # template/dataset, plain names only
    rel = f"datasets/{dataset}.jsonl"
    report_file = report_path(git.repo, git.prefix + rel)
    if not report_file.exists():
        raise UserError(f"no merge conflicts recorded for {dataset} (see `tdm status`)")
    report = orjson.loads(report_file.read_bytes())
    pk = report["primary_key"]
    chosen, left = [], []
    for c in report["conflicts"]:
        if key is None or orjson.dumps(c["key"]).decode() == key or str(c["key"]) == key:
            chosen.append(c)
        else:
            left.append(c)
    if not chosen:
        raise UserError(f"no conflict with {pk}={key} in {dataset}")
    path = project.root / rel
    if side == "theirs":
        _apply_theirs(path, pk, chosen)
    if left:
        report["conflicts"] = left
        write_bytes_atomic(report_file, orjson.dumps(report, option=orjson.OPT_INDENT_2))
        return ResolveResult(dataset, len(chosen), len(left), False)
    report_file.unlink()
    refresh_lock(project, git, only=[dataset])
    git.add_paths([rel])
    return ResolveResult(dataset, len(chosen), 0, True)


def _apply_theirs(path: Path, pk: str, conflicts: list[dict[str, Any]]) -> None:
    wanted = {key_id(c["key"]): c["theirs"] for c in conflicts}
    out: list[bytes] = []
    seen = set()
    for raw in io.BytesIO(path.read_bytes()):
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        row = orjson.loads(line)
        kid = key_id(row.get(pk)) if isinstance(row, dict) else None
        if kid in wanted:
            seen.add(kid)
            if wanted[kid] is not None:
                out.append(orjson.dumps(wanted[kid]))
            continue
        out.append(line)
    for kid, row in wanted.items():
        if kid not in seen and row is not None:
            out.append(orjson.dumps(row))  # we had removed it; theirs keeps it
    write_bytes_atomic(path, b"".join(line + b"\n" for line in out))


def refresh_lock(project: Project, git: gitio.Git, only: list[str] | None = None) -> None:
    """Recompute ``rows`` and ``sha256`` of tdm.lock entries from the dataset files."""
    lock_path = project.root / "tdm.lock"
    if not lock_path.exists():
        return
    try:
        doc = orjson.loads(lock_path.read_bytes())
    except orjson.JSONDecodeError:
        raise UserError(
            "tdm.lock is not valid JSON (conflict markers?); restore it with "
            "`git checkout --theirs tdm.lock` or `--ours`, then run `tdm resolve tdm.lock`"
        ) from None
    entries = doc.get("datasets", {}) if isinstance(doc, dict) else {}
    root = project.root.resolve()
    for name, entry in entries.items():
        if only is not None and name not in only:
            continue
        folder, _, dataset = str(name).partition("/")
        try:
            check_name(folder, "dataset folder")
            check_name(dataset, "dataset")
        except ValueError:
            continue  # not a dataset name: never a path to read
        data_path = project.root / "datasets" / folder / f"{dataset}.jsonl"
        if data_path.is_symlink() or not data_path.resolve().is_relative_to(root):
            continue
        if data_path.is_file() and isinstance(entry, dict):
            data = data_path.read_bytes()
            entry["rows"], entry["sha256"] = measure(data)
    write_bytes_atomic(lock_path, dumps_lock(doc))
    git.add_paths(["tdm.lock"])


def pending_conflicts(project: Project) -> list[dict[str, Any]]:
    """Row conflicts recorded by the merge driver and not settled yet."""
    repo = gitio.discover(project.root)
    if repo is None:
        return []
    folder = conflict_dir(repo)
    if not folder.is_dir():
        return []
    from urllib.parse import unquote

    index = repo.index
    index.read()
    conflicted = {
        next(e.path for e in entries if e is not None) for entries in (index.conflicts or [])
    }
    out = []
    for f in sorted(folder.glob("*.json")):
        if unquote(f.name[: -len(".json")]) not in conflicted:
            f.unlink(missing_ok=True)  # merged by hand, or the merge was aborted
            continue
        try:
            out.append(orjson.loads(f.read_bytes()))
        except (OSError, orjson.JSONDecodeError):
            continue
    return out

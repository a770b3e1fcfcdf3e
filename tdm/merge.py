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

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

import orjson

from tdm.datadiff import field_changes, key_id, line_delta


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
            chosen["sha256"] = hashlib.sha256(data).hexdigest()
            chosen["rows"] = sum(1 for line in io.BytesIO(data) if line.strip())
        out[name] = chosen
    merged = dict(theirs) if theirs else dict(ours)
    merged["datasets"] = out
    return merged


def dumps_lock(lock: dict[str, Any]) -> bytes:
    """The bytes tdm writes for a lock (sorted keys, two-space indent)."""
    return orjson.dumps(lock, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

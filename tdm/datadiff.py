"""Row-level diff of two versions of a JSON Lines dataset, by primary key.

Lines are compared first, as bytes, in one pass over both files side by side: a
dataset that changed 1% of its rows has 99% of its lines equal at the same place,
and those are never parsed.  Lines found on one side only are held (with their
counts) until their twin turns up further on in the other file, so rows that moved
cost memory only for as far as they moved.  Only the lines left over at the end are
parsed and matched by primary key: same key on both sides is a changed row, the
rest were added or removed.  A dataset without a primary key (or whose rows cannot
be keyed) is compared line by line, and the diff says so.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

Mode = Literal["key", "line"]


@dataclass(frozen=True)
class FieldChange:
    name: str
    old: Any
    new: Any
    #: False when the field is missing on that side (None is JSON null)
    had_old: bool = True
    had_new: bool = True


@dataclass(frozen=True)
class ChangedRow:
    key: Any
    fields: tuple[FieldChange, ...]


@dataclass
class RowDiff:
    """What changed between two versions of one dataset's rows."""

    mode: Mode
    rows_before: int
    rows_after: int
    added: int = 0
    removed: int = 0
    changed: int = 0
    #: field name -> number of changed rows in which it changed (key mode)
    fields: Counter[str] = field(default_factory=Counter)
    added_sample: list[Any] = field(default_factory=list)
    removed_sample: list[Any] = field(default_factory=list)
    changed_sample: list[ChangedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def count_rows(data: bytes) -> int:
    """Lines of a JSONL buffer (a last line without a newline counts)."""
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def line_delta(old: bytes, new: bytes) -> tuple[dict[bytes, int], dict[bytes, int]]:
    """Lines (without newline) only in ``old`` and only in ``new``, with multiplicity,
    each in its file's order.  Blank lines are ignored."""
    only_old: dict[bytes, int] = {}
    only_new: dict[bytes, int] = {}
    for a, b in itertools.zip_longest(io.BytesIO(old), io.BytesIO(new)):
        if a == b:
            continue
        if a is not None:
            a = a.rstrip(b"\r\n")
        if b is not None:
            b = b.rstrip(b"\r\n")
            if a == b:
                continue  # only the last line's newline differs
        if a:
            _take(a, only_new, only_old)
        if b:
            _take(b, only_old, only_new)
    return only_old, only_new


def _take(line: bytes, other: dict[bytes, int], mine: dict[bytes, int]) -> None:
    """Cancel ``line`` against one waiting copy on the other side, else keep it waiting."""
    waiting = other.get(line)
    if waiting:
        if waiting == 1:
            del other[line]
        else:
            other[line] = waiting - 1
    else:
        mine[line] = mine.get(line, 0) + 1


class Unkeyable(Exception):
    """A row cannot be matched by key: it does not parse, has no key, or repeats one."""


def _keyed(lines: dict[bytes, int], key: str, side: str) -> dict[Any, tuple[bytes, dict[str, Any]]]:
    out: dict[Any, tuple[bytes, dict[str, Any]]] = {}
    for line, times in lines.items():
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise Unkeyable(f"a row {side} is not valid JSON ({exc}): {_clip(line)}") from None
        if not isinstance(row, dict) or key not in row:
            raise Unkeyable(f"a row {side} has no '{key}': {_clip(line)}")
        k = row[key]
        if isinstance(k, (dict, list)):
            raise Unkeyable(f"a row {side} has a non-scalar '{key}': {_clip(line)}")
        if times > 1 or k in out:
            raise Unkeyable(f"primary key {key}={orjson.dumps(k).decode()} repeats {side}")
        out[k] = (line, row)
    return out


def _check_unchanged(
    new: bytes,
    only_new: dict[bytes, int],
    key: str,
    unmatched: set[Any],
    side_names: tuple[str, str],
) -> None:
    """An added (or removed) key must not also be the key of a row both sides share:
    that would be a key repeated on one side.  The shared rows are parsed for this
    only when some key is unmatched (rows were added or removed, not just changed)."""
    loads = orjson.loads
    for line in io.BytesIO(new):
        line = line.rstrip(b"\r\n")
        if not line or line in only_new:
            continue
        try:
            row = loads(line)
        except orjson.JSONDecodeError:
            continue  # the same bytes on both sides: not this diff's concern
        k = row.get(key) if isinstance(row, dict) else None
        if not isinstance(k, (dict, list)) and k in unmatched:
            where = " ".join(n for n in side_names if n) or "on one side"
            raise Unkeyable(f"primary key {key}={orjson.dumps(k).decode()} repeats {where}")


def _clip(line: bytes, limit: int = 80) -> str:
    text = line.decode("utf-8", "replace")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.decode("utf-8", "replace")


def diff_rows(
    old: bytes,
    new: bytes,
    key: str | None,
    *,
    sample: int = 5,
    side_names: tuple[str, str] = ("", ""),
) -> RowDiff:
    """Compare two JSONL buffers; by ``key`` when given, else by line."""
    only_old, only_new = line_delta(old, new)
    result = RowDiff("line", count_rows(old), count_rows(new))
    if key is not None:
        try:
            before = _keyed(only_old, key, side_names[0] or "before")
            after = _keyed(only_new, key, side_names[1] or "after")
            unmatched = before.keys() ^ after.keys()
            if unmatched:
                _check_unchanged(new, only_new, key, unmatched, side_names)
        except Unkeyable as exc:
            result.notes.append(f"{exc}; compared lines instead of keys")
        else:
            result.mode = "key"
            _by_key(result, before, after, sample)
            return result
    for line, times in only_new.items():
        result.added += times
        if len(result.added_sample) < sample:
            result.added_sample.append(_value(line))
    for line, times in only_old.items():
        result.removed += times
        if len(result.removed_sample) < sample:
            result.removed_sample.append(_value(line))
    return result


def _by_key(
    result: RowDiff,
    before: dict[Any, tuple[bytes, dict[str, Any]]],
    after: dict[Any, tuple[bytes, dict[str, Any]]],
    sample: int,
) -> None:
    for k, (_, row) in after.items():
        old = before.get(k)
        if old is None:
            result.added += 1
            if len(result.added_sample) < sample:
                result.added_sample.append(row)
            continue
        changes = field_changes(old[1], row)
        if not changes:  # same values, different bytes (key order, spacing)
            continue
        result.changed += 1
        result.fields.update(c.name for c in changes)
        if len(result.changed_sample) < sample:
            result.changed_sample.append(ChangedRow(k, tuple(changes)))
    for k, (_, row) in before.items():
        if k not in after:
            result.removed += 1
            if len(result.removed_sample) < sample:
                result.removed_sample.append(row)


_ABSENT = object()
_SCALARS = (str, int, float, bool, type(None))


def field_changes(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Top-level fields whose values differ, in the new row's field order, then removed ones."""
    out = []
    for name, value in new.items():
        before = old.get(name, _ABSENT)
        if before is _ABSENT:
            out.append(FieldChange(name, None, value, had_old=False))
        elif not same_json(before, value):
            out.append(FieldChange(name, before, value))
    for name, value in old.items():
        if name not in new:
            out.append(FieldChange(name, value, None, had_new=False))
    return out


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values (in Python 1 == 1.0 == True; in JSON they differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, _SCALARS):
        return bool(a == b)
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
        b, option=orjson.OPT_SORT_KEYS
    )

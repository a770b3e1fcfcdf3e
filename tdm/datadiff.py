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

import contextlib
import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from tdm import canon

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


@dataclass
class LineDelta:
    """Lines (without newline) only in the old and only in the new buffer, with their
    multiplicity, each in its file's order; and each side's number of non-blank lines."""

    only_old: dict[bytes, int]
    only_new: dict[bytes, int]
    rows_old: int
    rows_new: int


def line_delta(old: bytes, new: bytes) -> LineDelta:
    only_old: dict[bytes, int] = {}
    only_new: dict[bytes, int] = {}
    blank_both = blank_old = blank_new = 0
    lines = missing_old = missing_new = 0
    for lines, (a, b) in enumerate(  # noqa: B007 - the count is used after the loop
        itertools.zip_longest(io.BytesIO(old), io.BytesIO(new)), 1
    ):
        if a == b:
            if a == b"\n":
                blank_both += 1
            continue
        if a is None:
            missing_old += 1
        else:
            a = a.strip(b"\r\n\t ")
            if not a:
                blank_old += 1
        if b is None:
            missing_new += 1
        else:
            b = b.strip(b"\r\n\t ")
            if not b:
                blank_new += 1
            if a == b:
                continue  # only newline or surrounding space differ
        if a:
            _take(a, only_new, only_old)
        if b:
            _take(b, only_old, only_new)
    return LineDelta(
        only_old,
        only_new,
        lines - missing_old - blank_both - blank_old,
        lines - missing_new - blank_both - blank_new,
    )


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


def key_id(value: Any) -> tuple[bool, Any]:
    """A primary key value as a dict key: True and 1 are equal in Python, not in JSON."""
    return (isinstance(value, bool), value)


Keyed = dict[tuple[bool, Any], tuple[Any, dict[str, Any]]]  # key id -> (key, row)


def _keyed(lines: dict[bytes, int], key: str, side: str) -> Keyed:
    out: Keyed = {}
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
        kid = key_id(k)
        if times > 1 or kid in out:
            raise Unkeyable(f"primary key {key}={_json(k)} repeats {side}")
        out[kid] = (k, row)
    return out


_TOKEN = rb'\s*:\s*(-?[0-9][0-9.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)'


def _check_shared(
    new: bytes, only_new: dict[bytes, int], key: str, before: Keyed, after: Keyed, side: str
) -> None:
    """A key of a changed, added or removed row must not also be the key of a row both
    sides share: that key would repeat on a side.  The key values of the shared rows
    are found with one regular expression over the buffer (no row is decoded); only a
    suspect line is parsed, to rule out a nested field with the same name."""
    reprs = {orjson.dumps(k): kid for kid, (k, _) in (before | after).items()}
    if not reprs:
        return
    pattern = re.compile(re.escape(orjson.dumps(key)) + _TOKEN)
    found = pattern.findall(new)
    present = set(found)
    if b"\\" in new:  # escaped strings: compare them decoded
        for token in [t for t in present if b"\\" in t]:
            with contextlib.suppress(orjson.JSONDecodeError):
                present.add(orjson.dumps(orjson.loads(token)))
    suspects = {kid for token, kid in reprs.items() if token in present and kid not in after}
    if len(present) < len(found):  # some key value occurs twice: which?
        counts = Counter(t for t in found if t in reprs)
        suspects.update(reprs[t] for t, n in counts.items() if n > 1)
    if not suspects:
        return
    wanted = {t for t, kid in reprs.items() if kid in suspects}
    skip = dict(only_new)  # the changed lines themselves, with their multiplicity
    for line in io.BytesIO(new):
        line = line.strip(b"\r\n\t ")
        waiting = skip.get(line)
        if waiting:
            skip[line] = waiting - 1
            continue
        if not line or (not wanted.intersection(pattern.findall(line)) and b"\\" not in line):
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the same bytes on both sides: not this diff's concern
        if isinstance(row, dict) and key in row and not isinstance(row[key], (dict, list)):
            kid = key_id(row[key])
            if kid in suspects:
                raise Unkeyable(
                    f"primary key {key}={_json(row[key])} repeats {side} "
                    "(a row both sides share has it too)"
                )


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


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
    side_names: tuple[str, str] = ("before", "after"),
) -> RowDiff:
    """Compare two JSONL buffers; by ``key`` when given, else by line."""
    delta = line_delta(old, new)
    result = RowDiff("line", delta.rows_old, delta.rows_new)
    if key is not None:
        try:
            before = _keyed(delta.only_old, key, side_names[0])
            after = _keyed(delta.only_new, key, side_names[1])
            _check_shared(new, delta.only_new, key, before, after, side_names[1])
        except Unkeyable as exc:
            result.notes.append(f"{exc}; compared lines instead of keys")
        else:
            result.mode = "key"
            _by_key(result, before, after, sample)
            return result
    for line, times in delta.only_new.items():
        result.added += times
        if len(result.added_sample) < sample:
            result.added_sample.append(_value(line))
    for line, times in delta.only_old.items():
        result.removed += times
        if len(result.removed_sample) < sample:
            result.removed_sample.append(_value(line))
    return result


def _by_key(result: RowDiff, before: Keyed, after: Keyed, sample: int) -> None:
    for kid, (k, row) in after.items():
        old = before.get(kid)
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
    for kid, (_, row) in before.items():
        if kid not in after:
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
    return canon.dumps(a) == canon.dumps(b)

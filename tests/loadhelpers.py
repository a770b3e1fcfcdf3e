"""Helpers of the export and load tests: small repositories with hand-written rows, and what
a database must hold for a dataset (value for value, type for type)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helpers import make_project, write_file

from tdm.project import Project
from tdm.sqltypes import Column, columns

THINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "name", "flag", "day", "at", "uid", "score", "small"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "x-tdm": {"unique": True}},
        "note": {"type": ["string", "null"]},
        "flag": {"type": "boolean"},
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
        "uid": {"type": "string", "format": "uuid"},
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "small": {"type": "integer", "minimum": 0, "maximum": 10},
        "kind": {"type": "string", "enum": ["a", "b", "c"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object"},
    },
}

PEOPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "name"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string"},
        "mentor_id": {"type": ["integer", "null"], "x-tdm": {"ref": "people.id"}},
    },
}
PETS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-tdm": {"primary_key": "id"},
    "required": ["id", "owner_id", "species"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "owner_id": {"type": "integer", "x-tdm": {"ref": "people.id"}},
        "species": {"type": "string", "enum": ["cat", "dog"]},
    },
}


def thing(n: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": n,
        "name": f"thing {n}",
        "note": None if n % 2 else f'note, with "quotes"\nand a line {n}',
        "flag": n % 3 == 0,
        "day": f"2024-01-{n % 28 + 1:02d}",
        "at": f"2024-02-{n % 28 + 1:02d}T10:{n % 60:02d}:05Z",
        "uid": str(uuid.UUID(int=n)),
        "score": n / 4,
        "small": n % 11,
        "kind": "abc"[n % 3],
        "tags": ["x", f"t{n}"],
        "meta": {"n": n, "nested": {"ok": True}},
    }
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def people_rows(n: int) -> list[dict[str, Any]]:
    # row 1's mentor is the last person: a reference to a later row of the same table
    return [
        {"id": i, "name": f"p{i}", "mentor_id": n if i == 1 else (i - 1 if i % 2 else None)}
        for i in range(1, n + 1)
    ]


def pet_rows(n: int, owners: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "owner_id": i % owners + 1, "species": "cat" if i % 2 else "dog"}
        for i in range(1, n + 1)
    ]


def write_rows(root: Path, name: str, rows: Sequence[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)
    return write_file(root / "datasets" / name.split("/")[0] / f"{name.split('/')[1]}.jsonl", text)


def things_repo(root: Path, rows: Sequence[dict[str, Any]] | None = None) -> Path:
    """Template ``t`` with the dataset ``things`` (hand-written rows)."""
    make_project(
        root,
        {"things": THINGS_SCHEMA},
        {"t": {"datasets": {"things": {"schema": "things", "count": 1}}}},
    )
    write_rows(root, "t/things", rows if rows is not None else [thing(i) for i in range(1, 21)])
    return root


def family_repo(root: Path, people: int = 30, pets: int = 50) -> Path:
    """Template ``fam``: ``people`` (self-referencing) and ``pets`` (referencing people)."""
    make_project(
        root,
        {"people": PEOPLE_SCHEMA, "pets": PETS_SCHEMA},
        {
            "fam": {
                "datasets": {
                    "pets": {"schema": "pets", "count": 1},
                    "people": {"schema": "people", "count": 1},
                }
            }
        },
    )
    write_rows(root, "fam/people", people_rows(people))
    write_rows(root, "fam/pets", pet_rows(pets, people))
    return root


def dataset_rows(root: Path, name: str) -> list[dict[str, Any]]:
    path = root / "datasets" / name.split("/")[0] / f"{name.split('/')[1]}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def schema_columns(root: Path, schema: str) -> tuple[Column, ...]:
    return columns(Project.find(root).schema(schema).data)


def expected(value: Any, column: Column, dialect: str) -> Any:
    """What the database returns for a dataset value (psycopg / sqlite3 Python types)."""
    if value is None:
        return None
    kind = column.kind
    if dialect == "sqlite":
        if kind == "boolean":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "json":
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return value
    if kind == "number":
        return float(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind == "datetime":
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if kind == "uuid":
        return uuid.UUID(value)
    return value


def assert_same_rows(
    db_rows: Sequence[Sequence[Any]],
    data: Sequence[dict[str, Any]],
    cols: Sequence[Column],
    dialect: str,
) -> None:
    """Every database row equals its dataset row, value for value and type for type (both
    in the same order)."""
    assert len(db_rows) == len(data)
    for got_row, want_row in zip(db_rows, data, strict=True):
        for got, column in zip(got_row, cols, strict=True):
            want = expected(want_row.get(column.name), column, dialect)
            if dialect == "sqlite" and column.kind == "json" and got is not None:
                got, want = json.loads(got), json.loads(want)
            assert got == want, (column.name, got, want)
            assert type(got) is type(want), (column.name, type(got), type(want))

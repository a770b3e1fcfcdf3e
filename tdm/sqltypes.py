"""From a JSON Schema to table columns, and from columns to SQL for SQLite and PostgreSQL.

One :class:`Column` per top-level property, in the schema's order.  The mapping:

=================================  ======================  ==================
JSON Schema                        PostgreSQL              SQLite
=================================  ======================  ==================
integer within 32-bit bounds       INTEGER                 INTEGER
other integer                      BIGINT                  INTEGER
number                             DOUBLE PRECISION        REAL
boolean                            BOOLEAN                 INTEGER (0 or 1)
string                             TEXT                    TEXT
string, format date                DATE                    TEXT
string, format date-time           TIMESTAMPTZ             TEXT
string, format uuid                UUID                    TEXT
object, array, mixed types         JSONB                   TEXT (JSON text)
=================================  ======================  ==================

NOT NULL comes from ``required`` (unless the type allows null), PRIMARY KEY from
``x-tdm.primary_key``, UNIQUE from ``x-tdm.unique``, CHECK from ``enum``/``const`` and
numeric bounds.  Foreign keys (``x-tdm.ref``) are resolved between datasets by
:mod:`tdm.tables`, which hands them in as :class:`ForeignKey`.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["sqlite", "postgresql"]
Kind = Literal[
    "integer", "bigint", "number", "boolean", "string", "date", "datetime", "uuid", "json"
]
DIALECTS: tuple[Dialect, ...] = ("sqlite", "postgresql")

INT32 = (-(2**31), 2**31 - 1)
_SCALAR = {"integer", "number", "boolean", "string"}
_FORMATS: dict[str, Kind] = {"date": "date", "date-time": "datetime", "uuid": "uuid"}

_PG_TYPES: dict[Kind, str] = {
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "number": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "string": "TEXT",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
    "uuid": "UUID",
    "json": "JSONB",
}
_SQLITE_TYPES: dict[Kind, str] = {
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "number": "REAL",
    "boolean": "INTEGER",
    "string": "TEXT",
    "date": "TEXT",
    "datetime": "TEXT",
    "uuid": "TEXT",
    "json": "TEXT",
}
#: PostgreSQL truncates longer identifiers (NAMEDATALEN - 1)
MAX_IDENTIFIER = 63


@dataclass(frozen=True)
class Column:
    """One top-level property as a column."""

    name: str
    kind: Kind
    nullable: bool
    enum: tuple[Any, ...] | None = None  # allowed non-null scalar values
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    unique: bool = False

    @property
    def is_json(self) -> bool:
        return self.kind == "json"


@dataclass(frozen=True)
class ForeignKey:
    column: str
    table: str  # the parent's table, already qualified and quoted by the caller's choice
    parent_column: str


@dataclass(frozen=True)
class TableDef:
    """What CREATE TABLE needs."""

    name: str  # unqualified table name (with any prefix)
    columns: tuple[Column, ...]
    primary_key: str | None
    foreign_keys: tuple[ForeignKey, ...] = ()


# ---------------------------------------------------------------------- schema -> columns


def columns(schema: dict[str, Any]) -> tuple[Column, ...]:
    """The columns of a schema's top-level properties, in document order."""
    root = _merged(schema, schema)
    required = set(root.get("required", []) or [])
    props = root.get("properties", {}) or {}
    out = []
    for name, prop in props.items():
        node = _merged(prop, schema) if isinstance(prop, dict) else {}
        out.append(_column(str(name), node, schema, name in required))
    return tuple(out)


def _deref(
    node: dict[str, Any], root: dict[str, Any], seen: tuple[str, ...] = ()
) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/") or ref in seen:
        return node
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return {k: v for k, v in node.items() if k != "$ref"}
        target = target[part]
    if not isinstance(target, dict):
        return node
    merged = dict(_deref(target, root, (*seen, ref)))
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def _merged(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``node`` with local ``$ref`` followed and ``allOf`` branches folded in."""
    node = _deref(node, root)
    branches = node.get("allOf")
    if not isinstance(branches, list):
        return node
    out = {k: v for k, v in node.items() if k != "allOf"}
    for branch in branches:
        if not isinstance(branch, dict):
            continue
        part = _merged(branch, root)
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = [*out.get("required", []), *value]
            elif key == "type" and "type" in out:
                out["type"] = _type_intersection(out["type"], value)
            else:
                out.setdefault(key, value)
    return out


def _types(node: dict[str, Any]) -> set[str] | None:
    declared = node.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return {t for t in declared if isinstance(t, str)}
    return None


def _type_intersection(a: Any, b: Any) -> Any:
    sa = {a} if isinstance(a, str) else set(a) if isinstance(a, list) else None
    sb = {b} if isinstance(b, str) else set(b) if isinstance(b, list) else None
    if sa is None or sb is None:
        return a if sb is None else b
    both = sa & sb
    if ("integer" in sa and "number" in sb) or ("number" in sa and "integer" in sb):
        both.add("integer")
    return sorted(both)


def _value_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, dict) else "array"


@dataclass
class _Shape:
    types: set[str]  # non-null JSON types ("integer" and "number" stay apart)
    nullable: bool
    fmt: str | None
    enum: list[Any] | None
    bounds: dict[str, float]


def _shape(node: dict[str, Any], root: dict[str, Any]) -> _Shape:
    node = _merged(node, root)
    enum: list[Any] | None = None
    if "const" in node:
        enum = [node["const"]]
    elif isinstance(node.get("enum"), list):
        enum = list(node["enum"])
    types = _types(node)
    if types is None and enum is not None:
        types = {_value_type(v) for v in enum}
    alternatives = node.get("oneOf") or node.get("anyOf")
    if types is None and isinstance(alternatives, list) and alternatives:
        shapes = [_shape(b, root) for b in alternatives if isinstance(b, dict)]
        types = set().union(*(s.types for s in shapes))
        nullable = any(s.nullable for s in shapes)
        if enum is None and shapes and all(s.enum is not None for s in shapes):
            enum = [v for s in shapes for v in (s.enum or [])]
        fmts = {s.fmt for s in shapes}
        fmt = fmts.pop() if len(fmts) == 1 else None
        bounds: dict[str, float] = {}
        return _Shape(types, nullable or "null" in types, fmt, enum, bounds)
    if types is None:
        types = {"object"} if "properties" in node else {"array"} if "items" in node else set()
    nullable = "null" in types or (enum is not None and None in enum)
    fmt = node.get("format") if isinstance(node.get("format"), str) else None
    bounds = {
        key: float(node[key])
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
        if isinstance(node.get(key), int | float) and not isinstance(node.get(key), bool)
    }
    return _Shape(types - {"null"}, nullable, fmt, enum, bounds)


def _column(name: str, node: dict[str, Any], root: dict[str, Any], required: bool) -> Column:
    shape = _shape(node, root)
    hint = node.get("x-tdm")
    unique = isinstance(hint, dict) and hint.get("unique") is True
    types = shape.types
    nullable = shape.nullable or not required
    kind: Kind
    if types == {"integer"}:
        lo = _bound(shape.bounds, "minimum", "exclusiveMinimum", 1)
        hi = _bound(shape.bounds, "maximum", "exclusiveMaximum", -1)
        small = lo is not None and hi is not None and INT32[0] <= lo and hi <= INT32[1]
        kind = "integer" if small else "bigint"
    elif types and types <= {"integer", "number"}:
        kind = "number"
    elif types == {"boolean"}:
        kind = "boolean"
    elif types == {"string"}:
        kind = _FORMATS.get(shape.fmt or "", "string")
    else:
        kind = "json"
    enum = None
    if shape.enum is not None and kind != "json":
        values = [v for v in shape.enum if v is not None]
        if all(_value_type(v) in _SCALAR for v in values):
            enum = tuple(values)
    bounds = shape.bounds if kind in ("integer", "bigint", "number") else {}
    return Column(
        name=name,
        kind=kind,
        nullable=nullable,
        enum=enum,
        minimum=bounds.get("minimum"),
        maximum=bounds.get("maximum"),
        exclusive_minimum=bounds.get("exclusiveMinimum"),
        exclusive_maximum=bounds.get("exclusiveMaximum"),
        unique=unique,
    )


def _bound(bounds: dict[str, float], inclusive: str, exclusive: str, step: int) -> float | None:
    if inclusive in bounds:
        return bounds[inclusive]
    if exclusive in bounds:
        return (
            math.floor(bounds[exclusive]) + step
            if step > 0
            else math.ceil(bounds[exclusive]) + step
        )
    return None


# ---------------------------------------------------------------------- SQL text


def quote_ident(name: str) -> str:
    """A double-quoted SQL identifier (both dialects)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str, db_schema: str | None) -> str:
    return f"{quote_ident(db_schema)}.{quote_ident(table)}" if db_schema else quote_ident(table)


def constraint_name(table: str, column: str, suffix: str) -> str:
    """PostgreSQL's naming (``customers_email_key``), shortened with a hash when too long."""
    name = f"{table}_{column}_{suffix}" if column else f"{table}_{suffix}"
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = name.encode()[: MAX_IDENTIFIER - 9].decode(errors="ignore")
    return f"{keep}_{digest}"


def literal(value: Any, kind: Kind, dialect: Dialect) -> str:
    """``value`` (a JSON value of a ``kind`` column) as an SQL literal."""
    if value is None:
        return "NULL"
    if kind == "json" or isinstance(value, dict | list):
        import orjson

        return _string_literal(orjson.dumps(value).decode())
    if isinstance(value, bool):
        if dialect == "postgresql":
            return "TRUE" if value else "FALSE"
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _string_literal(str(value))


def _string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_type(column: Column, dialect: Dialect) -> str:
    return (_PG_TYPES if dialect == "postgresql" else _SQLITE_TYPES)[column.kind]


def _checks(column: Column, dialect: Dialect) -> list[str]:
    col = quote_ident(column.name)
    parts = []
    allowed: list[str] | None = None
    if column.enum is not None:
        allowed = [literal(v, column.kind, dialect) for v in column.enum]
    elif column.kind == "boolean" and dialect == "sqlite":
        allowed = ["0", "1"]
    if allowed is not None and dialect == "postgresql":
        parts.append(f"{col} IN ({', '.join(allowed)})")
    elif allowed is not None:
        # SQLite builds a temporary table for every IN (...) it checks, a row at a time:
        # a chain of = is several times faster and means the same (NULL passes both)
        parts.append("(" + " OR ".join(f"{col} = {v}" for v in allowed) + ")")
    for bound, op in (
        (column.minimum, ">="),
        (column.maximum, "<="),
        (column.exclusive_minimum, ">"),
        (column.exclusive_maximum, "<"),
    ):
        if bound is not None:
            number = int(bound) if bound == int(bound) else bound
            parts.append(f"{col} {op} {number!r}")
    return parts


def unique_columns(table: TableDef) -> list[Column]:
    """Columns with ``x-tdm.unique`` other than the primary key."""
    return [c for c in table.columns if c.unique and c.name != table.primary_key]


def create_unique_index(table: TableDef, column: Column, db_schema: str | None = None) -> str:
    """The UNIQUE constraint of ``column`` as an index of the same name (built in one pass
    after a bulk load, instead of row by row)."""
    name = quote_ident(constraint_name(table.name, column.name, "key"))
    return (
        f"CREATE UNIQUE INDEX {name} ON {qualified(table.name, db_schema)} "
        f"({quote_ident(column.name)})"
    )


def create_table(
    table: TableDef, dialect: Dialect, db_schema: str | None = None, *, unique: bool = True
) -> str:
    """``CREATE TABLE`` for ``table`` (names quoted; constraints named as PostgreSQL does).
    Without ``unique`` the UNIQUE constraints are left to :func:`create_unique_index`."""
    lines = []
    for column in table.columns:
        not_null = "" if column.nullable and column.name != table.primary_key else " NOT NULL"
        lines.append(f"{quote_ident(column.name)} {column_type(column, dialect)}{not_null}")
    if table.primary_key is not None:
        name = constraint_name(table.name, "", "pkey")
        lines.append(
            f"CONSTRAINT {quote_ident(name)} PRIMARY KEY ({quote_ident(table.primary_key)})"
        )
    for column in unique_columns(table) if unique else []:
        name = constraint_name(table.name, column.name, "key")
        lines.append(f"CONSTRAINT {quote_ident(name)} UNIQUE ({quote_ident(column.name)})")
    for column in table.columns:
        checks = _checks(column, dialect)
        if checks:
            name = constraint_name(table.name, column.name, "check")
            lines.append(f"CONSTRAINT {quote_ident(name)} CHECK ({' AND '.join(checks)})")
    # deferrable in PostgreSQL, so a script can check references at COMMIT (SET CONSTRAINTS)
    deferrable = " DEFERRABLE INITIALLY IMMEDIATE" if dialect == "postgresql" else ""
    for fk in table.foreign_keys:
        name = constraint_name(table.name, fk.column, "fkey")
        lines.append(
            f"CONSTRAINT {quote_ident(name)} FOREIGN KEY ({quote_ident(fk.column)}) "
            f"REFERENCES {fk.table} ({quote_ident(fk.parent_column)}){deferrable}"
        )
    body = ",\n  ".join(lines)
    return f"CREATE TABLE {qualified(table.name, db_schema)} (\n  {body}\n)"

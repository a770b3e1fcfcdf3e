"""``tdm export``: datasets as CSV, JSON, JSON Lines, SQL or Parquet, streamed.

Rows come from :mod:`tdm.tables` (any revision, no checkout) and are written one at
a time (Parquet: one row group at a time), so memory stays bounded however large the
dataset is.  The formats:

- ``csv``: a header row, then one record per row (RFC 4180: CRLF line ends, fields
  with a comma, quote or line break quoted, quotes doubled).  null is an empty field,
  the empty string is ``""``; booleans are ``true``/``false``; objects and arrays are
  JSON text.
- ``json``: one array of the rows.  ``jsonl``: the dataset's lines, byte for byte.
- ``sql``: ``CREATE TABLE`` (see :mod:`tdm.sqltypes`) for every table in foreign-key
  order, then batched ``INSERT``s, in one transaction.
- ``parquet``: one file per dataset, column types from the schema (needs pyarrow:
  ``pip install 'tdm[parquet]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import orjson

from tdm.errors import UserError
from tdm.fsutil import atomic_writer
from tdm.project import Project
from tdm.sqltypes import Column, Dialect, create_table, literal, quote_ident
from tdm.tables import Selection, Table, select

INSERT_BATCH = 500  # rows per INSERT statement
PARQUET_ROW_GROUP = 65_536


class Format(StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    sql = "sql"
    parquet = "parquet"


@dataclass(frozen=True)
class Written:
    dataset: str
    path: str  # "-" for standard output
    rows: int


@dataclass(frozen=True)
class ExportResult:
    format: Format
    rev: str | None
    files: list[Written]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "rev": self.rev,
            "files": [{"dataset": w.dataset, "path": w.path, "rows": w.rows} for w in self.files],
        }


def export(
    project: Project,
    target: str,
    fmt: Format,
    *,
    rev: str | None = None,
    out: Path | None = None,
    stdout: IO[bytes] | None = None,
    dialect: Dialect = "sqlite",
    table_prefix: str = "",
    db_schema: str | None = None,
) -> ExportResult:
    """Write the datasets ``target`` names to ``out`` (a file, or a directory for several
    datasets), or to ``stdout`` when ``out`` is None."""
    if db_schema is not None and (fmt != Format.sql or dialect != "postgresql"):
        raise UserError("--db-schema only applies to --format sql --dialect postgresql")
    selection = select(
        project,
        target,
        rev,
        table_prefix=table_prefix,
        db_schema=db_schema,
        need_schema=fmt not in (Format.json, Format.jsonl),
    )
    if fmt == Format.parquet:
        _require_pyarrow()
    if fmt == Format.sql:
        with _output(_sql_path(selection, out), stdout) as (fh, shown):
            counts = write_sql(selection, fh, dialect)
        written = [Written(t.dataset, shown, counts[t.dataset]) for t in selection.tables]
        return ExportResult(fmt, selection.source.rev, written)
    several = len(selection.tables) > 1
    if several and out is None:
        raise UserError(
            f"'{target}' has {len(selection.tables)} datasets: give -o DIRECTORY for one "
            f"{fmt.value} file each, or name one dataset (e.g. {selection.tables[0].dataset})"
        )
    if fmt == Format.parquet and out is None:
        raise UserError("parquet is a binary format: give -o FILE or -o DIRECTORY")
    written = []
    for table in selection.tables:
        path = _path_for(table, out, fmt, several)
        with _output(path, stdout) as (fh, shown):
            rows = WRITERS[fmt](selection, table, fh)
        written.append(Written(table.dataset, shown, rows))
    return ExportResult(fmt, selection.source.rev, written)


def _sql_path(selection: Selection, out: Path | None) -> Path | None:
    """The script's file: ``out``, or ``out/<template>.sql`` when ``out`` is a directory."""
    if out is not None and (out.is_dir() or str(out).endswith("/")):
        return out / f"{selection.tables[0].dataset.partition('/')[0]}.sql"
    return out


def _path_for(table: Table, out: Path | None, fmt: Format, several: bool) -> Path | None:
    if out is None:
        return None
    if several or out.is_dir() or str(out).endswith("/"):
        return out / f"{table.dataset.partition('/')[2]}.{fmt.value}"
    return out


@contextlib.contextmanager
def _output(path: Path | None, stdout: IO[bytes] | None) -> Iterator[tuple[IO[bytes], str]]:
    """Where to write (atomically into ``path``, else ``stdout``) and how to name it."""
    if path is None:
        if stdout is None:
            raise UserError("no output: give -o PATH")
        yield stdout, "-"
        stdout.flush()
        return
    with atomic_writer(path, durable=False) as fh:
        yield fh, str(path)


# ---------------------------------------------------------------------- JSON Lines, JSON


def write_jsonl(selection: Selection, table: Table, fh: IO[bytes]) -> int:
    """The dataset's lines as they are (a last line without newline gets one)."""
    lines, _ = selection.lines(table)
    rows = 0
    for line in lines:
        if not line.strip():
            continue
        fh.write(line if line.endswith(b"\n") else line + b"\n")
        rows += 1
    return rows


def write_json(selection: Selection, table: Table, fh: IO[bytes]) -> int:
    """One JSON array, a row a line."""
    lines, _ = selection.lines(table)
    rows = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        fh.write(b"[\n" if rows == 0 else b",\n")
        fh.write(line)
        rows += 1
    fh.write(b"[]\n" if rows == 0 else b"\n]\n")
    return rows


# ---------------------------------------------------------------------- CSV


def csv_cell(value: Any) -> str:
    """One CSV field (RFC 4180): null is empty, the empty string is ``""``."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        text: str = value
        if text == "":
            return '""'
        if '"' in text:
            return '"' + text.replace('"', '""') + '"'
        if "," in text or "\n" in text or "\r" in text:
            return '"' + text + '"'
        return text
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return repr(value)
    return csv_cell(orjson.dumps(value).decode())


def csv_header(cols: tuple[Column, ...]) -> str:
    return ",".join(csv_cell(c.name) for c in cols)


def write_csv(selection: Selection, table: Table, fh: IO[bytes]) -> int:
    names = [c.name for c in table.columns]
    cell = csv_cell
    buffer: list[str] = [csv_header(table.columns)]
    rows = 0
    for _, row in selection.rows(table):
        buffer.append(",".join(map(cell, map(row.get, names))))
        rows += 1
        if len(buffer) >= 4096:
            fh.write(("\r\n".join(buffer) + "\r\n").encode())
            buffer.clear()
    if buffer:
        fh.write(("\r\n".join(buffer) + "\r\n").encode())
    return rows


# ---------------------------------------------------------------------- SQL


def write_sql(selection: Selection, fh: IO[bytes], dialect: Dialect) -> dict[str, int]:
    """One script: CREATE TABLE for every table (parents first), then the rows, batched."""
    rev = selection.source.rev
    tables = selection.tables
    head = [
        f"-- tdm export: {', '.join(t.dataset for t in tables)} at {rev or 'the working tree'}",
        f"-- dialect: {dialect}; tables in foreign-key order",
        "BEGIN;",
    ]
    # references are checked at COMMIT: a row may reference a row of a later INSERT batch
    if dialect == "sqlite":
        head.append("PRAGMA defer_foreign_keys = ON;")
    else:
        head.append("SET CONSTRAINTS ALL DEFERRED;")
    db_schema = tables[0].db_schema if tables else None
    if db_schema:
        head.append(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(db_schema)};")
    fh.write(("\n".join(head) + "\n\n").encode())
    for table in tables:
        ddl = create_table(table.definition, dialect, table.db_schema)
        fh.write((ddl + ";\n\n").encode())
    counts = {}
    for table in tables:
        counts[table.dataset] = _write_inserts(selection, table, fh, dialect)
    fh.write(b"COMMIT;\n")
    return counts


def _write_inserts(selection: Selection, table: Table, fh: IO[bytes], dialect: Dialect) -> int:
    cols = table.columns
    head = (
        f"INSERT INTO {table.qualified} ({', '.join(quote_ident(c.name) for c in cols)}) VALUES\n"
    )
    pairs = [(c.name, c.kind) for c in cols]
    batch: list[str] = []
    rows = 0
    for _, row in selection.rows(table):
        values = ", ".join(literal(row.get(name), kind, dialect) for name, kind in pairs)
        batch.append(f"({values})")
        rows += 1
        if len(batch) >= INSERT_BATCH:
            fh.write((head + ",\n".join(batch) + ";\n").encode())
            batch.clear()
    if batch:
        fh.write((head + ",\n".join(batch) + ";\n").encode())
    if rows:
        fh.write(b"\n")
    return rows


# ---------------------------------------------------------------------- Parquet


def _require_pyarrow() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UserError(
            "--format parquet needs pyarrow: install the extra with `pip install 'tdm[parquet]'`"
        ) from None


def arrow_schema(cols: tuple[Column, ...]) -> Any:
    """The pyarrow schema of a table's columns (types from the JSON Schema)."""
    import pyarrow as pa

    types = {
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "string": pa.string(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us", tz="UTC"),
        "uuid": pa.string(),
        "json": pa.string(),
    }
    return pa.schema([pa.field(c.name, types[c.kind], nullable=c.nullable) for c in cols])


def write_parquet(selection: Selection, table: Table, fh: IO[bytes]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table.columns)
    width = len(table.columns)
    state = [0, 0]
    with pq.ParquetWriter(fh, schema) as writer:
        batch: list[list[Any]] = [[] for _ in range(width)]
        for values in selection.values(table, state):
            for i, value in enumerate(values):
                batch[i].append(value)
            if len(batch[0]) >= PARQUET_ROW_GROUP:
                writer.write_table(_arrow_table(batch, table, schema, pa))
                batch = [[] for _ in range(width)]
        if batch[0] or state[1] == 0:
            writer.write_table(_arrow_table(batch, table, schema, pa))
    return state[1]


def _arrow_table(batch: list[list[Any]], table: Table, schema: Any, pa: Any) -> Any:
    arrays = []
    for values, column, field in zip(batch, table.columns, schema, strict=True):
        try:
            if column.kind in ("date", "datetime"):
                arrays.append(pa.array(values, pa.string()).cast(field.type))
            else:
                arrays.append(pa.array(values, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise UserError(
                f"column '{column.name}' of {table.dataset} does not fit its schema type "
                f"({field.type}): {exc}; run `tdm validate`"
            ) from None
    return pa.Table.from_arrays(arrays, schema=schema)


WRITERS: dict[Format, Callable[[Selection, Table, IO[bytes]], int]] = {
    Format.csv: write_csv,
    Format.json: write_json,
    Format.jsonl: write_jsonl,
    Format.parquet: write_parquet,
}

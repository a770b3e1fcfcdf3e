"""``tdm load``: the datasets of a template into SQLite or PostgreSQL, all or nothing.

Tables are created from the schemas (:mod:`tdm.sqltypes`), parents before children
(:mod:`tdm.tables`), and every row goes in inside one transaction: SQLite through the
standard library (one ``executemany`` a table, foreign keys checked once all rows are in),
PostgreSQL through psycopg 3 and ``COPY``.  Any failure rolls the transaction back, so
the database is left as it was (a SQLite file that did not exist is removed again).

Exit codes (through the CLI): 2 for bad usage or an unusable database (unsupported or
password-holding URL, unreachable server, refused credentials, an environment without a
database, tables that exist without --replace/--append); 1 when rows break a database
constraint (:class:`LoadFailed`, naming the dataset, line and constraint).
"""

from __future__ import annotations

import os
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tdm import dburl
from tdm.dburl import DatabaseUrl
from tdm.errors import CheckFailed, GitError, UserError
from tdm.project import Project
from tdm.sqltypes import (
    Dialect,
    constraint_name,
    create_table,
    create_unique_index,
    quote_ident,
    unique_columns,
)
from tdm.tables import Selection, Table, select

if TYPE_CHECKING:
    import psycopg

Mode = Literal["create", "append", "replace"]
Progress = Callable[[str, int, int], None]
SQLITE_CACHE_KIB = 65_536  # this connection's page cache (SQLite's default is 2 MiB)
CONNECT_TIMEOUT = 10  # seconds: an unreachable server fails fast


class LoadFailed(CheckFailed):
    """Rows that the database refused (a constraint or a type); nothing was loaded."""


@dataclass(frozen=True)
class LoadedTable:
    dataset: str
    table: str  # schema.table
    rows: int
    action: Literal["create", "append", "replace"]

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "table": self.table,
            "rows": self.rows,
            "action": self.action,
        }


@dataclass(frozen=True)
class LoadResult:
    database: str  # a display form (never a password)
    kind: Dialect
    rev: str | None
    dry_run: bool
    tables: list[LoadedTable]

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "kind": self.kind,
            "rev": self.rev,
            "dry_run": self.dry_run,
            "tables": [t.to_json() for t in self.tables],
        }


# ---------------------------------------------------------------------- where to


def resolve_target(
    project: Project, *, into: str | None, env: str | None, rev: str | None, need_password: bool
) -> tuple[DatabaseUrl, str | None]:
    """The database URL and the revision to read: ``--into URL`` (rev as given), or an
    environment's database and branch (``--env NAME``, unless ``rev`` is given)."""
    if (into is None) == (env is None):
        raise UserError(
            "say where to load: --into URL (sqlite:///test.db, postgresql://USER@HOST/DB) or "
            "--env NAME (an environment with a database in tdm.yaml), not both"
        )
    if into is not None:
        return dburl.parse(into), rev
    from tdm.envs import env as find_env

    assert env is not None
    environment = find_env(project, env)
    database = environment.database
    if database is None:
        raise UserError(
            f"environment '{env}' names no database in tdm.yaml; add one, e.g. "
            f'database: {{url: "postgresql://qa@db.example.internal/app", password_env: '
            f"{env.upper().replace('-', '_')}_DB_PASSWORD}}, or use --into URL"
        )
    password = None
    if database.password_env is not None and need_password:
        password = os.environ.get(database.password_env)
        if password is None:
            raise UserError(
                f"environment '{env}' takes its database password from the variable "
                f"{database.password_env} (password_env in tdm.yaml), which is not set; set it"
            )
    url = dburl.parse(database.url, base=project.root, password=password)
    return url, rev if rev is not None else environment.branch


# ---------------------------------------------------------------------- load


def load(
    project: Project,
    target: str | None,
    *,
    into: str | None = None,
    env: str | None = None,
    rev: str | None = None,
    mode: Mode = "create",
    table_prefix: str = "",
    db_schema: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> LoadResult:
    """Load the datasets ``target`` names (a template, ``template/dataset``, or None for
    all) at ``rev`` into a database; see the module docstring for what can go wrong."""
    branch_of_env = env is not None and rev is None
    url, rev = resolve_target(project, into=into, env=env, rev=rev, need_password=not dry_run)
    if db_schema is not None and url.kind == "sqlite":
        raise UserError("SQLite has no schemas: drop --db-schema (use --table-prefix instead)")
    try:
        selection = select(project, target, rev, table_prefix=table_prefix, db_schema=db_schema)
    except GitError:
        if not branch_of_env:
            raise
        raise UserError(
            f"environment '{env}' has no branch {rev} yet: create it with "
            f"`tdm env create {env} --from ENV`, or give --rev"
        ) from None
    if dry_run:
        planned = [
            LoadedTable(t.dataset, t.display, selection.count_rows(t), mode)
            for t in selection.tables
        ]
        return LoadResult(url.display, url.kind, selection.source.rev, True, planned)
    loader = (
        _SqliteLoader(url, selection, mode)
        if url.kind == "sqlite"
        else _PgLoader(url, selection, mode)
    )
    tables = loader.run(progress)
    return LoadResult(url.display, url.kind, selection.source.rev, False, tables)


class _Loader(ABC):
    dialect: Dialect

    def __init__(self, url: DatabaseUrl, selection: Selection, mode: Mode) -> None:
        self.url = url
        self.selection = selection
        self.mode = mode
        self.total = sum(selection.source.rows_hint(t.dataset) or 0 for t in selection.tables)
        self.done = 0

    @abstractmethod
    def run(self, progress: Progress | None) -> list[LoadedTable]:
        """Load every table in one transaction; the rows per table."""

    def _check_existing(self, existing: set[str]) -> None:
        if existing and self.mode == "create":
            tables = ", ".join(t.display for t in self.selection.tables if t.dataset in existing)
            raise UserError(
                f"table(s) {tables} already exist in {self.url.display}: add --replace to drop and "
                "recreate them, or --append to add the rows to them"
            )

    def _rows(
        self, table: Table, state: list[int], progress: Progress | None
    ) -> Iterator[list[Any]]:
        """The converted rows of ``table``; ``state[0]`` is the line of the row last handed out."""
        if progress is None:
            return self.selection.values(table, state)
        report = progress
        return self.selection.values(table, state, lambda n: report(table.dataset, n, self.total))

    def _action(self, existed: bool) -> Literal["create", "append", "replace"]:
        if not existed:
            return "create"
        return "replace" if self.mode == "replace" else "append"

    def _line_with(self, table: Table, column: str, value: str, nth: int = 1) -> int | None:
        """The line of the ``nth`` row whose ``column`` reads as ``value`` (for messages)."""
        seen = 0
        for number, row in self.selection.rows(table):
            got = row.get(column)
            if got is not None and _as_text(got) == value:
                seen += 1
                if seen == nth:
                    return number
        return None


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------------- SQLite


class _SqliteLoader(_Loader):
    dialect: Dialect = "sqlite"

    def run(self, progress: Progress | None) -> list[LoadedTable]:
        assert self.url.path is not None
        path = self.url.path
        created = not path.exists()
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"cannot open the SQLite database {path}: {exc}") from None
        try:
            result = self._load(conn, progress)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()
            if created:
                for leftover in (path, Path(f"{path}-journal")):
                    leftover.unlink(missing_ok=True)
            raise
        conn.close()
        return result

    def _load(self, conn: sqlite3.Connection, progress: Progress | None) -> list[LoadedTable]:
        tables = self.selection.tables
        try:
            # foreign keys are checked once all rows are in (PRAGMA foreign_key_check, an index
            # probe a row), not row by row: SQLite's deferred checking scans the whole child
            # table for every parent row inserted, and immediate checking refuses a row that
            # references a later row of its own table
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")  # index pages stay in memory
            conn.execute("BEGIN IMMEDIATE")
            present = {
                str(name)
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except sqlite3.Error as exc:
            raise UserError(f"cannot use the SQLite database {self.url.display}: {exc}") from None
        existing = {t.dataset for t in tables if t.name in present}
        self._check_existing(existing)
        # tables made here get their UNIQUE indexes after their rows (one sorted build,
        # not a B-tree insert a row); the constraint is the same
        fresh = {t.dataset for t in tables if t.dataset not in existing or self.mode == "replace"}
        try:
            if self.mode == "replace":
                for t in reversed(tables):
                    if t.dataset in existing:
                        conn.execute(f"DROP TABLE {t.qualified}")
            for t in tables:
                if t.dataset in fresh:
                    conn.execute(create_table(t.definition, "sqlite", unique=False))
        except sqlite3.Error as exc:
            raise UserError(
                f"SQLite refused to create the tables: {exc}; nothing was changed"
            ) from None
        loaded = []
        for t in tables:
            rows = self._insert(conn, t, progress)
            if t.dataset in fresh:
                self._unique_indexes(conn, t)
            loaded.append(
                LoadedTable(t.dataset, t.display, rows, self._action(t.dataset in existing))
            )
        for t in tables:
            failure = self._foreign_key_failure(conn, t)
            if failure is not None:
                raise failure
        conn.execute("COMMIT")
        return loaded

    def _insert(self, conn: sqlite3.Connection, table: Table, progress: Progress | None) -> int:
        cols = ", ".join(quote_ident(c.name) for c in table.columns)
        marks = ", ".join("?" for _ in table.columns)
        sql = f"INSERT INTO {table.qualified} ({cols}) VALUES ({marks})"
        state = [0, 0]
        try:
            conn.executemany(sql, self._rows(table, state, progress))
        except sqlite3.Error as exc:
            raise _sqlite_row_failure(table, state[0], exc) from None
        return state[1]

    def _unique_indexes(self, conn: sqlite3.Connection, table: Table) -> None:
        for column in unique_columns(table.definition):
            try:
                conn.execute(create_unique_index(table.definition, column))
            except sqlite3.IntegrityError as exc:
                name = quote_ident(column.name)
                (value,) = conn.execute(
                    f"SELECT {name} FROM {table.qualified} GROUP BY {name} HAVING count(*) > 1"
                ).fetchone()
                line = self._line_with(table, column.name, _as_text(value), nth=2)
                constraint = constraint_name(table.name, column.name, "key")
                raise _failure(table, line, constraint, f"{exc}: {value!r} twice") from None

    def _foreign_key_failure(self, conn: sqlite3.Connection, table: Table) -> LoadFailed | None:
        """The first row of ``table`` whose reference finds no parent row, as an error."""
        if not table.definition.foreign_keys:
            return None
        child = table.name
        check = conn.execute(f"PRAGMA foreign_key_check({quote_ident(child)})")
        for _, rowid, parent, fkid in check:
            column = next(
                (
                    r[3]
                    for r in conn.execute(f"PRAGMA foreign_key_list({quote_ident(child)})")
                    if r[0] == fkid
                ),
                None,
            )
            if column is None:
                continue
            (value,) = conn.execute(
                f"SELECT {quote_ident(column)} FROM {quote_ident(child)} WHERE rowid = ?", (rowid,)
            ).fetchone()
            line = self._line_with(table, column, _as_text(value))
            name = constraint_name(table.name, column, "fkey")
            return _failure(
                table,
                line,
                name,
                f"{column} = {value} is not a row of {parent}",
            )
        return None


def _sqlite_row_failure(table: Table, line: int, exc: sqlite3.Error) -> TdmErrorLike:
    text = str(exc)
    constraint = None
    match = re.match(r"(UNIQUE|NOT NULL) constraint failed: [^.]+\.(.+)$", text)
    if match:
        kind, column = match.groups()
        if kind == "NOT NULL":
            constraint = f"NOT NULL on {column}"
        elif column == table.definition.primary_key:
            constraint = constraint_name(table.name, "", "pkey")
        else:
            constraint = constraint_name(table.name, column, "key")
    match = re.match(r"CHECK constraint failed: (.+)$", text)
    if match:
        constraint = match.group(1)
    if isinstance(exc, sqlite3.IntegrityError) or constraint is not None:
        return _failure(table, line, constraint or "a constraint", text)
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        return _failure(table, line, "column types", text)
    return UserError(f"SQLite failed while loading {table.dataset}: {text}; nothing was loaded")


TdmErrorLike = LoadFailed | UserError


def _failure(table: Table, line: int | None, constraint: str, detail: str) -> LoadFailed:
    where = f"line {line}" if line is not None else "a row"
    return LoadFailed(
        f"{table.dataset} {where} violates {constraint} in table {table.display}: {detail}; "
        "the load was rolled back, nothing was loaded"
    )


# ---------------------------------------------------------------------- PostgreSQL


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise UserError(
            "loading into PostgreSQL needs psycopg: pip install 'psycopg[binary]'"
        ) from None
    return psycopg


def pg_connect(url: DatabaseUrl) -> psycopg.Connection[Any]:
    """A connection to ``url`` (password: ``url.password``, else libpq's PGPASSWORD and
    ~/.pgpass); failures are UserErrors that never carry the password."""
    psycopg = _psycopg()
    kwargs: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, "application_name": "tdm load"}
    if url.password is not None:
        kwargs["password"] = url.password
    try:
        return psycopg.connect(url.url, **kwargs)  # type: ignore[no-any-return]
    except psycopg.Error as exc:
        raise _connect_error(url, exc) from None


def _secret_free(url: DatabaseUrl, text: str) -> str:
    for secret in (url.password, os.environ.get("PGPASSWORD")):
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())


def _connect_error(url: DatabaseUrl, exc: Exception) -> UserError:
    text = _secret_free(url, str(exc))
    low = text.lower()
    if (
        "password authentication failed" in low
        or "no password supplied" in low
        or ("authentication failed" in low)
    ):
        return UserError(
            f"PostgreSQL at {url.display} refused the login ({text}): check the user in the URL "
            "and the password (PGPASSWORD, ~/.pgpass or the environment's password_env)"
        )
    if re.search(r'database "[^"]*" does not exist', text):
        return UserError(f"{text} at {url.display}: create it (createdb) or fix the URL")
    return UserError(
        f"cannot connect to PostgreSQL at {url.display} ({text}): check that the server runs and "
        "the host and port in the URL"
    )


class _PgLoader(_Loader):
    dialect: Dialect = "postgresql"

    def run(self, progress: Progress | None) -> list[LoadedTable]:
        psycopg = _psycopg()
        conn = pg_connect(self.url)
        try:
            with conn:  # commits when the block ends, rolls back on any error
                return self._load(conn, progress)
        except psycopg.Error as exc:
            raise UserError(
                f"PostgreSQL refused the load: {_secret_free(self.url, str(exc))}; the load was "
                "rolled back, nothing was loaded"
            ) from None
        finally:
            conn.close()

    def _load(self, conn: psycopg.Connection[Any], progress: Progress | None) -> list[LoadedTable]:
        tables = self.selection.tables
        cur = conn.cursor()
        schema = tables[0].db_schema if tables else None
        if schema is not None:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        existing = set()
        for t in tables:
            cur.execute("SELECT to_regclass(%s)", (t.qualified,))
            row = cur.fetchone()
            if row is not None and row[0] is not None:
                existing.add(t.dataset)
        self._check_existing(existing)
        if self.mode == "replace":
            for t in reversed(tables):
                if t.dataset in existing:
                    self._drop(cur, t)
        for t in tables:
            if t.dataset not in existing or self.mode == "replace":
                cur.execute(create_table(t.definition, "postgresql", t.db_schema))
        loaded = []
        for t in tables:
            rows = self._copy(cur, t, progress)
            loaded.append(
                LoadedTable(t.dataset, t.display, rows, self._action(t.dataset in existing))
            )
        return loaded

    def _drop(self, cur: psycopg.Cursor[Any], table: Table) -> None:
        psycopg = _psycopg()
        try:
            cur.execute(f"DROP TABLE {table.qualified}")
        except psycopg.errors.DependentObjectsStillExist as exc:
            detail = _secret_free(self.url, exc.diag.message_detail or str(exc))
            raise UserError(
                f"cannot replace {table.display}: other tables depend on it ({detail}); load them "
                "together (the whole template) or drop them first; nothing was changed"
            ) from None

    def _copy(self, cur: psycopg.Cursor[Any], table: Table, progress: Progress | None) -> int:
        psycopg = _psycopg()
        cols = ", ".join(quote_ident(c.name) for c in table.columns)
        state = [0, 0]
        lines: list[int] = []  # the dataset line of each row sent, only when they differ
        try:
            with cur.copy(f"COPY {table.qualified} ({cols}) FROM STDIN") as copy:
                write = copy.write_row
                for sent, values in enumerate(self._rows(table, state, progress), start=1):
                    if state[0] != sent and not lines:
                        lines = list(range(1, sent))  # blank lines were skipped: keep a map
                    if lines:
                        lines.append(state[0])
                    write(values)
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as exc:
            raise self._row_failure(table, exc, lines) from None
        return state[1]

    def _row_failure(self, table: Table, exc: Any, lines: list[int]) -> LoadFailed:
        diag = exc.diag
        text = _secret_free(self.url, diag.message_primary or str(exc))
        detail = _secret_free(self.url, diag.message_detail or "")
        line: int | None = None
        found = re.search(r"COPY [^,]+, line (\d+)", diag.context or "")
        if found:
            n = int(found.group(1))
            line = lines[n - 1] if lines and n <= len(lines) else n
        key = re.match(r"Key \((.+?)\)=\((.*)\) is not present", detail)
        if key and line is None:
            line = self._line_with(table, key.group(1), key.group(2))
        column = diag.column_name
        in_context = re.search(r"COPY [^,]+, line \d+, column ([^:]+):", diag.context or "")
        if column is None and in_context:
            column = in_context.group(1)
        constraint = diag.constraint_name or (
            f"the type of column {column}" if column else "a column type"
        )
        return _failure(table, line, constraint, f"{text}{' (' + detail + ')' if detail else ''}")

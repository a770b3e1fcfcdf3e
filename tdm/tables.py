"""Datasets as tables: which datasets a name selects, their columns, keys and load order.

``tdm export`` and ``tdm load`` share this: a :class:`Table` per dataset, parents
before children (foreign-key order), each with its columns from the schema
(:mod:`tdm.sqltypes`) and its rows streamed from :class:`tdm.datasource.DataSource`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from tdm import canon
from tdm.datasource import DataSource
from tdm.errors import UserError
from tdm.models import check_name
from tdm.project import DATASET_DIR, Project
from tdm.sqltypes import Column, ForeignKey, TableDef, columns, qualified

PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class Table:
    """One dataset as a table."""

    dataset: str  # template/dataset
    name: str  # the table's name: --table-prefix + dataset
    db_schema: str | None
    schema_name: str | None
    definition: TableDef
    parents: tuple[str, ...]  # datasets (other than itself) it references

    @property
    def qualified(self) -> str:
        """The name as SQL writes it (quoted, with its schema)."""
        return qualified(self.name, self.db_schema)

    @property
    def display(self) -> str:
        """The name as a person reads it: ``test.customers``."""
        return f"{self.db_schema}.{self.name}" if self.db_schema else self.name

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.definition.columns


@dataclass(frozen=True)
class Selection:
    """The tables of a ``TEMPLATE`` or ``TEMPLATE/DATASET`` at a revision, parents first."""

    source: DataSource
    tables: list[Table]

    def lines(self, table: Table) -> tuple[Iterator[bytes], str]:
        return self.source.lines(table.dataset)

    def rows(self, table: Table) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, row) of every non-blank line; a malformed line is a UserError."""
        lines, display = self.source.lines(table.dataset)
        names = {c.name for c in table.columns}
        loads = orjson.loads
        for number, line in enumerate(lines, start=1):
            if len(line) < 3 and not line.strip():
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError as exc:
                raise UserError(
                    f"not valid JSON: {canon.decode_error(line, exc)}", path=display, line=number
                ) from None
            if type(row) is not dict or not row.keys() <= names:
                _bad_row(table, row, names, display, number)
            yield number, row

    def values(
        self, table: Table, state: list[int], progress: Callable[[int], None] | None = None
    ) -> Iterator[list[Any]]:
        """Every row as the list of its column values (JSON columns as JSON text, a missing field None), for a
        database.  ``state[0]`` is the line of the row last handed out, ``state[1]`` the
        rows handed out; ``progress(n)`` hears of every 10,000.  (:meth:`rows` and the
        converter in one loop: this is the hot path of ``tdm load``.)"""
        lines, display = self.source.lines(table.dataset)
        names = [c.name for c in table.columns]
        known = set(names)
        json_at = [i for i, c in enumerate(table.columns) if c.is_json]
        loads, dumps = orjson.loads, orjson.dumps
        count = 0
        for number, line in enumerate(lines, start=1):
            if len(line) < 3 and not line.strip():
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError as exc:
                raise UserError(
                    f"not valid JSON: {canon.decode_error(line, exc)}", path=display, line=number
                ) from None
            if type(row) is not dict or not row.keys() <= known:
                _bad_row(table, row, known, display, number)
            values = list(map(row.get, names))
            for i in json_at:
                value = values[i]
                if value is not None:
                    values[i] = dumps(value).decode()
            count += 1
            state[0] = number
            state[1] = count
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)
            yield values
        if progress is not None:
            progress(count % PROGRESS_EVERY)

    def count_rows(self, table: Table) -> int:
        lines, _ = self.source.lines(table.dataset)
        return sum(1 for line in lines if line.strip())


def select(
    project: Project,
    target: str | None,
    rev: str | None = None,
    *,
    table_prefix: str = "",
    db_schema: str | None = None,
    need_schema: bool = True,
) -> Selection:
    """The datasets ``target`` names (a template, ``template/dataset``, or None for every
    dataset) at ``rev`` (a ``@REV`` suffix on ``target`` works too), in foreign-key order.
    Without ``need_schema`` a dataset that follows no schema is a table without columns
    (enough for the JSON formats, which copy rows as they are)."""
    if target is not None and "@" in target:
        target, _, at = target.partition("@")
        if rev is not None and at != rev:
            raise UserError(f"two revisions given ({at} and --rev {rev}); give one")
        rev = at or rev
    source = DataSource(project, rev)
    datasets = _datasets(source, target)
    tables = [_table(source, d, datasets, table_prefix, db_schema, need_schema) for d in datasets]
    _check_unique_names(tables)
    return Selection(source, _parents_first(tables))


def _datasets(source: DataSource, target: str | None) -> list[str]:
    known = source.dataset_names()
    where = source.describe()
    if target is None:
        if not known:
            raise UserError(f"no datasets in {where}; run `tdm generate` first")
        return known
    if "/" in target:
        from tdm.versions import parse_dataset_name

        template, dataset, _ = parse_dataset_name(target)
        name = f"{template}/{dataset}"
        if name not in known:
            raise UserError(
                f"dataset '{name}' does not exist in {where} ({DATASET_DIR}/{name}.jsonl); "
                "see `tdm status`"
            )
        return [name]
    try:
        check_name(target, "template")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    chosen = [d for d in known if source.folder_of(d) == target]
    if not chosen:
        raise UserError(
            f"no datasets of '{target}' in {where} ({DATASET_DIR}/{target}/ is empty or missing); "
            f"generate them with `tdm generate {target}`, or name a dataset as TEMPLATE/DATASET"
        )
    recipe = source.template(target)
    if recipe is not None:  # the template's order first: it is the order a user reads
        order = {name: i for i, name in enumerate(recipe.datasets)}
        chosen.sort(key=lambda d: (order.get(d.partition("/")[2], len(order)), d))
    return chosen


def _table(
    source: DataSource,
    dataset: str,
    selected: list[str],
    prefix: str,
    db_schema: str | None,
    need_schema: bool,
) -> Table:
    from tdm.recipes import dataset_refs, match_ref_target

    folder, _, name = dataset.partition("/")
    schema_name = source.schema_name(dataset)
    if schema_name is None and not need_schema:
        return Table(dataset, prefix + name, db_schema, None, TableDef(prefix + name, (), None), ())
    if schema_name is None:
        raise UserError(
            f"dataset '{dataset}' follows no schema (no template names it and tdm.lock has no "
            "entry for it), so it has no columns; export it as --format jsonl or json"
        )
    schema = source.schema(schema_name)
    cols = columns(schema.data)
    by_name = {c.name: c for c in cols}
    siblings = {
        d.partition("/")[2]: s
        for d in source.dataset_names()
        if source.folder_of(d) == folder and (s := source.schema_name(d)) is not None
    }
    fks: list[ForeignKey] = []
    parents: list[str] = []
    for column, ref in dataset_refs(schema, source.overrides(dataset)).items():
        target, _, parent_field = ref.rpartition(".")
        found, _ = match_ref_target(target, siblings)
        parent = f"{folder}/{found}"
        if found is None or parent not in selected or column not in by_name:
            continue  # a parent that is not loaded with it cannot be referenced
        parent_schema = source.schema(siblings[found])
        if not _is_key(parent_schema.data, parent_schema.primary_key, parent_field):
            continue  # a database can only reference a primary key or a unique column
        fks.append(ForeignKey(column, qualified(prefix + found, db_schema), parent_field))
        if parent != dataset:
            parents.append(parent)
    definition = TableDef(prefix + name, cols, schema.primary_key, tuple(fks))
    return Table(dataset, prefix + name, db_schema, schema_name, definition, tuple(parents))


def _is_key(schema: dict[str, Any], primary_key: str | None, field: str) -> bool:
    if field == primary_key:
        return True
    return any(c.name == field and c.unique for c in columns(schema))


def _check_unique_names(tables: list[Table]) -> None:
    seen: dict[str, str] = {}
    for t in tables:
        if t.name in seen:
            raise UserError(
                f"datasets {seen[t.name]} and {t.dataset} would both be table '{t.name}': "
                f"name one template (e.g. `{seen[t.name].partition('/')[0]}`)"
            )
        seen[t.name] = t.dataset


def _parents_first(tables: list[Table]) -> list[Table]:
    """A stable topological order: each table after the tables it references."""
    by_dataset = {t.dataset: t for t in tables}
    placed: dict[str, Table] = {}
    visiting: list[str] = []

    def visit(t: Table) -> None:
        if t.dataset in placed:
            return
        if t.dataset in visiting:
            cycle = " -> ".join([*visiting[visiting.index(t.dataset) :], t.dataset])
            raise UserError(
                f"reference cycle between datasets: {cycle}; a database cannot create tables "
                "that reference each other in a circle"
            )
        visiting.append(t.dataset)
        for parent in t.parents:
            visit(by_dataset[parent])
        visiting.pop()
        placed[t.dataset] = t

    for t in tables:
        visit(t)
    return list(placed.values())


def _bad_row(table: Table, row: Any, names: set[str], display: str, number: int) -> None:
    if not isinstance(row, dict):
        raise UserError("a row must be a JSON object", path=display, line=number)
    extra = sorted(set(row) - names)[0]
    raise UserError(
        f"field '{extra}' is not a property of schema '{table.schema_name}', so it has no "
        "column; add it to the schema's properties",
        path=display,
        line=number,
    )

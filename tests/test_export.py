"""tdm export: CSV (RFC 4180), JSON, JSON Lines, SQL and Parquet, from any revision, streamed;
and the JSON Schema -> SQL mapping behind the SQL and Parquet formats."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
from helpers import git, snapshot, tdm
from loadhelpers import (
    THINGS_SCHEMA,
    assert_same_rows,
    dataset_rows,
    family_repo,
    schema_columns,
    thing,
    things_repo,
    write_rows,
)

from tdm.sqltypes import TableDef, columns, create_table

# ---------------------------------------------------------------- CSV


def test_csv_follows_rfc_4180_quoting(tmp_path: Path) -> None:
    rows = [
        thing(1, name='comma, "quote" and\r\nCRLF', note=""),
        thing(2, name="plain", note=None, tags=[], meta={"a": "b,c"}),
        thing(3, name="ünïcödé ✓", note="line\nbreak"),
    ]
    root = things_repo(tmp_path / "r", rows)
    result = tdm("export", "t/things", "--format", "csv", "--repo", root)
    assert result.exit_code == 0, result.output
    raw = result.stdout_bytes
    assert raw.endswith(b"\r\n")
    assert raw.startswith(
        b"id,name,note,flag,day,at,uid,score,small,kind,tags,meta\r\n"
        # quotes doubled, the field quoted (CRLF inside it kept); the empty string is ""
        b'1,"comma, ""quote"" and\r\nCRLF","",false,'
    )
    assert b"\r\n2,plain,,false," in raw  # null: an empty field
    parsed = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert parsed[0] == [c.name for c in columns(THINGS_SCHEMA)]
    assert len(parsed) == 4
    by_name = dict(zip(parsed[0], parsed[1], strict=True))
    assert by_name["name"] == 'comma, "quote" and\r\nCRLF'
    assert by_name["flag"] == "false" and parsed[3][3] == "true"
    assert json.loads(by_name["tags"]) == ["x", "t1"]
    assert json.loads(by_name["meta"]) == {"n": 1, "nested": {"ok": True}}
    second = dict(zip(parsed[0], parsed[2], strict=True))
    assert (
        second["note"] == ""
        and second["tags"] == "[]"
        and json.loads(second["meta"]) == {"a": "b,c"}
    )
    assert parsed[3][1] == "ünïcödé ✓" and parsed[3][2] == "line\nbreak"


def test_csv_of_the_sample_has_a_header_and_every_row(smoke_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "customers.csv"
    result = tdm("export", "smoke/customers", "-o", out, "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as fh:
        parsed = list(csv.DictReader(fh))
    data = dataset_rows(smoke_repo, "smoke/customers")
    assert len(parsed) == len(data) == 200
    for got, want in zip(parsed, data, strict=True):
        assert got["id"] == str(want["id"]) and got["email"] == want["email"]
        assert got["tier"] == (want["tier"] or "")


# ---------------------------------------------------------------- JSON Lines and JSON


def test_jsonl_is_the_dataset_byte_for_byte_and_json_one_array(smoke_repo: Path) -> None:
    path = smoke_repo / "datasets" / "smoke" / "orders.jsonl"
    result = tdm("export", "smoke/orders", "--format", "jsonl", "--repo", smoke_repo)
    assert result.exit_code == 0
    assert result.stdout_bytes == path.read_bytes()
    result = tdm("export", "smoke/orders", "--format", "json", "--repo", smoke_repo)
    assert json.loads(result.stdout_bytes) == dataset_rows(smoke_repo, "smoke/orders")


# ---------------------------------------------------------------- revisions


def test_export_reads_a_revision_without_a_checkout(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r")
    assert tdm("commit", "-m", "v1 data", "--no-verify", "--repo", root).exit_code == 0
    assert tdm("tag", "v1.0", "--repo", root).exit_code == 0
    v1 = dataset_rows(root, "t/things")
    write_rows(root, "t/things", [thing(99)])  # the working tree moves on, uncommitted
    before = snapshot(root)
    head = git(root, "rev-parse", "HEAD").stdout
    for args in (("t/things", "--rev", "v1.0"), ("t/things@v1.0",)):
        result = tdm("export", *args, "--format", "json", "--repo", root)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout_bytes) == v1
    assert snapshot(root) == before  # nothing checked out, nothing written
    assert git(root, "rev-parse", "HEAD").stdout == head
    current = tdm("export", "t/things", "--format", "json", "--repo", root)
    assert json.loads(current.stdout_bytes) == [thing(99)]


def test_unknown_revision_and_dataset_are_exit_2(smoke_repo: Path) -> None:
    result = tdm("export", "smoke/customers", "--rev", "v9.9", "--repo", smoke_repo)
    assert result.exit_code == 2 and "unknown revision 'v9.9'" in result.output
    result = tdm("export", "smoke/nope", "--repo", smoke_repo)
    assert result.exit_code == 2 and "smoke/nope" in result.output
    result = tdm("export", "nothing", "--repo", smoke_repo)
    assert result.exit_code == 2 and "no datasets of 'nothing'" in result.output


# ---------------------------------------------------------------- several datasets


def test_a_template_needs_a_directory_and_gets_one_file_per_dataset(
    smoke_repo: Path, tmp_path: Path
) -> None:
    result = tdm("export", "smoke", "--format", "csv", "--repo", smoke_repo)
    assert result.exit_code == 2 and "-o DIRECTORY" in result.output
    out = tmp_path / "out"
    result = tdm("export", "smoke", "--format", "jsonl", "-o", out, "--json", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        f"{d}.jsonl"
        for d in ("customers", "addresses", "products", "orders", "order_items", "payments")
    )
    assert {f["dataset"]: f["rows"] for f in report["files"]}["smoke/order_items"] == 1000
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_dataset_without_a_schema_exports_only_as_json_lines(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r")
    write_rows(root, "loose/rows", [{"a": 1}])
    result = tdm("export", "loose/rows", "--format", "csv", "--repo", root)
    assert result.exit_code == 2 and "follows no schema" in result.output
    result = tdm("export", "loose/rows", "--format", "jsonl", "--repo", root)
    assert result.exit_code == 0 and result.stdout == '{"a":1}\n'


def test_a_field_outside_the_schema_is_named_with_its_line(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r", [thing(1), {**thing(2), "extra": 1}])
    result = tdm("export", "t/things", "--format", "csv", "--repo", root)
    assert result.exit_code == 2
    assert "datasets/t/things.jsonl:2" in result.output and "'extra'" in result.output


# ---------------------------------------------------------------- SQL


def test_sql_export_runs_in_sqlite(smoke_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "smoke.sql"
    result = tdm("export", "smoke", "--format", "sql", "-o", out, "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    script = out.read_text(encoding="utf-8")
    # parents before children
    order = [script.index(f'CREATE TABLE "{t}"') for t in ("customers", "orders", "order_items")]
    assert order == sorted(order)
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(script)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    for name, schema in (("customers", "customers"), ("payments", "payments")):
        cols = schema_columns(smoke_repo, schema)
        names = ", ".join(f'"{c.name}"' for c in cols)
        got = db.execute(f'SELECT {names} FROM "{name}" ORDER BY rowid').fetchall()
        assert_same_rows(got, dataset_rows(smoke_repo, f"smoke/{name}"), cols, "sqlite")


def test_sql_export_of_tricky_values_round_trips_in_sqlite(tmp_path: Path) -> None:
    rows = [thing(i) for i in range(1, 8)] + [thing(8, name="it's; --", note="")]
    root = things_repo(tmp_path / "r", rows)
    result = tdm("export", "t/things", "--format", "sql", "--repo", root)
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(":memory:")
    db.executescript(result.stdout)
    cols = schema_columns(root, "things")
    names = ", ".join(f'"{c.name}"' for c in cols)
    got = db.execute(f'SELECT {names} FROM "things" ORDER BY id').fetchall()
    assert_same_rows(got, rows, cols, "sqlite")


# ---------------------------------------------------------------- JSON Schema -> SQL


def _ddl(schema: dict[str, object], dialect: str) -> str:
    return create_table(TableDef("t", columns(schema), "id"), dialect)  # type: ignore[arg-type]


def test_types_constraints_and_keys_from_the_schema() -> None:
    pg = _ddl(THINGS_SCHEMA, "postgresql")
    assert '"id" BIGINT NOT NULL' in pg  # only a lower bound: BIGINT
    assert '"small" INTEGER NOT NULL' in pg  # both bounds within 32 bits
    assert '"note" TEXT,' in pg  # type allows null
    assert '"day" DATE NOT NULL' in pg and '"at" TIMESTAMPTZ NOT NULL' in pg
    assert '"uid" UUID NOT NULL' in pg and '"score" DOUBLE PRECISION NOT NULL' in pg
    assert '"tags" JSONB,' in pg and '"meta" JSONB' in pg  # not required: nullable
    assert '"flag" BOOLEAN NOT NULL' in pg
    assert 'CONSTRAINT "t_pkey" PRIMARY KEY ("id")' in pg
    assert 'CONSTRAINT "t_name_key" UNIQUE ("name")' in pg
    assert "CHECK (\"kind\" IN ('a', 'b', 'c'))" in pg
    assert 'CHECK ("score" >= 0 AND "score" <= 100)' in pg
    lite = _ddl(THINGS_SCHEMA, "sqlite")
    assert '"tags" TEXT' in lite and '"day" TEXT NOT NULL' in lite
    assert 'CHECK (("flag" = 0 OR "flag" = 1))' in lite
    assert "CHECK ((\"kind\" = 'a' OR \"kind\" = 'b' OR \"kind\" = 'c'))" in lite
    sqlite3.connect(":memory:").execute(lite)  # valid SQLite


def test_refs_allof_oneof_and_wide_integers() -> None:
    schema = {
        "type": "object",
        "required": ["id", "big", "via_ref", "merged", "either"],
        "properties": {
            "id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
            "big": {"type": "integer", "minimum": 0, "maximum": 2**31},
            "via_ref": {"$ref": "#/$defs/day"},
            "merged": {"allOf": [{"type": "integer"}, {"minimum": 5, "maximum": 9}]},
            "either": {"oneOf": [{"enum": ["x", "y"]}, {"const": "z"}]},
            "mixed": {"type": ["string", "integer"]},
        },
        "$defs": {"day": {"type": "string", "format": "date"}},
    }
    pg = _ddl(schema, "postgresql")
    assert '"id" INTEGER NOT NULL' in pg and '"big" BIGINT NOT NULL' in pg
    assert '"via_ref" DATE NOT NULL' in pg
    assert '"merged" INTEGER NOT NULL' in pg and '("merged" >= 5 AND "merged" <= 9)' in pg
    assert '"either" TEXT NOT NULL' in pg and "IN ('x', 'y', 'z')" in pg
    assert '"mixed" JSONB' in pg


def test_foreign_keys_come_from_x_tdm_ref(smoke_repo: Path) -> None:
    result = tdm(
        "export", "smoke", "--format", "sql", "--dialect", "postgresql", "--repo", smoke_repo
    )
    assert result.exit_code == 0
    sql = result.stdout
    assert 'FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") DEFERRABLE' in sql
    assert 'FOREIGN KEY ("product_sku") REFERENCES "products" ("sku")' in sql
    assert 'FOREIGN KEY ("referrer_id") REFERENCES "customers" ("id")' in sql
    assert 'CONSTRAINT "payments_order_id_key" UNIQUE ("order_id")' in sql
    with_schema = tdm(
        "export",
        "smoke",
        "--format",
        "sql",
        "--dialect",
        "postgresql",
        "--db-schema",
        "qa",
        "--table-prefix",
        "s_",
        "--repo",
        smoke_repo,
    )
    assert 'CREATE SCHEMA IF NOT EXISTS "qa"' in with_schema.stdout
    assert 'REFERENCES "qa"."s_customers" ("id")' in with_schema.stdout
    # one dataset alone: its parents are not part of the script, so no reference to them
    alone = tdm("export", "smoke/orders", "--format", "sql", "--repo", smoke_repo)
    assert "FOREIGN KEY" not in alone.stdout


# ---------------------------------------------------------------- Parquet


def test_parquet_types_come_from_the_schema(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet", reason="pip install 'tdm[parquet]'")
    import pyarrow as pa

    rows = [thing(i) for i in range(1, 6)]
    root = things_repo(tmp_path / "r", rows)
    out = tmp_path / "out"
    out.mkdir()
    result = tdm("export", "t/things", "--format", "parquet", "-o", out, "--repo", root)
    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "things.parquet")
    types = {f.name: f.type for f in table.schema}
    assert types["id"] == pa.int64() and types["small"] == pa.int32()
    assert types["score"] == pa.float64() and types["flag"] == pa.bool_()
    assert types["day"] == pa.date32() and types["at"] == pa.timestamp("us", tz="UTC")
    assert types["name"] == pa.string() and types["meta"] == pa.string()
    assert not table.schema.field("id").nullable and table.schema.field("note").nullable
    got = table.to_pylist()
    assert got[0]["day"] == dt.date(2024, 1, 2)
    assert got[0]["at"] == dt.datetime(2024, 2, 2, 10, 1, 5, tzinfo=dt.UTC)
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5]
    assert json.loads(got[1]["meta"]) == rows[1]["meta"]
    assert got[0]["note"] is None and got[1]["note"] == rows[1]["note"]


def test_parquet_needs_a_file(smoke_repo: Path) -> None:
    result = tdm("export", "smoke/customers", "--format", "parquet", "--repo", smoke_repo)
    assert result.exit_code == 2 and "-o FILE" in result.output


def test_sql_export_allows_a_reference_to_a_later_insert_batch(tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r", people=700, pets=5)  # person 1's mentor is person 700
    result = tdm("export", "fam", "--format", "sql", "--repo", root)
    assert result.exit_code == 0, result.output
    assert result.stdout.count('INSERT INTO "people"') == 2  # 500 rows a statement
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA foreign_keys = ON")
    db.executescript(result.stdout)
    assert db.execute("SELECT mentor_id FROM people WHERE id = 1").fetchone() == (700,)


def test_a_revision_is_streamed_out_of_git(tmp_path: Path) -> None:
    from tdm import gitio, snapshot
    from tdm.project import Project

    root = things_repo(tmp_path / "r", [thing(i) for i in range(1, 300)])
    assert tdm("commit", "-m", "data", "--no-verify", "--repo", root).exit_code == 0
    git = gitio.Git(root)
    blob_id = snapshot.at(Project.find(root), "HEAD").blob_id("datasets/t/things.jsonl")
    assert blob_id is not None
    streamed = list(git.streamed_lines(blob_id))
    assert streamed == list(git.lines(blob_id)) and len(streamed) == 299
    lines = git.streamed_lines(blob_id)
    assert next(lines) == streamed[0]
    lines.close()  # a reader that stops early stops git, quietly
    with pytest.raises(gitio.GitError, match="could not read blob"):
        list(git.streamed_lines("0" * 40))

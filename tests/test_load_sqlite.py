"""tdm load into SQLite (the standard library, a real database file): rows value for value and
type for type, foreign keys, all or nothing, --replace/--append, --dry-run and bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import snapshot, tdm
from loadhelpers import (
    assert_same_rows,
    dataset_rows,
    family_repo,
    schema_columns,
    thing,
    things_repo,
    write_rows,
)

from tdm.errors import UserError


def _url(path: Path) -> str:
    return f"sqlite:///{path}"  # path is absolute: sqlite:////tmp/...


def _rows(db: Path, table: str, cols: list[str], order: str = "rowid") -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        names = ", ".join(f'"{c}"' for c in cols)
        return conn.execute(f'SELECT {names} FROM "{table}" ORDER BY {order}').fetchall()
    finally:
        conn.close()


def _tables(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return sorted(
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        )
    finally:
        conn.close()


def test_sample_loads_value_for_value_with_foreign_keys(smoke_repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "test.db"
    result = tdm("load", "smoke", "--into", _url(db), "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    assert "order_items" in result.output and "1,000 rows" in result.output
    for name in ("customers", "addresses", "products", "orders", "order_items", "payments"):
        cols = schema_columns(smoke_repo, name)
        got = _rows(db, name, [c.name for c in cols])
        assert_same_rows(got, dataset_rows(smoke_repo, f"smoke/{name}"), cols, "sqlite")
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    fks = {r[3]: r[2] for r in conn.execute("PRAGMA foreign_key_list(order_items)")}
    assert fks == {"order_id": "orders", "product_sku": "products"}
    conn.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute(
            "INSERT INTO order_items VALUES (999999, 'no-such-order', 'SKU-000001', 1, 1.0, NULL)"
        )


def test_types_round_trip_for_every_kind(tmp_path: Path) -> None:
    rows = [thing(i) for i in range(1, 30)] + [thing(30, note="", tags=[], meta={})]
    root = things_repo(tmp_path / "r", rows)
    db = tmp_path / "t.db"
    assert tdm("load", "t", "--into", _url(db), "--repo", root).exit_code == 0
    cols = schema_columns(root, "things")
    assert_same_rows(_rows(db, "things", [c.name for c in cols]), rows, cols, "sqlite")


def test_a_reference_to_a_later_row_of_the_same_table_loads(tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r")
    db = tmp_path / "t.db"
    result = tdm("load", "fam", "--into", _url(db), "--json", "--repo", root)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # parents first, whatever the template's order (pets is listed first there)
    assert [t["table"] for t in report["tables"]] == ["people", "pets"]
    assert _rows(db, "people", ["mentor_id"])[0] == (30,)


def test_a_failed_load_leaves_a_new_file_absent_and_an_old_one_as_it_was(tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r")
    db = tmp_path / "t.db"
    bad = [
        *[p for p in dataset_rows(root, "fam/pets")],
        {"id": 51, "owner_id": 999, "species": "cat"},
    ]
    write_rows(root, "fam/pets", bad)
    result = tdm("load", "fam", "--into", _url(db), "--repo", root)
    assert result.exit_code == 1
    assert "fam/pets line 51 violates pets_owner_id_fkey" in result.output
    assert "nothing was loaded" in result.output
    assert not db.exists() and not Path(f"{db}-journal").exists()

    # an existing database: the load that fails half way through leaves it as it was
    write_rows(root, "fam/pets", bad[:-1])
    assert tdm("load", "fam", "--into", _url(db), "--repo", root).exit_code == 0
    before = db.read_bytes()
    write_rows(root, "fam/pets", bad)
    result = tdm("load", "fam", "--into", _url(db), "--replace", "--repo", root)
    assert result.exit_code == 1
    assert db.read_bytes() == before
    assert len(_rows(db, "pets", ["id"])) == 50


@pytest.mark.parametrize(
    ("row", "line", "constraint"),
    [
        (thing(5, name="thing 2"), 5, "things_name_key"),  # UNIQUE
        (thing(2), 5, "things_pkey"),  # duplicate primary key
        (thing(5, kind="z"), 5, "things_kind_check"),  # enum
        (thing(5, score=101), 5, "things_score_check"),  # bound
        (thing(5, name=None), 5, "NOT NULL on name"),
    ],
)
def test_constraint_violations_name_dataset_line_and_constraint(
    tmp_path: Path, row: dict[str, object], line: int, constraint: str
) -> None:
    rows = [thing(i) for i in range(1, 5)] + [row] + [thing(i) for i in range(6, 9)]
    root = things_repo(tmp_path / "r", rows)
    db = tmp_path / "t.db"
    result = tdm("load", "t", "--into", _url(db), "--repo", root)
    assert result.exit_code == 1, result.output
    assert f"t/things line {line} violates {constraint}" in result.output
    assert not db.exists()


def test_existing_tables_need_replace_or_append(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r", [thing(i) for i in range(1, 11)])
    db = tmp_path / "t.db"
    assert tdm("load", "t", "--into", _url(db), "--repo", root).exit_code == 0
    before = db.read_bytes()
    result = tdm("load", "t", "--into", _url(db), "--repo", root)
    assert result.exit_code == 2
    assert "things already exist" in result.output and "--replace" in result.output
    assert db.read_bytes() == before
    both = tdm("load", "t", "--into", _url(db), "--replace", "--append", "--repo", root)
    assert both.exit_code == 2

    # --append adds rows; --replace leaves none of the old ones behind
    write_rows(root, "t/things", [thing(i) for i in range(11, 16)])
    assert tdm("load", "t", "--into", _url(db), "--append", "--repo", root).exit_code == 0
    assert [r[0] for r in _rows(db, "things", ["id"], "id")] == list(range(1, 16))
    write_rows(root, "t/things", [thing(i) for i in (40, 41)])
    result = tdm("load", "t", "--into", _url(db), "--replace", "--repo", root)
    assert result.exit_code == 0, result.output
    assert [r[0] for r in _rows(db, "things", ["id"], "id")] == [40, 41]


def test_replace_of_a_loaded_template_leaves_no_row_behind(tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r", people=30, pets=50)
    db = tmp_path / "t.db"
    assert tdm("load", "fam", "--into", _url(db), "--repo", root).exit_code == 0
    family_repo(tmp_path / "r2", people=4, pets=3)
    for name in ("people", "pets"):
        write_rows(root, f"fam/{name}", dataset_rows(tmp_path / "r2", f"fam/{name}"))
    assert tdm("load", "fam", "--into", _url(db), "--replace", "--repo", root).exit_code == 0
    assert _rows(db, "people", ["id"], "id") == [(1,), (2,), (3,), (4,)]
    assert _rows(db, "pets", ["id", "owner_id"], "id") == [(1, 2), (2, 3), (3, 4)]


def test_dry_run_touches_nothing(smoke_repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    before = snapshot(smoke_repo)
    result = tdm("load", "smoke", "--into", _url(db), "--dry-run", "--json", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True
    assert [(t["table"], t["rows"]) for t in plan["tables"]][:2] == [
        ("customers", 200),
        ("addresses", 300),
    ]
    assert not db.exists()
    assert snapshot(smoke_repo) == before


def test_table_prefix_and_a_single_dataset(smoke_repo: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    result = tdm(
        "load", "smoke/orders", "--into", _url(db), "--table-prefix", "v1_", "--repo", smoke_repo
    )
    assert result.exit_code == 0, result.output
    assert _tables(db) == ["v1_orders"]
    result = tdm("load", "smoke", "--into", _url(db), "--db-schema", "x", "--repo", smoke_repo)
    assert result.exit_code == 2 and "SQLite has no schemas" in result.output


def test_load_from_a_revision_and_from_an_environment(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r", [thing(i) for i in range(1, 6)])
    config = root / "tdm.yaml"
    config.write_text(
        "name: r\nenvironments:\n  qa:\n    branch: env/qa\n"
        "    database: {url: 'sqlite:///qa.db'}\n  dev:\n    branch: env/dev\n"
    )
    assert tdm("commit", "-m", "five", "--no-verify", "--repo", root).exit_code == 0
    assert tdm("env", "create", "qa", "--from", "HEAD", "--repo", root).exit_code == 0
    write_rows(root, "t/things", [thing(9)])  # the working tree differs from env/qa

    result = tdm("load", "--env", "qa", "--repo", root)
    assert result.exit_code == 0, result.output
    assert "env/qa" in result.output
    # a relative SQLite path of tdm.yaml is taken from the repository root
    assert [r[0] for r in _rows(root / "qa.db", "things", ["id"], "id")] == [1, 2, 3, 4, 5]

    db = tmp_path / "wt.db"
    assert tdm("load", "t", "--into", _url(db), "--repo", root).exit_code == 0
    assert _rows(db, "things", ["id"]) == [(9,)]

    result = tdm("load", "--env", "dev", "--repo", root)
    assert result.exit_code == 2 and "environment 'dev' names no database" in result.output
    assert tdm("env", "delete", "qa", "--force", "--repo", root).exit_code == 0
    result = tdm("load", "--env", "qa", "--repo", root)
    assert result.exit_code == 2 and "environment 'qa' has no branch env/qa yet" in result.output
    result = tdm("load", "--env", "nope", "--repo", root)
    assert result.exit_code == 2 and "no environment 'nope'" in result.output
    result = tdm("load", "t", "--repo", root)
    assert result.exit_code == 2 and "--into URL" in result.output


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://qa@db/app", "unsupported database URL 'mysql://'"),
        ("test.db", "unsupported database URL 'test.db' (no scheme)"),
        ("sqlite://test.db", "not a SQLite URL"),
        ("postgresql://qa:hunter2@db.example/app", "holds a password"),
    ],
)
def test_unusable_urls_are_exit_2(smoke_repo: Path, url: str, message: str) -> None:
    result = tdm("load", "smoke", "--into", url, "--repo", smoke_repo)
    assert result.exit_code == 2
    assert message in result.output
    assert "hunter2" not in result.output


def test_a_password_in_tdm_yaml_is_refused_and_never_echoed(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r")
    config = root / "tdm.yaml"
    config.write_text(
        "name: r\nenvironments:\n  staging:\n    branch: env/staging\n"
        '    database: {url: "postgresql://qa:s3cr3t-pw@db.example/app"}\n'
    )
    result = tdm("status", "--repo", root)
    assert result.exit_code == 2
    assert "holds a password" in result.output and "tdm.yaml:" in result.output
    assert "s3cr3t-pw" not in result.output


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r")
    result = tdm("load", "t", "--into", _url(tmp_path), "--repo", root)
    assert result.exit_code == 2 and "SQLite" in result.output
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    result = tdm("load", "t", "--into", _url(garbage), "--repo", root)
    assert result.exit_code == 2
    assert garbage.read_bytes() == b"not a database at all" * 100


def test_core_errors_are_user_errors(tmp_path: Path) -> None:
    from tdm.load import load
    from tdm.project import Project

    root = things_repo(tmp_path / "r")
    with pytest.raises(UserError, match="not both"):
        load(Project.find(root), "t", into=_url(tmp_path / "a.db"), env="qa")

"""tdm load into a real PostgreSQL (a throwaway cluster started for the session, see
pgcluster.py): COPY through psycopg 3, rows value for value and type for type, foreign
keys, all or nothing, --replace, credentials that never show, and the SQL export in psql.

Without PostgreSQL binaries these tests skip (the reason says how to enable them); under
CI=true a missing PostgreSQL fails the run instead."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pgcluster
import pytest
from helpers import tdm
from loadhelpers import (
    assert_same_rows,
    dataset_rows,
    family_repo,
    schema_columns,
    thing,
    things_repo,
    write_rows,
)

# a throwaway PostgreSQL cluster for the module: marked slow (make test runs them, test-fast not)
pytestmark = pytest.mark.slow

psycopg = pytest.importorskip("psycopg", reason="pip install 'psycopg[binary]' (tdm's dependency)")

SAMPLE_TABLES = ("customers", "addresses", "products", "orders", "order_items", "payments")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[pgcluster.Cluster]:
    if pgcluster.find_bindir() is None:
        if pgcluster.IN_CI:
            pytest.fail(f"{pgcluster.ENABLE_HINT} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(pgcluster.ENABLE_HINT)
    with pgcluster.running() as cluster:
        yield cluster


@dataclass(frozen=True)
class Db:
    cluster: pgcluster.Cluster
    name: str

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.cluster.admin_conninfo(self.name)) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []

    def tables(self, schema: str = "public") -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
        return sorted(r[0] for r in rows)


@pytest.fixture
def pg(pg_cluster: pgcluster.Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    """A fresh database of its own; PGPASSWORD holds the superuser's password."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    monkeypatch.setenv("PGPASSWORD", pgcluster.SUPERUSER_PASSWORD)
    monkeypatch.delenv("PGPASSFILE", raising=False)
    yield Db(pg_cluster, name)
    with psycopg.connect(pg_cluster.admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _select(db: Db, table: str, cols: list[str], order: str) -> list[tuple[Any, ...]]:
    names = ", ".join(f'"{c}"' for c in cols)
    return db.query(f"SELECT {names} FROM {table} ORDER BY {order}")


def _assert_sample_loaded(db: Db, repo: Path, schema: str = "public") -> None:
    for name in SAMPLE_TABLES:
        cols = schema_columns(repo, name)
        data = dataset_rows(repo, f"smoke/{name}")
        pk = "sku" if name == "products" else "id"
        data.sort(
            key=lambda r: (
                r[pk] if pk == "sku" or name not in ("orders", "payments") else uuid.UUID(r[pk])
            )
        )
        got = _select(db, f'"{schema}"."{name}"', [c.name for c in cols], f'"{pk}"')
        assert_same_rows(got, data, cols, "postgresql")


# ---------------------------------------------------------------- loading


def test_sample_loads_value_for_value_and_type_for_type(pg: Db, smoke_repo: Path) -> None:
    result = tdm("load", "smoke", "--into", pg.url, "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    assert "order_items" in result.output and "1,000 rows" in result.output
    _assert_sample_loaded(pg, smoke_repo)


def test_foreign_keys_hold_in_the_database(pg: Db, smoke_repo: Path) -> None:
    assert tdm("load", "smoke", "--into", pg.url, "--repo", smoke_repo).exit_code == 0
    fks = pg.query(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' ORDER BY 1, 2"
    )
    assert ("order_items", "orders") in fks and ("order_items", "products") in fks
    assert ("customers", "customers") in fks and ("payments", "orders") in fks
    orphans = pg.query(
        "SELECT count(*) FROM order_items i LEFT JOIN orders o ON o.id = i.order_id WHERE o.id IS NULL"
    )
    assert orphans == [(0,)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg.query(
            "INSERT INTO orders (id, customer_id, status, ordered_at, channel, shipping_address) "
            "VALUES (gen_random_uuid(), 999999, 'paid', now(), 'web', '{}')"
        )


def test_every_kind_of_value_round_trips(pg: Db, tmp_path: Path) -> None:
    rows = [thing(i) for i in range(1, 40)] + [thing(40, note="", tags=[], meta={}, name="x\ty\\z")]
    root = things_repo(tmp_path / "r", rows)
    result = tdm("load", "t", "--into", pg.url, "--repo", root)
    assert result.exit_code == 0, result.output
    cols = schema_columns(root, "things")
    assert_same_rows(_select(pg, "things", [c.name for c in cols], "id"), rows, cols, "postgresql")


def test_db_schema_prefix_and_a_reference_to_a_later_row(pg: Db, tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r")
    result = tdm(
        "load",
        "fam",
        "--into",
        pg.url,
        "--db-schema",
        "test",
        "--table-prefix",
        "f_",
        "--json",
        "--repo",
        root,
    )
    assert result.exit_code == 0, result.output
    assert [t["table"] for t in json.loads(result.stdout)["tables"]] == [
        "test.f_people",
        "test.f_pets",
    ]
    assert pg.tables("test") == ["f_people", "f_pets"]
    assert pg.query("SELECT mentor_id FROM test.f_people WHERE id = 1") == [(30,)]


# ---------------------------------------------------------------- all or nothing


def test_a_failed_load_rolls_everything_back(pg: Db, tmp_path: Path) -> None:
    root = family_repo(tmp_path / "r")
    pets = dataset_rows(root, "fam/pets")
    write_rows(root, "fam/pets", [*pets, {"id": 51, "owner_id": 777, "species": "dog"}])
    result = tdm("load", "fam", "--into", pg.url, "--repo", root)
    assert result.exit_code == 1, result.output
    assert "fam/pets line 51 violates pets_owner_id_fkey" in result.output
    assert "(owner_id)=(777)" in result.output
    assert pg.tables() == []  # people, loaded first, is gone too

    # over a loaded set: --replace that fails keeps the old rows
    write_rows(root, "fam/pets", pets)
    assert tdm("load", "fam", "--into", pg.url, "--repo", root).exit_code == 0
    write_rows(root, "fam/pets", [*pets[:10], {**pets[10], "id": 1}])
    result = tdm("load", "fam", "--into", pg.url, "--replace", "--repo", root)
    assert result.exit_code == 1
    assert "fam/pets line 11 violates pets_pkey" in result.output
    assert pg.query("SELECT count(*) FROM pets") == [(50,)]


@pytest.mark.parametrize(
    ("row", "constraint"),
    [
        (thing(3, name="thing 1"), "things_name_key"),
        (thing(3, kind="q"), "things_kind_check"),
        (thing(3, small=11), "things_small_check"),
        (thing(3, day="not a date"), "the type of column"),
    ],
)
def test_constraint_violations_name_dataset_line_and_constraint(
    pg: Db, tmp_path: Path, row: dict[str, Any], constraint: str
) -> None:
    root = things_repo(tmp_path / "r", [thing(1), thing(2), row, thing(4)])
    result = tdm("load", "t", "--into", pg.url, "--repo", root)
    assert result.exit_code == 1, result.output
    assert f"t/things line 3 violates {constraint}" in result.output
    assert pg.tables() == []


def test_replace_leaves_no_row_behind_and_existing_tables_need_a_flag(
    pg: Db, smoke_repo: Path
) -> None:
    assert tdm("load", "smoke", "--into", pg.url, "--repo", smoke_repo).exit_code == 0
    result = tdm("load", "smoke", "--into", pg.url, "--repo", smoke_repo)
    assert result.exit_code == 2 and "already exist" in result.output
    # a smaller set replaces the loaded one: nothing of the old set stays
    write_rows(smoke_repo, "smoke/products", dataset_rows(smoke_repo, "smoke/products")[:3])
    result = tdm("load", "smoke/products", "--into", pg.url, "--replace", "--repo", smoke_repo)
    assert result.exit_code == 2 and "other tables depend on it" in result.output
    assert pg.query("SELECT count(*) FROM products") == [(100,)]
    for name in SAMPLE_TABLES:
        write_rows(smoke_repo, f"smoke/{name}", [])
    write_rows(smoke_repo, "smoke/products", dataset_rows(smoke_repo, "smoke/products") or [])
    result = tdm("load", "smoke", "--into", pg.url, "--replace", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    for name in SAMPLE_TABLES:
        assert pg.query(f"SELECT count(*) FROM {name}") == [(0,)]


def test_append_adds_rows(pg: Db, tmp_path: Path) -> None:
    root = things_repo(tmp_path / "r", [thing(i) for i in range(1, 4)])
    assert tdm("load", "t", "--into", pg.url, "--repo", root).exit_code == 0
    write_rows(root, "t/things", [thing(i) for i in range(4, 7)])
    assert tdm("load", "t", "--into", pg.url, "--append", "--repo", root).exit_code == 0
    assert pg.query("SELECT id FROM things ORDER BY id") == [(i,) for i in range(1, 7)]


def test_dry_run_touches_nothing(pg: Db, smoke_repo: Path) -> None:
    result = tdm("load", "smoke", "--into", pg.url, "--dry-run", "--repo", smoke_repo)
    assert result.exit_code == 0, result.output
    assert "would load" in result.output and "order_items" in result.output
    assert pg.tables() == []


# ---------------------------------------------------------------- connections and credentials


def test_unreachable_database_is_exit_2(pg: Db, smoke_repo: Path) -> None:
    url = f"postgresql://tdm@127.0.0.1:{pgcluster._free_port()}/{pg.name}"
    result = tdm("load", "smoke", "--into", url, "--repo", smoke_repo)
    assert result.exit_code == 2
    assert "cannot connect to PostgreSQL" in result.output and "Connection refused" in result.output


def test_wrong_credentials_never_show_the_password(
    pg: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"qa_{pg.name}"  # roles belong to the cluster: one per test
    pg.query(f"CREATE ROLE {role} LOGIN PASSWORD 'right-pw-123'")
    pg.query(f'GRANT ALL ON DATABASE "{pg.name}" TO {role}')
    pg.query(f"GRANT ALL ON SCHEMA public TO {role}")
    root = things_repo(tmp_path / "r")
    url = pg.cluster.url(pg.name, user=role)
    monkeypatch.setenv("PGPASSWORD", "wrong-pw-456")
    result = tdm("load", "t", "--into", url, "--repo", root)
    assert result.exit_code == 2
    assert "refused the login" in result.output and f'user "{role}"' in result.output
    assert "wrong-pw-456" not in result.output

    # an environment's password_env: the right one loads, a wrong one is refused unseen
    monkeypatch.delenv("PGPASSWORD")
    (root / "tdm.yaml").write_text(
        "name: r\nenvironments:\n  staging:\n    branch: env/staging\n"
        f"    database: {{url: '{url}', password_env: STAGING_DB_PASSWORD}}\n"
    )
    assert tdm("commit", "-m", "data", "--no-verify", "--repo", root).exit_code == 0
    assert tdm("env", "create", "staging", "--from", "HEAD", "--repo", root).exit_code == 0
    result = tdm("load", "--env", "staging", "--repo", root)
    assert result.exit_code == 2 and "STAGING_DB_PASSWORD" in result.output
    monkeypatch.setenv("STAGING_DB_PASSWORD", "not-it-789")
    result = tdm("load", "--env", "staging", "--repo", root)
    assert result.exit_code == 2 and "not-it-789" not in result.output
    monkeypatch.setenv("STAGING_DB_PASSWORD", "right-pw-123")
    result = tdm("load", "--env", "staging", "--repo", root)
    assert result.exit_code == 0, result.output
    assert "right-pw-123" not in result.output
    assert pg.query("SELECT count(*) FROM things") == [(20,)]
    for path in root.rglob("*"):  # neither the repository nor its git objects hold it
        assert not path.is_file() or b"right-pw-123" not in path.read_bytes()


def test_a_missing_database_is_exit_2(pg: Db, smoke_repo: Path) -> None:
    result = tdm("load", "smoke", "--into", pg.cluster.url("no_such_db"), "--repo", smoke_repo)
    assert result.exit_code == 2 and 'database "no_such_db" does not exist' in result.output


# ---------------------------------------------------------------- SQL export into psql


def test_sql_export_loads_into_psql(pg: Db, smoke_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "smoke.sql"
    result = tdm(
        "export",
        "smoke",
        "--format",
        "sql",
        "--dialect",
        "postgresql",
        "--db-schema",
        "qa",
        "-o",
        out,
        "--repo",
        smoke_repo,
    )
    assert result.exit_code == 0, result.output
    run = pg.cluster.psql(pg.name, "-f", str(out))
    assert run.returncode == 0, run.stderr
    _assert_sample_loaded(pg, smoke_repo, schema="qa")


def test_csv_export_loads_with_psql_copy(pg: Db, tmp_path: Path) -> None:
    rows = [thing(i) for i in range(1, 10)] + [thing(10, note="", name='q"uo,te\r\nx')]
    root = things_repo(tmp_path / "r", rows)
    sql = tmp_path / "ddl.sql"
    assert (
        tdm(
            "export", "t", "--format", "sql", "--dialect", "postgresql", "-o", sql, "--repo", root
        ).exit_code
        == 0
    )
    ddl = sql.read_text().split("INSERT INTO")[0] + "COMMIT;\n"
    assert pg.cluster.psql(pg.name, "-c", ddl).returncode == 0
    csv_file = tmp_path / "things.csv"
    assert tdm("export", "t/things", "-o", csv_file, "--repo", root).exit_code == 0
    run = pg.cluster.psql(
        pg.name, "-c", f"\\copy things from '{csv_file}' with (format csv, header)"
    )
    assert run.returncode == 0, run.stderr
    cols = schema_columns(root, "things")
    assert_same_rows(_select(pg, "things", [c.name for c in cols], "id"), rows, cols, "postgresql")


def test_sql_export_with_a_reference_to_a_later_batch_loads_into_psql(
    pg: Db, tmp_path: Path
) -> None:
    root = family_repo(tmp_path / "r", people=700, pets=5)
    out = tmp_path / "fam.sql"
    args = ("export", "fam", "--format", "sql", "--dialect", "postgresql", "-o", out)
    assert tdm(*args, "--repo", root).exit_code == 0
    run = pg.cluster.psql(pg.name, "-f", str(out))
    assert run.returncode == 0, run.stderr
    assert pg.query("SELECT mentor_id FROM people WHERE id = 1") == [(700,)]

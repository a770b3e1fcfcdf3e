"""`tdm validate`: rows against schemas, keys, references, tdm.lock, and the files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import SMOKE_DATASETS, dataset, snapshot, tdm, write_file

from tdm import validate as validate_mod
from tdm.project import Project

CUSTOMERS = "datasets/smoke/customers.jsonl"


def _edit_line(path: Path, line: int, edit: Any) -> None:
    """Replace 1-based ``line`` of a JSONL file: ``edit`` is a dict update or raw text."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if isinstance(edit, str):
        lines[line - 1] = edit
    else:
        row = json.loads(lines[line - 1])
        row.update(edit)
        lines[line - 1] = json.dumps(row, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _validate_json(root: Path) -> tuple[int, dict[str, Any]]:
    result = tdm("validate", "--json", "--repo", root)
    return result.exit_code, json.loads(result.stdout)


def _kinds(report: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(f["kind"], f["path"], f["line"]) for f in report["findings"]]


def test_fresh_sample_is_valid(smoke_repo: Path) -> None:
    before = snapshot(smoke_repo)

    result = tdm("validate", "--repo", smoke_repo)

    assert result.exit_code == 0, result.output
    assert "ok: 6 dataset(s), 2,350 rows valid" in result.output
    assert snapshot(smoke_repo) == before


def test_json_report_of_a_valid_repository(smoke_repo: Path) -> None:
    code, report = _validate_json(smoke_repo)

    assert code == 0
    assert set(report) >= {"ok", "findings", "omitted", "datasets"}
    assert report["ok"] is True
    assert report["findings"] == []
    assert report["omitted"] == {}
    by_path = {d["path"]: d for d in report["datasets"]}
    assert set(by_path) == {f"datasets/smoke/{n}.jsonl" for n in SMOKE_DATASETS}
    documented = {"path": CUSTOMERS, "schema": "customers", "rows": 200, "findings": 0}
    assert by_path[CUSTOMERS].items() >= documented.items()


def test_a_broken_row_is_reported_with_file_line_and_json_path(smoke_repo: Path) -> None:
    _edit_line(dataset(smoke_repo, "smoke", "customers"), 3, {"loyalty_points": "lots"})

    result = tdm("validate", "--repo", smoke_repo)

    assert result.exit_code == 1
    assert f"{CUSTOMERS}:3:" in result.output
    assert "/loyalty_points" in result.output
    assert f"{CUSTOMERS}: content does not match tdm.lock" in result.output
    assert "2 finding(s)" in result.output

    code, report = _validate_json(smoke_repo)
    assert code == 1
    assert report["ok"] is False
    row = [f for f in report["findings"] if f["kind"] == "row"]
    assert len(row) == 1
    assert row[0]["path"] == CUSTOMERS
    assert row[0]["line"] == 3
    assert row[0]["pointer"] == "/loyalty_points"
    # customers.id of the broken row still counts: no dangling references downstream
    assert not [f for f in report["findings"] if f["kind"] == "foreign_key"]


def test_invalid_json_line(smoke_repo: Path) -> None:
    _edit_line(dataset(smoke_repo, "smoke", "products"), 7, '{"sku": "SKU-000007", oops')

    code, report = _validate_json(smoke_repo)

    assert code == 1
    row = [f for f in report["findings"] if f["kind"] == "row"]
    assert [(f["path"], f["line"]) for f in row] == [("datasets/smoke/products.jsonl", 7)]
    assert "not valid JSON" in row[0]["message"]


def test_duplicate_primary_key(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    first = path.read_text(encoding="utf-8").splitlines()[0]
    _edit_line(path, 5, first)

    code, report = _validate_json(smoke_repo)

    assert code == 1
    pk = [f for f in report["findings"] if f["kind"] == "primary_key"]
    assert [(f["path"], f["line"], f["pointer"]) for f in pk] == [(CUSTOMERS, 5, "/id")]
    assert "duplicate primary key id=1" in pk[0]["message"]


def test_dangling_foreign_key(smoke_repo: Path) -> None:
    _edit_line(dataset(smoke_repo, "smoke", "orders"), 2, {"customer_id": 999999})

    result = tdm("validate", "--repo", smoke_repo)
    code, report = _validate_json(smoke_repo)

    assert result.exit_code == code == 1
    fk = [f for f in report["findings"] if f["kind"] == "foreign_key"]
    assert [(f["path"], f["line"], f["pointer"]) for f in fk] == [
        ("datasets/smoke/orders.jsonl", 2, "/customer_id")
    ]
    assert "999999" in fk[0]["message"]
    assert "datasets/smoke/orders.jsonl:2:" in result.output


def test_dangling_string_foreign_key(smoke_repo: Path) -> None:
    _edit_line(dataset(smoke_repo, "smoke", "order_items"), 10, {"product_sku": "SKU-999999"})

    code, report = _validate_json(smoke_repo)

    assert code == 1
    fk = [f for f in report["findings"] if f["kind"] == "foreign_key"]
    assert [(f["path"], f["line"]) for f in fk] == [("datasets/smoke/order_items.jsonl", 10)]


def test_file_changed_against_the_lock(smoke_repo: Path) -> None:
    # every row still valid, only the order changed
    path = dataset(smoke_repo, "smoke", "products")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0], lines[1] = lines[1], lines[0]
    path.write_text("".join(lines), encoding="utf-8")

    result = tdm("validate", "--repo", smoke_repo)
    code, report = _validate_json(smoke_repo)

    assert result.exit_code == code == 1
    assert _kinds(report) == [("lock", "datasets/smoke/products.jsonl", None)]
    assert "does not match tdm.lock" in result.output


def test_findings_are_capped_per_file(smoke_repo: Path) -> None:
    path = dataset(smoke_repo, "smoke", "customers")
    for line in range(1, 31):
        _edit_line(path, line, {"loyalty_points": -1})

    result = tdm("validate", "--repo", smoke_repo)
    code, report = _validate_json(smoke_repo)

    assert result.exit_code == code == 1
    rows = [f for f in report["findings"] if f["kind"] == "row"]
    assert len(rows) == validate_mod.ROW_FINDINGS_PER_FILE == 20
    assert [f["line"] for f in rows] == list(range(1, 21))
    assert report["omitted"] == {CUSTOMERS: 10}
    assert f"{CUSTOMERS}: ... and 10 more finding(s) not listed" in result.output
    assert "31 finding(s)" in result.output  # 30 rows + the lock
    summary = {d["path"]: d for d in report["datasets"]}[CUSTOMERS]
    assert summary["findings"] == 30


def test_dataset_without_template_or_lock_entry(smoke_repo: Path) -> None:
    write_file(smoke_repo / "datasets" / "smoke" / "stray.jsonl", '{"a": 1}\n')

    code, report = _validate_json(smoke_repo)

    assert code == 1
    assert _kinds(report) == [("dataset", "datasets/smoke/stray.jsonl", None)]


def test_malformed_schema_file_exits_2(smoke_repo: Path) -> None:
    write_file(smoke_repo / "schemas" / "products.yaml", "type: object\nproperties: [\n")

    result = tdm("validate", "--repo", smoke_repo)
    code, report = _validate_json(smoke_repo)

    assert result.exit_code == code == 2
    assert "Traceback" not in result.output
    files = [f for f in report["findings"] if f["kind"] == "file"]
    assert files
    assert files[0]["path"] == "schemas/products.yaml"
    assert files[0]["line"] is not None
    assert "schemas/products.yaml:" in result.output


def test_masking_rule_for_a_missing_field(smoke_repo: Path) -> None:
    path = smoke_repo / "masking" / "customers.yaml"
    write_file(path, path.read_text(encoding="utf-8") + "  nickname: {strategy: redact}\n")

    code, report = _validate_json(smoke_repo)

    assert code == 2
    found = [f for f in report["findings"] if f["path"] == "masking/customers.yaml"]
    assert len(found) == 1
    assert "nickname" in found[0]["message"]
    assert found[0]["line"] == len(path.read_text(encoding="utf-8").splitlines())


def test_masking_rules_for_a_missing_schema(smoke_repo: Path) -> None:
    write_file(
        smoke_repo / "masking" / "ghosts.yaml",
        "schema: ghosts\nrules:\n  name: {strategy: redact}\n",
    )

    code, report = _validate_json(smoke_repo)

    assert code == 2
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("masking/ghosts.yaml", 1)]


def _break_order_items(root: Path) -> Path:
    path = dataset(root, "smoke", "order_items")
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines[0]
    edits: dict[int, Any] = {
        2: {"quantity": 0},
        499: {"quantity": "many"},
        500: "not json",
        777: first,  # duplicate primary key
        998: {"product_sku": "SKU-999999"},
        1000: {"unit_price": -5},
    }
    for line, edit in edits.items():
        _edit_line(path, line, edit)
    return path


def _summary(report: validate_mod.ValidationReport) -> list[tuple[str, str, int | None, str]]:
    return [(f.kind, f.path, f.line, f.message) for f in report.findings]


@pytest.mark.slow
def test_parallel_validation_gives_the_same_findings(
    smoke_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _break_order_items(smoke_repo)
    project = Project.find(smoke_repo)
    serial = validate_mod.validate(project, jobs=1)

    monkeypatch.setattr(validate_mod, "PARALLEL_BYTES", 1024)
    parallel = validate_mod.validate(Project.find(smoke_repo), jobs=2)
    many = validate_mod.validate(Project.find(smoke_repo), jobs=7)

    assert _summary(parallel) == _summary(serial)
    assert _summary(many) == _summary(serial)
    items = "datasets/smoke/order_items.jsonl"
    lines = {(f.kind, f.line) for f in serial.findings if f.path == items}
    assert lines == {
        ("row", 2),
        ("row", 499),
        ("row", 500),
        ("primary_key", 777),
        ("foreign_key", 998),
        ("row", 1000),
        ("lock", None),
    }
    rows = {d.path: d.rows for d in parallel.datasets}
    assert rows[items] == 1000


@pytest.mark.slow
def test_parallel_path_of_the_cli_on_a_large_file(tmp_path: Path) -> None:
    """A file above PARALLEL_BYTES goes through the worker processes of `--jobs 2`."""
    from helpers import one_dataset_project

    schema = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "blob"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "blob": {"type": "string", "minLength": 60, "maxLength": 60, "pattern": "^[a-z]{60}$"},
        },
    }
    count = validate_mod.PARALLEL_BYTES // 70 + 20_000
    root = one_dataset_project(tmp_path / "big", schema, count)
    assert tdm("generate", "--repo", root).exit_code == 0
    path = dataset(root, "t", "s")
    assert path.stat().st_size >= validate_mod.PARALLEL_BYTES
    # break two rows far apart, in different parts of the file
    with path.open("r+b") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    lines[10] = b'{"id": "x"}'
    lines[count - 5] = b"garbage"
    path.write_bytes(b"\n".join(lines))

    one = tdm("validate", "--jobs", "1", "--json", "--repo", root)
    two = tdm("validate", "--jobs", "2", "--json", "--repo", root)

    assert one.exit_code == two.exit_code == 1
    assert json.loads(one.stdout) == json.loads(two.stdout)
    found = {(f["kind"], f["line"]) for f in json.loads(two.stdout)["findings"]}
    assert ("row", 11) in found
    assert ("row", count - 4) in found

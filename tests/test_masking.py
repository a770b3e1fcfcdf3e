"""tdm mask: every strategy, keys, the command (JSONL and CSV in, validated JSONL out,
provenance in tdm.lock), joins, validate's masking check, determinism and scan-safety.

Inputs are realistic "production" extracts built here (the sample's smoke customers
with real-looking mailboxes and phone numbers, payments with Luhn-valid cards and
public IP addresses); everything runs against real tdm repositories and real git.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import pickle
import random
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from helpers import (
    git,
    init_repo,
    invalid_rows,
    load_schema,
    make_project,
    read_lock,
    read_rows,
    sha256_file,
    snapshot,
    tdm,
    tdm_subprocess,
    tmp_leftovers,
    write_file,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tdm import catalogue, maskrun
from tdm._version import __version__
from tdm.errors import UserError
from tdm.masking import Masking, MaskingKey
from tdm.models import MaskingRules
from tdm.project import Project
from tdm.scan import scan_bytes

KEY = "prod-masking-key-7f3a9c2e51d04b8e"
OTHER_KEY = "another-masking-key-0b1c2d3e4f5a"

OUT = "datasets/prod-sample/customers.jsonl"
SAMPLE_RULES = "masking/customers.yaml"
EMAIL_FAKE = re.compile(r"^[a-z]+\.[a-z]+\.[0-9a-f]{10}@example\.org$")
US_FICTIONAL_PHONE = re.compile(r"^\+1-\d{3}-555-01\d{2}$")
DOC_V4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
UNMASKED = ("id", "signup_at", "country", "tier", "marketing_opt_in", "referrer_id")
CUSTOMER_COLUMNS = [
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "signup_at",
    "country",
    "tier",
    "marketing_opt_in",
    "loyalty_points",
    "referrer_id",
]


# ---------------------------------------------------------------- building inputs


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TDM_MASKING_KEY", KEY)
    return KEY


def prod_customers(root: Path) -> list[dict[str, Any]]:
    """The sample's smoke customers as a production extract: gmail.com mailboxes and
    real-looking US numbers (never the 555-01xx fiction range)."""
    out = []
    for row in read_rows(root / "datasets" / "smoke" / "customers.jsonl"):
        i = row["id"]
        first = re.sub(r"[^a-z]", "", row["first_name"].lower())
        last = re.sub(r"[^a-z]", "", row["last_name"].lower())
        out.append(
            {
                **row,
                "email": f"{first}.{last}{i}@gmail.com",
                "phone": f"+1 415-{200 + i:03d}-{(i * 7919) % 10000:04d}",
                "referrer_id": row.get("referrer_id"),  # present on every row (CSV has no "absent")
            }
        )
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def write_csv(
    path: Path, rows: list[dict[str, Any]], columns: list[str], *, bom: bool = False
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(c)) for c in columns])
    return path


@pytest.fixture
def prod(sample_repo: Path, tmp_path: Path) -> Path:
    """The production extract of customers, outside the repository."""
    return write_jsonl(tmp_path / "exports" / "prod_customers.jsonl", prod_customers(sample_repo))


def mask_cli(
    root: Path, source: Path, rules: str = "customers", out: str = OUT, *extra: Any
) -> Any:
    return tdm("mask", source, "-r", rules, "-o", root / out, "--repo", root, *extra)


def assert_refused(result: Any, code: int, *texts: str) -> None:
    """A clean error: the exit code, `tdm: error:` on stderr, no traceback, the texts."""
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("tdm: error: "), result.stderr
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    for text in texts:
        assert text in result.stderr, f"{text!r} not in {result.stderr!r}"


def schema_of(props: dict[str, Any], pk: str = "id") -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "x-tdm": {"primary_key": pk},
        "required": [pk],
        "additionalProperties": False,
        "properties": props if pk in props else {pk: {"type": "integer"}, **props},
    }


def custom_project(
    root: Path, schemas: dict[str, dict[str, Any]], rules: dict[str, dict[str, Any]]
) -> Path:
    """A repository with the given schemas and one masking file per schema (same name)."""
    return make_project(
        root, schemas, {}, {name: {"schema": name, "rules": r} for name, r in rules.items()}
    )


def mask_people(
    tmp_path: Path,
    props: dict[str, Any],
    rules: dict[str, Any],
    rows: list[dict[str, Any]],
    *extra: Any,
) -> list[dict[str, Any]]:
    """Mask ``rows`` with ``rules`` over a schema ``people`` of ``props`` (plus id)."""
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, **props})},
        {"people": rules},
    )
    source = write_jsonl(tmp_path / "exports" / "people.jsonl", rows)
    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl", *extra)
    assert result.exit_code == 0, result.output
    return read_rows(root / "datasets" / "prod" / "people.jsonl")


def days_between(after: str, before: str) -> int:
    return (dt.date.fromisoformat(after[:10]) - dt.date.fromisoformat(before[:10])).days


def luhn_complete(prefix: str) -> str:
    """``prefix`` plus the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return prefix + str((10 - total % 10) % 10)


def detectors(data: bytes) -> set[str]:
    found, _ = scan_bytes(data, "x")
    return {f.detector for f in found}


# ---------------------------------------------------------------- the command, end to end


def test_sample_customers_are_masked_validated_and_in_key_order(
    sample_repo: Path, prod: Path, key: str
) -> None:
    source = prod_customers(sample_repo)

    result = mask_cli(sample_repo, prod)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"masked 200 rows with {SAMPLE_RULES} -> {OUT}\n"
    assert result.stderr == ""
    rows = read_rows(sample_repo / OUT)
    assert [r["id"] for r in rows] == list(range(1, 201))
    schema = load_schema(sample_repo / "schemas" / "customers.yaml")
    assert invalid_rows(schema, rows) == []
    firsts = set(catalogue.faker_pool("en_US", "first_name"))
    lasts = set(catalogue.faker_pool("en_US", "last_name"))
    by_id = {r["id"]: r for r in source}
    for row in rows:
        src = by_id[row["id"]]
        assert {f: row[f] for f in UNMASKED} == {f: src[f] for f in UNMASKED}
        assert EMAIL_FAKE.match(row["email"]), row["email"]
        assert row["first_name"] in firsts
        assert row["last_name"] in lasts
        # partial, keep_last 4: every other letter or digit hidden, separators kept
        assert row["phone"] == re.sub(r"[A-Za-z0-9]", "*", src["phone"][:-4]) + src["phone"][-4:]
        assert 1 <= abs(days_between(row["birth_date"], src["birth_date"])) <= 30
        assert isinstance(row["loyalty_points"], int)
        assert 0 <= row["loyalty_points"] <= 50_000
        assert (
            abs(row["loyalty_points"] - src["loyalty_points"]) <= 0.05 * src["loyalty_points"] + 0.5
        )
    assert len({r["email"] for r in rows}) == 200
    assert sum(r["loyalty_points"] != by_id[r["id"]]["loyalty_points"] for r in rows) > 180
    assert tmp_leftovers(sample_repo) == []


def test_tdm_lock_records_the_source_and_rules_never_the_key(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    secret_dir = tmp_path / "exports-from-prod-db-7"
    source = write_jsonl(secret_dir / "prod_customers.jsonl", prod_customers(sample_repo))
    before = read_lock(sample_repo)["datasets"]

    result = mask_cli(sample_repo, source, "customers", OUT, "--json")

    assert result.exit_code == 0, result.output
    out_sha = sha256_file(sample_repo / OUT)
    assert json.loads(result.stdout) == {
        "dataset": "prod-sample/customers",
        "path": OUT,
        "rows": 200,
        "sha256": out_sha,
        "rules": SAMPLE_RULES,
        "warnings": [],
    }
    lock = read_lock(sample_repo)
    assert lock["datasets"]["prod-sample/customers"] == {
        "schema": "customers",
        "template": "prod-sample",
        "rows": 200,
        "sha256": out_sha,
        "tdm_version": __version__,
        "masked": {
            "source": "prod_customers.jsonl",
            "source_sha256": sha256_file(source),
            "rules": SAMPLE_RULES,
            "rules_sha256": sha256_file(sample_repo / SAMPLE_RULES),
            "allowed_unmasked": [],
        },
    }
    assert {k: v for k, v in lock["datasets"].items() if k != "prod-sample/customers"} == before
    text = (sample_repo / "tdm.lock").read_text()
    assert KEY not in text
    assert "exports-from-prod-db-7" not in text  # the file name only, never where it lives
    assert tdm("validate", "--repo", sample_repo).exit_code == 0


def test_documented_example_runs_from_inside_the_repository(
    sample_repo: Path, prod: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    expected = (sample_repo / OUT).read_bytes()
    (sample_repo / OUT).unlink()
    monkeypatch.chdir(sample_repo)

    result = tdm("mask", prod, "-r", SAMPLE_RULES, "-o", OUT)

    assert result.exit_code == 0, result.output
    assert (sample_repo / OUT).read_bytes() == expected


def test_output_is_in_primary_key_order_whatever_the_input_order(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = prod_customers(sample_repo)
    in_order = write_jsonl(tmp_path / "a" / "prod_customers.jsonl", rows)
    shuffled = rows[::-1]
    random.Random(5).shuffle(shuffled)
    out_of_order = write_jsonl(tmp_path / "b" / "prod_customers.jsonl", shuffled)

    assert mask_cli(sample_repo, in_order, "customers", "datasets/a/customers.jsonl").exit_code == 0
    assert (
        mask_cli(sample_repo, out_of_order, "customers", "datasets/b/customers.jsonl").exit_code
        == 0
    )

    first = (sample_repo / "datasets/a/customers.jsonl").read_bytes()
    assert (sample_repo / "datasets/b/customers.jsonl").read_bytes() == first


def test_string_primary_keys_are_sorted_in_the_output(tmp_path: Path, key: str) -> None:
    props = {"code": {"type": "string"}, "note": {"type": "string"}}
    root = custom_project(
        tmp_path / "repo",
        {"codes": schema_of(props, pk="code")},
        {"codes": {"note": {"strategy": "redact"}}},
    )
    codes = ["b-2", "B-1", "a-10", "a-9", "Z"]
    source = write_jsonl(tmp_path / "codes.jsonl", [{"code": c, "note": "x"} for c in codes])

    assert mask_cli(root, source, "codes", "datasets/prod/codes.jsonl").exit_code == 0

    assert [r["code"] for r in read_rows(root / "datasets/prod/codes.jsonl")] == sorted(codes)


def test_input_inside_the_repository_is_masked_with_a_warning(sample_repo: Path, key: str) -> None:
    inside = write_jsonl(sample_repo / "prod_customers.jsonl", prod_customers(sample_repo))

    result = mask_cli(sample_repo, inside)

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"tdm: warning: {inside} holds unmasked records inside the repository and is not "
        "ignored by git; move it out (or add it to .gitignore) so it is never committed\n"
    )

    with (sample_repo / ".gitignore").open("a") as fh:
        fh.write("prod_customers.jsonl\n")
    result = mask_cli(sample_repo, inside)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


# ---------------------------------------------------------------- CSV input


def test_csv_input_typed_by_the_schema_gives_the_same_dataset_as_jsonl(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = prod_customers(sample_repo)
    as_jsonl = write_jsonl(tmp_path / "prod_customers.jsonl", rows)
    as_csv = write_csv(tmp_path / "prod_customers.csv", rows, CUSTOMER_COLUMNS, bom=True)

    assert (
        mask_cli(
            sample_repo, as_jsonl, "customers", "datasets/from-jsonl/customers.jsonl"
        ).exit_code
        == 0
    )
    result = mask_cli(sample_repo, as_csv, "customers", "datasets/from-csv/customers.jsonl")

    assert result.exit_code == 0, result.output
    from_csv = (sample_repo / "datasets/from-csv/customers.jsonl").read_bytes()
    assert from_csv == (sample_repo / "datasets/from-jsonl/customers.jsonl").read_bytes()
    row = read_rows(sample_repo / "datasets/from-csv/customers.jsonl")[1]
    assert type(row["id"]) is int and type(row["loyalty_points"]) is int
    assert type(row["marketing_opt_in"]) is bool
    masked = read_lock(sample_repo)["datasets"]["from-csv/customers"]["masked"]
    assert (masked["source"], masked["source_sha256"]) == (
        "prod_customers.csv",
        sha256_file(as_csv),
    )


def test_csv_cells_follow_the_schema_types(tmp_path: Path, key: str) -> None:
    props = {
        "zip": {"type": "string"},
        "active": {"type": "boolean"},
        "visits": {"type": "integer"},
        "ratio": {"type": "number"},
        "note": {"type": ["string", "null"]},
        "label": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object"},
    }
    root = custom_project(tmp_path / "repo", {"things": schema_of(props)}, {"things": {}})
    source = tmp_path / "things.csv"
    source.write_text(
        "id,zip,active,visits,ratio,note,label,tags,extra\n"
        '1,02134,yes,7,0.25,,,"[""a"",""b""]","{""k"": 1}"\n'
        "2,10001,FALSE,0,3,hello,x,[],{}\n"
        "3,00501,1,12,1e3,,y\n",  # a short row: the missing cells are absent
        encoding="utf-8",
    )

    result = mask_cli(root, source, "things", "datasets/prod/things.jsonl")

    assert result.exit_code == 0, result.output
    assert (root / "datasets/prod/things.jsonl").read_text() == (
        '{"id":1,"zip":"02134","active":true,"visits":7,"ratio":0.25,"note":null,"label":"",'
        '"tags":["a","b"],"extra":{"k":1}}\n'
        '{"id":2,"zip":"10001","active":false,"visits":0,"ratio":3,"note":"hello","label":"x",'
        '"tags":[],"extra":{}}\n'
        '{"id":3,"zip":"00501","active":true,"visits":12,"ratio":1000.0,"note":null,"label":"y"}\n'
    )


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("lots", "column loyalty_points: expected an integer"),
        ("12.5", "column loyalty_points: expected an integer"),
    ],
)
def test_a_csv_cell_of_the_wrong_type_is_an_error_naming_line_and_column(
    sample_repo: Path, tmp_path: Path, key: str, prod: Path, cell: str, message: str
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    rows = prod_customers(sample_repo)
    rows[2]["loyalty_points"] = cell
    source = write_csv(tmp_path / "prod_customers.csv", rows, CUSTOMER_COLUMNS)
    before = snapshot(sample_repo)

    result = mask_cli(sample_repo, source)

    assert_refused(result, 2, f"prod_customers.csv:4: {message}")
    assert cell not in result.stderr.replace(str(source), "")
    assert snapshot(sample_repo) == before
    assert tmp_leftovers(sample_repo) == []


def test_csv_with_more_cells_than_columns_is_an_error(tmp_path: Path, key: str) -> None:
    root = custom_project(
        tmp_path / "repo",
        {"t": schema_of({"v": {"type": "string"}})},
        {"t": {"v": {"strategy": "redact"}}},
    )
    source = tmp_path / "t.csv"
    source.write_text("id,v\n1,a\n2,b,c\n")

    result = mask_cli(root, source, "t", "datasets/prod/t.jsonl")

    assert_refused(result, 2, "t.csv:3: a row has more cells than the header has columns")
    assert not (root / "datasets" / "prod").exists()


@pytest.mark.parametrize("cell", ["NaN", "inf"])
def test_a_csv_number_that_json_cannot_hold_is_refused_not_nulled(
    tmp_path: Path, key: str, cell: str
) -> None:
    props = {"score": {"type": ["number", "null"]}}
    root = custom_project(tmp_path / "repo", {"t": schema_of(props)}, {"t": {}})
    source = tmp_path / "t.csv"
    source.write_text(f"id,score\n1,1.5\n2,{cell}\n")

    result = mask_cli(root, source, "t", "datasets/prod/t.jsonl")

    assert_refused(result, 2, "t.csv:3: column score: expected a number")
    assert not (root / "datasets" / "prod" / "t.jsonl").exists()


def test_csv_cells_of_a_ref_object_property_are_parsed(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = read_rows(sample_repo / "datasets" / "smoke" / "addresses.jsonl")[:20]
    for row in rows:
        row.pop("line2", None)
    columns = [
        c
        for c in load_schema(sample_repo / "schemas" / "addresses.yaml")["properties"]
        if c != "line2"
    ]
    source = write_csv(tmp_path / "prod_addresses.csv", rows, columns)

    result = mask_cli(sample_repo, source, "addresses", "datasets/prod-sample/addresses.jsonl")

    assert result.exit_code == 0, result.output
    masked = read_rows(sample_repo / "datasets/prod-sample/addresses.jsonl")
    assert [r["geo"] for r in masked] == [r["geo"] for r in rows]


# ---------------------------------------------------------------- strategies


def test_redact_replaces_values_with_a_fixed_token_and_keeps_nulls(
    tmp_path: Path, key: str
) -> None:
    props = {"note": {"type": ["string", "null"]}, "memo": {"type": "string"}}
    rules = {"note": {"strategy": "redact"}, "memo": {"strategy": "redact", "token": "<gone>"}}
    rows = [
        {"id": 1, "note": "call Ann on +1 415 867 5309", "memo": "VIP"},
        {"id": 2, "note": None, "memo": ""},
        {"id": 3, "memo": "x"},
    ]

    out = mask_people(tmp_path, props, rules, rows)

    assert out == [
        {"id": 1, "note": "[REDACTED]", "memo": "<gone>"},
        {"id": 2, "note": None, "memo": "<gone>"},
        {"id": 3, "memo": "<gone>"},  # an absent field stays absent
    ]


def test_nullify_and_constant(tmp_path: Path, key: str) -> None:
    props = {
        "secret": {"type": ["string", "null"]},
        "region": {"type": "string"},
        "n": {"type": "integer"},
    }
    rules = {
        "secret": {"strategy": "nullify"},
        "region": {"strategy": "constant", "value": "EU"},
        "n": {"strategy": "constant", "value": 0},
    }
    rows = [
        {"id": 1, "secret": "s3cr3t", "region": "Bavaria", "n": 17},
        {"id": 2, "secret": None, "region": "Ile-de-France", "n": -3},
    ]

    out = mask_people(tmp_path, props, rules, rows)

    assert out == [
        {"id": 1, "secret": None, "region": "EU", "n": 0},
        {"id": 2, "secret": None, "region": "EU", "n": 0},
    ]


def test_hash_is_hex_hmac_sha256_under_the_key_with_an_optional_length(
    tmp_path: Path, key: str
) -> None:
    props = {
        "token": {"type": ["string", "null"]},
        "short": {"type": "string"},
        "ref": {"type": "string"},
    }
    rules = {
        "token": {"strategy": "hash"},
        "short": {"strategy": "hash", "length": 16},
        "ref": {"strategy": "hash"},
    }
    rows = [
        {"id": 1, "token": "acct-0001", "short": "acct-0001", "ref": 1001},
        {"id": 2, "token": "acct-0002", "short": "acct-0002", "ref": 1002},
        {"id": 3, "token": "acct-0001", "short": "acct-0001", "ref": 1001},
        {"id": 4, "token": None, "short": "x", "ref": 7},
    ]

    out = mask_people(tmp_path, props, rules, rows)

    # HMAC-SHA256 of the value's canonical JSON under the key's sub-key for "hash"
    sub = hmac.digest(KEY.encode(), b"tdm-mask/v1/hash", "sha256")

    def expected(value: Any) -> str:
        return hmac.new(sub, orjson.dumps(value), hashlib.sha256).hexdigest()

    for src, got in zip(rows, out, strict=True):
        if src["token"] is None:
            assert got["token"] is None
        else:
            assert got["token"] == expected(src["token"])
            assert re.fullmatch(r"[0-9a-f]{64}", got["token"])
            assert got["token"] != hashlib.sha256(src["token"].encode()).hexdigest()
        assert got["short"] == expected(src["short"])[:16]
        assert got["ref"] == expected(src["ref"])  # integers too: b"1001"
    assert out[0]["token"] == out[2]["token"] != out[1]["token"]


FAKE_PROPS: dict[str, Any] = {
    "email": {"type": "string", "format": "email"},
    "full_name": {"type": "string"},
    "phone": {"type": "string"},
    "city": {"type": "string"},
    "given": {"type": "string"},
    "ip": {"type": "string", "format": "ipv4"},
    "ip6": {"type": "string", "format": "ipv6"},
    "device": {"type": "string", "format": "uuid"},
    "host": {"type": "string", "format": "hostname"},
    "card_number": {"type": "string"},
}
FAKE_RULES: dict[str, Any] = {
    **{f: {"strategy": "fake"} for f in FAKE_PROPS},
    "given": {"strategy": "fake", "generator": "first_name"},
}


def fake_input(n: int = 40) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        rows.append(
            {
                "id": i,
                "email": f"person{i}@gmail.com",
                "full_name": f"Person Number{i}",
                "phone": f"+1 312-{300 + i}-{1000 + i * 37}",
                "city": ["Chicago", "Boston", "Denver"][i % 3],
                "given": ["Ann", "Bob", "Cyd", "Dee"][i % 4],
                "ip": f"81.2.{i}.{100 + i}",
                "ip6": f"2a00:1450:4001:82{i % 10}::{i:x}",
                "device": str(uuid.UUID(int=i * 7_919_777)),
                "host": f"laptop-{i}.corp.acme.io",
                "card_number": luhn_complete(f"453914880343{i:03d}"),
            }
        )
    # rows 1 and 2 are the same person: the same mailbox written differently
    rows[1].update({k: rows[0][k] for k in FAKE_PROPS if k != "email"})
    rows[1]["email"] = "  Person1@GMAIL.com"
    return rows


def test_fake_values_are_of_the_fields_kind_and_consistent(tmp_path: Path, key: str) -> None:
    rows = fake_input()

    out = mask_people(tmp_path, FAKE_PROPS, FAKE_RULES, rows)

    cities = set(catalogue.faker_pool("en_US", "city"))
    firsts = set(catalogue.faker_pool("en_US", "first_name"))
    for src, got in zip(rows, out, strict=True):
        assert all(got[f] != src[f] for f in FAKE_PROPS), got
        assert EMAIL_FAKE.match(got["email"]), got["email"]
        assert re.fullmatch(r"\S+ \S+", got["full_name"]), got["full_name"]
        assert US_FICTIONAL_PHONE.match(got["phone"]), got["phone"]
        assert got["city"] in cities
        assert got["given"] in firsts
        assert any(ipaddress.ip_address(got["ip"]) in net for net in DOC_V4)
        assert ipaddress.ip_address(got["ip6"]) in ipaddress.ip_network("2001:db8::/32")
        assert uuid.UUID(got["device"]).version == 4
        assert re.fullmatch(r"host-[0-9a-f]{12}\.example\.org", got["host"])
        assert got["card_number"] in catalogue.TEST_CARD_NUMBERS
    # the same input gives the same fake (e-mail addresses compared without case/space)
    assert out[0] == {**out[1], "id": 1}
    # a repeated city or first name is always replaced by the same fake
    for field in ("city", "given"):
        pairs = {(s[field], g[field]) for s, g in zip(rows, out, strict=True)}
        assert len(pairs) == len({s[field] for s in rows})
    assert len({r["email"] for r in out}) == len(rows) - 1


def test_fake_values_are_the_same_in_every_dataset_and_run(tmp_path: Path, key: str) -> None:
    rows = fake_input()
    first = mask_people(tmp_path / "one", FAKE_PROPS, FAKE_RULES, rows)
    # another repository, another schema and rules file, another order of the rows
    renamed = [
        {"id": r["id"] + 1000, "contact": r["email"], "who": r["full_name"]} for r in rows[::-1]
    ]
    root = custom_project(
        tmp_path / "two",
        {
            "leads": schema_of(
                {
                    "id": {"type": "integer"},
                    "contact": {"type": "string"},
                    "who": {"type": "string"},
                }
            )
        },
        {
            "leads": {
                "contact": {"strategy": "fake", "generator": "email"},
                "who": {"strategy": "fake", "generator": "name"},
            }
        },
    )
    source = write_jsonl(tmp_path / "leads.jsonl", renamed)
    assert mask_cli(root, source, "leads", "datasets/prod/leads.jsonl").exit_code == 0

    second = {r["id"] - 1000: r for r in read_rows(root / "datasets/prod/leads.jsonl")}
    for row in first:
        assert second[row["id"]]["contact"] == row["email"]
        assert second[row["id"]]["who"] == row["full_name"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"strategy": "fake"},
            "masking/people.yaml: rule for nickname: cannot tell what kind of fake value to make; "
            "add `generator:` to the rule, e.g. {strategy: fake, generator: email}",
        ),
        (
            {"strategy": "fake", "generator": "spaceship"},
            "masking/people.yaml: rule for nickname: fake cannot make 'spaceship' values; use one of ",
        ),
    ],
)
def test_fake_without_a_kind_it_can_make_is_a_clear_error(
    tmp_path: Path, key: str, rule: dict[str, Any], message: str
) -> None:
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, "nickname": {"type": "string"}})},
        {"people": {"nickname": rule}},
    )
    source = write_jsonl(tmp_path / "people.jsonl", [{"id": 1, "nickname": "Ace"}])

    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl")

    assert_refused(result, 2, message)
    assert not (root / "datasets" / "prod").exists()


def test_partial_keeps_first_and_last_characters_and_separators(tmp_path: Path, key: str) -> None:
    props = {
        "iban": {"type": "string"},
        "phone": {"type": ["string", "null"]},
        "holder": {"type": "string"},
        "pin": {"type": "string"},
    }
    rules = {
        "iban": {"strategy": "partial", "keep_first": 4, "keep_last": 2},
        "phone": {"strategy": "partial", "keep_last": 4},
        "holder": {"strategy": "partial", "keep_first": 1},
        "pin": {"strategy": "partial", "keep_last": 1, "mask_char": "#"},
    }
    rows = [
        {
            "id": 1,
            "iban": "DE89 3704 0044 0532 0130 00",
            "phone": "+1 (415) 867-5309",
            "holder": "Zoë Müller",
            "pin": "1234",
        },
        {
            "id": 2,
            "iban": "GB29NWBK60161331926819",
            "phone": None,
            "holder": "Ann O'Neil",
            "pin": "98-76",
        },
    ]

    out = mask_people(tmp_path, props, rules, rows)

    assert out == [
        {
            "id": 1,
            "iban": "DE89 **** **** **** **** 00",
            "phone": "+* (***) ***-5309",
            "holder": "Z** ******",
            "pin": "###4",
        },
        {
            "id": 2,
            "iban": "GB29****************19",
            "phone": None,
            "holder": "A** *'****",
            "pin": "##-#6",
        },
    ]


def reference_partial(text: str, first: int, last: int, char: str) -> str:
    """partial, character by character: letters and digits hidden but the first ``first``
    and the last ``last`` of them; everything else kept."""
    alnum = [n for n, ch in enumerate(text) if ch.isalnum()]
    shown = set(alnum[:first]) | set(alnum[max(len(alnum) - last, 0) :] if last else [])
    return "".join(ch if n in shown or not ch.isalnum() else char for n, ch in enumerate(text))


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab09Zé٣Ⅷ_-+ ()*#", max_size=12),
    first=st.integers(0, 5),
    last=st.integers(0, 5),
    char=st.sampled_from(["*", "#", "x"]),
)
def test_partial_reveals_exactly_the_first_and_last_letters_or_digits(
    text: str, first: int, last: int, char: str
) -> None:
    rules = MaskingRules.model_validate(
        {
            "schema": "people",
            "rules": {
                "code": {
                    "strategy": "partial",
                    "keep_first": first,
                    "keep_last": last,
                    "mask_char": char,
                }
            },
        }
    )
    schema = schema_of({"code": {"type": "string"}})
    masking = Masking(rules, schema, MaskingKey(KEY.encode()), "en_US", "masking/people.yaml")

    assert masking.mask_row({"id": 1, "code": text}) == {
        "id": 1,
        "code": reference_partial(text, first, last, char),
    }


def test_date_shift_per_entity_keeps_intervals_within_the_entity(tmp_path: Path, key: str) -> None:
    props = {
        "patient_id": {"type": "integer"},
        "admitted": {"type": "string", "format": "date"},
        "discharged": {"type": "string", "format": "date-time"},
        "followup": {"type": ["string", "null"], "format": "date"},
    }
    shift = {"strategy": "date_shift", "max_days": 10, "per": "patient_id"}
    rules = {"admitted": shift, "discharged": shift, "followup": shift}
    rows = []
    start = dt.date(2023, 1, 1)
    for i in range(60):
        day = start + dt.timedelta(days=i * 11)
        rows.append(
            {
                "id": i + 1,
                "patient_id": i % 12 + 1,
                "admitted": day.isoformat(),
                "discharged": f"{day + dt.timedelta(days=i % 5)}T08:{i % 60:02d}:00Z",
                "followup": None if i % 4 == 0 else (day + dt.timedelta(days=30)).isoformat(),
            }
        )

    out = mask_people(tmp_path, props, rules, rows)

    per_patient: dict[int, set[int]] = {}
    for src, got in zip(rows, out, strict=True):
        shifts = {
            days_between(got["admitted"], src["admitted"]),
            days_between(got["discharged"], src["discharged"]),
        }
        if src["followup"] is None:
            assert got["followup"] is None
        else:
            shifts.add(days_between(got["followup"], src["followup"]))
        assert len(shifts) == 1, "all dates of a row move together"
        assert got["discharged"][10:] == src["discharged"][10:]  # time of day and zone kept
        per_patient.setdefault(src["patient_id"], set()).update(shifts)
    assert all(len(s) == 1 for s in per_patient.values()), per_patient
    deltas = [next(iter(s)) for s in per_patient.values()]
    assert all(1 <= abs(d) <= 10 for d in deltas)
    assert len(set(deltas)) > 1, "each patient has a shift of its own"


def test_date_shift_without_per_moves_each_date_within_max_days(tmp_path: Path, key: str) -> None:
    props = {"seen_on": {"type": "string", "format": "date"}}
    rules = {"seen_on": {"strategy": "date_shift", "max_days": 3}}
    days = ["2024-02-29", "2024-03-01", "2024-02-29", "1999-12-31", "2024-03-01", "2000-01-01"]
    rows = [{"id": i + 1, "seen_on": d} for i, d in enumerate(days * 5)]

    out = mask_people(tmp_path, props, rules, rows)

    moved: dict[str, set[str]] = {}
    for src, got in zip(rows, out, strict=True):
        assert 1 <= abs(days_between(got["seen_on"], src["seen_on"])) <= 3
        moved.setdefault(src["seen_on"], set()).add(got["seen_on"])
    assert all(len(v) == 1 for v in moved.values()), "the same date always moves the same way"


def test_noise_is_relative_or_absolute_and_respects_bounds(tmp_path: Path, key: str) -> None:
    props = {
        "salary": {"type": "number", "minimum": 0},
        "score": {"type": "integer", "minimum": 0, "maximum": 100},
    }
    rules = {
        "salary": {"strategy": "noise", "relative": 0.1},
        "score": {"strategy": "noise", "absolute": 5},
    }
    rows = [{"id": i, "salary": 30_000 + 1_000 * i, "score": (i * 7) % 101} for i in range(1, 81)]
    rows += [{"id": 81, "salary": 0, "score": 0}, {"id": 82, "salary": 12.5, "score": 100}]

    out = mask_people(tmp_path, props, rules, rows)

    for src, got in zip(rows, out, strict=True):
        assert abs(got["salary"] - src["salary"]) <= 0.1 * src["salary"] + 1e-6
        assert got["salary"] == round(got["salary"], 6)
        assert type(got["score"]) is int
        assert 0 <= got["score"] <= 100
        assert abs(got["score"] - src["score"]) <= 5
    assert out[80]["salary"] == 0
    assert sum(g["salary"] != s["salary"] for s, g in zip(rows, out, strict=True)) >= 80
    assert sum(g["score"] != s["score"] for s, g in zip(rows, out, strict=True)) >= 50


def test_generalize_dates_to_month_or_year_and_numbers_to_buckets(tmp_path: Path, key: str) -> None:
    props = {
        "born": {"type": "string", "format": "date"},
        "joined": {"type": "string", "format": "date"},
        "last_login": {"type": "string", "format": "date-time"},
        "age": {"type": "integer"},
        "spend": {"type": "number"},
    }
    rules = {
        "born": {"strategy": "generalize", "to": "year"},
        "joined": {"strategy": "generalize", "to": "month"},
        "last_login": {"strategy": "generalize", "to": "month"},
        "age": {"strategy": "generalize", "bucket": 10},
        "spend": {"strategy": "generalize", "bucket": 100},
    }
    rows = [
        {
            "id": 1,
            "born": "1987-06-15",
            "joined": "2021-11-30",
            "last_login": "2023-05-17T13:45:12Z",
            "age": 37,
            "spend": 1234.56,
        },
        {
            "id": 2,
            "born": "2000-01-01",
            "joined": "2024-02-29",
            "last_login": "2023-05-17T13:45:12.5+02:00",
            "age": 40,
            "spend": 99.99,
        },
        {
            "id": 3,
            "born": "1959-12-31",
            "joined": "2020-01-01",
            "last_login": "2024-12-31T23:59:59-05:00",
            "age": 9,
            "spend": 0,
        },
    ]

    out = mask_people(tmp_path, props, rules, rows)

    assert out == [
        {
            "id": 1,
            "born": "1987-01-01",
            "joined": "2021-11-01",
            "last_login": "2023-05-01T00:00:00Z",
            "age": 30,
            "spend": 1200,
        },
        {
            "id": 2,
            "born": "2000-01-01",
            "joined": "2024-02-01",
            "last_login": "2023-05-01T00:00:00+02:00",
            "age": 40,
            "spend": 0,
        },
        {
            "id": 3,
            "born": "1959-01-01",
            "joined": "2020-01-01",
            "last_login": "2024-12-01T00:00:00-05:00",
            "age": 0,
            "spend": 0,
        },
    ]


def test_shuffle_permutes_a_column_and_moves_every_value(tmp_path: Path, key: str) -> None:
    props = {"postcode": {"type": "string", "pattern": "^[0-9]{5}$"}, "city": {"type": "string"}}
    rules = {"postcode": {"strategy": "shuffle"}}
    rows = [
        {"id": i, "postcode": f"{10000 + i * 37:05d}", "city": f"City {i}"} for i in range(1, 31)
    ]

    out = mask_people(tmp_path, props, rules, rows)
    again = mask_people(tmp_path / "reversed", props, rules, rows[::-1])

    assert sorted(r["postcode"] for r in out) == sorted(r["postcode"] for r in rows)
    assert all(g["postcode"] != s["postcode"] for s, g in zip(rows, out, strict=True))
    assert [g["city"] for g in out] == [s["city"] for s in rows]
    assert again == out, "the permutation depends on the key and primary key, not the row order"


def test_shuffle_of_an_optional_column_permutes_only_present_values(
    tmp_path: Path, key: str
) -> None:
    props = {"code": {"type": "string"}}
    rules = {"code": {"strategy": "shuffle"}}
    rows = [{"id": i, **({"code": f"C{i:03d}"} if i % 3 else {})} for i in range(1, 13)]

    out = mask_people(tmp_path, props, rules, rows)

    assert [("code" in r) for r in out] == [("code" in r) for r in rows]
    assert sorted(r["code"] for r in out if "code" in r) == sorted(
        r["code"] for r in rows if "code" in r
    )
    assert all(g.get("code") != s["code"] for s, g in zip(rows, out, strict=True) if "code" in s)


def test_a_shuffled_unique_field_never_ends_up_with_silent_duplicates(
    tmp_path: Path, key: str
) -> None:
    root = custom_project(
        tmp_path / "repo",
        {
            "s": schema_of(
                {"id": {"type": "integer"}, "code": {"type": "string", "x-tdm": {"unique": True}}}
            )
        },
        {"s": {"code": {"strategy": "shuffle"}}},
    )
    rows = [{"id": i, **({"code": f"C{i:03d}"} if i % 3 else {})} for i in range(1, 13)]
    source = write_jsonl(tmp_path / "s.jsonl", rows)

    result = mask_cli(root, source, "s", "datasets/prod/s.jsonl")

    if result.exit_code == 0:
        codes = [r["code"] for r in read_rows(root / "datasets/prod/s.jsonl") if "code" in r]
        assert len(codes) == len(set(codes)), f"duplicates written: {sorted(codes)}"
    else:
        assert_refused(result, 1, "masked code is not unique")
        assert not (root / "datasets/prod/s.jsonl").exists()


@pytest.mark.parametrize(
    ("prop", "rule", "ok", "bad", "message"),
    [
        (
            {"type": "string"},
            {"strategy": "date_shift", "max_days": 5},
            "1990-01-01",
            "15/06/1987",
            "people.jsonl:2: date_shift needs dates written YYYY-MM-DD...",
        ),
        (
            {"type": ["string", "integer"]},
            {"strategy": "date_shift", "max_days": 5},
            "1990-01-01",
            19870615,
            "people.jsonl:2: field: date_shift needs a date string, got a int",
        ),
        (
            {"type": ["string", "number"]},
            {"strategy": "noise", "relative": 0.1},
            5000,
            "about 5000",
            "people.jsonl:2: field: noise needs a number, got a str",
        ),
        (
            {"type": "string"},
            {"strategy": "generalize", "to": "month"},
            "1990-01-01",
            "June 1987",
            "people.jsonl:2: field: generalize to month needs a date, got a str",
        ),
        (
            {"type": ["string", "number"]},
            {"strategy": "generalize", "bucket": 10},
            42,
            "forty-two",
            "people.jsonl:2: field: generalize with bucket needs a number, got a str",
        ),
    ],
)
def test_a_value_a_strategy_cannot_mask_is_an_error_that_never_shows_the_value(
    tmp_path: Path,
    key: str,
    prop: dict[str, Any],
    rule: dict[str, Any],
    ok: Any,
    bad: Any,
    message: str,
) -> None:
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, "field": prop})},
        {"people": {"field": rule}},
    )
    source = write_jsonl(
        tmp_path / "people.jsonl", [{"id": 1, "field": ok}, {"id": 2, "field": bad}]
    )

    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl")

    assert_refused(result, 2, message)
    assert str(bad) not in result.stderr
    assert not (root / "datasets" / "prod").exists()
    assert tmp_leftovers(root) == []


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            {"nope": {"strategy": "redact"}},
            "masking/people.yaml: rule for 'nope': the schema 'people' has no such property (known: id, seen_on)",
        ),
        (
            {"seen_on": {"strategy": "date_shift", "max_days": 5, "per": "patient"}},
            "masking/people.yaml: rule for 'seen_on': per: 'patient' is not a property of the schema",
        ),
        (
            {"seen_on": {"strategy": "noise", "relative": 0.1, "absolute": 2}},
            "noise needs exactly one of 'relative' or 'absolute'",
        ),
        (
            {"seen_on": {"strategy": "generalize"}},
            "generalize needs exactly one of 'to' (month|year) or 'bucket'",
        ),
        ({"seen_on": {"strategy": "scramble"}}, "masking/people.yaml:"),
        ({"seen_on": {"strategy": "hash", "length": 4}}, "rules.seen_on.length"),
    ],
)
def test_bad_rules_are_clear_errors(
    tmp_path: Path, key: str, rules: dict[str, Any], message: str
) -> None:
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, "seen_on": {"type": "string"}})},
        {"people": rules},
    )
    source = write_jsonl(tmp_path / "people.jsonl", [{"id": 1, "seen_on": "2024-01-01"}])

    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl")

    assert_refused(result, 2, message)
    assert not (root / "datasets" / "prod").exists()


# ---------------------------------------------------------------- uniqueness


def test_a_masked_primary_key_that_collides_is_an_error_and_nothing_is_written(
    tmp_path: Path, key: str
) -> None:
    props = {"code": {"type": "string"}, "note": {"type": "string"}}
    root = custom_project(
        tmp_path / "repo",
        {"codes": schema_of(props, pk="code")},
        {"codes": {"note": {"strategy": "redact"}}},
    )
    source = write_jsonl(
        tmp_path / "codes.jsonl",
        [
            {"code": "AB-1234", "note": "a"},
            {"code": "AB-5678", "note": "b"},
            {"code": "CD-1111", "note": "c"},
        ],
    )
    assert mask_cli(root, source, "codes", "datasets/prod/codes.jsonl").exit_code == 0
    write_file(
        root / "masking" / "codes.yaml",
        {"schema": "codes", "rules": {"code": {"strategy": "partial", "keep_first": 2}}},
    )
    before = snapshot(root)

    result = mask_cli(root, source, "codes", "datasets/prod/codes.jsonl")

    assert_refused(
        result,
        1,
        "codes.jsonl: masked code is not unique: the rows at lines 1 and 2 get the same value; "
        "strategy partial cannot keep values distinct (use hash or fake), or the input repeats it. "
        "Nothing was written.",
    )
    assert "AB-" not in result.stderr
    assert snapshot(root) == before
    assert tmp_leftovers(root) == []


def test_a_unique_field_that_a_strategy_cannot_keep_distinct_is_an_error(
    tmp_path: Path, key: str
) -> None:
    props = {"login": {"type": "string", "x-tdm": {"unique": True}}}
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, **props})},
        {"people": {"login": {"strategy": "fake", "generator": "first_name"}}},
    )
    source = write_jsonl(
        tmp_path / "people.jsonl", [{"id": i, "login": f"user{i:04d}"} for i in range(1, 401)]
    )

    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl")

    assert_refused(
        result,
        1,
        "people.jsonl: masked login is not unique: the rows at lines ",
        "strategy fake cannot keep values distinct (use hash or fake), or the input repeats it. "
        "Nothing was written.",
    )
    assert not (root / "datasets" / "prod").exists()


def test_a_unique_field_repeated_in_the_input_is_named_as_the_cause(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = prod_customers(sample_repo)
    rows[6]["email"] = rows[2]["email"].upper()  # the same mailbox, differently written
    source = write_jsonl(tmp_path / "prod_customers.jsonl", rows)

    result = mask_cli(sample_repo, source)

    assert_refused(
        result,
        1,
        "prod_customers.jsonl: masked email is not unique: the rows at lines 3 and 7 get the same "
        "value; strategy fake keeps distinct inputs distinct, so the input repeats it. Nothing was written.",
    )
    assert rows[2]["email"] not in result.stderr.lower()
    assert not (sample_repo / OUT).exists()


def test_a_hashed_primary_key_stays_unique_and_orders_the_output(tmp_path: Path, key: str) -> None:
    props = {"account": {"type": "string"}, "balance": {"type": "integer"}}
    root = custom_project(
        tmp_path / "repo",
        {"accounts": schema_of(props, pk="account")},
        {"accounts": {"account": {"strategy": "hash", "length": 16}}},
    )
    rows = [{"account": f"DE{i:020d}", "balance": i} for i in range(1, 501)]
    source = write_jsonl(tmp_path / "accounts.jsonl", rows)

    result = mask_cli(root, source, "accounts", "datasets/prod/accounts.jsonl")

    assert result.exit_code == 0, result.output
    out = read_rows(root / "datasets/prod/accounts.jsonl")
    keys = [r["account"] for r in out]
    assert keys == sorted(keys)
    assert len(set(keys)) == 500
    assert sorted(r["balance"] for r in out) == list(range(1, 501))


# ---------------------------------------------------------------- validation of the output


def test_output_that_breaks_the_schema_is_exit_1_and_nothing_is_written(
    sample_repo: Path, prod: Path, key: str
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    rules = yaml.safe_load((sample_repo / SAMPLE_RULES).read_text())
    rules["rules"]["country"] = {"strategy": "constant", "value": "XX"}
    write_file(sample_repo / SAMPLE_RULES, rules)
    before = snapshot(sample_repo)

    result = mask_cli(sample_repo, prod)

    lines = [
        f"  prod_customers.jsonl:{n}: /country: fails Enum (properties/country/enum)"
        for n in range(1, 21)
    ]
    assert_refused(result, 1)
    assert result.stderr == (
        "tdm: error: 200 masked row(s) do not validate against the schema; nothing was written:\n"
        + "\n".join(lines)
        + "\n  ... and 180 more rows\n"
    )
    assert snapshot(sample_repo) == before
    assert tmp_leftovers(sample_repo) == []


def test_one_invalid_row_is_named_by_its_input_line(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = prod_customers(sample_repo)
    rows[41]["country"] = "Narnia"  # not masked: the schema's enum catches it
    source = write_jsonl(tmp_path / "prod_customers.jsonl", rows)

    result = mask_cli(sample_repo, source)

    assert result.exit_code == 1, result.output
    assert result.stderr == (
        "tdm: error: 1 masked row(s) do not validate against the schema; nothing was written:\n"
        "  prod_customers.jsonl:42: /country: fails Enum (properties/country/enum)\n"
    )
    assert "Narnia" not in result.stderr
    assert not (sample_repo / OUT).exists()
    assert "prod-sample/customers" not in read_lock(sample_repo)["datasets"]


# ---------------------------------------------------------------- personal data without a rule


def test_a_pii_field_without_a_rule_is_refused_unless_allowed(
    sample_repo: Path, prod: Path, key: str
) -> None:
    rules = yaml.safe_load((sample_repo / SAMPLE_RULES).read_text())
    del rules["rules"]["phone"]
    write_file(sample_repo / SAMPLE_RULES, rules)
    before = snapshot(sample_repo)

    result = mask_cli(sample_repo, prod)

    assert_refused(
        result,
        2,
        "personal data would stay unmasked: phone (declared pii: true); add rules for them to "
        "masking/customers.yaml, or pass --allow-unmasked FIELD for each one that is safe as it is",
    )
    assert snapshot(sample_repo) == before

    result = mask_cli(sample_repo, prod, "customers", OUT, "--allow-unmasked", "phone")

    assert result.exit_code == 0, result.output
    phones = [r["phone"] for r in read_rows(sample_repo / OUT)]
    assert phones == [r["phone"] for r in prod_customers(sample_repo)]
    assert read_lock(sample_repo)["datasets"]["prod-sample/customers"]["masked"][
        "allowed_unmasked"
    ] == ["phone"]


def test_pii_is_detected_by_name_and_format_and_can_be_opted_out(tmp_path: Path, key: str) -> None:
    props = {
        "mobile": {"type": "string"},
        "origin": {"type": "string", "format": "ipv4"},
        "contact": {"type": "object", "properties": {"work_email": {"type": "string"}}},
        "surname": {"type": "string", "x-tdm": {"pii": False}},
        "handle": {"type": "string", "x-tdm": {"pii": "synthetic"}},
        "passport_no": {"type": "integer"},
        "notes": {"type": "string", "x-tdm": {"pii": True}},
        "phone_verified": {"type": "boolean"},
    }
    root = custom_project(
        tmp_path / "repo",
        {"people": schema_of({"id": {"type": "integer"}, **props})},
        {"people": {}},
    )
    source = write_jsonl(tmp_path / "people.jsonl", [{"id": 1, "mobile": "+44 7911 123456"}])

    result = mask_cli(root, source, "people", "datasets/prod/people.jsonl")

    assert_refused(
        result,
        2,
        "personal data would stay unmasked: contact.work_email (its name), mobile (its name), "
        "notes (declared pii: true), origin (format ipv4), passport_no (its name); ",
    )
    result = mask_cli(
        root,
        source,
        "people",
        "datasets/prod/people.jsonl",
        *[
            a
            for f in ("contact", "mobile", "notes", "origin", "passport_no")
            for a in ("--allow-unmasked", f)
        ],
    )
    assert result.exit_code == 0, result.output


def test_allowing_a_field_the_schema_does_not_have_is_an_error(
    sample_repo: Path, prod: Path, key: str
) -> None:
    result = mask_cli(sample_repo, prod, "customers", OUT, "--allow-unmasked", "ssn")

    assert_refused(result, 2, "--allow-unmasked ssn: the schema 'customers' has no such field")
    assert not (sample_repo / OUT).exists()


# ---------------------------------------------------------------- where rules, input and output may be


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (
            "elsewhere/customers.jsonl",
            "the output must be datasets/<folder>/<name>.jsonl inside the repository",
        ),
        (
            "datasets/customers.jsonl",
            "the output must be datasets/<folder>/<name>.jsonl inside the repository",
        ),
        ("datasets/prod-sample/customers.csv", "the output must be datasets/<folder>/<name>.jsonl"),
        ("datasets/prod/x/customers.jsonl", "the output must be datasets/<folder>/<name>.jsonl"),
        (
            "datasets/smoke/customers.jsonl",
            "datasets/smoke/ is where template 'smoke' writes generated data; write masked data "
            "to a folder of its own, e.g. datasets/prod-sample/",
        ),
        ("../outside/customers.jsonl", "resolves outside the repository"),
    ],
)
def test_output_must_be_a_dataset_of_its_own_folder(
    sample_repo: Path, prod: Path, key: str, out: str, message: str
) -> None:
    before = snapshot(sample_repo)

    result = mask_cli(sample_repo, prod, "customers", out)

    assert_refused(result, 2, message)
    assert snapshot(sample_repo) == before
    assert not (sample_repo.parent / "outside").exists()


def test_rules_by_name_or_path_in_masking_but_nowhere_else(
    sample_repo: Path, prod: Path, key: str, tmp_path: Path
) -> None:
    assert (
        mask_cli(sample_repo, prod, "customers", "datasets/by-name/customers.jsonl").exit_code == 0
    )
    by_path = mask_cli(
        sample_repo, prod, str(sample_repo / SAMPLE_RULES), "datasets/by-path/customers.jsonl"
    )
    assert by_path.exit_code == 0, by_path.output
    assert (sample_repo / "datasets/by-path/customers.jsonl").read_bytes() == (
        sample_repo / "datasets/by-name/customers.jsonl"
    ).read_bytes()
    stray = tmp_path / "rules" / "customers.yaml"
    stray.parent.mkdir()
    shutil.copy(sample_repo / SAMPLE_RULES, stray)
    before = snapshot(sample_repo)

    outside = mask_cli(sample_repo, prod, str(stray))
    missing = mask_cli(sample_repo, prod, "nosuch")

    assert_refused(
        outside,
        2,
        f"rules file {stray} is not in masking/ of the repository; masking rules are versioned "
        "with the data: put it in masking/ and pass its name",
    )
    assert_refused(
        missing,
        2,
        "masking rules 'nosuch' not found: expected masking/nosuch.yaml (known: addresses, customers, payments)",
    )
    assert snapshot(sample_repo) == before


def test_bad_input_files_are_clear_errors_naming_the_line(
    sample_repo: Path, tmp_path: Path, prod: Path, key: str
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    before = snapshot(sample_repo)
    good = orjson.dumps(prod_customers(sample_repo)[0]).decode()
    not_json = tmp_path / "broken.jsonl"
    not_json.write_text(
        f'{good}\n\n{good.replace(":1,", ":2,", 1)}\n{{"email": "ann.lee@gmail.com",\n'
    )
    array = tmp_path / "array.jsonl"
    array.write_text(f"{good}\n[1, 2]\n")
    sheet = tmp_path / "prod.xlsx"
    sheet.write_bytes(b"PK\x03\x04")

    cases = [
        (tmp_path / "missing.jsonl", f"input file {tmp_path / 'missing.jsonl'} not found"),
        (sheet, f"{sheet}: the input must be JSON Lines (.jsonl, .ndjson) or CSV (.csv)"),
        (not_json, "broken.jsonl:4: not valid JSON ("),
        (array, "array.jsonl:2: a record must be a JSON object"),
    ]
    for source, message in cases:
        result = mask_cli(sample_repo, source)
        assert_refused(result, 2, message)
        assert "ann.lee" not in result.stderr
    assert snapshot(sample_repo) == before
    assert tmp_leftovers(sample_repo) == []


# ---------------------------------------------------------------- keys


def test_a_missing_key_is_exit_2_with_the_fix_and_the_old_output_is_kept(
    sample_repo: Path, prod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDM_MASKING_KEY", KEY)
    assert mask_cli(sample_repo, prod).exit_code == 0
    monkeypatch.delenv("TDM_MASKING_KEY")
    before = snapshot(sample_repo)

    for env in (None, "   "):
        if env is not None:
            monkeypatch.setenv("TDM_MASKING_KEY", env)
        result = mask_cli(sample_repo, prod)
        assert_refused(
            result,
            2,
            "no masking key: set TDM_MASKING_KEY or pass --key-file PATH (a file outside the "
            "repository); make a key with: python -c 'import secrets; print(secrets.token_hex(32))'",
        )
    assert snapshot(sample_repo) == before


def test_a_short_key_is_refused(
    sample_repo: Path, prod: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TDM_MASKING_KEY", "hunter2")

    result = mask_cli(sample_repo, prod)

    assert_refused(
        result, 2, "the masking key is shorter than 16 characters; use a long random key"
    )
    assert "hunter2" not in result.output
    assert not (sample_repo / OUT).exists()


def test_a_key_file_outside_the_repository_is_used_before_the_environment(
    sample_repo: Path, prod: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = write_file(tmp_path / "secrets" / "masking.key", KEY + "\n")
    monkeypatch.setenv("TDM_MASKING_KEY", KEY)
    assert mask_cli(sample_repo, prod, "customers", "datasets/env/customers.jsonl").exit_code == 0
    monkeypatch.delenv("TDM_MASKING_KEY")

    from_file = mask_cli(
        sample_repo, prod, "customers", "datasets/file/customers.jsonl", "--key-file", key_file
    )
    monkeypatch.setenv("TDM_MASKING_KEY", OTHER_KEY)
    file_wins = mask_cli(
        sample_repo, prod, "customers", "datasets/both/customers.jsonl", "--key-file", key_file
    )

    assert from_file.exit_code == 0, from_file.output
    assert file_wins.exit_code == 0, file_wins.output
    expected = (sample_repo / "datasets/env/customers.jsonl").read_bytes()
    assert (sample_repo / "datasets/file/customers.jsonl").read_bytes() == expected
    assert (sample_repo / "datasets/both/customers.jsonl").read_bytes() == expected


@pytest.mark.parametrize("where", ["root", "subfolder", "symlink", "git-workdir"])
def test_a_key_file_inside_the_repository_is_refused(tmp_path: Path, where: str) -> None:
    if where == "git-workdir":  # the tdm repository is a folder of a larger git repository
        mono = tmp_path / "mono"
        mono.mkdir()
        git(mono, "init", "-q")
        root = init_repo(mono / "testdata", sample=True)
        key_file = write_file(mono / "secrets" / "masking.key", KEY)
        repo_root = mono
    else:
        root = init_repo(tmp_path / "shop", sample=True)
        repo_root = root
        inside = root / ("masking.key" if where == "root" else "masking/keys/masking.key")
        write_file(inside, KEY)
        key_file = inside
        if where == "symlink":
            key_file = tmp_path / "looks-outside.key"
            key_file.symlink_to(inside)
    source = write_jsonl(tmp_path / "exports" / "prod_customers.jsonl", prod_customers(root))
    before = snapshot(root)

    result = mask_cli(root, source, "customers", OUT, "--key-file", key_file)

    assert_refused(
        result,
        2,
        f"the key file {key_file} is inside the repository ({repo_root.resolve()}); a key committed "
        "by mistake unmasks everything: keep it outside, e.g. ~/.config/tdm/masking.key",
    )
    assert KEY not in result.output
    assert snapshot(root) == before


def test_an_unreadable_or_empty_key_file_is_refused(
    sample_repo: Path, prod: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.key"
    empty = write_file(tmp_path / "empty.key", "\n  \n")

    gone = mask_cli(sample_repo, prod, "customers", OUT, "--key-file", missing)
    blank = mask_cli(sample_repo, prod, "customers", OUT, "--key-file", empty)

    assert_refused(gone, 2, f"cannot read the key file {missing}: No such file or directory")
    assert_refused(
        blank, 2, f"the key file {empty} is empty; set TDM_MASKING_KEY or pass --key-file PATH"
    )
    assert not (sample_repo / OUT).exists()


def test_the_key_never_appears_in_output_errors_files_or_git(
    sample_repo: Path, prod: Path, tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs: list[str] = []

    def run(*args: Any) -> Any:
        result = tdm(*args)
        outputs.append(result.output + result.stderr)
        return result

    assert (
        run(
            "mask",
            prod,
            "-r",
            "customers",
            "-o",
            sample_repo / OUT,
            "--repo",
            sample_repo,
            "--json",
        ).exit_code
        == 0
    )
    key_file = write_file(tmp_path / "k" / "masking.key", KEY)
    assert (
        run(
            "mask",
            prod,
            "-r",
            "customers",
            "-o",
            sample_repo / "datasets/via-file/customers.jsonl",
            "--repo",
            sample_repo,
            "--key-file",
            key_file,
        ).exit_code
        == 0
    )
    # failures: a collision, an invalid row, a key file inside the repository, with --debug
    rows = prod_customers(sample_repo)
    rows[5]["email"] = rows[4]["email"]
    rows[9]["country"] = "XX"
    bad = write_jsonl(tmp_path / "bad" / "prod_customers.jsonl", rows)
    monkeypatch.setenv("TDM_DEBUG", "1")
    assert (
        run(
            "mask", bad, "-r", "customers", "-o", sample_repo / OUT, "--repo", sample_repo
        ).exit_code
        == 1
    )
    inside = write_file(sample_repo / "masking.key", KEY)
    assert (
        run(
            "mask",
            prod,
            "-r",
            "customers",
            "-o",
            sample_repo / OUT,
            "--repo",
            sample_repo,
            "--key-file",
            inside,
        ).exit_code
        == 2
    )
    inside.unlink()
    monkeypatch.delenv("TDM_DEBUG")
    assert run("validate", "--repo", sample_repo).exit_code == 0
    assert run("scan", "--repo", sample_repo).exit_code == 0
    assert run("status", "--repo", sample_repo).exit_code == 0
    assert run("commit", "-m", "masked production sample", "--repo", sample_repo).exit_code == 0
    assert run("tag", "v1.0", "-m", "prod sample", "--repo", sample_repo).exit_code == 0

    needles = [KEY.encode(), KEY.encode().hex().encode()]
    for text in outputs:
        assert KEY not in text
    for path in sorted(sample_repo.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    objects = subprocess.run(
        ["git", "-C", str(sample_repo), "cat-file", "--batch-all-objects", "--batch"],
        capture_output=True,
        check=True,
    ).stdout
    assert b"masked production sample" in objects  # the search does see inside git objects
    assert not any(n in objects for n in needles)


def test_the_key_object_hides_itself() -> None:
    secret = MaskingKey(KEY.encode())

    assert repr(secret) == str(secret) == "MaskingKey(<hidden>)"
    assert KEY not in f"{secret!r} {secret}"
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


def test_a_different_key_gives_different_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    props = {
        "email": {"type": "string", "format": "email"},
        "token": {"type": "string"},
        "seen_on": {"type": "string", "format": "date"},
        "salary": {"type": "number"},
        "postcode": {"type": "string"},
        "phone": {"type": "string"},
        "age": {"type": "integer"},
    }
    rules = {
        "email": {"strategy": "fake"},
        "token": {"strategy": "hash", "length": 24},
        "seen_on": {"strategy": "date_shift", "max_days": 60},
        "salary": {"strategy": "noise", "relative": 0.2},
        "postcode": {"strategy": "shuffle"},
        "phone": {"strategy": "partial", "keep_last": 2},
        "age": {"strategy": "generalize", "bucket": 5},
    }
    rows = [
        {
            "id": i,
            "email": f"p{i}@gmail.com",
            "token": f"t{i}",
            "seen_on": f"2024-01-{i % 28 + 1:02d}",
            "salary": 40_000 + i,
            "postcode": f"{20000 + i}",
            "phone": f"+1 312-{400 + i}-{2000 + i}",
            "age": 20 + i % 50,
        }
        for i in range(1, 101)
    ]
    monkeypatch.setenv("TDM_MASKING_KEY", KEY)
    one = mask_people(tmp_path / "one", props, rules, rows)
    monkeypatch.setenv("TDM_MASKING_KEY", OTHER_KEY)
    two = mask_people(tmp_path / "two", props, rules, rows)

    def differing(field: str) -> int:
        return sum(a[field] != b[field] for a, b in zip(one, two, strict=True))

    assert differing("email") == differing("token") == differing("salary") == 100
    assert differing("seen_on") > 90
    assert differing("postcode") > 90
    assert differing("phone") == differing("age") == 0  # not keyed


# ---------------------------------------------------------------- joins


def test_joins_survive_masking_of_two_datasets(tmp_path: Path, key: str) -> None:
    customers = schema_of(
        {
            "id": {"type": "integer"},
            "email": {"type": "string", "format": "email", "x-tdm": {"unique": True, "pii": True}},
            "tier": {"type": "string"},
        }
    )
    orders = schema_of(
        {
            "id": {"type": "integer"},
            "customer_email": {
                "type": "string",
                "format": "email",
                "x-tdm": {"ref": "customers.email"},
            },
            "total": {"type": "number"},
        }
    )
    root = custom_project(
        tmp_path / "repo",
        {"customers": customers, "orders": orders},
        {
            "customers": {"email": {"strategy": "fake"}},
            "orders": {"customer_email": {"strategy": "fake"}},
        },
    )
    people = [{"id": i, "email": f"buyer.{i}@gmail.com", "tier": "gold"} for i in range(1, 51)]
    bought = [
        {
            "id": n,
            # the order system writes addresses its own way: case and spaces differ
            "customer_email": (
                people[(n * 7) % 50]["email"].upper() if n % 2 else people[(n * 7) % 50]["email"]
            ),
            "total": n * 1.5,
        }
        for n in range(1, 151)
    ]
    c_src = write_jsonl(tmp_path / "exports" / "customers.jsonl", people)
    o_src = write_jsonl(tmp_path / "exports" / "orders.jsonl", bought)

    assert mask_cli(root, c_src, "customers", "datasets/prod/customers.jsonl").exit_code == 0
    assert mask_cli(root, o_src, "orders", "datasets/prod/orders.jsonl").exit_code == 0

    masked_customers = read_rows(root / "datasets/prod/customers.jsonl")
    masked_orders = read_rows(root / "datasets/prod/orders.jsonl")
    fake_of = {p["email"]: m["email"] for p, m in zip(people, masked_customers, strict=True)}
    for src, got in zip(bought, masked_orders, strict=True):
        assert got["customer_email"] == fake_of[src["customer_email"].lower()]
        assert got["customer_email"] != src["customer_email"]
    result = tdm("validate", "--repo", root)
    assert result.exit_code == 0, result.output  # every order's customer_email finds its customer


# ---------------------------------------------------------------- tdm validate


def _masking_findings(root: Path) -> tuple[int, list[dict[str, Any]]]:
    result = tdm("validate", "--json", "--repo", root)
    report = json.loads(result.stdout)
    return result.exit_code, [f for f in report["findings"] if f["kind"] == "masking"]


def test_validate_accepts_a_fresh_masked_dataset(sample_repo: Path, prod: Path, key: str) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0

    assert _masking_findings(sample_repo) == (0, [])


def test_validate_reports_a_pii_field_added_to_the_schema_after_masking(
    sample_repo: Path, prod: Path, key: str
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    schema_path = sample_repo / "schemas" / "customers.yaml"
    text = schema_path.read_text()
    assert text.count("max: 2025-12-31}}") == 1
    schema_path.write_text(text.replace("max: 2025-12-31}}", "max: 2025-12-31, pii: true}}"))

    code, findings = _masking_findings(sample_repo)

    assert code == 1
    assert findings == [
        {
            "kind": "masking",
            "path": OUT,
            "line": None,
            "pointer": None,
            "message": "field signup_at is marked pii in schema 'customers' but masking/customers.yaml "
            "has no rule for it; add one and run `tdm mask` again",
        }
    ]
    text = tdm("validate", "--repo", sample_repo)
    assert text.exit_code == 1
    assert f"{OUT}: field signup_at is marked pii in schema 'customers'" in text.stdout


def test_validate_reports_a_rule_removed_after_masking_but_not_an_allowed_field(
    sample_repo: Path, prod: Path, key: str
) -> None:
    rules = yaml.safe_load((sample_repo / SAMPLE_RULES).read_text())
    del rules["rules"]["phone"]
    write_file(sample_repo / SAMPLE_RULES, rules)
    assert mask_cli(sample_repo, prod, "customers", OUT, "--allow-unmasked", "phone").exit_code == 0
    assert _masking_findings(sample_repo) == (0, [])

    del rules["rules"]["birth_date"]
    write_file(sample_repo / SAMPLE_RULES, rules)
    code, findings = _masking_findings(sample_repo)

    assert code == 1
    assert [(f["path"], f["message"]) for f in findings] == [
        (
            OUT,
            "field birth_date is marked pii in schema 'customers' but masking/customers.yaml has "
            "no rule for it; add one and run `tdm mask` again",
        )
    ]


def test_validate_reports_masking_rules_that_are_gone(
    sample_repo: Path, prod: Path, key: str
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    (sample_repo / SAMPLE_RULES).unlink()

    code, findings = _masking_findings(sample_repo)

    assert code == 1
    assert [(f["path"], f["message"]) for f in findings] == [
        (OUT, "came from `tdm mask` with masking/customers.yaml, which no longer loads; restore it")
    ]


# ---------------------------------------------------------------- determinism


@pytest.mark.slow
def test_the_same_input_and_key_give_identical_bytes_in_every_run(
    sample_repo: Path, prod: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert mask_cli(sample_repo, prod).exit_code == 0
    first = (sample_repo / OUT).read_bytes()
    lock = (sample_repo / "tdm.lock").read_bytes()

    assert mask_cli(sample_repo, prod).exit_code == 0
    assert (sample_repo / OUT).read_bytes() == first
    assert (sample_repo / "tdm.lock").read_bytes() == lock

    # a fresh process with another hash seed
    monkeypatch.setenv("PYTHONHASHSEED", "4242")
    (sample_repo / OUT).unlink()
    proc = tdm_subprocess("mask", prod, "-r", "customers", "-o", OUT, cwd=sample_repo)
    assert proc.returncode == 0, proc.stderr
    assert (sample_repo / OUT).read_bytes() == first
    assert (sample_repo / "tdm.lock").read_bytes() == lock


BIG_ROWS = 45_000


@pytest.fixture
def big_input(sample_repo: Path, tmp_path: Path) -> Path:
    """A 45,000-row extract (three chunks of the parallel pass) with every kind of rule."""
    write_file(
        sample_repo / "masking" / "customers_big.yaml",
        {
            "schema": "customers",
            "rules": {
                **yaml.safe_load((sample_repo / SAMPLE_RULES).read_text())["rules"],
                "country": {"strategy": "shuffle"},
                "signup_at": {"strategy": "generalize", "to": "month"},
            },
        },
    )
    base = prod_customers(sample_repo)
    rows = []
    for i in range(BIG_ROWS):
        row = dict(base[i % 200])
        row["id"] = i + 1
        row["email"] = f"user{i}@gmail.com"
        row["phone"] = f"+1 415-{200 + i % 700:03d}-{i % 10000:04d}"
        rows.append(row)
    return write_jsonl(tmp_path / "exports" / "big.jsonl", rows)


@pytest.mark.slow
def test_parallel_masking_is_byte_identical_to_serial(
    sample_repo: Path, big_input: Path, key: str
) -> None:
    project = Project.find(sample_repo)

    serial = maskrun.mask(
        project, big_input, "customers_big", sample_repo / "datasets/one/c.jsonl", jobs=1
    )
    parallel = maskrun.mask(
        project, big_input, "customers_big", sample_repo / "datasets/two/c.jsonl", jobs=2
    )

    assert serial.rows == parallel.rows == BIG_ROWS
    data = (sample_repo / "datasets/one/c.jsonl").read_bytes()
    assert (sample_repo / "datasets/two/c.jsonl").read_bytes() == data
    assert serial.sha256 == parallel.sha256 == hashlib.sha256(data).hexdigest()
    rows = [orjson.loads(line) for line in data.splitlines()]
    assert [r["id"] for r in rows] == list(range(1, BIG_ROWS + 1))
    assert len({r["email"] for r in rows}) == BIG_ROWS
    src_countries = [r["country"] for r in read_rows(big_input)]
    assert sorted(r["country"] for r in rows) == sorted(src_countries)
    assert sum(r["country"] != c for r, c in zip(rows, src_countries, strict=True)) > BIG_ROWS // 2
    assert detectors(data) == set()
    assert tmp_leftovers(sample_repo) == []


def test_parallel_errors_name_lines_in_later_chunks(tmp_path: Path, key: str) -> None:
    props = {
        "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
        "country": {"type": "string", "enum": ["US", "DE"]},
    }
    root = custom_project(
        tmp_path / "repo", {"people": schema_of(props)}, {"people": {"email": {"strategy": "fake"}}}
    )
    rows = [
        {"id": i + 1, "email": f"user{i}@gmail.com", "country": "US" if i % 3 else "DE"}
        for i in range(21_000)
    ]
    rows[20_503]["email"] = rows[2]["email"]  # lines 3 and 20504: chunks 1 and 2 of 20,000
    dup = write_jsonl(tmp_path / "dup" / "prod.jsonl", rows)
    rows[20_503]["email"] = "fresh@gmail.com"
    rows[20_221]["country"] = "XX"
    invalid = write_jsonl(tmp_path / "invalid" / "prod.jsonl", rows)
    lines = invalid.read_bytes().splitlines(keepends=True)
    lines[20_899] = b'{"id": 20900, "email": "ann.lee@gmail.com",\n'
    broken_json = tmp_path / "json" / "prod.jsonl"
    broken_json.parent.mkdir()
    broken_json.write_bytes(b"".join(lines))
    project = Project.find(root)
    out = root / "datasets" / "prod" / "people.jsonl"

    with pytest.raises(maskrun.MaskCheckFailed) as collision:
        maskrun.mask(project, dup, "people", out, jobs=2)
    with pytest.raises(maskrun.MaskCheckFailed) as failing:
        maskrun.mask(project, invalid, "people", out, jobs=2)
    with pytest.raises(UserError) as unreadable:
        maskrun.mask(project, broken_json, "people", out, jobs=2)

    assert str(collision.value) == (
        "prod.jsonl: masked email is not unique: the rows at lines 3 and 20504 get the same "
        "value; strategy fake keeps distinct inputs distinct, so the input repeats it. "
        "Nothing was written."
    )
    assert str(failing.value) == (
        "1 masked row(s) do not validate against the schema; nothing was written:\n"
        "  prod.jsonl:20222: /country: fails Enum (properties/country/enum)"
    )
    assert str(unreadable.value).startswith("prod.jsonl:20900: not valid JSON (")
    assert "ann.lee" not in str(unreadable.value)
    assert not out.parent.exists()
    assert tmp_leftovers(root) == []


@pytest.mark.parametrize(
    ("repeat", "bad_date", "expected"),
    [
        # a repeat in an early chunk is reported though a later row cannot be masked
        ((40, 250), 280, "masked email is not unique: the rows at lines 43 and 253 get"),
        # a row that cannot be masked before the repeat is reported, not the repeat
        ((40, 250), 100, "prod.jsonl:103: date_shift needs dates written YYYY-MM-DD"),
        ((40, 41), 39, "prod.jsonl:42: date_shift needs dates written YYYY-MM-DD"),
        ((40, 41), None, "masked email is not unique: the rows at lines 43 and 44 get"),
    ],
)
def test_the_first_problem_in_input_order_is_reported_whatever_the_chunks(
    tmp_path: Path,
    key: str,
    monkeypatch: pytest.MonkeyPatch,
    repeat: tuple[int, int],
    bad_date: int | None,
    expected: str,
) -> None:
    monkeypatch.setattr(maskrun, "CHUNK_BYTES", 1000)  # chunks of about 15 rows
    props = {
        "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
        "born": {"type": "string"},
    }
    rules = {"email": {"strategy": "fake"}, "born": {"strategy": "date_shift", "max_days": 9}}
    root = custom_project(tmp_path / "repo", {"people": schema_of(props)}, {"people": rules})
    rows = [{"id": n + 1, "email": f"user{n}@gmail.com", "born": "1990-01-01"} for n in range(300)]
    rows[repeat[1]]["email"] = rows[repeat[0]]["email"]
    if bad_date is not None:
        rows[bad_date]["born"] = "soon"
    lines = [orjson.dumps(r) + b"\n" for r in rows]
    lines[20:20] = [b"\n", b" \t\n"]  # blank lines count as lines, not as rows
    source = tmp_path / "prod.jsonl"
    source.write_bytes(b"".join(lines))
    out = root / "datasets" / "prod" / "people.jsonl"

    for jobs in (1, 2):
        with pytest.raises((UserError, maskrun.MaskCheckFailed)) as failed:
            maskrun.mask(Project.find(root), source, "people", out, jobs=jobs)
        assert expected in str(failed.value)
        assert "user" not in str(failed.value)
    assert not out.exists()
    assert tmp_leftovers(root) == []


def test_chunks_cut_at_line_ends_even_past_long_lines(
    tmp_path: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maskrun, "CHUNK_BYTES", 1000)
    props = {"email": {"type": "string"}, "note": {"type": "string"}}
    root = custom_project(
        tmp_path / "repo", {"people": schema_of(props)}, {"people": {"email": {"strategy": "fake"}}}
    )
    rows = [
        {"id": n + 1, "email": f"user{n}@gmail.com", "note": "x" * (n % 3) * 70_000}
        for n in range(40)
    ]
    lines = [orjson.dumps(r) + b"\n" for r in rows]
    lines.insert(7, b"\n")
    source = tmp_path / "prod.jsonl"
    source.write_bytes(b"".join(lines)[:-1])  # the last line without its newline
    project = Project.find(root)

    outs = []
    for jobs in (1, 2):
        out = root / "datasets" / f"jobs{jobs}" / "people.jsonl"
        result = maskrun.mask(project, source, "people", out, jobs=jobs)
        assert result.rows == 40
        outs.append(out.read_bytes())

    assert outs[0] == outs[1]
    masked = [orjson.loads(line) for line in outs[0].splitlines()]
    assert [r["id"] for r in masked] == list(range(1, 41))
    assert [r["note"] for r in masked] == [r["note"] for r in rows]
    assert all(EMAIL_FAKE.match(r["email"]) for r in masked)


# ---------------------------------------------------------------- scan-safe output


def test_masked_output_has_nothing_for_tdm_scan(sample_repo: Path, prod: Path, key: str) -> None:
    assert detectors(prod.read_bytes()) == {"email", "phone"}, "the input does hold personal data"

    assert mask_cli(sample_repo, prod).exit_code == 0

    assert detectors((sample_repo / OUT).read_bytes()) == set()
    result = tdm("scan", sample_repo / OUT, "--repo", sample_repo)
    assert result.exit_code == 0, result.output
    assert "scanned 1 file(s), 200 rows: 0 finding(s)" in result.output


def test_masked_payments_have_no_real_cards_or_addresses(
    sample_repo: Path, tmp_path: Path, key: str
) -> None:
    rows = read_rows(sample_repo / "datasets" / "smoke" / "payments.jsonl")
    for n, row in enumerate(rows):
        row["ip_address"] = f"81.{n % 200 + 2}.69.{n % 250 + 1}"
        if row["card"] is not None:
            row["card"]["number"] = luhn_complete(f"453914880{n:06d}")
            row["card"]["holder"] = f"Real Person{n}"
    source = write_jsonl(tmp_path / "exports" / "prod_payments.jsonl", rows)
    assert detectors(source.read_bytes()) >= {"payment_card", "ipv4"}

    result = mask_cli(sample_repo, source, "payments", "datasets/prod-sample/payments.jsonl")

    assert result.exit_code == 0, result.output
    data = (sample_repo / "datasets/prod-sample/payments.jsonl").read_bytes()
    assert detectors(data) == set()
    masked = read_rows(sample_repo / "datasets/prod-sample/payments.jsonl")
    assert all(r["card"] is None for r in masked)
    assert all(any(ipaddress.ip_address(r["ip_address"]) in net for net in DOC_V4) for r in masked)
    assert [r["amount"] for r in masked] == [
        r["amount"] for r in sorted(rows, key=lambda r: r["id"])
    ]


CONTACT_PROPS: dict[str, Any] = {
    "email": {"type": "string"},  # no format: see the locale e-mail bug below
    "phone": {"type": "string"},
    "card_number": {"type": "string"},
    "ip": {"type": "string", "format": "ipv4"},
    "ip6": {"type": "string", "format": "ipv6"},
    "iban": {"type": "string"},
    "ssn": {"type": "string"},
    "holder": {"type": "string"},
}
CONTACT_RULES: dict[str, Any] = {
    "email": {"strategy": "fake"},
    "phone": {"strategy": "fake"},
    "card_number": {"strategy": "fake"},
    "ip": {"strategy": "fake"},
    "ip6": {"strategy": "fake"},
    "iban": {"strategy": "partial", "keep_first": 2},
    "ssn": {"strategy": "partial", "keep_last": 4},
    "holder": {"strategy": "fake", "generator": "name"},
}


def contact_rows(n: int = 300) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": f"j.doe{i}@outlook.com",
            "phone": f"+1 646-{300 + i % 600:03d}-{(i * 31) % 10000:04d}",
            "card_number": luhn_complete(f"54{i:013d}"),
            "ip": f"8.{i % 250}.4.{i % 200 + 1}",
            "ip6": f"2a03:2880:f12f:{i:x}::1",
            "iban": "DE89370400440532013000",
            "ssn": f"{100 + i % 500:03d}-{10 + i % 80:02d}-{1000 + i:04d}",
            "holder": f"Real Holder{i}",
        }
        for i in range(1, n + 1)
    ]


@pytest.mark.parametrize("locale", ["en_US", "en_GB", "de_DE", "fr_FR"])
def test_fake_contacts_in_every_locale_have_nothing_for_scan(
    tmp_path: Path, key: str, locale: str
) -> None:
    root = custom_project(
        tmp_path / "repo",
        {"contacts": schema_of({"id": {"type": "integer"}, **CONTACT_PROPS})},
        {"contacts": CONTACT_RULES},
    )
    config = root / "tdm.yaml"
    config.write_text(config.read_text().replace("locale: en_US", f"locale: {locale}"))
    rows = contact_rows()
    source = write_jsonl(tmp_path / "exports" / "contacts.jsonl", rows)
    assert detectors(source.read_bytes()) == {
        "email",
        "phone",
        "payment_card",
        "ipv4",
        "ipv6",
        "iban",
        "us_ssn",
    }

    result = mask_cli(root, source, "contacts", "datasets/prod/contacts.jsonl")

    assert result.exit_code == 0, result.output
    assert detectors((root / "datasets/prod/contacts.jsonl").read_bytes()) == set()
    scan = tdm("scan", "--repo", root)
    assert scan.exit_code == 0, scan.output


@pytest.mark.parametrize("locale", ["de_DE", "fr_FR"])
def test_fake_emails_are_valid_ascii_addresses_in_every_locale(
    sample_repo: Path, prod: Path, key: str, locale: str
) -> None:
    config = sample_repo / "tdm.yaml"
    config.write_text(config.read_text().replace("locale: en_US", f"locale: {locale}"))

    result = mask_cli(sample_repo, prod)

    assert result.exit_code == 0, result.output
    emails = [r["email"] for r in read_rows(sample_repo / OUT)]
    assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9]+\.[0-9a-f]{10}@example\.org", e) for e in emails)


def test_an_input_rewritten_while_it_is_masked_is_refused(
    sample_repo: Path, prod: Path, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers read the input as they go and its hash is taken apart from them: a file
    rewritten meanwhile is an error, and nothing is written."""
    real_run = maskrun._run

    def run_then_rewrite(*args: Any, **kwargs: Any) -> Any:
        out = real_run(*args, **kwargs)
        prod.write_bytes(b"".join(prod.read_bytes().splitlines(keepends=True)[:-1]))
        return out

    monkeypatch.setattr(maskrun, "_run", run_then_rewrite)
    lock_before = (sample_repo / "tdm.lock").read_bytes()
    result = mask_cli(sample_repo, prod)
    assert_refused(result, 2, "changed while it was being masked", "nothing was written")
    assert not (sample_repo / OUT).exists()
    assert (sample_repo / "tdm.lock").read_bytes() == lock_before
    monkeypatch.setattr(maskrun, "_run", real_run)
    assert mask_cli(sample_repo, prod).exit_code == 0  # the complete file masks as usual

"""Properties of generated data: valid rows, keys, references, safe values, distributions."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    SAMPLE_DIR,
    SMOKE_DATASETS,
    column,
    dataset,
    generate_in_process,
    invalid_rows,
    load_schema,
    make_project,
    one_dataset_project,
    read_rows,
    tdm,
)

from tdm.catalogue import TEST_CARD_NUMBERS

DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
SAFE_DOMAINS = ("@example.com", "@example.net", "@example.org")


def _smoke(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: read_rows(dataset(root, "smoke", name)) for name in SMOKE_DATASETS}


# ------------------------------------------------------------------ the sample


@pytest.mark.parametrize("name", SMOKE_DATASETS)
def test_smoke_rows_validate_against_their_schema(smoke_repo: Path, name: str) -> None:
    schema = load_schema(smoke_repo / "schemas" / f"{name}.yaml")
    rows = read_rows(dataset(smoke_repo, "smoke", name))

    assert rows
    assert invalid_rows(schema, rows) == []


def test_smoke_keys_are_unique_and_references_resolve(smoke_repo: Path) -> None:
    data = _smoke(smoke_repo)
    primary = {
        "customers": "id",
        "addresses": "id",
        "products": "sku",
        "orders": "id",
        "order_items": "id",
        "payments": "id",
    }
    for name, key in primary.items():
        values = column(data[name], key)
        assert len(values) == len(data[name]), f"{name}.{key} missing in some rows"
        assert len(set(values)) == len(values), f"{name}.{key} not unique"

    emails = column(data["customers"], "email")
    assert len(set(emails)) == len(emails)
    paid_orders = column(data["payments"], "order_id")
    assert len(set(paid_orders)) == len(paid_orders), "payments.order_id is unique"

    ids = {
        "customers": set(column(data["customers"], "id")),
        "orders": set(column(data["orders"], "id")),
        "products": set(column(data["products"], "sku")),
    }
    references = [
        ("addresses", "customer_id", "customers"),
        ("orders", "customer_id", "customers"),
        ("order_items", "order_id", "orders"),
        ("order_items", "product_sku", "products"),
        ("payments", "order_id", "orders"),
        ("customers", "referrer_id", "customers"),
    ]
    for child, field, parent in references:
        values = [v for v in column(data[child], field) if v is not None]
        assert values, f"{child}.{field} never set"
        dangling = set(values) - ids[parent]
        assert not dangling, f"{child}.{field} has values not in {parent}: {sorted(dangling)[:5]}"


def test_smoke_personal_data_is_safe_by_construction(smoke_repo: Path) -> None:
    data = _smoke(smoke_repo)

    for email in column(data["customers"], "email"):
        assert email.endswith(SAFE_DOMAINS), email
    for phone in column(data["customers"], "phone"):
        assert phone.startswith("+1-") and "-555-01" in phone, phone
        assert len(phone.rsplit("-555-01", 1)[1]) == 2, phone
    cards = [row["card"] for row in data["payments"] if row["card"] is not None]
    assert cards
    for card in cards:
        assert card["number"] in TEST_CARD_NUMBERS
    for ip in column(data["payments"], "ip_address"):
        assert any(ipaddress.ip_address(ip) in net for net in DOC_NETS), ip


def test_smoke_template_override_applies(smoke_repo: Path) -> None:
    payments = read_rows(dataset(smoke_repo, "smoke", "payments"))

    assert {row["method"] for row in payments} == {"card"}


def test_rows_keep_schema_property_order(smoke_repo: Path) -> None:
    schema = load_schema(smoke_repo / "schemas" / "customers.yaml")
    order = list(schema["properties"])
    for row in read_rows(dataset(smoke_repo, "smoke", "customers")):
        keys = list(row)
        assert keys == [k for k in order if k in row]


# ------------------------------------------------------------------ distributions


@pytest.fixture(scope="module")
def many_customers(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("dist") / "p"
    make_project(
        root,
        {"customers": (SAMPLE_DIR / "schemas" / "customers.yaml").read_text(encoding="utf-8")},
        {"t": {"seed": 5, "datasets": {"customers": {"schema": "customers", "count": 6000}}}},
    )
    generate_in_process(root)
    return read_rows(dataset(root, "t", "customers"))


def test_enum_weights_are_roughly_respected(many_customers: list[dict[str, Any]]) -> None:
    n = len(many_customers)
    share = {k: v / n for k, v in Counter(r["country"] for r in many_customers).items()}
    # weights [6, 2, 2, 2, 1] over 13
    assert share["US"] == pytest.approx(6 / 13, abs=0.03)
    for country in ("DE", "FR", "GB"):
        assert share[country] == pytest.approx(2 / 13, abs=0.03)
    assert share["IN"] == pytest.approx(1 / 13, abs=0.02)


def test_null_probability_and_weights_of_a_nullable_enum(
    many_customers: list[dict[str, Any]],
) -> None:
    tiers = Counter(r["tier"] for r in many_customers)
    n = len(many_customers)
    assert tiers[None] / n == pytest.approx(0.3, abs=0.03)
    non_null = n - tiers[None]
    assert tiers["bronze"] / non_null == pytest.approx(0.6, abs=0.04)
    assert tiers["gold"] / non_null == pytest.approx(0.1, abs=0.03)


def test_presence_of_optional_properties(many_customers: list[dict[str, Any]]) -> None:
    n = len(many_customers)
    present = [r["referrer_id"] for r in many_customers if "referrer_id" in r]
    assert len(present) / n == pytest.approx(0.5, abs=0.03)
    nulls = sum(v is None for v in present)
    assert nulls / len(present) == pytest.approx(0.7, abs=0.04)


def test_default_presence_and_null_probability(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["maybe_null"],
        "properties": {
            "maybe_null": {"type": ["integer", "null"], "minimum": 0, "maximum": 9},
            "optional": {"type": "integer", "minimum": 0, "maximum": 9},
            "rare": {"type": "boolean", "x-tdm": {"presence": 0.05}},
            "never_null": {"type": ["string", "null"], "x-tdm": {"null_probability": 0}},
        },
    }
    root = one_dataset_project(tmp_path / "p", schema, 4000)
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "s"))
    n = len(rows)

    assert sum(r["maybe_null"] is None for r in rows) / n == pytest.approx(0.1, abs=0.025)
    assert sum("optional" in r for r in rows) / n == pytest.approx(0.8, abs=0.03)
    assert sum("rare" in r for r in rows) / n == pytest.approx(0.05, abs=0.02)
    assert all(r["never_null"] is not None for r in rows if "never_null" in r)


def test_unique_fields_are_unique_at_scale(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "x-tdm": {"primary_key": "code"},
        "required": ["code", "email", "slot", "day", "phone"],
        "properties": {
            "code": {
                "type": "string",
                "x-tdm": {"generator": "sequence", "prefix": "C", "width": 6},
            },
            "email": {"type": "string", "format": "email", "x-tdm": {"unique": True}},
            "slot": {"type": "integer", "minimum": 0, "maximum": 5000, "x-tdm": {"unique": True}},
            "day": {"type": "string", "format": "date", "x-tdm": {"unique": True}},
            "phone": {"type": "string", "x-tdm": {"unique": True}},
        },
    }
    root = one_dataset_project(tmp_path / "p", schema, 3000)
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "s"))

    for field in schema["required"]:
        values = column(rows, field)
        assert len(values) == 3000
        assert len(set(values)) == 3000, field
    assert invalid_rows(schema, rows) == []


# ------------------------------------------------------------------ inference without hints

#: one property per case: (schema of property "x", extra top-level keywords)
INFERENCE_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "format-email": ({"type": "string", "format": "email"}, {}),
    "format-date": ({"type": "string", "format": "date"}, {}),
    "format-date-time": ({"type": "string", "format": "date-time"}, {}),
    "format-time": ({"type": "string", "format": "time"}, {}),
    "format-uuid": ({"type": "string", "format": "uuid"}, {}),
    "format-uri": ({"type": "string", "format": "uri"}, {}),
    "format-uri-max-length": ({"type": "string", "format": "uri", "maxLength": 40}, {}),
    "format-ipv4": ({"type": "string", "format": "ipv4"}, {}),
    "format-ipv6": ({"type": "string", "format": "ipv6"}, {}),
    "format-hostname": ({"type": "string", "format": "hostname"}, {}),
    "enum-mixed": ({"enum": ["red", 3, None, True, 2.5]}, {}),
    "enum-typed-nullable": ({"type": ["string", "null"], "enum": ["a", "b", None]}, {}),
    "const-scalar": ({"const": "fixed"}, {}),
    "const-object": ({"const": {"a": [1, 2]}}, {}),
    "int-bounds": ({"type": "integer", "minimum": -3, "maximum": 3}, {}),
    "int-exclusive": ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10}, {}),
    "int-multiple": ({"type": "integer", "minimum": -50, "maximum": 50, "multipleOf": 5}, {}),
    "int-multiple-min-only": ({"type": "integer", "minimum": 3, "multipleOf": 7}, {}),
    "int-max-only": ({"type": "integer", "maximum": -5}, {}),
    "int-unbounded": ({"type": "integer"}, {}),
    "int64-bounds": (
        {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        {},
    ),
    "number-cents": (
        {"type": "number", "minimum": 0.5, "maximum": 999.99, "multipleOf": 0.01},
        {},
    ),
    "number-cents-large": (
        {"type": "number", "minimum": 1000, "maximum": 2000, "multipleOf": 0.01},
        {},
    ),
    "number-cents-negative": (
        {"type": "number", "minimum": -1341.68, "maximum": -393.21, "multipleOf": 0.01},
        {},
    ),
    "number-single-multiple": (
        {"type": "number", "minimum": 98.31, "maximum": 98.31, "multipleOf": 0.01},
        {},
    ),
    "number-multiple-0.05": (
        {"type": "number", "minimum": 0, "maximum": 0.5, "multipleOf": 0.05},
        {},
    ),
    "number-exclusive": ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, {}),
    "number-exclusive-narrow": (
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.01},
        {},
    ),
    "number-narrow": ({"type": "number", "minimum": 0.001, "maximum": 0.002}, {}),
    "number-negative": ({"type": "number", "minimum": -10.5, "maximum": -10.25}, {}),
    "string-plain": ({"type": "string"}, {}),
    "string-2-5": ({"type": "string", "minLength": 2, "maxLength": 5}, {}),
    "string-10-12": ({"type": "string", "minLength": 10, "maxLength": 12}, {}),
    "string-0-3": ({"type": "string", "maxLength": 3}, {}),
    "string-exactly-1": ({"type": "string", "minLength": 1, "maxLength": 1}, {}),
    "string-exactly-30": ({"type": "string", "minLength": 30, "maxLength": 30}, {}),
    "string-min-50": ({"type": "string", "minLength": 50}, {}),
    "pattern-code": ({"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3,5}(x|y)?$"}, {}),
    "pattern-classes": ({"type": "string", "pattern": "^\\d{3}\\.\\w+\\s[^a-z]$"}, {}),
    "pattern-unanchored": ({"type": "string", "pattern": "[a-f0-9]{8}"}, {}),
    "pattern-alternation": ({"type": "string", "pattern": "^(foo|bar)+$"}, {}),
    "pattern-with-max-length": (
        {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
        {},
    ),
    "boolean": ({"type": "boolean"}, {}),
    "nested-object": (
        {
            "type": "object",
            "required": ["a", "inner"],
            "additionalProperties": False,
            "properties": {
                "a": {"type": "integer", "minimum": 1, "maximum": 2},
                "b": {"type": "string", "maxLength": 4},
                "inner": {
                    "type": "object",
                    "required": ["deep"],
                    "properties": {"deep": {"type": "string", "format": "date"}},
                },
            },
        },
        {},
    ),
    "array-unique-enum": (
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "uniqueItems": True,
            "items": {"enum": ["x", "y", "z", "w"]},
        },
        {},
    ),
    "array-unique-small-ints": (
        {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "uniqueItems": True,
            "items": {"type": "integer", "minimum": 0, "maximum": 3},
        },
        {},
    ),
    "array-of-objects": (
        {
            "type": "array",
            "maxItems": 4,
            "items": {
                "type": "object",
                "required": ["k"],
                "properties": {"k": {"type": "string", "format": "uuid"}},
            },
        },
        {},
    ),
    "array-empty": ({"type": "array", "maxItems": 0, "items": {"type": "integer"}}, {}),
    "array-min-only": ({"type": "array", "minItems": 3, "items": {"type": "boolean"}}, {}),
    "union-with-null": ({"type": ["string", "integer", "null"]}, {}),
    "nullable-bounded-int": ({"type": ["integer", "null"], "minimum": 5, "maximum": 6}, {}),
    "nullable-object": (
        {
            "type": ["object", "null"],
            "required": ["z"],
            "properties": {"z": {"type": "integer", "minimum": 0, "maximum": 1}},
        },
        {},
    ),
    "ref-to-defs": (
        {"$ref": "#/$defs/point"},
        {
            "$defs": {
                "point": {
                    "type": "object",
                    "required": ["lat", "lon"],
                    "properties": {
                        "lat": {"type": "number", "minimum": -90, "maximum": 90},
                        "lon": {"type": "number", "minimum": -180, "maximum": 180},
                    },
                }
            }
        },
    ),
    "ref-with-sibling-keywords": (
        {"$ref": "#/$defs/small", "maximum": 3},
        {"$defs": {"small": {"type": "integer", "minimum": 0, "maximum": 10}}},
    ),
    "allOf-merge": (
        {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 7}, {"multipleOf": 7}]},
        {},
    ),
    "allOf-objects": (
        {
            "allOf": [
                {"$ref": "#/$defs/base"},
                {"required": ["extra"], "properties": {"extra": {"type": "boolean"}}},
            ]
        },
        {
            "$defs": {
                "base": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "string", "format": "uuid"}},
                }
            }
        },
    ),
    "anyOf-with-null": (
        {"anyOf": [{"type": "string", "format": "date"}, {"type": "integer"}, {"type": "null"}]},
        {},
    ),
    "oneOf-disjoint": (
        {"oneOf": [{"type": "string", "maxLength": 3}, {"type": "boolean"}]},
        {},
    ),
    "date-with-hint-range": (
        {"type": "string", "format": "date", "x-tdm": {"min": "2024-02-01", "max": "2024-02-29"}},
        {},
    ),
}

#: property names that pick a generator by name
NAMED_CASES: dict[str, dict[str, Any]] = {
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "city": {"type": "string"},
    "phone": {"type": "string"},
    "email": {"type": "string"},
    "billing_email": {"type": "string"},
    "country_code": {"type": "string"},
    "zip": {"type": "string"},
    "url": {"type": "string"},
    "ip": {"type": "string"},
    "card_number": {"type": "string"},
    "description": {"type": "string"},
    "name": {"type": "string", "maxLength": 20},
    "city_short": {"type": "string", "minLength": 3, "maxLength": 10},
}


def _generate_rows(root: Path, schema: dict[str, Any], count: int) -> list[dict[str, Any]]:
    one_dataset_project(root, schema, count, seed=3)
    generate_in_process(root)
    return read_rows(dataset(root, "t", "s"))


@pytest.mark.parametrize("case", sorted(INFERENCE_CASES))
def test_inferred_generators_produce_valid_rows(tmp_path: Path, case: str) -> None:
    prop, extra = INFERENCE_CASES[case]
    schema = {"type": "object", "required": ["x"], "properties": {"x": prop}, **extra}

    rows = _generate_rows(tmp_path / "p", schema, 2000)

    assert len(rows) == 2000
    assert invalid_rows(schema, rows) == []


@pytest.mark.parametrize("name", sorted(NAMED_CASES))
def test_generators_inferred_from_property_names_produce_valid_rows(
    tmp_path: Path, name: str
) -> None:
    prop = NAMED_CASES[name]
    key = "city" if name == "city_short" else name
    schema = {"type": "object", "required": [key], "properties": {key: prop}}

    rows = _generate_rows(tmp_path / "p", schema, 2000)

    assert invalid_rows(schema, rows) == []
    values = column(rows, key)
    assert len(set(values)) >= 10, "a name-inferred generator should vary"


def test_property_names_pick_matching_generators(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["email", "phone", "ip", "card_number", "work_phone"],
        "properties": {
            "email": {"type": "string"},
            "phone": {"type": "string"},
            "work_phone": {"type": "string"},
            "ip": {"type": "string"},
            "card_number": {"type": "string"},
        },
    }
    rows = _generate_rows(tmp_path / "p", schema, 500)

    for row in rows:
        assert row["email"].endswith(SAFE_DOMAINS)
        assert "-555-01" in row["phone"]
        assert "-555-01" in row["work_phone"]
        assert any(ipaddress.ip_address(row["ip"]) in net for net in DOC_NETS)
        assert row["card_number"] in TEST_CARD_NUMBERS


def test_ipv6_values_are_documentation_addresses(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["ipv6"],
        "properties": {"ipv6": {"type": "string", "x-tdm": {"generator": "ipv6"}}},
    }
    rows = _generate_rows(tmp_path / "p", schema, 300)

    net = ipaddress.ip_network("2001:db8::/32")
    for row in rows:
        address = ipaddress.ip_address(row["ipv6"])  # raises on a malformed address
        assert address in net


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_all_features_together_in_one_schema(tmp_path: Path) -> None:
    props = {
        case.replace("-", "_").replace(".", "_"): p for case, (p, _) in INFERENCE_CASES.items()
    }
    defs: dict[str, Any] = {}
    for _, extra in INFERENCE_CASES.values():
        defs.update(extra.get("$defs", {}))
    # cases that fail on their own are left out: this test is about how features
    # combine, the single-case tests above already report those
    alone = {"format_uri_max_length", "int64_bounds", "number_exclusive_narrow"}
    props = {k: v for k, v in props.items() if k not in alone}
    schema = {
        "type": "object",
        "required": sorted(props)[::2],
        "properties": props,
        "$defs": defs,
    }

    rows = _generate_rows(tmp_path / "p", schema, 1500)

    assert invalid_rows(schema, rows) == []


def test_generate_then_validate_passes(tmp_path: Path) -> None:
    """Whatever `tdm generate` writes, `tdm validate` accepts (not only the first rows)."""
    schema = {
        "type": "object",
        "required": ["site"],
        "properties": {"site": {"type": "string", "format": "uri", "maxLength": 40}},
    }
    # with this seed the first 200 rows (checked before writing) happen to fit
    root = one_dataset_project(tmp_path / "p", schema, 3000, seed=7)

    generated = tdm("generate", "--repo", root)
    assert generated.exit_code in (0, 2), generated.output
    if generated.exit_code == 0:
        validated = tdm("validate", "--repo", root)
        assert validated.exit_code == 0, validated.output
        assert invalid_rows(schema, read_rows(dataset(root, "t", "s"))) == []

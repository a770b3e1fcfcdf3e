"""Dialects, references, recursion, formats, patterns and the generate-and-check path,
each through the real engine on a real repository; every row is checked by the
independent validator (python ``jsonschema``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from corpus import checker_for
from helpers import (
    dataset,
    generate_in_process,
    make_project,
    one_dataset_project,
    read_rows,
    sha256_file,
    tdm,
    write_file,
)

from tdm.errors import UserError


def invalid_rows(schema: dict[str, Any], rows: list[Any]) -> list[str]:
    """Errors of python jsonschema for the schema's own draft, formats checked."""
    checker = checker_for(schema)
    return [f"{e.json_path}: {e.message}" for row in rows for e in checker.iter_errors(row)]


def _generate(tmp_path: Path, schema: dict[str, Any], count: int = 60, **spec: Any) -> list[Any]:
    root = one_dataset_project(tmp_path / "p", schema, count, **spec)
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "s"))
    assert len(rows) == count
    assert invalid_rows(schema, rows) == []
    return rows


def _depth(value: Any, key: str) -> int:
    """How deep ``key`` nests in ``value`` (a row's recursive field)."""
    if isinstance(value, dict):
        return max([1 + _depth(value[key], key)] if key in value else [0])
    if isinstance(value, list):
        return max([_depth(v, key) for v in value], default=0)
    return 0


def _record(props: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", *[n for n in props if n != "id"]],
        "properties": {"id": {"type": "integer", "minimum": 1}, **props},
        **extra,
    }


# ------------------------------------------------------------------ recursion


def test_recursion_through_an_anyof_branch_is_bounded(tmp_path: Path) -> None:
    # the shape that ended in RecursionError: an ID or the expanded object, through anyOf
    schema = _record(
        {"customer": {"$ref": "#/$defs/customer"}},
        **{
            "$defs": {
                "customer": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "referrer": {
                            "anyOf": [
                                {"type": "string"},
                                {"$ref": "#/$defs/customer"},
                                {"type": "null"},
                            ]
                        },
                    },
                }
            }
        },
    )
    rows = _generate(tmp_path, schema, 200)
    depths = [_depth(r["customer"], "referrer") for r in rows]
    assert max(depths) >= 2  # the expanded object does appear, nested
    assert max(depths) <= 1 + 3 + 1  # one plain level, max_depth 3 expansions, the leaf


@pytest.mark.parametrize(
    "children",
    [
        {"type": "array", "items": {"$ref": "#"}},  # through items
        {"type": "object", "additionalProperties": {"$ref": "#"}},  # additionalProperties
        {"oneOf": [{"type": "null"}, {"$ref": "#"}]},  # oneOf
        {"type": "array", "items": {"allOf": [{"$ref": "#"}]}},  # allOf
    ],
    ids=["items", "additionalProperties", "oneOf", "allOf"],
)
def test_recursion_through_any_applicator_respects_max_depth(
    tmp_path: Path, children: dict[str, Any]
) -> None:
    schema = {
        "type": "object",
        "x-tdm": {"max_depth": 1},
        "required": ["name"],
        "properties": {"name": {"type": "string"}, "children": children},
    }
    rows = _generate(tmp_path, schema, 100)
    text = json.dumps(rows)
    assert '"children"' in text
    # max_depth 1: the plain path builds one level, the recursive $ref is expanded once more
    assert max(json.dumps(r).count('"children"') for r in rows) < 40


def test_a_required_recursion_that_never_ends_is_refused(tmp_path: Path) -> None:
    schema = _record(
        {"node": {"$ref": "#/$defs/node"}},
        **{
            "$defs": {
                "node": {
                    "type": "object",
                    "required": ["next"],
                    "properties": {"next": {"$ref": "#/$defs/node"}},
                }
            }
        },
    )
    root = one_dataset_project(tmp_path / "p", schema, 5)
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert "'node" in result.stderr and "no value satisfies" in result.stderr
    assert not dataset(root, "t", "s").exists()


# ------------------------------------------------------------------ references and dialects


def test_ref_to_another_schema_file_with_pointer_escapes(tmp_path: Path) -> None:
    shared = {
        "$defs": {
            "a/b": {"type": "integer", "minimum": 5, "maximum": 9},
            "t~x": {"type": "string", "enum": ["x", "y"]},
            "50%": {"type": "string", "format": "date"},
            "Address": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            },
        }
    }
    orders = _record(
        {
            "ship_to": {"$ref": "shared.yaml#/$defs/Address"},
            "slash": {"$ref": "shared.yaml#/$defs/a~1b"},
            "tilde": {"$ref": "shared.yaml#/$defs/t~0x"},
            "percent": {"$ref": "shared.yaml#/$defs/50%25"},
        }
    )
    root = make_project(
        tmp_path / "p",
        {"shared": shared, "orders": orders},
        {"t": {"seed": 3, "datasets": {"orders": {"schema": "orders", "count": 40}}}},
    )
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "orders"))
    assert {5, 9} <= {r["slash"] for r in rows} <= set(range(5, 10))
    assert {r["tilde"] for r in rows} == {"x", "y"}
    assert all(isinstance(r["ship_to"]["city"], str) for r in rows)
    assert tdm("validate", "--repo", root).exit_code == 0  # the validator resolves it too


def test_an_edit_to_a_referenced_schema_file_makes_the_dataset_stale(tmp_path: Path) -> None:
    shared = {"$defs": {"Code": {"type": "integer", "minimum": 1, "maximum": 3}}}
    orders = _record({"code": {"$ref": "shared.yaml#/$defs/Code"}})
    root = make_project(
        tmp_path / "p",
        {"shared": shared, "orders": orders},
        {"t": {"seed": 3, "datasets": {"orders": {"schema": "orders", "count": 20}}}},
    )
    generate_in_process(root)
    assert tdm("generate", "--check", "--repo", root).exit_code == 0
    shared["$defs"]["Code"]["minimum"] = 7
    shared["$defs"]["Code"]["maximum"] = 9
    write_file(root / "schemas" / "shared.yaml", json.dumps(shared))
    status = tdm("status", "--repo", root)
    assert "stale" in status.output, status.output
    assert tdm("generate", "--check", "--repo", root).exit_code == 1
    generate_in_process(root)
    assert {r["code"] for r in read_rows(dataset(root, "t", "orders"))} <= {7, 8, 9}


def test_draft07_tuple_items_definitions_and_dependencies(tmp_path: Path) -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["id", "pair", "flag"],
        "definitions": {"small": {"type": "integer", "minimum": 0, "maximum": 3}},
        "properties": {
            "id": {"type": "integer"},
            "pair": {
                "type": "array",
                "items": [{"$ref": "#/definitions/small"}, {"type": "string", "format": "email"}],
                "additionalItems": False,
                "minItems": 2,
            },
            "flag": {"type": "boolean"},
            "extra": {"type": "string"},
        },
        "dependencies": {"extra": ["flag"], "flag": {"properties": {"extra": {"maxLength": 5}}}},
    }
    rows = _generate(tmp_path, schema)
    assert all(len(r["pair"]) == 2 and 0 <= r["pair"][0] <= 3 for r in rows)


def test_2019_09_dialect(tmp_path: Path) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "required": ["tags"],
        "properties": {
            "tags": {
                "type": "array",
                "contains": {"const": "hot"},
                "minContains": 2,
                "maxContains": 2,
                "items": {"type": "string", "enum": ["hot", "cold", "warm"]},
            }
        },
    }
    rows = _generate(tmp_path, schema)
    assert all(r["tags"].count("hot") == 2 for r in rows)


# ------------------------------------------------------------------ keywords, formats, patterns


def test_applicator_and_validation_keywords_together(tmp_path: Path) -> None:
    schema = _record(
        {
            "score": {"type": "integer", "minimum": 0, "maximum": 20, "not": {"multipleOf": 2}},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "labels": {
                "type": "object",
                "patternProperties": {"^l_[a-z]+$": {"type": "string", "maxLength": 8}},
                "additionalProperties": False,
                "minProperties": 2,
                "propertyNames": {"maxLength": 6},
            },
            "point": {
                "type": "array",
                "prefixItems": [{"type": "number"}, {"type": "number"}],
                "items": False,
                "minItems": 2,
            },
            "qty": {"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 2.5},
            "mixed": {"anyOf": [{"type": "string", "not": {"maxLength": 3}}, {"type": "integer"}]},
            "merged": {"allOf": [{"type": "string", "maxLength": 10}, {"maxLength": 6}]},
        },
        **{
            "if": {"properties": {"kind": {"const": "a"}}},
            "then": {"required": ["note"]},
            "dependentRequired": {"note": ["kind"]},
            "unevaluatedProperties": False,
            "allOf": [{"properties": {"note": {"type": "string", "maxLength": 20}}}],
        },
    )
    rows = _generate(tmp_path, schema, 120)
    assert [r["id"] for r in rows] == list(range(1, 121))  # keys stay while rows are redrawn
    assert all(r["score"] % 2 == 1 for r in rows)
    assert all(len(r["labels"]) >= 2 for r in rows)
    assert all(r["qty"] % 5 == 0 for r in rows)
    assert {r["kind"] for r in rows} == {"a", "b"}


def test_every_2020_12_format_and_unknown_formats(tmp_path: Path) -> None:
    formats = [
        "date-time", "date", "time", "duration", "email", "idn-email", "hostname",
        "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference",
        "uuid", "uri-template", "json-pointer", "relative-json-pointer", "regex",
    ]  # fmt: skip
    props = {f.replace("-", "_"): {"type": "string", "format": f} for f in formats}
    props["decimal"] = {"type": "string", "format": "decimal", "pattern": "^[0-9]+\\.[0-9]{2}$"}
    props["opaque_id"] = {"type": "string", "format": "numeric-id", "maxLength": 12}
    props["int64"] = {"type": "integer", "format": "int64"}
    props["blob"] = {"type": "string", "contentEncoding": "base64", "x-vendor": {"a": 1}}
    schema = {"type": "object", "required": list(props), "properties": props, "id": "legacy"}
    root = one_dataset_project(tmp_path / "p", schema, 50)
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "s"))
    assert invalid_rows(schema, rows) == []
    assert tdm("validate", "--repo", root).exit_code == 0  # formats asserted by jsonschema-rs


def test_ecma_unicode_classes_in_patterns(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["word", "code"],
        "properties": {
            "word": {"type": "string", "pattern": "^\\p{Lu}\\p{Ll}+$"},
            "code": {"type": "string", "pattern": "^(?<year>\\p{Nd}{4})-[a-z]{2}$"},
        },
        "patternProperties": {"^\\p{L}+$": {"type": "string"}},
    }
    root = one_dataset_project(tmp_path / "p", schema, 50)
    generate_in_process(root)
    rows = read_rows(dataset(root, "t", "s"))
    assert all(r["word"][0].isupper() and r["word"][1:].islower() for r in rows)
    assert tdm("validate", "--repo", root).exit_code == 0


def test_a_search_that_does_not_find_values_is_refused_naming_the_property(
    tmp_path: Path,
) -> None:
    schema = _record(
        {"token": {"type": "string", "minLength": 30, "pattern": "(?=.*[0-9]{6})(?=.*#)"}}
    )
    root = one_dataset_project(tmp_path / "p", schema, 20)
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert "'token'" in result.stderr and "keywords: type, minLength, pattern" in result.stderr
    assert not dataset(root, "t", "s").exists()


# ------------------------------------------------------------------ determinism


@pytest.mark.slow  # over 0.6 s: make test runs it, test-fast not
def test_the_checked_path_is_deterministic_across_jobs_and_counts(tmp_path: Path) -> None:
    schema = _record(
        {
            "score": {"type": "integer", "minimum": 0, "maximum": 99, "not": {"const": 7}},
            "tags": {"type": "array", "contains": {"const": "x"}, "items": {"enum": ["x", "y"]}},
        },
        **{"if": {"properties": {"score": {"maximum": 10}}}, "then": {"required": ["note"]}},
        **{"properties": {"id": {"type": "integer", "minimum": 1}, "note": {"type": "string"}}},
    )
    schema["properties"].update(
        {
            "score": {"type": "integer", "minimum": 0, "maximum": 99, "not": {"const": 7}},
            "tags": {"type": "array", "contains": {"const": "x"}, "items": {"enum": ["x", "y"]}},
        }
    )
    root = one_dataset_project(tmp_path / "p", schema, 30_000)
    generate_in_process(root, jobs=1)
    one = sha256_file(dataset(root, "t", "s"))
    generate_in_process(root, jobs=2, force=True)
    assert sha256_file(dataset(root, "t", "s")) == one
    lines = dataset(root, "t", "s").read_bytes().splitlines()
    write_file(
        root / "templates" / "t.yaml",
        {"seed": 7, "datasets": {"s": {"schema": "s", "count": 30_100}}},
    )
    generate_in_process(root)
    grown = dataset(root, "t", "s").read_bytes().splitlines()
    assert grown[:30_000] == lines  # raising the count only appends rows


def test_inference_names_and_their_overrides(tmp_path: Path) -> None:
    names = ["created_at", "avatar_url", "currency", "amount", "status", "slug", "sku", "iban"]
    props: dict[str, Any] = {n: {"type": "string"} for n in names}
    props |= {"ip_address": {"type": "string"}, "user_agent": {"type": "string"}}
    props |= {"latitude": {"type": "number"}, "longitude": {"type": "number"}}
    props["postal_code"] = {"type": "string", "x-tdm": {"generator": "constant", "value": "X"}}
    schema = {"type": "object", "required": list(props), "properties": props}
    rows = _generate(tmp_path, schema, 40)
    row = rows[0]
    assert row["created_at"].endswith("Z") and "T" in row["created_at"]
    assert row["avatar_url"].startswith("https://")
    assert len(row["currency"]) == 3 and row["currency"].isupper()
    assert float(row["amount"]) > 0
    assert {r["status"] for r in rows} <= {"active", "pending", "inactive", "archived"}
    assert all("-" in r["sku"] for r in rows)
    assert row["iban"][:2].isalpha()
    assert row["ip_address"].count(".") == 3
    assert all(-90 <= r["latitude"] <= 90 and -180 <= r["longitude"] <= 180 for r in rows)
    assert {r["postal_code"] for r in rows} == {"X"}  # x-tdm wins over the name


def test_unknown_dialect_is_named_by_the_planner_too() -> None:
    from tdm.jsonschema_norm import dialect_of

    with pytest.raises(UserError, match="draft-04"):
        dialect_of({"$schema": "http://json-schema.org/draft-04/schema#"}, "schemas/x.yaml")
    assert dialect_of({}, "x").endswith("2020-12/schema")


def test_a_unique_key_with_a_pattern_is_unique_by_construction(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "x-tdm": {"primary_key": "id"},
        "required": ["id", "ref"],
        "properties": {
            "id": {"type": "string", "pattern": "^SHP-[0-9]{5}$"},
            "ref": {"type": "string", "pattern": "^[a-f0-9]{24}$", "x-tdm": {"unique": True}},
        },
    }
    rows = _generate(tmp_path, schema, 5_000)
    assert len({r["id"] for r in rows}) == 5_000
    assert len({r["ref"] for r in rows}) == 5_000


def test_unique_on_the_checked_path_is_refused(tmp_path: Path) -> None:
    schema = _record({"code": {"type": "integer", "not": {"const": 3}, "x-tdm": {"unique": True}}})
    root = one_dataset_project(tmp_path / "p", schema, 10)
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert "'code'" in result.stderr and "unique" in result.stderr
    small = {"type": "string", "pattern": "^[AB]{2}$", "x-tdm": {"unique": True}}
    write_file(root / "schemas" / "s.yaml", _record({"code": small}))
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert "'code'" in result.stderr and "4 distinct values" in result.stderr
    branches = {"type": "string", "pattern": "^(ab|cd)[0-9]{4}$", "x-tdm": {"unique": True}}
    write_file(root / "schemas" / "s.yaml", _record({"code": branches}))
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2, result.output
    assert "'code'" in result.stderr and "fixed-width parts" in result.stderr


def test_property_max_depth_is_read_and_checked(tmp_path: Path) -> None:
    tree = {
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}},
    }
    schema = {
        "type": "object",
        "required": ["tree"],
        "properties": {"tree": {"$ref": "#/$defs/tree", "x-tdm": {"max_depth": 0}}},
        "$defs": {"tree": tree},
    }
    rows = _generate(tmp_path, schema, 50)
    assert max(json.dumps(r).count("kids") for r in rows) <= 2  # the plain level, then none
    schema["properties"]["tree"]["x-tdm"]["max_depth"] = 99
    root = one_dataset_project(tmp_path / "q", schema, 5)
    result = tdm("generate", "--repo", root)
    assert result.exit_code == 2 and "max_depth" in result.stderr, result.output

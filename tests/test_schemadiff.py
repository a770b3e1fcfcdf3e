"""Unit tests for :mod:`tdm.schemadiff`: every change classified by effect and mode.

The expected verdicts are derived here, independently of the module, from the rules
it documents (Confluent Schema Registry's JSON Schema compatibility):

- ``widen`` breaks forward and full; ``narrow`` breaks backward and full;
  ``change`` breaks every mode; ``none`` breaks no mode;
- a required property added with a ``default`` is backward compatible;
- a changed primary key is breaking in every mode.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdm.schemadiff import COMPAT_MODES, Compat, SchemaChange, compare

Schema = dict[str, Any]
Breaks = tuple[bool, bool, bool]  # backward, forward, full

#: the rule table, written out here rather than read from the module
RULES: dict[str, Breaks] = {
    "widen": (False, True, True),
    "narrow": (True, False, True),
    "change": (True, True, True),
    "none": (False, False, False),
}
MODES: tuple[Compat, ...] = ("backward", "forward", "full")


def obj(
    props: Schema | None = None,
    *,
    closed: bool = False,
    required: list[str] | None = None,
    **extra: Any,
) -> Schema:
    """An object schema; ``closed`` sets ``additionalProperties: false``."""
    schema: Schema = {"type": "object", "properties": dict(props or {})}
    if required is not None:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}


def breaks(change: SchemaChange) -> Breaks:
    return (
        change.breaking("backward"),
        change.breaking("forward"),
        change.breaking("full"),
    )


def summary(changes: list[SchemaChange]) -> list[tuple[str, str, str]]:
    return [(c.path, c.kind, c.effect) for c in changes]


class Case(NamedTuple):
    id: str
    old: Schema | bool
    new: Schema | bool
    expected: list[tuple[str, str, str]]  # (path, kind, effect), in order


# ---------------------------------------------------------------------- the table

PROPERTY_CASES = [
    Case(
        "property removed from open object",
        obj({"a": STR, "b": STR}),
        obj({"a": STR}),
        [("b", "property_removed", "widen")],
    ),
    Case(
        "property removed from closed object",
        obj({"a": STR, "b": STR}, closed=True),
        obj({"a": STR}, closed=True),
        [("b", "property_removed", "narrow")],
    ),
    Case(
        "property removed, covered by additionalProperties schema",
        obj({"a": STR}, additionalProperties=STR),
        obj({}, additionalProperties=STR),
        [("a", "property_removed", "widen")],
    ),
    Case(
        "property removed, not covered by additionalProperties schema",
        obj({"a": STR}, additionalProperties=INT),
        obj({}, additionalProperties=INT),
        [("a", "property_removed", "change")],
    ),
    Case(
        "optional property added to open object",
        obj({"a": STR}),
        obj({"a": STR, "b": STR}),
        [("b", "property_added", "narrow")],
    ),
    Case(
        "optional property added to closed object",
        obj({"a": STR}, closed=True),
        obj({"a": STR, "b": STR}, closed=True),
        [("b", "property_added", "widen")],
    ),
    Case(
        "property accepting any value added to open object",
        obj({"a": STR}),
        obj({"a": STR, "b": {}}),
        [("b", "property_added", "none")],
    ),
    Case(
        "property added to partially open object, narrower than additionalProperties",
        obj({}, additionalProperties=STR),
        obj({"b": {"type": "string", "maxLength": 3}}, additionalProperties=STR),
        [("b", "property_added", "narrow")],
    ),
    Case(
        "property added to partially open object, wider than additionalProperties",
        obj({}, additionalProperties=STR),
        obj({"b": {"type": ["string", "null"]}}, additionalProperties=STR),
        [("b", "property_added", "widen")],
    ),
    Case(
        "required property without default added to open object",
        obj({"a": STR}),
        obj({"a": STR, "b": STR}, required=["b"]),
        [("b", "property_added", "narrow"), ("b", "required_added", "narrow")],
    ),
    Case(
        "required property without default added to closed object",
        obj({"a": STR}, closed=True),
        obj({"a": STR, "b": STR}, closed=True, required=["b"]),
        [("b", "property_added", "widen"), ("b", "required_added", "narrow")],
    ),
    Case(
        "existing property became required (no default)",
        obj({"a": STR}),
        obj({"a": STR}, required=["a"]),
        [("a", "required_added", "narrow")],
    ),
    Case(
        "property no longer required",
        obj({"a": STR}, required=["a"]),
        obj({"a": STR}),
        [("a", "required_removed", "widen")],
    ),
    Case(
        "property schema true -> false",
        obj({"a": True}),
        obj({"a": False}),
        [("a", "schema_changed", "narrow")],
    ),
    Case(
        "property schema false -> true",
        obj({"a": False}),
        obj({"a": True}),
        [("a", "schema_changed", "widen")],
    ),
    Case(
        "property schema {} -> false",
        obj({"a": {}}),
        obj({"a": False}),
        [("a", "schema_changed", "narrow")],
    ),
    Case(
        "property schema false -> string",
        obj({"a": False}),
        obj({"a": STR}),
        [("a", "schema_changed", "widen")],
    ),
]

TYPE_CASES = [
    Case("integer -> number", INT, {"type": "number"}, [("", "type_widened", "widen")]),
    Case("number -> integer", {"type": "number"}, INT, [("", "type_narrowed", "narrow")]),
    Case(
        "string -> [string, null]",
        STR,
        {"type": ["string", "null"]},
        [("", "type_widened", "widen")],
    ),
    Case(
        "[string, null] -> string",
        {"type": ["string", "null"]},
        STR,
        [("", "type_narrowed", "narrow")],
    ),
    Case("string -> integer", STR, INT, [("", "type_changed", "change")]),
    Case(
        "[string, integer] -> [string, boolean]",
        {"type": ["string", "integer"]},
        {"type": ["string", "boolean"]},
        [("", "type_changed", "change")],
    ),
    Case("type added", {}, STR, [("", "type_narrowed", "narrow")]),
    Case("type removed", STR, {}, [("", "type_widened", "widen")]),
    Case(
        "type list reordered",
        {"type": ["string", "null"]},
        {"type": ["null", "string"]},
        [],
    ),
    Case(
        "type of a property narrowed",
        obj({"n": {"type": "number"}}),
        obj({"n": INT}),
        [("n", "type_narrowed", "narrow")],
    ),
]

VALUE_CASES = [
    Case(
        "enum values added",
        {"enum": ["a", "b"]},
        {"enum": ["a", "b", "c"]},
        [("", "enum_extended", "widen")],
    ),
    Case(
        "enum values removed",
        {"enum": ["a", "b", "c"]},
        {"enum": ["a", "b"]},
        [("", "enum_narrowed", "narrow")],
    ),
    Case(
        "enum values added and removed",
        {"enum": ["a", "b"]},
        {"enum": ["a", "c"]},
        [("", "enum_changed", "change")],
    ),
    Case("enum reordered", {"enum": ["a", "b"]}, {"enum": ["b", "a"]}, []),
    Case("enum added", STR, {"type": "string", "enum": ["a"]}, [("", "enum_added", "narrow")]),
    Case("enum removed", {"type": "string", "enum": ["a"]}, STR, [("", "enum_removed", "widen")]),
    Case(
        "enum of a property extended",
        obj({"s": {"enum": [1, 2]}}),
        obj({"s": {"enum": [1, 2, 3]}}),
        [("s", "enum_extended", "widen")],
    ),
    Case("const added", STR, {"type": "string", "const": "x"}, [("", "const_added", "narrow")]),
    Case("const changed", {"const": "x"}, {"const": "y"}, [("", "const_changed", "change")]),
    Case("const removed", {"const": "x"}, {}, [("", "const_removed", "widen")]),
    Case("const 1 -> true", {"const": 1}, {"const": True}, [("", "const_changed", "change")]),
]

_LOWER = [
    ("minimum", "minimum"),
    ("exclusiveMinimum", "exclusive_minimum"),
    ("minLength", "min_length"),
    ("minItems", "min_items"),
    ("minProperties", "min_properties"),
    ("minContains", "min_contains"),
]
_UPPER = [
    ("maximum", "maximum"),
    ("exclusiveMaximum", "exclusive_maximum"),
    ("maxLength", "max_length"),
    ("maxItems", "max_items"),
    ("maxProperties", "max_properties"),
    ("maxContains", "max_contains"),
]


def _bound_cases() -> list[Case]:
    cases = []
    for (word, snake), lower in [*((w, True) for w in _LOWER), *((w, False) for w in _UPPER)]:
        # raising a lower bound or lowering an upper bound tightens
        before, after = (5, 10) if lower else (10, 5)
        tightened = f"{snake}_{'increased' if lower else 'decreased'}"
        loosened = f"{snake}_{'decreased' if lower else 'increased'}"
        cases += [
            Case(f"{word} tightened", {word: before}, {word: after}, [("", tightened, "narrow")]),
            Case(f"{word} loosened", {word: after}, {word: before}, [("", loosened, "widen")]),
            Case(f"{word} added", {}, {word: 3}, [("", f"{snake}_added", "narrow")]),
            Case(f"{word} removed", {word: 3}, {}, [("", f"{snake}_removed", "widen")]),
            Case(f"{word} 3 -> 3.0", {word: 3}, {word: 3.0}, []),
        ]
    return cases


BOUND_CASES = [
    *_bound_cases(),
    Case(
        "maxLength of a nested property tightened",
        obj({"address": obj({"city": {"type": "string", "maxLength": 50}})}),
        obj({"address": obj({"city": {"type": "string", "maxLength": 20}})}),
        [("address.city", "max_length_decreased", "narrow")],
    ),
    Case(
        "minimum not a number",
        {"minimum": "1"},
        {"minimum": 1},
        [("", "minimum_changed", "change")],
    ),
    Case(
        "multipleOf 2 -> 4",
        {"multipleOf": 2},
        {"multipleOf": 4},
        [("", "multiple_of_changed", "narrow")],
    ),
    Case(
        "multipleOf 4 -> 2",
        {"multipleOf": 4},
        {"multipleOf": 2},
        [("", "multiple_of_changed", "widen")],
    ),
    Case(
        "multipleOf 2 -> 3",
        {"multipleOf": 2},
        {"multipleOf": 3},
        [("", "multiple_of_changed", "change")],
    ),
    Case(
        "multipleOf 0.1 -> 0.2 (float)",
        {"multipleOf": 0.1},
        {"multipleOf": 0.2},
        [("", "multiple_of_changed", "narrow")],
    ),
    Case(
        "multipleOf 0.5 -> 0.25 (float)",
        {"multipleOf": 0.5},
        {"multipleOf": 0.25},
        [("", "multiple_of_changed", "widen")],
    ),
    Case("multipleOf 2 -> 2.0", {"multipleOf": 2}, {"multipleOf": 2.0}, []),
    Case("multipleOf added", {}, {"multipleOf": 2}, [("", "multiple_of_added", "narrow")]),
    Case("multipleOf removed", {"multipleOf": 2}, {}, [("", "multiple_of_removed", "widen")]),
    Case(
        "uniqueItems added",
        {"type": "array"},
        {"type": "array", "uniqueItems": True},
        [("", "unique_items_added", "narrow")],
    ),
    Case(
        "uniqueItems removed",
        {"type": "array", "uniqueItems": True},
        {"type": "array"},
        [("", "unique_items_removed", "widen")],
    ),
    Case("uniqueItems false -> absent", {"uniqueItems": False}, {}, []),
]

STRING_CASES = [
    Case("pattern added", STR, {**STR, "pattern": "^a"}, [("", "pattern_added", "narrow")]),
    Case(
        "pattern changed",
        {**STR, "pattern": "^a"},
        {**STR, "pattern": "^b"},
        [("", "pattern_changed", "change")],
    ),
    Case("pattern removed", {**STR, "pattern": "^a"}, STR, [("", "pattern_removed", "widen")]),
    Case("format added", STR, {**STR, "format": "email"}, [("", "format_added", "narrow")]),
    Case(
        "format changed",
        {**STR, "format": "email"},
        {**STR, "format": "uri"},
        [("", "format_changed", "change")],
    ),
    Case("format removed", {**STR, "format": "email"}, STR, [("", "format_removed", "widen")]),
    Case(
        "pattern of a nested property added",
        obj({"user": obj({"email": STR})}),
        obj({"user": obj({"email": {**STR, "pattern": "@"}})}),
        [("user.email", "pattern_added", "narrow")],
    ),
]

ADDITIONAL_CASES = [
    Case(
        "additionalProperties closed",
        obj({"a": STR}),
        obj({"a": STR}, closed=True),
        [("", "additional_properties_closed", "narrow")],
    ),
    Case(
        "additionalProperties true -> false",
        obj({"a": STR}, additionalProperties=True),
        obj({"a": STR}, closed=True),
        [("", "additional_properties_closed", "narrow")],
    ),
    Case(
        "additionalProperties opened",
        obj({"a": STR}, closed=True),
        obj({"a": STR}),
        [("", "additional_properties_opened", "widen")],
    ),
    Case(
        "additionalProperties absent -> true",
        obj({"a": STR}),
        obj({"a": STR}, additionalProperties=True),
        [],
    ),
    Case(
        "additionalProperties schema widened",
        obj({}, additionalProperties=STR),
        obj({}, additionalProperties={"type": ["string", "null"]}),
        [("", "additional_properties_changed", "widen")],
    ),
    Case(
        "additionalProperties schema narrowed",
        obj({}, additionalProperties={"type": ["string", "null"]}),
        obj({}, additionalProperties=STR),
        [("", "additional_properties_changed", "narrow")],
    ),
    Case(
        "additionalProperties schema changed",
        obj({}, additionalProperties=STR),
        obj({}, additionalProperties=INT),
        [("", "additional_properties_changed", "change")],
    ),
    Case(
        "additionalProperties true -> schema",
        obj({}),
        obj({}, additionalProperties=STR),
        [("", "additional_properties_changed", "narrow")],
    ),
    Case(
        "additionalProperties schema -> false",
        obj({}, additionalProperties=STR),
        obj({}, closed=True),
        [("", "additional_properties_changed", "narrow")],
    ),
    Case(
        "nested object closed",
        obj({"address": obj({"city": STR})}),
        obj({"address": obj({"city": STR}, closed=True)}),
        [("address", "additional_properties_closed", "narrow")],
    ),
]

NESTED_CASES = [
    Case(
        "property added to a nested closed object",
        obj({"address": obj({"city": STR}, closed=True)}),
        obj({"address": obj({"city": STR, "zip": STR}, closed=True)}),
        [("address.zip", "property_added", "widen")],
    ),
    Case(
        "property removed from a nested open object",
        obj({"address": obj({"city": STR, "zip": STR})}),
        obj({"address": obj({"city": STR})}),
        [("address.zip", "property_removed", "widen")],
    ),
    Case(
        "nested property became required",
        obj({"address": obj({"city": STR})}),
        obj({"address": obj({"city": STR}, required=["city"])}),
        [("address.city", "required_added", "narrow")],
    ),
    Case(
        "three levels deep",
        obj({"a": obj({"b": obj({"c": INT})})}),
        obj({"a": obj({"b": obj({"c": STR})})}),
        [("a.b.c", "type_changed", "change")],
    ),
    Case(
        "array items type changed",
        obj({"tags": {"type": "array", "items": STR}}),
        obj({"tags": {"type": "array", "items": INT}}),
        [("tags[]", "type_changed", "change")],
    ),
    Case(
        "array items loosened",
        obj({"tags": {"type": "array", "items": {**STR, "maxLength": 10}}}),
        obj({"tags": {"type": "array", "items": {**STR, "maxLength": 20}}}),
        [("tags[]", "max_length_increased", "widen")],
    ),
    Case(
        "array items added",
        obj({"tags": {"type": "array"}}),
        obj({"tags": {"type": "array", "items": STR}}),
        [("tags[]", "type_narrowed", "narrow")],
    ),
    Case(
        "array items removed",
        obj({"tags": {"type": "array", "items": STR}}),
        obj({"tags": {"type": "array"}}),
        [("tags[]", "type_widened", "widen")],
    ),
    Case(
        "array maxItems tightened",
        obj({"tags": {"type": "array", "maxItems": 5}}),
        obj({"tags": {"type": "array", "maxItems": 3}}),
        [("tags", "max_items_decreased", "narrow")],
    ),
    Case(
        "object inside array items",
        obj({"orders": {"type": "array", "items": obj({"qty": INT})}}),
        obj({"orders": {"type": "array", "items": obj({"qty": {**INT, "minimum": 1}})}}),
        [("orders[].qty", "minimum_added", "narrow")],
    ),
    Case(
        "root array items",
        {"type": "array", "items": STR},
        {"type": "array", "items": {"type": ["string", "null"]}},
        [("[]", "type_widened", "widen")],
    ),
    Case(
        "tuple items (draft-07 list form)",
        {"items": [STR]},
        {"items": [INT, {"type": "null"}]},
        [("[items][0]", "type_changed", "change"), ("[items]", "items_changed", "change")],
    ),
    Case(
        "prefixItems position changed",
        {"prefixItems": [STR]},
        {"prefixItems": [{"type": ["string", "null"]}]},
        [("[prefixItems][0]", "type_widened", "widen")],
    ),
]

_POSTAL_OLD: Schema = {"type": "string", "maxLength": 10}
_POSTAL_NEW: Schema = {"type": "string", "maxLength": 5}

DEFS_CASES = [
    Case(
        "$defs entry tightened",
        {"$defs": {"postal": _POSTAL_OLD}, **obj({"zip": {"$ref": "#/$defs/postal"}})},
        {"$defs": {"postal": _POSTAL_NEW}, **obj({"zip": {"$ref": "#/$defs/postal"}})},
        [("$defs.postal", "max_length_decreased", "narrow")],
    ),
    Case(
        "property inside a $defs object",
        {"$defs": {"address": obj({"city": STR})}},
        {"$defs": {"address": obj({"city": INT})}},
        [("$defs.address.city", "type_changed", "change")],
    ),
    Case(
        "definitions (draft-07) entry widened",
        {"definitions": {"n": INT}},
        {"definitions": {"n": {"type": "number"}}},
        [("definitions.n", "type_widened", "widen")],
    ),
    Case(
        "$defs entry added",
        {"$defs": {"a": STR}},
        {"$defs": {"a": STR, "b": INT}},
        [("$defs.b", "definition_added", "none")],
    ),
    Case(
        "$defs entry removed",
        {"$defs": {"a": STR, "b": INT}},
        {"$defs": {"a": STR}},
        [("$defs.b", "definition_removed", "change")],
    ),
    Case(
        "$ref changed to a wider def",
        {
            "$defs": {"short": _POSTAL_NEW, "long": _POSTAL_OLD},
            **obj({"zip": {"$ref": "#/$defs/short"}}),
        },
        {
            "$defs": {"short": _POSTAL_NEW, "long": _POSTAL_OLD},
            **obj({"zip": {"$ref": "#/$defs/long"}}),
        },
        [("zip", "ref_changed", "widen")],
    ),
    Case(
        "$ref changed to a narrower def",
        {
            "$defs": {"short": _POSTAL_NEW, "long": _POSTAL_OLD},
            **obj({"zip": {"$ref": "#/$defs/long"}}),
        },
        {
            "$defs": {"short": _POSTAL_NEW, "long": _POSTAL_OLD},
            **obj({"zip": {"$ref": "#/$defs/short"}}),
        },
        [("zip", "ref_changed", "narrow")],
    ),
    Case(
        "$ref changed to an unrelated def",
        {"$defs": {"s": STR, "i": INT}, **obj({"v": {"$ref": "#/$defs/s"}})},
        {"$defs": {"s": STR, "i": INT}, **obj({"v": {"$ref": "#/$defs/i"}})},
        [("v", "ref_changed", "change")],
    ),
    Case(
        "$ref changed to an identical def",
        {"$defs": {"a": STR, "b": STR}, **obj({"v": {"$ref": "#/$defs/a"}})},
        {"$defs": {"a": STR, "b": STR}, **obj({"v": {"$ref": "#/$defs/b"}})},
        [("v", "ref_changed", "none")],
    ),
    Case(
        "$ref changed to an unresolvable target",
        {"$defs": {"a": STR}, **obj({"v": {"$ref": "#/$defs/a"}})},
        {"$defs": {"a": STR}, **obj({"v": {"$ref": "other.json#/a"}})},
        [("v", "ref_changed", "change")],
    ),
    Case(
        "$ref added to an unconstrained property",
        {"$defs": {"a": STR}, **obj({"v": {}})},
        {"$defs": {"a": STR}, **obj({"v": {"$ref": "#/$defs/a"}})},
        [("v", "ref_changed", "narrow")],
    ),
    Case(
        "$ref unchanged, target unchanged",
        {"$defs": {"a": STR}, **obj({"v": {"$ref": "#/$defs/a"}})},
        {"$defs": {"a": STR}, **obj({"v": {"$ref": "#/$defs/a"}})},
        [],
    ),
]

COMBINATOR_CASES = [
    Case(
        "anyOf branch added",
        {"anyOf": [STR]},
        {"anyOf": [STR, INT]},
        [("", "any_of_extended", "widen")],
    ),
    Case(
        "anyOf branch removed",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR]},
        [("", "any_of_narrowed", "narrow")],
    ),
    Case(
        "oneOf branch added",
        {"oneOf": [STR]},
        {"oneOf": [STR, INT]},
        [("", "one_of_extended", "widen")],
    ),
    Case(
        "oneOf branch removed",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR]},
        [("", "one_of_narrowed", "narrow")],
    ),
    Case(
        "allOf branch added",
        {"allOf": [STR]},
        {"allOf": [STR, {"maxLength": 3}]},
        [("", "all_of_extended", "narrow")],
    ),
    Case(
        "allOf branch removed",
        {"allOf": [STR, {"maxLength": 3}]},
        {"allOf": [STR]},
        [("", "all_of_narrowed", "widen")],
    ),
    Case("anyOf added", {}, {"anyOf": [STR, INT]}, [("", "any_of_added", "narrow")]),
    Case("anyOf removed", {"anyOf": [STR, INT]}, {}, [("", "any_of_removed", "widen")]),
    Case("oneOf added", {}, {"oneOf": [STR, INT]}, [("", "one_of_added", "narrow")]),
    Case("allOf removed", {"allOf": [STR]}, {}, [("", "all_of_removed", "widen")]),
    Case("anyOf reordered", {"anyOf": [STR, INT]}, {"anyOf": [INT, STR]}, []),
    Case(
        "anyOf branch loosened inside a property",
        obj({"x": {"anyOf": [{**STR, "maxLength": 5}, INT]}}),
        obj({"x": {"anyOf": [{**STR, "maxLength": 10}, INT]}}),
        [("x[anyOf]", "max_length_increased", "widen")],
    ),
    Case("not added", {}, {"not": STR}, [("", "not_added", "narrow")]),
    Case("not removed", {"not": STR}, {}, [("", "not_removed", "widen")]),
    Case("not changed", {"not": STR}, {"not": INT}, [("", "not_changed", "change")]),
]

ANNOTATION_CASES = [
    Case("title changed", {"title": "A"}, {"title": "B"}, [("", "title_changed", "none")]),
    Case(
        "description added to a property",
        obj({"name": STR}),
        obj({"name": {**STR, "description": "the name"}}),
        [("name", "description_changed", "none")],
    ),
    Case(
        "examples changed",
        {"examples": [1]},
        {"examples": [2]},
        [("", "examples_changed", "none")],
    ),
    Case(
        "$comment changed", {"$comment": "a"}, {"$comment": "b"}, [("", "comment_changed", "none")]
    ),
    Case("default changed", {"default": 1}, {"default": 2}, [("", "default_changed", "none")]),
    Case("deprecated added", {}, {"deprecated": True}, [("", "deprecated_changed", "none")]),
    Case(
        "readOnly changed in a property",
        obj({"x": {"readOnly": True}}),
        obj({"x": {"readOnly": False}}),
        [("x", "read_only_changed", "none")],
    ),
    Case(
        "x-tdm generator hint changed in a property",
        obj({"email": {**STR, "x-tdm": {"faker": "email"}}}),
        obj({"email": {**STR, "x-tdm": {"faker": "company_email"}}}),
        [("email", "generator_changed", "none")],
    ),
    Case(
        "x-tdm generator hint added to a property",
        obj({"email": STR}),
        obj({"email": {**STR, "x-tdm": {"faker": "email"}}}),
        [("email", "generator_changed", "none")],
    ),
    Case(
        "top-level x-tdm hint other than the primary key",
        {"x-tdm": {"primary_key": "id", "rows": 10}, **obj({"id": INT})},
        {"x-tdm": {"primary_key": "id", "rows": 20}, **obj({"id": INT})},
        [("", "generator_changed", "none")],
    ),
    Case("$id changed", {"$id": "a"}, {"$id": "b"}, []),
]

UNKNOWN_CASES = [
    Case(
        "unknown keyword added",
        obj({}),
        obj({}, propertyNames={"maxLength": 3}),
        [("", "keyword_changed", "change")],
    ),
    Case(
        "unknown keyword changed in a property",
        obj({"meta": obj({}, dependentRequired={"a": ["b"]})}),
        obj({"meta": obj({}, dependentRequired={"a": ["c"]})}),
        [("meta", "keyword_changed", "change")],
    ),
    Case(
        "unknown keyword removed",
        {"contains": STR},
        {},
        [("", "keyword_changed", "change")],
    ),
    Case(
        "non-schema value -> schema",
        obj({"a": "nonsense"}),
        obj({"a": STR}),
        [("a", "schema_changed", "change")],
    ),
]

_RICH: Schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "customer",
    "x-tdm": {"primary_key": "id"},
    "$defs": {"postal": {"type": "string", "pattern": "^[0-9]{5}$"}},
    **obj(
        {
            "id": {"type": "integer", "minimum": 1},
            "email": {"type": "string", "format": "email", "x-tdm": {"faker": "email"}},
            "tags": {"type": "array", "items": STR, "uniqueItems": True},
            "address": obj({"zip": {"$ref": "#/$defs/postal"}}, closed=True),
            "kind": {"anyOf": [{"enum": ["a", "b"]}, {"const": 3}]},
        },
        required=["id"],
    ),
}

IDENTICAL_CASES = [
    Case("identical empty schemas", {}, {}, []),
    Case("identical booleans", True, True, []),
    Case("identical rich schema", _RICH, _RICH, []),
    Case("rich schema, keys reordered", _RICH, dict(reversed(list(_RICH.items()))), []),
]

ALL_CASES = [
    *PROPERTY_CASES,
    *TYPE_CASES,
    *VALUE_CASES,
    *BOUND_CASES,
    *STRING_CASES,
    *ADDITIONAL_CASES,
    *NESTED_CASES,
    *DEFS_CASES,
    *COMBINATOR_CASES,
    *ANNOTATION_CASES,
    *UNKNOWN_CASES,
    *IDENTICAL_CASES,
]
_ids = [case.id for case in ALL_CASES]
assert len(_ids) == len(set(_ids)), "case ids must be unique"


@pytest.mark.parametrize("case", ALL_CASES, ids=_ids)
def test_classification(case: Case) -> None:
    changes = compare(case.old, case.new)
    assert summary(changes) == case.expected
    for change in changes:
        assert breaks(change) == RULES[change.effect], change
        assert not change.default_fills
        assert not change.always_breaking
        assert isinstance(change.detail, str) and change.detail
        verdicts: dict[str, bool] = {}
        for mode in MODES:
            reason = change.reason(mode)
            assert isinstance(reason, str) and reason.strip()
            assert "\n" not in reason
            # one wording never stands for both a breaking and a compatible verdict
            assert verdicts.setdefault(reason, change.breaking(mode)) == change.breaking(mode)


def test_no_reason_is_used_for_both_verdicts() -> None:
    seen: dict[str, set[bool]] = {}
    for case in ALL_CASES:
        for change in compare(case.old, case.new):
            for mode in MODES:
                seen.setdefault(change.reason(mode), set()).add(change.breaking(mode))
    both = {reason for reason, verdicts in seen.items() if len(verdicts) > 1}
    assert not both
    assert any(True in v for v in seen.values()) and any(False in v for v in seen.values())


def test_reason_differs_between_breaking_and_compatible_modes() -> None:
    [change] = compare(obj({"a": STR}), obj({"a": STR}, required=["a"]))
    assert change.effect == "narrow"
    assert change.breaking("backward") and not change.breaking("forward")
    assert change.reason("backward") != change.reason("forward")
    [widen] = compare(obj({"a": STR}, required=["a"]), obj({"a": STR}))
    assert widen.reason("forward") != widen.reason("backward")
    # a breaking and a compatible change under the same mode read differently too
    assert change.reason("backward") != widen.reason("backward")


def test_reason_for_annotation_and_generator_changes() -> None:
    [title] = compare({"title": "a"}, {"title": "b"})
    [hint] = compare(obj({"x": {"x-tdm": {"faker": "a"}}}), obj({"x": {"x-tdm": {"faker": "b"}}}))
    for mode in MODES:
        assert title.reason(mode) and hint.reason(mode)
        assert title.reason(mode) != hint.reason(mode)


def test_mode_constants() -> None:
    assert COMPAT_MODES == MODES


# ---------------------------------------------------------------------- required with default


def test_required_property_with_default_added_to_closed_object() -> None:
    old = obj({"a": STR}, closed=True)
    new = obj({"a": STR, "b": {**STR, "default": "x"}}, closed=True, required=["b"])
    changes = compare(old, new)
    assert summary(changes) == [
        ("b", "property_added", "widen"),
        ("b", "required_added", "narrow"),
    ]
    added, required = changes
    assert not added.default_fills
    assert required.default_fills
    assert breaks(added) == RULES["widen"]
    assert not required.breaking("backward")
    assert not required.breaking("forward")
    # the schema as a whole: readers of old data fill the default in, but old
    # readers (closed object) reject data that carries the new property
    verdict = {mode: any(c.breaking(mode) for c in changes) for mode in MODES}
    assert verdict == {"backward": False, "forward": True, "full": True}
    assert "default" in required.detail
    assert required.reason("backward") == required.reason("full")  # compatible in both


def test_existing_property_with_default_became_required() -> None:
    old = obj({"a": {**STR, "default": "x"}})
    new = obj({"a": {**STR, "default": "x"}}, required=["a"])
    [change] = compare(old, new)
    assert (change.path, change.kind, change.effect) == ("a", "required_added", "narrow")
    assert change.default_fills
    assert not change.breaking("backward")
    assert not change.breaking("forward")
    assert change.reason("backward") and "\n" not in change.reason("backward")


def test_required_with_default_is_compatible_under_full() -> None:
    old = obj({"a": {**STR, "default": "x"}})
    new = obj({"a": {**STR, "default": "x"}}, required=["a"])
    [change] = compare(old, new)
    assert change.breaking("full") == (change.breaking("backward") or change.breaking("forward"))


def test_required_property_with_default_added_to_open_object_still_breaks_backward() -> None:
    # Confluent: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL is incompatible whatever the default
    old = obj({"a": STR})
    new = obj({"a": STR, "b": {**STR, "default": "x"}}, required=["b"])
    changes = compare(old, new)
    assert summary(changes) == [
        ("b", "property_added", "narrow"),
        ("b", "required_added", "narrow"),
    ]
    added, required = changes
    assert required.default_fills and not required.breaking("backward")
    assert added.breaking("backward")
    assert any(c.breaking("backward") for c in changes)


def test_required_without_default_does_not_fill() -> None:
    changes = compare(obj({"a": STR}), obj({"a": STR}, required=["a"]))
    assert [c.default_fills for c in changes] == [False]


# ---------------------------------------------------------------------- primary key


@pytest.mark.parametrize(
    ("old_pk", "new_pk"),
    [("id", "key"), (None, "id"), ("id", None)],
    ids=["changed", "added", "removed"],
)
def test_primary_key_change_breaks_every_mode(old_pk: str | None, new_pk: str | None) -> None:
    base = obj({"id": INT, "key": STR})
    old = {**base, **({"x-tdm": {"primary_key": old_pk}} if old_pk else {})}
    new = {**base, **({"x-tdm": {"primary_key": new_pk}} if new_pk else {})}
    [change] = compare(old, new)
    assert (change.path, change.kind) == ("", "primary_key_changed")
    assert change.always_breaking
    assert breaks(change) == (True, True, True)
    reasons = {change.reason(mode) for mode in MODES}
    assert len(reasons) == 1 and all(r and "\n" not in r for r in reasons)
    assert str(old_pk or "(none)") in change.detail and str(new_pk or "(none)") in change.detail


def test_primary_key_change_with_other_hints_and_property_changes() -> None:
    old = {"x-tdm": {"primary_key": "id", "rows": 5}, **obj({"id": INT, "key": STR})}
    new = {"x-tdm": {"primary_key": "key", "rows": 9}, **obj({"id": INT, "key": INT})}
    changes = compare(old, new)
    assert summary(changes) == [
        ("", "primary_key_changed", "none"),
        ("key", "type_changed", "change"),
        ("", "generator_changed", "none"),
    ]
    assert changes[0].always_breaking
    assert "primary_key" not in changes[2].detail
    assert breaks(changes[2]) == RULES["none"]


def test_primary_key_hint_in_a_property_is_a_generator_hint() -> None:
    old = obj({"child": {**obj({}), "x-tdm": {"primary_key": "a"}}})
    new = obj({"child": {**obj({}), "x-tdm": {"primary_key": "b"}}})
    assert summary(compare(old, new)) == [("child", "generator_changed", "none")]


def test_unchanged_primary_key_is_not_reported() -> None:
    schema = {"x-tdm": {"primary_key": "id"}, **obj({"id": INT})}
    assert compare(schema, {**schema, "title": "t"}) == [
        SchemaChange("", "title_changed", "title changed", "none")
    ]


# ---------------------------------------------------------------------- details and order


def test_detail_texts() -> None:
    [c] = compare(
        obj({"address": obj({"city": {"maxLength": 50}})}),
        obj({"address": obj({"city": {"maxLength": 20}})}),
    )
    assert c.detail == "address.city: maxLength 50 -> 20"
    [c] = compare({"maxLength": 120}, {"maxLength": 80})
    assert c.detail == "maxLength 120 -> 80"
    [c] = compare({"enum": ["a", "b"]}, {"enum": ["a", "c"]})
    assert c.detail == 'enum removed ["b"], added ["c"]'
    [c] = compare(
        obj({"e": {"x-tdm": {"faker": "email"}}}), obj({"e": {"x-tdm": {"locale": "de"}}})
    )
    assert c.detail == 'e: x-tdm faker "email" -> (unset); locale (unset) -> "de"'


def test_long_values_are_shortened_in_details() -> None:
    [c] = compare({"const": "x" * 200}, {"const": "y" * 200})
    assert len(c.detail) < 160 and "…" in c.detail


def test_order_primary_key_then_defs_then_root() -> None:
    old = {"x-tdm": {"primary_key": "a"}, "$defs": {"d": STR}, **obj({"a": INT})}
    new = {"x-tdm": {"primary_key": "b"}, "$defs": {"d": INT}, **obj({"a": STR})}
    assert [c.path for c in compare(old, new)] == ["", "$defs.d", "a"]
    assert compare(old, new)[0].kind == "primary_key_changed"


def test_properties_listed_old_order_then_new_additions() -> None:
    old = obj({"b": STR, "a": STR, "c": STR})
    new = obj({"a": INT, "z": STR, "b": INT, "y": STR})
    assert [(c.path, c.kind) for c in compare(old, new)] == [
        ("b", "type_changed"),
        ("a", "type_changed"),
        ("c", "property_removed"),
        ("z", "property_added"),
        ("y", "property_added"),
    ]


def test_several_changes_in_one_node() -> None:
    old = {"type": "string", "maxLength": 10, "pattern": "^a", "title": "x"}
    new = {"type": ["string", "null"], "maxLength": 5, "format": "email", "title": "y"}
    assert summary(compare(old, new)) == [
        ("", "type_widened", "widen"),
        ("", "max_length_decreased", "narrow"),
        ("", "pattern_removed", "widen"),
        ("", "format_added", "narrow"),
        ("", "title_changed", "none"),
    ]


# ---------------------------------------------------------------------- determinism


def test_compare_is_deterministic() -> None:
    for case in ALL_CASES:
        first = compare(case.old, case.new)
        assert compare(case.old, case.new) == first, case.id
        # changes are frozen values: equal by content and hashable
        assert {*first} == {*compare(case.old, case.new)}


def test_compare_does_not_mutate_its_inputs() -> None:
    import copy

    old = copy.deepcopy(_RICH)
    new = copy.deepcopy(_RICH)
    new["properties"]["id"]["minimum"] = 2
    new["x-tdm"] = {"primary_key": "email"}
    frozen_old, frozen_new = copy.deepcopy(old), copy.deepcopy(new)
    compare(old, new)
    assert (old, new) == (frozen_old, frozen_new)


# ---------------------------------------------------------------------- suspected bugs


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"type": "number"}, {"type": ["integer", "number"]}),
        ({"type": ["integer", "number"]}, {"type": "number"}),
    ],
    ids=["number->integer|number", "integer|number->number"],
)
def test_equivalent_type_sets_are_not_a_change(old: Schema, new: Schema) -> None:
    changes = compare(old, new)
    assert not any(c.breaking(mode) for c in changes for mode in MODES), changes


def test_recursive_definition_with_changed_ref() -> None:
    old = {
        "$defs": {"node": obj({"next": {"$ref": "#/$defs/node"}})},
        "$ref": "#/$defs/node",
    }
    new = {
        "$defs": {"node2": obj({"next": {"$ref": "#/$defs/node2"}, "v": STR})},
        "$ref": "#/$defs/node2",
    }
    changes = compare(old, new)
    assert ("", "ref_changed") in [(c.path, c.kind) for c in changes]


def test_nested_defs_are_compared() -> None:
    old = obj({"a": {"$ref": "#/properties/a/$defs/x", "$defs": {"x": STR}}})
    new = obj({"a": {"$ref": "#/properties/a/$defs/x", "$defs": {"x": INT}}})
    changes = compare(old, new)
    assert changes, "a referenced definition changed type; the diff must not be empty"
    assert all(c.breaking("full") for c in changes if c.effect != "none")


# ---------------------------------------------------------------------- properties (hypothesis)

_NAMES = st.sampled_from(["a", "b", "c", "id"])
_SCALARS = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y", "z"]), st.booleans(), st.none())
_TYPE_NAMES = st.sampled_from(["string", "integer", "number", "boolean", "null", "object"])


def _keywords(ref: bool) -> st.SearchStrategy[Schema]:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "type": _TYPE_NAMES | st.lists(_TYPE_NAMES, min_size=1, max_size=3, unique=True),
        "minimum": st.integers(-5, 5),
        "maximum": st.integers(-5, 5),
        "exclusiveMinimum": st.integers(-5, 5),
        "minLength": st.integers(0, 4),
        "maxLength": st.integers(0, 4),
        "maxItems": st.integers(0, 4),
        "multipleOf": st.integers(1, 6),
        "uniqueItems": st.booleans(),
        "enum": st.lists(_SCALARS, min_size=1, max_size=3),
        "const": _SCALARS,
        "pattern": st.sampled_from(["^a", "^b", "[0-9]"]),
        "format": st.sampled_from(["email", "uri", "date"]),
        "title": st.sampled_from(["t1", "t2"]),
        "default": _SCALARS,
        "x-tdm": st.fixed_dictionaries({"faker": st.sampled_from(["email", "name"])}),
        "propertyNames": st.fixed_dictionaries({"maxLength": st.integers(1, 3)}),
    }
    if ref:
        optional["$ref"] = st.sampled_from(["#/$defs/a", "#/$defs/b", "#/$defs/zz"])
    return st.fixed_dictionaries({}, optional=optional)


def _schemas(ref: bool) -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        objects = st.fixed_dictionaries(
            {"properties": st.dictionaries(_NAMES, children, max_size=3)},
            optional={
                "type": st.just("object"),
                "required": st.lists(_NAMES, max_size=2, unique=True),
                "additionalProperties": st.booleans() | children,
            },
        )
        arrays = st.fixed_dictionaries(
            {"type": st.just("array")},
            optional={"items": children, "prefixItems": st.lists(children, max_size=2)},
        )
        combined = st.fixed_dictionaries(
            {},
            optional={
                "anyOf": st.lists(children, min_size=1, max_size=3),
                "oneOf": st.lists(children, min_size=1, max_size=2),
                "allOf": st.lists(children, min_size=1, max_size=2),
                "not": children,
            },
        )
        return objects | arrays | combined

    leaves = _keywords(ref) | st.booleans()
    return st.recursive(leaves, extend, max_leaves=6)


def _roots() -> st.SearchStrategy[Any]:
    # definitions hold no $ref, so no definition can reach itself
    defs = st.dictionaries(st.sampled_from(["a", "b"]), _schemas(ref=False), max_size=2)
    pk = st.sampled_from(["id", "a"])

    def build(body: Any, definitions: Schema, key: str | None) -> Any:
        if not isinstance(body, dict):
            return body
        root = dict(body)
        if definitions:
            root["$defs"] = definitions
        if key is not None:
            root["x-tdm"] = {**root.get("x-tdm", {}), "primary_key": key}
        return root

    return st.builds(build, _schemas(ref=True), defs, st.none() | pk)


_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@_SETTINGS
@given(_roots())
def test_schema_compared_with_itself_has_no_changes(schema: Any) -> None:
    assert compare(schema, schema) == []


@_SETTINGS
@given(_roots(), _roots())
def test_full_breaks_whenever_backward_or_forward_breaks(old: Any, new: Any) -> None:
    changes = compare(old, new)
    assert compare(old, new) == changes
    for change in changes:
        assert change.effect in RULES
        assert change.kind and change.detail
        if change.breaking("backward") or change.breaking("forward"):
            assert change.breaking("full"), change
        if change.effect == "none" and not change.always_breaking:
            assert not any(change.breaking(mode) for mode in MODES), change
        for mode in MODES:
            reason = change.reason(mode)
            assert reason and "\n" not in reason
    if old == new:
        assert changes == []

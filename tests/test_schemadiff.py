"""Unit tests for the schema registry's rules (:mod:`tdm.compat`, :mod:`tdm.schemadiff`).

The expected difference types, JSON paths and verdicts are written out here from the
registry's published rules, not read from the module: a change is compatible under
``strict`` when the registry lists its type among the compatible ones, and ``lenient``
also accepts six content-model changes (additionalProperties narrowed or removed, a
property added to or removed from an open content model, a property added or removed
that a partially open content model does not cover).
"""

from __future__ import annotations

import copy
import os
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdm.compat import LENIENT, STRICT, TYPES, check
from tdm.compat.model import dialect_of
from tdm.schemadiff import COMPAT_MODES, compare

Schema = dict[str, Any]
S: Schema = {"type": "string"}
N: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
B: Schema = {"type": "boolean"}
NULL: Schema = {"type": "null"}
D2020 = "https://json-schema.org/draft/2020-12/schema"


def obj(props: Schema | None = None, **extra: Any) -> Schema:
    return {"type": "object", "properties": dict(props or {}), **extra}


def arr(**extra: Any) -> Schema:
    return {"type": "array", **extra}


def new(**extra: Any) -> Schema:
    return {"$schema": D2020, **extra}


class Case(NamedTuple):
    id: str
    old: Any
    new: Any
    found: list[tuple[str, str]]  # (type, JSON path), in order
    strict: bool  # the registry's verdict under strict
    lenient: bool | None = None  # when it differs from strict


def _bound_cases(word: str, name: str, base: Schema, tighter_when_higher: bool) -> list[Case]:
    """ADDED / REMOVED / INCREASED / DECREASED of one bound: adding a bound or moving
    it inwards narrows (incompatible); removing it or moving it outwards widens."""
    at = f"#/{word}"
    up_ok = not tighter_when_higher
    return [
        Case(f"{name}_ADDED", base, {**base, word: 5}, [(f"{name}_ADDED", at)], False),
        Case(f"{name}_REMOVED", {**base, word: 5}, base, [(f"{name}_REMOVED", at)], True),
        Case(
            f"{name}_INCREASED",
            {**base, word: 5},
            {**base, word: 7},
            [(f"{name}_INCREASED", at)],
            up_ok,
        ),
        Case(
            f"{name}_DECREASED",
            {**base, word: 7},
            {**base, word: 5},
            [(f"{name}_DECREASED", at)],
            not up_ok,
        ),
    ]


CASES: list[Case] = [
    # annotations
    Case("ID_CHANGED", {"$id": "a"}, {"$id": "b"}, [("ID_CHANGED", "#/")], True),
    Case("TITLE_CHANGED", {"title": "a"}, {"title": "b"}, [("TITLE_CHANGED", "#/")], True),
    Case(
        "DESCRIPTION_CHANGED",
        {"description": "a"},
        {"description": "b"},
        [("DESCRIPTION_CHANGED", "#/")],
        True,
    ),
    Case(
        "DEFAULT_CHANGED",
        {**S, "default": "a"},
        {**S, "default": "b"},
        [("DEFAULT_CHANGED", "#/")],
        True,
    ),
    Case("anything to the empty schema", obj({"a": S}), {}, [], True),
    Case(
        "false to anything",
        obj({"a": False}, additionalProperties=False),
        obj({"a": S}, additionalProperties=False),
        [],
        True,
    ),
    # types
    Case("TYPE_CHANGED", S, N, [("TYPE_CHANGED", "#/")], False),
    Case("TYPE_EXTENDED", INT, N, [("TYPE_EXTENDED", "#/")], True),
    Case("TYPE_NARROWED", N, INT, [("TYPE_NARROWED", "#/")], False),
    Case("SCHEMA_ADDED", arr(), arr(items=S), [("SCHEMA_ADDED", "#/items")], False),
    Case("SCHEMA_REMOVED", arr(items=S), arr(), [("SCHEMA_REMOVED", "#/items")], True),
    # strings
    *_bound_cases("maxLength", "MAX_LENGTH", S, tighter_when_higher=False),
    *_bound_cases("minLength", "MIN_LENGTH", S, tighter_when_higher=True),
    Case("PATTERN_ADDED", S, {**S, "pattern": "^a"}, [("PATTERN_ADDED", "#/pattern")], False),
    Case("PATTERN_REMOVED", {**S, "pattern": "^a"}, S, [("PATTERN_REMOVED", "#/pattern")], True),
    Case(
        "PATTERN_CHANGED",
        {**S, "pattern": "^a"},
        {**S, "pattern": "^b"},
        [("PATTERN_CHANGED", "#/pattern")],
        False,
    ),
    # numbers
    *_bound_cases("maximum", "MAXIMUM", N, tighter_when_higher=False),
    *_bound_cases("minimum", "MINIMUM", N, tighter_when_higher=True),
    *_bound_cases("exclusiveMaximum", "EXCLUSIVE_MAXIMUM", N, tighter_when_higher=False),
    *_bound_cases("exclusiveMinimum", "EXCLUSIVE_MINIMUM", N, tighter_when_higher=True),
    Case(
        "MULTIPLE_OF_ADDED",
        N,
        {**N, "multipleOf": 2},
        [("MULTIPLE_OF_ADDED", "#/multipleOf")],
        False,
    ),
    Case(
        "MULTIPLE_OF_REMOVED",
        {**N, "multipleOf": 2},
        N,
        [("MULTIPLE_OF_REMOVED", "#/multipleOf")],
        True,
    ),
    Case(
        "MULTIPLE_OF_REDUCED",
        {**N, "multipleOf": 10},
        {**N, "multipleOf": 2},
        [("MULTIPLE_OF_REDUCED", "#/multipleOf")],
        True,
    ),
    Case(
        "MULTIPLE_OF_EXPANDED",
        {**N, "multipleOf": 2},
        {**N, "multipleOf": 10},
        [("MULTIPLE_OF_EXPANDED", "#/multipleOf")],
        False,
    ),
    Case(
        "MULTIPLE_OF_CHANGED",
        {**N, "multipleOf": 10},
        {**N, "multipleOf": 11},
        [("MULTIPLE_OF_CHANGED", "#/multipleOf")],
        False,
    ),
    Case(
        "MULTIPLE_OF_REDUCED (decimals)",
        {**N, "multipleOf": 0.1},
        {**N, "multipleOf": 0.05},
        [("MULTIPLE_OF_REDUCED", "#/multipleOf")],
        True,
    ),
    # objects: required
    Case(
        "REQUIRED_ATTRIBUTE_ADDED",
        obj({"a": S}),
        obj({"a": S}, required=["a"]),
        [("REQUIRED_ATTRIBUTE_ADDED", "#/required/a")],
        False,
    ),
    Case(
        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
        obj({"a": {**S, "default": "x"}}),
        obj({"a": {**S, "default": "x"}}, required=["a"]),
        [("REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "#/required/a")],
        True,
    ),
    Case(
        "REQUIRED_ATTRIBUTE_REMOVED",
        obj({"a": S}, required=["a"]),
        obj({"a": S}),
        [("REQUIRED_ATTRIBUTE_REMOVED", "#/required/a")],
        True,
    ),
    Case(
        "required names a property the schema does not define (a tdm note)",
        obj({"a": S}),
        obj({"a": S}, required=["b"]),
        [("REQUIRED_UNDEFINED_PROPERTY_ADDED", "#/required/b")],
        True,
    ),
    *_bound_cases("maxProperties", "MAX_PROPERTIES", obj(), tighter_when_higher=False),
    *_bound_cases("minProperties", "MIN_PROPERTIES", obj(), tighter_when_higher=True),
    # objects: additionalProperties
    Case(
        "ADDITIONAL_PROPERTIES_ADDED",
        obj(additionalProperties=False),
        obj(),
        [("ADDITIONAL_PROPERTIES_ADDED", "#/additionalProperties")],
        True,
    ),
    Case(
        "ADDITIONAL_PROPERTIES_REMOVED",
        obj(),
        obj(additionalProperties=False),
        [("ADDITIONAL_PROPERTIES_REMOVED", "#/additionalProperties")],
        False,
        True,
    ),
    Case(
        "ADDITIONAL_PROPERTIES_NARROWED",
        obj(),
        obj(additionalProperties=S),
        [("ADDITIONAL_PROPERTIES_NARROWED", "#/additionalProperties")],
        False,
        True,
    ),
    Case(
        "ADDITIONAL_PROPERTIES_EXTENDED",
        obj(additionalProperties=S),
        obj(additionalProperties=True),
        [("ADDITIONAL_PROPERTIES_EXTENDED", "#/additionalProperties")],
        True,
    ),
    Case(
        "additionalProperties schema changed",
        obj(additionalProperties=S),
        obj(additionalProperties=N),
        [("TYPE_CHANGED", "#/additionalProperties")],
        False,
    ),
    # objects: dependencies (draft-07) and dependentRequired/dependentSchemas (2019-09+)
    Case(
        "DEPENDENCY_ARRAY_ADDED",
        obj({"a": S, "b": S}),
        obj({"a": S, "b": S}, dependencies={"a": ["b"]}),
        [("DEPENDENCY_ARRAY_ADDED", "#/dependencies/a")],
        False,
    ),
    Case(
        "DEPENDENCY_ARRAY_REMOVED",
        obj({"a": S, "b": S}, dependencies={"a": ["b"]}),
        obj({"a": S, "b": S}),
        [("DEPENDENCY_ARRAY_REMOVED", "#/dependencies/a")],
        True,
    ),
    Case(
        "DEPENDENCY_ARRAY_EXTENDED",
        obj(dependencies={"a": ["b"]}),
        obj(dependencies={"a": ["b", "c"]}),
        [("DEPENDENCY_ARRAY_EXTENDED", "#/dependencies/a")],
        False,
    ),
    Case(
        "DEPENDENCY_ARRAY_NARROWED (dependentRequired, 2020-12)",
        new(type="object", dependentRequired={"a": ["b", "c"]}),
        new(type="object", dependentRequired={"a": ["b"]}),
        [("DEPENDENCY_ARRAY_NARROWED", "#/dependentRequired/a")],
        True,
    ),
    Case(
        "DEPENDENCY_ARRAY_CHANGED",
        obj(dependencies={"a": ["b"]}),
        obj(dependencies={"a": ["c"]}),
        [("DEPENDENCY_ARRAY_CHANGED", "#/dependencies/a")],
        False,
    ),
    Case(
        "DEPENDENCY_SCHEMA_ADDED",
        obj(),
        obj(dependencies={"a": {"required": ["b"]}}),
        [("DEPENDENCY_SCHEMA_ADDED", "#/dependencies/a")],
        False,
    ),
    Case(
        "DEPENDENCY_SCHEMA_REMOVED (dependentSchemas, 2020-12)",
        new(type="object", dependentSchemas={"a": S}),
        new(type="object"),
        [("DEPENDENCY_SCHEMA_REMOVED", "#/dependentSchemas/a")],
        True,
    ),
    Case(
        "dependent schema changed",
        obj(dependencies={"a": S}),
        obj(dependencies={"a": N}),
        [("TYPE_CHANGED", "#/dependencies/a")],
        False,
    ),
    # objects: properties and content models
    Case(
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        obj({"a": S}),
        obj({"a": S, "b": N}),
        [("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "#/properties/b")],
        False,
        True,
    ),
    Case(
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        obj(),
        obj({"b": True}),
        [("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", "#/properties/b")],
        True,
    ),
    Case(
        "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
        obj({"a": S, "b": N}),
        obj({"a": S}),
        [("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", "#/properties/b")],
        True,
    ),
    Case(
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": N}, additionalProperties=False),
        [("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/b")],
        True,
    ),
    Case(
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": N}, additionalProperties=False, required=["b"]),
        [("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/b")],
        False,
    ),
    Case(
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
        obj({"a": S}, additionalProperties=False),
        obj({"a": S, "b": {**N, "default": 0}}, additionalProperties=False, required=["b"]),
        [("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/b")],
        True,
    ),
    Case(
        "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        obj({"a": S, "b": N}, additionalProperties=False),
        obj({"a": S}, additionalProperties=False),
        [("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "#/properties/b")],
        False,
    ),
    Case(
        "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        obj({"a": S, "b": False}, additionalProperties=False),
        obj({"a": S}, additionalProperties=False),
        [("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", "#/properties/b")],
        True,
    ),
    Case(
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL (patternProperties)",
        obj({"a": S, "x_1": INT}, additionalProperties=False),
        obj({"a": S}, additionalProperties=False, patternProperties={"^x_": N}),
        [
            ("TYPE_EXTENDED", "#/properties/x_1"),
            ("PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/properties/x_1"),
        ],
        True,
    ),
    Case(
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        obj({"a": S, "b": N}, additionalProperties=False),
        obj({"a": S}, additionalProperties=S),
        [
            ("TYPE_CHANGED", "#/properties/b"),
            ("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/properties/b"),
            ("ADDITIONAL_PROPERTIES_ADDED", "#/additionalProperties"),
        ],
        False,
    ),
    Case(
        "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": S}, additionalProperties=S),
        [
            ("PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/properties/b"),
            ("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/b"),
        ],
        True,
    ),
    Case(
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        obj({"a": S}, additionalProperties=S),
        obj({"a": S, "b": N}, additionalProperties=S),
        [
            ("TYPE_CHANGED", "#/properties/b"),
            ("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/properties/b"),
            ("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "#/properties/b"),
        ],
        False,
    ),
    # objects: unevaluatedProperties (2019-09 and later)
    Case(
        "UNEVALUATED_PROPERTIES_REMOVED",
        new(type="object"),
        new(type="object", unevaluatedProperties=False),
        [("UNEVALUATED_PROPERTIES_REMOVED", "#/unevaluatedProperties")],
        False,
    ),
    Case(
        "UNEVALUATED_PROPERTIES_ADDED",
        new(type="object", unevaluatedProperties=False),
        new(type="object"),
        [("UNEVALUATED_PROPERTIES_ADDED", "#/unevaluatedProperties")],
        True,
    ),
    Case(
        "UNEVALUATED_PROPERTIES_NARROWED",
        new(type="object"),
        new(type="object", unevaluatedProperties=S),
        [("UNEVALUATED_PROPERTIES_NARROWED", "#/unevaluatedProperties")],
        False,
    ),
    Case(
        "UNEVALUATED_PROPERTIES_EXTENDED",
        new(type="object", unevaluatedProperties=S),
        new(type="object", unevaluatedProperties=True),
        [("UNEVALUATED_PROPERTIES_EXTENDED", "#/unevaluatedProperties")],
        True,
    ),
    # arrays
    *_bound_cases("maxItems", "MAX_ITEMS", arr(), tighter_when_higher=False),
    *_bound_cases("minItems", "MIN_ITEMS", arr(), tighter_when_higher=True),
    *[
        c._replace(old={"$schema": D2020, **c.old}, new={"$schema": D2020, **c.new})
        for c in (
            *_bound_cases(
                "maxContains", "MAX_CONTAINS", arr(contains=S), tighter_when_higher=False
            ),
            *_bound_cases("minContains", "MIN_CONTAINS", arr(contains=S), tighter_when_higher=True),
        )
    ],
    Case(
        "UNIQUE_ITEMS_ADDED",
        arr(),
        arr(uniqueItems=True),
        [("UNIQUE_ITEMS_ADDED", "#/uniqueItems")],
        False,
    ),
    Case(
        "UNIQUE_ITEMS_REMOVED",
        arr(uniqueItems=True),
        arr(),
        [("UNIQUE_ITEMS_REMOVED", "#/uniqueItems")],
        True,
    ),
    Case("items schema changed", arr(items=S), arr(items=N), [("TYPE_CHANGED", "#/items")], False),
    Case(
        "ADDITIONAL_ITEMS_REMOVED",
        arr(items=[S]),
        arr(items=[S], additionalItems=False),
        [("ADDITIONAL_ITEMS_REMOVED", "#/additionalItems")],
        False,
    ),
    Case(
        "ADDITIONAL_ITEMS_ADDED",
        arr(items=[S], additionalItems=False),
        arr(items=[S]),
        [("ADDITIONAL_ITEMS_ADDED", "#/additionalItems")],
        True,
    ),
    Case(
        "ADDITIONAL_ITEMS_NARROWED",
        arr(items=[S]),
        arr(items=[S], additionalItems=N),
        [("ADDITIONAL_ITEMS_NARROWED", "#/additionalItems")],
        False,
    ),
    Case(
        "ADDITIONAL_ITEMS_EXTENDED",
        arr(items=[S], additionalItems=N),
        arr(items=[S], additionalItems=True),
        [("ADDITIONAL_ITEMS_EXTENDED", "#/additionalItems")],
        True,
    ),
    Case(
        "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
        arr(items=[S]),
        arr(items=[S, N]),
        [("ITEM_ADDED_TO_OPEN_CONTENT_MODEL", "#/items/1")],
        False,
    ),
    Case(
        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
        arr(items=[S]),
        arr(items=[S, True]),
        [("ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", "#/items/1")],
        True,
    ),
    Case(
        "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
        arr(items=[S], additionalItems=False),
        arr(items=[S, N], additionalItems=False),
        [("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", "#/items/1")],
        True,
    ),
    Case(
        "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
        arr(items=[S, N]),
        arr(items=[S]),
        [("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL", "#/items/1")],
        True,
    ),
    Case(
        "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        arr(items=[S, N], additionalItems=False),
        arr(items=[S], additionalItems=False),
        [("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL", "#/items/1")],
        False,
    ),
    Case(
        "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
        arr(items=[S, False], additionalItems=False),
        arr(items=[S], additionalItems=False),
        [("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", "#/items/1")],
        True,
    ),
    Case(
        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        arr(items=[S, S], additionalItems=S),
        arr(items=[S], additionalItems=S),
        [("ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/items/1")],
        True,
    ),
    Case(
        "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        arr(items=[S, N], additionalItems=S),
        arr(items=[S], additionalItems=S),
        [
            ("TYPE_CHANGED", "#/items/1"),
            ("ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/items/1"),
        ],
        False,
    ),
    Case(
        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL (prefixItems, 2020-12)",
        new(type="array", prefixItems=[S], items=N),
        new(type="array", prefixItems=[S, N], items=N),
        [("ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/prefixItems/1")],
        True,
    ),
    Case(
        "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL (prefixItems, 2020-12)",
        new(type="array", prefixItems=[S], items=N),
        new(type="array", prefixItems=[S, S], items=N),
        [
            ("TYPE_CHANGED", "#/prefixItems/1"),
            ("ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "#/prefixItems/1"),
        ],
        False,
    ),
    Case(
        "UNEVALUATED_ITEMS_REMOVED",
        new(type="array", prefixItems=[S]),
        new(type="array", prefixItems=[S], unevaluatedItems=False),
        [("UNEVALUATED_ITEMS_REMOVED", "#/unevaluatedItems")],
        False,
    ),
    Case(
        "UNEVALUATED_ITEMS_ADDED",
        new(type="array", unevaluatedItems=False),
        new(type="array", unevaluatedItems=S),
        [("UNEVALUATED_ITEMS_ADDED", "#/unevaluatedItems")],
        True,
    ),
    Case(
        "UNEVALUATED_ITEMS_NARROWED",
        new(type="array", unevaluatedItems=True),
        new(type="array", unevaluatedItems=S),
        [("UNEVALUATED_ITEMS_NARROWED", "#/unevaluatedItems")],
        False,
    ),
    Case(
        "UNEVALUATED_ITEMS_EXTENDED",
        new(type="array", unevaluatedItems=S),
        new(type="array"),
        [("UNEVALUATED_ITEMS_EXTENDED", "#/unevaluatedItems")],
        True,
    ),
    # enum and const
    Case(
        "ENUM_ARRAY_EXTENDED",
        {"enum": ["a"]},
        {"enum": ["a", "b"]},
        [("ENUM_ARRAY_EXTENDED", "#/enum")],
        True,
    ),
    Case(
        "ENUM_ARRAY_NARROWED",
        {"enum": ["a", "b"]},
        {"enum": ["a"]},
        [("ENUM_ARRAY_NARROWED", "#/enum")],
        False,
    ),
    Case(
        "ENUM_ARRAY_CHANGED",
        {"enum": ["a"]},
        {"enum": ["b"]},
        [("ENUM_ARRAY_CHANGED", "#/enum")],
        False,
    ),
    Case("const changed", {"const": 1}, {"const": 2}, [("ENUM_ARRAY_CHANGED", "#/const")], False),
    Case(
        "enum beside a type, extended",
        {**S, "enum": ["a"]},
        {**S, "enum": ["a", "b"]},
        [("ENUM_ARRAY_EXTENDED", "#/enum")],
        True,
    ),
    Case(
        "enum beside a type, removed",
        {**S, "enum": ["a"]},
        S,
        [("PRODUCT_TYPE_NARROWED", "#/")],
        True,
    ),
    # combinators
    Case(
        "SUM_TYPE_EXTENDED (a schema becomes a oneOf that holds it)",
        S,
        {"oneOf": [N, S]},
        [("SUM_TYPE_EXTENDED", "#/")],
        True,
    ),
    Case(
        "SUM_TYPE_EXTENDED (a branch added)",
        {"anyOf": [S]},
        {"anyOf": [S, N]},
        [("SUM_TYPE_EXTENDED", "#/")],
        True,
    ),
    Case(
        "SUM_TYPE_EXTENDED (type list grows)",
        {"type": ["string"]},
        {"type": ["string", "null"]},
        [("SUM_TYPE_EXTENDED", "#/")],
        True,
    ),
    Case(
        "SUM_TYPE_NARROWED",
        {"oneOf": [S, N]},
        {"oneOf": [S]},
        [("SUM_TYPE_NARROWED", "#/")],
        False,
    ),
    Case(
        "PRODUCT_TYPE_EXTENDED",
        {"allOf": [S]},
        {"allOf": [S, {"maxLength": 3}]},
        [("PRODUCT_TYPE_EXTENDED", "#/")],
        False,
    ),
    Case(
        "PRODUCT_TYPE_NARROWED (allOf loses a branch)",
        {"allOf": [S, {"maxLength": 3}]},
        {"allOf": [S]},
        [("PRODUCT_TYPE_NARROWED", "#/")],
        True,
    ),
    Case(
        "PRODUCT_TYPE_NARROWED (allOf becomes one of its branches)",
        {"allOf": [S, {"maxLength": 3}]},
        S,
        [("PRODUCT_TYPE_NARROWED", "#/")],
        True,
    ),
    Case(
        "COMBINED_TYPE_EXTENDED (oneOf -> anyOf)",
        {"oneOf": [S, N]},
        {"anyOf": [S, N]},
        [("COMBINED_TYPE_EXTENDED", "#/")],
        True,
    ),
    Case(
        "COMBINED_TYPE_CHANGED (anyOf -> oneOf)",
        {"anyOf": [S, N]},
        {"oneOf": [S, N]},
        [("COMBINED_TYPE_CHANGED", "#/")],
        False,
    ),
    Case(
        "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
        {"oneOf": [S, N]},
        {"oneOf": [S, B]},
        [("COMBINED_TYPE_SUBSCHEMAS_CHANGED", "#/")],
        False,
    ),
    Case(
        "branches matched in any order, changes inside the matched branch",
        {"anyOf": [{**S, "maxLength": 3}, N]},
        {"anyOf": [N, {**S, "maxLength": 5}]},
        [("MAX_LENGTH_INCREASED", "#/anyOf/0/maxLength")],
        True,
    ),
    Case("NOT_TYPE_NARROWED", {"not": N}, {"not": INT}, [("NOT_TYPE_NARROWED", "#/not")], True),
    Case("NOT_TYPE_EXTENDED", {"not": INT}, {"not": N}, [("NOT_TYPE_EXTENDED", "#/not")], False),
    # references
    Case(
        "moving a schema behind a $ref is no change",
        obj({"a": S}),
        obj({"a": {"$ref": "#/definitions/a"}}, definitions={"a": S}),
        [],
        True,
    ),
    Case(
        "a referenced definition changed",
        obj({"a": {"$ref": "#/$defs/a"}}, **{"$defs": {"a": S}}),
        obj({"a": {"$ref": "#/$defs/a"}}, **{"$defs": {"a": {**S, "maxLength": 3}}}),
        [("MAX_LENGTH_ADDED", "#/properties/a/maxLength")],
        False,
    ),
    Case(
        "an unused definition changed",
        obj({"a": S}, definitions={"x": S}),
        obj({"a": S}, definitions={"x": N}),
        [],
        True,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_difference_types_paths_and_verdicts(case: Case) -> None:
    found = [(d.type, d.path) for d in check(case.old, case.new)]
    assert found == case.found
    strict = compare(case.old, case.new, rules="strict")
    lenient = compare(case.old, case.new, rules="lenient")
    strict_ok = not any(c.breaking() for c in strict)
    lenient_ok = not any(c.breaking() for c in lenient)
    assert strict_ok == case.strict
    assert lenient_ok == (case.strict if case.lenient is None else case.lenient)
    for c in strict:
        assert c.type in TYPES or c.type in ("REQUIRED_UNDEFINED_PROPERTY_ADDED", "FORMAT_CHANGED")
        assert c.detail and c.reason() and "\n" not in c.detail + c.reason()
        assert c.reason().startswith(
            "registry (strict) " + ("accepts" if c.compatible else "refuses")
        )


#: types the registry defines that tdm never reports: the reserved-property checks need
#: the registry's subject metadata, and four *_OPEN_CONTENT_MODEL variants are kept by
#: the registry only for old clients (it reports PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL)
NOT_REPORTED = {
    "RESERVED_PROPERTY_REMOVED",
    "RESERVED_PROPERTY_CONFLICTS_WITH_PROPERTY",
    "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL",
    "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
}


def test_every_difference_type_has_a_case() -> None:
    covered = {t for c in CASES for t, _ in c.found}
    missing = set(TYPES) - covered - NOT_REPORTED
    assert not missing, sorted(missing)
    assert len(TYPES) >= 130


def test_the_strict_and_lenient_sets() -> None:
    assert STRICT < LENIENT
    added = LENIENT - STRICT
    assert added == {
        "ADDITIONAL_PROPERTIES_NARROWED",
        "ADDITIONAL_PROPERTIES_REMOVED",
        "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    }  # PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL is in both
    for name in ("TYPE_CHANGED", "MAX_LENGTH_DECREASED", "REQUIRED_ATTRIBUTE_ADDED"):
        assert name not in LENIENT


# ---------------------------------------------------------------------- directions and modes


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_forward_is_backward_with_the_sides_swapped(case: Case) -> None:
    def ok(old: Any, new: Any, mode: Any) -> bool:
        return not any(c.breaking() for c in compare(old, new, compat=mode))

    backward = ok(case.old, case.new, "backward")
    forward = ok(case.old, case.new, "forward")
    assert backward == case.strict
    assert forward == ok(case.new, case.old, "backward")
    assert ok(case.old, case.new, "full") == (backward and forward)
    for c in compare(case.old, case.new, compat="full"):
        assert c.direction in ("backward", "forward")
        if c.direction == "forward":
            assert c.detail.startswith("forward, new -> old: ")
            assert "on the old" in c.reason()


def test_transitive_modes_compare_like_their_plain_mode() -> None:
    old, new_ = obj({"a": {**S, "maxLength": 5}}), obj({"a": {**S, "maxLength": 3}})
    for mode in ("backward", "forward", "full"):
        plain = compare(old, new_, compat=mode)  # type: ignore[arg-type]
        assert compare(old, new_, compat=f"{mode}-transitive") == plain  # type: ignore[arg-type]
    assert set(COMPAT_MODES) >= {"backward-transitive", "forward-transitive", "full-transitive"}


# ---------------------------------------------------------------------- tdm's own


def test_primary_key_change_breaks_every_mode() -> None:
    old = obj({"id": INT, "email": S}, **{"x-tdm": {"primary_key": "id"}})
    new_ = obj({"id": INT, "email": S}, **{"x-tdm": {"primary_key": "email"}})
    for mode in COMPAT_MODES:
        for rules in ("strict", "lenient"):
            changes = compare(old, new_, compat=mode, rules=rules)  # type: ignore[arg-type]
            assert [(c.type, c.breaking()) for c in changes] == [("PRIMARY_KEY_CHANGED", True)]
    assert changes[0].detail == "primary key id -> email"


def test_generator_hints_are_reported_and_compatible() -> None:
    old = obj({"a": S}, **{"x-tdm": {"primary_key": "a", "faker": "name"}})
    new_ = obj({"a": S}, **{"x-tdm": {"primary_key": "a", "faker": "email"}})
    changes = compare(old, new_, compat="full")
    assert [(c.type, c.breaking(), c.detail) for c in changes] == [
        ("GENERATOR_CHANGED", False, 'x-tdm faker "name" -> "email"')
    ]


# ---------------------------------------------------------------------- known risks (part 5)


def test_required_naming_an_undefined_property_follows_the_registry_and_says_why() -> None:
    changes = compare(obj({"a": S}), obj({"a": S}, required=["ghost"]))
    assert [(c.type, c.breaking()) for c in changes] == [
        ("REQUIRED_UNDEFINED_PROPERTY_ADDED", False)
    ]
    assert "old data without that property fails the new schema" in changes[0].reason()
    assert changes[0].detail == "ghost: 'required' names a property the schema does not define"


def test_a_required_default_is_accepted_with_its_risk() -> None:
    changes = compare(
        obj({"a": {**S, "default": ""}}), obj({"a": {**S, "default": ""}}, required=["a"])
    )
    assert [c.type for c in changes] == ["REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"]
    assert not changes[0].breaking()
    assert "validators do not fill in defaults" in changes[0].reason()


def test_a_oneof_that_gains_a_branch_warns_about_overlap() -> None:
    (change,) = compare(S, {"oneOf": [S, {"type": "string", "maxLength": 3}]})
    assert change.type == "SUM_TYPE_EXTENDED" and not change.breaking()
    assert "matches two branches" in change.reason()
    (plain,) = compare(S, {"anyOf": [S, N]})
    assert "risk" not in plain.reason()


def test_a_format_the_registry_ignores_is_a_note() -> None:
    changes = compare(S, {**S, "format": "email"})
    assert [(c.type, c.breaking()) for c in changes] == [("FORMAT_CHANGED", False)]
    assert "does not compare 'format'" in changes[0].reason()


# ---------------------------------------------------------------------- references, recursion, dialects


def test_recursive_schemas_terminate_and_changes_inside_are_found() -> None:
    def tree(leaf: Schema) -> Schema:
        return {
            "$ref": "#/definitions/node",
            "definitions": {
                "node": obj({"value": leaf, "children": arr(items={"$ref": "#/definitions/node"})})
            },
        }

    assert check(tree(INT), tree(INT)) == []
    assert [(d.type, d.path) for d in check(tree(INT), tree(N))] == [
        ("TYPE_EXTENDED", "#/properties/value")
    ]
    assert [d.type for d in check(tree(N), tree(INT))] == ["TYPE_NARROWED"]


def test_mutually_recursive_definitions_and_self_reference() -> None:
    old = {
        "$defs": {
            "a": obj({"b": {"$ref": "#/$defs/b"}}),
            "b": obj({"a": {"$ref": "#/$defs/a"}, "n": INT}),
        },
        "$ref": "#/$defs/a",
    }
    new_ = copy.deepcopy(old)
    new_["$defs"]["b"]["properties"]["n"] = N
    assert [d.type for d in check(old, new_)] == ["TYPE_EXTENDED"]
    loop = {"$ref": "#/$defs/x", "$defs": {"x": {"$ref": "#/$defs/x"}}}
    assert check(loop, loop) == []


def test_a_ref_that_does_not_resolve_is_compared_by_name() -> None:
    assert check({"$ref": "other.json#/a"}, {"$ref": "other.json#/a"}) == []
    assert [d.type for d in check({"$ref": "other.json#/a"}, {"$ref": "other.json#/b"})] == [
        "TYPE_CHANGED"
    ]


@pytest.mark.parametrize(
    ("schema", "dialect"),
    [
        ({}, "draft7"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "draft7"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "draft4"),
        ({"$schema": "https://json-schema.org/draft/2019-09/schema"}, "2019-09"),
        ({"$schema": D2020}, "2020-12"),
        ({"properties": {"a": {"prefixItems": [S]}}}, "2020-12"),
    ],
)
def test_the_dialect_comes_from_schema(schema: Schema, dialect: str) -> None:
    assert dialect_of(schema) == dialect


def test_items_read_in_the_files_dialect() -> None:
    # draft-07: an array of items is a tuple; additionalItems is what follows it
    old7, new7 = arr(items=[S], additionalItems=False), arr(items=[S, N], additionalItems=False)
    assert [d.type for d in check(old7, new7)] == ["ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"]
    # 2020-12: prefixItems is the tuple and items is what follows it
    old20 = new(type="array", prefixItems=[S], items=False)
    new20 = new(type="array", prefixItems=[S, N], items=False)
    assert [d.type for d in check(old20, new20)] == ["ITEM_ADDED_TO_CLOSED_CONTENT_MODEL"]
    # 2020-12 without prefixItems: items applies to every item
    assert [d.type for d in check(new(type="array", items=S), new(type="array", items=N))] == [
        "TYPE_CHANGED"
    ]
    # 2019-09: keywords beside $ref apply too; in draft-07 they are ignored
    ref7 = {"$ref": "#/definitions/a", "definitions": {"a": S}}
    assert check(ref7, {**ref7, "maxLength": 3}) == []
    ref19 = {"$schema": "https://json-schema.org/draft/2019-09/schema", **ref7}
    assert check(ref19, {**ref19, "maxLength": 3}) != []


def test_compare_does_not_mutate_its_inputs() -> None:
    old = obj({"a": {"$ref": "#/$defs/a"}}, **{"$defs": {"a": S}})
    new_ = obj({"a": {"oneOf": [S, N]}}, required=["a"])
    frozen = copy.deepcopy((old, new_))
    compare(old, new_, compat="full")
    assert (old, new_) == frozen


# ---------------------------------------------------------------------- properties (hypothesis)

_NAMES = st.sampled_from(["a", "b", "c"])
_SCALARS = st.one_of(st.integers(-3, 3), st.sampled_from(["x", "y"]), st.booleans(), st.none())
_TYPE_NAMES = st.sampled_from(["string", "integer", "number", "boolean", "null", "object", "array"])


def _leaves() -> st.SearchStrategy[Any]:
    return (
        st.fixed_dictionaries(
            {},
            optional={
                "type": _TYPE_NAMES | st.lists(_TYPE_NAMES, min_size=1, max_size=3, unique=True),
                "minimum": st.integers(-5, 5),
                "maxLength": st.integers(0, 4),
                "multipleOf": st.sampled_from([1, 2, 0.5, 3]),
                "enum": st.lists(_SCALARS, min_size=1, max_size=3),
                "const": _SCALARS,
                "pattern": st.sampled_from(["^a", "[0-9]"]),
                "format": st.sampled_from(["email", "date"]),
                "default": _SCALARS,
                "$ref": st.sampled_from(["#/$defs/a", "#", "#/$defs/missing"]),
            },
        )
        | st.booleans()
    )


def _schemas() -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        objects = st.fixed_dictionaries(
            {"properties": st.dictionaries(_NAMES, children, max_size=3)},
            optional={
                "required": st.lists(_NAMES, max_size=2, unique=True),
                "additionalProperties": st.booleans() | children,
                "patternProperties": st.dictionaries(
                    st.sampled_from(["^a", "^x"]), children, max_size=1
                ),
                "dependencies": st.dictionaries(
                    _NAMES, st.lists(_NAMES, max_size=2) | children, max_size=2
                ),
            },
        )
        arrays = st.fixed_dictionaries(
            {"type": st.just("array")},
            optional={
                "items": children | st.lists(children, max_size=2),
                "additionalItems": st.booleans() | children,
                "prefixItems": st.lists(children, max_size=2),
                "uniqueItems": st.booleans(),
            },
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

    def root(body: Any, defs: Any, dialect: str | None) -> Any:
        if not isinstance(body, dict):
            return body
        out = {**body, "$defs": {"a": defs}}
        if dialect:
            out["$schema"] = dialect
        return out

    tree = st.recursive(_leaves(), extend, max_leaves=6)
    return st.builds(root, tree, tree, st.sampled_from([None, D2020]))


_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@_SETTINGS
@given(_schemas())
def test_a_schema_compared_with_itself_has_no_changes(schema: Any) -> None:
    assert compare(schema, copy.deepcopy(schema), compat="full") == []


@_SETTINGS
@given(_schemas(), _schemas())
def test_any_two_schemas_compare_deterministically(old: Any, new_: Any) -> None:
    changes = compare(old, new_, compat="full", rules="lenient")
    assert (
        compare(copy.deepcopy(old), copy.deepcopy(new_), compat="full", rules="lenient") == changes
    )
    for c in changes:
        assert c.path.startswith("#/") and c.detail and c.reason()
    strict = [c for c in compare(old, new_, compat="full") if c.breaking()]
    lenient = [c for c in changes if c.breaking()]
    assert len(lenient) <= len(strict) or not strict  # lenient never refuses more


def test_a_ref_pasted_into_a_property_with_its_definitions_resolves_beside_it() -> None:
    pasted = {"$ref": "#/definitions/name", "definitions": {"name": S}}
    assert check(obj({"v": S}), obj({"v": pasted})) == []
    assert [d.type for d in check(obj({"v": N}), obj({"v": pasted}))] == ["TYPE_CHANGED"]

"""Each difference in one sentence, and why the registry accepts or refuses it.

Where the registry's verdict is known to be looser than JSON Schema validation, the
verdict stays the registry's and the sentence says what can still go wrong.
"""

from __future__ import annotations

from tdm.canon import show
from tdm.compat.engine import NOTES, Difference

_BOUNDS = {
    "MAX_LENGTH": "maxLength",
    "MIN_LENGTH": "minLength",
    "MAXIMUM": "maximum",
    "MINIMUM": "minimum",
    "EXCLUSIVE_MAXIMUM": "exclusiveMaximum",
    "EXCLUSIVE_MINIMUM": "exclusiveMinimum",
    "MAX_PROPERTIES": "maxProperties",
    "MIN_PROPERTIES": "minProperties",
    "MAX_ITEMS": "maxItems",
    "MIN_ITEMS": "minItems",
    "MAX_CONTAINS": "maxContains",
    "MIN_CONTAINS": "minContains",
    "MULTIPLE_OF": "multipleOf",
}

_WHAT = {
    "ID_CHANGED": "$id changed",
    "TITLE_CHANGED": "title changed",
    "DESCRIPTION_CHANGED": "description changed",
    "DEFAULT_CHANGED": "default changed",
    "SCHEMA_ADDED": "a schema now constrains what was unconstrained",
    "SCHEMA_REMOVED": "its schema was removed: anything is accepted",
    "TYPE_EXTENDED": "type widened (integer -> number)",
    "TYPE_NARROWED": "type narrowed (number -> integer)",
    "TYPE_CHANGED": "type changed",
    "PATTERN_ADDED": "pattern added",
    "PATTERN_REMOVED": "pattern removed",
    "PATTERN_CHANGED": "pattern changed",
    "REQUIRED_ATTRIBUTE_ADDED": "became required",
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED": "became required (it has a default)",
    "REQUIRED_ATTRIBUTE_REMOVED": "is no longer required",
    "ADDITIONAL_PROPERTIES_ADDED": "additionalProperties opened (false -> allowed)",
    "ADDITIONAL_PROPERTIES_REMOVED": "additionalProperties closed (-> false)",
    "ADDITIONAL_PROPERTIES_EXTENDED": "additionalProperties no longer limited to a schema",
    "ADDITIONAL_PROPERTIES_NARROWED": "additionalProperties now limited to a schema",
    "ADDITIONAL_ITEMS_ADDED": "extra items allowed (was false)",
    "ADDITIONAL_ITEMS_REMOVED": "extra items forbidden (-> false)",
    "ADDITIONAL_ITEMS_EXTENDED": "extra items no longer limited to a schema",
    "ADDITIONAL_ITEMS_NARROWED": "extra items now limited to a schema",
    "DEPENDENCY_ARRAY_ADDED": "dependency added",
    "DEPENDENCY_ARRAY_REMOVED": "dependency removed",
    "DEPENDENCY_ARRAY_EXTENDED": "dependency names more properties",
    "DEPENDENCY_ARRAY_NARROWED": "dependency names fewer properties",
    "DEPENDENCY_ARRAY_CHANGED": "dependency names other properties",
    "DEPENDENCY_SCHEMA_ADDED": "dependent schema added",
    "DEPENDENCY_SCHEMA_REMOVED": "dependent schema removed",
    "UNIQUE_ITEMS_ADDED": "uniqueItems turned on",
    "UNIQUE_ITEMS_REMOVED": "uniqueItems turned off",
    "ENUM_ARRAY_EXTENDED": "enum gained values",
    "ENUM_ARRAY_NARROWED": "enum lost values",
    "ENUM_ARRAY_CHANGED": "allowed values changed",
    "COMBINED_TYPE_EXTENDED": "combinator loosened",
    "COMBINED_TYPE_CHANGED": "combinator changed",
    "PRODUCT_TYPE_EXTENDED": "allOf gained a branch",
    "PRODUCT_TYPE_NARROWED": "allOf lost a branch (or became one of its branches)",
    "SUM_TYPE_EXTENDED": "gained a branch (a sum type extended)",
    "SUM_TYPE_NARROWED": "lost a branch",
    "COMBINED_TYPE_SUBSCHEMAS_CHANGED": "some old branch has no compatible new branch",
    "NOT_TYPE_EXTENDED": "'not' now excludes more",
    "NOT_TYPE_NARROWED": "'not' now excludes less",
    "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL": (
        "property added to an open object: old data may already carry the name with any value"
    ),
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL": "property added with any value allowed",
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL": "optional property added to a closed object",
    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL": "required property added to a closed object",
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL": (
        "required property with a default added to a closed object"
    ),
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL": "property removed from an open object",
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL": (
        "property removed from a closed object: data that carries it is rejected"
    ),
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL": "a forbidden (false) property removed",
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "property removed; patternProperties/additionalProperties still accept its values"
    ),
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "property removed; patternProperties/additionalProperties do not accept all its values"
    ),
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "property added; it accepts every value patternProperties/additionalProperties did"
    ),
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "property added; it rejects values patternProperties/additionalProperties accepted"
    ),
    "ITEM_ADDED_TO_OPEN_CONTENT_MODEL": (
        "tuple position added to an open tuple: old data may hold any value there"
    ),
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL": "tuple position added accepting anything",
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL": "tuple position added to a closed tuple",
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL": "tuple position removed from an open tuple",
    "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL": (
        "tuple position removed from a closed tuple: data that has it is rejected"
    ),
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL": "a forbidden (false) tuple position removed",
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "tuple position removed; the schema for extra items still accepts its values"
    ),
    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "tuple position removed; the schema for extra items does not accept all its values"
    ),
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "tuple position added; it accepts every value the extra-items schema did"
    ),
    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL": (
        "tuple position added; it rejects values the extra-items schema accepted"
    ),
    "REQUIRED_UNDEFINED_PROPERTY_ADDED": "'required' names a property the schema does not define",
    "FORMAT_CHANGED": "format changed",
}

#: what can still go wrong where the registry accepts a change
_RISKS = {
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED": (
        "validators do not fill in defaults: old data without the field fails the new schema"
    ),
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL": (
        "validators do not fill in defaults: old data without the field fails the new schema"
    ),
    "REQUIRED_UNDEFINED_PROPERTY_ADDED": (
        "the registry does not check it, but old data without that property fails the new schema"
    ),
    "FORMAT_CHANGED": (
        "the registry does not compare 'format'; validators that assert formats may reject old data"
    ),
    "MULTIPLE_OF_REDUCED": "",
}


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:59] + "…"


def where(path: str) -> str:
    """A JSON path for people: ``#/properties/a/properties/b`` -> ``a.b``,
    ``#/properties/tags/items`` -> ``tags[]``, a tuple position ``[0]``; the root is
    ``(root)``."""
    rest = path[2:] if path.startswith("#/") else path
    parts = [p.replace("~1", "/").replace("~0", "~") for p in rest.split("/") if p]
    out = ""
    i = 0
    while i < len(parts):
        part = parts[i]
        following = parts[i + 1] if i + 1 < len(parts) else None
        if part in ("properties", "required") and following is not None:
            out += "." + following
            i += 2
        elif part in ("items", "prefixItems") and following is not None and following.isdigit():
            out += f"[{following}]"
            i += 2
        elif part == "items":
            out += "[]"
            i += 1
        else:
            out += "/" + part
            i += 1
    return out.lstrip("./") or "(root)"


def describe(d: Difference) -> str:
    """What changed, in words, at which JSON path."""
    at = where(d.path)
    for prefix, word in _BOUNDS.items():
        if d.type.startswith(prefix + "_") and d.type[len(prefix) + 1 :] in (
            "ADDED",
            "REMOVED",
            "INCREASED",
            "DECREASED",
            "EXPANDED",
            "REDUCED",
            "CHANGED",
        ):
            at = where(d.path.removesuffix("/" + word))
            if d.old is None:
                return f"{at}: {word} {show(d.new)} added"
            if d.new is None:
                return f"{at}: {word} {show(d.old)} removed"
            return f"{at}: {word} {show(d.old)} -> {show(d.new)}"
    if d.type.startswith("ENUM_ARRAY_") and isinstance(d.old, list) and isinstance(d.new, list):
        at = where(d.path.removesuffix("/enum").removesuffix("/const"))
        word = d.path.rsplit("/", 1)[-1]
        parts = []
        if d.old:
            parts.append(f"removed [{_clip(', '.join(d.old))}]")
        if d.new:
            parts.append(f"added [{_clip(', '.join(d.new))}]")
        return f"{at}: {word} {' and '.join(parts)}"
    if d.type.startswith("UNEVALUATED_"):
        return f"{at}: " + d.type.lower().replace("_", " ")
    what = _WHAT.get(d.type, d.type.lower().replace("_", " "))
    if d.type.startswith("PATTERN_") and (d.old or d.new):
        what += f" ({show(d.old) if d.old else '-'} -> {show(d.new) if d.new else '-'})"
    if d.type == "SUM_TYPE_EXTENDED" and d.new == "oneOf":
        what = "oneOf " + what
    return f"{at}: {what}"


def reason(
    kind: str, compatible: bool, direction: str, rules: str, risk_of: Difference | None
) -> str:
    """Why the registry accepts or refuses the change, and what can still go wrong."""
    if direction == "forward":
        text = (
            f"registry ({rules}) accepts it: readers on the old schema can read data written with the new one"
            if compatible
            else f"registry ({rules}) refuses it: data written with the new schema may not be valid for readers on the old one"
        )
    else:
        text = (
            f"registry ({rules}) accepts it: readers on the new schema can read data written with the old one"
            if compatible
            else f"registry ({rules}) refuses it: data written with the old schema may not be valid under the new one"
        )
    if kind in NOTES:
        text = f"registry ({rules}) accepts it (it does not check this)"
    risk = _RISKS.get(kind, "")
    if kind == "SUM_TYPE_EXTENDED" and risk_of is not None and risk_of.new == "oneOf":
        risk = "oneOf rejects a value that matches two branches: check the new branch does not overlap the old ones"
    if compatible and risk:
        text += f"; risk: {risk}"
    return text

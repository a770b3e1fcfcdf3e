"""Schema changes between two versions of a JSON Schema, classified for compatibility.

Every change is described by its *effect* on the set of documents the schema accepts:

- ``widen``: the new schema accepts everything the old one did, and more;
- ``narrow``: the new schema accepts a subset of what the old one did;
- ``change``: neither (some old documents are rejected and some new ones accepted);
- ``none``: no effect on validity (title, description, examples, tdm generator hints).

The compatibility modes follow Confluent Schema Registry's JSON Schema checks:

- ``backward``: consumers using the new schema can read data written with the old
  one.  Breaking: ``narrow`` and ``change``.
- ``forward``: consumers still using the old schema can read data written with the
  new one.  Breaking: ``widen`` and ``change``.
- ``full``: both.  Breaking: anything but ``none``.

As in Confluent, the content model decides property additions and removals: adding
a property to an *open* object (``additionalProperties`` absent or true) narrows it,
because old data may already carry that name with any value; adding an optional
property to a *closed* object (``additionalProperties: false``) widens it.  A required
property added with a ``default`` is backward compatible (readers fill in the
default).  A changed primary key is breaking in every mode.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from tdm.canon import dumps, show

Effect = Literal["widen", "narrow", "change", "none"]
Compat = Literal["backward", "forward", "full"]
COMPAT_MODES: tuple[Compat, ...] = ("backward", "forward", "full")

_BREAKS: dict[Compat, frozenset[str]] = {
    "backward": frozenset({"narrow", "change"}),
    "forward": frozenset({"widen", "change"}),
    "full": frozenset({"narrow", "widen", "change"}),
}

ANNOTATIONS = (
    "title",
    "description",
    "examples",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
)
#: keywords whose effect is computed; any other keyword that changes is a ``change``
_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "minContains")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "maxContains")
_HANDLED = frozenset(
    {
        *ANNOTATIONS,
        *_LOWER,
        *_UPPER,
        "type",
        "enum",
        "const",
        "multipleOf",
        "pattern",
        "format",
        "uniqueItems",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "prefixItems",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "$ref",
        "$defs",
        "definitions",
        "default",
        "x-tdm",
        "$schema",
        "$id",
    }
)


_REASONS = {
    "generator_changed": "changes the generated values, not which data is valid",
    "schema_added": "a new schema: no existing data or reader depends on it",
    "definition_added": "a new definition: it applies only where a $ref names it",
    "schema_removed": "its datasets lose their contract: readers cannot validate them",
    "definition_removed": "every $ref to it stops resolving",
}


@dataclass(frozen=True)
class SchemaChange:
    path: str  # where, e.g. "email", "shipping_address.street", "$defs.postal.city"
    kind: str  # stable identifier, e.g. "property_removed", "max_length_decreased"
    detail: str  # what changed, in words: "maxLength 120 -> 80"
    effect: Effect
    #: a required property added with a default: readers of old data fill it in
    default_fills: bool = False
    always_breaking: bool = False

    def breaking(self, mode: Compat) -> bool:
        if self.always_breaking:
            return True
        if mode == "full":  # as in Confluent: FULL is BACKWARD and FORWARD
            return self.breaking("backward") or self.breaking("forward")
        if self.default_fills and mode == "backward":
            return False
        return self.effect in _BREAKS[mode]

    def reason(self, mode: Compat) -> str:
        """One line: why this change is breaking or compatible under ``mode``."""
        if self.always_breaking:
            return "rows are matched, joined and referenced by the primary key"
        if self.kind in _REASONS:
            return _REASONS[self.kind]
        if self.effect == "none":
            return "annotation only; no effect on which data is valid"
        if self.default_fills and mode != "forward":
            return "old data lacks the field, and readers fill in its default"
        old_fails = self.effect in ("narrow", "change")
        new_fails = self.effect in ("widen", "change")
        if mode == "backward":
            return (
                "data written with the old schema may not be valid under the new one"
                if old_fails
                else "every document valid under the old schema stays valid"
            )
        if mode == "forward":
            return (
                "data written with the new schema may not be valid for old readers"
                if new_fails
                else "every document valid under the new schema was valid under the old one"
            )
        if old_fails and new_fails:
            return "neither schema accepts all the data of the other"
        return (
            "old data may not be valid under the new schema"
            if old_fails
            else "new data may not be valid for old readers"
        )


def primary_key(schema: dict[str, Any]) -> str | None:
    hint = schema.get("x-tdm")
    if isinstance(hint, dict) and isinstance(hint.get("primary_key"), str):
        return str(hint["primary_key"])
    return None


def compare(old: dict[str, Any] | bool, new: dict[str, Any] | bool) -> list[SchemaChange]:
    """Every change from ``old`` to ``new``, nested ones included, in a stable order."""
    differ = _Differ(old, new)
    out: list[SchemaChange] = []
    if isinstance(old, dict) and isinstance(new, dict):
        pk_old, pk_new = primary_key(old), primary_key(new)
        if pk_old != pk_new:
            out.append(
                SchemaChange(
                    "",
                    "primary_key_changed",
                    f"primary key {pk_old or '(none)'} -> {pk_new or '(none)'}",
                    "none",
                    always_breaking=True,
                )
            )
        for word in ("$defs", "definitions"):
            out.extend(differ.defs(old.get(word), new.get(word), word))
    out.extend(differ.node(old, new, "", top=True))
    return out


class _Differ:
    def __init__(self, old_root: Any, new_root: Any) -> None:
        self.roots = (old_root, new_root)
        #: ($ref, $ref) pairs whose targets are being compared (recursion guard)
        self._following: set[tuple[Any, Any]] = set()

    # ------------------------------------------------------------------ structure

    def defs(self, old: Any, new: Any, word: str) -> Iterator[SchemaChange]:
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        for name in sorted(old.keys() | new.keys()):
            path = f"{word}.{name}"
            if name not in new:
                yield SchemaChange(path, "definition_removed", f"{path} removed", "change")
            elif name not in old:
                yield SchemaChange(path, "definition_added", f"{path} added", "none")
            else:
                yield from self.node(old[name], new[name], path)

    def node(self, old: Any, new: Any, path: str, *, top: bool = False) -> Iterator[SchemaChange]:
        if dumps(old) == dumps(new):
            return
        where = path or "(root)"
        if isinstance(old, bool) or isinstance(new, bool):
            old_d = _as_schema(old)
            new_d = _as_schema(new)
            if old_d is None or new_d is None:
                effect: Effect = "widen" if new is True or old is False else "narrow"
                yield SchemaChange(
                    path, "schema_changed", f"{where}: {show(old)} -> {show(new)}", effect
                )
                return
            old, new = old_d, new_d
        if not isinstance(old, dict) or not isinstance(new, dict):
            yield SchemaChange(
                path, "schema_changed", f"{where}: {show(old)} -> {show(new)}", "change"
            )
            return
        yield from self._ref(old, new, path)
        yield from self._types(old, new, path)
        yield from self._values(old, new, path)
        yield from self._bounds(old, new, path)
        yield from self._strings(old, new, path)
        yield from self._objects(old, new, path)
        yield from self._arrays(old, new, path)
        yield from self._combinators(old, new, path)
        yield from self._annotations(old, new, path, top)
        if not top:  # the root's definitions are listed first, by compare()
            for word in ("$defs", "definitions"):
                yield from self.defs(old.get(word), new.get(word), f"{path}.{word}")
        for word in sorted((old.keys() | new.keys()) - _HANDLED):
            if dumps(old.get(word)) != dumps(new.get(word)):
                yield SchemaChange(
                    path,
                    "keyword_changed",
                    f"{_at(path, word)} {show(old.get(word))} -> {show(new.get(word))}",
                    "change",
                )

    def _ref(self, old: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[SchemaChange]:
        a, b = old.get("$ref"), new.get("$ref")
        if a == b:
            return  # the same definition: its changes are listed under $defs
        detail = f"{_at(path, '$ref')} {show(a)} -> {show(b)}"
        target_a = self._resolve(a, 0) if a is not None else True
        target_b = self._resolve(b, 1) if b is not None else True
        if target_a is None or target_b is None:
            yield SchemaChange(path, "ref_changed", detail, "change")
            return
        if (a, b) in self._following:  # a recursive definition: already being compared
            return
        self._following.add((a, b))
        try:
            effects = {c.effect for c in self.node(target_a, target_b, path)} - {"none"}
        finally:
            self._following.discard((a, b))
        yield SchemaChange(path, "ref_changed", detail, _combine(effects))

    def _resolve(self, ref: Any, side: int) -> Any:
        root = self.roots[side]
        if not isinstance(ref, str) or not ref.startswith("#/") or not isinstance(root, dict):
            return None
        node: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    # ------------------------------------------------------------------ keywords

    def _types(self, old: dict[str, Any], new: dict[str, Any], path: str) -> Iterator[SchemaChange]:
        if "type" not in old and "type" not in new:
            return
        a, b = _types(old.get("type")), _types(new.get("type"))
        if a == b:
            return
        detail = (
            f"{_at(path, 'type')} {_show_types(old.get('type'))} -> {_show_types(new.get('type'))}"
        )
        if _type_subset(a, b):
            yield SchemaChange(path, "type_widened", detail, "widen")
        elif _type_subset(b, a):
            yield SchemaChange(path, "type_narrowed", detail, "narrow")
        else:
            yield SchemaChange(path, "type_changed", detail, "change")

    def _values(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        if "enum" in old or "enum" in new:
            a = {dumps(v): v for v in old.get("enum", [])} if "enum" in old else None
            b = {dumps(v): v for v in new.get("enum", [])} if "enum" in new else None
            if a is None and b is not None:
                yield SchemaChange(
                    path, "enum_added", f"{_at(path, 'enum')} added: {show(new['enum'])}", "narrow"
                )
            elif b is None and a is not None:
                yield SchemaChange(path, "enum_removed", f"{_at(path, 'enum')} removed", "widen")
            elif a is not None and b is not None and a.keys() != b.keys():
                gone = [a[k] for k in a if k not in b]
                came = [b[k] for k in b if k not in a]
                parts = []
                if gone:
                    parts.append(f"removed {show(gone)}")
                if came:
                    parts.append(f"added {show(came)}")
                effect: Effect = "change" if gone and came else ("narrow" if gone else "widen")
                kind = {"narrow": "enum_narrowed", "widen": "enum_extended"}.get(
                    effect, "enum_changed"
                )
                yield SchemaChange(path, kind, f"{_at(path, 'enum')} {', '.join(parts)}", effect)
        if "const" in old or "const" in new:
            if "const" not in old:
                yield SchemaChange(
                    path,
                    "const_added",
                    f"{_at(path, 'const')} added: {show(new['const'])}",
                    "narrow",
                )
            elif "const" not in new:
                yield SchemaChange(path, "const_removed", f"{_at(path, 'const')} removed", "widen")
            elif dumps(old["const"]) != dumps(new["const"]):
                yield SchemaChange(
                    path,
                    "const_changed",
                    f"{_at(path, 'const')} {show(old['const'])} -> {show(new['const'])}",
                    "change",
                )

    def _bounds(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        for word in (*_LOWER, *_UPPER):
            a, b = old.get(word), new.get(word)
            if a == b and type(a) is type(b):
                continue
            lower = word in _LOWER
            snake = _snake(word)
            if a is None:
                yield SchemaChange(
                    path, f"{snake}_added", f"{_at(path, word)} {show(b)} added", "narrow"
                )
            elif b is None:
                yield SchemaChange(
                    path, f"{snake}_removed", f"{_at(path, word)} {show(a)} removed", "widen"
                )
            elif not _numbers(a, b):
                yield SchemaChange(
                    path,
                    f"{snake}_changed",
                    f"{_at(path, word)} {show(a)} -> {show(b)}",
                    "change",
                )
            elif a != b:
                tighter = b > a if lower else b < a
                yield SchemaChange(
                    path,
                    f"{snake}_{'increased' if b > a else 'decreased'}",
                    f"{_at(path, word)} {show(a)} -> {show(b)}",
                    "narrow" if tighter else "widen",
                )
        a, b = old.get("multipleOf"), new.get("multipleOf")
        if a != b:
            word = _at(path, "multipleOf")
            if a is None:
                yield SchemaChange(path, "multiple_of_added", f"{word} {show(b)} added", "narrow")
            elif b is None:
                yield SchemaChange(
                    path, "multiple_of_removed", f"{word} {show(a)} removed", "widen"
                )
            else:
                effect: Effect = "change"
                if _numbers(a, b) and _divides(b, a):
                    effect = "widen"  # every multiple of a is a multiple of b
                elif _numbers(a, b) and _divides(a, b):
                    effect = "narrow"
                yield SchemaChange(
                    path, "multiple_of_changed", f"{word} {show(a)} -> {show(b)}", effect
                )
        a, b = old.get("uniqueItems", False), new.get("uniqueItems", False)
        if bool(a) != bool(b):
            yield SchemaChange(
                path,
                "unique_items_added" if b else "unique_items_removed",
                f"{_at(path, 'uniqueItems')} {show(a)} -> {show(b)}",
                "narrow" if b else "widen",
            )

    def _strings(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        for word in ("pattern", "format"):
            a, b = old.get(word), new.get(word)
            if a == b:
                continue
            if a is None:
                yield SchemaChange(
                    path, f"{word}_added", f"{_at(path, word)} {show(b)} added", "narrow"
                )
            elif b is None:
                yield SchemaChange(
                    path, f"{word}_removed", f"{_at(path, word)} {show(a)} removed", "widen"
                )
            else:
                yield SchemaChange(
                    path, f"{word}_changed", f"{_at(path, word)} {show(a)} -> {show(b)}", "change"
                )

    def _objects(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        old_props = old.get("properties") if isinstance(old.get("properties"), dict) else {}
        new_props = new.get("properties") if isinstance(new.get("properties"), dict) else {}
        old_ap = old.get("additionalProperties", True)
        new_ap = new.get("additionalProperties", True)
        assert isinstance(old_props, dict) and isinstance(new_props, dict)
        for name in [*old_props, *(n for n in new_props if n not in old_props)]:
            sub = f"{path}.{name}" if path else name
            if name in old_props and name in new_props:
                yield from self.node(old_props[name], new_props[name], sub)
            elif name in old_props:
                yield self._removed(sub, old_props[name], new_ap)
            else:
                yield self._added(sub, new_props[name], old_ap)
        yield from self._required(old, new, path, new_props)
        if dumps(old_ap) != dumps(new_ap):
            word = _at(path, "additionalProperties")
            if old_ap is True and new_ap is False:
                yield SchemaChange(
                    path, "additional_properties_closed", f"{word} closed (false)", "narrow"
                )
            elif old_ap is False and new_ap is True:
                yield SchemaChange(path, "additional_properties_opened", f"{word} opened", "widen")
            else:
                effects = {c.effect for c in self.node(old_ap, new_ap, path)} - {"none"}
                yield SchemaChange(
                    path,
                    "additional_properties_changed",
                    f"{word}: {show(old_ap)} -> {show(new_ap)}",
                    _combine(effects),
                )

    def _removed(self, path: str, schema: Any, new_ap: Any) -> SchemaChange:
        if new_ap is False:
            return SchemaChange(
                path,
                "property_removed",
                f"property '{path}' removed from a closed object: rows that carry it are rejected",
                "narrow",
            )
        effects = {c.effect for c in self.node(schema, new_ap, path)} - {"none"}
        effect = _combine(effects)
        model = (
            "an open object" if new_ap is True else "an object whose additionalProperties cover it"
        )
        if effect in ("widen", "none"):
            return SchemaChange(
                path, "property_removed", f"property '{path}' removed from {model}", "widen"
            )
        return SchemaChange(
            path,
            "property_removed",
            f"property '{path}' removed; additionalProperties do not accept all its old values",
            effect,
        )

    def _added(self, path: str, schema: Any, old_ap: Any) -> SchemaChange:
        if old_ap is False:
            return SchemaChange(
                path, "property_added", f"property '{path}' added to a closed object", "widen"
            )
        if schema is True or (
            isinstance(schema, dict) and not set(schema) - {*ANNOTATIONS, "default", "x-tdm"}
        ):
            return SchemaChange(
                path, "property_added", f"property '{path}' added (any value)", "none"
            )
        if old_ap is True:
            return SchemaChange(
                path,
                "property_added",
                f"property '{path}' added to an open object: old rows may carry it with any value",
                "narrow",
            )
        # old rows may carry the name, validated by the old additionalProperties
        effects = {c.effect for c in self.node(old_ap, schema, path)} - {"none"}
        return SchemaChange(path, "property_added", f"property '{path}' added", _combine(effects))

    def _required(
        self, old: dict[str, Any], new: dict[str, Any], path: str, new_props: dict[str, Any]
    ) -> Iterator[SchemaChange]:
        a = [r for r in old.get("required", []) if isinstance(r, str)]
        b = [r for r in new.get("required", []) if isinstance(r, str)]
        for name in b:
            if name not in a:
                sub = f"{path}.{name}" if path else name
                prop = new_props.get(name)
                has_default = isinstance(prop, dict) and "default" in prop
                yield SchemaChange(
                    sub,
                    "required_added",
                    f"'{sub}' became required" + (" (it has a default)" if has_default else ""),
                    "narrow",
                    default_fills=has_default,
                )
        for name in a:
            if name not in b:
                sub = f"{path}.{name}" if path else name
                yield SchemaChange(
                    sub, "required_removed", f"'{sub}' is no longer required", "widen"
                )

    def _arrays(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        if "items" in old or "items" in new:
            a, b = old.get("items", True), new.get("items", True)
            if isinstance(a, list) or isinstance(b, list):  # draft-07 tuple form
                yield from self._list(a, b, f"{path}[items]", "any")
            else:
                yield from self.node(a, b, f"{path}[]")
        if "prefixItems" in old or "prefixItems" in new:
            yield from self._list(
                old.get("prefixItems", []),
                new.get("prefixItems", []),
                f"{path}[prefixItems]",
                "any",
            )

    def _list(self, a: Any, b: Any, path: str, extra: str) -> Iterator[SchemaChange]:
        a = a if isinstance(a, list) else []
        b = b if isinstance(b, list) else []
        for i in range(min(len(a), len(b))):
            yield from self.node(a[i], b[i], f"{path}[{i}]")
        if len(a) != len(b):
            yield SchemaChange(
                path, "items_changed", f"{path}: {len(a)} -> {len(b)} positions", "change"
            )

    def _combinators(
        self, old: dict[str, Any], new: dict[str, Any], path: str
    ) -> Iterator[SchemaChange]:
        for word in ("anyOf", "oneOf", "allOf"):
            a = old.get(word) if isinstance(old.get(word), list) else None
            b = new.get(word) if isinstance(new.get(word), list) else None
            if a is None and b is None:
                continue
            where = _at(path, word)
            if a is None or b is None:
                added = a is None
                # a new anyOf/oneOf/allOf constrains; removing one relaxes
                yield SchemaChange(
                    path,
                    f"{_snake(word)}_{'added' if added else 'removed'}",
                    f"{where} {'added' if added else 'removed'}",
                    "narrow" if added else "widen",
                )
                continue
            keep_a = [x for x in a if not any(dumps(x) == dumps(y) for y in b)]
            keep_b = [y for y in b if not any(dumps(x) == dumps(y) for x in a)]
            for i in range(min(len(keep_a), len(keep_b))):
                yield from self.node(keep_a[i], keep_b[i], f"{path}[{word}]")
            more, fewer = len(keep_b) > len(keep_a), len(keep_b) < len(keep_a)
            if more or fewer:
                # anyOf/oneOf: more branches accept more; allOf: more conditions accept less
                grows = more if word != "allOf" else fewer
                yield SchemaChange(
                    path,
                    f"{_snake(word)}_{'extended' if more else 'narrowed'}",
                    f"{where} {len(a)} -> {len(b)} branches",
                    "widen" if grows else "narrow",
                )
        if "not" in old or "not" in new:
            a, b = old.get("not"), new.get("not")
            if a is None:
                yield SchemaChange(path, "not_added", f"{_at(path, 'not')} added", "narrow")
            elif b is None:
                yield SchemaChange(path, "not_removed", f"{_at(path, 'not')} removed", "widen")
            elif dumps(a) != dumps(b):
                yield SchemaChange(path, "not_changed", f"{_at(path, 'not')} changed", "change")

    def _annotations(
        self, old: dict[str, Any], new: dict[str, Any], path: str, top: bool
    ) -> Iterator[SchemaChange]:
        for word in (*ANNOTATIONS, "default"):
            if dumps(old.get(word)) != dumps(new.get(word)):
                yield SchemaChange(
                    path,
                    f"{_snake(word.lstrip('$'))}_changed",
                    f"{_at(path, word)} changed",
                    "none",
                )
        a = dict(old.get("x-tdm") or {}) if isinstance(old.get("x-tdm"), dict) else {}
        b = dict(new.get("x-tdm") or {}) if isinstance(new.get("x-tdm"), dict) else {}
        if top:  # the primary key is classified on its own
            a.pop("primary_key", None)
            b.pop("primary_key", None)
        if dumps(a) != dumps(b):
            parts = []
            for key in sorted(a.keys() | b.keys()):
                if dumps(a.get(key)) != dumps(b.get(key)):
                    parts.append(
                        f"{key} {show(a.get(key)) if key in a else '(unset)'} -> {show(b.get(key)) if key in b else '(unset)'}"
                    )
            yield SchemaChange(
                path, "generator_changed", f"{_at(path, 'x-tdm')} {'; '.join(parts)}", "none"
            )


# ---------------------------------------------------------------------- helpers

_ALL_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


def _types(value: Any) -> frozenset[str]:
    """The types a ``type`` keyword allows; ``integer`` is dropped beside ``number``,
    which already holds every integer, so equal sets mean equal types."""
    if isinstance(value, str):
        found = frozenset({value})
    elif isinstance(value, list):
        found = frozenset(v for v in value if isinstance(v, str))
    else:
        found = _ALL_TYPES
    return found - {"integer"} if "number" in found else found


def _type_subset(a: frozenset[str], b: frozenset[str]) -> bool:
    """Every value of a type in ``a`` has a type in ``b`` (integers are numbers)."""
    return all(t in b or (t == "integer" and "number" in b) for t in a)


def _show_types(value: Any) -> str:
    if value is None:
        return "(any)"
    return "|".join(value) if isinstance(value, list) else str(value)


def _as_schema(value: Any) -> dict[str, Any] | None:
    if value is True:
        return {}
    if isinstance(value, dict):
        return value
    return None


def _combine(effects: set[Effect]) -> Effect:
    if not effects:
        return "none"
    if effects == {"widen"}:
        return "widen"
    if effects == {"narrow"}:
        return "narrow"
    return "change"


def _numbers(a: Any, b: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))


def _divides(d: float, n: float) -> bool:
    """``n`` is a multiple of ``d`` (tolerating float representation)."""
    if d == 0:
        return False
    q = n / d
    return math.isclose(q, round(q), rel_tol=1e-9, abs_tol=1e-9)


def _at(path: str, word: str) -> str:
    return f"{path}: {word}" if path else word


def _snake(word: str) -> str:
    out = []
    for ch in word:
        if ch.isupper():
            out.append("_" + ch.lower())
        else:
            out.append(ch)
    return "".join(out)

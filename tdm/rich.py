"""Generators for the whole applicator and validation vocabularies: generate, then check.

The planner builds plain schemas directly (:mod:`tdm.planner`).  A subschema it cannot
build exactly (if/then/else, not, contains, patternProperties, propertyNames,
dependent*, unevaluated*, min/maxProperties, conflicting allOf branches, recursion...)
comes here instead:

1. its references are inlined, recursion bounded (:func:`tdm.jsonschema_norm.inline`);
2. it is put into canonical form (:func:`tdm.jsonschema_norm.canonical`), which merges
   allOf, turns conditionals and negations into plain anyOf branches, and says when no
   value can satisfy it;
3. :class:`RichBuilder` makes a best-effort generator from the canonical form;
4. :class:`tdm.generators.Checked` tests every value against the compiled validator of
   the inlined subschema and redraws a failing row from the same per-field streams at
   virtual row indices, so the result is still a pure function of the row.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from tdm import catalogue
from tdm import generators as g
from tdm import jsonschema_norm as norm
from tdm.errors import Unsupported
from tdm.formats import OWN_FORMATS, PLANNER_FORMATS, Formatted
from tdm.models import FieldHint

if TYPE_CHECKING:
    from tdm.planner import Planner

_OBJECT_KEYWORDS = frozenset(
    {"properties", "required", "additionalProperties", "patternProperties", "propertyNames"}
    | {"minProperties", "maxProperties", "dependentRequired", "dependentSchemas"}
    | {"unevaluatedProperties", "dependencies"}
)
_ARRAY_KEYWORDS = frozenset(
    {"items", "prefixItems", "additionalItems", "contains", "minContains", "maxContains"}
    | {"minItems", "maxItems", "uniqueItems", "unevaluatedItems"}
)
_NUMBER_KEYWORDS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
)
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern", "format"})
_PRESENCE = 0.8
_EXTRA_NAMES = ("extra", "more", "other", "info", "meta", "note", "misc", "data")


class Unsatisfiable(ValueError):
    """No value satisfies the subschema at ``path`` (``keyword`` says why)."""

    def __init__(self, path: str, keyword: str) -> None:
        super().__init__(keyword)
        self.path = path
        self.keyword = keyword


@functools.lru_cache(maxsize=4096)
def matches(pattern: str, text: str) -> bool:
    """ECMA-262 regex search, as the validator does it."""
    try:
        return bool(norm.validator({"pattern": pattern}, norm.DRAFT202012).is_valid(text))
    except Exception:  # an invalid pattern matches nothing
        return False


def _as_types(node: dict[str, Any]) -> list[str]:
    raw = node.get("type")
    if raw is None:
        keys = set(node)
        if keys & _OBJECT_KEYWORDS:
            return ["object"]
        if keys & _ARRAY_KEYWORDS:
            return ["array"]
        if keys & _NUMBER_KEYWORDS:
            return ["number"]
        return ["string"]  # anything goes: text is the plainest value
    return [raw] if isinstance(raw, str) else list(raw)


class RichBuilder:
    """Best-effort generators for canonical, self-contained subschemas."""

    def __init__(self, planner: Planner, dialect: str) -> None:
        self.planner = planner
        self.dialect = dialect

    def key(self, path: str, purpose: str = "") -> int:
        return self.planner.ctx.key(path, purpose)

    # -------------------------------------------------------------- merging

    def merge(self, parts: list[Any]) -> Any:
        """One schema for values that satisfy every part (canonicalised when needed)."""
        parts = [p for p in parts if p is not True and p != {}]
        if not parts:
            return {}
        if len(parts) == 1:
            return parts[0]
        form, ok = norm.canonical({"allOf": parts}, self.dialect)
        return form if ok else False

    def flatten(self, node: dict[str, Any], path: str) -> dict[str, Any]:
        """allOf folded into one mapping (first value wins; the check holds the rest)."""
        out = {k: v for k, v in node.items() if k != "allOf"}
        for part in node.get("allOf", []):
            if part is False:
                raise Unsatisfiable(path, "allOf")
            if isinstance(part, dict):
                for k, v in self.flatten(part, path).items():
                    if k == "type" and k in out:
                        both = [t for t in _as_list(out[k]) if t in _as_list(v)]
                        if "number" in _as_list(out[k]) and "integer" in _as_list(v):
                            both.append("integer")
                        if not both:
                            raise Unsatisfiable(path, "allOf")
                        out[k] = both
                    elif k == "required" and k in out:
                        out[k] = list(dict.fromkeys([*out[k], *v]))
                    else:
                        out.setdefault(k, v)
        return out

    # -------------------------------------------------------------- building

    def build(self, node: Any, path: str) -> g.Gen:
        if node is False:
            raise Unsatisfiable(path, "false")
        if node is True or node == {}:
            return self.planner.text({}, path, False)
        node = self.flatten(node, path)
        if "const" in node:
            return g.Constant(node["const"])
        if "enum" in node:
            check = norm.validator(node, self.dialect)
            values = [v for v in node["enum"] if check.is_valid(v)]
            if not values:
                raise Unsatisfiable(path, "enum")
            return g.Choice(self.key(path), values)
        branches = node.get("anyOf") or node.get("oneOf")
        if branches:
            rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
            gens: list[g.Gen] = []
            for i, branch in enumerate(branches):
                sub = self.merge([rest, branch]) if rest else branch
                try:
                    gens.append(self.build(sub, f"{path}|{i}"))
                except Unsatisfiable:
                    continue
            if not gens:
                raise Unsatisfiable(path, "anyOf" if "anyOf" in node else "oneOf")
            return gens[0] if len(gens) == 1 else g.OneOf(self.key(path, "branch"), gens)
        types = _as_types(node)
        nullable = "null" in types
        kinds = [t for t in types if t != "null"]
        if not kinds:
            return g.Constant(None)
        gen: g.Gen
        if len(kinds) == 1:
            gen = self.typed(node, kinds[0], path)
        else:
            gen = g.OneOf(
                self.key(path, "type"), [self.typed(node, t, f"{path}|{t}") for t in kinds]
            )
        if nullable:
            gen = g.Nullable(self.key(path, "null"), gen, 0.1)
        return gen

    def typed(self, node: dict[str, Any], kind: str, path: str) -> g.Gen:
        planner, hint = self.planner, FieldHint()
        if kind == "object":
            return self.object(node, path)
        if kind == "array":
            return self.array(node, path)
        if kind == "boolean":
            return g.Boolean(self.key(path))
        if kind == "integer":
            return planner.integer(node, hint, path, False)
        if kind == "number":
            return planner.number(node, hint, path)
        return self.string(node, path)

    def string(self, node: dict[str, Any], path: str) -> g.Gen:
        fmt = node.get("format")
        lo, hi = int(node.get("minLength", 0)), node.get("maxLength")
        if fmt in OWN_FORMATS and "pattern" not in node:
            words = catalogue.faker_pool(self.planner.ctx.locale, "word")
            gen: g.Gen = Formatted(self.key(path), words, fmt)
            return g.Bounded(gen, lo, hi, path) if lo or hi is not None else gen
        if fmt in PLANNER_FORMATS and "pattern" not in node:
            return self.planner.named(PLANNER_FORMATS[fmt], FieldHint(), node, path, False)
        plain = {k: v for k, v in node.items() if k != "format"}
        try:
            return self.planner.string(plain, FieldHint(), path, False)
        except (ValueError, Unsupported):
            pass  # a pattern tdm cannot generate from: text, and the check decides
        return self.planner.text(
            {"minLength": lo, "maxLength": hi} if hi else {"minLength": lo}, path, False
        )

    def object(self, node: dict[str, Any], path: str) -> g.Gen:
        props: dict[str, Any] = dict(node.get("properties", {}))
        required = list(dict.fromkeys(node.get("required", [])))
        patterns: dict[str, Any] = node.get("patternProperties", {})
        additional = node.get("additionalProperties", True)
        names = node.get("propertyNames", True)
        name_ok = (
            (lambda n: True) if names is True else norm.validator(names, self.dialect).is_valid
        )

        def schema_for(name: str) -> Any:
            matched = [s for p, s in patterns.items() if matches(p, name)]
            if name in props:
                return self.merge([props[name], *matched])
            if matched:
                return self.merge(matched)
            return {} if additional is True else additional

        for name in required:
            if not name_ok(name):
                raise Unsatisfiable(f"{path}.{name}" if path else name, "propertyNames")
        kept: dict[str, Any] = {}
        for name in [*required, *props]:
            if name in kept:
                continue
            sub = schema_for(name)
            if sub is False or not name_ok(name):
                if name in required:
                    raise Unsatisfiable(f"{path}.{name}" if path else name, "required")
                continue
            kept[name] = sub
        need = set(required)
        most = node.get("maxProperties")
        if most is not None:
            if len(need) > most:
                raise Unsatisfiable(path, "maxProperties")
            optional = [n for n in kept if n not in need][: most - len(need)]
            kept = {n: s for n, s in kept.items() if n in need or n in optional}
        least = int(node.get("minProperties", 0))
        for name in kept:
            if len(need) >= least:
                break
            need.add(name)
        if len(need) < least:
            for name in self.extra_names(patterns, name_ok, kept, least - len(need), path):
                kept[name] = schema_for(name)
                need.add(name)
        if len(need) < least:
            raise Unsatisfiable(path, "minProperties")
        out = g.Object()
        for name, sub in kept.items():
            sub_path = f"{path}.{name}" if path else name
            try:
                gen = self.build(sub, sub_path)
            except Unsatisfiable:
                if name in need:
                    raise
                continue
            presence = None if name in need else _PRESENCE
            out.props.append(g.Prop(name, gen, presence, self.key(sub_path, "presence")))
        return out

    def extra_names(
        self, patterns: dict[str, Any], name_ok: Any, taken: dict[str, Any], n: int, path: str
    ) -> list[str]:
        """``n`` property names beyond ``taken`` that the schema allows (for minProperties)."""
        candidates: list[str] = []
        for i, pattern in enumerate(patterns):
            try:
                gen = g.RegexGen(self.key(path, f"name{i}"), _search_form(pattern), max_repeat=4)
                candidates += gen.column(np.arange(32, dtype=np.uint64))
            except ValueError:
                continue
        candidates += [f"{w}_{k}" if k else w for k in range(4) for w in _EXTRA_NAMES]
        out: list[str] = []
        for name in candidates:
            if name not in taken and name not in out and name_ok(name):
                out.append(name)
                if len(out) == n:
                    break
        return out

    def array(self, node: dict[str, Any], path: str) -> g.Gen:
        items = node.get("items", True)
        if isinstance(items, list):  # draft-07 tuple form
            prefix, rest = items, node.get("additionalItems", True)
        else:
            prefix, rest = list(node.get("prefixItems", [])), items
        lo = int(node.get("minItems", 0))
        hi_raw = node.get("maxItems")
        contains = node.get("contains")
        least = int(node.get("minContains", 1)) if contains is not None else 0
        if rest is False:
            hi_raw = len(prefix) if hi_raw is None else min(hi_raw, len(prefix))
        start = len(prefix)
        if hi_raw is not None and start + least > hi_raw:
            start = 0  # the contained items must share places with the prefix
        lo = max(lo, start + least)
        hi = int(hi_raw) if hi_raw is not None else lo + 3
        hi = min(hi, lo + 5)
        if lo > hi:
            raise Unsatisfiable(path, "minItems")
        unique = bool(node.get("uniqueItems", False))
        n_slots = hi * 2 + 2 if unique else hi
        slots: list[g.Gen] = []
        for k in range(n_slots):
            parts = [prefix[k] if k < len(prefix) else rest]
            if start <= k < start + least:
                parts.append(contains)
            sub = self.merge(parts)
            try:
                slots.append(self.build(sub, f"{path}[{k}]"))
            except Unsatisfiable:
                if k < lo:
                    raise
                hi = min(hi, k)
                break
        if hi < lo:
            raise Unsatisfiable(path, "items")
        return g.Array(self.key(path, "len"), slots, lo, hi, unique)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _search_form(pattern: str) -> str:
    """A pattern made whole-string (JSON Schema patterns search anywhere in the value)."""
    core = pattern[1:] if pattern.startswith("^") else f"[a-z]{{0,3}}{pattern}"
    if not re.search(r"(?<!\\)\$$", core):
        core += "[a-z]{0,3}"
    return core

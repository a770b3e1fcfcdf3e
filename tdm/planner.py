"""Turns a JSON Schema plus ``x-tdm`` hints into a tree of column generators.

Supported: type (and unions with null), format (email, date, date-time, time,
uuid, uri, ipv4, ipv6, hostname), enum/const, numeric bounds and multipleOf,
minLength/maxLength, pattern, nested objects, arrays (minItems/maxItems/
uniqueItems), local ``$ref`` to ``$defs``, allOf (merged), anyOf/oneOf (a branch
per row) and property-name inference.  Anything else is a :class:`UserError`
naming the property, never silently wrong data.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from pydantic import ValidationError

from tdm import catalogue, fields, rng
from tdm import generators as g
from tdm import jsonschema_norm as norm
from tdm.errors import Unsupported, UserError
from tdm.formats import OWN_FORMATS, PLANNER_FORMATS, Formatted
from tdm.models import FieldHint
from tdm.yamlio import Located

ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "readOnly",
        "writeOnly",
        "deprecated",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
        "x-tdm",
        "id",
        "$vocabulary",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "markdownDescription",
        "discriminator",
        "xml",
        "externalDocs",
        "example",
        "nullable",
    }
)
SUPPORTED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "$ref",
        "allOf",
        "anyOf",
        "oneOf",
    }
)
FORMATS = frozenset(
    {"email", "date", "date-time", "time", "uuid", "uri", "ipv4", "ipv6", "hostname"}
)


def annotation(keyword: str) -> bool:
    """A keyword that asserts nothing: the annotations above and vendor ``x-*`` keys."""
    return keyword in ANNOTATIONS or keyword.startswith("x-")


#: generators that honour minLength/maxLength themselves (others are wrapped in Bounded)
_LENGTH_AWARE = (g.Text, g.RegexGen, g.Pool, g.Constant, g.Choice)
_NUMERIC_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")

#: upper bounds of Faker params: a repository file must not make a pool take hours
_PARAM_LIMITS = {
    "nb_words": 100,
    "nb_sentences": 50,
    "nb": 50,
    "nb_elements": 100,
    "max_nb_chars": 5000,
    "length": 1000,
}

#: x-tdm keys that describe the row's shape, kept when an override swaps the generator
_SHAPE_KEYS = frozenset({"unique", "null_probability", "presence", "pii"})

DEFAULT_NULL_PROBABILITY = 0.1
DEFAULT_PRESENCE = 0.8
DEFAULT_DATE_RANGE = (dt.date(2015, 1, 1), dt.date(2025, 12, 31))


@dataclass
class PlanContext:
    """What the planner needs to know about the dataset being planned."""

    seed: int
    template: str
    dataset: str
    locale: str
    count: int
    display: str
    overrides: dict[str, FieldHint] = field(default_factory=dict)
    #: (target, field, path) -> (the parent field's generator, the parent's row count,
    #: whether it is a self-reference)
    resolve_ref: Callable[[str, str, str], tuple[g.Gen, int, bool]] | None = None
    #: a schema file of the repository by file name ('customers.yaml'), None when absent
    load_schema: Callable[[str], Any] | None = None
    #: top-level properties to build on the generate-and-check path (the plain path's
    #: sample did not validate)
    force_checked: set[str] = field(default_factory=set)
    primary_key: str | None = None
    lines: Located | None = None
    template_doc: Located | None = None
    used_overrides: set[str] = field(default_factory=set)

    def key(self, path: str, purpose: str = "") -> int:
        return rng.derive(self.seed, self.template, self.dataset, path, purpose)


class Planner:
    """Builds generators for one schema document."""

    def __init__(self, root: dict[str, Any], ctx: PlanContext) -> None:
        self.root = root
        self.ctx = ctx
        self._active_refs: list[str] = []
        self.dialect = norm.dialect_of(root, ctx.display)
        self._resolver: norm.Resolver | None = None
        #: base URIs of the subschemas being built (a nested $id starts a new one)
        self._bases: list[str] = []
        #: x-tdm.max_depth in force for the subschemas being built
        self._depths: list[int] = []

    # -------------------------------------------------------------- errors

    def fail(self, path: str, message: str) -> UserError:
        if path in self.ctx.overrides and self.ctx.template_doc is not None:
            # the problem is in the template's override, so point there
            doc = self.ctx.template_doc
            line = doc.line_of(("datasets", self.ctx.dataset, "overrides", path))
            return UserError(
                f"override of property '{path}' ({self.ctx.display}): {message}",
                path=doc.path,
                line=line,
            )
        where = f"property '{path}'" if path else "the schema's top level"
        return UserError(f"{where}: {message}", path=self.ctx.display, line=self.line_of(path))

    def unsupported(self, path: str, message: str) -> Unsupported:
        """A construct the plain path does not build (the checked path is tried next)."""
        where = f"property '{path}'" if path else "the schema's top level"
        return Unsupported(f"{where}: {message}", path=self.ctx.display, line=self.line_of(path))

    def line_of(self, path: str) -> int | None:
        """Line of a property in the schema file (of its nearest plain ancestor)."""
        if self.ctx.lines is None:
            return None
        plain = re.split(r"[\[|]", path, maxsplit=1)[0]  # up to the first array item or branch
        loc: list[str | int] = []
        for part in plain.split(".") if plain else []:
            loc += ["properties", part]
        return self.ctx.lines.line_of(tuple(loc))

    # -------------------------------------------------------------- normalising

    def deref(self, node: Any, path: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(node, dict):
            if node is True:
                return {}
            raise self.unsupported(path, "a boolean 'false' schema can never be satisfied")
        if "$ref" not in node:
            return node
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise self.unsupported(
                path,
                f"$ref {ref!r} is not a local reference ('#/$defs/...'); inline it or use $defs",
            )
        if ref in seen:
            raise self.unsupported(path, f"$ref {ref!r} is recursive, which tdm cannot generate")
        target: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise self.unsupported(path, f"$ref {ref!r} points to nothing in this file")
            target = target[part]
        merged = dict(self.deref(target, path, (*seen, ref)))
        for k, v in node.items():
            if k != "$ref":
                merged[k] = v
        return merged

    def normalize(self, node: Any, path: str) -> dict[str, Any]:
        node = self.deref(node, path)
        if "allOf" not in node:
            return node
        result = {k: v for k, v in node.items() if k != "allOf"}
        for part in node["allOf"]:
            result = self.merge(result, self.normalize(part, path), path)
        return result

    def merge(self, a: dict[str, Any], b: dict[str, Any], path: str) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            if k not in out:
                out[k] = copy.deepcopy(v)
            elif k == "properties":
                props = dict(out[k])
                for name, sub in v.items():
                    props[name] = (
                        self.merge(
                            self.normalize(props[name], f"{path}.{name}"),
                            self.normalize(sub, path),
                            path,
                        )
                        if name in props
                        else sub
                    )
                out[k] = props
            elif k == "required":
                out[k] = list(dict.fromkeys([*out[k], *v]))
            elif k in ("minimum", "minLength", "minItems", "exclusiveMinimum"):
                out[k] = max(out[k], v)
            elif k in ("maximum", "maxLength", "maxItems", "exclusiveMaximum"):
                out[k] = min(out[k], v)
            elif k == "type":
                ta = set(out[k] if isinstance(out[k], list) else [out[k]])
                tb = set(v if isinstance(v, list) else [v])
                if "number" in ta and "integer" in tb:
                    ta.add("integer")
                if "number" in tb and "integer" in ta:
                    tb.add("integer")
                both = sorted(ta & tb)
                if not both:
                    raise self.unsupported(path, "allOf combines types that have nothing in common")
                out[k] = both if len(both) > 1 else both[0]
            elif k == "x-tdm":
                out[k] = {**out[k], **v}
            elif out[k] != v and not annotation(k):
                raise self.unsupported(
                    path, f"allOf gives '{k}' two different values, which tdm cannot merge"
                )
        return out

    # -------------------------------------------------------------- hints

    def hint(self, node: dict[str, Any], path: str) -> FieldHint:
        raw = node.get("x-tdm", {})
        if isinstance(raw, dict) and "max_depth" in raw:
            # a schema-only setting (read by max_depth()); template overrides do not take it
            depth = raw["max_depth"]
            if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= 10:
                raise self.fail(path, "x-tdm.max_depth must be an integer from 0 to 10")
            raw = {k: v for k, v in raw.items() if k != "max_depth"}
        try:
            hint = FieldHint.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise self.fail(path, f"x-tdm.{where}: {err['msg']}") from None
        override = self.ctx.overrides.get(path)
        if override is not None:
            self.ctx.used_overrides.add(path)
            update = override.model_dump(exclude_unset=True)
            if "generator" in update or "ref" in update:
                # a new generator starts from a clean recipe; row-shape settings carry over
                kept = {
                    k: v for k, v in hint.model_dump(exclude_unset=True).items() if k in _SHAPE_KEYS
                }
                hint = FieldHint.model_validate({**kept, **update})
            else:
                hint = hint.model_copy(update=update)
        return hint

    # -------------------------------------------------------------- building

    def build_root(self) -> g.Object:
        node = self.normalize(self.root, "")
        types = self.types(node, "")[1]
        if types and types != ["object"]:
            raise UserError("a dataset schema must have type: object", path=self.ctx.display)
        gen = self.object(node, "")
        unknown = sorted(set(self.ctx.overrides) - self.ctx.used_overrides)
        if unknown:
            doc = self.ctx.template_doc
            raise UserError(
                f"dataset '{self.ctx.dataset}' overrides {unknown}, which {self.ctx.display} does not "
                "have; use a property path such as 'address.city'",
                path=doc.path if doc else self.ctx.display,
                line=doc.line_of(("datasets", self.ctx.dataset, "overrides", unknown[0]))
                if doc
                else None,
            )
        return gen

    def build_field(self, name: str) -> g.Gen:
        """The generator of one top-level property (for references to it)."""
        node = self.normalize(self.root, "")
        props = node.get("properties", {})
        if name not in props:
            raise self.fail(name, "is not a property of this schema")
        return self.build(props[name], name)

    def types(self, node: dict[str, Any], path: str) -> tuple[bool, list[str]]:
        raw = node.get("type")
        if raw is None:
            types: list[str] = []
        elif isinstance(raw, str):
            types = [raw]
        else:
            types = list(raw)
        nullable = "null" in types
        return nullable, [t for t in types if t != "null"]

    def check_keywords(self, node: dict[str, Any], path: str) -> None:
        for kw in node:
            if kw not in SUPPORTED and not annotation(kw):
                raise self.unsupported(
                    path,
                    f"keyword '{kw}' is not supported by tdm's generator; "
                    "remove it or give the property an x-tdm generator",
                )

    def build(self, raw: Any, path: str) -> g.Gen:
        if path in self.ctx.force_checked:
            return self.checked(raw, path, self.unsupported(path, "its sample did not validate"))
        outer = self._bases[-1] if self._bases else self.resolver.root_base
        self._bases.append(self.resolver.base_of(raw, outer))  # the base URI of raw's refs
        self._depths.append(self.max_depth(raw))  # inherited by everything below raw
        try:
            return self.guarded(self._build, raw, path)
        except Unsupported as exc:
            return self.checked(raw, path, exc, outer)
        finally:
            self._bases.pop()
            self._depths.pop()

    def guarded(self, build: Callable[[Any, str], g.Gen], raw: Any, path: str) -> g.Gen:
        """``build(raw, path)``, refusing a $ref that is already being built (recursion)."""
        ref = raw.get("$ref") if isinstance(raw, dict) else None
        refs = [ref] if isinstance(ref, str) else []
        if isinstance(raw, dict) and "allOf" in raw:
            # a cycle can also run through allOf branches, which normalize() merges
            refs += [r for r in self.merged_refs(raw) if r != ref and r in self.recursive_refs]
        if not refs:
            return build(raw, path)
        for r in refs:
            if r in self._active_refs:
                raise self.unsupported(
                    path, f"$ref {r!r} is recursive (it contains itself), which tdm cannot generate"
                )
        self._active_refs.extend(refs)
        try:
            return build(raw, path)
        finally:
            del self._active_refs[-len(refs) :]

    @functools.cached_property
    def recursive_refs(self) -> frozenset[str]:
        return norm.recursive_refs(self.root)

    def merged_refs(self, raw: Any) -> list[str]:
        return norm.merged_refs(self.root, raw)

    # -------------------------------------------------------------- generate and check

    @property
    def resolver(self) -> norm.Resolver:
        if self._resolver is None:
            base = norm.ROOT_URI
            if isinstance(self.root.get("$id"), str):
                base = norm.join(base, self.root["$id"])
            self._resolver = norm.Resolver(self.root, self.ctx.load_schema, base)
        return self._resolver

    def can_check(self, name: str) -> bool:
        """Whether top-level property ``name`` may move to the generate-and-check path
        (not a reference, a named generator or the primary key, whose values must stay)."""
        sub = self.root.get("properties", {}).get(name)
        if sub is None or name == self.ctx.primary_key:
            return False
        hint = self.ctx.overrides.get(name)
        raw = sub.get("x-tdm", {}) if isinstance(sub, dict) else {}
        if hint is not None and (hint.generator is not None or hint.ref is not None):
            return False
        return not (isinstance(raw, dict) and ("generator" in raw or "ref" in raw))

    def max_depth(self, raw: Any) -> int:
        """x-tdm.max_depth of ``raw``, else of the nearest property above it being built,
        else of the schema; 3 by default."""
        hint = raw.get("x-tdm") if isinstance(raw, dict) else None
        if isinstance(hint, dict) and isinstance(hint.get("max_depth"), int):
            return int(hint["max_depth"])
        if self._depths:
            return self._depths[-1]
        hint = self.root.get("x-tdm")
        if isinstance(hint, dict) and isinstance(hint.get("max_depth"), int):
            return int(hint["max_depth"])
        return norm.DEFAULT_MAX_DEPTH

    def checked(self, raw: Any, path: str, reason: Unsupported, base: str | None = None) -> g.Gen:
        """The generate-and-check path (:mod:`tdm.rich`) for a subschema the plain path
        does not build; refused naming the property and keyword when it cannot either."""
        from tdm import rich  # the rich path imports the planner's leaf builders

        hint_raw = raw.get("x-tdm") if isinstance(raw, dict) else None
        override = self.ctx.overrides.get(path)
        if (isinstance(hint_raw, dict) and ({"ref", "generator"} & set(hint_raw))) or (
            override is not None and (override.ref is not None or override.generator is not None)
        ):
            raise reason  # a named generator or reference is the user's choice: never dropped
        if (
            path == self.ctx.primary_key
            or (isinstance(hint_raw, dict) and hint_raw.get("unique"))
            or (override is not None and override.unique)
        ):
            # drawing again until a value fits cannot keep values distinct
            raise self.fail(
                path,
                f"must be unique, which tdm cannot guarantee with these keywords ({reason}); "
                "use a sequence, a uuid or a pattern of fixed-width parts",
            )
        try:
            inlined = norm.inline(
                raw,
                self.resolver,
                self.dialect,
                base=base or self.resolver.root_base,
                max_depth=self.max_depth(raw),
            )
        except norm.Unresolvable as exc:
            raise self.fail(path, f"$ref {exc} points to nothing tdm can read") from None
        form, satisfiable = norm.canonical(inlined, self.dialect)
        keywords = (
            ", ".join(k for k in raw if k not in ANNOTATIONS) if isinstance(raw, dict) else "false"
        )
        if not satisfiable or form is False:
            # Unsupported: the enclosing subschema may still do without it (an optional
            # property, array items, an anyOf branch), on its own generate-and-check path
            raise self.unsupported(path, f"no value satisfies its schema (keywords: {keywords})")
        try:
            gen = rich.RichBuilder(self, self.dialect).build(form, path)
        except rich.Unsatisfiable as exc:
            raise self.unsupported(
                exc.path or path, f"no value satisfies its schema (keyword '{exc.keyword}')"
            ) from None
        except Unsupported:
            raise reason from None
        check = norm.validator(inlined, self.dialect).is_valid
        return g.Checked(gen, check, path, keywords=keywords)

    def _build(self, raw: Any, path: str) -> g.Gen:
        node = self.normalize(raw, path)
        hint = self.hint(node, path)
        nullable, types = self.types(node, path)
        branches = node.get("anyOf") or node.get("oneOf")
        if branches is not None:
            real = []
            for b in branches:
                bn = self.normalize(b, path)
                if bn.get("type") == "null":
                    nullable = True
                else:
                    real.append(b)
            branches = real
        unique = hint.unique or (path == self.ctx.primary_key)
        if hint.ref is not None:
            gen = self.ref(hint, path, unique)
        elif hint.generator is not None:
            gen = self.named(hint.generator, hint, node, path, unique)
        else:
            self.check_keywords(node, path)
            if branches:
                if unique:
                    raise self.fail(path, "unique is not supported on anyOf/oneOf")
                gens = [self.build_branch(b, f"{path}|{i}") for i, b in enumerate(branches)]
                gen = gens[0] if len(gens) == 1 else g.OneOf(self.ctx.key(path, "branch"), gens)
            else:
                gen = self.infer(node, hint, types, nullable, path, unique)
        if unique and gen.unique_capacity is not None and self.ctx.count > gen.unique_capacity:
            raise self.fail(
                path,
                f"must be unique but its generator can make only {gen.unique_capacity} distinct "
                f"values for {self.ctx.count} rows; widen the range or lower the count",
            )
        if nullable:
            p = DEFAULT_NULL_PROBABILITY if hint.null_probability is None else hint.null_probability
            if unique and p > 0:
                raise self.fail(path, "a unique or primary-key property cannot be null")
            if p > 0:
                gen = g.Nullable(self.ctx.key(path, "null"), gen, p)
        elif hint.null_probability:
            raise self.fail(
                path,
                'null_probability is set but the type does not allow null; add "null" to its type',
            )
        return gen

    def build_branch(self, raw: Any, path: str) -> g.Gen:
        return self.guarded(self._build_branch, raw, path)

    def _build_branch(self, raw: Any, path: str) -> g.Gen:
        # branches share the property's hint-free inference; their streams are keyed by branch
        node = self.normalize(raw, path)
        self.check_keywords(node, path)
        nullable, types = self.types(node, path)
        return self.infer(node, FieldHint(), types, nullable, path, False)

    # -------------------------------------------------------------- inference

    def infer(
        self,
        node: dict[str, Any],
        hint: FieldHint,
        types: list[str],
        nullable: bool,
        path: str,
        unique: bool,
    ) -> g.Gen:
        key = self.ctx.key(path)
        if "const" in node:
            return g.Constant(node["const"])
        if "enum" in node:
            values = list(node["enum"])
            if not nullable:
                pass
            elif None in values:
                values = [v for v in values if v is not None]
            if unique:
                raise self.fail(path, "unique is not supported on an enum")
            return g.Choice(key, values, self.weights(hint, values, path))
        if not types:
            if "properties" in node:
                types = ["object"]
            elif "items" in node:
                types = ["array"]
            elif nullable:
                return g.Constant(None)
            elif any(k in node for k in _NUMERIC_KEYWORDS):
                types = ["number"]
            else:
                types = ["string"]  # a schema without 'type' allows anything; text is the plainest
        if len(types) > 1:
            gens = [
                self.infer({**node, "type": t}, hint, [t], False, f"{path}|{t}", unique)
                for t in types
            ]
            return g.OneOf(self.ctx.key(path, "type"), gens)
        kind = types[0]
        if kind == "object":
            if unique:
                raise self.fail(path, "unique is not supported on an object")
            return self.object(node, path)
        if kind == "array":
            return self.array(node, hint, path)
        if kind == "boolean":
            if unique:
                raise self.fail(path, "unique is not supported on a boolean")
            return g.Boolean(key)
        if kind == "integer":
            open_above = "maximum" not in node and "exclusiveMaximum" not in node
            if unique and open_above and "multipleOf" not in node and hint.max is None:
                start = node.get("minimum", node.get("exclusiveMinimum", 0) + 1)
                return g.Sequence(start=int(-(-start // 1)))
            if not unique and self.numeric_name(node, path) == "amount":
                return self.named("amount", hint, {**node, "type": "integer"}, path, False)
            return self.integer(node, hint, path, unique)
        if kind == "number":
            if unique:
                raise self.fail(path, "unique is not supported on a number; use an integer")
            inferred = self.numeric_name(node, path)
            if inferred is not None:
                return self.named(inferred, hint, {**node, "type": "number"}, path, False)
            return self.number(node, hint, path)
        if kind == "string":
            return self.string(node, hint, path, unique)
        raise self.fail(path, f"type '{kind}' is not a JSON Schema type")

    def numeric_name(self, node: dict[str, Any], path: str) -> str | None:
        """The numeric generator a property's name suggests, when the schema sets no bounds."""
        if any(k in node for k in _NUMERIC_KEYWORDS):
            return None
        leaf = path.rsplit(".", 1)[-1].lower().replace("-", "_").replace(" ", "_")
        name = fields.NAME_KINDS.get(leaf)
        return name if name in fields.NUMERIC_NAMES else None

    def weights(self, hint: FieldHint, values: list[Any], path: str) -> list[float] | None:
        if hint.weights is None:
            return None
        if len(hint.weights) != len(values):
            raise self.fail(
                path,
                f"x-tdm.weights has {len(hint.weights)} entries for {len(values)} values; give one weight per value",
            )
        if sum(hint.weights) <= 0:
            raise self.fail(path, "x-tdm.weights must not all be zero")
        return list(hint.weights)

    def bounds(
        self, node: dict[str, Any], hint: FieldHint, lo: float, hi: float
    ) -> tuple[float, float, bool, bool]:
        ex_lo = ex_hi = False
        if "minimum" in node:
            lo = node["minimum"]
        if "exclusiveMinimum" in node:
            lo, ex_lo = node["exclusiveMinimum"], True
        if "maximum" in node:
            hi = node["maximum"]
        if "exclusiveMaximum" in node:
            hi, ex_hi = node["exclusiveMaximum"], True
        if isinstance(hint.min, int | float) and not isinstance(hint.min, bool):
            lo, ex_lo = max(lo, hint.min), ex_lo and lo >= hint.min
        if isinstance(hint.max, int | float) and not isinstance(hint.max, bool):
            hi, ex_hi = min(hi, hint.max), ex_hi and hi <= hint.max
        if (
            "minimum" in node
            and "maximum" not in node
            and "exclusiveMaximum" not in node
            and hint.max is None
        ):
            hi = max(hi, lo + 1000)
        if (
            "maximum" in node
            and "minimum" not in node
            and "exclusiveMinimum" not in node
            and hint.min is None
        ):
            lo = min(lo, hi - 1000)
        return lo, hi, ex_lo, ex_hi

    def integer(self, node: dict[str, Any], hint: FieldHint, path: str, unique: bool) -> g.Gen:
        lo, hi, ex_lo, ex_hi = self.bounds(node, hint, 0, 1000)
        ilo = int(lo) + 1 if ex_lo and float(lo).is_integer() else int(-(-lo // 1))
        ihi = int(hi) - 1 if ex_hi and float(hi).is_integer() else int(hi // 1)
        mult = node.get("multipleOf", 1)
        if not float(mult).is_integer():
            # n is a multiple of p/q (lowest terms) exactly when p divides n
            mult = Fraction(str(mult)).numerator
        gen = g.Integer(self.ctx.key(path), ilo, ihi, int(mult), unique)
        if gen.unique_capacity == 0:
            raise self.fail(path, f"no integer in [{lo}, {hi}] is a multiple of {mult}")
        return gen

    def number(self, node: dict[str, Any], hint: FieldHint, path: str) -> g.Gen:
        lo, hi, ex_lo, ex_hi = self.bounds(node, hint, 0.0, 1000.0)
        if lo > hi or (lo == hi and (ex_lo or ex_hi)):
            raise self.fail(path, f"its bounds [{lo}, {hi}] leave no number")
        mult = node.get("multipleOf")
        decimals = 2
        if mult is not None:
            text = repr(float(mult))
            if "e" in text:
                decimals = int(text.split("e-")[1]) + 2 if "e-" in text else 0
            else:
                decimals = len(text.split(".")[1])
        elif 0 < hi - lo < 1 and math.isfinite(hi - lo):
            decimals = max(2, math.ceil(-math.log10(hi - lo)) + 2)  # room between narrow bounds
        try:
            return g.Number(self.ctx.key(path), float(lo), float(hi), ex_lo, ex_hi, mult, decimals)
        except ValueError as exc:
            raise self.fail(path, str(exc)) from None

    def string(self, node: dict[str, Any], hint: FieldHint, path: str, unique: bool) -> g.Gen:
        fmt = node.get("format")
        if fmt in FORMATS:
            name = {"date-time": "datetime"}.get(fmt, fmt)
            return self.named(name, hint, node, path, unique)
        if fmt in PLANNER_FORMATS and "pattern" not in node:
            return self.named(PLANNER_FORMATS[fmt], hint, node, path, unique)
        if fmt in OWN_FORMATS and "pattern" not in node:
            if unique:
                raise self.fail(path, f"format '{fmt}' cannot be unique")
            words = catalogue.faker_pool(self.ctx.locale, "word")
            gen: g.Gen = Formatted(self.ctx.key(path), words, fmt)
            if "minLength" in node or "maxLength" in node:
                gen = g.Bounded(gen, int(node.get("minLength", 0)), node.get("maxLength"), path)
            return gen
        # any other format is an annotation (2020-12): type, pattern and bounds decide
        if "pattern" in node:
            if unique:
                return self.unique_regex(node, path)
            return self.regex(node["pattern"], node, path, schema=True)
        inferred = fields.name_kind(path.rsplit(".", 1)[-1])
        if inferred is not None:
            return self.inferred(inferred, hint, node, path, unique)
        return self.text(node, path, unique)

    def inferred(
        self, name: str, hint: FieldHint, node: dict[str, Any], path: str, unique: bool
    ) -> g.Gen:
        """The generator a property's name suggests, when it fits the schema's length
        bounds; plain text when it does not (a name is a hint, not a contract)."""
        if name == "country" and int(node.get("maxLength", 99)) <= 3:
            name = "country_code"
        try:
            gen = self.named(name, hint, node, path, unique)
            if isinstance(gen, g.Bounded):
                gen.column(rng.rows(0, 200))  # raises when the bounds rarely fit
        except (UserError, ValueError):
            return self.text(node, path, unique)
        return gen

    def text(self, node: dict[str, Any], path: str, unique: bool) -> g.Gen:
        lo = int(node.get("minLength", 0))
        max_len = node.get("maxLength")
        hi = int(max_len) if max_len is not None else max(lo, 8) + 16
        hi = min(hi, max(lo, 8) + 40)
        if lo > hi:
            raise self.fail(path, f"minLength {lo} is greater than maxLength {hi}")
        if lo == 0 and hi >= 4:
            lo = min(4, hi)
        if unique and hi < 8:
            raise self.fail(path, "a unique text needs maxLength of at least 8")
        words = catalogue.faker_pool(self.ctx.locale, "word")
        return g.Text(self.ctx.key(path), words, lo, hi, unique)

    def unique_regex(self, node: dict[str, Any], path: str) -> g.Gen:
        """Unique values of a pattern made of fixed-width parts (e.g. ``^ORD-[0-9]{8}$``)."""
        try:
            gen = g.UniqueRegex(
                self.ctx.key(path),
                node["pattern"],
                int(node.get("minLength", 0)),
                node.get("maxLength"),
            )
        except ValueError as exc:
            raise self.fail(
                path,
                f"unique values of this pattern cannot be guaranteed ({exc}); "
                "use a pattern of fixed-width parts, or a sequence with a prefix",
            ) from None
        return gen

    def regex(
        self, pattern: str, node: dict[str, Any], path: str, *, schema: bool = False
    ) -> g.Gen:
        try:
            return g.RegexGen(
                self.ctx.key(path),
                pattern,
                min_length=int(node.get("minLength", 0)),
                max_length=node.get("maxLength"),
            )
        except ValueError as exc:
            # a schema's own pattern may still be met by generate-and-check; a hint's may not
            raise (self.unsupported if schema else self.fail)(path, str(exc)) from None

    def object(self, node: dict[str, Any], path: str) -> g.Object:
        required = set(node.get("required", []))
        props = node.get("properties", {})
        missing = required - set(props)
        if path:
            self.check_keywords(node, path)
            if missing:
                raise self.unsupported(
                    path, f"required lists {sorted(missing)} which are not in properties"
                )
        elif missing or any(kw not in SUPPORTED and not annotation(kw) for kw in node):
            # a record whose top level the plain path does not cover: each row is checked
            return self.checked_root(node, props, required, missing)
        out = g.Object()
        for name, sub in props.items():
            sub_path = f"{path}.{name}" if path else name
            gen = self.build(sub, sub_path)
            if name in required:
                presence = None
            else:
                try:
                    sub_node = self.normalize(sub, sub_path)
                except Unsupported:
                    sub_node = sub if isinstance(sub, dict) else {}
                sub_hint = self.hint(sub_node, sub_path)
                presence = DEFAULT_PRESENCE if sub_hint.presence is None else sub_hint.presence
                if sub_path == self.ctx.primary_key:
                    raise self.fail(sub_path, "the primary key must be listed in 'required'")
            out.props.append(g.Prop(name, gen, presence, self.ctx.key(sub_path, "presence")))
        return out

    def checked_root(
        self, node: dict[str, Any], props: dict[str, Any], required: set[str], missing: set[str]
    ) -> g.Object:
        """The record's properties as usual, plus any required ones that only the
        top-level keywords describe; every row is then checked against the whole schema,
        and a failing row draws its other properties again (its keys stay)."""
        from tdm import rich

        plain = {k: v for k, v in node.items() if k in SUPPORTED or annotation(k)}
        plain["required"] = sorted(required - missing)
        out = self.object(plain, "")
        builder = rich.RichBuilder(self, self.dialect)
        patterns = node.get("patternProperties", {})
        additional = node.get("additionalProperties", True)
        for name in sorted(missing):
            matched = [sub for p, sub in patterns.items() if rich.matches(p, name)]
            sub = matched[0] if matched else ({} if additional is True else additional)
            try:
                inlined = norm.inline(
                    sub, self.resolver, self.dialect, max_depth=self.max_depth(sub)
                )
                gen = builder.build(norm.canonical(inlined, self.dialect)[0], name)
            except (rich.Unsatisfiable, norm.Unresolvable):
                raise self.fail(name, "is required, but no value satisfies its schema") from None
            out.props.append(g.Prop(name, gen, None, self.ctx.key(name, "presence")))
        keep = {self.ctx.primary_key} | {
            name
            for name, sub in props.items()
            if isinstance(sub, dict)
            and isinstance(sub.get("x-tdm"), dict)
            and ({"ref", "unique", "generator"} & set(sub["x-tdm"]))
        }
        keep |= {n for n, h in self.ctx.overrides.items() if h.ref or h.unique or h.generator}
        out.check = self.document_validator().is_valid
        out.keep = frozenset(n for n in keep if n is not None)
        return out

    def document_validator(self) -> Any:
        """A compiled validator of the whole schema (other schema files resolved)."""
        return norm.document_validator(self.root, self.ctx.load_schema)

    def array(self, node: dict[str, Any], hint: FieldHint, path: str) -> g.Gen:
        lo = int(node.get("minItems", 0))
        hi = int(node.get("maxItems", lo + 3))
        hi = min(hi, lo + 5)
        if lo > hi:
            raise self.fail(path, f"minItems {lo} is greater than maxItems {hi}")
        items = node.get("items", {})
        if isinstance(items, list):
            raise self.unsupported(
                path, "tuple-form 'items' is not supported; use one schema for all items"
            )
        unique = bool(node.get("uniqueItems", False))
        n_slots = hi * 2 + 2 if unique else hi
        slots = [self.build(items, f"{path}[{k}]") for k in range(n_slots)]
        if unique and slots:
            cap = slots[0].unique_capacity
            if isinstance(slots[0], g.Choice):
                cap = len(slots[0].values)
            if cap is not None and cap < lo:
                raise self.fail(
                    path, f"uniqueItems with minItems {lo} but items have only {cap} values"
                )
        return g.Array(self.ctx.key(path, "len"), slots, lo, hi, unique)

    # -------------------------------------------------------------- named generators

    def ref(self, hint: FieldHint, path: str, unique: bool) -> g.Gen:
        assert hint.ref is not None
        if "." in path or "[" in path:
            raise self.fail(path, "x-tdm.ref is supported on top-level properties only")
        if self.ctx.resolve_ref is None:
            raise self.fail(path, "x-tdm.ref needs a template that generates the parent dataset")
        target, _, target_field = hint.ref.rpartition(".")
        parent, count, earlier = self.ctx.resolve_ref(target, target_field, path)
        return g.Ref(self.ctx.key(path), parent, count, unique, earlier)

    def named(
        self,
        name: str,
        hint: FieldHint,
        node: dict[str, Any],
        path: str,
        unique: bool,
    ) -> g.Gen:
        gen = self._named(name, hint, node, path, unique)
        if ("minLength" in node or "maxLength" in node) and not isinstance(gen, _LENGTH_AWARE):
            return g.Bounded(gen, int(node.get("minLength", 0)), node.get("maxLength"), path)
        return gen

    def _named(
        self,
        name: str,
        hint: FieldHint,
        node: dict[str, Any],
        path: str,
        unique: bool,
    ) -> g.Gen:
        canon = catalogue.canonical(name)
        if canon is None:
            known = catalogue.all_generator_names()
            close = difflib.get_close_matches(name, known, n=1)
            hint_text = f"did you mean '{close[0]}'? " if close else ""
            raise self.fail(
                path, f"unknown generator '{name}'; {hint_text}known generators: {', '.join(known)}"
            )
        key = self.ctx.key(path)
        p = hint.params
        gen: g.Gen
        if canon == "ref":
            raise self.fail(path, "use 'x-tdm: {ref: dataset.field}' for references")
        if canon == "sequence":
            start = hint.start if hint.start is not None else int(node.get("minimum", 1))
            gen = g.Sequence(start, hint.step or 1, hint.prefix, hint.width)
            return gen
        if canon == "constant":
            value = hint.value if "value" in hint.model_fields_set else node.get("const")
            if unique:
                raise self.fail(path, "a constant cannot be unique")
            return g.Constant(value)
        if canon == "choice":
            values = hint.values if hint.values is not None else node.get("enum")
            if not values:
                raise self.fail(path, "generator 'choice' needs x-tdm.values (or an enum)")
            if unique:
                raise self.fail(path, "a choice cannot be unique")
            return g.Choice(key, list(values), self.weights(hint, list(values), path))
        if canon == "integer":
            return self.integer(node, hint, path, unique)
        if canon == "number":
            return self.number(node, hint, path)
        if canon == "boolean":
            prob = float(p.get("probability", 0.5) or 0.5)
            return g.Boolean(key, prob)
        if canon == "uuid":
            return g.Uuid(key)
        if canon == "date":
            lo, hi = self.date_range(hint, path)
            return g.Date(key, lo.toordinal() - 719163, hi.toordinal() - 719163, unique)
        if canon == "datetime":
            lo, hi = self.date_range(hint, path)
            start = (lo.toordinal() - 719163) * 86400
            stop = (hi.toordinal() - 719163) * 86400 + 86399
            gen = g.DateTime(key, start, stop)
        elif canon == "time":
            gen = g.Time(key)
        elif canon == "regex":
            pattern = hint.pattern or node.get("pattern")
            if not pattern:
                raise self.fail(path, "generator 'regex' needs x-tdm.pattern (or a schema pattern)")
            gen = self.regex(pattern, node, path)
        elif canon == "name" and ("minLength" in node or "maxLength" in node):
            gen = g.Pool(key, self.pool("name", node, path, {}))  # whole names that fit the bounds
        elif canon == "name":
            first = self.pool("first_name", node, path, {})
            last = self.pool("last_name", node, path, {})
            gen = g.FullName(key, first, last)
        elif canon == "email":
            first = catalogue.faker_pool(self.ctx.locale, "first_name")
            last = catalogue.faker_pool(self.ctx.locale, "last_name")
            return g.Email(key, first, last, unique)
        elif canon == "phone":
            prefixes, digits = catalogue.fictional_phone_ranges(self.ctx.locale)
            return g.Phone(key, prefixes, digits, unique)
        elif canon == "credit_card_number":
            gen = g.Pool(key, list(catalogue.TEST_CARD_NUMBERS))
        elif canon == "ipv4":
            pool = [f"{pre}{n}" for pre in catalogue.IPV4_DOC_PREFIXES for n in range(256)]
            gen = g.Pool(key, pool)
            gen.unique_capacity = len(pool)
        elif canon == "ipv6":
            gen = g.IPv6Doc(key)
        elif canon == "iban":
            gen = g.Pool(key, list(catalogue.TEST_IBANS))
        elif canon == "status":
            gen = g.Choice(key, list(catalogue.STATUSES))
        elif canon == "sku":
            gen = g.RegexGen(key, "[A-Z]{3}-[0-9]{5}")
        elif canon in ("latitude", "longitude"):
            limit = 90.0 if canon == "latitude" else 180.0
            return g.Number(key, -limit, limit, decimals=6)
        elif canon == "amount":
            if node.get("type") == "integer":
                return g.Integer(key, 100, 100_000)  # minor units (cents)
            if node.get("type") == "number":
                return g.Number(key, 1.0, 1000.0, decimals=2)
            gen = g.RegexGen(key, "[1-9][0-9]{0,3}[.][0-9]{2}")
        elif canon in ("hostname", "uri", "domain"):
            gen = g.Slugged(key, catalogue.faker_pool(self.ctx.locale, "word"), canon)
        elif canon == "text":
            return self.text(node, path, unique)
        else:
            pool = self.pool(canon, node, path, p)
            return g.Pool(key, pool, unique)
        if unique:
            raise self.fail(path, f"generator '{canon}' cannot guarantee unique values")
        return gen

    def pool(
        self, method: str, node: dict[str, Any], path: str, params: dict[str, Any]
    ) -> list[str]:
        for name, value in params.items():
            limit = _PARAM_LIMITS.get(name, 1_000_000)
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and abs(value) > limit
            ):
                raise self.fail(
                    path, f"x-tdm.params.{name} = {value} is above tdm's limit of {limit}"
                )
            if isinstance(value, str) and len(value) > 200:
                raise self.fail(path, f"x-tdm.params.{name} is longer than 200 characters")
        try:
            values = catalogue.faker_pool(self.ctx.locale, method, tuple(sorted(params.items())))
        except (TypeError, AttributeError, ValueError) as exc:
            raise self.fail(path, f"Faker '{method}' rejected params {params}: {exc}") from None
        lo = node.get("minLength", 0)
        hi = node.get("maxLength")
        kept = [v for v in values if len(v) >= lo and (hi is None or len(v) <= hi)]
        if not kept:
            raise self.fail(
                path,
                f"Faker '{method}' makes no value with length in [{lo}, {hi}]; "
                "relax minLength/maxLength or choose another generator",
            )
        return kept

    def date_range(self, hint: FieldHint, path: str) -> tuple[dt.date, dt.date]:
        lo, hi = DEFAULT_DATE_RANGE
        try:
            if hint.min is not None:
                lo = _as_date(hint.min)
            if hint.max is not None:
                hi = _as_date(hint.max)
        except ValueError:
            raise self.fail(
                path, "x-tdm min/max of a date must be ISO dates like 2024-01-31"
            ) from None
        if lo > hi:
            raise self.fail(path, f"x-tdm min {lo} is after max {hi}")
        return lo, hi


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise ValueError(value)

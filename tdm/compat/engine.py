"""The registry's comparison of two typed schemas (:mod:`tdm.compat.model`).

``differences(old, new, rules)`` lists every difference with its registry type and
JSON path, in the direction the registry checks BACKWARD: can a reader on ``new``
read data written with ``old``.  FORWARD is the same call with the sides swapped.

Rules the registry applies, and this module follows:

- a ``$ref`` is compared by what it points at;
- a plain schema that becomes an ``anyOf``/``oneOf`` holding a compatible branch is a
  ``SUM_TYPE_EXTENDED``; an ``allOf`` that becomes one of its branches is a
  ``PRODUCT_TYPE_NARROWED``;
- two combined schemas are compared by matching each old branch to a compatible new
  branch (a maximum bipartite matching); when the smaller side is not covered, the
  branches changed (``COMBINED_TYPE_SUBSCHEMAS_CHANGED``);
- ``not`` is compared with its sides swapped;
- a pair already being compared further up is a recursive schema: it adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from tdm.canon import dumps
from tdm.compat.model import Node, pattern_matches

#: tdm's notes on changes the registry does not check; they never make a change breaking
NOTES = frozenset({"REQUIRED_UNDEFINED_PROPERTY_ADDED", "FORMAT_CHANGED"})


@dataclass(frozen=True)
class Difference:
    type: str
    path: str  # "#/properties/email/maxLength"
    old: Any = None
    new: Any = None


class _Context:
    def __init__(self, compatible: frozenset[str], shared: _Shared | None = None) -> None:
        self.compatible = compatible
        self.shared = shared or _Shared()
        self.path: list[str] = []
        self.diffs: list[Difference] = []

    def sub(self) -> _Context:
        ctx = _Context(self.compatible, self.shared)
        ctx.path = list(self.path)
        return ctx

    def add(self, kind: str, where: str | None = None, old: Any = None, new: Any = None) -> None:
        parts = [*self.path, where] if where is not None else self.path
        self.diffs.append(Difference(kind, "#/" + "/".join(parts), old, new))

    def is_compatible(self) -> bool:
        return all(d.type in self.compatible or d.type in NOTES for d in self.diffs)

    def enter(self, *parts: str) -> _Scope:
        return _Scope(self, parts)


class _Shared:
    def __init__(self) -> None:
        self.memo: dict[tuple[int, int], list[Difference]] = {}
        self.busy: set[tuple[int, int]] = set()


class _Scope:
    def __init__(self, ctx: _Context, parts: tuple[str, ...]) -> None:
        self.ctx, self.parts = ctx, parts

    def __enter__(self) -> None:
        self.ctx.path.extend(self.parts)

    def __exit__(self, *exc: object) -> None:
        del self.ctx.path[len(self.ctx.path) - len(self.parts) :]


def differences(old: Node, new: Node, compatible: frozenset[str]) -> list[Difference]:
    ctx = _Context(compatible)
    compare(ctx, old, new)
    return ctx.diffs


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _deref(node: Node | None) -> Node | None:
    seen: set[int] = set()
    while node is not None and node.kind == "ref":
        if id(node) in seen:
            return None  # a $ref cycle with nothing in between: matches anything
        seen.add(id(node))
        node = node.target()
    return node


def compare(ctx: _Context, original: Node | None, update: Node | None) -> None:
    if original is None and update is None:
        return
    if original is None:
        ctx.add("SCHEMA_ADDED")
        return
    if update is None:
        ctx.add("SCHEMA_REMOVED")
        return
    if original.key is not None and original.key == update.key:
        return  # the same JSON (and no $ref inside): nothing can differ
    a, b = _deref(original), _deref(update)
    if a is None or b is None:
        # a $ref that does not resolve inside the file: only the same $ref is the same
        if a is not b or original.ref != update.ref:
            ctx.add("TYPE_CHANGED")
        return
    key = (id(a), id(b))
    shared = ctx.shared
    if key in shared.busy:
        return  # a recursive schema: this pair is already being compared further up
    shared.busy.add(key)
    try:
        _compare_nodes(ctx, a, b, key)
    finally:
        shared.busy.discard(key)


def _compare_nodes(ctx: _Context, a: Node, b: Node, key: tuple[int, int]) -> None:
    if a.kind != "combined" and b.kind == "combined":
        if _into_combined(ctx, a, b):
            return
    elif a.kind == "combined" and b.kind != "combined" and _out_of_combined(ctx, a, b):
        return
    if a.kind != b.kind:
        if a.kind != "false" and b.kind != "empty":
            ctx.add("TYPE_CHANGED")
        return
    memo = ctx.shared.memo.get(key)
    if memo is None:
        inner = _Context(ctx.compatible, ctx.shared)
        _same_kind(inner, a, b)
        memo = inner.diffs
        ctx.shared.memo[key] = memo
    prefix = ctx.path
    for d in memo:
        rel = d.path[2:]
        path = "#/" + "/".join([*prefix, rel] if rel else prefix)
        ctx.diffs.append(Difference(d.type, path, d.old, d.new))


def _into_combined(ctx: _Context, a: Node, b: Node) -> bool:
    if len(b.subschemas) == 1:
        sub = ctx.sub()
        compare(sub, a, b.subschemas[0])
        if sub.is_compatible():
            ctx.diffs.extend(sub.diffs)
            return True
    elif b.criterion in ("anyOf", "oneOf"):
        for branch in b.subschemas:
            sub = ctx.sub()
            compare(sub, a, branch)
            if sub.is_compatible():
                ctx.diffs.extend(sub.diffs)
                ctx.add("SUM_TYPE_EXTENDED", None, None, b.criterion)
                return True
    return False


def _out_of_combined(ctx: _Context, a: Node, b: Node) -> bool:
    if len(a.subschemas) == 1:
        sub = ctx.sub()
        compare(sub, a.subschemas[0], b)
        if sub.is_compatible():
            ctx.diffs.extend(sub.diffs)
            return True
    if a.criterion == "allOf":
        for branch in a.subschemas:
            sub = ctx.sub()
            compare(sub, branch, b)
            if sub.is_compatible():
                ctx.diffs.extend(sub.diffs)
                ctx.add("PRODUCT_TYPE_NARROWED")
                return True
    return False


def _same_kind(ctx: _Context, a: Node, b: Node) -> None:
    if a.id != b.id:
        ctx.add("ID_CHANGED", None, a.id, b.id)
    if a.title != b.title:
        ctx.add("TITLE_CHANGED", None, a.title, b.title)
    if a.description != b.description:
        ctx.add("DESCRIPTION_CHANGED", None, a.description, b.description)
    if a.has_default != b.has_default or (a.has_default and not _same(a.default, b.default)):
        ctx.add("DEFAULT_CHANGED")
    kind = a.kind
    if kind == "string":
        _bound(ctx, "maxLength", "MAX_LENGTH", a.max_length, b.max_length)
        _bound(ctx, "minLength", "MIN_LENGTH", a.min_length, b.min_length)
        if a.pattern is None and b.pattern is not None:
            ctx.add("PATTERN_ADDED", "pattern", None, b.pattern)
        elif a.pattern is not None and b.pattern is None:
            ctx.add("PATTERN_REMOVED", "pattern", a.pattern, None)
        elif a.pattern != b.pattern:
            ctx.add("PATTERN_CHANGED", "pattern", a.pattern, b.pattern)
        if b.format is not None and a.format != b.format:
            ctx.add("FORMAT_CHANGED", "format", a.format, b.format)
    elif kind == "number":
        _number(ctx, a, b)
    elif kind in ("enum", "const"):
        _values(ctx, a, b)
    elif kind == "combined":
        _combined(ctx, a, b)
    elif kind == "not":
        with ctx.enter("not"):
            sub = ctx.sub()
            compare(sub, b.inner, a.inner)  # what must not match: the sides swap
            if sub.diffs:  # the registry also reports an unchanged 'not' (as narrowed)
                ctx.add("NOT_TYPE_NARROWED" if sub.is_compatible() else "NOT_TYPE_EXTENDED")
    elif kind == "object":
        _object(ctx, a, b)
    elif kind == "array":
        _array(ctx, a, b)


def _same(x: Any, y: Any) -> bool:
    return dumps(x) == dumps(y)


def _bound(ctx: _Context, word: str, name: str, old: Any, new: Any) -> None:
    if old == new and (old is None) == (new is None):
        return
    if old is None:
        ctx.add(f"{name}_ADDED", word, None, new)
    elif new is None:
        ctx.add(f"{name}_REMOVED", word, old, None)
    elif old < new:
        ctx.add(f"{name}_INCREASED", word, old, new)
    elif old > new:
        ctx.add(f"{name}_DECREASED", word, old, new)


def _number(ctx: _Context, a: Node, b: Node) -> None:
    _bound(ctx, "maximum", "MAXIMUM", a.maximum, b.maximum)
    _bound(ctx, "minimum", "MINIMUM", a.minimum, b.minimum)
    _bound(ctx, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", a.exclusive_maximum, b.exclusive_maximum)
    _bound(ctx, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", a.exclusive_minimum, b.exclusive_minimum)
    old, new = a.multiple_of, b.multiple_of
    if old != new:
        if old is None:
            ctx.add("MULTIPLE_OF_ADDED", "multipleOf", None, new)
        elif new is None:
            ctx.add("MULTIPLE_OF_REMOVED", "multipleOf", old, None)
        elif _multiple(new, old):
            ctx.add("MULTIPLE_OF_EXPANDED", "multipleOf", old, new)
        elif _multiple(old, new):
            ctx.add("MULTIPLE_OF_REDUCED", "multipleOf", old, new)
        else:
            ctx.add("MULTIPLE_OF_CHANGED", "multipleOf", old, new)
    if a.integer != b.integer:
        ctx.add("TYPE_EXTENDED" if a.integer else "TYPE_NARROWED", None, a.integer, b.integer)


def _multiple(n: Any, d: Any) -> bool:
    """``n`` is a whole multiple of ``d`` (exact, also for decimals such as 0.01)."""
    try:
        fn, fd = Fraction(str(n)), Fraction(str(d))
    except (ValueError, ZeroDivisionError):
        return False
    return fd != 0 and (fn / fd).denominator == 1


def _values(ctx: _Context, a: Node, b: Node) -> None:
    if a.values == b.values:
        return
    word = "const" if a.kind == "const" else "enum"
    gone = sorted(v.decode() for v in a.values - b.values)
    came = sorted(v.decode() for v in b.values - a.values)
    if a.kind == "const":
        ctx.add("ENUM_ARRAY_CHANGED", word, gone, came)
    elif b.values >= a.values:
        ctx.add("ENUM_ARRAY_EXTENDED", word, gone, came)
    elif a.values >= b.values:
        ctx.add("ENUM_ARRAY_NARROWED", word, gone, came)
    else:
        ctx.add("ENUM_ARRAY_CHANGED", word, gone, came)


# ---------------------------------------------------------------------- combined


def _combined(ctx: _Context, a: Node, b: Node) -> None:
    change = _criteria(a, b)
    if change is not None:
        ctx.add(change, None, a.criterion, b.criterion)
        if change == "COMBINED_TYPE_CHANGED":
            return
    olds, news = _distinct(a.subschemas), _distinct(b.subschemas)
    product = b.criterion == "allOf"
    if len(olds) < len(news):
        ctx.add(
            "PRODUCT_TYPE_EXTENDED" if product else "SUM_TYPE_EXTENDED", None, None, b.criterion
        )
    elif len(olds) > len(news):
        ctx.add(
            "PRODUCT_TYPE_NARROWED" if product else "SUM_TYPE_NARROWED", None, len(olds), len(news)
        )
    edges: dict[int, dict[int, list[Difference]]] = {}
    for i, old in enumerate(olds):
        # a synthetic allOf is one schema in the file: its parts add nothing to the path
        with ctx.enter() if a.synthetic else ctx.enter(a.criterion, str(i)):
            for j, new in enumerate(news):
                sub = ctx.sub()
                compare(sub, old, new)
                if sub.is_compatible():
                    edges.setdefault(i, {})[j] = sub.diffs
    matching = _match(edges, len(news))
    for i in sorted(matching):
        ctx.diffs.extend(edges[i][matching[i]])
    if len(matching) < min(len(olds), len(news)):
        ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED")


def _criteria(a: Node, b: Node) -> str | None:
    if a.criterion == b.criterion:
        return None
    if b.criterion == "anyOf":
        return "COMBINED_TYPE_EXTENDED"  # allOf/oneOf -> anyOf
    if b.criterion == "oneOf":
        return "COMBINED_TYPE_EXTENDED" if len(a.subschemas) == 1 else "COMBINED_TYPE_CHANGED"
    if len(a.subschemas) == 1 and len(b.subschemas) == 1:
        return "COMBINED_TYPE_EXTENDED"  # a single-branch oneOf/anyOf -> allOf
    return "COMBINED_TYPE_CHANGED"


def _distinct(nodes: list[Node]) -> list[Node]:
    seen: set[bytes] = set()
    out = []
    for node in nodes:
        key = dumps(node.raw) + node.criterion.encode() + node.kind.encode()
        if key not in seen:
            seen.add(key)
            out.append(node)
    return out


def _match(edges: dict[int, dict[int, list[Difference]]], right: int) -> dict[int, int]:
    """A maximum matching of old branches to compatible new ones (augmenting paths)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        # the branch with the fewest differences first: an unchanged branch matches itself
        mine = edges.get(i, {})
        for j in sorted(mine, key=lambda j: (len(mine[j]), j != i, j)):
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in sorted(edges):
        augment(i, set())
    return {i: j for j, i in owner.items()}


# ---------------------------------------------------------------------- objects


def _open(node: Node) -> bool:
    return (
        not node.pattern_properties
        and node.additional_schema is None
        and node.additional_permitted
        and (node.unevaluated is None or node.unevaluated.kind == "empty")
    )


def _partial(node: Node, name: str) -> Node | None:
    for pattern, schema in node.pattern_properties:
        if pattern_matches(pattern, name):
            return schema
    if node.additional_schema is not None:
        return node.additional_schema
    uneval = node.unevaluated
    if node.additional_permitted and uneval is not None and uneval.kind not in ("false", "empty"):
        return uneval
    return None


def _object(ctx: _Context, a: Node, b: Node) -> None:
    with ctx.enter("required"):
        for name in a.properties:
            if name not in b.properties:
                continue
            was, now = name in a.required, name in b.required
            if was and not now:
                ctx.add("REQUIRED_ATTRIBUTE_REMOVED", _escape(name))
            elif now and not was:
                kind = (
                    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                    if b.properties[name].has_default
                    else "REQUIRED_ATTRIBUTE_ADDED"
                )
                ctx.add(kind, _escape(name))
        for name in b.required:
            if name not in b.properties and name not in a.required:
                ctx.add("REQUIRED_UNDEFINED_PROPERTY_ADDED", _escape(name))
    with ctx.enter("properties"):
        for name in _names(a.properties, b.properties):
            with ctx.enter(_escape(name)):
                _property(ctx, a, b, name)
    _dependencies(ctx, a, b)
    with ctx.enter("additionalProperties"):
        _additional(ctx, a, b, "ADDITIONAL_PROPERTIES")
    _unevaluated(
        ctx, a.unevaluated, b.unevaluated, "unevaluatedProperties", "UNEVALUATED_PROPERTIES"
    )
    _bound(ctx, "maxProperties", "MAX_PROPERTIES", a.max_properties, b.max_properties)
    _bound(ctx, "minProperties", "MIN_PROPERTIES", a.min_properties, b.min_properties)


def _names(a: dict[str, Any], b: dict[str, Any]) -> Iterator[str]:
    yield from a
    yield from (n for n in b if n not in a)


def _is(node: Node, kind: str) -> bool:
    target = _deref(node)
    return target is not None and target.kind == kind


def _property(ctx: _Context, a: Node, b: Node, name: str) -> None:
    old, new = a.properties.get(name), b.properties.get(name)
    if old is not None and new is not None:
        compare(ctx, old, new)
        return
    if new is None:
        assert old is not None
        # only the update's content model decides whether a removal is safe
        if _open(b):
            ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL")
            return
        covering = _partial(b, name)
        if covering is not None:
            sub = ctx.sub()
            compare(sub, old, covering)
            ctx.diffs.extend(sub.diffs)
            ctx.add(
                "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                if sub.is_compatible()
                else "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
        elif _is(old, "false"):
            ctx.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
        else:
            ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")
        return
    # added: only the original's content model decides whether old data may carry it
    if _open(a):
        ctx.add(
            "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
            if _is(new, "empty")
            else "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
        )
        return
    covering = _partial(a, name)
    if covering is not None:
        sub = ctx.sub()
        compare(sub, covering, new)
        ctx.diffs.extend(sub.diffs)
        ctx.add(
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            if sub.is_compatible()
            else "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        )
    if name in b.required:
        ctx.add(
            "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
            if new.has_default
            else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
        )
    else:
        ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL")


def _dependencies(ctx: _Context, a: Node, b: Node) -> None:
    for name in _names(a.property_dependencies, b.property_dependencies):
        old, new = a.property_dependencies.get(name), b.property_dependencies.get(name)
        word = (new or old or ("dependencies",))[0]
        with ctx.enter(word, _escape(name)):
            if new is None:
                ctx.add("DEPENDENCY_ARRAY_REMOVED")
            elif old is None:
                ctx.add("DEPENDENCY_ARRAY_ADDED")
            elif old[1] != new[1]:
                if new[1] >= old[1]:
                    ctx.add("DEPENDENCY_ARRAY_EXTENDED")
                elif old[1] >= new[1]:
                    ctx.add("DEPENDENCY_ARRAY_NARROWED")
                else:
                    ctx.add("DEPENDENCY_ARRAY_CHANGED")
    for name in _names(a.schema_dependencies, b.schema_dependencies):
        olds, news = a.schema_dependencies.get(name), b.schema_dependencies.get(name)
        word = (news or olds or ("dependencies",))[0]
        with ctx.enter(str(word), _escape(name)):
            if news is None:
                ctx.add("DEPENDENCY_SCHEMA_REMOVED")
            elif olds is None:
                ctx.add("DEPENDENCY_SCHEMA_ADDED")
            else:
                compare(ctx, olds[1], news[1])


def _additional(ctx: _Context, a: Node, b: Node, name: str) -> None:
    if a.additional_permitted != b.additional_permitted:
        ctx.add(f"{name}_ADDED" if b.additional_permitted else f"{name}_REMOVED")
    elif a.additional_schema is None and b.additional_schema is not None:
        ctx.add(f"{name}_NARROWED")
    elif a.additional_schema is not None and b.additional_schema is None:
        ctx.add(f"{name}_EXTENDED")
    else:
        compare(ctx, a.additional_schema, b.additional_schema)


def _unevaluated(ctx: _Context, old: Node | None, new: Node | None, word: str, name: str) -> None:
    if old is None and new is None:
        return
    with ctx.enter(word):
        if old is None:
            ctx.add(
                f"{name}_REMOVED" if new is not None and new.kind == "false" else f"{name}_NARROWED"
            )
        elif new is None:
            ctx.add(f"{name}_ADDED" if old.kind == "false" else f"{name}_EXTENDED")
        elif old.kind == "false" and new.kind != "false":
            ctx.add(f"{name}_ADDED")
        elif old.kind != "false" and new.kind == "false":
            ctx.add(f"{name}_REMOVED")
        elif old.kind == "empty" and new.kind != "empty":
            ctx.add(f"{name}_NARROWED")
        elif old.kind != "empty" and new.kind == "empty":
            ctx.add(f"{name}_EXTENDED")
        else:
            compare(ctx, old, new)


# ---------------------------------------------------------------------- arrays


def _array_open(node: Node) -> bool:
    if not node.additional_permitted or node.additional_schema is not None:
        return False
    return node.unevaluated is None or node.unevaluated.kind == "empty"


def _array_partial(node: Node) -> Node | None:
    if node.additional_schema is not None:
        return node.additional_schema
    uneval = node.unevaluated
    if node.additional_permitted and uneval is not None and uneval.kind not in ("false", "empty"):
        return uneval
    return None


def _array(ctx: _Context, a: Node, b: Node) -> None:
    with ctx.enter("items"):
        compare(ctx, a.all_items, b.all_items)
    _item_list(ctx, a, b)
    with ctx.enter(b.additional_keyword):
        _additional(ctx, a, b, "ADDITIONAL_ITEMS")
    _unevaluated(ctx, a.unevaluated, b.unevaluated, "unevaluatedItems", "UNEVALUATED_ITEMS")
    _bound(ctx, "maxItems", "MAX_ITEMS", a.max_items, b.max_items)
    _bound(ctx, "minItems", "MIN_ITEMS", a.min_items, b.min_items)
    if a.unique_items != b.unique_items:
        ctx.add("UNIQUE_ITEMS_REMOVED" if a.unique_items else "UNIQUE_ITEMS_ADDED", "uniqueItems")
    _bound(ctx, "maxContains", "MAX_CONTAINS", a.max_contains, b.max_contains)
    _bound(ctx, "minContains", "MIN_CONTAINS", a.min_contains, b.min_contains)


def _item_list(ctx: _Context, a: Node, b: Node) -> None:
    olds, news = a.item_list, b.item_list
    word = b.items_keyword if news else a.items_keyword
    for i in range(max(len(olds), len(news))):
        with ctx.enter(word, str(i)):
            if i < len(olds) and i < len(news):
                compare(ctx, olds[i], news[i])
            elif i < len(olds):
                _item_removed(ctx, olds[i], b)
            else:
                _item_added(ctx, a, news[i])


def _item_removed(ctx: _Context, old: Node, b: Node) -> None:
    if _array_open(b):
        ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL")
        return
    covering = _array_partial(b)
    if covering is not None:
        sub = ctx.sub()
        compare(sub, old, covering)
        ctx.diffs.extend(sub.diffs)
        ctx.add(
            "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            if sub.is_compatible()
            else "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        )
    elif old.kind == "false":
        ctx.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
    else:
        ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL")


def _item_added(ctx: _Context, a: Node, new: Node) -> None:
    if _array_open(a):
        ctx.add(
            "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
            if new.kind == "empty"
            else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
        )
        return
    covering = _array_partial(a)
    if covering is not None:
        sub = ctx.sub()
        compare(sub, covering, new)
        ctx.diffs.extend(sub.diffs)
        ctx.add(
            "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            if sub.is_compatible()
            else "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
        )
    else:
        ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL")

"""A JSON Schema read into the typed shapes the schema registry compares.

The registry does not compare keywords one by one: it first reads a schema into one
typed node (string, number, object, array, enum, const, allOf/anyOf/oneOf, not,
``$ref``, empty, false), then compares nodes of the same kind.  A schema whose
keywords belong to several kinds (``type: string`` with ``enum``) becomes a synthetic
``allOf`` of one node per kind, and ``type: [a, b]`` becomes an ``anyOf`` of one node
per type.  Keywords are read in the dialect its ``$schema`` names (draft-04 to
draft-07, 2019-09, 2020-12; draft-07 when absent).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Literal, cast

from tdm.canon import dumps

Dialect = Literal["draft4", "draft6", "draft7", "2019-09", "2020-12"]
Kind = Literal[
    "empty",
    "false",
    "string",
    "number",
    "boolean",
    "null",
    "object",
    "array",
    "enum",
    "const",
    "combined",
    "not",
    "ref",
    "conditional",
]

_MISSING: Any = object()
_NO_DICT: Any = MappingProxyType({})
_NO_LIST: Any = ()

_STRING = ("minLength", "maxLength", "pattern", "format")
_NUMBER = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_OBJECT = (
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "dependencies",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
)
_ARRAY = (
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
    "prefixItems",
    "unevaluatedItems",
    "minContains",
    "maxContains",
)
_COMBINERS = ("allOf", "anyOf", "oneOf")
_SNIFFED = (
    ("array", frozenset(_ARRAY)),
    ("object", frozenset(_OBJECT)),
    ("number", frozenset(_NUMBER)),
    ("string", frozenset(_STRING)),
)
#: keywords beside ``$ref`` that do not constrain (2019-09 and later apply the rest)
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "id",
        "$anchor",
        "$comment",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "x-tdm",
    }
)


_LATER = frozenset(
    {
        "prefixItems",
        "$defs",
        "dependentRequired",
        "dependentSchemas",
        "unevaluatedItems",
        "unevaluatedProperties",
        "minContains",
        "maxContains",
        "$anchor",
        "$dynamicRef",
    }
)


def _uses(value: Any, words: frozenset[str]) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if words & node.keys():
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def dialect_of(schema: Any) -> Dialect:
    """The dialect a schema's ``$schema`` declares (draft-07 when it names none)."""
    uri = schema.get("$schema") if isinstance(schema, dict) else None
    if not isinstance(uri, str):
        # no $schema: draft-07 (a schema registry's default), unless the schema uses
        # keywords only 2019-09 and later have
        return "2020-12" if _uses(schema, _LATER) else "draft7"
    if "2020-12" in uri:
        return "2020-12"
    if "2019-09" in uri:
        return "2019-09"
    if "draft-04" in uri:
        return "draft4"
    if "draft-06" in uri:
        return "draft6"
    return "draft7"


class Node:
    """One typed schema node; only the fields of its ``kind`` are set (the rest keep
    the class defaults, shared and never mutated: a node is cheap to make)."""

    kind: Kind
    raw: Any
    #: the node's JSON, canonical, when nothing in it is a $ref: equal keys, no difference
    key: bytes | None = None
    id: Any = None
    title: Any = None
    description: Any = None
    default: Any = _MISSING
    # string
    min_length: Any = None
    max_length: Any = None
    pattern: Any = None
    format: Any = None
    # number
    integer: bool = False
    minimum: Any = None
    maximum: Any = None
    exclusive_minimum: Any = None
    exclusive_maximum: Any = None
    multiple_of: Any = None
    # object
    properties: dict[str, Node] = _NO_DICT
    required: tuple[str, ...] = ()
    min_properties: Any = None
    max_properties: Any = None
    property_dependencies: dict[str, tuple[str, frozenset[str]]] = _NO_DICT
    schema_dependencies: dict[str, tuple[str, Node]] = _NO_DICT
    additional_permitted: bool = True
    additional_schema: Node | None = None
    pattern_properties: list[tuple[str, Node]] = _NO_LIST
    unevaluated: Node | None = None
    # array
    all_items: Node | None = None
    item_list: list[Node] = _NO_LIST
    items_keyword: str = "items"
    additional_keyword: str = "additionalItems"
    unique_items: bool = False
    min_items: Any = None
    max_items: Any = None
    min_contains: Any = None
    max_contains: Any = None
    # enum / const
    values: frozenset[bytes] = frozenset()
    # combined / not
    criterion: str = ""
    #: an allOf the reader made (one schema with keywords of several kinds), not the file
    synthetic: bool = False
    subschemas: list[Node] = _NO_LIST
    inner: Node | None = None
    # $ref
    ref: str = ""
    _loader: Loader | None = None
    _target: Node | None = None

    def __init__(self, kind: Kind, raw: Any, **fields: Any) -> None:
        self.kind = kind
        self.raw = raw
        if fields:
            self.__dict__.update(fields)

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def target(self) -> Node | None:
        """What a ``$ref`` points at (None when it does not resolve inside the file)."""
        loader = self._loader
        if loader is not None:  # resolved once, found or not
            self._target = loader.resolve(self.ref)
            self._loader = None
        return self._target


class _Pending:
    """A node not read yet: it is read on first use, and most of an unchanged schema
    never is (the comparison stops where the JSON of both sides is the same)."""

    def __init__(self, loader: Loader, raw: dict[str, Any], key: bytes | None) -> None:
        self._pending = (loader, raw)
        self.key = key

    def __getattr__(self, name: str) -> Any:
        pending = self.__dict__.pop("_pending", None)
        if pending is None:
            raise AttributeError(name)
        loader, raw = pending
        key = self.key
        self.__dict__.update(loader.build(raw).__dict__)
        self.key = key
        object.__setattr__(self, "__class__", Node)  # from now on, a plain node
        return getattr(self, name)


class Loader:
    """Reads one schema file; the same JSON object always gives the same node, so a
    recursive ``$ref`` is one node and the comparison can notice it is back there."""

    def __init__(self, root: Any, dialect: Dialect | None = None) -> None:
        self.root = root
        self.dialect: Dialect = dialect or dialect_of(root)
        self._nodes: dict[int, Node] = {}
        self._keep: list[Any] = []  # the raw values whose id() keys the cache

    def load(self, value: Any) -> Node:
        if isinstance(value, bool):
            return Node("empty" if value else "false", value)
        if not isinstance(value, dict):
            return Node("empty", value)
        key = id(value)
        found = self._nodes.get(key)
        if found is None:
            text = dumps(value)
            same = self.dialect.encode() + text if b'"$ref"' not in text else None
            found = cast(Node, _Pending(self, value, same))
            self._nodes[key] = found
            self._keep.append(value)
        return found

    def build(self, raw: dict[str, Any]) -> Node:
        return self._build(raw)

    def resolve(self, ref: str) -> Node | None:
        if ref == "#":
            return self.load(self.root)
        if not ref.startswith("#/"):
            return None
        parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
        found = _pointer(self.root, parts)
        if found is _MISSING:
            # a schema pasted into a property with its definitions beside it: the
            # pointer is read from the nearest object that has it (a validator would not)
            stack = [self.root]
            while stack and found is _MISSING:
                value = stack.pop(0)
                if isinstance(value, dict):
                    found = _pointer(value, parts)
                    stack.extend(value.values())
                elif isinstance(value, list):
                    stack.extend(value)
        return None if found is _MISSING else self.load(found)

    # ------------------------------------------------------------------ building

    def _build(self, raw: dict[str, Any]) -> Node:
        if isinstance(raw.get("$ref"), str):
            ref = Node("ref", raw, ref=raw["$ref"], _loader=self)
            rest = {k: v for k, v in raw.items() if k != "$ref"}
            if self.dialect in ("2019-09", "2020-12") and set(rest) - _ANNOTATIONS:
                # 2019-09 and later apply the keywords beside $ref as well
                node = Node("combined", raw, criterion="allOf", subschemas=[ref, self._build(rest)])
            else:
                node = ref
            return self._common(node, raw)
        parts: list[Node] = []
        if isinstance(raw.get("enum"), list):
            parts.append(Node("enum", raw, values=frozenset(dumps(v) for v in raw["enum"])))
        for word in _COMBINERS:
            if isinstance(raw.get(word), list):
                subs = [self.load(s) for s in raw[word]]
                parts.append(Node("combined", raw, criterion=word, subschemas=subs))
        if "not" in raw:
            parts.append(Node("not", raw, inner=self.load(raw["not"])))
        if "const" in raw and self.dialect != "draft4":
            parts.append(Node("const", raw, values=frozenset({dumps(raw["const"])})))
        used: set[str] = set()
        declared = raw.get("type")
        if isinstance(declared, str):
            parts.append(self._typed(declared, raw))
            used.update(self._keywords(declared))
        elif isinstance(declared, list):
            names = [t for t in declared if isinstance(t, str)]
            subs = [self._typed(t, raw) for t in names]
            for t in names:
                used.update(self._keywords(t))
            parts.append(Node("combined", raw, criterion="anyOf", subschemas=subs))
        keys = raw.keys()
        for kind, words in _SNIFFED:
            if not words.isdisjoint(keys) and not (words & keys) <= used:
                parts.append(self._typed(kind, raw, requires=False))
        if any(w in raw for w in ("if", "then", "else")) and self.dialect not in (
            "draft4",
            "draft6",
        ):
            parts.append(
                Node("conditional", {w: raw[w] for w in ("if", "then", "else") if w in raw})
            )
        if not parts:
            node = Node("empty", raw)
        elif len(parts) == 1:
            node = parts[0]
        else:
            node = Node("combined", raw, criterion="allOf", subschemas=parts, synthetic=True)
        return self._common(node, raw)

    def _common(self, node: Node, raw: dict[str, Any]) -> Node:
        ident = raw.get("id") if self.dialect == "draft4" else raw.get("$id", raw.get("id"))
        if self.dialect != "2020-12":
            node.id = ident
        node.title = raw.get("title")
        node.description = raw.get("description")
        node.default = raw.get("default", _MISSING)
        return node

    @staticmethod
    def _keywords(kind: str) -> tuple[str, ...]:
        return {
            "string": _STRING,
            "number": _NUMBER,
            "integer": _NUMBER,
            "object": _OBJECT,
            "array": _ARRAY,
        }.get(kind, ())

    def _typed(self, kind: str, raw: dict[str, Any], *, requires: bool = True) -> Node:
        if kind == "string":
            return Node(
                "string",
                raw,
                min_length=_int(raw.get("minLength")),
                max_length=_int(raw.get("maxLength")),
                pattern=raw.get("pattern") if isinstance(raw.get("pattern"), str) else None,
                format=raw.get("format") if isinstance(raw.get("format"), str) else None,
            )
        if kind in ("number", "integer"):
            return self._number(raw, integer=kind == "integer")
        if kind == "object":
            return self._object(raw)
        if kind == "array":
            return self._array(raw)
        if kind == "boolean":
            return Node("boolean", raw)
        if kind == "null":
            return Node("null", raw)
        return Node("empty", raw)

    def _number(self, raw: dict[str, Any], *, integer: bool) -> Node:
        node = Node(
            "number",
            raw,
            integer=integer,
            minimum=_num(raw.get("minimum")),
            maximum=_num(raw.get("maximum")),
            multiple_of=_num(raw.get("multipleOf")),
        )
        # draft-04 writes an exclusive bound as a boolean beside minimum/maximum
        node.exclusive_minimum = _num(raw.get("exclusiveMinimum"))
        node.exclusive_maximum = _num(raw.get("exclusiveMaximum"))
        return node

    def _object(self, raw: dict[str, Any]) -> Node:
        props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
        assert isinstance(props, dict)
        node = Node(
            "object",
            raw,
            properties={str(k): self.load(v) for k, v in props.items()},
            required=tuple(r for r in raw.get("required") or () if isinstance(r, str))
            if isinstance(raw.get("required"), list)
            else (),
            min_properties=_int(raw.get("minProperties")),
            max_properties=_int(raw.get("maxProperties")),
        )
        by_names: dict[str, tuple[str, frozenset[str]]] = {}
        by_schema: dict[str, tuple[str, Node]] = {}
        for word in ("dependencies", "dependentRequired", "dependentSchemas"):
            deps = raw.get(word)
            if not isinstance(deps, dict):
                continue
            for name, value in deps.items():
                if isinstance(value, list):
                    names = frozenset(v for v in value if isinstance(v, str))
                    by_names[str(name)] = (word, names)
                else:
                    by_schema[str(name)] = (word, self.load(value))
        node.property_dependencies = by_names
        node.schema_dependencies = by_schema
        extra = raw.get("additionalProperties", True)
        if isinstance(extra, bool):
            node.additional_permitted = extra
        else:
            node.additional_schema = self.load(extra)
        patterns = raw.get("patternProperties")
        if isinstance(patterns, dict):
            node.pattern_properties = [(str(p), self.load(s)) for p, s in patterns.items()]
        if "unevaluatedProperties" in raw and self.dialect in ("2019-09", "2020-12"):
            node.unevaluated = self.load(raw["unevaluatedProperties"])
        return node

    def _array(self, raw: dict[str, Any]) -> Node:
        node = Node(
            "array",
            raw,
            unique_items=raw.get("uniqueItems") is True,
            min_items=_int(raw.get("minItems")),
            max_items=_int(raw.get("maxItems")),
            min_contains=_int(raw.get("minContains")),
            max_contains=_int(raw.get("maxContains")),
        )
        items = raw.get("items", _MISSING)
        if self.dialect == "2020-12":
            # prefixItems is the tuple; items is what follows it (or every item)
            node.items_keyword = "prefixItems"
            node.additional_keyword = "items"
            prefix = raw.get("prefixItems")
            if isinstance(prefix, list):
                node.item_list = [self.load(s) for s in prefix]
                self._additional_items(node, items)
            elif isinstance(items, bool):
                self._additional_items(node, items)
            elif items is not _MISSING:
                node.all_items = self.load(items)
        else:
            if isinstance(items, list):
                node.item_list = [self.load(s) for s in items]
            elif items is not _MISSING:
                node.all_items = self.load(items)
            self._additional_items(node, raw.get("additionalItems", _MISSING))
        if "unevaluatedItems" in raw and self.dialect in ("2019-09", "2020-12"):
            node.unevaluated = self.load(raw["unevaluatedItems"])
        return node

    def _additional_items(self, node: Node, value: Any) -> None:
        if value is _MISSING or value is True:
            return
        if value is False:
            node.additional_permitted = False
        else:
            node.additional_schema = self.load(value)


def _pointer(node: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _int(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _num(value: Any) -> Any:
    return _int(value)


def pattern_matches(pattern: str, name: str) -> bool:
    """ECMA-262 patterns are close enough to Python's for property names; a pattern
    Python cannot read matches nothing rather than failing the review."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False

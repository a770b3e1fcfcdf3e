"""JSON Schema documents made self-contained and canonical, for generation.

* :func:`dialect_of` reads ``$schema``: draft-07, 2019-09 or 2020-12 (the default);
  any other is a :class:`UserError` naming the file.
* :class:`Resolver` follows ``$ref``: JSON pointers (``~0``, ``~1``, percent-encoding),
  ``$anchor`` names, embedded ``$id`` resources and other schema files of the repository
  (``customers.yaml#/$defs/Address``).
* :func:`inline` replaces every reference by its target, so a subschema needs nothing
  around it.  A recursive reference is expanded ``max_depth`` times and then becomes
  ``false``: a stricter schema, so every value it admits is valid for the original, and
  optional recursive branches (an anyOf branch, an optional property, array items) end.
* :func:`canonical` merges and simplifies the inlined schema (allOf, if/then/else, not,
  dependent*, unevaluated*) with jsonschema-rs' canonicaliser, the method of
  hypothesis-jsonschema: the generator then meets only a few plain shapes.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urljoin

import jsonschema_rs

from tdm.errors import UserError

DRAFT6 = "http://json-schema.org/draft-06/schema"
DRAFT7 = "http://json-schema.org/draft-07/schema"
DRAFT201909 = "https://json-schema.org/draft/2019-09/schema"
DRAFT202012 = "https://json-schema.org/draft/2020-12/schema"
#: accepted spellings of ``$schema`` (trailing '#' and http/https both appear in the wild)
DIALECTS = {
    "http://json-schema.org/draft-06/schema": DRAFT6,
    "http://json-schema.org/draft-07/schema": DRAFT7,
    "https://json-schema.org/draft-07/schema": DRAFT7,
    "http://json-schema.org/draft/2019-09/schema": DRAFT201909,
    "https://json-schema.org/draft/2019-09/schema": DRAFT201909,
    "http://json-schema.org/draft/2020-12/schema": DRAFT202012,
    "https://json-schema.org/draft/2020-12/schema": DRAFT202012,
}
_RS_DRAFTS = {
    DRAFT6: jsonschema_rs.Draft6,
    DRAFT7: jsonschema_rs.Draft7,
    DRAFT201909: jsonschema_rs.Draft201909,
    DRAFT202012: jsonschema_rs.Draft202012,
}
ROOT_URI = "json-schema:///"
#: an inlined schema larger than this (in subschemas) is refused, not expanded for minutes
MAX_NODES = 20_000
DEFAULT_MAX_DEPTH = 3


class Unresolvable(ValueError):
    """A reference that points nowhere, or a schema too large to expand."""


def dialect_of(schema: Any, display: str) -> str:
    """The dialect URI of a schema document (2020-12 when it names none)."""
    raw = schema.get("$schema") if isinstance(schema, dict) else None
    if raw is None:
        return DRAFT202012
    key = str(raw).rstrip("#")
    if key not in DIALECTS:
        known = "draft-06, draft-07, 2019-09, 2020-12"
        raise UserError(
            f"$schema {raw!r} is not a dialect tdm supports ({known}); set $schema to one of "
            f"them, e.g. {DRAFT202012}",
            path=display,
        )
    return DIALECTS[key]


def ecma_regex(value: object) -> bool:
    """Whether a string is an ECMA-262 regex as the validator reads it (``\\p{L}`` is)."""
    if not isinstance(value, str):
        return True
    try:
        jsonschema_rs.validator_for({"pattern": value})
    except Exception:
        return False
    return True


def meta_valid_fast(data: Any) -> bool:
    """Whether the compiled meta-schema check (jsonschema-rs) finds ``data`` valid in
    its own dialect, with every ``pattern`` an ECMA-262 regex: microseconds, where the
    pure-Python :func:`check_schema` costs tens of milliseconds and an import.

    True only when the schema is certainly valid; False means "ask the slow check",
    which decides and words the error (jsonschema-rs does not check the meta-schema's
    ``regex`` format, hence the patterns are checked here).
    """
    meta = getattr(jsonschema_rs, "meta", None)
    if meta is None:
        return False
    try:
        if not meta.is_valid(data):
            return False
    except Exception:  # an unknown $schema, a value it cannot read: the slow check decides
        return False
    return all(_ecma_regex_cached(p) for p in _patterns(data))


@functools.lru_cache(maxsize=1024)
def _ecma_regex_cached(value: str) -> bool:
    return ecma_regex(value)


def _patterns(node: Any) -> Iterator[str]:
    """Every string that may be read as a regex: ``pattern`` values and
    ``patternProperties`` keys anywhere (also inside ``enum`` or ``default``, which
    only sends such a schema the slow way)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from (k for k in value if isinstance(k, str))
            yield from _patterns(value)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item)


def check_schema(cls: Any, data: Any) -> None:
    """``cls.check_schema(data)`` with patterns read as ECMA-262 regexes, not Python's."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    checker.checkers = dict(cls.FORMAT_CHECKER.checkers)
    checker.checks("regex")(ecma_regex)
    errors = list(cls(cls.META_SCHEMA, format_checker=checker).iter_errors(data))
    if errors:
        raise jsonschema.SchemaError.create_from(jsonschema.exceptions.best_match(errors))


def legacy_ref(dialect: str) -> bool:
    """Whether ``$ref`` overrides its siblings (draft-07 and older)."""
    return dialect in (DRAFT6, DRAFT7)


_HTTP_ROOT = "http://json-schema.invalid/"


def join(base: str, ref: str) -> str:
    """``ref`` resolved against ``base`` (urljoin, which does not know json-schema:///)."""
    if ref.startswith("#"):  # also for bases urljoin cannot join against (urn:...)
        return base.partition("#")[0] + ref
    if base.startswith(ROOT_URI):
        joined = urljoin(_HTTP_ROOT + base[len(ROOT_URI) :], ref)
        return ROOT_URI + joined[len(_HTTP_ROOT) :] if joined.startswith(_HTTP_ROOT) else joined
    return urljoin(base, ref)


def urldefrag(uri: str) -> tuple[str, str]:
    """(uri, fragment), for any scheme."""
    head, _, frag = uri.partition("#")
    return head, frag


def _pointer(doc: Any, fragment: str) -> Any:
    target = doc
    for raw in fragment.split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise Unresolvable(fragment)
    return target


class Resolver:
    """Follows references from one root document (and the repository's other schemas)."""

    def __init__(
        self,
        root: Any,
        load: Callable[[str], Any] | None = None,
        base: str = ROOT_URI,
    ) -> None:
        self.load = load
        self.root_base = base
        self.docs: dict[str, Any] = {}
        self.anchors: dict[str, Any] = {}
        self._index(root, base)

    def _index(self, node: Any, base: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$id"), str):
                uri, frag = urldefrag(join(base, node["$id"]))
                if frag:  # draft-07 "#name" ids are anchors
                    self.anchors[f"{uri}#{frag}"] = node
                else:
                    base = uri
                    self.docs.setdefault(uri, node)
            elif base not in self.docs:
                self.docs[base] = node
            for key in ("$anchor", "$dynamicAnchor"):
                if isinstance(node.get(key), str):
                    self.anchors.setdefault(f"{base}#{node[key]}", node)
            for k, v in node.items():
                if k not in ("enum", "const", "examples", "default", "x-tdm"):
                    self._index(v, base)
        elif isinstance(node, list):
            for v in node:
                self._index(v, base)

    def base_of(self, node: Any, base: str) -> str:
        if isinstance(node, dict) and isinstance(node.get("$id"), str):
            uri, frag = urldefrag(join(base, node["$id"]))
            return base if frag else uri
        return base

    def resolve(self, ref: str, base: str) -> tuple[Any, str]:
        """The target of ``ref`` seen from ``base``, and the target's base URI."""
        uri, frag = urldefrag(join(base, ref))
        if frag and not frag.startswith("/"):
            key = f"{uri}#{unquote(frag)}"
            if key not in self.anchors:
                self._fetch(uri)
            if key in self.anchors:
                return self.anchors[key], uri
            raise Unresolvable(ref)
        if uri not in self.docs:
            self._fetch(uri)
        if uri not in self.docs:
            raise Unresolvable(ref)
        target = _pointer(self.docs[uri], frag) if frag else self.docs[uri]
        return target, self.base_of(target, uri)

    def _fetch(self, uri: str) -> None:
        if self.load is None or not uri.startswith(ROOT_URI):
            return
        name = uri[len(ROOT_URI) :]
        doc = self.load(name)
        if doc is not None:
            self._index(doc, uri)


def inline(
    node: Any,
    resolver: Resolver,
    dialect: str,
    base: str = ROOT_URI,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """``node`` with every reference replaced by its target (recursion bounded)."""
    budget = [MAX_NODES]
    legacy = legacy_ref(dialect)

    def walk(n: Any, base: str, stack: tuple[int, ...]) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise Unresolvable("the schema is too large once its references are expanded")
        if isinstance(n, list):
            return [walk(v, base, stack) for v in n]
        if not isinstance(n, dict):
            return n
        base = resolver.base_of(n, base)
        ref = n.get("$ref")
        if ref is None and isinstance(n.get("$dynamicRef"), str):
            ref = n["$dynamicRef"]
        out: dict[str, Any] = {}
        for k, v in n.items():
            if k in ("$ref", "$dynamicRef", "$defs", "definitions", "$id", "$anchor"):
                continue
            if k in ("$dynamicAnchor", "$schema", "$comment", "$vocabulary"):
                continue
            if k in ("enum", "const", "examples", "default", "x-tdm"):
                out[k] = copy.deepcopy(v)
            elif k in ("properties", "patternProperties", "dependentSchemas", "$defs"):
                out[k] = {name: walk(sub, base, stack) for name, sub in v.items()}
            elif k == "dependencies" and isinstance(v, dict):
                out[k] = {
                    name: sub if isinstance(sub, list) else walk(sub, base, stack)
                    for name, sub in v.items()
                }
            else:
                out[k] = walk(v, base, stack)
        if not isinstance(ref, str):
            return out
        target, tbase = resolver.resolve(ref, base)
        ident = id(target)
        if stack.count(ident) >= max_depth:
            return False
        inner = walk(target, tbase, (*stack, ident))
        if legacy or not out:
            return inner
        if inner is True or inner == {}:
            return out
        return {"allOf": [inner, out]}

    return walk(node, base, ())


def rs_draft(dialect: str) -> Any:
    return _RS_DRAFTS[dialect]


def with_dialect(schema: Any, dialect: str) -> Any:
    if isinstance(schema, dict):
        return {"$schema": dialect + ("#" if legacy_ref(dialect) else ""), **schema}
    return schema


def canonical(schema: Any, dialect: str) -> tuple[Any, bool]:
    """The canonical form of a self-contained schema, and whether it is satisfiable at all.

    A schema the canonicaliser cannot model comes back as it was (the generator then
    leans on checking each value)."""
    try:
        result = jsonschema_rs.canonicalize(
            with_dialect(schema, dialect), draft=rs_draft(dialect), validate_formats=True
        )
        form = result.to_json_schema()
        satisfiable = str(result.satisfiability()) != "no"
    except Exception:  # the canonicaliser is optional help: any failure means "as written"
        return schema, True
    if isinstance(form, dict):
        form.pop("$schema", None)
    return form, satisfiable


def validator(schema: Any, dialect: str) -> Any:
    """A compiled validator of a self-contained schema, formats asserted."""
    return jsonschema_rs.validator_for(with_dialect(schema, dialect), validate_formats=True)


def document_validator(root: Any, load: Callable[[str], Any] | None = None) -> Any:
    """A compiled validator of a schema document, formats asserted; references to other
    schema files of the repository (``customers.yaml#/...``) resolved through ``load``."""

    def retrieve(uri: str) -> Any:
        doc = load(uri[len(ROOT_URI) :]) if load is not None and uri.startswith(ROOT_URI) else None
        if doc is None:
            raise ValueError(f"{uri} is not a schema file of this repository")
        return doc

    return jsonschema_rs.validator_for(root, validate_formats=True, retriever=retrieve)


def external_files(node: Any) -> set[str]:
    """What the references of a document name outside it: file names (``customers.yaml``),
    or absolute URIs (which tdm refuses to fetch)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and not v.startswith("#"):
                found.add(v.split("#", 1)[0].removeprefix("./"))
            elif k not in ("enum", "const", "examples", "default"):
                found |= external_files(v)
    elif isinstance(node, list):
        for v in node:
            found |= external_files(v)
    return found


# ------------------------------------------------------------------ the graph of local references


def local_target(root: Any, ref: str) -> Any:
    """What a local reference ('#/...') of ``root`` points to, None when it points nowhere."""
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def merged_refs(root: Any, raw: Any, seen: tuple[str, ...] = ()) -> list[str]:
    """The local references that merging ``raw`` follows: its $ref and its allOf's."""
    out: list[str] = []
    if not isinstance(raw, dict):
        return out
    ref = raw.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        out.append(ref)
        out += merged_refs(root, local_target(root, ref), (*seen, ref))
    parts = raw.get("allOf")
    for part in parts if isinstance(parts, list) else []:
        out += merged_refs(root, part, (*seen, *out))
    return out


def _refs_in(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#"):
                found.add(v)
            elif k not in ("enum", "const", "examples", "default", "x-tdm"):
                found |= _refs_in(v)
    elif isinstance(node, list):
        for v in node:
            found |= _refs_in(v)
    return found


def recursive_refs(root: Any) -> frozenset[str]:
    """Local references of ``root`` whose target (transitively) contains the same one."""
    edges: dict[str, set[str]] = {}
    todo = list(_refs_in(root))
    while todo:
        r = todo.pop()
        if r not in edges:
            edges[r] = _refs_in(local_target(root, r))
            todo += edges[r]
    out = set()
    for start in edges:
        stack, seen = list(edges[start]), set()
        while stack:
            r = stack.pop()
            if r == start:
                out.add(start)
                break
            if r not in seen:
                seen.add(r)
                stack += edges.get(r, ())
    return frozenset(out)

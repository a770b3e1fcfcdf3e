"""``tdm import openapi``: the component schemas of an OpenAPI 3.0/3.1 document as
JSON Schema 2020-12 files in ``schemas/``.

Nothing of the document is executed; it is read with the safe YAML loader (or as
JSON).  What the conversion does, per component schema ``X``:

* writes ``schemas/X.json``; ``X`` must be a tdm name (letters, digits, ``_ - .``,
  starting with a letter or digit, no ``..``), else the import is refused naming it:
  a renamed file would break every ``$ref`` to it in other tools' copies;
* ``$ref: '#/components/schemas/Y'`` becomes ``Y.json`` (``Y.json#/...`` for a
  pointer into it), a file relative to the one written; a reference that points
  anywhere else is refused;
* OpenAPI 3.0 only: ``nullable: true`` adds ``"null"`` to ``type`` (and ``null`` to
  ``enum``); without ``type`` the schema becomes ``anyOf: [schema, {type: null}]``;
  boolean ``exclusiveMinimum``/``exclusiveMaximum`` take the bound's value; the
  siblings of ``$ref`` (which 3.0 ignores) are dropped but for title/description;
* both versions: ``example`` becomes ``examples: [...]``; the OpenAPI formats
  ``int32``/``int64``/``float`` become bounds, ``byte`` ``contentEncoding: base64``,
  ``binary`` ``contentMediaType: application/octet-stream``; the OpenAPI-only
  keywords ``discriminator``, ``xml`` and ``externalDocs`` move under ``x-openapi``;
* ``x-tdm.primary_key: id`` when ``id`` is a top-level property listed in
  ``required`` (tdm's rule for a primary key); an optional ``id`` is left alone and
  reported, since making it required would narrow the API's own schema.

It also suggests (never writes) ``x-tdm.ref`` for properties named ``<thing>_id``
or ``<thing>Id`` where a component is called ``<thing>``.  Every file is written
to a temp file first and renamed only when all of them were written; an existing
file is replaced only with ``force``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tdm import canon
from tdm.errors import UserError
from tdm.models import NAME_HELP, check_name
from tdm.project import SCHEMA_DIR, Project
from tdm.yamlio import Located, load_document

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
OAS_31_DIALECT = "https://spec.openapis.org/oas/3.1/dialect/base"
COMPONENT_REF = "#/components/schemas/"
_VERSION_RE = re.compile(r"^3\.(0|1)\.\d+(-.+)?$")
_SUFFIXES = (".yaml", ".yml", ".json")

#: keywords whose value is one subschema / a list of them / a map of name -> subschema
_ONE = (
    "not",
    "if",
    "then",
    "else",
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
#: OpenAPI's own keywords, kept as information under x-openapi
_OAS_ONLY = ("discriminator", "xml", "externalDocs")
_INT_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_FLOAT_MAX = 3.4028234663852886e38
_ID_SUFFIX = re.compile(r"^(?P<stem>.+?)(_id|_ID|(?<=[a-z0-9])Id|(?<=[a-z0-9])ID)$")


@dataclass(frozen=True)
class ImportedSchema:
    """One component schema and what became of it."""

    component: str
    path: str  # schemas/<component>.json
    action: str  # written | overwritten | kept
    primary_key: str | None
    record: bool  # an object with properties: a dataset can follow it
    requested: bool  # named (or, without --only, every component), not only referenced


@dataclass(frozen=True)
class RefSuggestion:
    """``schema.property`` could be ``x-tdm: {ref: target}``."""

    schema: str
    property: str
    target: str
    note: str = ""


@dataclass
class ImportResult:
    spec: str
    openapi: str
    schemas: list[ImportedSchema] = field(default_factory=list)
    suggestions: list[RefSuggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ reading the document


def read_spec(path: Path) -> tuple[Located, str, dict[str, Any]]:
    """The parsed document, its ``openapi`` version and its ``components.schemas``."""
    display = str(path)
    if path.is_dir():
        raise UserError("is a directory; give the OpenAPI document (YAML or JSON)", path=display)
    if not path.exists():
        raise UserError(
            "file not found; give the path of an OpenAPI 3.0 or 3.1 document (YAML or JSON)",
            path=display,
        )
    doc = load_document(path, display)
    data = doc.data
    if not isinstance(data, dict):
        raise UserError("not an OpenAPI document: the top level is not a mapping", path=display)
    if "swagger" in data and "openapi" not in data:
        raise UserError(
            f"is Swagger {data['swagger']}, not OpenAPI 3; convert it first (e.g. with "
            "swagger2openapi) and import the result",
            path=display,
            line=doc.line_of(("swagger",)),
        )
    version = data.get("openapi")
    if version is None:
        raise UserError(
            "not an OpenAPI document: it has no 'openapi' version field", path=display, line=1
        )
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise UserError(
            f"OpenAPI version {version!r} is not supported: tdm imports 3.0.x and 3.1.x "
            "(write the version as a quoted string, e.g. openapi: '3.1.0')",
            path=display,
            line=doc.line_of(("openapi",)),
        )
    components = data.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    if components is not None and not isinstance(components, dict):
        raise UserError(
            "'components' must be a mapping", path=display, line=doc.line_of(("components",))
        )
    if schemas is None:
        raise UserError(
            "has no components.schemas: there is no schema to import", path=display, line=1
        )
    if not isinstance(schemas, dict):
        raise UserError(
            "components.schemas must be a mapping of name -> schema",
            path=display,
            line=doc.line_of(("components", "schemas")),
        )
    for name, schema in schemas.items():
        if not isinstance(schema, dict | bool) or (
            isinstance(schema, bool) and version.startswith("3.0")
        ):
            raise UserError(
                f"component schema '{name}' is not a Schema Object (a mapping)",
                path=display,
                line=doc.line_of(("components", "schemas", name)),
            )
    return doc, version, schemas


def _dialect(doc: Located, version: str) -> str:
    raw = doc.data.get("jsonSchemaDialect")
    if version.startswith("3.0") or raw is None or raw == OAS_31_DIALECT:
        return DRAFT_2020_12
    if isinstance(raw, str) and raw.rstrip("#").startswith(
        ("https://json-schema.org/", "http://json-schema.org/")
    ):
        return raw
    raise UserError(
        f"jsonSchemaDialect {raw!r} is not a JSON Schema dialect tdm knows; remove it (the "
        "default is JSON Schema 2020-12) or name a json-schema.org dialect",
        path=doc.path,
        line=doc.line_of(("jsonSchemaDialect",)),
    )


# ------------------------------------------------------------------ conversion


class _Converter:
    """Turns one component schema into a JSON Schema 2020-12 document."""

    def __init__(self, doc: Located, version: str, components: dict[str, Any]) -> None:
        self.doc = doc
        self.v30 = version.startswith("3.0")
        self.components = components
        self.component = ""
        self.refs: set[str] = set()  # components referenced by the current one

    def fail(self, loc: tuple[str | int, ...], message: str) -> UserError:
        pointer = "/".join(str(p) for p in loc)
        full = ("components", "schemas", self.component, *loc)
        return UserError(
            f"component schema '{self.component}' at /{pointer}: {message}",
            path=self.doc.path,
            line=self.doc.line_of(full),
        )

    def convert(self, component: str, raw: Any) -> tuple[dict[str, Any], set[str]]:
        self.component = component
        self.refs = set()
        node = self.schema(raw, ())
        return node, self.refs

    def rewrite_ref(self, ref: Any, loc: tuple[str | int, ...]) -> str:
        if not isinstance(ref, str) or not ref.startswith(COMPONENT_REF):
            raise self.fail(
                loc,
                f"$ref {ref!r} does not point to '#/components/schemas/...'; tdm imports component "
                "schemas only: inline that schema or move it under components.schemas",
            )
        target, _, rest = ref[len(COMPONENT_REF) :].partition("/")
        name = unquote(target).replace("~1", "/").replace("~0", "~")
        if name not in self.components:
            raise self.fail(
                loc, f"$ref {ref!r} names component schema '{name}', which the document lacks"
            )
        self.refs.add(name)
        return f"{name}.json" + (f"#/{rest}" if rest else "")

    def schema(self, raw: Any, loc: tuple[str | int, ...]) -> Any:
        if isinstance(raw, bool):
            return raw if loc else ({} if raw else {"not": {}})
        if not isinstance(raw, dict):
            raise self.fail(loc, f"a schema must be a mapping, not {type(raw).__name__}")
        ref = None
        if "$ref" in raw:
            ref = self.rewrite_ref(raw["$ref"], (*loc, "$ref"))
            if self.v30:  # 3.0: a Reference Object's other keys are ignored
                keep = {k: raw[k] for k in ("title", "description") if k in raw}
                return {"$ref": ref, **keep}
        out: dict[str, Any] = {}
        oas: dict[str, Any] = {}
        for key, value in raw.items():
            here = (*loc, key)
            if key == "$ref":
                out[key] = ref
            elif key in _ONE and isinstance(value, dict | bool):
                out[key] = self.schema(value, here)
            elif key in ("items", *_MANY) and isinstance(value, list):
                out[key] = [self.schema(v, (*here, i)) for i, v in enumerate(value)]
            elif key in _MAP and isinstance(value, dict):
                out[key] = {k: self.schema(v, (*here, k)) for k, v in value.items()}
            elif key == "dependencies" and isinstance(value, dict):
                out[key] = {
                    k: v if isinstance(v, list) else self.schema(v, (*here, k))
                    for k, v in value.items()
                }
            elif key in _OAS_ONLY:
                oas[key] = self.discriminator(value) if key == "discriminator" else value
            elif key == "example":
                if "examples" not in raw:
                    out["examples"] = [copy.deepcopy(value)]
            elif key == "nullable" and self.v30:
                continue  # applied below, once the rest is converted
            else:
                out[key] = copy.deepcopy(value)
        if oas:
            extra = dict(out.get("x-openapi") or {})
            extra.update(oas)
            out["x-openapi"] = extra
        self.formats(out)
        if self.v30:
            self.exclusive(out, "exclusiveMinimum", "minimum")
            self.exclusive(out, "exclusiveMaximum", "maximum")
            if raw.get("nullable") is True:
                out = self.nullable(out)
        return out

    def discriminator(self, value: Any) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get("mapping"), dict):
            return copy.deepcopy(value)
        mapping = {
            k: (
                f"{v[len(COMPONENT_REF) :]}.json"
                if isinstance(v, str) and v.startswith(COMPONENT_REF)
                else v
            )
            for k, v in value["mapping"].items()
        }
        return {**copy.deepcopy(value), "mapping": mapping}

    @staticmethod
    def exclusive(node: dict[str, Any], flag: str, bound: str) -> None:
        value = node.get(flag)
        if not isinstance(value, bool):
            return
        del node[flag]
        if value and bound in node:
            node[flag] = node.pop(bound)

    @staticmethod
    def formats(node: dict[str, Any]) -> None:
        fmt = node.get("format")
        types = node.get("type")
        kinds = set(types) if isinstance(types, list) else {types}
        if fmt in _INT_FORMATS and "integer" in kinds:
            lo, hi = _INT_FORMATS[fmt]
            _tighten(node, "minimum", lo, max)
            _tighten(node, "maximum", hi, min)
        elif fmt == "float" and kinds & {"number", "integer"}:
            _tighten(node, "minimum", -_FLOAT_MAX, max)
            _tighten(node, "maximum", _FLOAT_MAX, min)
        elif fmt == "double" and kinds & {"number", "integer"}:
            pass
        elif fmt == "byte" and "string" in kinds:
            node.setdefault("contentEncoding", "base64")
        elif fmt == "binary" and "string" in kinds:
            node.setdefault("contentMediaType", "application/octet-stream")
        else:
            return
        del node["format"]

    @staticmethod
    def nullable(node: dict[str, Any]) -> dict[str, Any]:
        types = node.get("type")
        if isinstance(types, str | list):
            listed = [types] if isinstance(types, str) else list(types)
            if "null" not in listed:
                node["type"] = [*listed, "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            return node
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list) and len(node) == 1:
                node[key] = [*node[key], {"type": "null"}]
                return node
        return {"anyOf": [node, {"type": "null"}]}


def _tighten(node: dict[str, Any], key: str, bound: float, pick: Any) -> None:
    node[key] = pick(node[key], bound) if isinstance(node.get(key), int | float) else bound


def _is_record(node: dict[str, Any]) -> bool:
    types = node.get("type", "object")
    return (types == "object" or (isinstance(types, list) and "object" in types)) and isinstance(
        node.get("properties"), dict
    )


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


# ------------------------------------------------------------------ the import


@dataclass
class _Planned:
    component: str
    path: Path
    data: dict[str, Any]
    requested: bool
    action: str = "written"


def plan_import(
    project: Project, spec: Path, only: list[str] | None = None, force: bool = False
) -> tuple[ImportResult, list[_Planned]]:
    """Everything the import would do; raises before anything is written."""
    doc, version, components = read_spec(spec)
    dialect = _dialect(doc, version)
    result = ImportResult(spec=str(spec), openapi=version)
    wanted = list(dict.fromkeys(only)) if only else list(components)
    missing = [n for n in wanted if n not in components]
    if missing:
        raise UserError(
            f"--only {', '.join(missing)}: no such component schema in the document "
            f"(it has: {', '.join(components) or 'none'})",
            path=doc.path,
        )
    converter = _Converter(doc, version, components)
    converted: dict[str, dict[str, Any]] = {}
    queue = list(wanted)
    while queue:  # the named components and every component they reference
        name = queue.pop(0)
        if name in converted:
            continue
        _check_component_name(name, doc)
        data, refs = converter.convert(name, components[name])
        converted[name] = _finish(name, data, dialect, result)
        queue.extend(sorted(refs - set(converted)))
    _check_case_clash(list(converted), doc)
    for name, data in converted.items():
        _check_schema(name, data, doc)

    schema_dir = project.root / SCHEMA_DIR
    if schema_dir.exists():
        project.inside(schema_dir)
    planned: list[_Planned] = []
    clashes: list[str] = []
    for name, data in converted.items():
        path = schema_dir / f"{name}.json"
        item = _Planned(name, path, data, requested=name in wanted)
        others = [
            project.rel(schema_dir / f"{name}{s}")
            for s in _SUFFIXES
            if s != ".json" and (schema_dir / f"{name}{s}").exists()
        ]
        if others:
            raise UserError(
                f"schema '{name}' is already defined by {', '.join(others)}; importing it would "
                f"give it two files. Remove or rename {others[0]} first, or leave '{name}' out "
                "with --only (nothing was written)",
            )
        if path.is_symlink() or path.is_dir():
            raise UserError(
                f"{project.rel(path)} is a symbolic link or a directory; tdm will not replace it "
                "(nothing was written)"
            )
        if path.exists():
            if force:
                item.action = "overwritten"
            elif not item.requested:
                item.action = "kept"  # a referenced dependency that is already there
            else:
                clashes.append(project.rel(path))
        planned.append(item)
    if clashes:
        raise UserError(
            f"{', '.join(clashes)} already {'exists' if len(clashes) == 1 else 'exist'}; run "
            "with --force to overwrite (nothing was written)"
        )

    for item in planned:
        pk = item.data.get("x-tdm", {}).get("primary_key") if item.action != "kept" else None
        result.schemas.append(
            ImportedSchema(
                item.component,
                f"{SCHEMA_DIR}/{item.component}.json",
                item.action,
                pk if isinstance(pk, str) else None,
                _is_record(item.data),
                item.requested,
            )
        )
    result.suggestions = _suggestions(converted, wanted)
    return result, planned


def _check_component_name(name: str, doc: Located) -> None:
    try:
        check_name(name, "component schema")
    except ValueError:
        raise UserError(
            f"component schema {name!r} cannot be the tdm schema name of schemas/{name}.json: "
            f"names use {NAME_HELP}. Rename it in the document, or leave it out with --only "
            "(nothing was written)",
            path=doc.path,
            line=doc.line_of(("components", "schemas", name)),
        ) from None


def _check_case_clash(names: list[str], doc: Located) -> None:
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise UserError(
                f"component schemas '{other}' and '{name}' differ only in case: their files would "
                "be one file on case-insensitive file systems; rename one, or import one of them "
                "with --only (nothing was written)",
                path=doc.path,
            )


def _finish(name: str, data: dict[str, Any], dialect: str, result: ImportResult) -> dict[str, Any]:
    """``$schema`` and ``title`` first, the primary key when ``id`` is a required property."""
    out: dict[str, Any] = {"$schema": data.pop("$schema", dialect)}
    out["title"] = data.pop("title", name)
    out.update(data)
    props: dict[str, Any] = out["properties"] if isinstance(out.get("properties"), dict) else {}
    required: list[Any] = out["required"] if isinstance(out.get("required"), list) else []
    hint = out.get("x-tdm")
    if hint is not None and not isinstance(hint, dict):
        return out  # the schema check reports it
    hint = dict(hint or {})
    if "id" in props and "primary_key" not in hint:
        if "id" in required:
            hint["primary_key"] = "id"
            out["x-tdm"] = hint
        else:
            result.notes.append(
                f"{name}: 'id' is optional (not in 'required'), so it is not made the primary "
                "key; if every record has one, add it to 'required' and set x-tdm: "
                "{primary_key: id}"
            )
    if not _is_record(out):
        result.notes.append(
            f"{name}: not an object with properties; other schemas can $ref it, but a dataset "
            "cannot follow it"
        )
    return out


def _check_schema(name: str, data: dict[str, Any], doc: Located) -> None:
    import jsonschema
    import jsonschema.validators

    cls = jsonschema.validators.validator_for(data, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(data)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise UserError(
            f"component schema '{name}' is not a valid JSON Schema once converted, at /{where}: "
            f"{exc.message}; fix it in the document (nothing was written)",
            path=doc.path,
            line=doc.line_of(("components", "schemas", name, *exc.path)),
        ) from None


def _suggestions(converted: dict[str, dict[str, Any]], wanted: list[str]) -> list[RefSuggestion]:
    by_norm: dict[str, list[str]] = {}
    for name in converted:
        by_norm.setdefault(_norm(name), []).append(name)
    out: list[RefSuggestion] = []
    for name in wanted:
        props = converted[name].get("properties")
        if not isinstance(props, dict):
            continue
        for prop in props:
            m = _ID_SUFFIX.match(prop)
            targets = by_norm.get(_norm(m.group("stem")), []) if m else []
            if len(targets) != 1:
                continue
            target = targets[0]
            pk = converted[target].get("x-tdm", {}).get("primary_key")
            note = ""
            if not isinstance(pk, str):
                pk = "id"
                note = f"{target} has no primary key yet: make its 'id' required first"
            elif target == name:
                note = "a self-reference: the property must allow null"
            out.append(RefSuggestion(name, prop, f"{target}.{pk}", note))
    return out


def import_openapi(
    project: Project, spec: Path, only: list[str] | None = None, force: bool = False
) -> ImportResult:
    """Write one ``schemas/<Name>.json`` per component schema (see the module docstring)."""
    result, planned = plan_import(project, spec, only, force)
    writes = [p for p in planned if p.action != "kept"]
    if writes:
        _write_all(
            project,
            [(p.path, canon.encode(p.data, sort_keys=False, indent=True) + b"\n") for p in writes],
        )
    return result


def _write_all(project: Project, files: list[tuple[Path, bytes]]) -> None:
    """Every file to a temp file first, then the renames: all of them or (but for a
    failing rename, which is rare) none."""
    folder = files[0][0].parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {project.rel(folder)}: {exc.strerror}") from None
    project.inside(folder)
    temps: list[tuple[str, Path]] = []
    try:
        umask = os.umask(0)
        os.umask(umask)
        for path, data in files:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
            temps.append((tmp, path))
            os.chmod(tmp, 0o666 & ~umask)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException as exc:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise UserError(
                f"cannot write {project.rel(folder)}: {exc.strerror or exc} "
                "(the temp files were removed)"
            ) from None
        raise

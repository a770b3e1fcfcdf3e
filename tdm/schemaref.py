"""Schemas that ``$ref`` other schema files of the repository (``Pet.json``,
``customers.yaml#/$defs/Address``), made self-contained for row validation.

A relative reference resolves against the referring file's own location,
``schemas/<file>``; :func:`bundled` embeds every file reached that way under
``$defs`` (jsonschema-rs' bundler: a JSON Schema compound document), so the
validator, and the worker processes it is sent to, need no file access.
References leaving ``schemas/`` (another folder, a URL) resolve to nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jsonschema_rs

from tdm import canon
from tdm.errors import UserError
from tdm.models import check_name
from tdm.project import SCHEMA_DIR, Project, SchemaDoc

BASE = "tdm:///schemas/"
_SUFFIXES = (".yaml", ".yml", ".json")


def external_refs(node: Any) -> bool:
    """Whether any ``$ref`` of ``node`` points outside its own document."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return True
        return any(
            external_refs(v)
            for k, v in node.items()
            if k not in ("enum", "const", "examples", "default", "x-tdm")
        )
    if isinstance(node, list):
        return any(external_refs(v) for v in node)
    return False


def _file_name(schema: SchemaDoc) -> str:
    return schema.display.rpartition("/")[2]


def bundled(project: Project, schema: SchemaDoc) -> dict[str, Any]:
    """``schema.data``, with the repository's schema files it references embedded."""
    if not external_refs(schema.data):
        return schema.data

    def retrieve(uri: str) -> Any:
        name = uri[len(BASE) :] if uri.startswith(BASE) else ""
        stem, dot, suffix = name.rpartition(".")
        path = project.root / SCHEMA_DIR / name
        try:
            check_name(stem, "schema")
        except ValueError:
            stem = ""
        if not stem or f".{suffix}" not in _SUFFIXES or not dot or not path.is_file():
            raise ValueError(f"{uri} is not a schema file of this repository")
        if project.rel(path) != f"{SCHEMA_DIR}/{name}":
            raise ValueError(f"{uri} resolves outside {SCHEMA_DIR}/")
        found = project.schema(stem)
        if found.display != f"{SCHEMA_DIR}/{name}":
            raise ValueError(f"{uri}: schema '{stem}' is defined by {found.display}")
        return found.data

    base = BASE + _file_name(schema)
    try:
        data: dict[str, Any] = jsonschema_rs.bundle(schema.data, retriever=retrieve, base_uri=base)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"a $ref cannot be resolved: {first}. References to other schemas name a file "
            "of schemas/ relative to this one, e.g. Address.json or customers.yaml#/$defs/Address",
            path=schema.display,
        ) from None
    data.setdefault("$id", base)
    return data


def fingerprint(project: Project, schema: SchemaDoc) -> str:
    """A hash of what decides row validity: the file, plus the files it references."""
    if not external_refs(schema.data):
        return hashlib.sha256(schema.raw_bytes).hexdigest()
    return canon.sha256(bundled(project, schema))

"""Schemas, templates and masking rules: the named YAML/JSON files of a commit."""

from __future__ import annotations

from tdm.project import MASKING_DIR, SCHEMA_DIR, TEMPLATE_DIR
from tdm.server.errors import BadRequest
from tdm.server.models import Document, Names
from tdm.server.services.repository import View

#: kind in the URL -> (folder, what a message calls it)
KINDS = {
    "schemas": (SCHEMA_DIR, "schema"),
    "templates": (TEMPLATE_DIR, "template"),
    "masking": (MASKING_DIR, "masking rules"),
}


def names(view: View, kind: str) -> Names:
    folder, _ = KINDS[kind]
    return Names(revision=view.label, commit=view.commit_id, names=view.names(folder))


def get(view: View, kind: str, name: str) -> Document:
    folder, what = KINDS[kind]
    rel, data = view.document(folder, name, what)
    if not isinstance(data, dict):
        raise BadRequest(f"{rel}@{view.label} is not a mapping; fix the file in the repository")
    return Document(name=name, path=rel, revision=view.label, commit=view.commit_id, document=data)

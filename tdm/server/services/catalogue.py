"""Schemas, templates and masking rules: the named YAML/JSON files of a commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from tdm.project import MASKING_DIR, SCHEMA_DIR, TEMPLATE_DIR
from tdm.server.auth import Caller
from tdm.server.errors import BadRequest, NotFound
from tdm.server.models import Document, Names, WriteResult
from tdm.server.services import writes
from tdm.server.services.repository import Repository, View, checked_name
from tdm.yamlio import dump_yaml

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


def encode(rel: str, document: dict[str, Any]) -> bytes:
    if rel.endswith(".json"):
        return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"
    return dump_yaml(document).encode("utf-8")


@dataclass
class PutFile(writes.Change):
    folder: str
    name: str
    what: str
    document: dict[str, Any]
    created: bool | None = None
    path: str = ""

    def __post_init__(self) -> None:
        self.message = f"{self.what} {self.name}: write (tdm serve)"

    def _path(self, view: View) -> str:
        return view.path_of(self.folder, self.name) or f"{self.folder}/{self.name}.yaml"

    def prepare(self, view: View) -> dict[str, bytes | None]:
        if self.created is None:
            self.created = view.path_of(self.folder, self.name) is None
        self.path = self._path(view)
        return {self.path: encode(self.path, self.document)}

    def watched(self, view: View) -> set[str]:
        return {self._path(view)}


@dataclass
class DeleteFile(writes.Change):
    folder: str
    name: str
    what: str
    path: str = ""

    def __post_init__(self) -> None:
        self.message = f"{self.what} {self.name}: delete (tdm serve)"

    def prepare(self, view: View) -> dict[str, bytes | None]:
        rel = view.path_of(self.folder, self.name)
        if rel is None:
            raise NotFound(f"{self.what} '{self.name}' does not exist on {view.label}")
        self.path = rel
        return {rel: None}

    def watched(self, view: View) -> set[str]:
        rel = view.path_of(self.folder, self.name)
        return {rel} if rel else set()


def put(
    repo: Repository,
    caller: Caller,
    kind: str,
    name: str,
    document: dict[str, Any],
    environment: str | None,
    worker: Any,
) -> tuple[WriteResult, bool]:
    """Write one file (validated, committed with the caller as author); True when it is new."""
    folder, what = KINDS[kind]
    checked_name(name, what)
    out = writes.commit(repo, caller, environment, PutFile(folder, name, what, document), worker)
    change = out.change
    assert isinstance(change, PutFile)
    return _result(name, change.path, out.committed), bool(change.created)


def delete(
    repo: Repository,
    caller: Caller,
    kind: str,
    name: str,
    environment: str | None,
    worker: Any,
) -> WriteResult:
    folder, what = KINDS[kind]
    checked_name(name, what)
    out = writes.commit(repo, caller, environment, DeleteFile(folder, name, what), worker)
    assert isinstance(out.change, DeleteFile)
    return _result(name, out.change.path, out.committed, deleted=True)


def _result(name: str, path: str, done: writes.Committed, *, deleted: bool = False) -> WriteResult:
    return WriteResult(
        name=name,
        path=path,
        environment=done.environment,
        branch=done.branch,
        commit=done.commit,
        author=done.author,
        deleted=deleted,
    )

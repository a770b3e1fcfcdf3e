"""Schemas, templates and masking rules: the named YAML/JSON files of a commit."""

from __future__ import annotations

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


def put(
    repo: Repository,
    caller: Caller,
    kind: str,
    name: str,
    document: dict[str, Any],
    environment: str | None,
) -> tuple[WriteResult, bool]:
    """Write one file (validated, committed with the caller as author); True when it is new."""
    folder, what = KINDS[kind]
    checked_name(name, what)
    seen: list[bool] = []

    def path_in(view: View) -> str:
        return view.path_of(folder, name) or f"{folder}/{name}.yaml"

    def prepare(view: View) -> dict[str, bytes | None]:
        if not seen:
            seen.append(view.path_of(folder, name) is None)
        rel = path_in(view)
        return {rel: encode(rel, document)}

    done = writes.commit(
        repo,
        caller,
        environment,
        f"{what} {name}: write (tdm serve)",
        prepare,
        lambda v: {path_in(v)},
    )
    view = repo.branch_view(done.environment, done.branch)
    rel = path_in(view)
    return (
        WriteResult(
            name=name,
            path=rel,
            environment=done.environment,
            branch=done.branch,
            commit=done.commit,
            author=done.author,
        ),
        seen[0],
    )


def delete(
    repo: Repository, caller: Caller, kind: str, name: str, environment: str | None
) -> WriteResult:
    folder, what = KINDS[kind]
    checked_name(name, what)
    paths: list[str] = []

    def prepare(view: View) -> dict[str, bytes | None]:
        rel = view.path_of(folder, name)
        if rel is None:
            raise NotFound(f"{what} '{name}' does not exist on {view.label}")
        paths[:] = [rel]
        return {rel: None}

    def watched(view: View) -> set[str]:
        rel = view.path_of(folder, name)
        return {rel} if rel else set()

    done = writes.commit(
        repo, caller, environment, f"{what} {name}: delete (tdm serve)", prepare, watched
    )
    return WriteResult(
        name=name,
        path=paths[0],
        environment=done.environment,
        branch=done.branch,
        commit=done.commit,
        author=done.author,
        deleted=True,
    )

"""What the routers share: the served repository, the caller's view of it, parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from tdm.models import NAME_RE
from tdm.server.auth import Caller, reader
from tdm.server.models import ErrorBody
from tdm.server.services.repository import BlobCache, Repository, View

EnvironmentParam = Annotated[
    str | None,
    Query(
        pattern=NAME_RE.pattern,
        max_length=100,
        description="An environment of tdm.yaml: its branch is read (or written).",
    ),
]
RevParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=250,
        description="A version tag, branch or commit to read (instead of an environment).",
    ),
]


async def repository(request: Request) -> Repository:
    repo: Repository = request.app.state.repository
    return repo


async def blobs(request: Request) -> BlobCache:
    cache: BlobCache = request.app.state.blobs
    return cache


@dataclass(frozen=True)
class ViewRequest:
    """What a read names; opened in the thread that uses it (pygit2 objects stay in the
    thread that made them)."""

    repo: Repository
    caller: Caller
    environment: str | None
    rev: str | None

    def open(self) -> View:
        return self.repo.view(self.caller, self.environment, self.rev)


async def read_view(
    environment: EnvironmentParam = None,
    rev: RevParam = None,
    caller: Caller = Depends(reader),
    repo: Repository = Depends(repository),
) -> ViewRequest:
    return ViewRequest(repo, caller, environment, rev)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers: every one is an :class:`ErrorBody`."""
    text = {
        400: "Invalid content (validation findings) or request",
        401: "No token, or an unknown one",
        403: "The token's scope or environments do not allow this",
        404: "Unknown schema, template, dataset, environment or revision",
        409: "Conflicts with the repository (exists already, lost race, gate refused)",
        413: "Body or record_count over the limit",
        422: "Malformed request",
        500: "Internal error",
    }
    return {code: {"model": ErrorBody, "description": text[code]} for code in codes}


READ_ERRORS = errors(400, 401, 403, 404, 422, 500)
WRITE_ERRORS = errors(400, 401, 403, 404, 409, 413, 422, 500)

"""The writes: PUT/DELETE of schemas, templates and masking rules; POST /datasets,
POST /versions, POST /environments/{name}/promote."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response, status

from tdm.models import NAME_RE
from tdm.server.api.deps import WRITE_ERRORS, EnvironmentParam, repository
from tdm.server.auth import Caller, admin, writer
from tdm.server.models import (
    DatasetCreate,
    DatasetSummary,
    Promote,
    Promotion,
    VersionCreate,
    VersionItem,
    WriteResult,
)
from tdm.server.services import catalogue, generation, releases
from tdm.server.services.repository import Repository

NameParam = Annotated[str, Path(pattern=NAME_RE.pattern, max_length=100)]
DocumentBody = Annotated[
    dict[str, Any],
    Body(description="The whole document (a JSON Schema, a template, masking rules)."),
]


def _file_routes(kind: str, tag: str, what: str, delete: bool) -> APIRouter:
    router = APIRouter(prefix=f"/{kind}", tags=[tag], responses=WRITE_ERRORS)

    @router.put(
        "/{name}",
        response_model=WriteResult,
        status_code=status.HTTP_200_OK,
        responses={201: {"model": WriteResult, "description": "Created"}},
        summary=f"Write {what}",
    )
    def put(
        request: Request,
        name: NameParam,
        document: DocumentBody,
        response: Response,
        environment: EnvironmentParam = None,
        caller: Caller = Depends(writer),
        repo: Repository = Depends(repository),
    ) -> WriteResult:
        """Validate, then commit the file to the environment's branch, with the caller as
        author (201 when it is new).  Findings of `tdm validate` are a 400."""
        result, created = catalogue.put(
            repo, caller, kind, name, document, environment, request.app.state.workers
        )
        if created:
            response.status_code = status.HTTP_201_CREATED
        return result

    if delete:

        @router.delete("/{name}", response_model=WriteResult, summary=f"Delete {what}")
        def remove(
            request: Request,
            name: NameParam,
            environment: EnvironmentParam = None,
            caller: Caller = Depends(writer),
            repo: Repository = Depends(repository),
        ) -> WriteResult:
            """Delete the file from the environment's branch (validated first: a schema a
            template still uses stays, with a 400)."""
            return catalogue.delete(
                repo, caller, kind, name, environment, request.app.state.workers
            )

    return router


schemas = _file_routes("schemas", "schemas", "a schema", True)
templates = _file_routes("templates", "templates", "a template", True)
masking = _file_routes("masking", "masking", "masking rules", False)

datasets = APIRouter(prefix="/datasets", tags=["datasets"], responses=WRITE_ERRORS)
versions = APIRouter(prefix="/versions", tags=["versions"], responses=WRITE_ERRORS)
environments = APIRouter(prefix="/environments", tags=["environments"], responses=WRITE_ERRORS)


@datasets.post(
    "", response_model=DatasetSummary, status_code=status.HTTP_201_CREATED, summary="Generate"
)
def create_dataset(
    request: Request,
    body: DatasetCreate,
    caller: Caller = Depends(writer),
    repo: Repository = Depends(repository),
) -> DatasetSummary:
    """Generate `record_count` records of `schema` as datasets/TEMPLATE/NAME.jsonl on the
    environment's branch: the template (default: NAME) records the recipe, the result is
    validated and committed with the caller as author.  Runs in a worker process."""
    return generation.create(repo, caller, body, request.app.state.workers)


@versions.post(
    "", response_model=VersionItem, status_code=status.HTTP_201_CREATED, summary="Tag a version"
)
def create_version(
    body: VersionCreate,
    caller: Caller = Depends(admin),
    repo: Repository = Depends(repository),
) -> VersionItem:
    """`tdm tag` of the environment's tip (or HEAD): an annotated tag whose message lists
    every dataset's rows and hash.  An existing version is a 409."""
    return releases.tag(repo, caller, body)


@environments.post("/{name}/promote", response_model=Promotion, summary="Promote")
def promote(
    name: NameParam,
    body: Promote,
    caller: Caller = Depends(admin),
    repo: Repository = Depends(repository),
) -> Promotion:
    """`tdm env promote FROM NAME`: merge with the CLI's gates (validation; a protected
    target refuses breaking schema changes unless allow_breaking; requires_masking).
    A refusal is a 409 and changes nothing."""
    return releases.promote(repo, caller, name, body)

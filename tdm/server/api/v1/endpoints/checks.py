"""Checks: GET /diff, POST /validate, POST /masking/{name}/preview."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tdm.models import NAME_RE
from tdm.server.api.deps import READ_ERRORS, WRITE_ERRORS, EnvironmentParam, RevParam, repository
from tdm.server.auth import Caller, reader, writer
from tdm.server.errors import TooLarge
from tdm.server.models import MaskPreview, MaskPreviewRequest, ValidateRequest, ValidationResult
from tdm.server.services import checks, writes
from tdm.server.services.repository import Repository

router = APIRouter(tags=["checks"], responses=READ_ERRORS)


class Compat(StrEnum):
    backward = "backward"
    forward = "forward"
    full = "full"


@router.get("/diff", response_model=dict[str, Any], summary="Compare two revisions")
def diff(
    base: Annotated[str, Query(min_length=1, max_length=250, description="Base revision.")],
    head: RevParam = None,
    environment: EnvironmentParam = None,
    compat: Compat = Compat.backward,
    rows: Annotated[int, Query(ge=0, le=100, description="Sample rows per dataset.")] = 5,
    caller: Caller = Depends(reader),
    repo: Repository = Depends(repository),
) -> dict[str, Any]:
    """`tdm diff BASE HEAD --format json`: schema changes classified breaking or
    compatible, row changes by primary key.  HEAD defaults to the environment's branch."""
    a = repo.view(caller, rev=base)
    b = repo.view(caller, environment, head)
    return checks.diff(repo.project(), a, b, compat.value, rows)


@router.post("/validate", response_model=ValidationResult, summary="Validate a commit")
def validate(
    request: Request,
    body: ValidateRequest | None = None,
    caller: Caller = Depends(reader),
    repo: Repository = Depends(repository),
) -> ValidationResult:
    """`tdm validate` of an environment's branch or a revision: files, rows, keys,
    references, tdm.lock.  Findings are in `report` (`ok` false), as `--json` prints them.
    Runs in a worker process."""
    ask = body or ValidateRequest()
    view = repo.view(caller, ask.environment, ask.rev)
    result: ValidationResult = writes.submit(
        request.app.state.workers, checks.validate_commit, repo.settings, view.label, view.commit_id
    )
    return result


@router.post(
    "/masking/{name}/preview",
    response_model=MaskPreview,
    tags=["masking"],
    summary="Mask a few records",
    responses=WRITE_ERRORS,
)
def mask_preview(
    name: Annotated[str, Path(pattern=NAME_RE.pattern, max_length=100)],
    body: MaskPreviewRequest,
    environment: EnvironmentParam = None,
    rev: RevParam = None,
    caller: Caller = Depends(writer),
    repo: Repository = Depends(repository),
) -> MaskPreview:
    """The posted records masked by masking/NAME with the server's key (TDM_MASKING_KEY),
    which never appears in an answer.  Column-wide rules (shuffle) need the whole dataset
    and are listed in `not_applied`."""
    settings = repo.settings
    if len(body.records) > settings.max_preview_records:
        raise TooLarge(
            f"at most {settings.max_preview_records} records per preview; mask whole files "
            "with `tdm mask`"
        )
    view = repo.view(caller, environment, rev)
    return checks.mask_preview(view, repo.project(), name, body.records)

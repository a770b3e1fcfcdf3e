"""Datasets: list, read records (paged JSON or streamed JSON Lines)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response, StreamingResponse

from tdm.models import NAME_RE
from tdm.server.api.deps import (
    READ_ERRORS,
    EnvironmentParam,
    RevParam,
    ViewRequest,
    blobs,
    read_view,
    repository,
)
from tdm.server.auth import Caller, reader
from tdm.server.models import DatasetList, RecordPage
from tdm.server.services import datasets
from tdm.server.services.repository import BlobCache, Repository

router = APIRouter(prefix="/datasets", tags=["datasets"], responses=READ_ERRORS)

NameParam = Annotated[str, Path(pattern=NAME_RE.pattern, max_length=100)]
NDJSON = "application/x-ndjson"


@router.get("", response_model=DatasetList, summary="List datasets")
def list_datasets(
    view: ViewRequest = Depends(read_view), repo: Repository = Depends(repository)
) -> DatasetList:
    """The datasets of an environment's branch (or a revision), with tdm.lock's record."""
    return datasets.listing(view.open(), repo.project())


@router.get(
    "/{template}/{dataset}",
    response_model=RecordPage,
    summary="Read records",
    responses={
        200: {
            "content": {NDJSON: {"schema": {"type": "string"}}},
            "description": "A page of records; with `Accept: application/x-ndjson`, the "
            "records as JSON Lines (from offset, at most limit when given).",
        }
    },
)
async def read_records(
    template: NameParam,
    dataset: NameParam,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    limit: Annotated[
        int | None,
        Query(ge=1, description="Records per page (default 100; JSON Lines: all)."),
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
    environment: EnvironmentParam = None,
    rev: RevParam = None,
    caller: Caller = Depends(reader),
    repo: Repository = Depends(repository),
    cache: BlobCache = Depends(blobs),
) -> Response:
    """Records of datasets/TEMPLATE/DATASET.jsonl, in the dataset's own order.

    Served on the event loop: the dataset is read and checked once (in a thread), then
    pages and streams are slices of it."""
    view = repo.view(caller, environment, rev)
    data, starts = await datasets.records(repo, view, cache, template, dataset)
    if accept is not None and NDJSON in accept:
        return StreamingResponse(datasets.stream(data, starts, offset, limit), media_type=NDJSON)
    size = min(limit or 100, repo.settings.max_page)
    return Response(
        datasets.page(view, data, starts, template, dataset, offset, size),
        media_type="application/json",
    )

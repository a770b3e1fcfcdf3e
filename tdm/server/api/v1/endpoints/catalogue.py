"""Schemas, templates and masking rules: list and read (writes: see :mod:`.writes`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from tdm.models import NAME_RE
from tdm.server.api.deps import READ_ERRORS, ViewRequest, read_view
from tdm.server.models import Document, Names
from tdm.server.services import catalogue

NameParam = Annotated[str, Path(pattern=NAME_RE.pattern, max_length=100)]


def _routes(kind: str, tag: str, what: str) -> APIRouter:
    router = APIRouter(prefix=f"/{kind}", tags=[tag], responses=READ_ERRORS)

    @router.get("", response_model=Names, summary=f"List {what}")
    def list_names(view: ViewRequest = Depends(read_view)) -> Names:
        return catalogue.names(view.open(), kind)

    @router.get("/{name}", response_model=Document, summary=f"Read one {what.rstrip('s')}")
    def get_one(name: NameParam, view: ViewRequest = Depends(read_view)) -> Document:
        return catalogue.get(view.open(), kind, name)

    return router


schemas = _routes("schemas", "schemas", "schemas")
templates = _routes("templates", "templates", "templates")
masking = _routes("masking", "masking", "masking rules")

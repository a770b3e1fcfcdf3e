"""Versions (tags) and environments (branches): list; tag and promote are writes."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tdm.server.api.deps import READ_ERRORS, repository
from tdm.server.auth import Caller, reader
from tdm.server.models import EnvironmentItem, VersionItem
from tdm.server.services import history
from tdm.server.services.repository import Repository

versions = APIRouter(prefix="/versions", tags=["versions"], responses=READ_ERRORS)
environments = APIRouter(prefix="/environments", tags=["environments"], responses=READ_ERRORS)


@versions.get("", response_model=list[VersionItem], summary="List versions")
def list_versions(
    caller: Caller = Depends(reader), repo: Repository = Depends(repository)
) -> list[VersionItem]:
    """The tdm versions (tags vX, vX.Y, vX.Y.Z), newest first, with their datasets."""
    return history.list_versions(repo.project())


@environments.get("", response_model=list[EnvironmentItem], summary="List environments")
def list_environments(
    caller: Caller = Depends(reader), repo: Repository = Depends(repository)
) -> list[EnvironmentItem]:
    """The environments of tdm.yaml, their branches and the newest version each holds."""
    return history.list_environments(repo.project())

"""All v1 routers, mounted under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from tdm.server.api.v1.endpoints import catalogue, checks, datasets, health, history, writes

api_router = APIRouter()
for router in (
    health.router,
    catalogue.schemas,
    catalogue.templates,
    catalogue.masking,
    checks.router,
    datasets.router,
    history.versions,
    history.environments,
    writes.schemas,
    writes.templates,
    writes.masking,
    writes.datasets,
    writes.versions,
    writes.environments,
):
    api_router.include_router(router)

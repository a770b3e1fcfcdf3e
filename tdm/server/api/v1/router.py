"""All v1 routers, mounted under /api/v1."""

from __future__ import annotations

from tdm.server.api.v1.endpoints import catalogue, checks, datasets, health, history, writes

ROUTERS = (
    datasets.router,  # first: pages of records are the hot path, matched first
    health.router,
    catalogue.schemas,
    catalogue.templates,
    catalogue.masking,
    checks.router,
    history.versions,
    history.environments,
    writes.schemas,
    writes.templates,
    writes.masking,
    writes.datasets,
    writes.versions,
    writes.environments,
)

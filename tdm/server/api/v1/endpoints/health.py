"""GET /health: the server answers (no token needed)."""

from __future__ import annotations

from fastapi import APIRouter

from tdm._version import __version__
from tdm.server.models import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The server is up."""
    return Health(status="ok", version=__version__)

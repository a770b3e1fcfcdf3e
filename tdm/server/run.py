"""Running the app under uvicorn (``tdm serve``)."""

from __future__ import annotations

import uvicorn

from tdm.server.app import create_app
from tdm.server.settings import Settings


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM and stops cleanly)."""
    app = create_app(settings)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)

"""Running the app under uvicorn (``tdm serve``)."""

from __future__ import annotations

import uvicorn

from tdm.errors import UserError
from tdm.server.app import create_app
from tdm.server.settings import Settings


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM and stops cleanly)."""
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="info", access_log=False
    )
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        return  # uvicorn stopped cleanly, then passes the Ctrl-C on: a normal end
    except SystemExit:
        if server.started:
            raise
    if not server.started:  # uvicorn logged why (a port in use, an address not here)
        raise UserError(
            f"could not serve on {host}:{port} (uvicorn said why above); if the port is taken, "
            "pick another with --port"
        )

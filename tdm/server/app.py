"""The application factory: ``create_app(settings)`` -> a FastAPI (ASGI) app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from tdm._version import __version__
from tdm.project import Project
from tdm.server import errors
from tdm.server.api.v1.router import ROUTERS
from tdm.server.fastpath import RecordsFastPath
from tdm.server.limits import BodyLimit
from tdm.server.services import generation
from tdm.server.services.repository import BlobCache, Repository
from tdm.server.settings import Settings
from tdm.server.tokens import TokenStore

DESCRIPTION = """\
The REST API over one tdm repository: schemas, templates, masking rules and datasets
in git, versions as tags, environments as branches.  Writes commit to an environment's
branch in memory and never touch a working tree.  Authenticate with
`Authorization: Bearer TOKEN` (`tdm serve token create NAME --scope read|write|admin`).
"""


def create_app(settings: Settings) -> FastAPI:
    """A FastAPI app serving ``settings.root``."""
    project = Project.load(settings.root)  # fails early on a folder that is not a repository
    workers = _Lazy(generation.executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        workers.shutdown()

    app = FastAPI(
        lifespan=lifespan,
        title="tdm: test data management API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.repository = Repository(settings)
    app.state.tokens = TokenStore(settings.tokens_file)
    app.state.blobs = BlobCache()
    app.state.workers = workers
    app.state.project_name = project.config.name
    errors.install(app, settings.root)
    if settings.fast_path:  # innermost: CORS and the body limit apply to it too
        app.add_middleware(
            RecordsFastPath,
            repository=app.state.repository,
            cache=app.state.blobs,
            tokens=app.state.tokens,
        )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept"],
        )
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    for router in ROUTERS:  # each straight into the app: one level of routes to match
        app.include_router(router, prefix="/api/v1")
    return app


class _Lazy:
    """The worker processes of writes and generations, started by the first one."""

    def __init__(self, make: Callable[[], Executor]) -> None:
        self._make = make
        self._pool: Executor | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Executor:
        with self._lock:
            if self._pool is None:
                self._pool = self._make()
            return self._pool

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the worker (also after it died: the next generation starts a new one)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=wait, cancel_futures=True)
                self._pool = None

"""Helpers for the tests of ``tdm serve``: a committed repository with environment
branches, tokens of every scope, and an httpx client over the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from helpers import git, init_repo

from tdm.server.app import create_app
from tdm.server.settings import Settings
from tdm.server.tokens import TokenStore

BASE = "http://tdm.test/api/v1"


def served_repo(root: Path) -> Path:
    """The sample repository, committed on main, with branches env/dev and env/staging."""
    init_repo(root, sample=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "sample")
    git(root, "branch", "env/dev")
    git(root, "branch", "env/staging")
    return root


def make_tokens(path: Path) -> dict[str, str]:
    """Secrets by role: read, write, admin, dev-writer (write, dev only)."""
    store = TokenStore(path)
    return {
        "read": store.create("reader", "read")[1],
        "write": store.create("writer", "write")[1],
        "admin": store.create("admin", "admin")[1],
        "dev-writer": store.create("dev-writer", "write", ["dev"])[1],
    }


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url=BASE, timeout=120) as client,
    ):
        yield client

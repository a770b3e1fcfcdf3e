"""Database URLs of ``tdm load``: which ones tdm takes, and never a password inside one.

``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` and
``postgresql://user@host:port/dbname`` (also ``postgres://``, with libpq's query
parameters such as ``?sslmode=require``).  A password never sits in a URL (it would
land in shell history, tdm.yaml, logs and error messages): PostgreSQL takes it from
``PGPASSWORD``, ``~/.pgpass`` or the variable an environment's ``password_env`` names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tdm.errors import UserError

SCHEMES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}
PASSWORD_FIX = (
    "remove it from the URL and give it in PGPASSWORD, ~/.pgpass, or (for an environment) the "
    "variable named by password_env in tdm.yaml"
)


def has_password(url: str) -> bool:
    """True when the URL's user part carries a password (``user:secret@host``)."""
    _, sep, rest = url.partition("://")
    if not sep:
        return False
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    userinfo, at, _ = netloc.rpartition("@")
    return bool(at) and ":" in userinfo


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print."""
    if not has_password(url):
        return url
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, _, host = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}{slash}{path}"


@dataclass(frozen=True)
class DatabaseUrl:
    """A parsed URL; ``password`` (from password_env) never appears in its repr."""

    kind: Literal["sqlite", "postgresql"]
    url: str  # as given (never holds a password)
    path: Path | None = None  # SQLite
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        return str(self.path) if self.kind == "sqlite" else self.url


def parse(url: str, *, base: Path | None = None, password: str | None = None) -> DatabaseUrl:
    """Check and parse a database URL; a relative SQLite path is taken from ``base``
    (default: the current directory)."""
    if has_password(url):
        raise UserError(f"the database URL {redact(url)} holds a password: {PASSWORD_FIX}")
    scheme, sep, rest = url.partition("://")
    kind = SCHEMES.get(scheme.lower()) if sep else None
    if kind is None:
        shown = f"'{scheme}://'" if sep else f"'{url}' (no scheme)"
        raise UserError(
            f"unsupported database URL {shown}: tdm loads into sqlite:///PATH (e.g. "
            "sqlite:///test.db) or postgresql://USER@HOST[:PORT]/DBNAME"
        )
    if kind == "sqlite":
        if not rest.startswith("/") or not rest[1:]:
            raise UserError(
                f"'{url}' is not a SQLite URL tdm understands: write sqlite:///relative/path.db "
                "or sqlite:////absolute/path.db"
            )
        if "?" in rest:
            raise UserError(f"'{url}': SQLite URLs take no parameters")
        raw = Path(rest[1:])
        path = raw if raw.is_absolute() else (base or Path.cwd()) / raw
        return DatabaseUrl("sqlite", url, path=path)
    return DatabaseUrl("postgresql", url, password=password)

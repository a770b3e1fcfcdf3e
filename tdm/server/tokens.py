"""Bearer tokens of ``tdm serve``: created once, stored hashed outside the repository.

A token is ``tdm_`` and 43 random URL-safe characters (256 bits); the file keeps only
its SHA-256, its name, its scope and the environments it may touch.  A plain hash is
enough for a secret that long (nothing to guess), and it lets a request be checked
with one dictionary lookup.  This module needs no web framework: ``tdm serve token
create`` works without the ``server`` extra.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from tdm.errors import UserError
from tdm.fsutil import write_bytes_atomic
from tdm.models import check_name

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
PREFIX = "tdm_"
TOKENS_ENV = "TDM_TOKENS"


def default_tokens_file() -> Path:
    """``$TDM_TOKENS``, else ``$XDG_CONFIG_HOME/tdm/tokens`` (``~/.config/tdm/tokens``)."""
    named = os.environ.get(TOKENS_ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tdm" / "tokens"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Token:
    """What a token may do: its scope (read < write < admin) and, when not empty, the
    only environments it may name."""

    name: str
    scope: Scope
    environments: tuple[str, ...] = ()
    created: int = 0

    def allows(self, scope: Scope) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)

    def allows_environment(self, environment: str) -> bool:
        return not self.environments or environment in self.environments

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scope": self.scope,
            "environments": list(self.environments),
            "created": self.created,
        }


class TokenStore:
    """The token file: read again whenever it changed, so a token created while the
    server runs works at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Token] = {}

    def _load(self) -> dict[str, Token]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._by_hash = None, {}
            return self._by_hash
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return self._by_hash
        try:
            data = orjson.loads(self.path.read_bytes())
            tokens = {
                str(t["sha256"]): Token(
                    str(t["name"]),
                    t["scope"] if t["scope"] in SCOPES else "read",
                    tuple(str(e) for e in t.get("environments", [])),
                    int(t.get("created", 0)),
                )
                for t in data["tokens"]
            }
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise UserError(
                f"{self.path} is not a tdm token file; move it away and create tokens with "
                "`tdm serve token create NAME --scope read`"
            ) from None
        self._stamp, self._by_hash = stamp, tokens
        return tokens

    def tokens(self) -> list[Token]:
        return sorted(self._load().values(), key=lambda t: t.name)

    def verify(self, secret: str) -> Token | None:
        """The token whose secret this is, None for an unknown one."""
        if not secret.startswith(PREFIX):
            return None
        return self._load().get(digest(secret))

    def create(
        self, name: str, scope: Scope, environments: list[str] | None = None
    ) -> tuple[Token, str]:
        """A new token and its secret (shown once; only its hash is stored)."""
        try:
            check_name(name, "token")
        except ValueError as exc:
            raise UserError(str(exc)) from None
        if scope not in SCOPES:
            raise UserError(f"scope '{scope}' is not one of: {', '.join(SCOPES)}")
        envs = tuple(sorted(set(environments or [])))
        for env in envs:
            try:
                check_name(env, "environment")
            except ValueError as exc:
                raise UserError(str(exc)) from None
        current = self._load()
        if any(t.name == name for t in current.values()):
            raise UserError(
                f"a token named '{name}' already exists in {self.path}; pick another name"
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        token = Token(name, scope, envs, int(time.time()))
        rows = [
            {**t.to_json(), "sha256": h}
            for h, t in sorted(current.items(), key=lambda item: item[1].name)
        ]
        rows.append({**token.to_json(), "sha256": digest(secret)})
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_bytes_atomic(
            self.path,
            orjson.dumps({"version": 1, "tokens": rows}, option=orjson.OPT_INDENT_2) + b"\n",
        )
        os.chmod(self.path, 0o600)
        return token, secret


def check_outside(path: Path, repo_root: Path) -> None:
    """Tokens never live inside the repository (they would be one `git add` from a leak)."""
    if path.expanduser().resolve().is_relative_to(repo_root.resolve()):
        raise UserError(
            f"the token file {path} is inside the repository {repo_root}; keep it outside "
            f"(default: $XDG_CONFIG_HOME/tdm/tokens, or --tokens FILE / {TOKENS_ENV})"
        )

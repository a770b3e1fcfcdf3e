"""Bearer-token authentication: no token 401, a token without the scope or the
environment 403."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from tdm.errors import UserError
from tdm.server.errors import Forbidden, ServerError, Unauthorized, log
from tdm.server.tokens import Scope, Token, TokenStore

bearer = HTTPBearer(
    auto_error=False,
    description="A token made with `tdm serve token create NAME --scope read|write|admin`.",
)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the token's name is the author of the commits it makes."""

    token: Token

    @property
    def name(self) -> str:
        return self.token.name

    def check_environment(self, environment: str) -> None:
        if not self.token.allows_environment(environment):
            allowed = ", ".join(self.token.environments)
            raise Forbidden(
                f"token '{self.name}' is limited to the environment(s) {allowed}; "
                f"it cannot use '{environment}'"
            )


def authenticate(store: TokenStore, authorization: str | None, scope: Scope) -> Caller:
    """The caller of a request with this ``Authorization`` header, admitted for ``scope``."""
    kind, credentials = get_authorization_scheme_param(authorization)
    if not (authorization and kind and credentials) or kind.lower() != "bearer":
        raise Unauthorized(
            "no bearer token: send `Authorization: Bearer TOKEN` (make one with "
            "`tdm serve token create NAME --scope read`)"
        )
    try:
        token = store.verify(credentials)
    except UserError as exc:  # names a file of the server's: for its log, not the caller
        log.error("%s", exc)
        raise ServerError("the server cannot read its token file; its log says why") from None
    if token is None:
        raise Unauthorized("unknown or revoked token")
    if not token.allows(scope):
        raise Forbidden(f"token '{token.name}' has the scope '{token.scope}'; this needs '{scope}'")
    return Caller(token)


def require(scope: Scope) -> Callable[..., Awaitable[Caller]]:
    """A dependency that admits a token with at least ``scope``."""

    async def dependency(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> Caller:
        # `bearer` documents the scheme in OpenAPI; the header is read as it came
        return authenticate(request.app.state.tokens, request.headers.get("Authorization"), scope)

    return dependency


reader = require("read")
writer = require("write")
admin = require("admin")

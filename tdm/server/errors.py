"""Errors as the service brief has them: every error body is JSON with a ``detail``.

Services raise :class:`ApiError` subclasses; errors of tdm's core are translated
once, here.  A 500 says only that something went wrong: the traceback goes to the
server's log, never into a response.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tdm.errors import CheckFailed, TdmError

log = logging.getLogger("tdm.server")


class ApiError(Exception):
    status = 400

    def __init__(self, detail: str, findings: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.findings = findings

    def __reduce__(self) -> Any:  # raised in a worker process, answered by the server
        return (type(self), (self.detail, self.findings))


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooLarge(ApiError):
    status = 413


class ServerError(ApiError):
    """A problem of the server's own set-up; the details go to its log only."""

    status = 500


def body(detail: str, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"detail": detail}
    if findings is not None:
        out["findings"] = findings
    return out


def scrub(text: str, root: Path) -> str:
    """A core message without the server's absolute paths (the repository is ".")."""
    for base in {str(root), str(root.resolve())}:
        text = text.replace(base + "/", "").replace(base, ".")
    return text


def install(app: FastAPI, root: Path) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            body(scrub(exc.detail, root), exc.findings), status_code=exc.status, headers=headers
        )

    async def tdm_error(request: Request, exc: Exception) -> JSONResponse:
        # what escapes the services: bad input the core refused (a malformed file, a
        # name it cannot use), or a check that failed
        status = 409 if isinstance(exc, CheckFailed) else 400
        return JSONResponse(body(scrub(str(exc), root)), status_code=status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            body(detail), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        findings = [
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        first = findings[0] if findings else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"]) or "request"
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return JSONResponse(body(f"{where}: {first['msg']}{more}", findings), status_code=422)

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            body("internal server error; the server's log has the details"), status_code=500
        )

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(TdmError, tdm_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, internal)

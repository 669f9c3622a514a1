"""Every error the API returns, in OpenAI's shape: ``{"error": {message, type, param, code}}``.

habla's own errors map to a status here and nowhere else; validation errors become 400
(OpenAI's choice, where FastAPI would say 422); anything unexpected is logged and
answered with a generic 500 that reveals nothing. No stack trace ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from habla.core import errors as e

log = logging.getLogger(__name__)

# (status, OpenAI error type) per habla error class; the first match in MRO order wins.
_STATUS: list[tuple[type[e.HablaError], int, str]] = [
    (e.ContextLengthExceeded, 400, "invalid_request_error"),
    (e.InputTooLarge, 400, "invalid_request_error"),
    (e.InvalidRequest, 400, "invalid_request_error"),
    (e.UnknownModel, 404, "invalid_request_error"),
    (e.NotFound, 404, "invalid_request_error"),
    (e.Conflict, 409, "invalid_request_error"),
    (e.GuardBlocked, 400, "content_policy_violation"),
    (e.RateLimited, 429, "rate_limit_error"),
    (e.QuotaExceeded, 429, "insufficient_quota"),
    (e.PermissionDenied, 403, "permission_error"),
    (e.AuthError, 401, "authentication_error"),
    (e.UnsupportedFeature, 400, "invalid_request_error"),
    (e.BackendUnavailable, 503, "service_unavailable"),
    (e.BackendRejected, 502, "upstream_error"),
    (e.BackendError, 502, "upstream_error"),
    (e.ConfigError, 500, "server_error"),
]


def error_body(message: str, type_: str, *, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def status_of(exc: e.HablaError) -> tuple[int, str]:
    for cls, status, type_ in _STATUS:
        if isinstance(exc, cls):
            return status, type_
    return 500, "server_error"


def habla_error_response(exc: e.HablaError) -> JSONResponse:
    status, type_ = status_of(exc)
    headers: dict[str, str] = {}
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, int | float) and math.isfinite(retry_after):
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500:
        log.warning("request failed: %s: %s", type(exc).__name__, exc.message)
    body = error_body(exc.message, type_, param=exc.param, code=exc.code)
    return JSONResponse(body, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = exc.errors()
    if not problems:
        return "the request body is not valid", None
    first = problems[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON", None
    where = f" at '{param}'" if param else ""
    return f"invalid request{where}: {first.get('msg', 'bad value')}", param


def install_error_handlers(app: FastAPI) -> None:
    async def on_habla_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, e.HablaError)
        return habla_error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message, param = _validation_message(exc)
        body = error_body(message, "invalid_request_error", param=param, code="invalid_request")
        return JSONResponse(body, status_code=400)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(
            exc.status_code
        )
        body = error_body(str(exc.detail), type_, param=None, code=code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        body = error_body(
            "the server hit an unexpected error", "server_error", param=None, code=None
        )
        return JSONResponse(body, status_code=500)

    app.add_exception_handler(e.HablaError, on_habla_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)

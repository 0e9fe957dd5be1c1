"""One JSON error shape for every error: ``{ok, status, error, errors: [{type, loc, msg, input}], request_id}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from onereturn.errors import OneReturnError, ServiceBusy, TooManyRequests
from onereturn.logs import current_request_id

log = logging.getLogger(__name__)


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Build the canonical error body; its request id finds the request's log lines."""
    return {"ok": False, "status": status, "error": message, "errors": errors or [], "request_id": current_request_id()}


def _respond(
    status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(jsonable_encoder(error_body(status, message, errors)), status_code=status, headers=headers)


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OneReturnError)
    items = exc.errors or [{"type": exc.error_type, "loc": [], "msg": exc.message, "input": None}]
    response = _respond(exc.status_code, exc.message, items)
    if isinstance(exc, TooManyRequests | ServiceBusy):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    items = [
        {
            "type": e.get("type", "value_error"),
            "loc": list(e.get("loc", [])),
            "msg": e.get("msg", ""),
            "input": e.get("input"),
        }
        for e in exc.errors()
    ]
    message = "; ".join(f"{'.'.join(str(p) for p in i['loc'])}: {i['msg']}" for i in items)
    return _respond(422, message or "Invalid request", items)


def _allowed_methods(request: Request) -> str:
    """List every method the API serves at this path (the router names only the first route's)."""
    paths = request.app.openapi().get("paths", {})
    # As in OpenAPI, a concrete path (/api/agencies/import) wins over a template that also matches it.
    exact = paths.get(request.url.path)
    matching = (
        [exact] if exact else [item for path, item in paths.items() if compile_path(path)[0].match(request.url.path)]
    )
    return ", ".join(sorted({m.upper() for item in matching for m in item}))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        exc.headers = {**(exc.headers or {}), "Allow": _allowed_methods(request)}
    message = str(exc.detail)
    # Keep the exception's headers: a 405 must say which methods are allowed (Allow).
    items: list[dict[str, Any]] = [{"type": "http_error", "loc": [], "msg": message, "input": None}]
    return _respond(exc.status_code, message, items, headers=dict(exc.headers) if exc.headers else None)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("Unhandled error", exc_info=exc)
    return _respond(
        500,
        "Internal error; it has been logged",
        [{"type": "internal_error", "loc": [], "msg": "Internal error", "input": None}],
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error in the canonical shape."""
    app.add_exception_handler(OneReturnError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)

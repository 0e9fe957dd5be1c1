"""One JSON error shape for every error: ``{ok, status, error, errors: [{type, loc, msg, input}]}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from errors import OneReturnError, ServiceBusy, TooManyRequests

log = logging.getLogger(__name__)


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Build the canonical error body."""
    return {"ok": False, "status": status, "error": message, "errors": errors or []}


def _respond(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(jsonable_encoder(error_body(status, message, errors)), status_code=status)


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


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail)
    return _respond(exc.status_code, message, [{"type": "http_error", "loc": [], "msg": message, "input": None}])


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

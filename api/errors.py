"""One JSON error shape for every error: ``{ok, status, error, errors: [{type, loc, msg, input}], request_id}``.

Every error body is bounded whatever was sent: at most :data:`ITEMS` items (the rest counted), each
input, location part and message clipped, so a 2 MB field is not echoed back.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from onereturn.errors import OneReturnError, ServiceBusy, TooManyRequests
from onereturn.listing import clip
from onereturn.logs import current_request_id

log = logging.getLogger(__name__)

#: Error items in one body; the message counts the rest.
ITEMS = 20
#: The longest message of a body or an item.
MESSAGE_CHARS = 2000
#: The longest input echoed back (as text once it is longer), and the longest part of a location.
INPUT_CHARS = 200
LOC_CHARS = 100


def _bounded_input(value: Any) -> Any:
    """The input as sent when short; when long, its start as text and its length."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return clip(value, INPUT_CHARS)
    try:
        text = json.dumps(jsonable_encoder(value), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return value if len(text) <= INPUT_CHARS else clip(text, INPUT_CHARS)


def _bounded_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "type": clip(str(item.get("type", "value_error")), LOC_CHARS),
            "loc": [p if isinstance(p, int) else clip(str(p), LOC_CHARS) for p in list(item.get("loc") or [])[:10]],
            "msg": clip(str(item.get("msg", "")), MESSAGE_CHARS),
            "input": _bounded_input(item.get("input")),
        }
        for item in items[:ITEMS]
    ]


def error_body(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Build the canonical error body; its request id finds the request's log lines."""
    return {"ok": False, "status": status, "error": message, "errors": errors or [], "request_id": current_request_id()}


def _respond(
    status: int, message: str, errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    items = errors or []
    if len(items) > ITEMS:
        message = f"{message} ({len(items):,} errors; the first {ITEMS} are listed)"
    body = error_body(status, clip(message, MESSAGE_CHARS), _bounded_items(items))
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


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
    said = [f"{clip('.'.join(str(p) for p in i['loc']), LOC_CHARS)}: {clip(str(i['msg']), INPUT_CHARS)}" for i in items]
    message = "; ".join(said[:5]) + (f"; and {len(said) - 5:,} more" if len(said) > 5 else "")
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

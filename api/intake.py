"""Guard every request body before the application reads it: the key first, then the size while it streams.

FastAPI parses a multipart body (spooling files over 1 MiB to the temporary directory) before any
dependency runs, so neither the key check nor a size check inside a route can stop a large or
unauthenticated body from reaching the disk. This middleware sits in front of the application:

- on an upload route, the ``X-API-Key`` is checked (with the same throttle and audit as every route)
  before a single byte of the body is read; no key, or a wrong one, is answered 401 at once and the
  body is never read;
- every body is counted as it streams, with or without ``Content-Length`` (chunked), and the request
  is answered 413 as soon as it passes the limit, so no more than the limit (plus the form's
  envelope) is ever received, let alone written to disk.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import anyio
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import callrecord as trail
from api.auth import admit
from api.capacity import FAULTS, again_if_lost, database_fault, lost_connection
from api.errors import error_body
from onereturn.errors import OneReturnError

#: Routes that take an upload: their key is checked before the body is read.
UPLOAD_PATHS = ("/api/submissions",)
#: Methods that carry a body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Room for the multipart envelope (boundaries, part headers, form fields) around the file itself.
ENVELOPE = 64 * 1024


class BodyTooLarge(HTTPException):
    """The request body passed the limit while it was streaming."""


def _message(received: int, limit: int, declared: bool, setting: str = "ONERETURN_MAX_UPLOAD_BYTES") -> str:
    said = "is" if declared else "passed"
    return f"The upload {said} {received:,} bytes; the limit is {limit:,} ({setting})"


async def _reply(
    send: Send,
    status: int,
    message: str,
    kind: str,
    loc: list[str],
    value: Any,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps(error_body(status, message, [{"type": kind, "loc": loc, "msg": message, "input": value}]))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    # The body is left unread, so the connection cannot carry another request.
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


def _check_key(request: Request, key: str | None) -> None:
    """The route's own key check (throttled, and audited when refused), before any of the body is read; made
    once more on a fresh connection if the first lost its own, as a read is (api.capacity.RetryRead)."""
    again_if_lost(lambda: _admitted(request, key))


def _admitted(request: Request, key: str | None) -> None:
    with Session(request.app.state.engine) as session:
        try:
            admit(request, session, key)
        except Exception as exc:
            if not lost_connection(exc):
                trail.record_failure(request, session, None, exc)
            raise


def _route_of(routes: Iterable[Any], path: str, method: str) -> Any:
    for route in routes:
        if isinstance(route, APIRoute) and route.path == path and method in (route.methods or ()):
            return route
        inner = getattr(route, "original_router", None)
        found = _route_of(inner.routes, path, method) if inner is not None else None
        if found is not None:
            return found
    return None


def _routed(scope: Scope) -> Scope:
    """The scope with the route that will answer it, so a refusal is audited under its action (submission.upload)."""
    route = _route_of(scope["app"].router.routes, scope["path"].rstrip("/"), scope["method"])
    return scope if route is None else {**scope, "route": route}


class BodyGuard:
    """ASGI middleware: key before body on upload routes; the byte limit enforced while the body streams."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, tuple[int, str]] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.cap = limit + ENVELOPE
        #: Paths that take a larger file than an upload of figures (GIAS's register, about 60 MB): their limit and
        #: the setting that sets it.
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key and the declared length, then pass the request on with a counting receive."""
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        path = scope["path"].rstrip("/")
        limit, setting = self.larger.get(path, (self.limit, "ONERETURN_MAX_UPLOAD_BYTES"))
        # A page's visitor is known by the session's cookie, which the page itself checks: only the API's paths carry
        # the key this checks first.
        if path in UPLOAD_PATHS or (path in self.larger and path.startswith("/api/")):
            raw_key = headers.get(b"x-api-key")
            key = raw_key.decode("latin-1") if raw_key is not None else None
            try:
                await anyio.to_thread.run_sync(_check_key, Request(_routed(scope)), key)
            except OneReturnError as exc:
                wait = getattr(exc, "retry_after", None)
                extra = [] if wait is None else [(b"retry-after", str(wait).encode())]
                await _reply(send, exc.status_code, exc.message, exc.error_type, ["header", "X-API-Key"], None, extra)
                return
            except FAULTS as exc:
                # Outside the app's error handlers: answered here as they answer it (503, never 500).
                kind, message = database_fault(exc)
                wait = str(scope["app"].state.settings.retry_after_seconds).encode()
                await _reply(send, 503, message, kind, [], None, [(b"retry-after", wait)])
                return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit + ENVELOPE:
            message = _message(int(length), limit, declared=True, setting=setting)
            await _reply(send, 413, message, "payload_too_large", ["header", "content-length"], int(length))
            return
        await self.app(scope, self._counting(receive, limit, setting), send)

    def _counting(self, receive: Receive, limit: int, setting: str) -> Receive:
        received = 0
        cap = limit + ENVELOPE

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Raised inside the body parser, which closes (and so deletes) what it spooled so far;
                    # FastAPI passes an HTTPException through to the error handlers unchanged.
                    raise BodyTooLarge(413, _message(received, limit, declared=False, setting=setting))
            return message

        return counted

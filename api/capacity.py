"""Bounded work per worker: request threads matched to the connection pool, a few upload slots, and a
503 with Retry-After (never a 500) when every slot, connection or the SQLite writer is taken."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from onereturn.db import lost_connection as lost_connection  # the service answers by it; pages and intake ask here
from onereturn.errors import ServiceBusy
from onereturn.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


#: Methods whose call changes nothing, so one that lost its database connection is simply made again.
READS = frozenset({"GET", "HEAD"})
#: Set in a request's scope when its answer is to be thrown away and the request made once more (see RetryRead).
RETRY = "onereturn.retry_read"
RETRIED = "onereturn.retried_read"


def install(
    app: FastAPI, settings: Settings, page: Callable[[Request, str], Response | None] = lambda _request, _retry: None
) -> None:
    """Answer exhaustion and every database fault with 503 and Retry-After, never 500; a read that lost its
    connection is made again once (the upload slots are made when the app starts).

    ``page`` gives a browser's page its answer (the pages are above this module, so they are handed in), or None
    for the API's callers."""
    retry = str(settings.retry_after_seconds)

    async def busy(request: Request, exc: Exception) -> Response:
        if will_retry(request, exc):
            request.scope[RETRY] = True
        kind, message = database_fault(exc)
        # A browser gets a page in the service's layout; the API's callers keep the JSON error shape.
        answer = page(request, retry)
        if answer is not None:
            return answer
        body = error_body(503, message, [{"type": kind, "loc": [], "msg": message, "input": None}])
        return JSONResponse(body, status_code=503, headers={"Retry-After": retry})

    # The bulk paths use the driver directly, so its own errors can arrive unwrapped.
    for fault in FAULTS:
        app.add_exception_handler(fault, busy)
    app.add_middleware(RetryRead)


#: Every database fault the service answers 503 rather than 500: each passes if the caller tries again later.
FAULTS = (
    PoolTimeout,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def database_fault(exc: BaseException) -> tuple[str, str]:
    """The error type and message of a 503 answering a database fault (one of FAULTS), logged as it deserves."""
    if lost_connection(exc):
        log.warning("the database connection was lost: %s", _first_line(exc))
        return "connection_lost", (
            "The database connection was lost before this was done; send it again. A change is stored whole or "
            "not at all, and an upload that was stored is answered as a duplicate when sent again"
        )
    if isinstance(exc, PoolTimeout) or _is_busy(exc):
        return "service_busy", "The service is busy (no database connection is free); try again shortly"
    # Not a fault of the request: the store could not do it now (a full disk, a server fault), so 503, not 500.
    log.error("Database error", exc_info=exc)
    return "database_unavailable", "The database could not do this now; it has been logged, try again later"


def again_if_lost(call: Callable[[], T], *, first: Callable[[], None] | None = None) -> T:
    """Run ``call``; if it lost its database connection, run ``first`` (if any) and then ``call`` once more, on a
    fresh connection. Only for work that is safe to do twice: a read, or a write that failed whole."""
    try:
        return call()
    except FAULTS as exc:
        if not lost_connection(exc):
            raise
        log.warning("the database connection was lost; trying once more on a fresh one")
    if first is not None:
        first()
    return call()


def will_retry(request: Request, exc: BaseException) -> bool:
    """Whether the request is a read, not yet made again, that lost its connection: RetryRead makes it again."""
    return request.method in READS and RETRIED not in request.scope and lost_connection(exc)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class RetryRead:
    """ASGI middleware: a read whose database connection was lost is made once more, on a fresh connection.

    A read changes nothing, so making it again is safe; the pool drops its connections once one is found lost,
    and the next one given out is checked first (``pool_pre_ping``). The first answer, the 503 the error handler
    made, is held back and thrown away; a read lost twice is answered with that 503.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; if the error handler marked it, discard its answer and make it again once."""
        if scope["type"] != "http" or scope["method"] not in READS:
            await self.app(scope, receive, send)
            return
        first = dict(scope)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            if scope.get(RETRY):
                held.append(message)
            else:
                await send(message)

        await self.app(scope, receive, hold)
        if not scope.get(RETRY):
            return
        again = {**first, RETRIED: True}
        await self.app(again, _no_body, send)


async def _no_body() -> Message:
    # A read has no body; one made again is given none rather than wait on a request already read.
    return {"type": "http.request", "body": b"", "more_body": False}


#: PostgreSQL states that pass if the client tries again: no connection slot free (for the server, a role or a
#: database), the server starting or stopping, a deadlock or serialisation failure that rolled the request back.
_RETRYABLE_STATES = frozenset({"53300", "57P03", "40P01", "40001"})


def _is_busy(exc: BaseException) -> bool:
    cause = exc.orig if isinstance(exc, OperationalError) else exc
    if getattr(cause, "sqlstate", None) in _RETRYABLE_STATES:
        return True
    text = str(cause).lower()
    return "database is locked" in text or "database is busy" in text or "too many connections" in text


async def start(app: FastAPI, settings: Settings) -> None:
    """Run at most ``request_threads`` sync requests at once (so the pool has a connection for each); make the upload slots."""
    app.state.upload_slots = anyio.Semaphore(settings.upload_slots)
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads


async def upload_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the worker's upload slots for the request, or answer 503 when none frees in time.

    The wait is on the event loop, not in a request thread, so queued uploads never starve pulls of threads.
    """
    settings: Settings = request.app.state.settings
    slots: anyio.Semaphore | None = getattr(request.app.state, "upload_slots", None)
    if slots is None:
        # An app served without its start-up (a bare test client) makes them on first use, on the event loop.
        slots = request.app.state.upload_slots = anyio.Semaphore(settings.upload_slots)
    started = time.perf_counter()
    try:
        slots.acquire_nowait()
    except anyio.WouldBlock:
        acquired = False
        with anyio.move_on_after(settings.upload_wait_seconds):
            await slots.acquire()
            acquired = True
        if not acquired:
            raise ServiceBusy(
                f"{settings.upload_slots} upload(s) are being processed; nothing was received, send it again in "
                f"{settings.retry_after_seconds} s",
                retry_after=settings.retry_after_seconds,
            ) from None
    # Told to the client (Server-Timing), so a slow upload says whether it queued or was slow to process.
    request.state.upload_slot_wait = time.perf_counter() - started
    try:
        yield
    finally:
        slots.release()


UploadSlot = Annotated[None, Depends(upload_slot)]


def upload_timing(request: Request, processing: float) -> dict[str, str]:
    """The Server-Timing header of an upload's answer: how long it waited for a slot and how long it was processed."""
    waited = float(getattr(request.state, "upload_slot_wait", 0.0))
    return {
        "Server-Timing": f'slot;dur={waited * 1000:.1f};desc="Waiting for an upload slot", '
        f'process;dur={processing * 1000:.1f};desc="Reading the file then validating and storing its figures"'
    }

"""Bounded work per worker: request threads matched to the connection pool, a few upload slots, and a
503 with Retry-After (never a 500) when every slot, connection or the SQLite writer is taken."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from api.errors import error_body
from onereturn.errors import ServiceBusy
from onereturn.settings import Settings

log = logging.getLogger(__name__)


def install(app: FastAPI, settings: Settings) -> None:
    """Answer exhaustion with 503 and Retry-After (the upload slots are made when the app starts)."""
    retry = str(settings.retry_after_seconds)

    async def busy(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, OperationalError | sqlite3.OperationalError) and not _is_busy(exc):
            log.exception("Unhandled database error", exc_info=exc)
            failed = "Internal error; it has been logged"
            return JSONResponse(
                error_body(500, failed, [{"type": "internal_error", "loc": [], "msg": failed, "input": None}]),
                status_code=500,
            )
        message = "The service is busy (no database connection is free); try again shortly"
        body = error_body(503, message, [{"type": "service_busy", "loc": [], "msg": message, "input": None}])
        return JSONResponse(body, status_code=503, headers={"Retry-After": retry})

    app.add_exception_handler(PoolTimeout, busy)
    app.add_exception_handler(OperationalError, busy)
    # The bulk paths use the driver directly, so its own "database is locked" can arrive unwrapped.
    app.add_exception_handler(sqlite3.OperationalError, busy)


#: PostgreSQL states that pass if the client tries again: no connection slot free (for the server, a role or a
#: database), the server starting or stopping, a deadlock or serialisation failure that rolled the request back.
_RETRYABLE_STATES = frozenset({"53300", "57P03", "40P01", "40001"})


def _is_busy(exc: Exception) -> bool:
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

"""Dependencies shared by the routes: the database session."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlmodel import Session

from onereturn.audittrail import AuditEvent
from onereturn.db import commit_verified

Made = Callable[[Session], bool]


def _end(session: Session, *, commit: bool, made: Made | None = None) -> None:
    try:
        if commit and made is not None:
            commit_verified(session, made)
        elif commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def _made(request: Request) -> Made | None:
    """How to tell, should the commit's answer be lost with its connection, whether the call's change was made."""
    if getattr(request.state, "audit_stored_with_change", False):
        # The change and its event were committed by the service already; this session held neither.
        return lambda _session: True
    event_id = getattr(request.state, "audit_event_id", None)
    if event_id is None:
        return None
    # The call's audit event is committed in the same transaction as its change: one is stored only with the other.
    return lambda session: session.get(AuditEvent, event_id) is not None


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session on the app's engine, committed on success and rolled back on error."""
    # Made on the event loop (a session opens no connection until it is used) and ended in one thread
    # hop: as a sync dependency its start and its end each took a hop of their own, on every request.
    session = Session(request.app.state.engine)
    try:
        yield session
    except BaseException:
        await _ended(session, commit=False)
        raise
    await _ended(session, commit=True, made=_made(request))


async def _ended(session: Session, *, commit: bool, made: Made | None = None) -> None:
    # Shielded, so a cancelled request still gives its connection back; outside the request threads'
    # limiter (as FastAPI ends sync dependencies), so a full pool of request threads cannot keep it waiting.
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(
            functools.partial(_end, session, commit=commit, made=made), limiter=anyio.CapacityLimiter(1)
        )


#: Ended with the route function, before the answer is sent (FastAPI's default, "request", ends it after): a
#: success answer then means the change is committed, and a commit that fails is answered as the error it is.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

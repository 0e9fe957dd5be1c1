"""Answers kept for the rest of one database transaction, and forgotten as soon as it writes or ends.

A page asks the same question of the store many times (what an agency owes for a period, the catalogue's
indicators); within one transaction that reads, the answer cannot change. Anything the session writes (a change
not yet flushed, a flush, an INSERT, UPDATE or DELETE statement) and the end of its transaction forget every
answer kept on it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")
_KEPT = "onereturn.memo"


def within_transaction(session: Session, key: Hashable, make: Callable[[], T]) -> T:
    """Answer ``key`` from what this session's transaction already found, or by ``make`` (then kept)."""
    if session.new or session.dirty or session.deleted:
        # Changes not yet flushed: the answer is read again (the read flushes them first, as a query does).
        forget(session)
    kept: dict[Hashable, Any] = session.info.setdefault(_KEPT, {})
    if key in kept:
        return kept[key]  # type: ignore[no-any-return]
    value = make()
    # ``make`` may itself have written (and so forgotten what was kept): keep the answer in the current dict.
    session.info.setdefault(_KEPT, {})[key] = value
    return value


def forget(session: Session) -> None:
    """Forget every answer kept on the session."""
    session.info.pop(_KEPT, None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context: Any) -> None:
    forget(session)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, _transaction: Any) -> None:
    # A commit, a rollback, a savepoint released or rolled back, or the session closed.
    forget(session)


@event.listens_for(Session, "do_orm_execute")
def _statement(state: ORMExecuteState) -> None:
    if not state.is_select:
        forget(state.session)

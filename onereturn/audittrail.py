"""The audit trail: who did what to which object, when, from where, and how it ended.

Events are recorded by the front doors (the API and the command line), never by the service
functions below them, so each floor keeps importing only downward. A key itself is never
recorded: only the visible prefix of a key the store already knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Column, DateTime, func, insert
from sqlmodel import Field, Session, SQLModel, col, select

Outcome = Literal["ok", "refused", "rejected", "not_found", "error"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "refused", "rejected", "not_found", "error")


class AuditEvent(SQLModel, table=True):
    """One recorded action."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    principal: str = Field(max_length=256)
    role: str | None = Field(default=None, max_length=16)
    key_prefix: str | None = Field(default=None, max_length=16, index=True)
    action: str = Field(max_length=64, index=True)
    object: str = Field(default="", max_length=512)
    client: str = Field(default="", max_length=64)
    outcome: str = Field(max_length=16, index=True)
    status: int | None = None
    detail: str = Field(default="", max_length=512)


def outcome_of(status: int) -> Outcome:
    """Name the outcome of an HTTP status."""
    if status in (401, 403, 429):
        return "refused"
    if status == 404:
        return "not_found"
    if status >= 500:
        return "error"
    if status >= 400:
        return "rejected"
    return "ok"


def event_values(
    *,
    principal: str,
    action: str,
    outcome: str,
    object: str = "",
    client: str = "",
    role: str | None = None,
    key_prefix: str | None = None,
    status: int | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one event, each cut to its column's length."""
    return {
        "at": at or datetime.now(UTC),
        "principal": principal[:256],
        "role": role,
        "key_prefix": key_prefix,
        "action": action[:64],
        "object": object[:512],
        "client": client[:64],
        "outcome": outcome,
        "status": status,
        "detail": detail[:512],
    }


def record(session: Session, **values: Any) -> AuditEvent:
    """Add one event to the session (the caller commits); the arguments are those of ``event_values``."""
    event = AuditEvent(**event_values(**values))
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, batch: list[dict[str, Any]]) -> None:
    """Insert many events in one statement (the caller commits): a pull's event costs no ORM flush of its own."""
    if batch:
        session.execute(insert(AuditEvent), [event_values(**values) for values in batch])


@dataclass(frozen=True)
class AuditFilter:
    """What to select from the trail; every field is optional."""

    principal: str | None = None
    key_prefix: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None


def events(session: Session, where: AuditFilter, *, limit: int = 100, offset: int = 0) -> tuple[list[AuditEvent], int]:
    """Return one page of events matching the filter, newest first, and how many match in all."""
    stmt = select(AuditEvent)
    if where.principal:
        stmt = stmt.where(col(AuditEvent.principal).contains(where.principal))
    if where.key_prefix:
        stmt = stmt.where(col(AuditEvent.key_prefix).startswith(where.key_prefix, autoescape=True))
    if where.action:
        # "key" selects key.create, key.revoke ...; "key.create" only that action.
        stmt = stmt.where(
            (col(AuditEvent.action) == where.action)
            | col(AuditEvent.action).startswith(where.action + ".", autoescape=True)
        )
    if where.since:
        stmt = stmt.where(col(AuditEvent.at) >= where.since)
    if where.until:
        stmt = stmt.where(col(AuditEvent.at) < where.until)
    if where.outcome:
        stmt = stmt.where(AuditEvent.outcome == where.outcome)
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    # By the instant of the call: the events of reads are written in batches, after calls made since.
    newest_first = (col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
    rows = session.execute(stmt.order_by(*newest_first).limit(limit).offset(offset)).scalars()
    return list(rows), total

"""Upload leases: the worker processing an upload renews a lease on it; only an upload whose lease has run
out (its worker stopped) is marked interrupted, so a worker starting never cuts off another's upload."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Engine, or_, update
from sqlmodel import Session, col, select

from indicators.store.models import Submission

log = logging.getLogger(__name__)

#: Statuses of an upload a worker is still processing.
UNFINISHED = ("received", "storing")
_STARTED = datetime.now().strftime("%Y%m%dT%H%M%S")


def worker_id() -> str:
    """Name this process (host, pid and when it started, so a reused pid is another worker)."""
    return f"{process_prefix(os.getpid())}{_STARTED}"[:128]


def process_prefix(pid: int) -> str:
    """How the names of the workers of process ``pid`` on this host begin."""
    return f"{socket.gethostname()}:{pid}:"


def expiry(seconds: float, now: datetime | None = None) -> datetime:
    """When a lease taken or renewed now runs out."""
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


def _mine(submission_id: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions of an upload this worker holds and has not finished."""
    return (
        col(Submission.id) == submission_id,
        col(Submission.lease_owner) == worker_id(),
        col(Submission.status).in_(UNFINISHED),
    )


def mine(session: Session, submission_id: int) -> bool:
    """Whether this worker still holds the unfinished upload (read in the caller's transaction)."""
    return session.execute(select(Submission.id).where(*_mine(submission_id))).first() is not None


def renew(engine: Engine, submission_id: int, seconds: float) -> bool:
    """Extend this worker's lease on an unfinished upload; False when it is no longer this worker's to renew."""
    with Session(engine) as session:
        result = session.execute(update(Submission).where(*_mine(submission_id)).values(lease_until=expiry(seconds)))
        session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


@contextmanager
def held(engine: Engine, submission_id: int, seconds: float) -> Iterator[None]:
    """Keep renewing this worker's lease on an upload while the block runs (a renewal every quarter lease)."""
    stop = threading.Event()

    def keep() -> None:
        while not stop.wait(seconds / 4):
            try:
                if not renew(engine, submission_id, seconds):
                    return
            except Exception:
                # A busy or unreachable store: the next renewal tries again, well before the lease runs out.
                log.warning("could not renew the lease on submission %s", submission_id, exc_info=True)

    thread = threading.Thread(target=keep, name=f"lease-{submission_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=seconds)


def claim(engine: Engine, submission_id: int, *, kind: str, seconds: float) -> Submission | None:
    """Take up for this worker an upload of ``kind`` that no live worker holds (unfinished with its lease free or run
    out, or interrupted), counting the attempt; None when another worker has it or it is finished."""
    now = datetime.now(UTC)
    me = worker_id()
    free = or_(
        col(Submission.lease_owner).in_(("", me)),
        col(Submission.lease_until).is_(None),
        col(Submission.lease_until) < now,
    )
    takeable = or_(col(Submission.status).in_(UNFINISHED) & free, col(Submission.status) == "interrupted")
    with Session(engine, expire_on_commit=False) as session:
        taken = session.execute(
            update(Submission)
            .where(col(Submission.id) == submission_id, col(Submission.kind) == kind, takeable)
            .values(
                status="received",
                lease_owner=me,
                lease_until=expiry(seconds),
                attempts=Submission.attempts + 1,
            )
        )
        session.commit()
        if not taken.rowcount:  # type: ignore[attr-defined]
            return None
        return session.get(Submission, submission_id)


def still_held(engine: Engine, submission_id: int, **values: object) -> bool:
    """Write ``values`` (the stage an upload reached) while this worker still holds the unfinished upload; False,
    writing nothing, once another worker has it or it has ended."""
    with Session(engine) as session:
        moved = session.execute(update(Submission).where(*_mine(submission_id)).values(**values))
        session.commit()
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def mark_expired(session: Session, now: datetime | None = None, *, only: Iterable[ColumnElement[bool]] = ()) -> int:
    """Mark unfinished uploads whose lease has run out (their worker is gone) as interrupted, those ``only`` names
    where given (a way's own); return how many."""
    now = now or datetime.now(UTC)
    expired = or_(col(Submission.lease_until).is_(None), col(Submission.lease_until) < now)
    rows = session.execute(
        select(Submission.id, Submission.lease_owner).where(col(Submission.status).in_(UNFINISHED), expired, *only)
    ).all()
    marked = 0
    for submission_id, owner in rows:
        who = f"its worker ({owner})" if owner else "its worker"
        message = (
            f"processing was interrupted: {who} stopped before finishing, and nothing of it was stored; the file is "
            f"kept and can be run again (onereturn submissions reprocess {submission_id}) or uploaded again"
        )
        # The same conditions again: a lease renewed since the read above is not cut off.
        result = session.execute(
            update(Submission)
            .where(col(Submission.id) == submission_id, col(Submission.status).in_(UNFINISHED), expired)
            .values(status="interrupted", message=message, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        marked += int(result.rowcount)  # type: ignore[attr-defined]
    return marked


def cut_off_by_stop(engine: Engine, *, owners: Iterable[str] = (), ids: Iterable[int] = ()) -> list[int]:
    """Mark the unfinished uploads a stop cut off (held by a worker named ``owners``, or whose name starts so,
    or handed out as ``ids`` and never run) as interrupted at once, so the next start takes them up without
    waiting for their lease; return their ids."""
    owners, ids = list(owners), list(ids)
    if not owners and not ids:
        return []
    now = datetime.now(UTC)
    with Session(engine) as session:
        whose = or_(
            *(col(Submission.lease_owner).startswith(o, autoescape=True) for o in owners), col(Submission.id).in_(ids)
        )
        found = session.execute(
            select(Submission.id).where(col(Submission.status).in_(UNFINISHED), whose).order_by(col(Submission.id))
        ).scalars()
        cut = [int(i) for i in found]
        for submission_id in cut:
            message = (
                "processing was cut off when the service stopped, and nothing of it was stored; a record-level "
                "upload is taken up again when the service next starts, and any upload can be run again "
                f"(onereturn submissions reprocess {submission_id}) or uploaded again"
            )
            session.execute(
                update(Submission)
                .where(col(Submission.id) == submission_id, col(Submission.status).in_(UNFINISHED))
                .values(status="interrupted", message=message, finished_at=now, lease_until=now)
                .execution_options(synchronize_session=False)
            )
        session.commit()
    if cut:
        log.warning("the stop cut off upload(s) %s; they are marked interrupted", cut)
    return cut


def release_on_stop(engine: Engine, *, owners: Iterable[str] = (), ids: Iterable[int] = ()) -> list[int]:
    """At a stop: cut off what this process (and ``owners``, ``ids``) still held; a store out of reach is logged,
    its uploads then marked interrupted once their lease runs out, as before."""
    try:
        return cut_off_by_stop(engine, owners=[worker_id(), *owners], ids=ids)
    except Exception:
        log.warning(
            "could not mark the uploads the stop cut off; they are taken up once their lease runs out", exc_info=True
        )
        return []

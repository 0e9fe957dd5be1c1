"""Upload leases: the worker processing an upload renews a lease on it; only an upload whose lease has run
out (its worker stopped) is marked interrupted, so a worker starting never cuts off another's upload."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from indicators.models import Submission

log = logging.getLogger(__name__)

#: Statuses of an upload a worker is still processing.
UNFINISHED = ("received", "storing")
_STARTED = datetime.now().strftime("%Y%m%dT%H%M%S")


def worker_id() -> str:
    """Name this process (host, pid and when it started, so a reused pid is another worker)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_STARTED}"[:128]


def expiry(seconds: float, now: datetime | None = None) -> datetime:
    """When a lease taken or renewed now runs out."""
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


def renew(engine: Engine, submission_id: int, seconds: float) -> bool:
    """Extend this worker's lease on an unfinished upload; False when it is no longer this worker's to renew."""
    with Session(engine) as session:
        result = session.execute(
            update(Submission)
            .where(
                col(Submission.id) == submission_id,
                col(Submission.lease_owner) == worker_id(),
                col(Submission.status).in_(UNFINISHED),
            )
            .values(lease_until=expiry(seconds))
        )
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


def mark_expired(session: Session, now: datetime | None = None) -> int:
    """Mark unfinished uploads whose lease has run out (their worker is gone) as interrupted; return how many."""
    now = now or datetime.now(UTC)
    expired = or_(col(Submission.lease_until).is_(None), col(Submission.lease_until) < now)
    rows = session.execute(
        select(Submission.id, Submission.lease_owner).where(col(Submission.status).in_(UNFINISHED), expired)
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

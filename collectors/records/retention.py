"""Retention of record-level uploads: raw files and child-level rows go after the operator's period; figures stay.
The kept file of an agency's file of figures that stored nothing goes with them.

After ``ONERETURN_RECORDS_RETENTION_DAYS`` (90 by default) from receipt, a finished record-level upload
loses its encrypted raw files and every child-level row it left (``record_child``, ``record_problem``,
``record_lineage``); its submission (status, counts, the report's problems, which name no child) and the
figures derived from it are kept. ``onereturn records purge`` and the scheduler's daily job run it, through
``collectors.retention``, with the other rooms' children's data of the same age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, or_, update
from sqlmodel import Session, col, select

from collectors.door import lease
from collectors.door.head import still_named
from collectors.records.models import RecordChild, RecordLineage, RecordProblem
from indicators.store.models import FIGURES_KIND, RECORDS_KIND, Submission
from onereturn import keptfiles
from onereturn.settings import Settings
from onereturn.workspace import clear_left


@dataclass(frozen=True)
class Purged:
    """What a purge deleted: uploads purged, raw files removed, child-level rows deleted, and files left in the clear
    by a stopped process (``onereturn.workspace``)."""

    submissions: int
    files: int
    rows: int
    left: int = 0


def purge_uploads(engine: Engine, settings: Settings, *, now: datetime | None = None) -> Purged:
    """Delete the raw files and child-level rows of record-level uploads received before the retention period."""
    now = now or datetime.now(UTC)
    # What a stopped process left in the clear goes first, whatever the retention period.
    left = clear_left(settings)
    cutoff = now - timedelta(days=settings.records_retention_days)
    with Session(engine) as session:
        due = session.execute(
            select(Submission.id, Submission.raw_path).where(
                or_(
                    col(Submission.kind) == RECORDS_KIND,
                    # A file of figures refused with nothing stored could be any file, a child's record among
                    # them: it goes with the records (one refused whole went as its report was written).
                    and_(
                        col(Submission.kind) == FIGURES_KIND,
                        col(Submission.status) == "rejected",
                        col(Submission.rows_accepted) == 0,
                    ),
                ),
                col(Submission.purged_at).is_(None),
                col(Submission.received_at) < cutoff,
                col(Submission.status).not_in(lease.UNFINISHED),
            )
        ).all()
    submissions = files = rows = 0
    for submission_id, raw in due:
        with Session(engine) as session:
            for model in (RecordChild, RecordProblem, RecordLineage):
                deleted = session.execute(delete(model).where(col(model.submission_id) == submission_id))
                rows += int(deleted.rowcount)  # type: ignore[attr-defined]
            session.execute(update(Submission).where(col(Submission.id) == submission_id).values(purged_at=now))
            # The same files received again within the period are kept for that upload (named alike, or by an
            # earlier release's path that ends in the same name).
            shared = still_named(session, submission_id, raw)
            session.commit()
        submissions += 1
        if raw and not shared:
            files += min(1, keptfiles.forget(engine, settings, raw))
    return Purged(submissions, files, rows, left)

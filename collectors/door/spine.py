"""What every upload shares once its own reading is done: the outcome, the cut-off, the failure reason, the
repeat check and the storing tail (validated figures stored, queries held, the submission's outcome recorded).

A keyed template or file of figures (``collectors.figures.service``), a council's record-level files
(``collectors.records.service``) and a publisher's release (``collectors.published.intake``) read their input
each in their own way, then all end here: what each keeps besides its figures it hands the tail as a hook
(:class:`Alongside`), so the tail never calls back into any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Engine, delete, func, update
from sqlmodel import Session, col, select

from collectors.checks.checked import Validation
from collectors.problems import write_problems
from collectors.queries import hold_figures, supersede_held, upload_status
from collectors.store import current_for_keys, split_changes, storing, write_figures
from indicators.store.models import Submission, SubmissionProblem
from mappings.signoff.reopen import reopen_for_upload
from onereturn import audittrail, db

CUT_OFF = (
    "was marked interrupted while this worker processed it (its lease ran out), so nothing of it was stored; "
    "send the file again"
)


#: The audit event of the upload in hand, from the door that took it (who, the action, from where, and the object
#: with ``{id}`` for the submission's id): recorded in the transaction that stores the upload's outcome.
_AUDIT: ContextVar[Mapping[str, Any] | None] = ContextVar("upload_audit", default=None)
#: Outcomes a caller is answered with as stored (a rejection is stored too: its report).
_STORED = ("accepted", "queried", "partially_accepted", "rejected")


@contextmanager
def audited(event: Mapping[str, Any] | None) -> Iterator[None]:
    """Record ``event`` (``audittrail.event_values``' arguments but outcome, status and detail) with the outcome of
    the upload processed in the block, in the same transaction: both are stored or neither is."""
    token = _AUDIT.set(event)
    try:
        yield
    finally:
        _AUDIT.reset(token)


def _audit(
    session: Session,
    submission: Submission,
    problems: pl.DataFrame,
    status: str,
    message: str,
    named: Callable[[], int | None] | None = None,
) -> None:
    event = _AUDIT.get()
    if event is None or status not in _STORED:
        return
    rejected = status == "rejected"
    # As the API answers it: a file of a kind the service does not read is 415, any other rejection 422.
    unsupported = rejected and "rule" in problems.columns and bool((problems["rule"] == "unsupported_file").any())
    object_id = named() if named is not None else submission.id
    audittrail.record(
        session,
        **{**event, "object": str(event.get("object", "")).replace("{id}", str(object_id))},
        outcome="rejected" if rejected else "ok",
        status=(415 if unsupported else 422) if rejected else 201,
        detail=message,
    )


def _outcome_stored(submission_id: int, status: str) -> Callable[[Session], bool]:
    """Whether an upload's outcome ``status`` is stored: asked when the commit storing it lost its answer."""
    query = select(Submission.status).where(col(Submission.id) == submission_id)
    return lambda session: session.execute(query).scalar_one_or_none() == status


@dataclass
class Outcome:
    """What became of an upload: its submission (None for a dry run) and its report."""

    submission: Submission | None
    validation: Validation | None
    duplicate: bool = False
    problems: pl.DataFrame | None = None


class CutOff(Exception):
    """The upload's lease ran out and it was marked interrupted or taken over: this worker stores nothing of it."""

    def __init__(self, message: str = CUT_OFF) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Stored:
    """What the storing tail made of the accepted figures."""

    accepted: int
    new: int
    revised: int
    unchanged: int
    held: int
    status: str
    #: The commit's answer was lost with its connection and the outcome found stored: the session's objects were
    #: rolled back, so the caller reads again what it needs (``db.commit_verified``).
    asked_after: bool = False


@dataclass(frozen=True)
class Alongside:
    """How one way in stores through the tail, and what it keeps besides its figures in the same transaction: the
    hook the tail is given (the defaults are an agency's upload of figures)."""

    #: Whether this worker still holds the upload, asked under the write lock before anything is written.
    still_mine: Callable[[Session], bool] | None = None
    #: Writes what the way in keeps besides the figures (a record-level upload's child rows, a publisher's release
    #: and its figures), once the figures are written and before the outcome is recorded.
    write: Callable[[Session, Stored], None] | None = None
    #: The figures whose giving closes earlier open queries on them (by default the accepted figures).
    closes: pl.DataFrame | None = None
    #: When the figures are recorded (by default, as they are written).
    recorded_at: datetime | None = None
    #: Whether an outcome that stores no figure of its own and holds none is accepted rather than rejected (a
    #: publisher's release whose figures all sit beside another body's, or fall outside the geography).
    accepted_if_empty: bool = False
    #: What ``{id}`` names in the audit event's object (by default the submission's id), asked once ``write`` ran.
    audit_id: Callable[[], int | None] | None = None
    #: How a commit whose answer was lost is asked after (by default: the outcome's status is stored).
    committed: Callable[[Session], bool] | None = None


def failure_reason(exc: BaseException, *, quote: bool = True) -> str:
    """Say in a sentence what went wrong, for the submission's message (never a traceback; ``quote`` the error's text)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        return "the process was stopped before it finished"
    if isinstance(exc, OperationalError):
        return "the database could not be reached or was busy; try again shortly"
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        return f"the database refused the figures ({first[:200]})"
    # The bulk writes use the driver directly, so its own errors arrive unwrapped.
    if type(exc).__module__.split(".")[0] in ("sqlite3", "psycopg"):
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"the database refused the figures ({first[:200]})"
    if isinstance(exc, MemoryError):
        return "the server ran out of memory reading the file"
    if isinstance(exc, RecursionError):
        return "the file is nested too deeply to read"
    detail = str(exc).strip().splitlines()[0][:200] if quote and str(exc).strip() else ""
    return f"an unexpected error ({type(exc).__name__}{': ' + detail if detail else ''})"


def repeats_current(session: Session, *earlier: Submission) -> bool:
    """Whether sending ``earlier``'s files again (one upload's, or a set's taken in together) repeats what is current:
    no other upload of the agency since the first of them has stored a figure (one that did may have replaced their
    figures, so the files are applied again as new uploads; the files of one set store figures one after another, so
    each alone would count its sibling as later)."""
    ids = [one.id for one in earlier]
    later = session.execute(
        select(func.count())
        .select_from(Submission)
        .where(
            Submission.agency_code == earlier[0].agency_code,
            col(Submission.id) > min(i or 0 for i in ids),
            col(Submission.id).not_in(ids),
            (col(Submission.rows_new) + col(Submission.rows_revised)) > 0,
        )
    ).scalar_one()
    return not later


def latest_of_bytes(
    session: Session,
    *,
    agency_code: str,
    digest: str,
    mode: str,
    statuses: tuple[str, ...],
    where: tuple[ColumnElement[bool], ...] = (),
) -> Submission | None:
    """The agency's latest upload of the same bytes in the same mode, finished with one of ``statuses`` and matching
    ``where``; None when it has sent none."""
    return (
        session.execute(
            select(Submission)
            .where(
                Submission.agency_code == agency_code,
                Submission.content_hash == digest,
                col(Submission.status).in_(statuses),
                Submission.mode == mode,
                *where,
            )
            .order_by(col(Submission.id).desc())
        )
        .scalars()
        .first()
    )


def record_outcome(
    session: Session,
    submission: Submission,
    problems: pl.DataFrame,
    *,
    status: str,
    message: str,
    stage: str | None = None,
    only_if: str | tuple[str, ...] | None = None,
    counts: Mapping[str, int] | None = None,
    audit_id: Callable[[], int | None] | None = None,
) -> bool:
    """Record an upload's outcome and its problems (replacing any of an earlier run), and its audit event when one
    is in hand (``audited``, its ``{id}`` the submission's or ``audit_id``'s); with ``only_if``, only while it
    still has that status (or one of those; False if not, the caller rolling back)."""
    assert submission.id is not None
    session.execute(delete(SubmissionProblem).where(col(SubmissionProblem.submission_id) == submission.id))
    write_problems(session, submission.id, problems)
    values: dict[str, Any] = {
        "status": status,
        "message": message,
        "finished_at": datetime.now(UTC),
        "source_format": submission.source_format,
        "error_scope": submission.error_scope,
        **({"stage": stage} if stage is not None else {}),
        **(counts or {}),
    }
    where = [col(Submission.id) == submission.id]
    if only_if is not None:
        where.append(col(Submission.status).in_([only_if] if isinstance(only_if, str) else only_if))
    if not session.execute(update(Submission).where(*where).values(**values)).rowcount:  # type: ignore[attr-defined]
        return False
    _audit(session, submission, problems, status, message, audit_id)
    for key, value in values.items():
        setattr(submission, key, value)
    return True


def finish(
    engine: Engine,
    submission: Submission,
    problems: pl.DataFrame,
    *,
    status: str,
    message: str,
    stage: str | None = None,
    counts: Mapping[str, int] | None = None,
    only_if: str | tuple[str, ...] | None = None,
) -> bool:
    """Record an upload's outcome in a transaction of its own (a rejection or failure): whoever holds it now, or
    only while it has the status ``only_if``; False if it no longer had."""
    assert submission.id is not None
    with Session(engine) as session:
        recorded = record_outcome(
            session, submission, problems, status=status, message=message, stage=stage, counts=counts, only_if=only_if
        )
        db.commit_verified(session, _outcome_stored(submission.id, status))
    return recorded


def store_accepted(
    engine: Engine,
    submission: Submission,
    result: Validation,
    *,
    problems: pl.DataFrame,
    summary: Callable[[Stored], str],
    alongside: Alongside = Alongside(),
    stage: str | None = None,
    only_if: str | None = None,
    counts: Mapping[str, int] | None = None,
) -> Stored:
    """Store an upload's accepted figures and hold its queried ones, and record its outcome, in one transaction.

    Another upload may have stored some of these figures since they were validated: the write lock is taken
    first and they are compared with what is current then, so each figure ends current exactly once.
    ``alongside.still_mine`` (before anything is written) and ``only_if`` (as the outcome is recorded) check that
    this worker still has the upload; if not, everything is rolled back and :class:`CutOff` raised.
    ``alongside.write`` writes what the upload keeps besides, in the same transaction.
    """
    assert submission.id is not None
    with db.writer(engine), storing(engine, submission.id, result.accepted) as session:
        if alongside.still_mine is not None and not alongside.still_mine(session):
            session.rollback()
            raise CutOff()
        changed, unchanged = split_changes(result.accepted, current_for_keys(session, result.accepted))
        recorded_at = alongside.recorded_at or datetime.now(UTC)
        write_figures(session, changed, submission_id=submission.id, recorded_at=recorded_at)
        reopen_for_upload(session, submission.id, changed)
        closes = alongside.closes if alongside.closes is not None else result.accepted
        supersede_held(session, submission.agency_code, closes)
        hold_figures(session, submission.id, result.held)
        revised = int(changed["obs_id"].is_not_null().sum())
        stored = Stored(
            accepted=result.accepted.height,
            new=changed.height - revised,
            revised=revised,
            unchanged=unchanged.height,
            held=result.held.height,
            status=_status(result, alongside.accepted_if_empty),
        )
        if alongside.write is not None:
            alongside.write(session, stored)
        recorded = record_outcome(
            session,
            submission,
            problems,
            status=stored.status,
            message=summary(stored),
            stage=stage,
            only_if=only_if,
            counts={
                "rows_accepted": stored.accepted,
                "rows_new": stored.new,
                "rows_revised": stored.revised,
                "rows_unchanged": stored.unchanged,
                "queries_open": stored.held,
                # A way whose rows are not its figures (a SEN2 file's children) counts its own rows.
                **(counts or {}),
            },
            audit_id=alongside.audit_id,
        )
        if not recorded:
            session.rollback()
            raise CutOff()
        # A commit whose answer is lost with its connection is asked after: stored, it is answered as stored.
        asked = db.commit_verified(session, alongside.committed or _outcome_stored(submission.id, stored.status))
    return replace(stored, asked_after=True) if asked else stored


def _status(result: Validation, accepted_if_empty: bool) -> str:
    """The outcome's status from what validation accepted, held and refused."""
    if accepted_if_empty and not (result.error_count or result.accepted.height or result.held.height):
        return "accepted"
    return upload_status(errors=result.error_count, stored=result.accepted.height, held=result.held.height)

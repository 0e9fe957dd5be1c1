"""The one door every upload walks through, whichever way it came in: the agency checked, the repeat of an earlier
upload found by the way's repeat key, the raw file kept, the ``Submission`` written (with the way's side writes and
its audit event, in one transaction), and, for a way that reads and stores while the request waits, its lease held
while it does and the upload ended ``failed`` on any error.

A way in (``collectors.ways_in``) reads and checks its file in its own way and hands the door an :class:`Entry`:
what its submission records, how its file is kept and how a repeat is told. The door does the rest in one order for
every way. Nothing here reads a file or logs a value of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Engine
from sqlmodel import Session, col, select

from collectors import head, lease
from collectors.spine import repeat_of
from indicators.store.models import RECORDS_KIND, Submission
from mappings.agencies import get_agency
from onereturn import audittrail, db
from onereturn.errors import InvalidInput

#: What a way's side writes are given: the session of the submission's transaction and the submission, flushed.
SideWrites = Callable[[Session, Submission], None]


@dataclass(frozen=True)
class Repeat:
    """A way's repeat key: an earlier upload of the same bytes, purpose and (``by_year``) collection year, finished
    with one of ``statuses`` and not purged, is repeated by sending it again; ``newest_only``: only when it is the
    agency's newest upload of that purpose (Annex A reads the newest); ``newest_of``: only when it is the newest of
    its series (a publisher's source)."""

    statuses: tuple[str, ...]
    by_year: bool = False
    newest_only: bool = False
    #: A submission column naming a series of uploads (a publisher's source): an upload repeats the newest of its
    #: series finished with one of ``statuses`` when it is the same bytes (a release read again while a later one
    #: is current is applied again, as an agency's earlier file is).
    newest_of: str | None = None


@dataclass
class Entry:
    """One upload at the door, read and checked as far as its way does before anything is kept: what its
    submission records, how its raw file is kept (``keep``: kept here after the repeat check, or the name it was
    kept under already), its repeat key, its lease, its side writes and its audit event."""

    kind: str
    mode: str
    agency_code: str
    filename: str
    source_format: str
    size_bytes: int
    content_hash: str
    keep: Callable[[], str] | str
    submitted_by: str = ""
    repeat: Repeat | None = None
    collection_year: str | None = None
    #: None: finished as it is recorded (checked whole at the door); else leased for so long.
    lease_seconds: float | None = None
    #: Held by this worker (read and stored now), or left to the worker that claims it.
    held: bool = True
    status: str = "received"
    columns: dict[str, Any] = field(default_factory=dict)
    side: SideWrites | None = None
    #: What is written before the submission, which names it (a release's publisher).
    first: Callable[[Session], None] | None = None
    #: The audit event (``spine.audited``'s shape) recorded with the submission, its status and detail.
    audit: dict[str, Any] | None = None
    audit_status: int = 201
    audit_detail: str = ""
    #: Check the agency here (a publisher's release names a publisher the way writes itself).
    agency: bool = True


@dataclass
class Entered:
    """What the door made of an upload: its submission, and whether it repeats an earlier one (nothing kept)."""

    submission: Submission
    duplicate: bool = False


def mode_of(purposes: Mapping[str, str], purpose: str) -> str:
    """The ``mode`` an upload made for ``purpose`` is stored with, from its way's ``purposes``; InvalidInput naming
    the way's purposes for any other."""
    if purpose not in purposes:
        raise InvalidInput(f"purpose must be one of {', '.join(purposes)}, not {purpose!r}")
    return purposes[purpose]


def kept_where(agency_code: str, mode: str, statuses: tuple[str, ...] = ("accepted",)) -> list[ColumnElement[bool]]:
    """The conditions naming a council's record-level uploads of ``mode`` in one of ``statuses`` still kept (not
    purged): one reading of "kept" for every way in that looks back at what a council sent."""
    return [
        col(Submission.agency_code) == agency_code,
        col(Submission.kind) == RECORDS_KIND,
        col(Submission.mode) == mode,
        col(Submission.status).in_(statuses),
        col(Submission.purged_at).is_(None),
    ]


def newest_kept(
    session: Session, agency_code: str, mode: str, statuses: tuple[str, ...] = ("accepted",), year: str | None = None
) -> Submission | None:
    """The council's newest record-level upload of ``mode`` (its Annex A columns file, its SSD extract's rows, its
    SEN2 file of a collection ``year``) in one of ``statuses`` still kept; None when it has sent none."""
    where = kept_where(agency_code, mode, statuses)
    if year is not None:
        where.append(col(Submission.collection_year) == year)
    return session.exec(select(Submission).where(*where).order_by(col(Submission.id).desc())).first()


def admit(engine: Engine, agency_code: str) -> None:
    """Refuse an upload from an agency the store does not hold (NotFound naming it), before anything is kept."""
    with Session(engine) as session:
        get_agency(session, agency_code)


def repeated(session: Session, entry: Entry) -> Submission | None:
    """The earlier upload the entry repeats by its way's repeat key, or None."""
    key = entry.repeat
    if key is None:
        return None
    if key.newest_of is not None:
        newest = session.exec(
            select(Submission)
            .where(
                col(Submission.kind) == entry.kind,
                col(Submission.agency_code) == entry.agency_code,
                col(getattr(Submission, key.newest_of)) == entry.columns.get(key.newest_of),
                col(Submission.status).in_(key.statuses),
                col(Submission.purged_at).is_(None),
            )
            .order_by(col(Submission.id).desc())
        ).first()
        return newest if newest is not None and newest.content_hash == entry.content_hash else None
    if key.newest_only:
        newest = newest_kept(session, entry.agency_code, entry.mode)
        same = newest is not None and (newest.content_hash, newest.collection_year) == (
            entry.content_hash,
            entry.collection_year,
        )
        return newest if same else None
    where: tuple[ColumnElement[bool], ...] = ()
    if key.by_year:
        where = (
            col(Submission.kind) == entry.kind,
            col(Submission.purged_at).is_(None),
            col(Submission.collection_year) == entry.collection_year,
        )
    return repeat_of(
        session,
        agency_code=entry.agency_code,
        digest=entry.content_hash,
        mode=entry.mode,
        statuses=key.statuses,
        where=where,
    )


def repeated_before_reading(engine: Engine, entry: Entry) -> Submission | None:
    """The earlier upload the entry repeats by its way's repeat key, asked before the way reads the file: a way
    whose reading costs (a publisher's release, fetched again every day unchanged) need not read a repeat. The
    door asks again as the upload enters, so a repeat made meanwhile is still found."""
    with Session(engine, expire_on_commit=False) as session:
        return repeated(session, entry)


def enter(engine: Engine, entry: Entry) -> Entered:
    """Take one upload through the door: the agency, the repeat, the kept file and its submission (with the way's
    side writes and audit event, stored together or not at all)."""
    if entry.agency:
        admit(engine, entry.agency_code)
    with Session(engine, expire_on_commit=False) as session:
        earlier = repeated(session, entry)
        if earlier is not None:
            return Entered(earlier, duplicate=True)
    raw_path = entry.keep if isinstance(entry.keep, str) else entry.keep()
    more: dict[str, Any] = dict(entry.columns)
    if entry.collection_year is not None:
        more["collection_year"] = entry.collection_year
    with Session(engine, expire_on_commit=False) as session:
        submission = head.new_submission(
            kind=entry.kind,
            mode=entry.mode,
            agency_code=entry.agency_code,
            filename=entry.filename,
            source_format=entry.source_format,
            size_bytes=entry.size_bytes,
            content_hash=entry.content_hash,
            raw_path=raw_path,
            submitted_by=entry.submitted_by,
            lease_seconds=entry.lease_seconds,
            held=entry.held,
            status=entry.status,
            **more,
        )
        if entry.first is not None:
            entry.first(session)
        session.add(submission)
        session.flush()
        made = submission.id
        if entry.side is not None:
            entry.side(session, submission)
        if entry.audit is not None:
            # Its event in the same transaction: the upload is stored with its event or not at all.
            audit = entry.audit
            audittrail.record(
                session,
                **{**audit, "object": str(audit.get("object", "")).replace("{id}", str(made))},
                outcome="ok",
                status=entry.audit_status,
                detail=entry.audit_detail,
            )
        if db.commit_verified(session, lambda again: again.get(Submission, made) is not None):
            with Session(engine, expire_on_commit=False) as again:
                found = again.get(Submission, made)
            assert found is not None
            return Entered(found)
    return Entered(submission)


@contextmanager
def held_or_failed(
    engine: Engine,
    submission: Submission,
    lease_seconds: float,
    *,
    failed: Callable[[BaseException], None],
    stop_interrupts: bool = True,
) -> Iterator[None]:
    """Hold an upload's lease while it is read, checked and stored; on any error end it failed by the way's
    ``failed`` (while still unfinished) and raise. A stop of the process (``stop_interrupts``) is not a failure:
    its lease runs out and the upload is marked interrupted, to be run again."""
    assert submission.id is not None
    try:
        with lease.held(engine, submission.id, lease_seconds):
            yield
    except (KeyboardInterrupt, SystemExit, GeneratorExit) as exc:
        if not stop_interrupts:
            failed(exc)
        raise
    except BaseException as exc:  # polars reports its own bugs as PanicException, which is not an Exception
        failed(exc)
        raise

"""The one door every upload walks through, whichever way it came in: the agency checked, the repeat of an earlier
upload found by the way's repeat key, the raw file kept, the ``Submission`` written (with the way's side writes and
its audit event, in one transaction), and, for a way that reads and stores while the request waits, its lease held
while it does and the upload ended ``failed`` on any error.

Each way in declares itself once, as a :class:`Way` (``collectors.door.way``: its kind, purposes, repeat key, lease,
checks and keep order), its row, which the table of ways in (``collectors.ways_in``) holds. For each upload the way
hands the door an :class:`Entry` (its row's name, what its submission records, its :class:`File` and :class:`Audit`)
with its read (returning what it found, a :class:`Found`) and its store: :func:`through` reads the repeat key, the
lease, the agency check and the keep order from the row of that name and calls them in one order for every way,
answering what the way's store answers; :func:`again` runs a failed upload again from its kept file in the same
order. Nothing here reads a file or logs a value of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Engine, false, update
from sqlmodel import Session, col, select

from collectors.door import head, lease
from collectors.door.again import Again as Again  # the failure, rerun, resume and take-up, the door's
from collectors.door.again import Superseded as Superseded
from collectors.door.again import again as again
from collectors.door.again import failed_message as failed_message
from collectors.door.again import mark_failed as mark_failed
from collectors.door.again import resume as resume
from collectors.door.again import stored as stored
from collectors.door.again import taken_up as taken_up
from collectors.door.spine import latest_of_bytes, repeats_current
from collectors.door.way import Lease as Lease  # each way's declaration, named as the door's: door.Way, door.Repeat
from collectors.door.way import Repeat as Repeat
from collectors.door.way import Way as Way
from collectors.door.way import mode_of as mode_of
from collectors.door.way import row as row
from indicators.store.models import RECORDS_KIND, Submission
from mappings.agencies import get_agency
from onereturn import audittrail, db, keptfiles
from onereturn.settings import Settings

log = logging.getLogger(__name__)

_In = TypeVar("_In")
_Out = TypeVar("_Out")
#: What a way's read gives its store.
_Read = TypeVar("_Read")
#: What a way's side writes are given: the session of the submission's transaction and the submission, flushed.
SideWrites = Callable[[Session, Submission], None]


@dataclass(frozen=True)
class File:
    """An upload's file as its submission records it: its name, format, size and hash, and how it is kept (``keep``:
    kept by the door once it is found no repeat, or the name it was kept under already)."""

    name: str
    source_format: str
    size_bytes: int
    content_hash: str
    keep: Callable[[], str] | str


@dataclass(frozen=True)
class Audit:
    """The audit event (``spine.audited``'s shape) recorded with an upload's submission, its status and detail."""

    event: Mapping[str, Any]
    status: int = 201
    detail: str = ""


@dataclass(frozen=True)
class Entry:
    """One upload at the door, before anything is kept: the name of its way's row (whose kind, repeat key, lease,
    agency check and keep order the door reads), what its submission records (its purpose's mode, agency, file, who
    sent it, its year, its status as recorded, a final one where it is finished at the door, and other columns) and
    its audit event. What the way's read finds is returned (:class:`Found`), never written into it."""

    way: str
    mode: str
    agency_code: str
    file: File
    submitted_by: str = ""
    collection_year: str | None = None
    status: str = "received"
    columns: Mapping[str, Any] = field(default_factory=dict)
    audit: Audit | None = None


@dataclass(frozen=True)
class Found(Generic[_Read]):
    """What a way's read found in its file before the upload is recorded: what its store is given (``readings``),
    and what its submission records with it: its ``columns`` (its counts and message, and its status where what the
    read found names it: a file kept with some rows refused is partly accepted), its side writes, what is
    written before the submission, which names it (``first``: a release's publisher), and the detail of its audit
    event (None: the entry's)."""

    readings: _Read
    columns: Mapping[str, Any] = field(default_factory=dict)
    side: SideWrites | None = None
    first: Callable[[Session], None] | None = None
    audit_detail: str | None = None


#: Nothing found before the upload is recorded: a way that keeps first reads under the lease, in its store.
KEEPS_FIRST: Found[None] = Found(None)


@dataclass
class Entered:
    """What the door made of an upload: its submission, and whether it repeats an earlier one (nothing kept)."""

    submission: Submission
    duplicate: bool = False


def id_of(submission: Submission) -> int:
    """A recorded upload's id (written before any way is handed its submission)."""
    assert submission.id is not None
    return submission.id


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
    """The earlier upload the entry repeats by its way's repeat key (its row's), or None."""
    way = row(entry.way)
    key, digest = way.repeat, entry.file.content_hash
    if key is None:
        return None
    if key.of_set:
        # A set of one file: the set's rule, as an upload of it alone.
        alone = _set_repeated(session, way, entry.agency_code, entry.mode, entry.collection_year, [digest])
        return alone[0] if alone is not None else None
    if key.newest_of is not None:
        newest = session.exec(
            select(Submission)
            .where(
                col(Submission.kind) == way.kind,
                col(Submission.agency_code) == entry.agency_code,
                col(getattr(Submission, key.newest_of)) == entry.columns.get(key.newest_of),
                col(Submission.status).in_(key.statuses),
                col(Submission.purged_at).is_(None),
            )
            .order_by(col(Submission.id).desc())
        ).first()
        return newest if newest is not None and newest.content_hash == digest else None
    if key.newest_only:
        newest = newest_kept(session, entry.agency_code, entry.mode)
        return repeats_newest(key, newest, content_hash=digest, collection_year=entry.collection_year)
    # A purged upload's file is gone: the same bytes sent again are a new upload, which keeps them.
    where: tuple[ColumnElement[bool], ...] = (col(Submission.purged_at).is_(None),)
    if key.by_year:
        where = (
            *where,
            col(Submission.kind) == way.kind,
            col(Submission.collection_year) == entry.collection_year,
        )
    earlier = latest_of_bytes(
        session, agency_code=entry.agency_code, digest=digest, mode=entry.mode, statuses=key.statuses, where=where
    )
    if earlier is not None and not repeats_current(session, earlier):
        # A later upload stored figures since, which may have replaced its own: the file is applied again.
        earlier = None
    if earlier is not None and key.by_year and _overtaken(session, earlier, key):
        # A later file of the same return and year is in force: sending the earlier again puts it back in force.
        return None
    if earlier is None and key.by_year:
        # A council's file taken in at the door or left to a worker: the same file sent meanwhile is that upload. (A
        # file of figures is answered with its own outcome, so one sent again meanwhile is read as its own.)
        return _in_progress(session, entry, where)
    return earlier


def repeats_newest(key: Repeat, newest: _Out | None, **same: Any) -> _Out | None:
    """``newest`` (an agency's newest upload of a purpose, or its newest SSD extract's payloads) when what is sent now
    repeats it by ``key`` (``Repeat.newest_only``): the same value of each of ``same``'s columns; else None."""
    if not key.newest_only:
        raise ValueError("a repeat of the newest needs a repeat key of the newest (Repeat.newest_only)")
    return newest if newest is not None and all(getattr(newest, c) == v for c, v in same.items()) else None


def _overtaken(session: Session, earlier: Submission, key: Repeat) -> bool:
    """Whether a later upload of the same return (purpose and format) and year, kept and finished as a repeat may
    be, is in force instead of ``earlier``."""
    later = session.exec(
        select(Submission.id).where(
            *kept_where(earlier.agency_code, earlier.mode, key.statuses),
            col(Submission.kind) == earlier.kind,
            col(Submission.collection_year) == earlier.collection_year,
            col(Submission.source_format) == earlier.source_format,
            col(Submission.id) > earlier.id,
        )
    ).first()
    return later is not None


def _in_progress(session: Session, entry: Entry, where: tuple[ColumnElement[bool], ...]) -> Submission | None:
    """The agency's upload of the same bytes and purpose (and year) still being taken in by a live worker: the same
    file sent again meanwhile is that upload, not a second one."""
    return session.exec(
        select(Submission)
        .where(
            col(Submission.agency_code) == entry.agency_code,
            col(Submission.content_hash) == entry.file.content_hash,
            col(Submission.mode) == entry.mode,
            col(Submission.status).in_(lease.UNFINISHED),
            col(Submission.lease_until) > datetime.now(UTC),
            *where,
        )
        .order_by(col(Submission.id).desc())
    ).first()


def through_set(
    engine: Engine,
    name: str,
    files: Sequence[_In],
    *,
    digest: Callable[[_In], str],
    take: Callable[[_In], _Out],
    repeated: Callable[[Submission], _Out],
    agency_code: str,
    mode: str,
    collection_year: str | None,
) -> list[_Out]:
    """Take a set of files in together (an SSD extract's files made) by the repeat key of a set (``of_set``) of the way
    in named ``name`` (its row's): a repeat, each earlier upload answered by ``repeated``, when each file's bytes
    (``digest``) repeat the agency's latest upload of the way's kind, ``mode`` (and ``by_year``, year) finished with
    one of the key's statuses and not purged, and no other upload of the agency has stored a figure since the first;
    else each file is taken by ``take``."""
    way = row(name)
    if way.repeat is None or not way.repeat.of_set:
        raise ValueError(f"the way {name!r} has no repeat key of a set")
    with Session(engine, expire_on_commit=False) as session:
        earlier = _set_repeated(session, way, agency_code, mode, collection_year, [digest(one) for one in files])
    return [repeated(one) for one in earlier] if earlier is not None else [take(one) for one in files]


def _set_repeated(
    session: Session, way: Way, agency_code: str, mode: str, year: str | None, digests: Sequence[str]
) -> list[Submission] | None:
    key = way.repeat
    assert key is not None
    if not digests:
        return None
    found: list[Submission] = []
    where: tuple[ColumnElement[bool], ...] = (col(Submission.kind) == way.kind, col(Submission.purged_at).is_(None))
    if key.by_year:
        where = (*where, col(Submission.collection_year) == year)
    for digest in digests:
        earlier = latest_of_bytes(
            session, agency_code=agency_code, digest=digest, mode=mode, statuses=key.statuses, where=where
        )
        if earlier is None:
            return None
        found.append(earlier)
    return found if repeats_current(session, *found) else None


def repeated_before_reading(engine: Engine, entry: Entry) -> Submission | None:
    """The earlier upload the entry repeats by its way's repeat key, asked before the way reads the file: a way
    whose reading costs (a publisher's release, fetched again every day unchanged) need not read a repeat. The
    door asks again as the upload enters, so a repeat made meanwhile is still found."""
    with Session(engine, expire_on_commit=False) as session:
        return repeated(session, entry)


def lease_of(entry: Entry, settings: Settings) -> float | None:
    """How long the door leases an upload as it is recorded, by its row's lease: None where it is finished at the
    door (its way's, or any upload recorded with a final status: a SEN2 file taken with no stage after the door)."""
    if row(entry.way).lease is Lease.DOOR or entry.status in head.FINAL:
        return None
    return settings.upload_lease_seconds


def enter(engine: Engine, settings: Settings, entry: Entry, found: Found[Any] = KEEPS_FIRST) -> Entered:
    """Take one upload, its agency checked (``through``), into the store: the repeat, the kept file and its
    submission, leased as its way is, with what its read ``found`` (its columns, side writes and first write) and its
    audit event, stored together or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        earlier = repeated(session, entry)
        if earlier is not None:
            return Entered(earlier, duplicate=True)
    file, way, audit = entry.file, row(entry.way), entry.audit
    raw_path = file.keep if isinstance(file.keep, str) else file.keep()
    more: dict[str, Any] = {**entry.columns, **found.columns}
    status = more.pop("status", entry.status)
    if entry.collection_year is not None:
        more["collection_year"] = entry.collection_year
    if status in head.FINAL:
        # Finished as it is recorded (checked whole at the door).
        more.setdefault("finished_at", datetime.now(UTC))
    try:
        with Session(engine, expire_on_commit=False) as session:
            # The repeat asked again under a lock on the agency's file, in the transaction that writes the submission:
            # of the same file sent several times at once, one is recorded and the others are its repeats.
            _one_at_a_time(session, entry)
            if (earlier := repeated(session, entry)) is not None:
                # Closing the session ends the transaction (and its lock) and leaves the earlier upload as it was read.
                session.expunge(earlier)
                return Entered(earlier, duplicate=True)
            submission = head.new_submission(
                kind=way.kind,
                mode=entry.mode,
                agency_code=entry.agency_code,
                filename=file.name,
                source_format=file.source_format,
                size_bytes=file.size_bytes,
                content_hash=file.content_hash,
                raw_path=raw_path,
                submitted_by=entry.submitted_by,
                lease_seconds=lease_of(entry, settings),
                # Held by this worker (read and stored now), or left to the worker that claims it.
                held=way.lease is not Lease.WORKER,
                status=status,
                way=way.name,
                **more,
            )
            if found.first is not None:
                found.first(session)
            session.add(submission)
            session.flush()
            made = submission.id
            if found.side is not None:
                found.side(session, submission)
            if audit is not None:
                # Its event in the same transaction: the upload is stored with its event or not at all.
                audittrail.record(
                    session,
                    **{**audit.event, "object": str(audit.event.get("object", "")).replace("{id}", str(made))},
                    outcome="ok",
                    status=audit.status,
                    detail=found.audit_detail if found.audit_detail is not None else audit.detail,
                )
            if db.commit_verified(session, lambda again: again.get(Submission, made) is not None):
                with Session(engine, expire_on_commit=False) as again:
                    kept = again.get(Submission, made)
                assert kept is not None
                return Entered(kept)
        return Entered(submission)
    except Exception:
        # Nothing of a failed write is left behind: the file kept for it goes unless an upload written names it.
        let_go_unwritten(engine, settings, entry, raw_path)
        raise


def let_go_unwritten(engine: Engine, settings: Settings, entry: Entry, raw_path: str) -> None:
    """Delete the file kept for an upload whose write failed, unless a submission written names it (the same bytes
    kept for another upload); a store that cannot be asked keeps the file, as the safe side."""
    try:
        with Session(engine) as session:
            _one_at_a_time(session, entry)
            named = head.named_by_any(session, raw_path)
            session.commit()
        if not named:
            keptfiles.forget(engine, settings, raw_path)
    except Exception:
        log.warning("the file kept for an upload whose write failed was left: the store could not be asked")


def _one_at_a_time(session: Session, entry: Entry) -> None:
    """Take, for the rest of the session's transaction, the lock on the agency's uploads of this file: PostgreSQL's
    advisory lock on them, SQLite's one write lock (taken by a write that changes nothing)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        key = db.advisory_key("door", entry.agency_code, entry.file.content_hash)
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
    else:
        connection.execute(update(Submission).where(false()).values(id=Submission.id))


#: A way's read and check of its file before the upload is recorded: it refuses (InvalidInput) with nothing but the
#: raw file kept, or says what it found (``Found``).
Read = Callable[[], Found[_Read]]


def through(
    engine: Engine,
    settings: Settings,
    entry: Entry,
    *,
    store: Callable[[Submission, _Read], _Out],
    repeated: Callable[[Submission], _Out] | None = None,
    read: Read[_Read] | None = None,
    stop_interrupts: bool = True,
) -> _Out:
    """Take an upload through the door in the one order, as its row declares (``entry.way``): the agency (where the
    way's uploads name one it does not write itself); a repeat of an earlier upload by its repeat key (asked before
    the way reads, answered by ``repeated``: a way with a repeat key has one); where the way ``reads_first``, its
    ``read`` and check (a refusal records nothing; what it found is recorded with the upload), and where it keeps
    first, nothing read before its file is kept; its submission, with the way's side writes and audit event; then its
    ``store``, given what the read found, whose answer is the door's: under the lease where the way's uploads are held
    while the request waits (``Lease.REQUEST``, a stage after the door), the upload failed on any error
    (``stop_interrupts``: a stop is an interruption to resume, not a failure), or at once where the upload was
    finished at the door or is left to a worker."""
    way = row(entry.way)
    if way.reads_first != (read is not None):
        raise ValueError(f"the way {way.name!r} {'reads' if way.reads_first else 'keeps'} first")
    if way.repeat is not None and repeated is None:
        raise ValueError(f"the way {way.name!r} has a repeat key: its answer to a repeat is needed")
    if way.agency:
        admit(engine, entry.agency_code)
    # A way that keeps first reads in its store: nothing is found before its file is kept.
    found: Found[Any] = KEEPS_FIRST
    if read is not None:
        if (earlier := repeated_before_reading(engine, entry)) is not None:
            assert repeated is not None
            return repeated(earlier)
        found = read()
    entered = enter(engine, settings, entry, found)
    if entered.duplicate:
        assert repeated is not None
        return repeated(entered.submission)
    submission = entered.submission
    seconds = lease_of(entry, settings)
    if seconds is None or way.lease is Lease.WORKER:
        return store(submission, found.readings)
    return stored(engine, submission, seconds, store, found.readings, stops=stop_interrupts)

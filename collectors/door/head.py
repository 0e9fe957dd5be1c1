"""The head every way figures come in shares, before its own reading: keep the raw file before anything reads it,
write the submission with its kind and purpose, take the lease, and open a failed or interrupted upload to be run
again from its kept file.

Every way in comes to it through the one door (``collectors.door``), which reads its file in its own way and
stores through the tail every way shares (``collectors.door.spine``); ``collectors.ways_in`` is the one table of the
ways in. This module is the one place a ``Submission`` row is made.

``Submission.kind`` says which way in took the file; what the upload is for (its purpose) is stored in ``mode``,
a column older than the purposes: an agency's file of figures keeps there how its errors are taken (``default``:
its valid rows stored; ``atomic``: all or nothing), a record-level upload what it is for. Each way's row of
``collectors.ways_in`` says its purposes and the ``mode`` each is stored with.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, update
from sqlmodel import Session, col, select

from collectors.door import lease
from indicators.store.models import PUBLISHED_KIND, RECORDS_KIND, Submission, SubmissionProblem
from onereturn import keptfiles, sealing
from onereturn.errors import Conflict, NotFound
from onereturn.settings import Settings

#: Submission statuses that are final: an identical file sent again may repeat one (``spine.latest_of_bytes``).
FINAL = ("accepted", "queried", "partially_accepted", "rejected", "superseded")
#: Statuses of uploads that did not finish, which are run again from their kept files.
RERUNNABLE = ("failed", "interrupted")
#: The counts of a submission's outcome, cleared when it is run again.
_COUNTS = (
    "rows_read",
    "rows_accepted",
    "rows_new",
    "rows_revised",
    "rows_unchanged",
    "error_count",
    "warning_count",
    "query_count",
    "information_count",
    "queries_open",
)


def keep_raw(engine: Engine, settings: Settings, data: bytes, digest: str | None = None) -> tuple[str, str]:
    """Keep the raw bytes sealed under the deployment's keys, named by their SHA-256 (``digest``, when the caller has
    it), in ``onereturn.keptfiles``; return hash and content name. Refused (``KeysRefused``, nothing kept) on a host
    whose keys are not the deployment's or while they are rotated."""
    digest = digest or hashlib.sha256(data).hexdigest()
    keys = sealing.checked_keys(engine, settings)
    sealed = keys.seal(data)
    name = keptfiles.uploads_name(digest)
    # Only a copy kept before is read back: one this call wrote is sealed under these keys (reading a publisher's
    # 3 MB file back and opening it cost more than sealing it).
    if keptfiles.keep_new(engine, settings, name, sealed):
        return digest, name
    if not keys.opens(keptfiles.read(engine, settings, name)):
        # The same file was kept before under keys the store no longer names: the copy in hand mends it.
        keptfiles.replace(engine, settings, name, sealed)
    return digest, name


def still_named(session: Session, submission_id: int, raw: str) -> bool:
    """Whether another submission not purged names the same kept file (the same bytes received again, named alike
    or by an earlier release's path that ends in the same name)."""
    digest = session.execute(select(Submission.content_hash).where(col(Submission.id) == submission_id)).scalar_one()
    others = session.execute(
        select(Submission.raw_path).where(
            col(Submission.content_hash) == digest,
            col(Submission.id) != submission_id,
            col(Submission.purged_at).is_(None),
        )
    ).scalars()
    name = keptfiles.name_of(raw)
    return any(keptfiles.name_of(other) == name for other in others)


def named_by_any(session: Session, raw: str) -> bool:
    """Whether a submission not purged names the kept file ``raw`` (by its name, or an earlier release's path ending
    in it): the file is still wanted, as ``still_named`` asks of one purged."""
    name = keptfiles.name_of(raw)
    named = select(Submission.id).where(col(Submission.raw_path).endswith(name), col(Submission.purged_at).is_(None))
    return session.execute(named.limit(1)).first() is not None


def let_go(engine: Engine, settings: Settings, submission: Submission) -> None:
    """Keep an upload's report but not its file: marked purged, and its kept file deleted unless another upload not
    purged names it."""
    assert submission.id is not None
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.execute(update(Submission).where(col(Submission.id) == submission.id).values(purged_at=now))
        shared = still_named(session, submission.id, submission.raw_path)
        session.commit()
    submission.purged_at = now
    if not shared:
        keptfiles.forget(engine, settings, submission.raw_path)


def kept_raw(bind: Engine | Connection, settings: Settings, submission: Submission) -> bytes:
    """A submission's kept raw file as received, from wherever it is kept, unsealed (one kept plain before sealing is
    read as it is); NotFound naming the submission when it is nowhere."""
    try:
        data = keptfiles.read(bind, settings, submission.raw_path)
    except keptfiles.KeptFileMissing as exc:
        raise keptfiles.KeptFileMissing(f"The kept file of submission {submission.id} is missing: {exc}") from exc
    if not keptfiles.is_sealed(submission.raw_path):
        return data
    return sealing.keys_for(settings, make=False).open(data)


def kept_unchanged(bind: Engine | Connection, settings: Settings, submission: Submission) -> bytes:
    """A submission's kept raw file, refused (Conflict) when it is no longer the file that was received."""
    data = kept_raw(bind, settings, submission)
    if hashlib.sha256(data).hexdigest() != submission.content_hash:
        raise Conflict(f"The kept file of submission {submission.id} has changed since it was received")
    return data


def new_submission(
    *,
    kind: str,
    mode: str,
    agency_code: str,
    filename: str,
    source_format: str,
    size_bytes: int,
    content_hash: str,
    raw_path: str,
    submitted_by: str,
    lease_seconds: float | None,
    held: bool = True,
    status: str = "received",
    **more: Any,
) -> Submission:
    """A submission for a file kept and received by one way in, for the caller to add in its own transaction (with
    whatever it records beside it: ``more`` of its columns). Leased for ``lease_seconds`` (None: no lease, it is
    finished as it is recorded), held by this worker, or not ``held``: left to the worker that claims it before
    the lease runs out."""
    return Submission(
        kind=kind,
        mode=mode,
        agency_code=agency_code,
        filename=filename,
        source_format=source_format[:8] or "?",
        size_bytes=size_bytes,
        content_hash=content_hash,
        raw_path=raw_path,
        received_at=datetime.now(UTC),
        status=status,
        submitted_by=submitted_by,
        lease_owner=lease.worker_id() if held and lease_seconds is not None else "",
        lease_until=lease.expiry(lease_seconds) if lease_seconds is not None else None,
        **more,
    )


def format_of(filename: str) -> str:
    """The format a file's name says it is in (its suffix), as a submission records it."""
    return Path(filename).suffix.lower().lstrip(".")[:8] or "?"


#: How a submission that is not one of a kind is named in the answer.
NOT_ONE = {
    RECORDS_KIND: "Record-level submission {id} does not exist",
    PUBLISHED_KIND: "Submission {id} is not a publisher's import",
}


def rerunnable(session: Session, submission_id: int, *, kind: str) -> Submission:
    """A submission of ``kind`` that may be run again (failed or interrupted); NotFound or Conflict when not."""
    submission = session.get(Submission, submission_id)
    if submission is None or submission.kind != kind:
        raise NotFound(NOT_ONE.get(kind, "Submission {id} does not exist").format(id=submission_id))
    if submission.status not in RERUNNABLE:
        raise Conflict(
            f"Submission {submission_id} is {submission.status}; only {' or '.join(RERUNNABLE)} uploads are run again"
        )
    return submission


def reopen(
    engine: Engine,
    settings: Settings,
    submission_id: int,
    *,
    kind: str,
    held: bool = True,
    **values: Any,
) -> Submission:
    """Open a failed or interrupted submission of ``kind`` to be run again from its kept file: its report and
    counts cleared, ``values`` set (its status, where not ``received``), and its lease taken by this worker
    (``held``) or left to the worker that claims it. NotFound or Conflict when it is not one to run again."""
    with Session(engine, expire_on_commit=False) as session:
        submission = rerunnable(session, submission_id, kind=kind)
        reset: dict[str, Any] = {
            "status": "received",
            "message": "",
            "finished_at": None,
            **dict.fromkeys(_COUNTS, 0),
            "lease_owner": lease.worker_id() if held else "",
            "lease_until": lease.expiry(settings.upload_lease_seconds) if held else None,
            **values,
        }
        session.execute(delete(SubmissionProblem).where(col(SubmissionProblem.submission_id) == submission_id))
        session.execute(update(Submission).where(col(Submission.id) == submission_id).values(**reset))
        session.commit()
        for key, value in reset.items():
            setattr(submission, key, value)
    return submission


def settle(engine: Engine, submission: Submission, *, status: str, message: str) -> None:
    """Record how an upload run again ended without storing (and on the object the caller holds)."""
    with Session(engine) as session:
        session.execute(
            update(Submission)
            .where(col(Submission.id) == submission.id)
            .values(status=status, message=message[:2000], finished_at=datetime.now(UTC))
        )
        session.commit()
    submission.status, submission.message = status, message

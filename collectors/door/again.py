"""An upload's failure, its rerun, its resume and a worker's take-up: one each, for every way in.

An upload that breaks while it is stored ends ``failed`` (:func:`mark_failed`, under :func:`stored`); the door runs a
failed or interrupted one again from its kept file (:func:`again`: read back sealed or not, ``head.kept_raw``, and
handed to its way), takes up those a stop cut off (:func:`resume`), and for a way left to a worker claims and leases
each upload for the worker that runs it (:func:`taken_up`). A way supplies only what differs (:class:`Again`: how
its kept bytes are read into what its store is given, and its store); its lease mode is read from its row.
"""

from __future__ import annotations

import logging
import sqlite3
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, or_
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from collectors.checks.checked import problem_frame
from collectors.door import head, lease
from collectors.door.spine import CutOff, Outcome, failure_reason, finish
from collectors.door.way import Lease, row
from indicators.store.models import Submission
from onereturn.errors import InvalidInput, NotFound, ProcessingFailed
from onereturn.sealing import KeysRefused
from onereturn.settings import Settings

log = logging.getLogger(__name__)

#: A worker takes an upload up at most this many times (a file that stops its worker every time is failed).
MAX_ATTEMPTS = 3
_Read = TypeVar("_Read")
_Out = TypeVar("_Out")


class Superseded(InvalidInput):
    """A rerun with nothing more to do: another upload has read the same file since."""


def failed_message(exc: BaseException, submission_id: int, *, quote: bool = True) -> str:
    """What an upload that failed is told, whichever way it came in: what broke (the error's text only where the way
    ``quote``s it) and that nothing of it was stored, or what the error itself says to do (``after_failure``)."""
    after = getattr(exc, "after_failure", None)
    if callable(after):
        return str(after(submission_id))
    return (
        f"processing failed: {failure_reason(exc, quote=quote)}, and nothing of it was stored; the upload is kept "
        f"and can be run again (onereturn submissions reprocess {submission_id})"
    )


def mark_failed(
    engine: Engine, submission: Submission, exc: BaseException, *, quote: bool = True, stage: str | None = None
) -> None:
    """End an upload ``failed`` (while still unfinished: a commit whose answer was lost may have stored it) saying
    why, and log where it broke. Not one cut off: another worker has it. The log names the error's kind and where
    it was raised, never its text, which may quote a value of the file."""
    if isinstance(exc, CutOff):
        return
    assert submission.id is not None
    log.error(
        "submission %s failed (%s) at:\n%s",
        submission.id,
        type(exc).__name__,
        "".join(traceback.format_tb(exc.__traceback__)),
    )
    try:
        finish(
            engine,
            submission,
            problem_frame([]),
            status="failed",
            stage=stage,
            message=failed_message(exc, submission.id, quote=quote),
            only_if=lease.UNFINISHED,
        )
    except Exception:
        # The store itself is unreachable: once the lease runs out the upload is marked interrupted instead.
        log.exception("submission %s could not be marked failed", submission.id)


def _busy(exc: BaseException) -> bool:
    """A database busy or out of reach: the API answers 503 with Retry-After, as sending the file again will do."""
    return isinstance(exc, OperationalError | PoolTimeout | sqlite3.OperationalError)


def stored(
    engine: Engine,
    submission: Submission,
    lease_seconds: float,
    store: Callable[[Submission, _Read], _Out],
    readings: _Read,
    *,
    stops: bool = True,
) -> _Out:
    """Run a way's store (or a stage after the door) holding the upload's lease, the upload failed on any error
    (``mark_failed``, while still unfinished) and the error told as a ``ProcessingFailed`` naming the upload and how
    to run it again. A stop of the process (``stops``) is no failure: its lease runs out and the upload is marked
    interrupted, to be run again; it, a busy database and a lost lease are raised as they are."""
    assert submission.id is not None
    try:
        with lease.held(engine, submission.id, lease_seconds):
            return store(submission, readings)
    except (KeyboardInterrupt, SystemExit, GeneratorExit) as exc:
        if not stops:
            mark_failed(engine, submission, exc)
        raise
    except BaseException as exc:  # polars reports its own bugs as PanicException, which is not an Exception
        mark_failed(engine, submission, exc)
        if isinstance(exc, CutOff):
            raise ProcessingFailed(f"Submission {submission.id} {exc}") from exc
        if _busy(exc):
            raise
        raise ProcessingFailed(f"Submission {submission.id} {failed_message(exc, submission.id)}") from exc


@dataclass(frozen=True)
class Again:
    """What a way supplies for the door to run its uploads again, resume and take them up: how its kept bytes are read
    into what its store is given (``read``; None: its worker reads them), the columns an upload is opened again
    with, its ``store``, or its ``take_up`` where it is left to a worker (``Lease.WORKER``), and how a run ends."""

    read: Callable[[Engine, Settings, Submission, bytes], Any] | None = None
    store: Callable[[Engine, Settings, Submission, Any], Any] | None = None
    take_up: Callable[[Engine, Settings, int], Submission] | None = None
    reopened: Callable[[Submission, Any], Mapping[str, Any]] | None = None
    #: The kept bytes are the very file received, checked against its hash; False: the way checks its own (a
    #: record-level upload's files are kept as one sealed ZIP, hashed by its members).
    whole: bool = True
    #: A stop is an interruption to resume (True), or a failure (a publisher's release, stored whole or not at all).
    stops: bool = True
    #: A failure again is answered as the upload, failed (a SEN2 file's figures), rather than raised.
    told: bool = False
    #: Its uploads a stop cut off are taken up by :func:`resume`.
    resumes: bool = False


def _now(engine: Engine, submission_id: int) -> Submission:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Submission, submission_id)
    assert found is not None
    return found


def again(engine: Engine, settings: Settings, submission_id: int, name: str, how: Again) -> Outcome:
    """Run a failed or interrupted upload of the way in named ``name`` (by its row) again from its kept file, in the door's order: the file read back
    (checked unchanged), the way's ``read`` (a refusal ends the upload ``rejected``, or ``superseded``, with its
    reason), the upload opened again, then its store under the lease as a new upload's, or left to the worker that
    takes it up (``Lease.WORKER``)."""
    way = row(name)
    with Session(engine, expire_on_commit=False) as session:
        submission = head.rerunnable(session, submission_id, kind=way.kind)
    readings = None
    if how.read is not None:
        data = (head.kept_unchanged if how.whole else head.kept_raw)(engine, settings, submission)
        try:
            readings = how.read(engine, settings, submission, data)
        except InvalidInput as exc:
            status = "superseded" if isinstance(exc, Superseded) else "rejected"
            head.settle(engine, submission, status=status, message=exc.message)
            return Outcome(submission, None)
        del data
    opened = dict(how.reopened(submission, readings)) if how.reopened is not None else {}
    if way.lease is Lease.WORKER:
        assert how.take_up is not None
        # Left unclaimed (interrupted, no lease) for its worker to claim as any upload whose worker stopped.
        head.reopen(
            engine, settings, submission_id, kind=way.kind, held=False, status="interrupted", attempts=0, **opened
        )
        return Outcome(how.take_up(engine, settings, submission_id), None)
    assert how.store is not None
    submission = head.reopen(engine, settings, submission_id, kind=way.kind, **opened)
    store = partial(how.store, engine, settings)
    try:
        got = stored(engine, submission, settings.upload_lease_seconds, store, readings, stops=how.stops)
    except ProcessingFailed:
        if not how.told:
            raise
        got = None  # it ended failed, saying why and how to run it again: the answer is the upload as it ended
    return got if isinstance(got, Outcome) else Outcome(_now(engine, submission_id), None)


def resume(engine: Engine, settings: Settings, name: str, how: Again) -> list[int]:
    """Take up every upload of the way in named ``name`` (by its row) a stop cut off, and run it on; return their ids. A way left to a worker has
    each taken up by its worker (unfinished with its lease run out, or interrupted; its attempts counted); any other
    is marked interrupted and run again from its kept file."""
    way = row(name)
    mine = (col(Submission.kind) == way.kind, col(Submission.mode).in_(set(way.purposes.values())))
    now = datetime.now(UTC)
    with Session(engine) as session:
        if way.lease is not Lease.WORKER:
            # Its worker is gone: interrupted, as a start marks every such upload, so that it may be run again.
            lease.mark_expired(session, now, only=mine)
            session.commit()
        expired = or_(col(Submission.lease_until).is_(None), col(Submission.lease_until) < now)
        cut = col(Submission.status).in_(lease.UNFINISHED) & expired
        waiting = session.exec(
            select(Submission.id)
            .where(*mine, or_(cut, col(Submission.status) == "interrupted"))
            .order_by(col(Submission.id))
        ).all()
    ids = [int(i) for i in waiting if i is not None]
    resumed: list[int] = []
    for submission_id in ids:
        try:
            if way.lease is Lease.WORKER:
                assert how.take_up is not None
                how.take_up(engine, settings, submission_id)
            else:
                again(engine, settings, submission_id, name, how)
        except KeysRefused as exc:
            # Left resumable for a host whose keys are the deployment's; this one says why it took none up.
            log.error("%s uploads %s are left for a host whose records keys are accepted: %s", way.name, ids, exc)
            break
        resumed.append(submission_id)
    return resumed


def taken_up(
    engine: Engine,
    settings: Settings,
    submission_id: int,
    name: str,
    run: Callable[[Submission], None],
) -> Submission:
    """Claim for this worker an upload of the way in named ``name`` (by its row) left to a worker, and ``run`` it under its lease renewed; return it
    as it ended. Another worker's (or a finished one) is returned as it is; one that stopped its worker
    ``MAX_ATTEMPTS`` times ends failed. Any error ends it failed, its message naming only the error's kind (its
    text may quote a value of the records); a stop leaves its lease to run out, to be resumed; this host's keys
    refused leave it cut off (not failed) for a host that has them."""
    way = row(name)
    submission = lease.claim(engine, submission_id, kind=way.kind, seconds=settings.upload_lease_seconds)
    if submission is None:
        with Session(engine, expire_on_commit=False) as session:
            found = session.get(Submission, submission_id)
        if found is None or found.kind != way.kind:
            raise NotFound(head.NOT_ONE.get(way.kind, "Submission {id} does not exist").format(id=submission_id))
        return found
    if submission.attempts > MAX_ATTEMPTS:
        said = f"processing stopped its worker {MAX_ATTEMPTS} times; the file is kept, see the service's log"
        finish(engine, submission, problem_frame([]), status="failed", stage="failed", message=said)
        return submission
    with lease.held(engine, submission_id, settings.upload_lease_seconds):
        try:
            run(submission)
        except CutOff:
            log.warning("%s upload %s was taken over after this worker's lease ran out", way.name, submission_id)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise  # the process is stopping: its lease runs out and the upload is resumed
        except KeysRefused:
            # Refused part-way (the store took other keys meanwhile): cut off, not failed, for a host that has them.
            lease.cut_off_by_stop(engine, ids=[submission_id])
            raise
        except BaseException as exc:
            mark_failed(engine, submission, exc, quote=False, stage="failed")
    return _now(engine, submission_id)

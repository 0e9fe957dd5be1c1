"""Uploads processed in worker processes of their own, so the API process only answers requests.

Reading, validating and storing an upload is Python work that holds the interpreter lock for most of
its length; in the API's process every pull served beside it waited for the lock (a thread sleeping
1 ms woke up to 240 ms late while uploads ran). Each API worker therefore keeps one process per
upload slot and hands each upload to one of them, whole: the process keeps the raw file, records
the submission, takes and renews its lease (under its own worker identity) and stores the figures
in one transaction, exactly as in the API's process. The request waits for the answer on the event
loop, so an upload in hand holds none of the worker's request threads (pulls have them all).

The processes are started once (spawned, not forked: the API process runs threads) and keep what
they read per catalogue version. They ignore SIGINT and SIGTERM: the API worker stops them when it
shuts down, after the uploads in hand. If the API worker dies, its processes finish the upload they
hold (all or nothing) and then exit. If one of them dies mid-upload, nothing of that upload is
stored, its lease runs out and it is marked interrupted like any cut-off upload; its request is
answered with an error and the processes are replaced.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import multiprocessing
import os
import pickle
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Engine

from collectors.door.lease import process_prefix, release_on_stop
from onereturn.errors import OneReturnError, ProcessingFailed
from onereturn.memory import collector_off, freeze_startup_heap
from onereturn.processes import in_background
from onereturn.settings import Settings

if TYPE_CHECKING:
    # The upload path is imported by the processes as they start (``_warm``), not by the API worker with this module.
    from collectors.ways_in import FiguresSent, RecordFiles

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    """What an upload processed elsewhere came to: its submission's id (None for a dry run) and, for a dry
    run, its problems and counts (a stored upload's are read back from the store)."""

    submission_id: int | None
    duplicate: bool = False
    problems: pl.DataFrame | None = None
    rows_read: int = 0
    rows_accepted: int = 0
    #: The process's resident bytes once the upload was done (0 where that cannot be read).
    resident: int = 0


def process(engine: Engine, settings: Settings, request: FiguresSent | RecordFiles) -> Processed:
    """Run one upload in this process (as the worker processes do) and say what it came to: a file of figures (its
    outcome) or a SEN2 file (its upload, kept at the door)."""
    from collectors import ways_in
    from collectors.door.spine import Outcome
    from collectors.records.receiving import Received

    outcome = ways_in.take(engine, settings, request)
    if isinstance(outcome, Received):
        # A SEN2 file: kept at the door, its figures stored as its stage (an SSD extract never comes here).
        assert outcome.submission.id is not None
        return Processed(outcome.submission.id, duplicate=outcome.duplicate)
    assert isinstance(outcome, Outcome)
    if outcome.submission is None:
        validation = outcome.validation
        return Processed(
            None,
            problems=outcome.problems,
            rows_read=validation.rows_read if validation else 0,
            rows_accepted=validation.accepted.height if validation else 0,
        )
    assert outcome.submission.id is not None
    return Processed(outcome.submission.id, duplicate=outcome.duplicate)


# The worker process's own state: its engine, settings and whether an upload is in hand.
_engine: Engine | None = None
_settings: Settings | None = None
_busy = threading.Event()


def _start_worker(settings: Settings, url: str, parent: int, ready: Any) -> None:
    """Initialise a worker process: its own engine on the API's database, signals left to the API worker, and the
    upload path read before ``ready`` is released, so its first upload does not pay for it."""
    global _engine, _settings
    from onereturn import db

    _settings = settings
    # One upload at a time: its own session, its upload's, and the lease renewal.
    _engine = db.make_engine(url, threads=1)
    # At the priority the operator chose against requests; once the API worker is gone, the upload in hand is finished.
    in_background(parent, _busy, niceness=settings.upload_niceness)
    try:
        with collector_off():
            _warm()
        freeze_startup_heap()
    except Exception:
        # The first upload reads what is missing, and says so if it still cannot.
        log.exception("an upload process could not read the catalogue as it started")
    finally:
        ready.release()


def _warm() -> int:
    """Import the upload path and read what every upload needs, so the first upload does not pay for it."""
    from sqlmodel import Session

    from collectors.checks.context import shared_context
    from collectors.ways_in import way_in
    from indicators.store.models import FIGURES_KIND

    # The figures' way in taken as ``process`` takes it, so the first upload does not pay for importing the upload
    # path (every way in and the figures' service with it).
    way_in(FIGURES_KIND)

    assert _engine is not None
    # The catalogue's indicators, org units, code lists and rules: read per catalogue version and kept.
    # A renewed process reads them before its first upload arrives, not while it waits.
    with Session(_engine) as session:
        shared_context(session)
    return os.getpid()


def _run(request: FiguresSent | RecordFiles) -> Processed:
    from collectors.ways_in import FiguresSent

    assert _engine is not None
    assert _settings is not None
    _busy.set()
    # A file of figures comes spooled, read by the upload itself, which lets go of the bytes once they are read.
    spooled = request.data if isinstance(request, FiguresSent) and isinstance(request.data, Path) else None
    try:
        done = process(_engine, _settings, request)
        return dataclasses.replace(done, resident=_resident())
    except BaseException as exc:
        raise _portable(exc) from None
    finally:
        # The upload keeps its own copy of the raw file (collectors.door.head.keep_raw); the spooled one goes.
        if spooled is not None:
            Path(spooled).unlink(missing_ok=True)
        _busy.clear()


def _run_records(submission_id: int) -> Processed:
    """Take up one record-level upload in this process (DfE's rules, the figures derived and stored); what it left
    resident is said as a file of figures' is."""
    assert _engine is not None
    assert _settings is not None
    from collectors import ways_in

    _busy.set()
    try:
        ways_in.take_up(_engine, _settings, submission_id)
        return Processed(submission_id, resident=_resident())
    except BaseException as exc:
        raise _portable(exc) from None
    finally:
        _busy.clear()


def _records_done(future: Future[Processed]) -> None:
    exc = future.exception()
    if exc is not None:
        # The upload ends failed, or its lease runs out and the door's resume (door.resume) takes it up again.
        log.error("a record-level upload stopped in its upload process: %s", exc)


def _resident() -> int:
    """This process's resident bytes now (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives the trip to the API worker, else the same failure in words."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        if isinstance(exc, OneReturnError) and (plain := _plain(exc)) is not None:
            return plain
        from collectors.door.spine import failure_reason

        return ProcessingFailed(f"processing failed: {failure_reason(exc)}")
    return exc


def _plain(exc: OneReturnError) -> OneReturnError | None:
    """A domain error of a kind of its own that cannot be rebuilt from its message (a SEN2 file refused with its
    problems) as the kind of the exception family it is, with the same message and errors: answered alike."""
    for kind in type(exc).__mro__:
        if not issubclass(kind, OneReturnError) or kind.__module__ != OneReturnError.__module__:
            continue
        try:
            plain = kind(exc.message, errors=exc.errors)
            pickle.loads(pickle.dumps(plain))
        except Exception:
            continue
        return plain
    return None


def ended(process: BaseProcess, seconds: float) -> bool:
    """Whether the process ends within ``seconds``, by its sentinel, which is ready once it has exited whoever reaps it.

    Not ``join`` then ``is_alive``: the pool's own thread joins its processes as it stops too, and a process it
    reaped first looks alive to the other (its exit status is gone), so a stop found idle processes "still busy"."""
    try:
        return bool(wait_for([process.sentinel], seconds))
    except ValueError:  # closed: it ended and was let go of
        return True


class UploadPool:
    """One API worker's upload processes, one per upload slot."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._settings = settings
        self._url = engine.url.render_as_string(hide_password=False)
        self._engine = engine
        self._lock = threading.Lock()
        #: Record-level uploads handed to the processes and not yet ended there: a stop marks those it cut off.
        self._records: set[int] = set()
        self._executor, self._ready = self._start()
        #: Fresh processes starting to take over from grown ones, until they are ready.
        self._pending: ProcessPoolExecutor | None = None
        self._closed = False

    def _start(self) -> tuple[ProcessPoolExecutor, Any]:
        context = multiprocessing.get_context("spawn")
        # Released by each process once it has read the upload path (its initializer).
        ready = context.Semaphore(0)
        executor = ProcessPoolExecutor(
            max_workers=self._settings.upload_slots,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self._settings, self._url, os.getpid(), ready),
        )
        # A task each, so every process is started now (processes are spawned as tasks find none idle).
        for _ in range(self._settings.upload_slots):
            executor.submit(os.getpid)
        return executor, ready

    def _await_ready(self, ready: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for _ in range(self._settings.upload_slots):
            if not ready.acquire(timeout=max(0.0, deadline - time.monotonic())):
                return False
        return True

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Wait until every upload process has started and read the upload path; False if ``timeout`` passed first.

        The API worker waits for this before it serves, so no upload waits for a process still starting
        (a process spawned beside a busy server took seconds to import and read the catalogue).
        """
        with self._lock:
            ready = self._ready
        started = self._await_ready(ready, timeout)
        if not started:
            log.warning("the upload processes were not ready after %.0f s; uploads wait for them", timeout)
        return started

    async def run(self, request: FiguresSent | RecordFiles) -> Processed:
        """Process one upload in a worker process; the request waits on the event loop, holding no request thread."""
        with self._lock:
            executor = self._executor
        try:
            future: Future[Processed] = executor.submit(_run, request)
            done = await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._replace(executor)
            log.error("an upload process stopped while processing an upload; the processes are replaced")
            raise ProcessingFailed(
                "processing failed: the process handling the upload stopped; nothing of it was stored, "
                "send the file again"
            ) from exc
        self._renew_if_grown(executor, done)
        return done

    def _renew_if_grown(self, executor: ProcessPoolExecutor, done: Processed) -> None:
        if done.resident > self._settings.upload_process_resident_bytes:
            self._recycle(executor, done.resident)

    def start_records(self, submission_id: int) -> None:
        """Hand a received record-level upload to an upload process and return at once (the request is answered 202)."""
        with self._lock:
            executor = self._executor
        with self._lock:
            self._records.add(submission_id)
        try:
            future: Future[Processed] = executor.submit(_run_records, submission_id)
        except (BrokenProcessPool, RuntimeError):
            self._replace(executor)
            log.error(
                "no upload process took record-level submission %s; it is resumed once its lease runs out",
                submission_id,
            )
            return
        future.add_done_callback(_records_done)
        future.add_done_callback(lambda done: self._records_ended(submission_id, executor, done))

    def _records_ended(self, submission_id: int, executor: ProcessPoolExecutor, future: Future[Processed]) -> None:
        # One cancelled by a stop, or whose process died, stays: the stop marks it if it is still unfinished.
        if future.cancelled() or future.exception() is not None:
            return
        with self._lock:
            self._records.discard(submission_id)
        # A record-level upload leaves its process grown as a file of figures does: renewed alike.
        self._renew_if_grown(executor, future.result())

    def _recycle(self, grown: ProcessPoolExecutor, resident: int) -> None:
        # What a large upload leaves resident (polars' and the allocator's kept room) is given back only when
        # its process ends: new uploads go to fresh processes once they are ready, and the old ones end after
        # the uploads in hand (until then they still take new ones, rather than keep them waiting).
        with self._lock:
            if self._executor is not grown or self._pending is not None or self._closed:
                return
            fresh, ready = self._start()
            self._pending = fresh
        log.info("an upload process held %d MiB after an upload; the upload processes are renewed", resident >> 20)

        def switch() -> None:
            self._await_ready(ready, 120.0)
            with self._lock:
                if self._closed:
                    return  # close() stops the fresh processes too
                # What is current now: the grown processes, or those that replaced them if they broke meanwhile.
                old, self._executor, self._ready, self._pending = self._executor, fresh, ready, None
            old.shutdown(wait=False, cancel_futures=False)

        threading.Thread(target=switch, name="upload-processes-renewal", daemon=True).start()

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is broken:
                self._executor, self._ready = self._start()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes once the uploads in hand are done, or stop them as they are once the stop's time
        (``stop_seconds``) has passed."""
        timeout = self._settings.stop_seconds
        with self._lock:
            self._closed = True
            executors = [self._executor, *([self._pending] if self._pending is not None else [])]
        # Read before the shutdown, which lets go of them; the pool's own names (Python 3.14 adds kill_workers()).
        processes = [p for e in executors for p in (e._processes or {}).values()]
        pids = [p.pid for p in processes if p.pid is not None]
        managers: list[threading.Thread | None] = [getattr(e, "_executor_manager_thread", None) for e in executors]
        for executor in executors:
            executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        cut = 0
        for process in processes:
            if not ended(process, max(0.0, deadline - time.monotonic())):
                # An upload cut off here rolls back with its connection; once its lease runs out it is marked interrupted,
                # its raw file kept to run again.
                process.kill()
                process.join(5)
                cut += 1
        if cut:
            log.warning(
                "%d upload process(es) still busy after %.0f s were stopped; their uploads can be run again",
                cut,
                timeout,
            )
        for manager in managers:
            # The pool's own thread gives its queues' semaphores back as it ends, which it does once its processes have.
            if manager is not None:
                manager.join(5)
        with self._lock:
            handed = sorted(self._records)
        # Every process has ended: what they held unfinished (or never began) is marked cut off, so the next
        # start takes the record-level uploads up at once instead of waiting for their lease to run out.
        release_on_stop(self._engine, owners=[process_prefix(pid) for pid in pids], ids=handed)

"""The machinery scheduled jobs run in: what this process's scheduler runs with, the gate jobs pass while it
runs, and the record of each run.

A job is a function wrapped in ``job``: counted while it runs and not run at all once a stop is under way
(``STOP``) or while its scheduler does not hold its lock, so a stop can wait for the jobs in hand holding no
lock. ``run_once`` records each run once in ``job_run``, so a job fired twice has no second effect; ``once``
is a run recorded so, in a session of its own, with what it did.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ParamSpec

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from onereturn.models import JobRun
from onereturn.settings import Settings

# The scheduler's one logger, whichever module writes the line.
log = logging.getLogger("scheduler")
P = ParamSpec("P")

#: Set while this process's scheduler stops (or stands by for its lost lock): a job handed out now returns at
#: once, and a rebuild or a fetch in hand ends at its next check.
STOP = threading.Event()
#: What can be bound: the store, the settings, the lock and its keeper, the scheduler, the build process's store.
NAMES = frozenset({"engine", "settings", "lock", "keeper", "scheduler", "build_url"})
_bound: dict[str, Any] = {}


def bind(**values: Any) -> None:
    """Say what this process's scheduler runs with (any of ``NAMES``)."""
    unknown = set(values) - NAMES
    if unknown:
        raise TypeError(f"not a scheduler's binding: {', '.join(sorted(unknown))}")
    _bound.update(values)


def unbind(*names: str) -> None:
    """Forget what ``names`` were bound to (everything, without names)."""
    for name in names or tuple(_bound):
        _bound.pop(name, None)


def bound(name: str) -> Any:
    """What ``name`` is bound to in this process, or None."""
    return _bound.get(name)


def engine() -> Engine:
    """The store the jobs run on: the one bound, else the service's."""
    found = _bound.get("engine")
    if found is None:
        from onereturn import db

        found = db.get_engine()
    return found


def settings() -> Settings:
    """The settings the jobs run with: those bound, else the service's."""
    found = _bound.get("settings")
    if found is None:
        from onereturn.settings import get_settings

        found = get_settings()
    return found


class _Running:
    """The jobs running in this process's scheduler threads, counted so a stop can wait for them holding no lock.

    APScheduler's ``shutdown(wait=True)`` holds the job-store lock while it waits for the running jobs, and a job
    that adds or removes jobs (the reconcile) waits for that same lock: a stop during a reconcile never ended.
    A stop therefore first closes this gate and waits here, with no lock held, for the jobs in hand; a job
    handed out after the gate closed returns at once, so the shutdown that follows has nothing to wait for.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running: dict[str, int] = {}

    def enter(self, name: str) -> bool:
        with self._changed:
            if STOP.is_set():
                return False
            self._running[name] = self._running.get(name, 0) + 1
            return True

    def leave(self, name: str) -> None:
        with self._changed:
            self._running[name] -= 1
            if not self._running[name]:
                del self._running[name]
            self._changed.notify_all()

    def drain(self, timeout: float) -> list[str]:
        with self._changed:
            self._changed.wait_for(lambda: not self._running, timeout)
            return sorted(self._running)


_running = _Running()


def drain(timeout: float) -> list[str]:
    """Wait up to ``timeout`` seconds for the jobs running in this process to end; return those still running."""
    return _running.drain(timeout)


def shut_down(scheduler: Any, wait: float) -> None:
    """Stop a scheduler at any moment: no new runs, the running jobs given ``wait`` seconds to end, then shut down."""
    STOP.set()
    scheduler.pause()
    left = drain(wait)
    if left:
        # A job past its time holds no lock of the scheduler's (see _Running); it ends as a crash would leave it.
        log.warning("stopping without waiting for job(s) still running after %.0f s: %s", wait, ", ".join(left))
    # Waiting now is short: the jobs in threads are over, and the build process is stopped at once. Only a
    # pool shut down here gives its queues' semaphores back (the resource tracker warned of five leaked).
    scheduler.shutdown(wait=not left)
    # Its jobs are over: a rebuild run by hand later in this process runs to its end.
    STOP.clear()


def job(func: Callable[P, None]) -> Callable[P, None]:
    """Run ``func`` as a scheduled job: counted while it runs, and not at all once a stop is under way or while this
    scheduler does not hold its lock (``onereturn.locks.Keeper``)."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        keeper = _bound.get("keeper")
        if keeper is not None and not keeper.check():
            # Another scheduler may be the active one now: this one runs nothing until it holds the lock again.
            log.info("job %s not run: this scheduler does not hold its lock", func.__name__)
            return
        if not _running.enter(func.__name__):
            log.info("job %s not run: the scheduler is stopping", func.__name__)
            return
        try:
            func(*args, **kwargs)
        finally:
            _running.leave(func.__name__)

    return run


def holder_name() -> str:
    """Name this process for job runs and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def run_once(engine: Engine, job_id: str, scheduled_for: datetime) -> Iterator[bool]:
    """Claim a job run; yield False when it already ran (or is running), so the caller does nothing."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.add(JobRun(job_id=job_id, scheduled_for=scheduled_for, started_at=now, holder=holder_name()))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            log.info("job %s for %s already ran; skipped", job_id, scheduled_for.isoformat())
            yield False
            return
    outcome, detail = "ok", ""
    try:
        yield True
    except Exception as exc:
        outcome, detail = "error", f"{type(exc).__name__}: {exc}"
        log.exception("job %s failed", job_id)
        raise
    finally:
        values: dict[str, Any] = {"outcome": outcome, "finished_at": datetime.now(UTC)}
        if detail:
            values["detail"] = detail[:2000]
        with Session(engine) as session:
            session.execute(
                update(JobRun)
                .where(col(JobRun.job_id) == job_id, col(JobRun.scheduled_for) == scheduled_for)
                .values(**values)
            )
            session.commit()


def set_detail(engine: Engine, job_id: str, scheduled_for: datetime, detail: str) -> None:
    """Record what a job did."""
    with Session(engine) as session:
        session.execute(
            update(JobRun)
            .where(col(JobRun.job_id) == job_id, col(JobRun.scheduled_for) == scheduled_for)
            .values(detail=detail[:2000])
        )
        session.commit()


def once(job_id: str, scheduled_for: str, work: Callable[[Session], str]) -> None:
    """Run ``work`` once for the run of ``job_id`` scheduled for ``scheduled_for`` (ISO 8601), in a session committed
    after it, and record the detail it returns; nothing when that run already happened."""
    store, when = engine(), datetime.fromisoformat(scheduled_for)
    with run_once(store, job_id, when) as first:
        if not first:
            return
        with Session(store) as session:
            detail = work(session)
            session.commit()
        set_detail(store, job_id, when, detail)

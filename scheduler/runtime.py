"""The scheduler's machinery: its state in this process, the gate jobs pass while it runs, and the record of each run.

A job is a function wrapped in ``_job``: counted while it runs and not run at all once a stop is under
way, so a stop can wait for the jobs in hand holding no lock. ``run_once`` records each run once in
``job_run``, so a job fired twice has no second effect.
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

# The scheduler's one logger, whichever of its modules writes the line.
log = logging.getLogger("scheduler")
P = ParamSpec("P")


_state: dict[str, Any] = {}
#: Set while this process's scheduler stops: a rebuild in a scheduler thread ends after the return in hand.
_stopping = threading.Event()


class _Jobs:
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
        """Count a job in, or say no once a stop is under way."""
        with self._changed:
            if _stopping.is_set():
                return False
            self._running[name] = self._running.get(name, 0) + 1
            return True

    def leave(self, name: str) -> None:
        """Count a job out."""
        with self._changed:
            self._running[name] -= 1
            if not self._running[name]:
                del self._running[name]
            self._changed.notify_all()

    def drain(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the running jobs to end; return those still running."""
        with self._changed:
            self._changed.wait_for(lambda: not self._running, timeout)
            return sorted(self._running)


_jobs = _Jobs()


def _job(func: Callable[P, None]) -> Callable[P, None]:
    """Run ``func`` as a scheduled job: counted while it runs, and not at all once a stop is under way or while this
    scheduler does not hold its lock (``scheduler.lock.Keeper``)."""

    @functools.wraps(func)
    def job(*args: P.args, **kwargs: P.kwargs) -> None:
        keeper = _state.get("keeper")
        if keeper is not None and not keeper.check():
            # Another scheduler may be the active one now: this one runs nothing until it holds the lock again.
            log.info("job %s not run: this scheduler does not hold its lock", func.__name__)
            return
        if not _jobs.enter(func.__name__):
            log.info("job %s not run: the scheduler is stopping", func.__name__)
            return
        try:
            func(*args, **kwargs)
        finally:
            _jobs.leave(func.__name__)

    return job


PERIODIC = {
    "heartbeat": ("scheduler:job_heartbeat", 30),
    "deliver": ("scheduler:job_deliver", 60),
    "reopen-scan": ("scheduler:job_reopen_scan", 300),
    "reconcile": ("scheduler:job_reconcile", 3600),
    "rebuild": ("scheduler:job_rebuild", 5),
    "interrupted": ("scheduler:job_interrupted", 30),
    "records-resume": ("scheduler:job_records_resume", 30),
    "records-purge": ("scheduler:job_records_purge", 86400),
}


def periodic_jobs(settings: Settings) -> dict[str, tuple[str, float]]:
    """The periodic jobs and their seconds apart: the defaults, changed by ``scheduler_intervals``."""
    jobs: dict[str, tuple[str, float]] = dict(PERIODIC)
    for pair in filter(None, (p.strip() for p in settings.scheduler_intervals.split(","))):
        name, _, seconds = pair.partition("=")
        if name.strip() not in PERIODIC or not seconds.strip().replace(".", "", 1).isdigit() or not float(seconds):
            raise ValueError(f"ONERETURN_SCHEDULER_INTERVALS: {pair!r} is not name=seconds of a periodic job")
        jobs[name.strip()] = (PERIODIC[name.strip()][0], float(seconds))
    return jobs


def _on_schedule(job: Any, func: str, seconds: float) -> bool:
    """Whether a periodic job is already scheduled to run ``func`` every ``seconds``."""
    if job is None or job.func_ref != func:
        return False
    interval = getattr(job.trigger, "interval", None)
    return interval is not None and interval.total_seconds() == seconds


def holder_name() -> str:
    """Name this process for job runs and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


#: The executor that runs the rebuild job in a process of its own, when the scheduler has one.
BUILDS = "builds"
#: The build process's engines, by URL (one store, opened once for the life of the process).
_build_engines: dict[str, Engine] = {}


def _build_process_started(parent: int, log_json: bool, niceness: int) -> None:
    """Set up the build process: the API's kind of log lines, a priority ``niceness`` lower, and an exit when the
    API is gone."""
    from onereturn.logs import configure_logging
    from onereturn.processes import in_background

    configure_logging(as_json=log_json)
    # A build cut off by the API's end is rolled back with its connection; the next scheduler builds it again.
    in_background(parent, niceness=niceness)
    # The build path imported now, so the collector's full passes during builds skip it (and the first build
    # does not pay for the imports).
    import exports.freshness  # noqa: F401
    from onereturn.memory import freeze_startup_heap

    freeze_startup_heap()


def _builds_engine(url: str) -> Engine:
    engine = _build_engines.get(url)
    if engine is None:
        from onereturn import db

        engine = _build_engines[url] = db.make_engine(url, threads=1)
    return engine


def _engine() -> Engine:
    engine = _state.get("engine")
    if engine is None:
        from onereturn import db

        engine = db.get_engine()
    return engine


def _settings() -> Settings:
    found = _state.get("settings")
    if found is None:
        from onereturn.settings import get_settings

        found = get_settings()
    return found


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

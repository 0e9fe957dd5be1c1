"""The collection calendar's jobs (APScheduler 3): open, remind, remind approvers, build at close, overdue, re-open.

The calendar itself is computed in ``mappings/calendar.py``; jobs are reconciled from it on start
(explicit ids, ``replace_existing``), run in Europe/London time, and each run is recorded once in
``job_run``: a job fired twice (two schedulers, a restart, a manual trigger) has no second effect.
On PostgreSQL an advisory lock makes exactly one scheduler active; a second one waits and takes
over when the first dies, and one that loses its lock (its connection ended) runs nothing until it holds it
again (``scheduler/lock.py``). Nothing here starts at import. The machinery the jobs run in (the stop
gate, the record of runs) is ``scheduler/runtime.py``; the tables are in ``onereturn/models.py``.
"""

from __future__ import annotations

import gc
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from exports import service as exports
from exports.changes import reopened_builds
from mappings.agencies import Obligation
from mappings.calendar import (
    REMIND_WORKING_DAYS,
    agency_returns,
    calendar_entries,
    owed_for_entry,
    return_words,
    timetable_lines,
)
from mappings.deadlines import ENGLAND
from mappings.models import Agency, Return
from mappings.signoff.standing import OVERDUE_WORDS, SignoffStanding, signoff_standing
from mappings.signoff.states import MEANINGS
from onereturn import outbox
from onereturn.models import SchedulerHeartbeat
from onereturn.settings import Settings
from scheduler.lock import LOCK_KEY as LOCK_KEY  # named here too: the lock standbys and tests look for
from scheduler.lock import Keeper, SchedulerLock, acquire_lock
from scheduler.runtime import (
    BUILDS,
    _build_process_started,
    _builds_engine,
    _engine,
    _job,
    _jobs,
    _on_schedule,
    _settings,
    _state,
    _stopping,
    holder_name,
    log,
    periodic_jobs,
    run_once,
    set_detail,
)
from scheduler.runtime import (
    PERIODIC as PERIODIC,
)

#: Set when this process's scheduler is told to stop: a scheduler standing by for its lost lock stops waiting.
_released = threading.Event()
LOOKBACK = timedelta(days=14)
HORIZON = timedelta(days=400)
OFFICER = "performance-officer"


# --- jobs: module-level functions referenced as "scheduler:<name>" so job stores can name them ---


@_job
def job_open_window(return_id: str, period: str, scheduled_for: str) -> None:
    """Tell each agency of a return that its window for a period is open."""
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    with run_once(engine, f"open:{return_id}:{period}", when) as first:
        if not first:
            return
        with Session(engine) as session:
            agencies = [a for a, rets in agency_returns(session).items() if return_id in rets]
            words = return_words(session, return_id, period)
            for agency in agencies:
                owed = owed_for_entry(session, agency, return_id, period)
                outbox.queue(
                    session,
                    kind="notice",
                    recipient=_address(session, agency),
                    agency_code=agency,
                    subject=f"onereturn: {words} is open for figures",
                    body=f"The collection window for {words} ({return_id} {period}) is open. You owe {len(owed)} figure(s) for it.",
                    dedupe_key=f"open:{return_id}:{period}:{agency}",
                    now=datetime.now(UTC),
                )
            session.commit()
        set_detail(engine, f"open:{return_id}:{period}", when, f"notified {len(agencies)} agency(ies)")


@_job
def job_remind(agency_code: str, deadline: str, entries: list[list[str]], scheduled_for: str) -> None:
    """Send an agency one reminder listing every figure it still owes, once, across all its returns due that day."""
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    job_id = f"remind:{agency_code}:{deadline}"
    with run_once(engine, job_id, when) as first:
        if not first:
            return
        with Session(engine) as session:
            owed: dict[Obligation, list[str]] = {}
            for return_id, period in entries:
                for o in owed_for_entry(session, agency_code, return_id, period):
                    owed.setdefault(o, []).append(return_id)
            if owed:
                dates = timetable_lines(session, entries)
                lines = [
                    f"- {o.indicator_id} for {o.org_code}, {o.period}{(' (' + o.breakdown + ')') if o.breakdown else ''}: needed by {', '.join(sorted(set(r)))}"
                    for o, r in sorted(owed.items())
                ]
                outbox.queue(
                    session,
                    kind="reminder",
                    recipient=_address(session, agency_code),
                    agency_code=agency_code,
                    subject=f"onereturn: {len(owed)} figure(s) due by {deadline} for "
                    + "; ".join(sorted({return_words(session, r) for rets in owed.values() for r in rets})),
                    body="Figures still owed, each asked for once:\n"
                    + "\n".join(lines)
                    + ("\n\nDates to meet:\n" + "\n".join(dates) if dates else ""),
                    dedupe_key=job_id,
                    now=datetime.now(UTC),
                )
            session.commit()
        set_detail(engine, job_id, when, f"{len(owed)} figure(s) owed")


def signoff_path(return_id: str, period: str) -> str:
    """The page where an agency's approver reviews and signs off a return for a period."""
    return f"/signoffs/{quote(return_id, safe='')}/{quote(period, safe='')}"


def _waiting_line(session: Session, standing: SignoffStanding) -> str:
    missing = f"; {standing.missing} figure(s) still to send first" if standing.missing else ""
    return (
        f"- {return_words(session, standing.return_id, standing.period)} ({standing.return_id} {standing.period}): "
        f"{MEANINGS[standing.state]}{missing}. Review and sign off at {signoff_path(standing.return_id, standing.period)}"
    )


@_job
def job_remind_signoff(agency_code: str, deadline: str, entries: list[list[str]], scheduled_for: str) -> None:
    """Remind an agency's approvers, once, of every return and period due for sign-off that day not yet signed off
    (open, reopened or sent back); nothing is sent when all of them are signed off."""
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    job_id = f"remind-signoff:{agency_code}:{deadline}"
    with run_once(engine, job_id, when) as first:
        if not first:
            return
        with Session(engine) as session:
            waiting = [
                standing
                for return_id, period in entries
                if (standing := signoff_standing(session, agency_code, return_id, period)) is not None
                and not standing.signed
            ]
            if waiting:
                dates = timetable_lines(session, [[w.return_id, w.period] for w in waiting])
                outbox.queue(
                    session,
                    kind="reminder",
                    recipient=_address(session, agency_code),
                    agency_code=agency_code,
                    subject=f"onereturn: {len(waiting)} return(s) to sign off by {deadline}: "
                    + "; ".join(return_words(session, w.return_id, w.period) for w in waiting),
                    body="Not yet signed off by your approver (nothing reaches the recipient until it is):\n"
                    + "\n".join(_waiting_line(session, w) for w in waiting)
                    + ("\n\nDates to meet:\n" + "\n".join(dates) if dates else ""),
                    dedupe_key=job_id,
                    now=datetime.now(UTC),
                )
            session.commit()
        set_detail(engine, job_id, when, f"{len(waiting)} return(s) not signed off")


@_job
def job_build(return_id: str, period: str, scheduled_for: str) -> None:
    """Build every format of a return for a period at the close of its window."""
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    job_id = f"build:{return_id}:{period}"
    with run_once(engine, job_id, when) as first:
        if not first:
            return
        with Session(engine) as session:
            ret = session.get(Return, return_id)
            formats = (ret.formats if ret else []) or ["xlsx", "csv", "json", "sdmx-csv"]
            built = [snap.id for snap in exports.snapshots(session, return_id, period, formats)]
            session.commit()
        set_detail(engine, job_id, when, "snapshots " + ", ".join(map(str, built)))


@_job
def job_overdue(return_id: str, period: str, scheduled_for: str, milestone: str = "agency_deadline") -> None:
    """Mark what is overdue at a return's deadline and tell the agencies: at the agency deadline, the figures still
    missing; at the sign-off date (``milestone="signoff_deadline"``), the agencies whose figures are all in but not
    signed off, and the officer of every agency late for it and why."""
    if milestone == "signoff_deadline":
        _overdue_signoff(return_id, period, scheduled_for)
        return
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    job_id = f"overdue:{return_id}:{period}"
    with run_once(engine, job_id, when) as first:
        if not first:
            return
        late: dict[str, int] = {}
        with Session(engine) as session:
            words = return_words(session, return_id, period)
            for agency, rets in agency_returns(session).items():
                if return_id not in rets:
                    continue
                owed = owed_for_entry(session, agency, return_id, period)
                if owed:
                    late[agency] = len(owed)
                    outbox.queue(
                        session,
                        kind="overdue",
                        recipient=_address(session, agency),
                        agency_code=agency,
                        subject=f"onereturn: {len(owed)} figure(s) for {words} are overdue",
                        body=f"The deadline for {words} ({return_id} {period}) has passed with {len(owed)} figure(s) missing.",
                        dedupe_key=f"{job_id}:{agency}",
                        now=datetime.now(UTC),
                    )
            session.commit()
        set_detail(
            engine,
            job_id,
            when,
            ", ".join(f"{a}: {n} figure(s) missing" for a, n in sorted(late.items())) or "nothing overdue",
        )


def _overdue_signoff(return_id: str, period: str, scheduled_for: str) -> None:
    """At a sign-off date: tell each agency whose figures are all in but not signed off, and the officer of all late."""
    engine, when = _engine(), datetime.fromisoformat(scheduled_for)
    job_id = f"overdue-signoff:{return_id}:{period}"
    with run_once(engine, job_id, when) as first:
        if not first:
            return
        late: dict[str, SignoffStanding] = {}
        with Session(engine) as session:
            words = return_words(session, return_id, period)
            for agency, rets in sorted(agency_returns(session).items()):
                standing = signoff_standing(session, agency, return_id, period) if return_id in rets else None
                if standing is None or standing.reason is None:
                    continue
                late[agency] = standing
                if standing.reason == "not_signed_off":
                    outbox.queue(
                        session,
                        kind="overdue",
                        recipient=_address(session, agency),
                        agency_code=agency,
                        subject=f"onereturn: {words} is not signed off and its sign-off date has passed",
                        body=f"Your figures for {words} ({return_id} {period}) are all in, but {MEANINGS[standing.state]}: "
                        f"nothing reaches the recipient until your approver signs them off at {signoff_path(return_id, period)}.",
                        dedupe_key=f"{job_id}:{agency}",
                        now=datetime.now(UTC),
                    )
            if late:
                outbox.queue(
                    session,
                    kind="overdue",
                    recipient=OFFICER,
                    subject=f"onereturn: {len(late)} agency(ies) late signing off {words}",
                    body=f"The sign-off date for {words} ({return_id} {period}) has passed:\n"
                    + "\n".join(
                        f"- {a}: {OVERDUE_WORDS[s.reason]} ({MEANINGS[s.state]})" for a, s in late.items() if s.reason
                    ),
                    dedupe_key=job_id,
                    now=datetime.now(UTC),
                )
            session.commit()
        detail = ", ".join(f"{a}: {OVERDUE_WORDS[s.reason]}" for a, s in late.items() if s.reason)
        set_detail(engine, job_id, when, detail or "every agency signed off")


@_job
def job_reopen_scan() -> None:
    """Tell the officer which built returns a revised figure re-opens (once per build)."""
    engine = _engine()
    with Session(engine) as session:
        reopened = reopened_builds(session)
        for build, revised in reopened:
            outbox.queue(
                session,
                kind="notice",
                recipient=OFFICER,
                subject=f"onereturn: a revised figure re-opens {return_words(session, build.return_id, build.period)}",
                body=f"{len(revised)} figure(s) behind build {build.id} of {build.return_id} {build.period} were revised after it was built: "
                + ", ".join(sorted(revised)[:20]),
                dedupe_key=f"reopen:{build.return_id}:{build.period}:{build.id}",
                now=datetime.now(UTC),
            )
        session.commit()


@_job
def job_deliver() -> None:
    """Send queued messages that are due (a no-op without SMTP settings: they stay on the API)."""
    config = outbox.smtp_config()
    if config is None:
        return
    with Session(_engine()) as session:
        outbox.deliver_due(session, config, now=datetime.now(UTC))
        session.commit()


@_job
def job_rebuild(database_url: str | None = None) -> None:
    """Rebuild the returns that changes made stale, so pulls find a current snapshot waiting (in the build
    process, on the store at ``database_url``)."""
    from exports.freshness import rebuild_stale

    rebuilt = rebuild_stale(_engine() if database_url is None else _builds_engine(database_url), _stopping.is_set)
    if rebuilt:
        log.info("rebuilt %d stale return(s)", rebuilt)


@_job
def job_interrupted() -> None:
    """Mark uploads whose worker is gone (their lease ran out) as interrupted, so they can be run again."""
    from collectors.lease import mark_expired

    with Session(_engine()) as session:
        marked = mark_expired(session)
        session.commit()
    if marked:
        log.warning("%d upload(s) were cut off when their worker stopped; their raw files are kept", marked)


@_job
def job_records_resume() -> None:
    """Take up record-level uploads whose worker stopped (their lease ran out) and run them on to their end."""
    from collectors.records.service import resume_records

    resumed = resume_records(_engine(), _settings())
    if resumed:
        log.warning("resumed %d record-level upload(s) whose worker had stopped: %s", len(resumed), resumed)


@_job
def job_records_purge() -> None:
    """Delete record-level raw files and child-level rows past the retention period (daily); figures stay."""
    from collectors.records.retention import purge

    done = purge(_engine(), _settings())
    if done.submissions:
        log.info(
            "purged %d record-level upload(s): %d file(s), %d child-level row(s)",
            done.submissions,
            done.files,
            done.rows,
        )


@_job
def job_published_fetch() -> None:
    """Ask each publisher's API for releases not yet read and import them (on when the operator turns it on)."""
    from collectors.published.fetch import fetch_all

    report = fetch_all(_engine(), _settings(), stop=_stopping)
    for source, why in report.failed:
        log.warning("published fetch of %s failed, nothing stored: %s", source, why)
    if report.imported:
        log.info("published fetch imported %d release(s)", len(report.imported))


@_job
def job_heartbeat() -> None:
    """Record that this scheduler is alive and active (on its lock's connection, so never once the lock is gone)."""
    lock = _state.get("lock")
    if isinstance(lock, SchedulerLock):
        if not lock.beat():
            keeper = _state.get("keeper")
            if keeper is not None:
                keeper.lost()
        return
    now = datetime.now(UTC)
    with Session(_engine()) as session:
        beat = session.get(SchedulerHeartbeat, holder_name())
        if beat is None:
            session.add(SchedulerHeartbeat(holder=holder_name(), active_since=now, beat_at=now))
        else:
            beat.beat_at = now
        session.commit()


def _address(session: Session, agency_code: str) -> str:
    agency = session.get(Agency, agency_code)
    return agency.email if agency is not None and agency.email else agency_code


@dataclass(frozen=True)
class PlannedJob:
    """One job the calendar asks for: its id, when, the function and its arguments."""

    id: str
    at: datetime
    func: str
    kwargs: dict[str, Any]


def planned_jobs(session: Session, now: datetime) -> list[PlannedJob]:
    """List every job the calendar asks for from the lookback window to the horizon."""
    zone = ZoneInfo("Europe/London")
    start, end = (now - LOOKBACK).date() - timedelta(days=400), (now + HORIZON).date()
    entries = [e for e in calendar_entries(session, start, end) if now - LOOKBACK <= e.at <= now + HORIZON]
    jobs: list[PlannedJob] = []
    for e in entries:
        args = {"return_id": e.return_id, "period": e.period, "scheduled_for": e.at.isoformat()}
        if e.kind == "window_opens":
            jobs.append(PlannedJob(f"open:{e.return_id}:{e.period}", e.at, "scheduler:job_open_window", args))
        elif e.kind == "build":
            jobs.append(PlannedJob(f"build:{e.return_id}:{e.period}", e.at, "scheduler:job_build", args))
        elif e.kind == "agency_deadline":
            jobs.append(PlannedJob(f"overdue:{e.return_id}:{e.period}", e.at, "scheduler:job_overdue", args))
        elif e.kind == "signoff_deadline":
            jobs.append(
                PlannedJob(
                    f"overdue-signoff:{e.return_id}:{e.period}",
                    e.at,
                    "scheduler:job_overdue",
                    {**args, "milestone": "signoff_deadline"},
                )
            )
    owners = agency_returns(session)
    # One reminder per agency and day: of the figures it owes by an agency deadline, and (to its approvers) of the
    # returns to sign off by a sign-off date.
    for kind, name, func in (
        ("agency_deadline", "remind", "scheduler:job_remind"),
        ("signoff_deadline", "remind-signoff", "scheduler:job_remind_signoff"),
    ):
        by_agency: dict[tuple[str, date], list[list[str]]] = {}
        for e in entries:
            if e.kind != kind:
                continue
            for agency, rets in owners.items():
                if e.return_id in rets:
                    by_agency.setdefault((agency, e.at.astimezone(zone).date()), []).append([e.return_id, e.period])
        for (agency, day), items in sorted(by_agency.items()):
            remind_day = ENGLAND.add_working_days(day, -REMIND_WORKING_DAYS)
            at = datetime.combine(remind_day, time(9, 0), tzinfo=zone)
            if now - LOOKBACK <= at:
                jobs.append(
                    PlannedJob(
                        f"{name}:{agency}:{day.isoformat()}",
                        at,
                        func,
                        {
                            "agency_code": agency,
                            "deadline": day.isoformat(),
                            "entries": items,
                            "scheduled_for": at.isoformat(),
                        },
                    )
                )
    return sorted(jobs, key=lambda j: (j.at, j.id))


def build_scheduler(settings: Settings, *, build_process: bool = False) -> Any:
    """Create (not start) a scheduler with explicit defaults: coalesce, one instance, a wide misfire grace; with
    ``build_process``, an executor of one process of its own for the rebuild job."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    executors: dict[str, Any] = {"default": ThreadPoolExecutor(10)}
    if build_process:
        executors[BUILDS] = _build_executor(settings)
    return BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors=executors,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(LOOKBACK.total_seconds())},
        timezone=ZoneInfo(settings.timezone),
    )


def _build_executor(settings: Settings) -> Any:
    """An executor of one process of its own for the rebuild job, whose shutdown stops that process at once,
    whatever it is building."""
    import multiprocessing
    from concurrent.futures.process import BrokenProcessPool

    from apscheduler.executors.pool import ProcessPoolExecutor

    class BuildExecutor(ProcessPoolExecutor):  # type: ignore[misc]  # apscheduler ships no types
        stopping = False

        def shutdown(self, wait: bool = True) -> None:
            # Waiting for the build in hand kept `serve` from stopping for over a minute on a busy host, where
            # the build process's lower priority gives it little of the cores. A build cut off is rolled back
            # with its connection and its return stays stale, so the next scheduler builds it again.
            self.stopping = True
            # The pool's own processes (Python 3.14 names this kill_workers()); a result is one write of a few
            # hundred bytes, so a kill never leaves half of one in the queue the pool reads.
            for process in list((self._pool._processes or {}).values()):
                process.kill()
            super().shutdown(wait)

        def _run_job_error(self, job_id: str, exc: BaseException, traceback: Any = None) -> None:
            if self.stopping and isinstance(exc, BrokenProcessPool):
                log.info("the build in hand was stopped with the service; the next start builds it again")
                # Ends the run's count as a success would (with no events to send), without a traceback.
                self._run_job_success(job_id, [])
            else:
                super()._run_job_error(job_id, exc, traceback)

    # Spawned, not forked: the API process runs threads (polars' among them) that a fork would copy mid-work.
    start = {
        "initializer": _build_process_started,
        "initargs": (os.getpid(), settings.log_json, settings.build_niceness),
    }
    return BuildExecutor(1, pool_kwargs={"mp_context": multiprocessing.get_context("spawn"), **start})


def start_reconciled(scheduler: Any, engine: Engine) -> dict[str, int]:
    """Start paused, reconcile the jobs, then resume, so ids are replaced in a live job store."""
    scheduler.start(paused=True)
    counts = reconcile(scheduler, engine, datetime.now(UTC))
    scheduler.resume()
    return counts


@_job
def job_reconcile() -> None:
    """Re-read the calendar and bring the scheduled jobs in line with it."""
    scheduler = _state.get("scheduler")
    if scheduler is not None:
        reconcile(scheduler, _engine(), datetime.now(UTC))


def reconcile(scheduler: Any, engine: Engine, now: datetime) -> dict[str, int]:
    """Add or replace every planned job, run missed ones now, and remove jobs the calendar no longer has."""
    with Session(engine) as session:
        planned = planned_jobs(session, now)
    wanted = set()
    missed = 0
    for job in planned:
        run_at = job.at if job.at > now else now + timedelta(seconds=1)
        missed += job.at <= now
        scheduler.add_job(
            job.func, trigger="date", run_date=run_at, id=job.id, kwargs=job.kwargs, replace_existing=True
        )
        wanted.add(job.id)
    build_url = _state.get("build_url")
    periodic = periodic_jobs(_settings())
    if _settings().published_fetch:
        periodic["published-fetch"] = ("scheduler:job_published_fetch", _settings().published_fetch_hours * 3600)
    for name, (func, seconds) in periodic.items():
        # Building holds the interpreter lock for long stretches (writing a workbook cell by cell): in a
        # process of its own it never keeps the API's requests waiting for the lock.
        apart = name == "rebuild" and build_url is not None
        wanted.add(f"periodic:{name}")
        if _on_schedule(scheduler.get_job(f"periodic:{name}"), func, seconds):
            # Added again with its next run a second away, every periodic job (this one among them) ran every
            # second: reconciling leaves a job that is already on its schedule alone.
            continue
        scheduler.add_job(
            func,
            trigger="interval",
            seconds=seconds,
            id=f"periodic:{name}",
            replace_existing=True,
            next_run_time=now + timedelta(seconds=1),
            **({"executor": BUILDS, "kwargs": {"database_url": build_url}} if apart else {}),
        )
    removed = 0
    for job in scheduler.get_jobs():
        if job.id not in wanted:
            job.remove()
            removed += 1
    return {"planned": len(planned), "missed_now_due": missed, "removed": removed}


def start_embedded(engine: Engine, settings: Settings) -> Any | None:
    """Start the scheduler inside the API process (single-process deployments); None if another is active."""
    lock = acquire_lock(engine, wait=False)
    if lock is None:
        log.info("another scheduler is active; the API runs without one")
        return None
    _state.update(engine=engine, lock=lock, settings=settings)
    _stopping.clear()
    _released.clear()
    # A store in memory cannot be opened from another process.
    apart = settings.build_process and engine.url.database not in (None, "", ":memory:")
    if apart:
        _state["build_url"] = engine.url.render_as_string(hide_password=False)
    scheduler = build_scheduler(settings, build_process=apart)
    _state["scheduler"] = scheduler
    _keep(scheduler, engine, lock, settings)
    log.info("scheduler started in the API process: %s", start_reconciled(scheduler, engine))
    return scheduler


def _keep(scheduler: Any, engine: Engine, lock: SchedulerLock, settings: Settings) -> None:
    """Hold the scheduler to its lock: no job runs without it, and a lock lost is taken again as a standby would."""

    def resume() -> None:
        job_heartbeat()
        log.info("reconciled: %s", reconcile(scheduler, engine, datetime.now(UTC)))
        scheduler.resume()

    _state["keeper"] = Keeper(lock, scheduler, drain_seconds=settings.stop_seconds, signalled=_released, resume=resume)


def shut_down(scheduler: Any, wait: float) -> None:
    """Stop a scheduler at any moment: no new runs, the running jobs given ``wait`` seconds to end, then shut down."""
    _stopping.set()
    scheduler.pause()
    left = _jobs.drain(wait)
    if left:
        # A job past its time holds no lock of the scheduler's (see _Jobs); it ends as a crash would leave it.
        log.warning("stopping without waiting for job(s) still running after %.0f s: %s", wait, ", ".join(left))
    # Waiting now is short: the jobs in threads are over, and the build process is stopped at once. Only a
    # pool shut down here gives its queues' semaphores back (the resource tracker warned of five leaked).
    scheduler.shutdown(wait=not left)
    # Its jobs are over: a rebuild run by hand later in this process runs to its end.
    _stopping.clear()


def stop_embedded(scheduler: Any | None, wait: float) -> None:
    """Stop an embedded scheduler, its running jobs given ``wait`` seconds to end, and release its lock."""
    _released.set()
    if scheduler is not None:
        shut_down(scheduler, wait)
    _state.pop("keeper", None)
    lock = _state.pop("lock", None)
    if isinstance(lock, SchedulerLock):
        lock.release()
    _state.pop("scheduler", None)
    _state.pop("build_url", None)


def run(engine: Engine, settings: Settings) -> None:
    """Run the scheduler as its own process: wait for the lock, then run jobs until stopped."""
    import signal

    _stopping.clear()
    _released.clear()

    def stop(*_: Any) -> None:
        _released.set()
        # The same flag ends a rebuild in a scheduler thread after the return in hand, so the stop waits for one.
        _stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    lock = acquire_lock(engine, wait=True, stop=_released)
    if lock is None:
        return
    _state.update(engine=engine, lock=lock, settings=settings)
    log.info("%s is the active scheduler", holder_name())
    job_heartbeat()
    scheduler = build_scheduler(settings)
    _state["scheduler"] = scheduler
    _keep(scheduler, engine, lock, settings)
    log.info("reconciled: %s", start_reconciled(scheduler, engine))
    from onereturn.memory import freeze_startup_heap, thaw_startup_heap

    # Measured under load on PostgreSQL: 20 full collections a minute, each walking the ~150,000 objects
    # the process made as it started (of ~200,000), beside builds in its threads.
    freeze_startup_heap()
    log.info("startup heap frozen: %d objects the collector no longer walks", gc.get_freeze_count())
    try:
        _released.wait()
    finally:
        shut_down(scheduler, settings.stop_seconds)
        from collectors.lease import release_on_stop

        # A record-level upload its resume job still held is taken up at once by the next start.
        release_on_stop(engine)
        _state.pop("keeper", None)
        lock.release()
        thaw_startup_heap()

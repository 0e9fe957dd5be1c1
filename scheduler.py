"""The collection calendar's jobs (APScheduler 3): open, remind, remind approvers, build at close, overdue, re-open.

The calendar itself is computed in ``mappings/calendar.py`` and the notices' words in ``mappings/notices.py``;
jobs are reconciled from it on start (explicit ids, ``replace_existing``), run in Europe/London time, and each
run is recorded once in ``job_run``: a job fired twice (two schedulers, a restart, a manual trigger) has no
second effect. On PostgreSQL an advisory lock makes exactly one scheduler active; a second one waits and takes
over when the first dies, and one that loses its lock (its connection ended) runs nothing until it holds it
again (``onereturn/locks.py``). Nothing here starts at import. The machinery the jobs run in (the stop gate, the
record of runs) is ``onereturn/jobs.py``; the build process is ``onereturn/processes.py``; the tables are in
``onereturn/models.py``. Jobs are named by their functions: APScheduler keeps them as they are (the job store
is in memory), and the build process finds its job by the function's module and name.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from exports import service as exports
from exports.changes import reopened_builds
from mappings import notices
from mappings.calendar import (
    agency_returns,
    calendar_entries,
    owed_for_entry,
    return_words,
)
from mappings.models import Return
from mappings.signoff.standing import SignoffStanding, signoff_standing
from onereturn import jobs, outbox
from onereturn.errors import OneReturnError
from onereturn.jobs import job, log, once, shut_down
from onereturn.locks import LOCK_KEY as LOCK_KEY  # named here too: the lock standbys and tests look for
from onereturn.locks import Keeper, SchedulerLock, acquire_lock
from onereturn.models import SchedulerHeartbeat
from onereturn.processes import build_executor, builds_engine
from onereturn.settings import Settings
from onereturn.workspace import clear_left

#: Set when this process's scheduler is told to stop: a scheduler standing by for its lost lock stops waiting.
_released = threading.Event()
LOOKBACK = timedelta(days=14)
HORIZON = timedelta(days=400)
#: The executor that runs the rebuild job in a process of its own, when the scheduler has one.
BUILDS = "builds"
#: A job: a module-level function of this module, so the build process finds it by its module and name.
Job = Callable[..., None]


# --- jobs: module-level functions, added to the scheduler as they are ---


@job
def job_open_window(return_id: str, period: str, scheduled_for: str) -> None:
    """Tell each agency of a return that its window for a period is open."""

    def work(session: Session) -> str:
        agencies = [a for a, rets in agency_returns(session).items() if return_id in rets]
        words = return_words(session, return_id, period)
        for agency in agencies:
            owed = owed_for_entry(session, agency, return_id, period)
            notice = notices.window_open(words, return_id, period, len(owed))
            notices.queue(session, "notice", agency, notice, f"open:{return_id}:{period}:{agency}", agency=True)
        return f"notified {len(agencies)} agency(ies)"

    once(f"open:{return_id}:{period}", scheduled_for, work)


@job
def job_remind(agency_code: str, deadline: str, entries: list[list[str]], scheduled_for: str) -> None:
    """Send an agency one reminder listing every figure it still owes, once, across all its returns due that day."""
    job_id = f"remind:{agency_code}:{deadline}"

    def work(session: Session) -> str:
        owed = notices.owed_figures(session, agency_code, entries)
        if owed:
            notice = notices.figures_reminder(session, deadline, entries, owed)
            notices.queue(session, "reminder", agency_code, notice, job_id, agency=True)
        return f"{len(owed)} figure(s) owed"

    once(job_id, scheduled_for, work)


@job
def job_remind_signoff(agency_code: str, deadline: str, entries: list[list[str]], scheduled_for: str) -> None:
    """Remind an agency's approvers, once, of every return and period due for sign-off that day not yet signed off
    (open, reopened or sent back); nothing is sent when all of them are signed off."""
    job_id = f"remind-signoff:{agency_code}:{deadline}"

    def work(session: Session) -> str:
        waiting = notices.not_signed_off(session, agency_code, entries)
        if waiting:
            notice = notices.signoff_reminder(session, deadline, waiting)
            notices.queue(session, "reminder", agency_code, notice, job_id, agency=True)
        return f"{len(waiting)} return(s) not signed off"

    once(job_id, scheduled_for, work)


@job
def job_build(return_id: str, period: str, scheduled_for: str) -> None:
    """Build every format of a return for a period at the close of its window."""

    def work(session: Session) -> str:
        ret = session.get(Return, return_id)
        formats = (ret.formats if ret else []) or ["xlsx", "csv", "json", "sdmx-csv"]
        return "snapshots " + ", ".join(str(snap.id) for snap in exports.snapshots(session, return_id, period, formats))

    once(f"build:{return_id}:{period}", scheduled_for, work)


@job
def job_overdue(return_id: str, period: str, scheduled_for: str, milestone: str = "agency_deadline") -> None:
    """Mark what is overdue at a return's deadline and tell the agencies: at the agency deadline, the figures still
    missing; at the sign-off date (``milestone="signoff_deadline"``), the agencies whose figures are all in but not
    signed off, and the officer of every agency late for it and why."""
    if milestone == "signoff_deadline":
        _overdue_signoff(return_id, period, scheduled_for)
        return
    job_id = f"overdue:{return_id}:{period}"

    def work(session: Session) -> str:
        late: dict[str, int] = {}
        words = return_words(session, return_id, period)
        for agency, rets in agency_returns(session).items():
            if return_id not in rets:
                continue
            owed = owed_for_entry(session, agency, return_id, period)
            if owed:
                late[agency] = len(owed)
                notice = notices.figures_overdue(words, return_id, period, len(owed))
                notices.queue(session, "overdue", agency, notice, f"{job_id}:{agency}", agency=True)
        return ", ".join(f"{a}: {n} figure(s) missing" for a, n in sorted(late.items())) or "nothing overdue"

    once(job_id, scheduled_for, work)


def _overdue_signoff(return_id: str, period: str, scheduled_for: str) -> None:
    """At a sign-off date: tell each agency whose figures are all in but not signed off, and the officer of all late."""
    job_id = f"overdue-signoff:{return_id}:{period}"

    def work(session: Session) -> str:
        late: dict[str, SignoffStanding] = {}
        words = return_words(session, return_id, period)
        for agency, rets in sorted(agency_returns(session).items()):
            standing = signoff_standing(session, agency, return_id, period) if return_id in rets else None
            if standing is None or standing.reason is None:
                continue
            late[agency] = standing
            if standing.reason == "not_signed_off":
                notice = notices.signoff_overdue(words, return_id, period, standing)
                notices.queue(session, "overdue", agency, notice, f"{job_id}:{agency}", agency=True)
        if late:
            notice = notices.late_signoffs(words, return_id, period, late)
            notices.queue(session, "overdue", notices.OFFICER, notice, job_id, agency=False)
        return notices.late_words(late) or "every agency signed off"

    once(job_id, scheduled_for, work)


@job
def job_reopen_scan() -> None:
    """Tell the officer which built returns a revised figure re-opens (once per build)."""
    with Session(jobs.engine()) as session:
        for build, revised in reopened_builds(session):
            words = return_words(session, build.return_id, build.period)
            notice = notices.reopened(words, build.return_id, build.period, build.id, revised)
            key = f"reopen:{build.return_id}:{build.period}:{build.id}"
            notices.queue(session, "notice", notices.OFFICER, notice, key, agency=False)
        session.commit()


@job
def job_deliver() -> None:
    """Send queued messages that are due (a no-op without SMTP settings: they stay on the API)."""
    config = outbox.smtp_config()
    if config is None:
        return
    with Session(jobs.engine()) as session:
        outbox.deliver_due(session, config, now=datetime.now(UTC))
        session.commit()


@job
def job_rebuild(database_url: str | None = None) -> None:
    """Rebuild the returns that changes made stale, so pulls find a current snapshot waiting (in the build
    process, on the store at ``database_url``)."""
    from exports.freshness import rebuild_stale

    rebuilt = rebuild_stale(jobs.engine() if database_url is None else builds_engine(database_url), jobs.STOP.is_set)
    if rebuilt:
        log.info("rebuilt %d stale return(s)", rebuilt)


@job
def job_interrupted() -> None:
    """Mark uploads whose worker is gone (their lease ran out) as interrupted, so they can be run again."""
    from collectors.door.lease import mark_expired

    with Session(jobs.engine()) as session:
        marked = mark_expired(session)
        session.commit()
    if marked:
        log.warning("%d upload(s) were cut off when their worker stopped; their raw files are kept", marked)


@job
def job_records_resume() -> None:
    """Take up uploads whose worker stopped (their lease ran out: record-level ones) and run them on to their end."""
    from collectors.ways_in import resume_all

    for way, resumed in resume_all(jobs.engine(), jobs.settings()).items():
        log.warning("resumed %d upload(s) of the way %s whose worker had stopped: %s", len(resumed), way, resumed)


@job
def job_records_purge() -> None:
    """Delete record-level raw files and child-level rows past the retention period (daily); figures stay."""
    from collectors.retention import purge

    done = purge(jobs.engine(), jobs.settings())
    if done.submissions:
        log.info(
            "purged %d record-level upload(s): %d file(s), %d child-level row(s)",
            done.submissions,
            done.files,
            done.rows,
        )


@job
def job_published_fetch() -> None:
    """Ask each publisher's API for releases not yet read and import them (on when the operator turns it on)."""
    from collectors import ways_in
    from collectors.published.fetch import fetch_all

    engine, settings = jobs.engine(), jobs.settings()
    report = fetch_all(engine, settings, stop=jobs.STOP, take=ways_in.releases(engine, settings))
    for source, why in report.failed:
        log.warning("published fetch of %s failed, nothing stored: %s", source, why)
    if report.imported:
        log.info("published fetch imported %d release(s)", len(report.imported))


@job
def job_establishments_fetch() -> None:
    """Download GIAS's newest register of establishments and load it (on when the operator turns it on)."""
    from mappings.establishments.fetch import fetch_register

    try:
        outcome = fetch_register(jobs.engine(), jobs.settings(), stop=jobs.STOP)
    except OneReturnError as exc:
        log.warning("register of establishments not downloaded, the register held is unchanged: %s", exc.message)
        return
    if not outcome.loaded:
        log.info("register of establishments already the newest GIAS has (%s)", outcome.url)


@job
def job_ssd_read(agency_code: str) -> None:
    """Read a council's SSD from its own database and take it as an uploaded extract is (a failure is recorded)."""
    from collectors import ways_in
    from collectors.ssd.database import scheduled_read

    engine, settings = jobs.engine(), jobs.settings()
    scheduled_read(engine, settings, agency_code, take=ways_in.extracts(engine, settings))


@job
def job_heartbeat() -> None:
    """Record that this scheduler is alive and active (on its lock's connection, so never once the lock is gone)."""
    lock = jobs.bound("lock")
    if isinstance(lock, SchedulerLock):
        if not lock.beat():
            keeper = jobs.bound("keeper")
            if keeper is not None:
                keeper.lost()
        return
    now = datetime.now(UTC)
    with Session(jobs.engine()) as session:
        beat = session.get(SchedulerHeartbeat, jobs.holder_name())
        if beat is None:
            session.add(SchedulerHeartbeat(holder=jobs.holder_name(), active_since=now, beat_at=now))
        else:
            beat.beat_at = now
        session.commit()


@job
def job_reconcile() -> None:
    """Re-read the calendar and bring the scheduled jobs in line with it."""
    scheduler = jobs.bound("scheduler")
    if scheduler is not None:
        reconcile(scheduler, jobs.engine(), datetime.now(UTC))


PERIODIC: dict[str, tuple[Job, float]] = {
    "heartbeat": (job_heartbeat, 30),
    "deliver": (job_deliver, 60),
    "reopen-scan": (job_reopen_scan, 300),
    "reconcile": (job_reconcile, 3600),
    "rebuild": (job_rebuild, 5),
    "interrupted": (job_interrupted, 30),
    "records-resume": (job_records_resume, 30),
    "records-purge": (job_records_purge, 86400),
}


def periodic_jobs(settings: Settings) -> dict[str, tuple[Job, float]]:
    """The periodic jobs and their seconds apart: the defaults, changed by ``scheduler_intervals``."""
    found: dict[str, tuple[Job, float]] = dict(PERIODIC)
    for pair in filter(None, (p.strip() for p in settings.scheduler_intervals.split(","))):
        name, _, seconds = pair.partition("=")
        if name.strip() not in PERIODIC or not seconds.strip().replace(".", "", 1).isdigit() or not float(seconds):
            raise ValueError(f"ONERETURN_SCHEDULER_INTERVALS: {pair!r} is not name=seconds of a periodic job")
        found[name.strip()] = (PERIODIC[name.strip()][0], float(seconds))
    return found


def _on_schedule(scheduled: Any, func: Job, seconds: float) -> bool:
    """Whether a periodic job is already scheduled to run ``func`` every ``seconds``."""
    if scheduled is None or scheduled.func is not func:
        return False
    interval = getattr(scheduled.trigger, "interval", None)
    return interval is not None and interval.total_seconds() == seconds


@dataclass(frozen=True)
class PlannedJob:
    """One job the calendar asks for: its id, when, the function and its arguments."""

    id: str
    at: datetime
    func: Job
    kwargs: dict[str, Any]


#: The job each dated step of the calendar asks for, and the prefix of its id.
_AT_STEP: dict[str, tuple[str, Job]] = {
    "window_opens": ("open", job_open_window),
    "build": ("build", job_build),
    "agency_deadline": ("overdue", job_overdue),
    "signoff_deadline": ("overdue-signoff", job_overdue),
}
#: The reminders: to each agency, once a day, of the figures it owes by an agency deadline, and (to its approvers)
#: of the returns to sign off by a sign-off date.
_REMINDERS: tuple[tuple[str, str, Job], ...] = (
    ("agency_deadline", "remind", job_remind),
    ("signoff_deadline", "remind-signoff", job_remind_signoff),
)


def planned_jobs(session: Session, now: datetime) -> list[PlannedJob]:
    """List every job the calendar asks for from the lookback window to the horizon."""
    start, end = (now - LOOKBACK).date() - timedelta(days=400), (now + HORIZON).date()
    entries = [e for e in calendar_entries(session, start, end) if now - LOOKBACK <= e.at <= now + HORIZON]
    planned: list[PlannedJob] = []
    for e in entries:
        if e.kind not in _AT_STEP:
            continue
        name, func = _AT_STEP[e.kind]
        args = {"return_id": e.return_id, "period": e.period, "scheduled_for": e.at.isoformat()}
        if e.kind == "signoff_deadline":
            args["milestone"] = "signoff_deadline"
        planned.append(PlannedJob(f"{name}:{e.return_id}:{e.period}", e.at, func, args))
    owners = agency_returns(session)
    for kind, name, func in _REMINDERS:
        for agency, day, at, items in notices.reminder_days(entries, owners, kind):
            if now - LOOKBACK <= at:
                kwargs = {"agency_code": agency, "deadline": day.isoformat(), "entries": items}
                planned.append(
                    PlannedJob(
                        f"{name}:{agency}:{day.isoformat()}", at, func, {**kwargs, "scheduled_for": at.isoformat()}
                    )
                )
    return sorted(planned, key=lambda j: (j.at, j.id))


def build_scheduler(settings: Settings, *, build_process: bool = False) -> Any:
    """Create (not start) a scheduler with explicit defaults: coalesce, one instance, a wide misfire grace; with
    ``build_process``, an executor of one process of its own for the rebuild job."""
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    executors: dict[str, Any] = {"default": ThreadPoolExecutor(10)}
    if build_process:
        executors[BUILDS] = build_executor(settings.log_json, settings.build_niceness, preload=("exports.freshness",))
    return BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors=executors,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(LOOKBACK.total_seconds())},
        timezone=ZoneInfo(settings.timezone),
    )


def start_reconciled(scheduler: Any, engine: Engine) -> dict[str, int]:
    """Start paused, reconcile the jobs, then resume, so ids are replaced in a live job store."""
    scheduler.start(paused=True)
    counts = reconcile(scheduler, engine, datetime.now(UTC))
    scheduler.resume()
    return counts


def reconcile(scheduler: Any, engine: Engine, now: datetime) -> dict[str, int]:
    """Add or replace every planned job, run missed ones now, and remove jobs the calendar no longer has."""
    with Session(engine) as session:
        planned = planned_jobs(session, now)
    wanted = set()
    missed = 0
    for p in planned:
        run_at = p.at if p.at > now else now + timedelta(seconds=1)
        missed += p.at <= now
        scheduler.add_job(p.func, trigger="date", run_date=run_at, id=p.id, kwargs=p.kwargs, replace_existing=True)
        wanted.add(p.id)
    build_url = jobs.bound("build_url")
    periodic = periodic_jobs(jobs.settings())
    if jobs.settings().published_fetch:
        periodic["published-fetch"] = (job_published_fetch, jobs.settings().published_fetch_hours * 3600)
    if jobs.settings().establishments_fetch:
        periodic["establishments-fetch"] = (job_establishments_fetch, jobs.settings().establishments_fetch_hours * 3600)
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
    wanted |= _ssd_reads(scheduler, engine)
    removed = 0
    for scheduled in scheduler.get_jobs():
        if scheduled.id not in wanted:
            scheduled.remove()
            removed += 1
    return {"planned": len(planned), "missed_now_due": missed, "removed": removed}


def _ssd_reads(scheduler: Any, engine: Engine) -> set[str]:
    """Add a read of each council's SSD database at its time (its agency's ``ssd.read``); their job ids."""
    from apscheduler.triggers.cron import CronTrigger

    from collectors.ssd.database import sources

    settings = jobs.settings()
    ids = set()
    for source in sources(engine).values():
        ids.add(source.job_id)
        trigger = CronTrigger.from_crontab(source.at, timezone=ZoneInfo(settings.timezone))
        scheduled = scheduler.get_job(source.job_id)
        if scheduled is not None and scheduled.func is job_ssd_read and str(scheduled.trigger) == str(trigger):
            continue
        scheduler.add_job(
            job_ssd_read,
            trigger=trigger,
            id=source.job_id,
            replace_existing=True,
            kwargs={"agency_code": source.agency_code},
        )
    return ids


def start_embedded(engine: Engine, settings: Settings) -> Any | None:
    """Start the scheduler inside the API process (single-process deployments); None if another is active."""
    lock = acquire_lock(engine, wait=False)
    if lock is None:
        log.info("another scheduler is active; the API runs without one")
        return None
    jobs.bind(engine=engine, lock=lock, settings=settings)
    jobs.STOP.clear()
    _released.clear()
    # A store in memory cannot be opened from another process.
    apart = settings.build_process and engine.url.database not in (None, "", ":memory:")
    if apart:
        jobs.bind(build_url=engine.url.render_as_string(hide_password=False))
    scheduler = build_scheduler(settings, build_process=apart)
    jobs.bind(scheduler=scheduler)
    _keep(scheduler, engine, lock, settings)
    log.info("scheduler started in the API process: %s", start_reconciled(scheduler, engine))
    return scheduler


def _keep(scheduler: Any, engine: Engine, lock: SchedulerLock, settings: Settings) -> None:
    """Hold the scheduler to its lock: no job runs without it, and a lock lost is taken again as a standby would."""

    def resume() -> None:
        job_heartbeat()
        log.info("reconciled: %s", reconcile(scheduler, engine, datetime.now(UTC)))
        scheduler.resume()

    keeper = Keeper(lock, scheduler, drain_seconds=settings.stop_seconds, signalled=_released, resume=resume)
    jobs.bind(keeper=keeper)


def stop_embedded(scheduler: Any | None, wait: float) -> None:
    """Stop an embedded scheduler, its running jobs given ``wait`` seconds to end, and release its lock."""
    _released.set()
    if scheduler is not None:
        shut_down(scheduler, wait)
    lock = jobs.bound("lock")
    jobs.unbind("keeper", "lock")
    if isinstance(lock, SchedulerLock):
        lock.release()
    jobs.unbind("scheduler", "build_url")


def run(engine: Engine, settings: Settings) -> None:
    """Run the scheduler as its own process: wait for the lock, then run jobs until stopped."""
    from onereturn.processes import stop_on_signals

    jobs.STOP.clear()
    _released.clear()

    def stop() -> None:
        _released.set()
        # The same flag ends a rebuild in a scheduler thread after the return in hand, so the stop waits for one.
        jobs.STOP.set()

    stop_on_signals(stop)
    # Children's files a process killed mid-work left in the private folder go before any work starts.
    clear_left(settings)
    lock = acquire_lock(engine, wait=True, stop=_released)
    if lock is None:
        return
    jobs.bind(engine=engine, lock=lock, settings=settings)
    log.info("%s is the active scheduler", jobs.holder_name())
    job_heartbeat()
    scheduler = build_scheduler(settings)
    jobs.bind(scheduler=scheduler)
    _keep(scheduler, engine, lock, settings)
    log.info("reconciled: %s", start_reconciled(scheduler, engine))
    from onereturn.memory import freeze_startup_heap, thaw_startup_heap

    # Measured under load on PostgreSQL: 20 full collections a minute, each walking the ~150,000 objects
    # the process made as it started (of ~200,000), beside builds in its threads.
    freeze_startup_heap()
    log.info("startup heap frozen: %d objects the collector no longer walks", gc.get_freeze_count())
    try:
        # Woken every half second, not blocked until stopped: a SIGTERM the kernel hands to another of the process's
        # threads only flags it, and the main thread runs the handler when it next wakes. Blocked on the Event for
        # good, it never did (a scheduler stopped at random never ended, its stop thread still waiting for the signal).
        while not _released.wait(0.5):
            pass
    finally:
        shut_down(scheduler, settings.stop_seconds)
        from collectors.door.lease import release_on_stop

        # A record-level upload its resume job still held is taken up at once by the next start.
        release_on_stop(engine)
        jobs.unbind("keeper")
        lock.release()
        thaw_startup_heap()
        log.info("scheduler stopped")

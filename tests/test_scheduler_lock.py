"""One active scheduler even when its lock's connection is ended, and each periodic job on its own schedule.

A scheduler took its PostgreSQL advisory lock once and never asked again: with its connection ended the lock was
gone, a standby took it, and both ran jobs (two heartbeats eight seconds apart). And the hourly reconcile added
every periodic job again, itself included, with its next run a second away, so every job ran every second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

import scheduler
from onereturn import jobs
from onereturn.models import SchedulerHeartbeat
from onereturn.settings import Settings

#: Seconds apart of each periodic job in the test below: the reconcile most often, so it runs several times.
INTERVALS = {
    "heartbeat": 3,
    "deliver": 3,
    "reopen-scan": 4,
    "reconcile": 2,
    "rebuild": 3,
    "interrupted": 3,
    "records-resume": 3,
    "records-purge": 5,
}
#: The reconcile runs three times in it. A job each reconcile added again ran every second: five times here, where
#: the intervals allow three at most (four for the reconcile).
WINDOW = 6.0


def test_each_periodic_job_runs_at_its_own_interval(store: Engine, tmp_path: Path) -> None:
    """Over a window of a running scheduler, each periodic job runs about window / interval times, not every second."""
    from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent

    intervals = ",".join(f"{name}={seconds}" for name, seconds in INTERVALS.items())
    settings = Settings(data_dir=tmp_path / "data", scheduler_intervals=intervals, build_process=False)
    runs: Counter[str] = Counter()
    sched = scheduler.build_scheduler(settings)

    def counted(event: JobSubmissionEvent) -> None:
        runs[event.job_id] += 1

    sched.add_listener(counted, EVENT_JOB_SUBMITTED)
    jobs.bind(engine=store, settings=settings, scheduler=sched)
    try:
        scheduler.start_reconciled(sched, store)
        time.sleep(WINDOW)
    finally:
        jobs.shut_down(sched, 10)
        jobs.unbind()
    wrong = {
        name: runs[f"periodic:{name}"]
        for name, seconds in INTERVALS.items()
        # The first run a second after the start, then one each interval: a second's slack either side.
        if not 1 <= runs[f"periodic:{name}"] <= (WINDOW - 1) // seconds + 2
    }
    assert not wrong, f"runs in {WINDOW:.0f} s by job (intervals {INTERVALS}): {dict(runs)}"


def test_reconciling_keeps_each_periodic_jobs_next_run_and_applies_a_changed_interval(
    store: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", build_process=False)
    sched = scheduler.build_scheduler(settings)
    sched.start(paused=True)
    jobs.bind(engine=store, settings=settings, scheduler=sched)
    try:
        scheduler.reconcile(sched, store, datetime.now().astimezone())
        before = {j.id: j.next_run_time for j in sched.get_jobs() if j.id.startswith("periodic:")}
        time.sleep(1.2)
        scheduler.reconcile(sched, store, datetime.now().astimezone())
        after = {j.id: j.next_run_time for j in sched.get_jobs() if j.id.startswith("periodic:")}
        assert after == before, "reconciling moved a periodic job's next run"
        jobs.bind(settings=Settings(data_dir=tmp_path / "data", scheduler_intervals="heartbeat=7"))
        scheduler.reconcile(sched, store, datetime.now().astimezone())
        assert sched.get_job("periodic:heartbeat").trigger.interval.total_seconds() == 7
        assert sched.get_job("periodic:deliver").next_run_time == before["periodic:deliver"]
    finally:
        sched.shutdown(wait=False)
        jobs.unbind()


def test_a_misnamed_interval_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hartbeat=5"):
        scheduler.periodic_jobs(Settings(data_dir=tmp_path, scheduler_intervals="hartbeat=5"))


def _beats(store: Engine) -> dict[str, Any]:
    with Session(store) as session:
        return {b.holder: b.beat_at for b in session.execute(select(SchedulerHeartbeat)).scalars()}


def _lock_holders(store: Engine) -> list[int]:
    with store.connect() as conn:
        return [
            int(pid)
            for (pid,) in conn.execute(
                # Advisory locks are per database, but pg_locks lists the whole server's: another test's scheduler,
                # on a database of its own, holds the same key.
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"k": scheduler.LOCK_KEY & 0xFFFFFFFF},
            )
        ]


def _wait(check: Any, seconds: float, what: str, logs: list[Path] = []) -> None:  # noqa: B006 - read only
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    said = "\n".join(f"{log.name}:\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"waited {seconds:.0f} s for {what}\n{said}")


def _beats_again(store: Engine, holder: str, times: int, logs: list[Path]) -> None:
    """Wait (bounded, generously: a loaded host slows a niced scheduler) for ``holder`` to beat ``times`` more times."""
    for _ in range(times):
        last = _beats(store).get(holder)
        _wait(lambda last=last: _beats(store).get(holder) != last, 60, f"a heartbeat of {holder}", logs)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_a_scheduler_whose_lock_connection_is_ended_stops_and_only_the_standby_runs(
    store: Engine, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(tmp_path),
        "ONERETURN_LOG_JSON": "false",
        "ONERETURN_BUILD_NICENESS": "1",
        # A heartbeat a second: who is running jobs shows within a second.
        "ONERETURN_SCHEDULER_INTERVALS": "heartbeat=1",
    }
    command = [sys.executable, "-c", "import cli; cli.main()", "scheduler"]
    logs = [tmp_path / f"s{i}.log" for i in range(2)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with logs[0].open("wb") as out:
            procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        _wait(lambda: len(_beats(store)) == 1, 60, "the first scheduler's heartbeat")
        (first,) = _beats(store)
        assert first.endswith(f":{procs[0].pid}")
        with logs[1].open("wb") as out:
            procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
        # Started (its imports take seconds on a busy host) and waiting for the lock.
        _wait(lambda: "waiting to become the active" in logs[1].read_text(), 60, "the standby to wait", logs)
        # Two more beats of the first (not a fixed time, which a busy host stretches): the standby beat in none.
        _beats_again(store, first, 2, logs)
        assert list(_beats(store)) == [first], "the standby waits while the first holds the lock"
        (pid,) = _lock_holders(store)
        with store.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        _wait(lambda: len(_beats(store)) == 2, 30, "the standby to take the lock", logs)
        (second,) = set(_beats(store)) - {first}
        assert second.endswith(f":{procs[1].pid}")
        before = _beats(store)
        # Before, a fixed 4 s: on a loaded host the standby (a lower CPU priority than the tests) beat in none of it.
        _beats_again(store, second, 2, logs)
        after = _beats(store)
        beating = sorted(h for h in after if after[h] != before.get(h))
        assert beating == [second], f"heartbeats over two of the standby's: {beating} ({first} lost its lock)"
        assert procs[0].poll() is None, "the first scheduler stands by rather than exit"
        assert "lost the scheduler lock" in logs[0].read_text(), logs[0].read_text()[-3000:]
        assert len(_lock_holders(store)) == 1
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    # The standby stops at once when told, however long it had been waiting for the lock.
    assert all(proc.returncode == 0 for proc in procs), [p.returncode for p in procs]

"""A stop always ends: at any moment, the scheduler, ``onereturn serve`` and ``onereturn scheduler`` stop within a
bound, and what was in hand is finished or left as a crash would leave it."""

from __future__ import annotations

import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.base import STATE_STOPPED
from sqlalchemy import Engine
from sqlmodel import Session, select

import scheduler
from onereturn import jobs
from onereturn.models import SchedulerHeartbeat
from onereturn.settings import Settings
from tests.demo_store import demo_copy
from tests.live import free_port, wait_until_answering

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
HEADER = "indicator,org,period,value\n"
#: What each stop must end within: the service's own bound (ONERETURN_STOP_SECONDS, set low here) and its exit.
STOP_SECONDS = 5
BOUND = 30
#: How many times the random-moment test starts and stops ``onereturn serve``, and ``onereturn scheduler``.
SERVES, SCHEDULERS = 6, 3


def test_a_stop_during_a_reconcile_ends(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reconcile, held in the middle of adding its jobs while the stop is called, finishes and the stop ends
    (APScheduler's shutdown held the job-store lock the reconcile's next add_job waited for: it never ended)."""
    running = scheduler.start_embedded(store, Settings(data_dir=tmp_path, build_process=False))
    assert running is not None
    held, release = threading.Event(), threading.Event()
    real_add = running.add_job
    adds = 0

    def add_job(*args: Any, **kwargs: Any) -> Any:
        nonlocal adds
        adds += 1
        if adds == 3:
            held.set()
            release.wait(60)
        return real_add(*args, **kwargs)

    monkeypatch.setattr(running, "add_job", add_job)
    real_add(scheduler.job_reconcile, trigger="date", run_date=datetime.now(UTC), id="reconcile-now")
    assert held.wait(60), "the reconcile never ran"
    stopper = threading.Thread(target=scheduler.stop_embedded, args=(running, 20), daemon=True)
    stopper.start()
    try:
        assert jobs.STOP.wait(10)
        # Released once the stop is under way: the old shutdown marked the scheduler stopped, then took the lock.
        deadline = time.monotonic() + 1
        while running.state != STATE_STOPPED and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        release.set()
    stopper.join(15)
    assert not stopper.is_alive(), "the stop never ended"
    assert adds > 3, "the reconcile went on to its end"
    assert jobs.bound("scheduler") is None
    assert not jobs.STOP.is_set()


def test_a_job_handed_out_once_a_stop_is_under_way_does_not_run(jobs_on: Engine) -> None:
    """A job started after the stop began returns at once: it can neither hold the stop up nor touch the scheduler."""
    jobs.STOP.set()
    try:
        scheduler.job_heartbeat()
    finally:
        jobs.STOP.clear()
    with Session(jobs_on) as session:
        assert session.execute(select(SchedulerHeartbeat)).first() is None
    scheduler.job_heartbeat()
    with Session(jobs_on) as session:
        assert session.execute(select(SchedulerHeartbeat)).first() is not None


def test_a_stop_waits_for_a_job_only_as_long_as_it_is_told(store: Engine, tmp_path: Path) -> None:
    """A job that does not end in the stop's time is left to end on its own; the stop does not wait for it."""
    running = scheduler.start_embedded(store, Settings(data_dir=tmp_path, build_process=False))
    assert running is not None
    inside, release = threading.Event(), threading.Event()

    @jobs.job
    def stuck() -> None:
        inside.set()
        release.wait(60)

    running.add_job(stuck, trigger="date", run_date=datetime.now(UTC), id="stuck")
    try:
        assert inside.wait(30)
        started = time.monotonic()
        scheduler.stop_embedded(running, 1.0)
        assert time.monotonic() - started < 10
    finally:
        release.set()


#: A process that takes the stop Event's lock, as its main thread does inside any wait or set of it, and is sent SIGTERM
#: while it holds it: the handler runs there, in the main thread.
_SIGNAL_WITH_THE_LOCK_HELD = """
import os, signal, threading, time
from onereturn.processes import stop_on_signals
stopped = threading.Event()
stop_on_signals(stopped.set)
with stopped._cond:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.5)
print("stopped" if stopped.wait(10) else "never stopped")
"""


def test_a_stop_signal_that_arrives_while_the_stop_event_is_held_still_stops() -> None:
    """SIGTERM arriving while the main thread holds the stop Event's lock (the moment it begins to wait for it) still
    stops the process: the scheduler's own handler set the Event there and waited for that lock for ever."""
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_WITH_THE_LOCK_HELD], capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "stopped", done.stdout + done.stderr[-3000:]


def _onereturn(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("onereturn")), *args]


def _stopped_within(process: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(BOUND)
    except subprocess.TimeoutExpired:
        # With PYTHONFAULTHANDLER set, SIGABRT writes each thread's stack to the log: where the stop was held up.
        process.send_signal(signal.SIGABRT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        pytest.fail(f"no end {BOUND} s after SIGTERM:\n{log.read_text(errors='replace')[-6000:]}")
    return time.monotonic() - started


def _wait_for_health(base: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    return wait_until_answering(base + "/health", process, seconds)


def test_serve_and_the_scheduler_stop_at_random_moments(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``onereturn serve`` and ``onereturn scheduler`` sent SIGTERM at random points of their first seconds, during
    an upload and during a build, end within the bound every time; the store is whole afterwards.

    They start on a copy of the store a first start loaded the demo into, as every start after a user's first does
    (the first start's own load, half a minute, is the demo's tests' to check, not each stop's to wait for)."""
    pace = random.Random(int(os.environ.get("ONERETURN_STOP_SEED", "20261125")))
    data = demo_copy(tmp_path_factory, tmp_path / "data")
    env = {
        **os.environ,
        "ONERETURN_DATA_DIR": str(data),
        "ONERETURN_DATABASE_URL": "",
        "ONERETURN_LOAD_DEMO": "true",
        "ONERETURN_STOP_SECONDS": str(STOP_SECONDS),
        "ONERETURN_BUILD_NICENESS": "1",
        # An upload cut off by a stop is marked interrupted by the next start once its lease has run out.
        "ONERETURN_UPLOAD_LEASE_SECONDS": "2",
        # One upload process: a stop ends one as it ends two, and each start of one is about 2 s of CPU.
        "ONERETURN_UPLOAD_SLOTS": "1",
        "PYTHONFAULTHANDLER": "1",
    }
    longest, accepted, sent = 0.0, dict[int, int](), 0
    log = tmp_path / "stops.log"
    # Six starts of the server and three of the scheduler (each start of the server is its process, an upload
    # process and a build process importing the service, about 7 s of CPU): two stopped at random in their first
    # seconds, three just after they answer with an upload in hand, and a last one once it answers.
    for round_ in range(SERVES):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            process = subprocess.Popen(
                _onereturn("serve", "--host", "127.0.0.1", "--port", str(port)),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        uploads: list[threading.Thread] = []
        if round_ == SERVES - 1:
            # A last start, after the leases of anything cut off have run out, and a stop once it answers.
            time.sleep(3)
            assert _wait_for_health(base, process, 120), log.read_text(errors="replace")[-3000:]
        elif round_ in (0, 2):
            # Anywhere in the first seconds: loading the store, starting the scheduler, its first jobs.
            time.sleep(pace.uniform(0.3, 6.0))
        elif _wait_for_health(base, process, 120):
            # Just after the start, with an upload (a revision) in hand and a rebuild made due by it.
            value = 1000 + round_

            def send(base: str = base, value: int = value) -> None:
                body = f"{HEADER}cyp.lac_count,E10000024,2025-03-31,{value}\n".encode()
                try:
                    answer = httpx.post(
                        base + "/api/submissions", headers=NOTTS, files={"file": ("stop.csv", body)}, timeout=BOUND
                    )
                except httpx.HTTPError:
                    return
                if answer.status_code == 201:
                    accepted[int(answer.json()["id"])] = value

            uploads.append(threading.Thread(target=send))
            uploads[-1].start()
            sent += 1
            time.sleep(pace.uniform(0.0, 1.5))
        longest = max(longest, _stopped_within(process, log))
        for upload in uploads:
            upload.join(BOUND)
    for _ in range(SCHEDULERS):
        with log.open("ab") as out:
            process = subprocess.Popen(_onereturn("scheduler"), env=env, stdout=out, stderr=subprocess.STDOUT)
        time.sleep(pace.uniform(0.2, 5.0))
        longest = max(longest, _stopped_within(process, log))
    text = log.read_text(errors="replace")
    assert "Error running job" not in text, text[-3000:]
    assert sent >= 3
    with closing(sqlite3.connect(data / "onereturn.sqlite3")) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # Every figure has one current value, and every upload acknowledged is stored, once.
        doubled = raw.execute(
            "SELECT indicator_id, org_code, period, breakdown, count(*) FROM observation WHERE is_current "
            "GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"
        ).fetchall()
        assert not doubled
        for submission_id, value in accepted.items():
            stored = raw.execute(
                "SELECT value FROM observation WHERE submission_id = ? AND indicator_id = 'cyp.lac_count'",
                (submission_id,),
            ).fetchall()
            assert [float(v) for (v,) in stored] == [float(value)]
        # No upload is left claimed by a worker that has stopped: each is done, or marked to be run again.
        left = raw.execute("SELECT id, status FROM submission WHERE status IN ('received', 'storing')").fetchall()
    assert not left, left
    logging.getLogger(__name__).warning(
        "%d stops, the longest %.1f s; %d uploads sent, %d acknowledged",
        SERVES + SCHEDULERS,
        longest,
        sent,
        len(accepted),
    )

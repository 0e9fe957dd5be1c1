"""The schedule: reconciled jobs, exactly-once effects, one reminder per agency, builds, re-opening."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

import scheduler
from collectors.figures.service import submit
from exports.models import ExportSnapshot
from mappings import notices
from mappings.models import Return
from onereturn import db, jobs, outbox
from onereturn.models import JobRun, SchedulerHeartbeat
from onereturn.settings import NICENESS, Settings
from tests.demo_store import serve_demo_copy
from tests.live import serve_process
from tests.signoffs import sign_off_everything, sign_off_over_http

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}


def upload(engine: Engine, settings: Settings, agency: str, *rows: str) -> None:
    outcome = submit(
        engine, settings, agency_code=agency, filename="f.csv", data=(HEADER + "\n".join(rows) + "\n").encode()
    )
    assert outcome.submission is not None
    assert outcome.submission.status in ("accepted", "partially_accepted")


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_reconcile_twice_keeps_one_job_each(store: Engine) -> None:
    sched = scheduler.build_scheduler(Settings())
    sched.start(paused=True)  # a started job store applies replace_existing; nothing runs while paused
    now = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)
    first = scheduler.reconcile(sched, store, now)
    ids = sorted(j.id for j in sched.get_jobs())
    second = scheduler.reconcile(sched, store, now)
    assert sorted(j.id for j in sched.get_jobs()) == ids
    assert len(ids) == len(set(ids)) == first["planned"] + len(scheduler.PERIODIC)
    assert second["removed"] == 0
    assert "remind:notts_cyp:2025-04-23" in ids
    assert "build:county_cyp_core:FY2024-25-Q4" in ids
    job = sched.get_job("build:county_cyp_core:FY2024-25-Q4")
    assert job.next_run_time == datetime(2025, 4, 23, 17, 0, tzinfo=UTC)  # 18:00 BST
    assert job.misfire_grace_time == int(scheduler.LOOKBACK.total_seconds())
    sched.shutdown(wait=False)


def test_a_job_triggered_twice_has_one_effect(jobs_on: Engine) -> None:
    when = "2025-04-23T18:00:00+01:00"
    scheduler.job_build("dfe_cin_census", "FY2024-25", when)
    snapshots = count(jobs_on, ExportSnapshot)
    scheduler.job_build("dfe_cin_census", "FY2024-25", when)
    assert snapshots == 4
    assert count(jobs_on, ExportSnapshot) == 4
    assert count(jobs_on, JobRun) == 1
    with Session(jobs_on) as session:
        run = session.execute(select(JobRun)).scalars().one()
    assert (run.job_id, run.outcome) == ("build:dfe_cin_census:FY2024-25", "ok")
    assert run.detail.startswith("snapshots ")


def test_one_reminder_lists_each_owed_figure_once_across_returns(jobs_on: Engine, store_settings: Settings) -> None:
    upload(jobs_on, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    entries = [["county_cyp_core", "FY2024-25-Q4"], ["dfe_ssda903", "FY2024-25"]]
    scheduler.job_remind("notts_cyp", "2025-04-23", entries, "2025-04-16T09:00:00+01:00")
    scheduler.job_remind("notts_cyp", "2025-04-23", entries, "2025-04-16T09:00:00+01:00")
    with Session(jobs_on) as session:
        (message,) = outbox.list_messages(session, agency_code="notts_cyp")
    owed_text, _, dates_text = message.body.partition("\n\nDates to meet:\n")
    lines = owed_text.splitlines()[1:]
    assert len(lines) == len(set(lines))
    # The reminder names every dated step, each with its rule and source (SSDA903: loaded, then finished).
    dates = dates_text.splitlines()
    assert any(
        d.startswith(
            "- dfe_ssda903 FY2024-25: data loaded by Fri 30 May 2025 (fixed_after_period_end:05-31; source: Department for Education"
        )
        for d in dates
    )
    assert any(
        d.startswith("- dfe_ssda903 FY2024-25: return due to Department for Education by Mon 30 Jun 2025")
        for d in dates
    )
    shared = [line for line in lines if line.startswith("- cyp.lac_3plus_placements_n for E10000024, 2025-03-31")]
    assert shared == ["- cyp.lac_3plus_placements_n for E10000024, 2025-03-31: needed by county_cyp_core, dfe_ssda903"]
    assert not any(line.startswith("- cyp.lac_count for") for line in lines), "already accepted"
    assert message.kind == "reminder"
    assert message.recipient == "cyp.performance@nottinghamshire.example"
    # The subject names the returns as people know them, not by the service's ids.
    assert message.subject == (
        f"onereturn: {len(lines)} figure(s) due by 2025-04-23 for Children and young people's departmental core "
        "data set; Children looked after by local authorities in England (SSDA903)"
    )


def test_overdue_and_open_window_notices(jobs_on: Engine) -> None:
    scheduler.job_open_window("county_cyp_core", "FY2024-25-Q4", "2025-04-01T00:00:00+01:00")
    scheduler.job_overdue("county_cyp_core", "FY2024-25-Q4", "2025-04-23T17:00:00+01:00")
    with Session(jobs_on) as session:
        messages = {m.kind: m for m in outbox.list_messages(session, agency_code="notts_cyp")}
    assert sorted(messages) == ["notice", "overdue"]
    name = "Children and young people's departmental core data set, January to March 2025"
    assert messages["notice"].subject == f"onereturn: {name} is open for figures"
    assert messages["overdue"].subject.endswith(f" figure(s) for {name} are overdue")
    assert "county_cyp_core" not in messages["notice"].subject + messages["overdue"].subject


FOSTERING = (
    "cyp.fostering_households_approved,E10000024,2025-03-31,,380,,,,",
    "cyp.fostering_places_approved,E10000024,2025-03-31,,640,,,,",
    "cyp.fostering_places_filled,E10000024,2025-03-31,,520,,,,",
    "cyp.fostering_children_placed,E10000024,2025-03-31,,510,,,,",
    "cyp.lac_in_foster_placement,E10000024,2025-03-31,,690,,,,",
)


def test_planning_reminds_approvers_before_each_signoff_date_and_marks_it_overdue_after(store: Engine) -> None:
    with Session(store) as session:
        planned = {j.id: j for j in scheduler.planned_jobs(session, datetime(2025, 4, 2, 12, 0, tzinfo=UTC))}
    # SSDA903's data are submitted (signed off) by 30 June 2025: approvers are reminded five working days before,
    # apart from the reminder of the figures owed by the agencies' deadline (22 May).
    remind = planned["remind-signoff:notts_cyp:2025-06-30"]
    assert remind.func is scheduler.job_remind_signoff
    assert remind.at == datetime(2025, 6, 23, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert remind.kwargs["entries"] == [["dfe_ssda903", "FY2024-25"]]
    assert "remind:notts_cyp:2025-05-22" in planned
    overdue = planned["overdue-signoff:dfe_ssda903:FY2024-25"]
    assert (overdue.func, overdue.kwargs["milestone"]) == (scheduler.job_overdue, "signoff_deadline")
    assert overdue.at == datetime(2025, 6, 30, 17, 0, tzinfo=ZoneInfo("Europe/London"))
    # Where the recipient publishes no sign-off date, approvers are reminded with the figures, for the same day.
    assert planned["remind-signoff:notts_cyp:2025-06-23"].kwargs["entries"] == [["ofsted_fostering_la", "FY2024-25"]]
    assert planned["remind:notts_cyp:2025-06-23"].at == planned["remind-signoff:notts_cyp:2025-06-23"].at
    # A scheduler reconciled from the calendar holds them.
    sched = scheduler.build_scheduler(Settings())
    sched.start(paused=True)
    try:
        scheduler.reconcile(sched, store, datetime(2025, 4, 2, 12, 0, tzinfo=UTC))
        ids = {j.id for j in sched.get_jobs()}
        assert {"remind-signoff:notts_cyp:2025-06-30", "overdue-signoff:dfe_ssda903:FY2024-25"} <= ids
    finally:
        sched.shutdown(wait=False)


def test_approvers_are_reminded_of_what_is_not_signed_off_and_not_of_what_is(
    jobs_on: Engine, store_settings: Settings
) -> None:
    upload(jobs_on, store_settings, "notts_cyp", *FOSTERING)
    entries = [["ofsted_fostering_la", "FY2024-25"]]
    when = "2025-06-16T09:00:00+01:00"
    scheduler.job_remind_signoff("notts_cyp", "2025-06-23", entries, when)
    scheduler.job_remind_signoff("notts_cyp", "2025-06-23", entries, when)  # fired twice: one reminder
    with Session(jobs_on) as session:
        (message,) = outbox.list_messages(session, agency_code="notts_cyp")
    assert message.kind == "reminder"
    assert message.subject == (
        "onereturn: 1 return(s) to sign off by 2025-06-23: Ofsted annual fostering data collection: local authority "
        "fostering service, 2024 to 2025 financial year"
    )
    assert "(ofsted_fostering_la FY2024-25): not yet signed off. Review and sign off at " in message.body
    assert "/signoffs/ofsted_fostering_la/FY2024-25" in message.body
    assert "still to send" not in message.body, "its figures are all in"

    # The synthetic county has sent nothing: it is reminded too, and told its figures come first.
    scheduler.job_remind_signoff("synthetic_county", "2025-06-23", entries, when)
    with Session(jobs_on) as session:
        (other,) = outbox.list_messages(session, agency_code="synthetic_county")
    assert "not yet signed off; 5 figure(s) still to send first" in other.body

    # Signed off: nothing to remind of (the run is recorded, with nothing sent).
    assert sign_off_everything(jobs_on, returns=["ofsted_fostering_la"]) == 1
    later = "2025-06-17T09:00:00+01:00"
    scheduler.job_remind_signoff("notts_cyp", "2025-06-24", entries, later)
    with Session(jobs_on) as session:
        assert len(outbox.list_messages(session, agency_code="notts_cyp")) == 1
        run = session.execute(select(JobRun).where(JobRun.job_id == "remind-signoff:notts_cyp:2025-06-24")).scalar_one()
    assert (run.outcome, run.detail) == ("ok", "0 return(s) not signed off")

    # A figure revised after the sign-off reopens it: the approver is reminded again, of a reopened return.
    upload(jobs_on, store_settings, "notts_cyp", "cyp.fostering_households_approved,E10000024,2025-03-31,,385,,,,")
    scheduler.job_remind_signoff("notts_cyp", "2025-06-25", entries, "2025-06-18T09:00:00+01:00")
    with Session(jobs_on) as session:
        newest = outbox.list_messages(session, agency_code="notts_cyp")[0]
    assert "a figure signed off was revised since; it needs signing off again" in newest.body


def test_past_the_signoff_date_figures_all_in_but_unsigned_are_overdue_not_signed_off(
    jobs_on: Engine, store_settings: Settings
) -> None:
    upload(jobs_on, store_settings, "notts_cyp", *FOSTERING)
    when = "2025-06-23T17:00:00+01:00"
    scheduler.job_overdue("ofsted_fostering_la", "FY2024-25", when, milestone="signoff_deadline")
    scheduler.job_overdue("ofsted_fostering_la", "FY2024-25", when, milestone="signoff_deadline")
    with Session(jobs_on) as session:
        (late,) = outbox.list_messages(session, agency_code="notts_cyp")
        officer = [m for m in outbox.list_messages(session) if m.recipient == notices.OFFICER]
        assert outbox.list_messages(session, agency_code="synthetic_county") == [], "told at the agencies' deadline"
        run = session.execute(
            select(JobRun).where(JobRun.job_id == "overdue-signoff:ofsted_fostering_la:FY2024-25")
        ).scalar_one()
    assert late.kind == "overdue"
    assert late.subject.endswith("is not signed off and its sign-off date has passed")
    assert "/signoffs/ofsted_fostering_la/FY2024-25" in late.body
    (summary,) = officer
    assert "- notts_cyp: not signed off (not yet signed off)" in summary.body
    assert "- synthetic_county: figures missing" in summary.body
    assert run.detail == "notts_cyp: not signed off, synthetic_county: figures missing"
    # At the agencies' deadline the figures alone count: Nottinghamshire's are all in.
    scheduler.job_overdue("ofsted_fostering_la", "FY2024-25", when)
    with Session(jobs_on) as session:
        figures = session.execute(
            select(JobRun).where(JobRun.job_id == "overdue:ofsted_fostering_la:FY2024-25")
        ).scalar_one()
    assert figures.detail == "synthetic_county: 5 figure(s) missing"


def test_a_revision_reopens_a_built_return(jobs_on: Engine, store_settings: Settings) -> None:
    upload(jobs_on, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    scheduler.job_build("dfe_ssda903", "FY2024-25", "2025-06-23T18:00:00+01:00")
    scheduler.job_reopen_scan()
    with Session(jobs_on) as session:
        assert outbox.list_messages(session) == []
    upload(jobs_on, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1110,,,,")
    scheduler.job_reopen_scan()
    scheduler.job_reopen_scan()
    with Session(jobs_on) as session:
        (notice,) = outbox.list_messages(session)
    assert notice.subject == (
        "onereturn: a revised figure re-opens Children looked after by local authorities in England (SSDA903), "
        "2024 to 2025 financial year"
    )
    assert "cyp.lac_count E10000024 2025-03-31" in notice.body


def test_a_rebuild_in_a_scheduler_thread_ends_once_the_scheduler_stops(
    jobs_on: Engine, store_settings: Settings
) -> None:
    """The rebuild job reads the scheduler's stop: asked to stop, it builds nothing more, leaving the stale
    return for the next start."""
    from exports.freshness import pull, stale

    upload(jobs_on, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    with Session(jobs_on) as session:
        pull(session, "dfe_ssda903", "FY2024-25", "csv")
        session.commit()
    upload(jobs_on, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1110,,,,")
    jobs.STOP.set()
    try:
        scheduler.job_rebuild()
        with Session(jobs_on) as session:
            assert [s[:2] for s in stale(session)] == [("dfe_ssda903", "FY2024-25")]
    finally:
        jobs.STOP.clear()
    scheduler.job_rebuild()
    with Session(jobs_on) as session:
        assert stale(session) == []


def test_calendar_api_and_ics_feed(store_client: TestClient) -> None:
    body = store_client.get("/api/calendar", params={"from": "2025-04-01", "to": "2025-04-30"}, headers=OFFICER).json()
    kinds = {(e["return_id"], e["kind"]) for e in body["items"]}
    assert ("county_cyp_core", "agency_deadline") in kinds
    deadline = next(e for e in body["items"] if e["return_id"] == "county_cyp_core" and e["kind"] == "agency_deadline")
    assert deadline["owed"]["notts_cyp"] > 0
    assert deadline["status"] == "overdue"
    mine = store_client.get("/api/calendar", params={"from": "2025-04-01", "to": "2025-04-30"}, headers=NOTTS).json()
    assert {e["return_id"] for e in mine["items"]} <= {
        "county_cyp_core",
        "dfe_ssda903",
        "dfe_cin_census",
        "ofsted_fostering_la",
    }
    feed = store_client.get("/api/calendar.ics", params={"from": "2025-04-01", "to": "2025-06-30"})
    assert feed.headers["content-type"].startswith("text/calendar")
    parsed = icalendar.Calendar.from_ical(feed.content)
    events = list(parsed.walk("VEVENT"))
    assert events
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    assert "county_cyp_core.FY2024-25-Q4.agency_deadline@onereturn" in uids
    again = icalendar.Calendar.from_ical(
        store_client.get("/api/calendar.ics", params={"from": "2025-04-01", "to": "2025-06-30"}).content
    )
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == sorted(uids)
    clashes = store_client.get(
        "/api/calendar/clashes", params={"from": "2025-04-01", "to": "2026-03-31"}, headers=OFFICER
    ).json()
    assert clashes["total"] == len(clashes["items"])
    assert all(len(c["deadlines"]) >= 2 for c in clashes["items"])


# Some lines laid out by hand, the formatter told to leave them: its layout would take this function past 80 lines.
@pytest.mark.postgres
@pytest.mark.slow
def test_two_schedulers_one_active_and_takeover(store: Engine, tmp_path: Path) -> None:
    if store.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(tmp_path),
        "ONERETURN_LOG_JSON": "false",
    }
    # A monthly return whose deadlines fell in the last few days, so a fresh scheduler has jobs to catch up.
    last_month_end = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)
    days = (datetime.now(UTC).date() - last_month_end).days - 3
    with Session(store) as session:
        session.add(
            Return(id="takeover_test", title="Takeover test", recipient="test", submitter="local_authority", geography_level="upper_tier_la",
                   period_type="month", deadline=f"days_after_period_end:{max(days, 1)}", formats=["csv"], provenance="test")
        )  # fmt: skip
        session.commit()
    command = [sys.executable, "-c", "import cli; cli.main()", "scheduler"]
    logs = [open(tmp_path / f"s{i}.log", "w") for i in range(2)]  # noqa: SIM115 - closed below
    first = subprocess.Popen(command, env=env, stdout=logs[0], stderr=subprocess.STDOUT)

    def holders() -> list[str]:
        with Session(store) as session:
            return [h.holder for h in session.execute(select(SchedulerHeartbeat)).scalars()]

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not holders():
            time.sleep(0.2)
        assert len(holders()) == 1
        # Background work: below the priority of the process that started it.
        assert os.getpriority(os.PRIO_PROCESS, first.pid) - os.getpriority(os.PRIO_PROCESS, os.getpid()) == NICENESS
        second = subprocess.Popen(command, env=env, stdout=logs[1], stderr=subprocess.STDOUT)
        # Until it says it waits (its imports take seconds on a busy host; a fixed 4 s could end before it started).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "waiting to become the active" not in (tmp_path / "s1.log").read_text():
            time.sleep(0.2)
        assert "waiting to become the active" in (tmp_path / "s1.log").read_text()
        assert len(holders()) == 1, "the second scheduler waits while the first holds the lock"

        def job_runs() -> list[JobRun]:
            with Session(store) as session:
                return list(session.execute(select(JobRun)).scalars().all())

        # The catch-up runs at the scheduler's lowered priority, so on a busy host it can take longer than the
        # wait above: poll for it, within a bound, rather than read once.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (runs := job_runs()):
            time.sleep(0.2)
        assert runs, "missed jobs are caught up on start"
        assert len({(r.job_id, r.scheduled_for) for r in runs}) == len(runs)
        assert {r.holder for r in runs} == set(holders())
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(holders()) < 2:
            time.sleep(0.2)
        assert len(holders()) == 2, "the waiting scheduler took over"
        time.sleep(2)
        with Session(store) as session:
            after = session.execute(select(JobRun)).scalars().all()
        assert len({(r.job_id, r.scheduled_for) for r in after}) == len(after)
        assert {r.job_id for r in after if r.holder != runs[0].holder} <= {r.job_id for r in after} - {
            r.job_id for r in runs
        }
    finally:
        for proc in (first, locals().get("second")):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for log in logs:
            log.close()


def test_now_helpers() -> None:
    assert jobs.holder_name().endswith(f":{os.getpid()}")
    assert timedelta(days=14) == scheduler.LOOKBACK


def test_returns_out_of_force_have_no_calendar(store: Engine) -> None:
    from datetime import date

    from mappings import calendar

    with Session(store) as session:
        now = {e.return_id for e in calendar.calendar_entries(session, date(2025, 4, 1), date(2026, 3, 31))}
        then = {e.return_id for e in calendar.calendar_entries(session, date(2009, 4, 1), date(2010, 3, 31))}
    assert "nis" not in now
    assert "crc" not in now
    assert {"county_cyp_core", "dfe_ssda903"} <= now
    # The service's own monthly drug treatment return is no longer collected: NDTMS publishes its counts.
    assert "ndtms_adult_monthly" not in now
    assert "ndtms_adult_monthly" in then
    assert "nis" in then


def test_the_api_process_runs_the_scheduler_when_asked(store: Engine, tmp_path: Path) -> None:
    from api.main import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path), engine=store, run_scheduler=True)):
        running = jobs.bound("scheduler")
        ids = {job.id for job in running.get_jobs()}
        assert {"periodic:heartbeat", "periodic:deliver", "periodic:reopen-scan", "periodic:reconcile"} <= ids
        assert any(i.startswith("build:") for i in ids)
    assert jobs.bound("scheduler") is None
    # Stopped, it no longer asks a rebuild run later in the process to stop.
    assert not jobs.STOP.is_set()
    with TestClient(create_app(Settings(data_dir=tmp_path), engine=store)):
        assert jobs.bound("scheduler") is None


def test_the_embedded_scheduler_rebuilds_in_a_process_of_its_own(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change's rebuild is made by the build process: the API process's own copy of the job never runs."""
    from api.main import create_app
    from exports import freshness

    ran_here: list[Engine] = []

    def here(engine: Engine) -> int:
        ran_here.append(engine)
        return 0

    monkeypatch.setattr(freshness, "rebuild_stale", here)
    # Near the API's priority: at the default a build process on a busy test host waits long for the cores.
    settings = Settings(data_dir=tmp_path, build_niceness=1)
    figure = "cyp.lac_count,E10000024,2025-03-31,,{},,,,"
    upload(store, settings, "notts_cyp", figure.format(1100))
    sign_off_everything(store, returns=["dfe_ssda903"])
    dfe, path = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}, "/api/returns/dfe_ssda903/FY2024-25.csv"
    with TestClient(create_app(settings, engine=store, run_scheduler=True)) as client:
        assert jobs.bound("scheduler").get_job("periodic:rebuild").executor == scheduler.BUILDS
        first = client.get(path, headers=dfe)
        assert first.status_code == 200
        upload(store, settings, "notts_cyp", figure.format(1120))
        sign_off_everything(store, returns=["dfe_ssda903"])  # the revision reopened the sign-off
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            answer = client.get(path, headers=dfe)
            if answer.headers["x-build-pending"] == "false":
                break
            time.sleep(0.5)
        else:
            pytest.fail("the build process never rebuilt the stale return")
    assert answer.headers["x-snapshot-id"] != first.headers["x-snapshot-id"]
    assert b"1120" in answer.content
    assert ran_here == []


def _build_process_state() -> tuple[bool, bool, int]:
    """Run in the build process: whether it has the build path imported and its startup heap frozen, and its
    priority."""
    import gc
    import sys

    return "exports.freshness" in sys.modules, gc.get_freeze_count() > 0, os.getpriority(os.PRIO_PROCESS, 0)


def test_the_build_process_starts_with_the_build_path_read_its_heap_frozen_at_its_priority(
    store: Engine, tmp_path: Path
) -> None:
    from api.main import create_app

    settings = Settings(data_dir=tmp_path, build_niceness=3)
    with TestClient(create_app(settings, engine=store, run_scheduler=True)):
        pool = jobs.bound("scheduler")._lookup_executor(scheduler.BUILDS)._pool
        state = pool.submit(_build_process_state).result(timeout=120)
    assert state == (True, True, os.getpriority(os.PRIO_PROCESS, 0) + 3)


def test_stopping_the_scheduler_stops_the_build_in_hand_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A scheduler shut down while its build process is busy kills that process rather than wait for the build,
    and says so without an error's traceback: waiting kept ``serve`` from stopping for over a minute."""
    import threading

    sched = scheduler.build_scheduler(Settings(data_dir=tmp_path), build_process=True)
    sched.start()
    # A build that would take ten minutes, in the build process as the rebuild job is.
    sched.add_job(time.sleep, args=[600], executor=scheduler.BUILDS, id="long build")
    builds = sched._lookup_executor(scheduler.BUILDS)
    deadline = time.monotonic() + 60
    while not builds.processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    (process,) = builds.processes()
    caplog.set_level("INFO")
    stopping = threading.Thread(target=sched.shutdown, kwargs={"wait": True}, daemon=True)
    stopping.start()
    stopping.join(timeout=60)
    assert not stopping.is_alive(), "the scheduler waited for the build in hand"
    assert not process.is_alive()
    assert "the build in hand was stopped with the service" in caplog.text
    assert "Error running job" not in caplog.text


def test_builds_stay_in_the_api_process_when_asked(store: Engine, tmp_path: Path) -> None:
    from api.main import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path, build_process=False), engine=store, run_scheduler=True)):
        assert jobs.bound("scheduler").get_job("periodic:rebuild").executor == "default"
        assert jobs.bound("build_url") is None


@pytest.mark.postgres
@pytest.mark.slow
@contextmanager
def _running_scheduler(store: Engine, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`onereturn scheduler` on the store, as a process of its own with its log, stopped by SIGTERM after."""
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(tmp_path),
        "ONERETURN_LOG_JSON": "false",
        # Near the API's priority: at the default a scheduler on a busy test host waits long for the cores.
        "ONERETURN_BUILD_NICENESS": "1",
    }
    command = [sys.executable, "-c", "import cli; cli.main()", "scheduler"]
    log_path = tmp_path / "scheduler.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc, log_path
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_onereturn_scheduler_freezes_its_startup_heap_once_running(store: Engine, tmp_path: Path) -> None:
    with _running_scheduler(store, tmp_path) as (proc, log_path):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "startup heap frozen" not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.2)
        frozen = re.search(r"startup heap frozen: (\d+) objects", log_path.read_text())
        assert frozen, log_path.read_text()[-2000:]
        # The modules, the ORM's mappings and the catalogue at least.
        assert int(frozen.group(1)) > 50_000
        # A SIGTERM the kernel hands to a thread other than the main one (as it may any signal sent to the process)
        # still stops it: the main thread waits in short steps, so it runs the handler the other thread flagged.
        _signal_a_thread_not_the_main_one(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no end 20 s after a SIGTERM to one of its threads:\n{log_path.read_text()[-2000:]}")
        assert "scheduler stopped" in log_path.read_text()


#: The system call that sends a signal to one thread of another process, by machine (Linux's numbering).
_TGKILL = {"x86_64": 234, "aarch64": 131}


def _signal_a_thread_not_the_main_one(pid: int, signum: int) -> None:
    """Send ``signum`` to one thread of process ``pid`` other than its main thread (Linux's ``tgkill``)."""
    import ctypes
    import platform

    number = _TGKILL.get(platform.machine())
    if number is None:
        pytest.skip(f"no tgkill number known for {platform.machine()}")
    # Only a thread that does not block the signal: the kernel hands a signal sent to the process to one of those.
    others = [
        int(t) for t in sorted(os.listdir(f"/proc/{pid}/task")) if int(t) != pid and not _blocks(pid, int(t), signum)
    ]
    assert others, "the scheduler runs no thread besides its main one that takes the signal"
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(number, pid, others[-1], signum) == 0, os.strerror(ctypes.get_errno())


def _blocks(pid: int, tid: int, signum: int) -> bool:
    """Whether thread ``tid`` of process ``pid`` blocks ``signum`` (its mask in ``/proc``)."""
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    mask = int(re.search(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M)[1], 16)  # type: ignore[index]
    return bool(mask >> (signum - 1) & 1)


def test_the_running_scheduler_leaves_nothing_idle_in_transaction(store: Engine, tmp_path: Path) -> None:
    from sqlalchemy import text

    if store.dialect.name != "postgresql":
        pytest.skip("pg_stat_activity is PostgreSQL's")
    with _running_scheduler(store, tmp_path):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(store) as session:
                if session.execute(select(SchedulerHeartbeat)).first() is not None:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("the scheduler never became active")
        stuck: list[tuple[int, str, str]] = []
        # Sample for longer than the few seconds allowed, so a transaction held open would show.
        for _ in range(16):
            with store.connect() as conn:
                stuck += conn.execute(
                    text(
                        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%' "
                        "AND now() - state_change > interval '3 seconds'"
                    )
                ).all()
            time.sleep(0.5)
        assert stuck == []
        with store.connect() as conn:
            locks = conn.execute(
                # Advisory locks are per database, but pg_locks lists the whole server's: another test's
                # scheduler on another database holds the same key.
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"k": scheduler.LOCK_KEY & 0xFFFFFFFF},
            ).scalar_one()
        assert locks == 1, "the leader lock is still held"


#: ``serve`` with the scheduler and its build process embedded, the build process near the API's priority, so on
#: a busy test host it is not kept from the cores for minutes, and still told apart from the upload processes
#: (at the API's) by it.
_WITH_BUILD_PROCESS = {
    "ONERETURN_SCHEDULER_EMBEDDED": "true",
    "ONERETURN_BUILD_PROCESS": "true",
    "ONERETURN_BUILD_NICENESS": "1",
}


def test_serve_stops_with_its_build_process_and_gives_back_what_it_held(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SIGTERM to ``onereturn serve`` with the scheduler and its build process embedded: it ends cleanly with a
    rebuild in hand, leaves no process behind, gives the build process's queues back (no leaked semaphores), and
    the next start builds what the stop cut off."""
    import sqlite3

    import httpx

    from exports.freshness import stale

    dfe, path = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}, "/api/returns/dfe_ssda903/FY2024-25.csv"
    # On a copy of the store a first start loaded the demo into: this start rebuilds the returns the demo signed off.
    process, base, log_path = serve_demo_copy(tmp_path_factory, tmp_path, "serve", **_WITH_BUILD_PROCESS)
    try:
        # The build process is the pool's, started on the first rebuild job, at a lower priority.
        built = os.getpriority(os.PRIO_PROCESS, 0) + 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            children = [
                pid for task in Path(f"/proc/{process.pid}/task").glob("*/children") for pid in task.read_text().split()
            ]
            if any(os.getpriority(os.PRIO_PROCESS, int(pid)) == built for pid in children):
                break
            time.sleep(0.3)
        else:
            pytest.fail("the build process never started")
        # A build process that makes no progress, as one starved of the cores by its lower priority on a busy
        # host, does not hold up the stop: it is killed, not waited for.
        (build,) = (int(pid) for pid in children if os.getpriority(os.PRIO_PROCESS, int(pid)) == built)
        os.kill(build, signal.SIGSTOP)
        stopped = time.monotonic()
        assert httpx.get(base + path, headers=dfe, timeout=60).status_code == 200
        revision = HEADER + "cyp.lac_count,E10000024,2025-03-31,,903,,,,\n"
        sent = httpx.post(base + "/api/submissions", headers=NOTTS, files={"file": ("rev.csv", revision)}, timeout=60)
        assert sent.status_code == 201, sent.text
        sign_off_over_http(base, NOTTS, "notts_cyp", "dfe_ssda903", "FY2024-25")
        assert httpx.get(base + path, headers=dfe, timeout=60).headers["x-build-pending"] == "true"
        # The rebuild job is sent to the build process every 5 s, so one is in hand by now.
        time.sleep(max(0.0, stopped + 6 - time.monotonic()))
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then ends by the signal it was sent, as a process stopped by SIGTERM does.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "no helper process outlives serve"
    # Read once every helper has ended: the resource tracker, the last of them, reports what was left.
    text = log_path.read_text(errors="replace")
    assert "Finished server process" in text
    assert "leaked semaphore" not in text, text[-2000:]
    assert "the build in hand was stopped with the service" in text
    assert "Error running job" not in text
    with closing(sqlite3.connect(tmp_path / "onereturn.sqlite3")) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again, base, _ = serve_process(tmp_path, "again", **_WITH_BUILD_PROCESS)
    try:
        store = db.make_engine(f"sqlite:///{tmp_path / 'onereturn.sqlite3'}")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with Session(store) as session:
                if not stale(session):
                    break
            time.sleep(0.5)
        else:
            pytest.fail("the next start did not build what the stop cut off")
        store.dispose()
        pulled = httpx.get(base + path, headers=dfe, timeout=60)
        assert pulled.headers["x-build-pending"] == "false"
        assert b",903," in pulled.content
    finally:
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=60) in (0, -signal.SIGTERM)

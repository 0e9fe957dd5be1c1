"""A record-level upload's life after receipt: resumed by the lease after a restart, rerun, and purged on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from collectors import door
from collectors.door.lease import worker_id
from collectors.door.requests import RecordFiles
from collectors.records.models import RecordChild, RecordLineage
from collectors.records.receiving import WAY, receive
from collectors.records.service import AGAIN, process_records
from collectors.retention import purge
from collectors.ways_in import rerun as reprocess
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import PASSING, cut_off, figures_of
from tests.helpers import kept_names


def received(store: Engine, settings: Settings) -> int:
    got = receive(
        store,
        settings,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in PASSING]),
    )
    assert not got.duplicate
    assert got.submission.id is not None
    return got.submission.id


def test_sending_earlier_records_again_makes_their_figures_current_again(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    """Records sent after later records of the same year are applied anew: a repeat is of what is current."""
    later = tmp_path / "later"
    later.mkdir()
    for path in PASSING:
        lines = path.read_text().splitlines(keepends=True)
        # One child fewer in the later return, so its figures differ.
        (later / path.name).write_text("".join(lines[:-1]))

    def send(paths: list[Path]) -> tuple[int, bool]:
        got = receive(
            store,
            store_settings,
            RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in paths]),
        )
        assert got.submission.id is not None
        if not got.duplicate:
            assert process_records(store, store_settings, got.submission.id).status == "accepted"
        return got.submission.id, got.duplicate

    def current() -> dict[str, float | None]:
        with Session(store) as session:
            rows = session.exec(
                select(Observation).where(col(Observation.is_current), col(Observation.org_code) == "E10000024")
            ).all()
            return {f"{o.indicator_id} {o.period}": o.value for o in rows}

    first, _ = send(PASSING)
    earlier_figures = current()
    send(sorted(later.glob("*.csv")))
    assert current() != earlier_figures
    again, duplicate = send(PASSING)
    assert not duplicate
    assert again != first
    assert current() == earlier_figures
    assert send(PASSING) == (again, True)


def test_a_stop_marks_what_it_cut_off_and_the_next_start_takes_it_up_at_once(
    store: Engine, store_settings: Settings
) -> None:
    """The service stopping while it holds a record-level upload marks it interrupted, so the next start's resume
    takes it up at once (it waited for its own lease to run out, shown as in progress while nothing ran)."""
    sid = received(store, store_settings)
    cut_off(store, sid, stage="dfe_rules", until=datetime.now(UTC) + timedelta(minutes=5), owner=worker_id())
    with client_on(store_settings, store):
        pass  # started and stopped
    with Session(store) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        assert sub.status == "interrupted"
        assert "cut off when the service stopped" in sub.message
    assert door.resume(store, store_settings, WAY.name, AGAIN) == [sid]
    assert figures_of(store, sid) > 0


def test_an_upload_cut_off_mid_way_is_resumed_once_its_lease_runs_out(store: Engine, store_settings: Settings) -> None:
    sid = received(store, store_settings)
    cut_off(store, sid, stage="dfe_rules", until=datetime.now(UTC) + timedelta(minutes=5))
    # Its worker may still be alive: nothing takes it up while the lease runs.
    assert door.resume(store, store_settings, WAY.name, AGAIN) == []
    assert process_records(store, store_settings, sid).stage == "dfe_rules"
    cut_off(store, sid, stage="dfe_rules", until=datetime.now(UTC) - timedelta(seconds=1))
    assert door.resume(store, store_settings, WAY.name, AGAIN) == [sid]
    with Session(store) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        assert (sub.status, sub.stage, sub.attempts) == ("accepted", "stored", 1)
    assert figures_of(store, sid) > 0
    assert door.resume(store, store_settings, WAY.name, AGAIN) == []


def test_an_interrupted_upload_is_run_again_by_reprocess(store: Engine, store_settings: Settings) -> None:
    sid = received(store, store_settings)
    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(status="interrupted"))
        session.commit()
    outcome = reprocess(store, store_settings, sid)
    assert outcome.submission is not None
    assert (outcome.submission.status, outcome.submission.stage) == ("accepted", "stored")


def test_an_upload_that_keeps_stopping_its_worker_ends_failed(store: Engine, store_settings: Settings) -> None:
    sid = received(store, store_settings)
    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(attempts=3))
        session.commit()
    ended = process_records(store, store_settings, sid)
    assert (ended.status, ended.stage) == ("failed", "failed")
    assert figures_of(store, sid) == 0


def test_purge_deletes_raw_files_and_child_rows_past_retention_and_keeps_figures(
    store: Engine, store_settings: Settings
) -> None:
    sid = received(store, store_settings)
    sub = process_records(store, store_settings, sid)
    assert sub.status == "accepted"
    assert kept_names(store, store_settings, "records") == [sub.raw_path]
    assert purge(store, store_settings).submissions == 0  # within the period
    later = datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 1)
    done = purge(store, store_settings, now=later)
    assert (done.submissions, done.files) == (1, 1)
    assert done.rows > 0
    assert kept_names(store, store_settings, "records") == []
    with Session(store) as session:
        assert not session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()
        assert not session.exec(select(RecordLineage).where(col(RecordLineage.submission_id) == sid)).all()
        kept = session.get(Submission, sid)
        assert kept is not None
        assert kept.purged_at is not None
        assert kept.rows_accepted > 0
    assert figures_of(store, sid) == sub.rows_accepted
    assert purge(store, store_settings, now=later).submissions == 0


def test_the_purge_command_says_what_it_deleted(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.commands import app

    mp = monkeypatch
    mp.setenv("ONERETURN_DATA_DIR", str(store_settings.data_dir))
    mp.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    from onereturn.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["records", "purge"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Purged 0 record-level upload(s) older than 90 days" in result.output


def test_a_failure_names_no_value_from_the_records(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import collectors.records.service as service

    born, child, postcode = "2010-06-17", "4711815", "NG5 1AA"

    def breaks(*_: object, **__: object) -> None:
        # An error raised while reading the records may quote one of their values, as polars' parse errors do.
        raise ValueError(f"could not parse {born!r} for child {child} at HOME_POST {postcode}")

    monkeypatch.setattr(service, "derive_ssda903", breaks)
    sid = received(store, store_settings)
    ended = process_records(store, store_settings, sid)
    assert (ended.status, ended.stage) == ("failed", "failed")
    assert "ValueError" in ended.message
    said = ended.message + caplog.text
    for value in (born, child, postcode):
        assert value not in said

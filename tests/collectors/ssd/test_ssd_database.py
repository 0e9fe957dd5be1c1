"""A council's SSD read from its own PostgreSQL database: the same submissions an upload of the same tables as a ZIP
gives, nothing new when the database is unchanged, a refused extract stores nothing and says why, the job is there
only for the councils configured, and the URL (its password) is never in a log or an error."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

import scheduler
from collectors import ways_in
from collectors.ssd import database
from collectors.ssd.models import CscPayloadExtract
from collectors.ssd.spec import mapped_years
from indicators.store.models import Submission
from mappings.council_ssd import SsdRead
from onereturn import jobs
from onereturn.errors import InvalidInput
from onereturn.models import JobRun
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import upload
from tests.collectors.ssd.ssd_samples import EPISODES, PERSON, extract_zip, set_council_ssd

COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
AGENCY = "synthetic_county"
VARIABLE = "ONERETURN_TEST_SSD_URL"
SERVER = os.environ.get("ONERETURN_TEST_DATABASE_URL", "")
# The SSD's columns as a council's PostgreSQL build may type them: text, a date, a flag held as a boolean.
CONTACTS = (
    "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_source_code\n"
    "K1,C1,2024-05-01,1A\n"
    "K2,C2,2024-06-01,3A\n"
)
TYPES = {"cine_close_date": "date", "cine_referral_nfa": "boolean"}
# Only the SQLite store: the SSD database read is PostgreSQL's whatever the store is.
on_sqlite = pytest.mark.parametrize("store_template", ["sqlite"], indirect=True)


def _counted(store: Engine, model: type) -> int:
    with Session(store) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def ssd_schema() -> Iterator[str]:
    """A schema of the test server's database holding the tiny extract's tables, dropped afterwards."""
    import psycopg

    schema = f"ssd_{uuid.uuid4().hex[:10]}"
    url = SERVER.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        for table, text in (("ssd_person", PERSON), ("ssd_cin_episodes", EPISODES), ("ssd_contacts", CONTACTS)):
            heading = text.splitlines()[0].split(",")
            typed = ", ".join(f"{c} {TYPES.get(c, 'text')}" for c in heading)
            conn.execute(f"CREATE TABLE {schema}.{table} ({typed})")
            with conn.cursor().copy(f"COPY {schema}.{table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                copy.write(text.encode())
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _settings(store: Engine, tmp_path: Path, schema: str = "public") -> Settings:
    """The county's read of its SSD set on its agency, and the service's settings."""
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE, "schema": schema, "year": "2024-25"})
    return Settings(data_dir=tmp_path / "data")


def _read(store: Engine, settings: Settings, source: database.Source, **how: str) -> tuple[bool, str]:
    """A read of a council's SSD database as the scheduler and the command line make it: through the table of ways
    in."""
    return database.run_read(store, settings, source, take=ways_in.extracts(store, settings), **how)


@pytest.mark.postgres
@on_sqlite
def test_a_read_gives_what_an_upload_of_the_same_tables_gives(
    store: Engine, ssd_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, SERVER)
    settings = _settings(store, tmp_path, ssd_schema)
    source = database.sources(store)[AGENCY]
    ok, done = _read(store, settings, source)
    assert ok, done
    assert "cin_census_from_ssd.xml" in done
    with Session(store) as session:
        made = session.exec(select(Submission).where(col(Submission.submitted_by).contains("SSD database"))).all()
    by_name = {s.filename: s for s in made}
    assert set(by_name) == {"cin_census_from_ssd.xml", database.EXTRACT_NAME}
    census, annex = by_name["cin_census_from_ssd.xml"], by_name[database.EXTRACT_NAME]
    assert (census.status, census.stage, census.collection_year) == ("accepted", "stored", "2024-25")
    assert census.submitted_by == "SSD database read (the schedule)"
    assert annex.mode == "annex_a_ssd"
    # The database read again, unchanged (a row written again as it was: first in the table's heap no more): no new
    # submission, no new payload extract.
    import psycopg

    with psycopg.connect(SERVER.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(f"UPDATE {ssd_schema}.ssd_person SET pers_sex = pers_sex WHERE pers_person_id = 'C1'")
    before, extracts = _counted(store, Submission), _counted(store, CscPayloadExtract)
    ok, again = _read(store, settings, source, by="onereturn records read-ssd")
    assert ok, again
    assert "unchanged: a repeat of it" in again
    assert (_counted(store, Submission), _counted(store, CscPayloadExtract)) == (before, extracts)
    # The same tables uploaded as a ZIP: the same files made, known as repeats of the read's; Annex A's rows too.
    members: dict[str, str | bytes] = {
        "ssd_person.csv": PERSON,
        "ssd_cin_episodes.csv": EPISODES,
        "ssd_contacts.csv": CONTACTS,
    }
    with client_on(settings, store) as client:
        answer = upload(client, [extract_zip(tmp_path / "ssd.zip", members)], headers=COUNTY)
    # Every file it makes is a repeat of the read's: answered 200, as a repeat is (docs/records.md).
    assert answer.status_code == 200, answer.text
    sent = answer.json()
    assert [(s["id"], s["duplicate"]) for s in sent["submissions"]] == [(census.id, True)]
    assert sent["extract"]["annex_a"]["id"] == annex.id
    assert _counted(store, Submission) == before
    with Session(store) as session:
        runs = session.exec(select(JobRun).where(col(JobRun.job_id) == f"ssd-read:{AGENCY}")).all()
    assert [r.outcome for r in runs] == ["ok", "ok"]


@pytest.mark.postgres
@on_sqlite
def test_a_refused_extract_stores_nothing_and_says_why(
    store: Engine, ssd_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    with psycopg.connect(SERVER.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(
            f"UPDATE {ssd_schema}.ssd_cin_episodes SET cine_referral_source_code = 'ZZ9' WHERE cine_referral_id = 'R2'"
        )
    monkeypatch.setenv(VARIABLE, SERVER)
    settings = _settings(store, tmp_path, ssd_schema)
    before = _counted(store, Submission)
    ok, why = _read(store, settings, database.sources(store)[AGENCY])
    assert not ok
    assert "refused" in why
    assert "ssd_cin_episodes/2/cine_referral_source_code" in why
    assert "ZZ9" not in why
    assert _counted(store, Submission) == before
    assert not list((settings.data_dir / "records").glob("**/*.fernet"))
    with Session(store) as session:
        (run,) = session.exec(select(JobRun).where(col(JobRun.job_id) == f"ssd-read:{AGENCY}")).all()
    assert run.outcome == "error"
    assert "cine_referral_source_code" in run.detail


@on_sqlite
@pytest.mark.parametrize(
    "url",
    ["postgresql://reader:s3cret-pw@127.0.0.1:1/ssd", "postgresql://reader:s3cret-pw@127.0.0.1:notaport/ssd"],
)
def test_the_url_is_never_in_a_log_or_an_error(
    store: Engine, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(VARIABLE, url)
    settings = _settings(store, tmp_path)
    caplog.set_level(logging.DEBUG)
    before = _counted(store, Submission)
    ok, why = _read(store, settings, database.sources(store)[AGENCY], by="onereturn records read-ssd")
    assert not ok
    assert why.startswith("the SSD database could not be read")
    with Session(store) as session:
        (run,) = session.exec(select(JobRun)).all()
    for text in (why, caplog.text, run.detail):
        assert "s3cret-pw" not in text
        assert url not in text
    assert _counted(store, Submission) == before


def test_a_setting_not_set_is_a_failed_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    settings = Settings(data_dir=tmp_path / "data")
    with pytest.raises(database.ReadFailed, match=f"{VARIABLE} is not set"):
        database.read_now(
            None,  # type: ignore[arg-type]
            settings,
            database.Source(AGENCY, VARIABLE),
            year=None,
            submitted_by="",
            take=ways_in.extracts(None, settings),  # type: ignore[arg-type]
        )


@on_sqlite
def test_each_councils_read_is_its_agencys_and_a_bad_one_is_named(store: Engine) -> None:
    assert database.sources(store) == {}
    set_council_ssd(store, AGENCY, read={"url_variable": "URL_A"})
    set_council_ssd(
        store,
        "lewisham_council",
        read={"url_variable": "URL_B", "schema": "ssd", "year": "2024-25", "at": "30 3 * * 1-5"},
    )
    found = database.sources(store)
    assert found[AGENCY] == database.Source(AGENCY, "URL_A")
    assert found["lewisham_council"] == database.Source("lewisham_council", "URL_B", "ssd", "2024-25", "30 3 * * 1-5")
    # Written as the record-level form takes a year: the same rule.
    assert SsdRead.model_validate({"url_variable": "U", "year": "FY2024/25"}).year == "2024-25"
    for bad, said in (
        ({}, "url_variable"),
        ({"url_variable": "postgresql://x"}, "url_variable"),
        ({"url_variable": "U", "schema": "x;y"}, "schema"),
        ({"url_variable": "U", "at": "99 * * * *"}, "is not a crontab"),
        ({"url_variable": "U", "year": "2024"}, "is not a collection year"),
        ({"url_variable": "U", "year": "2024-26"}, "is not a collection year"),
        ({"url_variable": "U", "year": "\uff12\uff10\uff12\uff14-\uff12\uff15"}, "is not a collection year"),
        ({"url_variable": "U", "when": "now"}, "when"),
    ):
        with pytest.raises(ValidationError, match=said):
            SsdRead.model_validate(bad)
    assert database.last_ended_year(datetime(2026, 11, 26, tzinfo=UTC).date()) == "2025-26"
    assert database.last_ended_year(datetime(2026, 3, 31, tzinfo=UTC).date()) == "2024-25"


@on_sqlite
def test_the_job_is_there_only_for_the_councils_configured(store: Engine, tmp_path: Path) -> None:
    now = datetime(2025, 4, 2, 12, 0, tzinfo=UTC)
    for read, wanted in ((None, set()), ({"url_variable": VARIABLE, "at": "30 3 * * *"}, {f"ssd-read:{AGENCY}"})):
        set_council_ssd(store, AGENCY, read=read)
        settings = Settings(data_dir=tmp_path / "data")
        jobs.bind(settings=settings)
        try:
            sched = scheduler.build_scheduler(settings)
            sched.start(paused=True)
            scheduler.reconcile(sched, store, now)
            found = {j.id for j in sched.get_jobs() if j.id.startswith("ssd-read:")}
            assert found == wanted
            for scheduled in sched.get_jobs():
                if scheduled.id in wanted:
                    assert scheduled.kwargs == {"agency_code": AGENCY}
                    assert (scheduled.trigger.fields[5].name, str(scheduled.trigger.fields[5])) == ("hour", "3")
            sched.shutdown(wait=False)
        finally:
            jobs.unbind("settings")


@pytest.mark.postgres
@on_sqlite
def test_tables_over_the_upload_limit_store_nothing(
    store: Engine, ssd_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, SERVER)
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE, "schema": ssd_schema})
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=200)
    ok, why = _read(store, settings, database.sources(store)[AGENCY])
    assert (ok, "over the upload limit of 200 bytes" in why) == (False, True)
    assert _counted(store, Submission) == 0


def _cli(store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    from cli.commands import app
    from onereturn.settings import get_settings

    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr("cli.shared.ready_engine", lambda: store)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["records", "read-ssd", *args])
    finally:
        get_settings.cache_clear()


@pytest.mark.postgres
@on_sqlite
def test_the_command_reads_now_and_says_what_was_made(
    store: Engine, ssd_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, SERVER)
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE, "schema": ssd_schema})
    result = _cli(store, tmp_path, monkeypatch, "--agency", AGENCY, "--year", "2024-25")
    assert result.exit_code == 0, result.output
    assert "cin_census_from_ssd.xml (submission" in result.output
    with Session(store) as session:
        (census,) = session.exec(select(Submission).where(col(Submission.filename) == "cin_census_from_ssd.xml")).all()
    assert census.submitted_by == "SSD database read (onereturn records read-ssd)"


@on_sqlite
def test_the_command_says_why_nothing_was_stored(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "postgresql://reader:s3cret-pw@127.0.0.1:1/ssd")
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE})
    result = _cli(store, tmp_path, monkeypatch, "--agency", AGENCY, "--year", "2024-25")
    assert result.exit_code == 1
    assert "Nothing stored: the SSD database could not be read" in result.output
    assert "s3cret-pw" not in result.output


def test_the_command_refuses_with_exit_1_and_says_why(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/cli.md and docs/records.md: exit 1 when nothing was read, as for a failed read (not a usage error's 2).
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE})
    result = _cli(store, tmp_path, monkeypatch, "--agency", "nottinghamshire")
    assert result.exit_code == 1, result.output
    assert "Nothing read: no SSD database is set for nottinghamshire: its agency's ssd.read names none" in (
        result.output
    )
    result = _cli(store, tmp_path, monkeypatch, "--agency", AGENCY, "--year", "1999-00")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Nothing read: ")
    assert _counted(store, Submission) == 0


@on_sqlite
def test_a_failed_scheduled_read_is_recorded_and_the_scheduler_goes_on(
    jobs_on: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "postgresql://reader:s3cret-pw@127.0.0.1:1/ssd")
    jobs.bind(settings=_settings(jobs_on, tmp_path))
    try:
        scheduler.job_ssd_read(AGENCY)
        scheduler.job_ssd_read("nottinghamshire")  # no longer configured: nothing read, nothing recorded
    finally:
        jobs.unbind("settings")
    with Session(jobs_on) as session:
        runs = session.exec(select(JobRun)).all()
    assert [(r.job_id, r.outcome) for r in runs] == [(f"ssd-read:{AGENCY}", "error")]
    assert "could not be read" in runs[0].detail


def test_the_default_year_is_the_latest_ended_one_with_a_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "mapped_years", lambda: ("2024-25", "2026-27"))
    on = datetime(2026, 11, 26, tzinfo=UTC).date()  # 2025-26 has ended, but no mapping is shipped for it
    assert database.default_year(on) == "2024-25"
    assert database.default_year(datetime(2027, 4, 1, tzinfo=UTC).date()) == "2026-27"
    with pytest.raises(InvalidInput, match=r"no collection year with an SSD mapping \(2024-25, 2026-27\) has ended"):
        database.default_year(datetime(2025, 3, 31, tzinfo=UTC).date())


def test_the_year_a_read_is_of_and_why_is_said() -> None:
    settings = Settings()
    found = {"a1": database.Source("a1", "URL_A"), "b2": database.Source("b2", "URL_B", year="2024-25")}
    assert database.year_of(settings, found["b2"], None) == ("2024-25", "the council's setting")
    assert database.year_of(settings, found["a1"], "2024-25") == ("2024-25", "asked")
    year, why = database.year_of(settings, found["a1"], None)
    assert year in mapped_years()
    assert why.startswith("the latest ended collection year")


@on_sqlite
def test_a_councils_year_without_a_mapping_is_refused_by_its_read_naming_the_years_with_one(
    store: Engine, tmp_path: Path
) -> None:
    """Set in the council's agency file (the API refuses it up front), its read says so and stores nothing; the
    scheduler starts, and every other council's read and job goes on."""
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE, "year": "2023-24"})
    settings = Settings(data_dir=tmp_path / "data")
    ok, why = _read(store, settings, database.sources(store)[AGENCY])
    assert not ok
    assert "mapping the service ships (2024-25), not 2023-24" in why
    assert _counted(store, Submission) == 0
    jobs.bind(settings=settings)
    try:
        sched = scheduler.build_scheduler(settings)
        sched.start(paused=True)
        scheduler.reconcile(sched, store, datetime(2025, 4, 2, 12, 0, tzinfo=UTC))
        assert sched.get_job(f"ssd-read:{AGENCY}") is not None
        sched.shutdown(wait=False)
    finally:
        jobs.unbind("settings")


@on_sqlite
def test_the_command_says_the_year_read_and_refuses_one_without_a_mapping(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "postgresql://reader:s3cret-pw@127.0.0.1:1/ssd")
    set_council_ssd(store, AGENCY, read={"url_variable": VARIABLE})
    result = _cli(store, tmp_path, monkeypatch, "--agency", AGENCY)
    assert result.exit_code == 1
    assert "(collection year 2024-25: the latest ended collection year" in result.output
    result = _cli(store, tmp_path, monkeypatch, "--agency", AGENCY, "--year", "2023-24")
    assert result.exit_code == 1
    assert (
        "Nothing read: the SSD is read for a collection year whose mapping the service ships (2024-25), not 2023-24"
        in (result.output)
    )

"""Every upload ends: failed with a reason (raw file kept) and runnable again; concurrent uploads store each figure once."""

from __future__ import annotations

import random
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select
from typer.testing import CliRunner

import collectors.door.spine as spine
import collectors.figures.service as service
from collectors.door.spine import Outcome
from collectors.figures.service import submit
from collectors.ways_in import rerun as reprocess
from indicators.store.models import Observation, Submission
from onereturn.errors import Conflict, ProcessingFailed
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error, kept_bytes

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
ROWS = "cyp.cin_count,E10000024,2024-06-30,,512,,,,\ncyp.lac_count,E10000024,2025-03-31,,1100,,,,\n"
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}


def _status(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        sub = session.get(Submission, submission_id)
        assert sub is not None
        return sub


def _break_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("the reader tripped over something")

    monkeypatch.setattr(service, "read_table", broken)


def test_a_parser_exception_ends_failed_with_a_reason_and_reprocess_runs_it_again(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        _break_reading(patch)
        with pytest.raises(ProcessingFailed) as caught:
            submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + ROWS).encode())
    sub_id = int(caught.value.message.split()[1])
    failed = _status(store, sub_id)
    assert failed.status == "failed"
    assert "ValueError: the reader tripped over something" in failed.message
    assert f"onereturn submissions reprocess {sub_id}" in failed.message
    assert failed.finished_at is not None
    assert kept_bytes(store, store_settings, failed.raw_path) == (HEADER + ROWS).encode()
    outcome = reprocess(store, store_settings, sub_id)
    assert outcome.submission is not None
    assert (outcome.submission.id, outcome.submission.status) == (sub_id, "accepted")
    assert _status(store, sub_id).rows_new == 2
    with pytest.raises(Conflict, match="only failed or interrupted"):
        reprocess(store, store_settings, sub_id)


def test_a_database_error_while_storing_ends_failed(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import IntegrityError

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise IntegrityError("INSERT INTO observation ...", {}, Exception("duplicate key value violates a constraint"))

    monkeypatch.setattr(spine, "write_figures", refuse)
    sub = _failed_with_nothing_stored(store, store_settings)
    assert "the database refused the figures (duplicate key value violates a constraint)" in sub.message


def _failed_with_nothing_stored(store: Engine, store_settings: Settings) -> Submission:
    """Send the two-row upload, which is to fail; check it ended failed with no figure stored."""
    with pytest.raises(ProcessingFailed):
        submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + ROWS).encode())
    with Session(store) as session:
        sub: Submission = session.execute(select(Submission)).scalars().one()
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
    assert sub.status == "failed"
    return sub


def _foreign_key_checks(engine: Engine) -> list[int]:
    """PRAGMA foreign_keys of every idle pooled SQLite connection (all checked out at once, then handed back)."""
    held = [engine.connect() for _ in range(engine.pool.checkedin())]  # type: ignore[attr-defined]
    try:
        return [int(c.exec_driver_sql("PRAGMA foreign_keys").scalar_one()) for c in held]
    finally:
        for connection in held:
            connection.close()


def test_figures_of_an_indicator_not_in_the_catalogue_are_refused_by_the_store_and_nothing_is_kept(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    from collectors.store import write_figures as real

    def renamed(session: Session, changed: pl.DataFrame, **kwargs: object) -> None:
        # As if the indicator left the catalogue after the upload was validated.
        gone = changed.with_columns(
            pl.when(pl.col("indicator_id") == "cyp.lac_count")
            .then(pl.lit("cyp.gone_since"))
            .otherwise(pl.col("indicator_id"))
            .alias("indicator_id")
        )
        real(session, gone, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(spine, "write_figures", renamed)
    sub = _failed_with_nothing_stored(store, store_settings)
    assert "the database refused the figures" in sub.message
    if store.dialect.name == "sqlite":
        # The store checks the references once per upload, not per row; every connection goes back with them on.
        assert "cyp.gone_since not in the catalogue" in sub.message
        assert _foreign_key_checks(store)
        assert set(_foreign_key_checks(store)) == {1}
    monkeypatch.setattr(spine, "write_figures", real)
    outcome = reprocess(store, store_settings, int(sub.id or 0))
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"
    if store.dialect.name == "sqlite":
        assert set(_foreign_key_checks(store)) == {1}
        from sqlalchemy.exc import IntegrityError

        # Outside an upload's store, SQLite itself still refuses the row.
        with store.connect() as connection, pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
            connection.exec_driver_sql(
                "INSERT INTO observation (indicator_id, org_code, period, breakdown, version, is_current, status, "
                "recorded_at) VALUES ('cyp.gone_since', 'E10000024', '2025-03-31', '', 1, 1, 'final', '2026-01-01')"
            )


def test_storing_for_a_submission_that_is_not_stored_is_refused(store: Engine) -> None:
    import sqlite3

    from collectors.store import storing

    if store.dialect.name != "sqlite":
        pytest.skip("on PostgreSQL the foreign keys are checked per row by the server")
    import polars as pl

    with (
        pytest.raises(sqlite3.IntegrityError, match="submission 987654 is not stored"),
        storing(store, 987654, pl.DataFrame()),
    ):
        pass
    assert set(_foreign_key_checks(store)) == {1}


def test_over_http_a_failure_is_a_503_naming_the_submission_then_the_cli_reprocesses_it(
    store: Engine, store_client: TestClient, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli import commands as cli

    with monkeypatch.context() as patch:
        _break_reading(patch)
        response = store_client.post(
            "/api/submissions", headers=NOTTS, files={"file": ("f.csv", (HEADER + ROWS).encode(), "text/csv")}
        )
    assert response.status_code == 503
    assert_canonical_error(response.json(), 503)
    assert "processing failed" in response.json()["error"]
    listed = store_client.get("/api/submissions", headers=NOTTS).json()["items"]
    assert [s["status"] for s in listed] == ["failed"]
    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(store_settings.data_dir))
    from onereturn.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(cli.app, ["submissions", "reprocess", str(listed[0]["id"])])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    assert store_client.get("/api/submissions", headers=NOTTS).json()["items"][0]["status"] == "accepted"


def test_a_nul_in_a_note_is_stored_cleaned(store: Engine, store_settings: Settings) -> None:
    data = (
        b'[{"indicator": "cyp.cin_count", "org": "E10000024", "period": "2024-06-30", "value": 7, "note": "a\\u0000b"}]'
    )
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="f.json", data=data)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.submission.message
    with Session(store) as session:
        assert session.execute(select(Observation.note)).scalar_one() == "a\ufffdb"


def _population_rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        orgs = [r[0] for r in conn.execute(text("SELECT org_code FROM agency_org WHERE agency_code = 'ons'"))]
    return [
        f"pop.resident_0_17,{org},CY{year},,{1000 + year},,,,"
        for year in range(1990, 2000)
        for org in sorted(orgs)[:150]
    ]


def test_concurrent_uploads_of_the_same_figures_leave_each_current_once(
    store: Engine, store_settings: Settings
) -> None:
    rows = _population_rows(store)
    assert len(rows) > 1000
    uploads = 6
    files = []
    for i in range(uploads):
        shuffled = rows[:]
        random.Random(i).shuffle(shuffled)
        files.append((HEADER + "\n".join(shuffled) + "\n").encode())
    outcomes: list[object] = [None] * uploads
    start = threading.Barrier(uploads)

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = submit(store, store_settings, agency_code="ons", filename=f"f{i}.csv", data=files[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(uploads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [getattr(getattr(o, "submission", None), "status", repr(o)) for o in outcomes]
    assert statuses == ["accepted"] * uploads
    with Session(store) as session:
        current = session.execute(
            text(
                "SELECT indicator_id, org_code, period, breakdown, count(*) FROM observation WHERE is_current "
                "GROUP BY indicator_id, org_code, period, breakdown"
            )
        ).all()
        total = session.execute(select(func.count()).select_from(Observation)).scalar_one()
        new = [s.rows_new for s in session.execute(select(Submission)).scalars()]
    assert len(current) == len(rows)
    assert {c[-1] for c in current} == {1}
    assert total == len(rows), "the same figures sent again are unchanged, not new versions"
    assert sorted(new) == [0] * (uploads - 1) + [len(rows)]


def test_stores_of_different_periods_run_side_by_side_and_close_queries_of_the_same_upload(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two uploads of different (indicator, period) pairs store at the same time on PostgreSQL; both close
    a query of the same earlier upload, which both then recount, and neither waits on the other forever."""
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    from collectors.store import write_figures as real

    def send(*rows: str) -> Outcome:
        return submit(
            store,
            store_settings,
            agency_code="notts_cyp",
            filename="f.csv",
            data=(HEADER + "\n".join(rows) + "\n").encode(),
        )

    send("cyp.lac_count,E10000024,2025-03-31,,901,,,,", "cyp.lac_12_months,E10000024,2025-03-31,,400,,,,")
    # Both figures move more than 50% from the year before: held by a query each, in one upload.
    earlier = send("cyp.lac_count,E10000024,2026-03-31,,2000,,,,", "cyp.lac_12_months,E10000024,2026-03-31,,1000,,,,")
    assert earlier.submission is not None
    assert (earlier.submission.status, earlier.submission.queries_open) == ("queried", 2)

    both_storing = threading.Barrier(2, timeout=20)

    def meet_then_write(*args: object, **kwargs: object) -> None:
        # Each store waits here until the other is storing too: with one store at a time, this never happens.
        both_storing.wait()
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(spine, "write_figures", meet_then_write)
    outcomes: list[object] = [None, None]
    files = [
        ("cyp.lac_count,E10000024,2026-03-31,,2000,,,,a new placement service opened",),
        ("cyp.lac_12_months,E10000024,2026-03-31,,1000,,,,counted differently from this year",),
    ]

    def run(i: int) -> None:
        try:
            outcomes[i] = send(*files[i])
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = [getattr(getattr(o, "submission", None), "status", repr(o)) for o in outcomes]
    assert statuses == ["accepted", "accepted"]
    with Session(store) as session:
        first = session.get(Submission, earlier.submission.id)
        assert first is not None
        assert (first.status, first.queries_open) == ("superseded", 0)
        current = session.execute(
            text("SELECT indicator_id, value FROM observation WHERE is_current AND period = '2026-03-31' ORDER BY 1")
        ).all()
    assert [tuple(r) for r in current] == [("cyp.lac_12_months", 1000.0), ("cyp.lac_count", 2000.0)]


def test_a_panic_in_polars_ends_the_upload_failed(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polars as pl

    def panic(*_args: object, **_kwargs: object) -> None:
        raise pl.exceptions.PanicException("assertion failed: i < self.len()")

    monkeypatch.setattr(service, "validate", panic)
    with pytest.raises(ProcessingFailed):
        submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + ROWS).encode())
    with Session(store) as session:
        sub = session.execute(select(Submission)).scalars().one()
    assert sub.status == "failed"
    assert "PanicException: assertion failed: i < self.len()" in sub.message


def test_a_busy_database_ends_the_upload_failed_and_is_answered_503(
    store: Engine, store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    def locked(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(spine, "write_figures", locked)
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.csv", (HEADER + ROWS).encode(), "text/csv")}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    with Session(store) as session:
        sub = session.execute(select(Submission)).scalars().one()
    assert sub.status == "failed"
    assert "database is locked" in sub.message

"""No exhaustion: a saturated worker answers 503 with Retry-After, never a 500, and loses nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from api.main import create_app
from benchmarks.load import server_timing
from indicators.store.models import Submission
from onereturn import db
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
CSV = b"indicator,org,period,breakdown,value,numerator,denominator,status,note\ncyp.lac_count,E10000024,2025-03-31,,1100,,,,\n"


def submissions(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(Submission)).scalar_one())


def test_every_upload_slot_taken_answers_503_with_retry_after(store: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, upload_slots=1, upload_wait_seconds=0, retry_after_seconds=7)
    app = create_app(settings, engine=store)
    with TestClient(app) as client:
        before = submissions(store)
        assert client.portal is not None
        client.portal.call(app.state.upload_slots.acquire)
        try:
            busy = client.post("/api/submissions", files={"file": ("n.csv", CSV, "text/csv")}, headers=NOTTS)
        finally:
            client.portal.call(app.state.upload_slots.release)
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "7"
        assert_canonical_error(busy.json(), 503)
        assert "send it again" in busy.json()["error"]
        assert submissions(store) == before, "a refused upload records nothing"
        # The slot is free again: the same upload goes through.
        again = client.post("/api/submissions", files={"file": ("n.csv", CSV, "text/csv")}, headers=NOTTS)
        assert again.status_code == 201
        assert submissions(store) == before + 1


def timing(answer: httpx.Response) -> dict[str, float]:
    """The durations (ms) an answer's Server-Timing header gives, by name (read as the load benchmark reads it)."""
    return {name: seconds * 1000 for name, seconds in server_timing(answer.headers["server-timing"]).items()}


def test_an_upload_says_how_long_it_waited_for_a_slot_and_how_long_it_was_processed(
    store: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, upload_slots=1, upload_wait_seconds=30)
    app = create_app(settings, engine=store)
    with TestClient(app) as client:
        assert client.portal is not None
        portal = client.portal
        first = client.post("/api/submissions", files={"file": ("n.csv", CSV, "text/csv")}, headers=NOTTS)
        assert first.status_code == 201
        took = timing(first)
        assert set(took) == {"slot", "process"}
        assert took["slot"] < 250
        assert took["process"] > 0
        # The only slot is held for a while by another upload: the next one says it waited for it.
        portal.call(app.state.upload_slots.acquire)
        threading.Timer(0.4, lambda: portal.call(app.state.upload_slots.release)).start()
        revised = CSV.replace(b",1100,", b",1101,")
        second = client.post("/api/submissions", files={"file": ("n.csv", revised, "text/csv")}, headers=NOTTS)
        assert second.status_code == 201
        # Released 400 ms after the timer starts; the upload reaches the slot within a few ms of it.
        assert timing(second)["slot"] >= 300
        # A dry run and a rejected upload say it too.
        dry = client.post(
            "/api/submissions", files={"file": ("n.csv", CSV, "text/csv")}, data={"mode": "dry_run"}, headers=NOTTS
        )
        assert dry.status_code == 200
        assert set(timing(dry)) == {"slot", "process"}
        bad = client.post(
            "/api/submissions", files={"file": ("n.csv", b"nothing,useful\n1,2\n", "text/csv")}, headers=NOTTS
        )
        assert bad.status_code == 422
        assert set(timing(bad)) == {"slot", "process"}


def test_no_free_database_connection_answers_503_not_500(store: Engine, tmp_path: Path) -> None:
    tiny = create_engine(store.url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    settings = Settings(data_dir=tmp_path, retry_after_seconds=3)
    with TestClient(create_app(settings, engine=tiny)) as client, tiny.connect():
        busy = client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE)
    tiny.dispose()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "3"
    assert_canonical_error(busy.json(), 503)


def test_postgresql_refusing_a_connection_answers_503_not_500(store: Engine, tmp_path: Path) -> None:
    """The server's own refusal ("sorry, too many clients already", SQLSTATE 53300) is busy, not a fault."""
    if store.dialect.name != "postgresql":
        pytest.skip("the refusal is PostgreSQL's")
    import psycopg.errors
    from sqlalchemy import event
    from sqlalchemy.pool import NullPool

    refusing = create_engine(store.url, poolclass=NullPool)

    @event.listens_for(refusing, "do_connect")
    def refuse(*_args: object) -> None:
        raise psycopg.errors.TooManyConnections("FATAL:  sorry, too many clients already")

    with TestClient(create_app(Settings(data_dir=tmp_path, retry_after_seconds=4), engine=refusing)) as client:
        busy = client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE)
    refusing.dispose()
    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"] == "4"
    assert_canonical_error(busy.json(), 503)


def test_the_pool_is_sized_to_the_request_threads(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}", threads=3)
    assert engine.pool.size() == db.pool_size(3)  # type: ignore[attr-defined]
    app = create_app(Settings(data_dir=tmp_path, request_threads=3), engine=engine)
    with TestClient(app) as client:
        import anyio.to_thread

        assert client.portal is not None
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
        assert tokens == 3
    engine.dispose()


def test_serve_says_when_postgresql_allows_fewer_connections_than_the_workers_can_hold(
    store: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, request_threads=16, upload_processes=False, scheduler_embedded=False)
    assert db.connections_needed(settings, 2) == 2 * db.pool_size(16) + db.SCHEDULER_CONNECTIONS
    with_processes = settings.model_copy(update={"upload_processes": True, "upload_slots": 2})
    assert db.connections_needed(with_processes, 2) == 2 * (db.pool_size(16) + 2 * 2 * db.pool_size(1)) + 4
    if store.dialect.name != "postgresql":
        assert db.connection_budget_warning(store, settings, 50) is None
        return
    with store.connect() as connection:
        allowed = int(connection.exec_driver_sql("SHOW max_connections").scalar_one()) - int(
            connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one()
        )
    fits = max(1, (allowed - db.SCHEDULER_CONNECTIONS) // db.pool_size(16))
    assert db.connection_budget_warning(store, settings, fits) is None
    warning = db.connection_budget_warning(store, settings, fits + 1)
    assert warning is not None
    assert f"{allowed} connections" in warning
    assert "503" in warning


def _lost() -> OperationalError:
    """The error of a connection the server ended mid-query, as SQLAlchemy raises it from psycopg."""
    return OperationalError("SELECT 1", None, psycopg.OperationalError("server closed the connection unexpectedly"))


def test_a_read_that_lost_its_connection_is_made_again_once(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mappings import service

    real, calls = service.get_return, []

    def once_lost(session: Session, return_id: str) -> Any:
        calls.append(return_id)
        if len(calls) == 1:
            raise _lost()
        return real(session, return_id)

    monkeypatch.setattr(service, "get_return", once_lost)
    answer = store_client.get("/api/returns/dfe_ssda903")
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "dfe_ssda903"
    assert calls == ["dfe_ssda903", "dfe_ssda903"]


def test_a_read_that_lost_its_connection_twice_is_503_with_retry_after(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mappings import service

    calls: list[str] = []

    def always_lost(_session: Session, return_id: str) -> Any:
        calls.append(return_id)
        raise _lost()

    monkeypatch.setattr(service, "get_return", always_lost)
    answer = store_client.get("/api/returns/dfe_ssda903")
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert answer.json()["errors"][0]["type"] == "connection_lost"
    assert len(calls) == 2


def test_a_write_that_lost_its_connection_is_503_and_not_made_again(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mappings import registry

    calls: list[str] = []

    def lost(_session: Session, body: Any, **_kwargs: Any) -> Any:
        calls.append(body.code)
        raise _lost()

    monkeypatch.setattr(registry, "create_agency", lost)
    kent = {"code": "kent_cyp", "name": "Kent CYP", "body_type": "local_authority", "orgs": ["E10000016"]}
    answer = store_client.post("/api/agencies", headers={"X-API-Key": "demo-officer-5e0b9c2a4f"}, json=kent)
    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    assert calls == ["kent_cyp"]

"""Whatever answer a caller gets matches what is stored, and the audit trail holds every stored change.

Uploads, record-level uploads and publisher imports were stored in a transaction of their own and their audit
event in the request's, after: a lost connection between the two left a stored change answered 503 and missing
from the trail. A commit whose connection was lost in flight was answered 503 even when it had been made. A
publisher import held no lease, so the sweep of cut-off uploads called one still waiting for the store interrupted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlmodel import Session

from collectors.door import lease
from collectors.published.intake import import_release
from collectors.published.sources import load_sources
from collectors.store import WRITE_LOCK_KEY
from onereturn.settings import Settings
from tests.api.test_committed import (
    CSV,
    NOTTS,
    OFFICER,
    REVISED_ONS,
    SIGNOFF,
    _app,
    _read,
)
from tests.collectors.records.samples import PASSING

CommitAction = Callable[[Any, Callable[[Any], None]], None]


@contextmanager
def on_audited_commit(engine: Engine, action: CommitAction) -> Iterator[list[int]]:
    """Hand the first commit of a transaction that recorded an audit event to ``action(dbapi_connection, commit)``
    (every other commit runs as usual); yields the list of backends it was used on."""
    marked: set[int] = set()
    used: list[int] = []
    real = engine.dialect.do_commit

    def mark(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENT"):
            marked.add(id(conn.connection.dbapi_connection))

    def unmark(conn: Any) -> None:
        dbapi = conn.connection.dbapi_connection if conn.connection is not None else None
        marked.discard(id(dbapi))

    def commit(connection: Any) -> None:
        # SQLAlchemy hands the pool's proxy of the driver's connection; the statements above saw the driver's.
        dbapi_connection = getattr(connection, "dbapi_connection", connection)
        if id(dbapi_connection) in marked and not used:
            marked.discard(id(dbapi_connection))
            used.append(getattr(getattr(dbapi_connection, "info", None), "backend_pid", 0))
            action(dbapi_connection, lambda _: real(connection))
            return
        marked.discard(id(dbapi_connection))
        real(connection)

    event.listen(engine, "before_cursor_execute", mark)
    event.listen(engine, "rollback", unmark)
    engine.dialect.do_commit = commit  # type: ignore[method-assign,assignment]
    try:
        yield used
    finally:
        engine.dialect.do_commit = real  # type: ignore[method-assign]
        event.remove(engine, "before_cursor_execute", mark)
        event.remove(engine, "rollback", unmark)


def _fail(dbapi_connection: Any, _commit: Callable[[Any], None]) -> None:
    """A commit refused by the store (a full disk): nothing of the transaction is kept."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        raise sqlite3.OperationalError("disk I/O error")
    raise psycopg.errors.DiskFull()


def _admin(engine: Engine) -> psycopg.Connection[Any]:
    dsn = engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(dsn, autocommit=True)


def _lost_after(admin: psycopg.Connection[Any]) -> CommitAction:
    """The commit is made, then its connection is ended before the answer is read: its outcome is unknown."""

    def action(dbapi_connection: Any, commit: Callable[[Any], None]) -> None:
        commit(dbapi_connection)
        admin.execute("SELECT pg_terminate_backend(%s)", (dbapi_connection.info.backend_pid,))
        # The loss as the driver reports it, on the very connection the commit went through.
        dbapi_connection.execute("SELECT 1")

    return action


def _lost_before(admin: psycopg.Connection[Any]) -> CommitAction:
    """The connection is ended as the commit is sent: nothing of the transaction is kept."""

    def action(dbapi_connection: Any, commit: Callable[[Any], None]) -> None:
        admin.execute("SELECT pg_terminate_backend(%s)", (dbapi_connection.info.backend_pid,))
        time.sleep(0.1)
        commit(dbapi_connection)

    return action


def _changes(store: Engine) -> dict[str, int]:
    """What is stored of the changes tried here, and the audit events of them."""
    with store.connect() as conn:

        def one(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar_one())

        return {
            "uploads": one(
                "SELECT count(*) FROM submission WHERE kind <> 'published' AND status IN "
                "('received', 'storing', 'accepted', 'queried', 'partially_accepted', 'rejected')"
            ),
            "upload events": one(
                "SELECT count(*) FROM audit_event WHERE action = 'submission.upload' AND status < 300"
            ),
            "releases": one("SELECT count(*) FROM published_release"),
            "release events": one("SELECT count(*) FROM audit_event WHERE action = 'upload.release' AND status < 300"),
            "signed": one("SELECT count(*) FROM signoff_event WHERE to_state = 'signed_off'"),
            "signoff events": one(
                "SELECT count(*) FROM audit_event WHERE action = 'signoff.sign_off' AND status < 300"
            ),
        }


def _unaudited(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Each kind of change stored since ``before`` more often than its audit events were."""
    pairs = (("uploads", "upload events"), ("releases", "release events"), ("signed", "signoff events"))
    return [
        f"{changed}: {after[changed] - before[changed]} stored, {after[events] - before[events]} audited"
        for changed, events in pairs
        if after[changed] - before[changed] != after[events] - before[events]
    ]


Send = Callable[[], Any]


def _upload(c: TestClient) -> Send:
    return lambda: c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)})


def _records(c: TestClient) -> Send:
    # Tables DfE's rules pass: files they refused, sent again, are read again as a new upload (never a repeat).
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in PASSING]
    return lambda: c.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=files)


def _publish(c: TestClient) -> Send:
    files = {"file": ("ons.csv", REVISED_ONS)}
    return lambda: c.post("/api/published/sources/ons_population_0_17/releases", headers=OFFICER, files=files)


def _sign_off(c: TestClient) -> Send:
    assert c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)}).status_code == 201
    read = _read(c)
    return lambda: c.post(f"{SIGNOFF}/sign-off", headers=NOTTS, json=read)


CHANGES: dict[str, Callable[[TestClient], Send]] = {
    "upload": _upload,
    "records": _records,
    "publish": _publish,
    "sign-off": _sign_off,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_and_its_audit_event_are_stored_together_or_not_at_all(
    store: Engine, store_settings: Settings, change: str
) -> None:
    with _app(store, store_settings) as app, TestClient(app) as client:
        send = CHANGES[change](client)
        before = _changes(store)
        with on_audited_commit(store, _fail) as used:
            refused = send()
        assert used, f"no commit carried an audit event: {refused.status_code} {refused.text[:300]}"
        assert refused.status_code == 503, refused.text[:500]
        assert refused.headers.get("retry-after")
        assert _changes(store) == before, "a change whose audit event was refused was kept (or its event)"
        if change != "records":  # its DfE rules would run for a minute: the receipt is what is stored with its event
            done = send()
            assert done.status_code < 300, done.text[:500]
            assert not _unaudited(before, _changes(store))


REPEATED = {"upload": 200, "publish": 201, "sign-off": 409, "records": 200}


@pytest.mark.postgres
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_commit_made_as_its_connection_is_ended_is_answered_as_stored(
    store: Engine, store_settings: Settings, change: str
) -> None:
    with _app(store, store_settings) as app, TestClient(app) as client, _admin(store) as admin:
        send = CHANGES[change](client)
        before = _changes(store)
        with on_audited_commit(store, _lost_after(admin)) as used:
            answer = send()
        assert used, "no commit carried an audit event"
        assert answer.status_code < 300, f"a stored change was answered {answer.status_code}: {answer.text[:500]}"
        stored = _changes(store)
        assert stored != before
        assert not _unaudited(before, stored), (before, stored)
        again = send()
        assert again.status_code == REPEATED[change], again.text[:500]
        if change in ("upload", "publish"):
            assert again.json()["duplicate"] is True
        kept = ("uploads", "releases", "signed")
        # A repeat is audited as a call of its own; it stores nothing.
        assert [_changes(store)[k] for k in kept] == [stored[k] for k in kept], "the repeat stored the change again"


@pytest.mark.postgres
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
@pytest.mark.parametrize("change", ["publish", "sign-off", "upload"])
def test_a_commit_lost_with_its_connection_is_answered_503_and_stores_nothing(
    store: Engine, store_settings: Settings, change: str
) -> None:
    with _app(store, store_settings) as app, TestClient(app) as client, _admin(store) as admin:
        send = CHANGES[change](client)
        before = _changes(store)
        with on_audited_commit(store, _lost_before(admin)) as used:
            answer = send()
        assert used, "no commit carried an audit event"
        assert answer.status_code == 503, answer.text[:500]
        assert answer.headers.get("retry-after")
        assert _changes(store) == before
        again = send()
        assert again.status_code < 300, again.text[:500]
        assert not _unaudited(before, _changes(store))


@pytest.mark.postgres
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_a_sign_off_that_lost_its_connection_is_audited_as_the_503_it_was_answered(
    store: Engine, store_settings: Settings
) -> None:
    with _app(store, store_settings) as app, TestClient(app) as client, _admin(store) as admin:
        send = _sign_off(client)
        ended: list[int] = []

        def end_it(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if not ended and statement.lstrip().upper().startswith("INSERT INTO SIGNOFF_EVENT"):
                pid = conn.connection.dbapi_connection.info.backend_pid
                ended.append(pid)
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                time.sleep(0.1)

        event.listen(store, "before_cursor_execute", end_it)
        try:
            answer = send()
        finally:
            event.remove(store, "before_cursor_execute", end_it)
        assert ended
        assert answer.status_code == 503, answer.text[:500]
    with store.connect() as conn:
        statuses = conn.execute(
            text("SELECT status, outcome FROM audit_event WHERE action = 'signoff.sign_off' ORDER BY id")
        ).all()
    assert [tuple(s) for s in statuses] == [(503, "error")]


@pytest.mark.postgres
@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_an_import_waiting_for_the_store_holds_its_lease_and_is_never_called_interrupted(
    store: Engine, tmp_path: Path
) -> None:
    """An import waits for the store's write lock (another store holds it); its lease is renewed meanwhile, so the
    sweep that marks cut-off uploads interrupted leaves it alone, and it ends accepted."""
    settings = Settings(data_dir=tmp_path / "data", upload_lease_seconds=1.0)
    spec = load_sources().sources["ons_population_0_17"]
    done: list[Any] = []
    with _admin(store) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK_KEY,))
        worker = threading.Thread(
            target=lambda: done.append(
                import_release(store, settings, spec, REVISED_ONS, filename="ons.csv", fetched_from="upload")
            )
        )
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _import_status(store) != "storing":
                time.sleep(0.1)
            assert _import_status(store) == "storing"
            # Three times the lease: an import without one, or one not renewed, is past it by now.
            time.sleep(3)
            with Session(store) as session:
                marked = lease.mark_expired(session)
                session.commit()
            assert marked == 0, "the sweep marked an import in progress interrupted"
            assert _import_status(store) == "storing"
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK_KEY,))
            worker.join(60)
    assert done
    assert not done[0].duplicate
    assert _import_status(store) == "accepted"


def _import_status(store: Engine) -> str | None:
    with store.connect() as conn:
        found = conn.execute(
            text("SELECT status FROM submission WHERE kind = 'published' ORDER BY id DESC LIMIT 1")
        ).scalar_one_or_none()
    return None if found is None else str(found)

"""The migrations build exactly the schema the models describe, on each backend."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from indicators.store.models import Submission
from onereturn import db, keptfiles
from onereturn.audittrail import AuditEvent
from onereturn.outbox import OutboxMessage
from onereturn.settings import Settings
from tests.stores import BACKENDS, PG_URL, pg_admin, pg_admin_url

BEFORE_THE_MOVE = Path(__file__).parent / "fixtures" / "stores" / "before_the_move.sql"


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata())
    assert diff == []


def test_building_the_metadata_imports_no_route_page_or_job() -> None:
    # In a process of its own: this one has long imported every floor.
    probe = (
        "import sys; from onereturn import db; tables = db.metadata().tables; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('api', 'scheduler', 'cli', 'benchmarks'))); "
        "print(sorted(t for t in ('job_run', 'scheduler_heartbeat', 'web_session', 'return_download') if t in tables))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    above, tables = done.stdout.splitlines()
    assert above == "[]"
    assert tables == "['job_run', 'return_download', 'scheduler_heartbeat', 'web_session']"


def test_a_store_made_before_the_move_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "before.sqlite3"
    with closing(sqlite3.connect(path)) as made:
        made.executescript(BEFORE_THE_MOVE.read_text())
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        db.upgrade(engine)
        head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata())
        assert diff == []
        with Session(engine) as session:
            event = session.exec(select(AuditEvent)).one()
            message = session.exec(select(OutboxMessage)).one()
        assert (event.principal, event.action, event.outcome) == ("officer: before the move", "key.issue", "ok")
        assert (message.subject, message.dedupe_key, message.status) == (
            "made before the move",
            "before-move",
            "queued",
        )
    finally:
        engine.dispose()


def test_a_migration_stopped_midway_on_sqlite_leaves_no_table_behind(tmp_path: Path, monkeypatch: Any) -> None:
    """A stop during the first migration (serve killed as it starts) must leave a store that starts next time."""
    from alembic import command

    path = tmp_path / "fresh.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    real = command.upgrade

    def stopped_midway(config: Any, revision: str) -> None:
        real(config, revision)  # every table made, the version recorded...
        raise KeyboardInterrupt  # ...and the process stopped before the commit

    monkeypatch.setattr(command, "upgrade", stopped_midway)
    try:
        with pytest.raises(KeyboardInterrupt):
            db.upgrade(engine)
        with closing(sqlite3.connect(path)) as left:
            tables = [r[0] for r in left.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert tables == []
        monkeypatch.setattr(command, "upgrade", real)
        db.upgrade(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata())
        assert diff == []
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of each backend, for migrations run step by step."""
    if request.param == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        yield engine
        engine.dispose()
        return
    name = f"{PG_URL.rsplit('/', 1)[-1]}_steps"
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}")
    engine = db.make_engine(pg_admin_url(name))
    try:
        yield engine
    finally:
        engine.dispose()
        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_an_earlier_releases_kept_file_paths_become_content_names(empty_store: Engine, tmp_path: Path) -> None:
    """Migration 0019: a ``raw_path`` naming a host's file becomes the file's content name, which that host (or,
    on PostgreSQL, any host once it has read it) reads."""
    from alembic import command

    config = db.alembic_config(empty_store)
    with empty_store.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0018_records_key_fingerprint")
    data = b"indicator,org,period,value\n"
    digest = hashlib.sha256(data).hexdigest()
    host = Settings(data_dir=tmp_path / "host-a")
    earlier = host.data_dir / "uploads" / digest[:2] / digest
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(data)
    # Written with the columns that release's table had: those a later release added are not there yet.
    with empty_store.begin() as connection:
        then = {c["name"] for c in sa.inspect(connection).get_columns("submission")} - {"id"}
        for raw in (str(earlier.resolve()), "/srv/other-host/var/records/cd/cdef.zip.fernet", ""):
            row = Submission(
                agency_code="a", filename="f.csv", source_format="csv", size_bytes=len(data), content_hash=digest,
                raw_path=raw, received_at=datetime.now(UTC), mode="default", status="accepted",
            ).model_dump()  # fmt: skip
            connection.execute(sa.table("submission", *map(sa.column, then)).insert().values(
                {k: v for k, v in row.items() if k in then}
            ))  # fmt: skip
    db.upgrade(empty_store)
    with Session(empty_store) as session:
        named = [s.raw_path for s in session.exec(select(Submission).order_by(col(Submission.id))).all()]
    assert named == [f"uploads/{digest[:2]}/{digest}", "records/cd/cdef.zip.fernet", ""]
    assert keptfiles.read(empty_store, host, named[0]) == data
    if keptfiles.is_shared(empty_store):
        earlier.unlink()
        assert keptfiles.read(empty_store, Settings(data_dir=tmp_path / "host-b"), named[0]) == data


def test_an_upload_kept_before_ways_were_recorded_is_given_its_way(empty_store: Engine) -> None:
    """Migration 0026: each submission kept before it names the way that took it, from its kind and mode."""
    from alembic import command

    config = db.alembic_config(empty_store)
    with empty_store.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0025_establishments")
    kept = [("figures", "default"), ("records", "sen2"), ("records", "default"), ("records", "annex_a_ssd")]
    with empty_store.begin() as connection:
        then = {c["name"] for c in sa.inspect(connection).get_columns("submission")} - {"id"}
        for kind, mode in kept:
            row = Submission(
                agency_code="a", filename="f", source_format="csv", size_bytes=1, content_hash="0" * 64, raw_path="",
                received_at=datetime.now(UTC), mode=mode, status="accepted", kind=kind,
            ).model_dump()  # fmt: skip
            table = sa.table("submission", *map(sa.column, then))
            connection.execute(table.insert().values({k: v for k, v in row.items() if k in then}))
    db.upgrade(empty_store)
    with Session(empty_store) as session:
        ways = [s.way for s in session.exec(select(Submission).order_by(col(Submission.id))).all()]
    assert ways == ["figures", "sen2", "records", "annex_a_ssd"]


def test_a_store_at_the_newest_migration_is_left_alone_and_one_behind_is_upgraded_and_checked(tmp_path: Path) -> None:
    """An upgrade of a SQLite store already at the newest migration runs nothing (no migration, no check of every
    foreign key, which every start and command paid for); a store one migration behind is upgraded and checked."""
    from alembic import command

    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()).upper())

    def checked() -> bool:
        return any("FOREIGN_KEY_CHECK" in s for s in sent)

    store = db.make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    config = db.alembic_config(store)
    scripts = ScriptDirectory.from_config(config)
    head = scripts.get_current_head()
    assert head is not None
    behind = scripts.get_revision(head).down_revision
    assert isinstance(behind, str)
    command.upgrade(config, behind)
    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        db.upgrade(store)
        assert checked()
        assert any(s.startswith("UPDATE ALEMBIC_VERSION") for s in sent)
        sent.clear()
        db.upgrade(store)
        assert sent
        assert not checked()
        assert not [s for s in sent if s.startswith(("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"))]
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    with store.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head
    store.dispose()


def test_a_census_kept_with_its_day_packed_in_its_year_is_given_its_own_columns(empty_store: Engine) -> None:
    """Migration 0027: a school census kept before it, its census day and source packed into its collection year
    (``2024-10-03 la``), is given them in their own columns and its year back as the academic year of its day; every
    other upload is left as it was, and going down packs them back."""
    from alembic import command

    config = db.alembic_config(empty_store)
    with empty_store.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0026_submission_way")
    kept = [("school_census", "2024-10-03 la"), ("school_census", "2025-01-16 acad"), ("sen2", "2024-25")]
    with empty_store.begin() as connection:
        then = {c["name"] for c in sa.inspect(connection).get_columns("submission")} - {"id"}
        for mode, year in kept:
            row = Submission(
                agency_code="a", filename="f", source_format="census", size_bytes=1, content_hash="0" * 64,
                raw_path="", received_at=datetime.now(UTC), mode=mode, status="accepted", kind="records",
                collection_year=year,
            ).model_dump()  # fmt: skip
            table = sa.table("submission", *map(sa.column, then))
            connection.execute(table.insert().values({k: v for k, v in row.items() if k in then}))
    db.upgrade(empty_store)
    with Session(empty_store) as session:
        found = [
            (s.collection_year, s.census_day, s.census_source)
            for s in session.exec(select(Submission).order_by(col(Submission.id))).all()
        ]
    assert found == [
        ("2024-25", date(2024, 10, 3), "la"), ("2024-25", date(2025, 1, 16), "acad"), ("2024-25", None, "")]  # fmt: skip
    with empty_store.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0026_submission_way")
    with empty_store.connect() as connection:
        years = connection.execute(sa.text("SELECT collection_year FROM submission ORDER BY id")).scalars().all()
    assert years == ["2024-10-03 la", "2025-01-16 acad", "2024-25"]

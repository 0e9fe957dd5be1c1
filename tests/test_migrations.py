"""The migrations build exactly the schema the models describe, on each backend."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlmodel import Session, select

from onereturn import db
from onereturn.audittrail import AuditEvent
from onereturn.outbox import OutboxMessage

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

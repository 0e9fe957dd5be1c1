"""A snapshot's bytes reach the store whole, however large, and SQLite never holds a second copy of them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert, inspect, text
from sqlmodel import Session

from exports import blobs
from exports.models import ReturnBuild
from onereturn import db

ROOT = Path(__file__).resolve().parents[2]


def _build(session: Session) -> int:
    # Only the columns every revision has: the test writes to a store migrated down as well as up.
    values = {
        "return_id": "dfe_ssda903",
        "period": "FY2024-25",
        "fingerprint": "f" * 64,
        "source_mark": "",
        "generated_at": datetime(2025, 4, 1, tzinfo=UTC),
        "catalogue_version": "test",
        "cell_count": 0,
        "completeness": {},
    }
    built = session.execute(insert(ReturnBuild.__table__).values(values).returning(ReturnBuild.__table__.c.id))  # type: ignore[attr-defined]
    return int(built.scalar_one())


@pytest.mark.parametrize("size", [0, 1, blobs._PIECE, 2 * blobs._PIECE + 3])
def test_a_snapshot_is_stored_whole_and_named_by_its_hash(session: Session, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    connection = session.connection()
    snapshot_id, content_hash = blobs.store(connection, _build(session), "json", data, datetime.now(UTC))
    row = connection.execute(
        text("SELECT size_bytes, content_hash FROM export_snapshot WHERE id = :id"), {"id": snapshot_id}
    ).one()
    assert tuple(row) == (size, content_hash)
    assert blobs._from_store(connection, snapshot_id) == data


def test_on_sqlite_the_bytes_are_written_in_pieces_without_a_copy_in_memory(tmp_path: Path) -> None:
    # In a process of its own, so its peak is this store's: 256 MiB bound whole (data not the row's last
    # column) raised the peak by about 2 x 256 MiB; written in pieces, by SQLite's page cache at most.
    script = textwrap.dedent(
        f"""
        import resource
        from datetime import UTC, datetime
        from sqlalchemy import text
        from sqlmodel import Session
        from onereturn import db
        from exports import blobs
        from tests.exports.test_snapshot_store import _build

        engine = db.make_engine("sqlite:///{tmp_path / "store.sqlite3"}")
        db.upgrade(engine)
        data = b"x" * (256 << 20)
        with Session(engine) as session:
            build_id = _build(session)
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            snapshot_id, _ = blobs.store(session.connection(), build_id, "json", data, datetime.now(UTC))
            grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            size = session.execute(text("SELECT length(data) FROM export_snapshot WHERE id = :i"), {{"i": snapshot_id}})
            print(grew // 1024, size.scalar_one())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    grew_mib, stored = (int(x) for x in done.stdout.split())
    assert stored == 256 << 20
    assert grew_mib < 128, done.stdout


def test_the_migration_puts_the_bytes_last_on_sqlite_and_back(tmp_path: Path) -> None:
    from alembic import command

    engine = db.make_engine(f"sqlite:///{tmp_path / 'migrate.sqlite3'}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        blobs.store(session.connection(), _build(session), "csv", b"kept", datetime.now(UTC))

    def columns() -> list[str]:
        return [c["name"] for c in inspect(create_engine(str(engine.url))).get_columns("export_snapshot")]

    assert columns()[-2:] == ["created_at", "data"]
    config = db.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005_h2")
    assert columns()[-2:] == ["data", "created_at"]
    db.upgrade(engine)
    assert columns()[-2:] == ["created_at", "data"]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT data FROM export_snapshot")).scalar_one() == b"kept"


def test_postgresql_compresses_snapshots_with_lz4_and_the_migration_reverts_it(store: Engine) -> None:
    from alembic import command

    if store.dialect.name != "postgresql":
        pytest.skip("SQLite does not compress a row's bytes")
    # Text that compresses, large enough to be compressed at all (PostgreSQL tries from about 2 kB).
    data = b'{"cell":"E10000024","value":12.5}' * 4_000

    def stored() -> str:
        with db.session_scope(store) as session:
            blobs.store(session.connection(), _build(session), "json", data, datetime.now(UTC))
        with store.connect() as connection:
            method = connection.execute(
                text("SELECT pg_column_compression(data) FROM export_snapshot ORDER BY id DESC LIMIT 1")
            ).scalar_one()
            assert (
                blobs._from_store(
                    connection, connection.execute(text("SELECT max(id) FROM export_snapshot")).scalar_one()
                )
                == data
            )
        return str(method)

    assert stored() == "lz4"
    config = db.alembic_config(store)
    with store.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006_h10")
    assert stored() == "pglz"
    db.upgrade(store)
    assert stored() == "lz4"

"""Back up while uploads run, restore into a fresh data directory, find the same figures, versions and snapshots."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from cli import commands as cli
from collectors.figures.service import submit
from collectors.ways_in import rerun as reprocess
from exports import service as exports
from onereturn import backup, db, keptfiles, sealing
from onereturn.errors import Conflict, InvalidInput
from onereturn.settings import Settings, get_settings
from tests.stores import PG_URL

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
FIGURES = (
    "SELECT id, indicator_id, org_code, period, breakdown, version, value, submission_id, file_row FROM observation"
)


def _rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _upload(engine: Engine, settings: Settings, value: int) -> None:
    rows = "".join(f"cyp.cin_count,E10000024,{y}-06-30,,{value + y},,,,\n" for y in range(2015, 2025))
    outcome = submit(engine, settings, agency_code="notts_cyp", filename=f"f{value}.csv", data=(HEADER + rows).encode())
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.submission.message


def test_backup_while_uploading_then_restore_into_a_fresh_data_directory(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store.dialect.name != "sqlite":
        pytest.skip("db backup and restore are SQLite's; PostgreSQL uses pg_dump (tested below)")
    settings = Settings(data_dir=tmp_path / "data", database_url=store.url.render_as_string())
    _upload(store, settings, 100)
    _upload(store, settings, 200)
    with Session(store) as session:
        snaps = [exports.snapshot(session, "dfe_cin_census", "FY2024-25", f).id for f in ("csv", "json")]
        session.commit()
    assert all(snaps)
    # A record-level upload's sealed file is kept beside the raw uploads, and backed up with them.
    sealed = keptfiles.keep(store, settings, keptfiles.records_name("ab" * 32), b"sealed bytes")
    stop = threading.Event()
    uploaded: list[int] = []

    def keep_uploading() -> None:
        value = 300
        while not stop.is_set():
            _upload(store, settings, value)
            uploaded.append(value)
            value += 100

    writer = threading.Thread(target=keep_uploading)
    writer.start()
    try:
        while len(uploaded) < 2:
            stop.wait(0.05)
        monkeypatch.setenv("ONERETURN_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("ONERETURN_DATA_DIR", str(settings.data_dir))
        get_settings.cache_clear()
        result = CliRunner().invoke(cli.app, ["db", "backup", str(tmp_path / "store.tar")])
        assert result.exit_code == 0, result.output
        during = len(uploaded)
        while len(uploaded) < during + 2:
            stop.wait(0.05)
    finally:
        stop.set()
        writer.join()
        monkeypatch.delenv("ONERETURN_DATABASE_URL")
        monkeypatch.delenv("ONERETURN_DATA_DIR")
        get_settings.cache_clear()
    with pytest.raises(Conflict, match="already exists"):
        backup.restore(
            Settings(data_dir=tmp_path / "empty", database_url=settings.database_url), tmp_path / "store.tar"
        )

    # The restoring host holds the deployment's keys file, kept apart from the backup: the kept files are sealed.
    fresh = Settings(data_dir=tmp_path / "fresh", records_keys_file=sealing.keys_path(settings))
    summary = backup.restore(fresh, tmp_path / "store.tar")
    restored = db.make_engine(fresh.effective_database_url)
    try:
        subs = _rows(restored, "SELECT id, status, content_hash FROM submission ORDER BY id")
        assert len(subs) >= 4, "the uploads made before the backup are in it"
        assert len(subs) < len(_rows(store, "SELECT id FROM submission")), "the uploads made after it are not"
        # Files are kept before their submission is recorded, so the archive may hold one more than the copy names.
        assert summary.uploads >= len(subs)
        assert all((fresh.data_dir / keptfiles.uploads_name(h)).is_file() for _, _, h in subs)
        assert keptfiles.read(restored, fresh, sealed) == b"sealed bytes"
        # The same figures and versions as the live store had for the uploads finished at the time (one caught
        # mid-way has no figures in the copy: its transaction had not committed).
        finished = [s for s in subs if s[1] == "accepted"]
        assert len(subs) - len(finished) <= 1
        ids = ",".join(str(s[0]) for s in finished)
        assert sorted(_rows(restored, FIGURES)) == sorted(_rows(store, f"{FIGURES} WHERE submission_id IN ({ids})"))
        versions = _rows(restored, "SELECT max(version), count(*) FROM observation WHERE is_current")
        assert versions == [(len(finished), 10)]
        snapshot_sql = "SELECT id, build_id, format, content_hash, data FROM export_snapshot ORDER BY id"
        assert _rows(restored, snapshot_sql) == _rows(store, snapshot_sql)
        # The kept files came along: an upload can be run again from the restored store.
        with restored.begin() as conn:
            conn.execute(text(f"UPDATE submission SET status = 'failed' WHERE id = {subs[-1][0]}"))
        sub = reprocess(restored, fresh, subs[-1][0]).submission
        assert sub is not None
        assert sub.status == "accepted"
    finally:
        restored.dispose()
    with pytest.raises(Conflict, match="not empty"):
        backup.restore(fresh, tmp_path / "store.tar")
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    with pytest.raises(InvalidInput, match="not a onereturn backup"):
        backup.restore(Settings(data_dir=tmp_path / "other"), tmp_path / "junk.tar")


def _pg_binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.mark.postgres
def test_pg_dump_and_pg_restore_as_the_operations_page_says(store: Engine, store_settings: Settings) -> None:
    if store.dialect.name != "postgresql":
        pytest.skip("pg_dump is PostgreSQL's")
    _upload(store, store_settings, 100)
    _upload(store, store_settings, 200)
    with Session(store) as session:
        exports.snapshot(session, "dfe_cin_census", "FY2024-25", "csv")
        session.commit()
    url = store.url
    conninfo = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    dump = store_settings.data_dir.parent / "store.dump"
    env = {**os.environ, "PGPASSWORD": url.password or ""}
    subprocess.run([_pg_binary("pg_dump"), *conninfo, "-Fc", "-f", str(dump), url.database or ""], check=True, env=env)
    copy = f"{url.database}_restored"
    admin = db.make_engine(PG_URL.rsplit("/", 1)[0] + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {copy}")
        conn.exec_driver_sql(f"CREATE DATABASE {copy}")
    restored = db.make_engine(url.set(database=copy).render_as_string(hide_password=False))
    try:
        pg_restore = _pg_binary("pg_restore")
        subprocess.run([pg_restore, *conninfo, "--no-owner", "-d", copy, str(dump)], check=True, env=env)
        for sql in (FIGURES, "SELECT id, content_hash FROM export_snapshot", "SELECT id, status FROM submission"):
            assert sorted(_rows(restored, sql)) == sorted(_rows(store, sql))
        assert len(_rows(restored, FIGURES)) == 20
        # The kept files are rows of the store and came along: a host with an empty data folder runs one again.
        (last,) = _rows(restored, "SELECT max(id) FROM submission")[0]
        with restored.begin() as conn:
            conn.execute(text(f"UPDATE submission SET status = 'failed' WHERE id = {last}"))
        elsewhere = Settings(
            data_dir=store_settings.data_dir.parent / "elsewhere", records_keys_file=sealing.keys_path(store_settings)
        )
        again = reprocess(restored, elsewhere, last).submission
        assert again is not None
        assert again.status == "accepted"
    finally:
        restored.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {copy} WITH (FORCE)")
        admin.dispose()

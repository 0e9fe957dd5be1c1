"""Back up the store while the service runs, and restore it into an empty data directory (SQLite).

A backup is one tar file holding ``onereturn.sqlite3``, copied with SQLite's online backup API (a
consistent snapshot, safe while uploads are being written), and the kept files (``onereturn.keptfiles``): raw
uploads under ``uploads/`` and record-level uploads' sealed files under ``records/``. Kept files are written before
their submission is recorded, so every submission in the snapshot has its file in the archive. On PostgreSQL the
kept files are rows of the store (``kept_file``): ``pg_dump``/``pg_restore`` carry them (docs/operations.md).
"""

from __future__ import annotations

import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from onereturn.errors import Conflict, InvalidInput
from onereturn.keptfiles import RECORDS, UPLOADS
from onereturn.listing import error_kind
from onereturn.settings import Settings

#: The database's name inside a backup archive.
DATABASE = "onereturn.sqlite3"
#: The folders of kept files inside a backup archive, as in the data folder.
KEPT = (UPLOADS, RECORDS)


@dataclass(frozen=True)
class BackupSummary:
    """What a backup or restore covered."""

    path: Path
    database_bytes: int
    uploads: int


def _sqlite_path(settings: Settings) -> Path:
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        raise InvalidInput(
            "onereturn db backup and restore work on the SQLite store; for PostgreSQL use pg_dump and pg_restore "
            "(see docs/operations.md)"
        )
    return Path(url.removeprefix("sqlite:///"))


def backup(settings: Settings, target: Path) -> BackupSummary:
    """Write a consistent copy of the store and its kept uploads to ``target`` (a tar file)."""
    source_path = _sqlite_path(settings)
    if not source_path.exists():
        raise InvalidInput(f"There is no store at {source_path} to back up")
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        copy = Path(work) / DATABASE
        source = sqlite3.connect(source_path, timeout=30)
        dest = sqlite3.connect(copy)
        try:
            # One step under one read transaction: in WAL mode it does not block writers, and no write
            # made meanwhile can restart it (as a backup in several steps would be, over and over).
            source.backup(dest, pages=-1)
        finally:
            dest.close()
            source.close()
        kept = _kept_files(settings, source_path)
        partial = Path(work) / "backup.tar"
        with tarfile.open(partial, "w") as archive:
            archive.add(copy, arcname=DATABASE)
            for name, path in kept.items():
                archive.add(path, arcname=name)
        size = copy.stat().st_size
        os.replace(partial, target)
    return BackupSummary(target, size, len(kept))


def _kept_files(settings: Settings, database: Path) -> dict[str, Path]:
    """Every kept file by its content name: beside the database (``onereturn.keptfiles``), and in the data folder
    where an earlier release wrote it."""
    found: dict[str, Path] = {}
    for root in (database.resolve().parent, settings.data_dir.resolve()):
        for top in KEPT:
            for path in sorted((root / top).rglob("*")):
                if path.is_file() and ".tmp" not in path.name:
                    found.setdefault(path.relative_to(root).as_posix(), path)
    return found


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = archive.getmembers()
    for member in members:
        name = Path(member.name)
        inside = member.name == DATABASE or (name.parts[:1] in [(top,) for top in KEPT] and ".." not in name.parts)
        if not member.isfile() or name.is_absolute() or not inside:
            raise InvalidInput(f"The backup holds {member.name!r}, which is not part of a onereturn backup")
    if DATABASE not in {m.name for m in members}:
        raise InvalidInput(f"The file is not a onereturn backup: it holds no {DATABASE}")
    return members


def restore(settings: Settings, source: Path) -> BackupSummary:
    """Restore a backup into the configured data directory, which must be empty (or not yet exist)."""
    target_db = _sqlite_path(settings)
    data_dir = settings.data_dir.resolve()
    if data_dir.exists() and any(data_dir.iterdir()):
        raise Conflict(f"The data directory {data_dir} is not empty; restore only into an empty one")
    if target_db.exists():
        raise Conflict(f"A store already exists at {target_db} (ONERETURN_DATABASE_URL); restore only into a new one")
    try:
        with tarfile.open(source, "r") as archive:
            members = _safe_members(archive)
            data_dir.mkdir(parents=True, exist_ok=True)
            archive.extractall(data_dir, members=members, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise InvalidInput(f"{source} is not a onereturn backup ({error_kind(exc)})") from exc
    if (data_dir / DATABASE).resolve() != target_db.resolve():
        target_db.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data_dir / DATABASE, target_db)
        for top in KEPT:
            # Kept files live beside the database (onereturn.keptfiles.local_root).
            if (data_dir / top).exists():
                os.replace(data_dir / top, target_db.parent / top)
    # Kept files are named by their content: a backup of an earlier release, named by a host's paths, is renamed so
    # by the migration the first start runs (0017).
    uploads = sum(1 for m in members if m.name != DATABASE)
    return BackupSummary(target_db, target_db.stat().st_size, uploads)

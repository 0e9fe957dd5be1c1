"""Kept files (raw uploads, sealed record-level files), named by their content and readable from any host.

Every way a file comes in keeps it here and every reader reads it here, by its content name
(``uploads/<hh>/<sha256>.fernet``, ``records/<hh>/<digest>.zip.fernet``), which ``submission.raw_path`` holds; never a
host's path. On PostgreSQL the bytes live in the database (``kept_file``), so every host that shares the store
reads the same file. On SQLite, a store one host opens, they live in the folder of the database file (the data
folder, as the service lays it out), under the same name.

A ``raw_path`` written by an earlier release is a host's absolute path (``<data_dir>/uploads/..``): it is read
from that path, or from the same name under this host's folders, and on PostgreSQL copied into the store the
first time it is read, so the other hosts can read it from then on.

Every file is kept sealed under the deployment's keys (``onereturn.sealing``), its name ending in
:data:`SEALED`: a raw upload is sealed by the door as it is kept, whatever it holds (a sheet or column no check
recognised never sits in plain on disk), and unsealed as it is read back. A raw upload an earlier release kept plain
(``uploads/<hh>/<sha256>``) is read as it is.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePath

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from onereturn.errors import NotFound
from onereturn.models import KeptFile
from onereturn.settings import Settings

#: The top folders of kept files: raw uploads as received, and record-level files sealed with the keys.
UPLOADS = "uploads"
RECORDS = "records"
#: How the name of a kept file sealed under the deployment's keys ends.
SEALED = ".fernet"


class KeptFileMissing(NotFound):
    """A kept file is neither in the store nor in this host's data folder: the upload stays recoverable."""

    def after_failure(self, submission_id: int) -> str:
        """What an upload this ended is told: the file is not lost, and how to run it once it can be read."""
        return (
            f"processing could not read the kept files: {self.message}; run it again once they can be read "
            f"(onereturn db keep-files on the host that holds them, then onereturn submissions reprocess "
            f"{submission_id})"
        )


def uploads_name(digest: str) -> str:
    """The content name of a raw upload, sealed, by the SHA-256 of its bytes."""
    return f"{UPLOADS}/{digest[:2]}/{digest}{SEALED}"


def is_sealed(stored: str) -> bool:
    """Whether the file a ``raw_path`` names is kept sealed (every upload since sealing; not one kept plain before)."""
    return name_of(stored).endswith(SEALED)


def records_name(digest: str) -> str:
    """The content name of a record-level upload's sealed files, by their upload's hash."""
    return f"{RECORDS}/{digest[:2]}/{digest}.zip.fernet"


def name_of(stored: str) -> str:
    """The content name a ``raw_path`` stands for: itself, or the name at the end of an earlier release's path."""
    path = PurePath(stored)
    if path.is_absolute() and len(path.parts) >= 3 and path.parts[-3] in (UPLOADS, RECORDS):
        return "/".join(path.parts[-3:])
    return stored


def is_shared(bind: Engine | Connection) -> bool:
    """Whether kept files live in the database (PostgreSQL) rather than a local folder."""
    return bind.dialect.name == "postgresql"


def local_root(bind: Engine | Connection, settings: Settings) -> Path:
    """The folder kept files live under on SQLite: the database file's own, or the data folder."""
    database = bind.engine.url.database if bind.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).resolve().parent
    return settings.data_dir


def _engine(bind: Engine | Connection) -> Engine:
    return bind.engine if isinstance(bind, Connection) else bind


def _write_once(path: Path, data: bytes, *, replace: bool = False) -> bool:
    if path.exists() and not replace:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this write's own: two threads keeping the same file at once each write and move their own copy.
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def keep(bind: Engine | Connection, settings: Settings, name: str, data: bytes) -> str:
    """Keep ``data`` under ``name`` (written once: the same name is the same content) and return the name."""
    keep_new(bind, settings, name, data)
    return name


def keep_new(bind: Engine | Connection, settings: Settings, name: str, data: bytes) -> bool:
    """Keep ``data`` under ``name`` as ``keep`` does; whether these very bytes were written (False: ``name`` was
    kept before, its bytes left as they were)."""
    if not is_shared(bind):
        return _write_once(local_root(bind, settings) / name, data)
    row = {"name": name, "data": data, "size_bytes": len(data), "kept_at": datetime.now(UTC)}
    # Committed on its own before the submission naming it, as a file is written before its row.
    with _engine(bind).begin() as conn:
        written = conn.execute(
            pg_insert(KeptFile)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(col(KeptFile.name))
        ).first()
    return written is not None


def replace(engine: Engine | Connection, settings: Settings, name: str, data: bytes) -> None:
    """Put new bytes under an existing name (a sealed file sealed again with a new key); atomic either way."""
    if not is_shared(engine):
        _write_once(local_root(engine, settings) / name, data, replace=True)
        return
    with _engine(engine).begin() as conn:
        conn.execute(update(KeptFile).where(col(KeptFile.name) == name).values(data=data, size_bytes=len(data)))


def _local_candidates(bind: Engine | Connection, settings: Settings, stored: str) -> list[Path]:
    name = name_of(stored)
    found = [Path(stored)] if PurePath(stored).is_absolute() else []
    for root in (local_root(bind, settings), settings.data_dir):
        if root / name not in found:
            found.append(root / name)
    return found


def read(bind: Engine | Connection, settings: Settings, stored: str) -> bytes:
    """The bytes kept under a submission's ``raw_path`` (a content name, or an earlier release's path)."""
    name = name_of(stored)
    if is_shared(bind):
        with _engine(bind).connect() as conn:
            data = conn.execute(select(col(KeptFile.data)).where(col(KeptFile.name) == name)).scalar()
        if data is not None:
            return bytes(data)
    for path in _local_candidates(bind, settings, stored):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if is_shared(bind):
            # A file an earlier release left on this host's disk: into the store, so every host reads it now.
            keep(bind, settings, name, data)
        return data
    where = "the store" if is_shared(bind) else str(local_root(bind, settings))
    raise KeptFileMissing(f"the kept file {name} is not in {where} (purged, or kept on another host's disk)")


def forget(engine: Engine, settings: Settings, stored: str) -> int:
    """Delete a kept file wherever it is kept (the store, and this host's local copy); return how many went."""
    gone = 0
    if is_shared(engine):
        with engine.begin() as conn:
            deleted = conn.execute(delete(KeptFile).where(KeptFile.name == name_of(stored)))  # type: ignore[arg-type]
            gone += int(deleted.rowcount)
    for path in _local_candidates(engine, settings, stored):
        if path.is_file():
            path.unlink()
            gone += 1
    return gone


def names(engine: Engine, settings: Settings, top: str) -> Iterator[str]:
    """The names of every file kept under ``top`` (``uploads`` or ``records``), in order."""
    if is_shared(engine):
        with engine.connect() as conn:
            yield from conn.execute(
                select(col(KeptFile.name)).where(col(KeptFile.name).startswith(f"{top}/")).order_by(col(KeptFile.name))
            ).scalars()
        return
    root = local_root(engine, settings)
    for path in sorted((root / top).rglob("*")):
        if path.is_file() and ".tmp" not in path.name:
            yield path.relative_to(root).as_posix()


def keep_local(engine: Engine, settings: Settings) -> int:
    """Copy every kept file this host's data folder holds into the shared store (PostgreSQL); return how many.

    Files an earlier release wrote to one host's disk are read from then on by every host. Written once: a name
    already in the store is left as it is, so running it again, or on every host, does no harm."""
    if not is_shared(engine):
        return 0
    copied = 0
    for top in (UPLOADS, RECORDS):
        for path in sorted((settings.data_dir / top).rglob("*")):
            if path.is_file() and ".tmp" not in path.name:
                keep(engine, settings, path.relative_to(settings.data_dir).as_posix(), path.read_bytes())
                copied += 1
    return copied

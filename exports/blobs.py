"""A snapshot's bytes: held in the process, kept on disk when too large for memory, read from the store once.

A snapshot never changes, so its content hash names its bytes for good: every read of a snapshot
after the first, by a pull or a download by id, reads no blob from the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert
from sqlalchemy import select as columns
from sqlmodel import col

from exports.models import ExportSnapshot

log = logging.getLogger(__name__)


class Held:
    """Snapshot bytes kept in this process by content hash, up to ``limit`` bytes, least recently served dropped
    first: a snapshot never changes, so every pull of a current one after the first reads no blob from the store.

    A snapshot larger than a quarter of the limit is kept on disk instead (:meth:`keep_on_disk`), one file per
    content hash: read back from the page cache it costs a few milliseconds, where the store's blob costs tens
    (60 ms for 27 MB from PostgreSQL), and every worker of the host shares the files.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._guard = threading.Lock()
        self._held: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._folder: Path | None = None
        self._folder_limit = 0

    def keep_on_disk(self, folder: Path | None, limit: int) -> None:
        """Keep snapshots too large for memory in ``folder``, up to ``limit`` bytes (None or 0: not at all)."""
        self._folder, self._folder_limit = (folder, limit) if folder is not None and limit > 0 else (None, 0)

    def get(self, content_hash: str) -> bytes | None:
        """The bytes of this content hash, if held in memory or on disk."""
        with self._guard:
            data = self._held.get(content_hash)
            if data is not None:
                self._held.move_to_end(content_hash)
                return data
        path = self._path(content_hash)
        if path is None:
            return None
        try:
            data = path.read_bytes()
            # Recently served files are the last to go when the folder is trimmed.
            os.utime(path)
        except OSError:
            return None
        return data

    def put(self, content_hash: str, data: bytes) -> None:
        """Hold these bytes: in memory up to a quarter of the limit (one huge return must not evict the rest), on
        disk when larger and a folder is kept."""
        if len(data) > self.limit // 4:
            self._write(content_hash, data)
            return
        with self._guard:
            if content_hash in self._held:
                return
            self._held[content_hash] = data
            self._size += len(data)
            while self._size > self.limit:
                _, dropped = self._held.popitem(last=False)
                self._size -= len(dropped)

    def _path(self, content_hash: str) -> Path | None:
        folder = self._folder
        # The name is the store's SHA-256 in hex; anything else never becomes a path.
        if folder is None or not _HEX64.fullmatch(content_hash):
            return None
        return folder / content_hash

    def _write(self, content_hash: str, data: bytes) -> None:
        path = self._path(content_hash)
        if path is None or len(data) > self._folder_limit or path.exists():
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed: another worker reading the name never sees part of a file.
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".part-", delete=False) as part:
                part.write(data)
            os.replace(part.name, path)
            self._trim(path.parent)
        except OSError:
            log.warning("could not keep snapshot %s on disk; it is read from the store", content_hash, exc_info=True)

    def _trim(self, folder: Path) -> None:
        """Remove the least recently served files until the folder is within its limit."""
        files = []
        now = time.time()
        for entry in os.scandir(folder):
            if entry.is_file():
                stat = entry.stat()
                # Another worker may be writing a part file; one left by a crash goes after an hour.
                if entry.name.startswith(".part-") and now - stat.st_mtime < 3600:
                    continue
                files.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, name in sorted(files):
            if total <= self._folder_limit:
                break
            with contextlib.suppress(FileNotFoundError):
                os.remove(name)
            total -= size


_HEX64 = re.compile(r"[0-9a-f]{64}")
BYTES = Held(limit=64 * 1024 * 1024)

_DATA = columns(col(ExportSnapshot.data)).where(col(ExportSnapshot.id) == bindparam("snapshot_id"))


def snapshot_bytes(connection: Connection, snapshot_id: int, content_hash: str) -> bytes:
    """The bytes of a stored snapshot: from ``BYTES`` when held, else from the store (and held from then on)."""
    data = BYTES.get(content_hash)
    if data is None:
        data = _from_store(connection, snapshot_id)
        BYTES.put(content_hash, data)
    return data


def _from_store(connection: Connection, snapshot_id: int) -> bytes:
    """A snapshot's bytes from the store."""
    if connection.dialect.name == "postgresql":
        # psycopg reads bytea in text form by default, two hex digits a byte: the binary form is about four
        # times faster (a 27 MB snapshot 270 ms -> 60 ms).
        dbapi: Any = connection.connection.dbapi_connection
        with dbapi.cursor(binary=True) as cursor:
            cursor.execute("SELECT data FROM export_snapshot WHERE id = %s", (snapshot_id,))
            row = cursor.fetchone()
        if row is None:
            raise LookupError(f"snapshot {snapshot_id} is not in the store")
        return bytes(row[0])
    return bytes(connection.execute(_DATA, {"snapshot_id": snapshot_id}).scalar_one())


#: Bytes handed to SQLite's blob handle at a time.
_PIECE = 4 << 20


def store(connection: Connection, build_id: int, fmt: str, data: bytes, created_at: datetime) -> tuple[int, str]:
    """Store a snapshot's bytes and return its id and content hash; on SQLite written in pieces through a blob handle."""
    sqlite = connection.dialect.name == "sqlite"
    content_hash = hashlib.sha256(data).hexdigest()
    values = {
        "build_id": build_id,
        "format": fmt,
        "content_hash": content_hash,
        "size_bytes": len(data),
        # Bound whole, SQLite copies a blob twice (the bound value, then the record): a 257 MB
        # snapshot raised the build's peak by 420 MB. A zeroblob takes no room until written.
        "data": func.zeroblob(len(data)) if sqlite else data,
        "created_at": created_at,
    }
    snapshot_id = connection.execute(
        insert(ExportSnapshot).values(values).returning(col(ExportSnapshot.id))
    ).scalar_one()
    assert snapshot_id is not None
    if sqlite and data:
        dbapi: Any = connection.connection.driver_connection
        view = memoryview(data)
        with dbapi.blobopen("export_snapshot", "data", snapshot_id) as blob:
            for start in range(0, len(data), _PIECE):
                blob.write(view[start : start + _PIECE])
    return snapshot_id, content_hash

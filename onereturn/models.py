"""Tables of the floors above the domains: the scheduler's job runs and heartbeat, the web pages' sessions and downloads;
and the kernel's own: kept files and the fingerprints of the keys that seal them.

They sit here, low in the house, so that building the database's metadata (``onereturn.db.metadata``)
imports no job, route or page. The code that uses them stays with its floor: ``scheduler`` and
``api/web/sessions.py``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


class JobRun(SQLModel, table=True):
    """One run of one scheduled job; the unique key makes every job's effect happen once."""

    __tablename__ = "job_run"
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=200)
    scheduled_for: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    outcome: str = Field(default="running", max_length=16)
    detail: str = ""
    holder: str = Field(default="", max_length=128)


class SchedulerHeartbeat(SQLModel, table=True):
    """The active scheduler's last sign of life (one row per process that has been active)."""

    __tablename__ = "scheduler_heartbeat"

    holder: str = Field(primary_key=True, max_length=128)
    active_since: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    beat_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the hash of its cookie token, the key it signed in with, its CSRF token."""

    __tablename__ = "web_session"

    token_hash: str = Field(primary_key=True, max_length=64)
    key_id: int = Field(foreign_key="api_key.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ReturnDownload(SQLModel, table=True):
    """One download of a return through the web pages, so a regulator can see what changed since."""

    __tablename__ = "return_download"

    id: int | None = Field(default=None, primary_key=True)
    key_id: int = Field(foreign_key="api_key.id", index=True)
    return_id: str = Field(max_length=64)
    period: str = Field(max_length=32)
    format: str = Field(max_length=16)
    snapshot_id: int
    build_id: int
    downloaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class KeptFile(SQLModel, table=True):
    """A kept file's bytes on a shared store (PostgreSQL), under its content name, so every host reads the same file."""

    __tablename__ = "kept_file"

    #: The content name (``uploads/<hh>/<sha256>``, ``records/<hh>/<digest>.zip.fernet``), never a host's path.
    name: str = Field(primary_key=True, max_length=200)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size_bytes: int
    kept_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class RecordsKey(SQLModel, table=True):
    """A fingerprint of a records key this deployment has used (never the key): every host must hold the current one.

    The first host to seal a child's record with a key records its fingerprint; a host whose key has another
    fingerprint is refused sealing (``onereturn.sealing.checked_keys``), so two hosts never give one child two
    pseudonyms nor seal a kept file under keys the others cannot open. A rotation marks the old key ``retired`` and
    the new one ``current``.
    """

    __tablename__ = "records_key"
    # One current key at most: of two hosts first sealing at once with different keys, the second's insert fails.
    __table_args__ = (
        Index(
            "uq_records_key_current",
            "state",
            unique=True,
            sqlite_where=text("state = 'current'"),
            postgresql_where=text("state = 'current'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)
    state: str = Field(default="current", max_length=16)
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))

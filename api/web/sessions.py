"""Signed-in browser sessions and the record of what each regulator last downloaded.

A session is a random token in an HttpOnly cookie; only its hash is stored, beside the API key it
was opened with, so signing out or revoking the key ends it at once. Each session has its own
CSRF token that every form posts back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, select

from onereturn.models import ReturnDownload, WebSession

#: How long a session lasts without being used.
IDLE = timedelta(hours=8)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored as UTC.
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def open_session(session: Session, key_id: int, *, now: datetime | None = None) -> tuple[str, WebSession]:
    """Start a session for a key; return the cookie token (never stored) and the row."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_digest(token),
        key_id=key_id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + IDLE,
    )
    session.add(row)
    session.flush()
    return token, row


def find_session(session: Session, token: str | None, *, now: datetime | None = None) -> WebSession | None:
    """Find the live session of a cookie token, sliding its expiry; None when unknown or expired."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    row = session.get(WebSession, _digest(token))
    if row is None:
        return None
    if _aware(row.expires_at) <= now:
        session.delete(row)
        return None
    if _aware(row.expires_at) - now < IDLE - timedelta(minutes=5):
        row.expires_at = now + IDLE
    return row


def close_session(session: Session, token: str | None) -> None:
    """End a session (sign out); unknown tokens are ignored."""
    if token:
        session.execute(delete(WebSession).where(col(WebSession.token_hash) == _digest(token)))


def csrf_ok(row: WebSession, posted: str | None) -> bool:
    """Say whether a posted CSRF token is the session's own."""
    return bool(posted) and hmac.compare_digest(row.csrf_token, posted or "")


def record_download(
    session: Session, *, key_id: int, return_id: str, period: str, fmt: str, snapshot_id: int, build_id: int
) -> None:
    """Remember that a key downloaded a snapshot of a return."""
    session.add(
        ReturnDownload(
            key_id=key_id,
            return_id=return_id,
            period=period,
            format=fmt,
            snapshot_id=snapshot_id,
            build_id=build_id,
            downloaded_at=datetime.now(UTC),
        )
    )


def last_downloads(session: Session, key_id: int) -> dict[tuple[str, str], ReturnDownload]:
    """Return each (return, period)'s latest download by a key."""
    rows = session.execute(
        select(ReturnDownload).where(ReturnDownload.key_id == key_id).order_by(col(ReturnDownload.id))
    ).scalars()
    return {(r.return_id, r.period): r for r in rows}

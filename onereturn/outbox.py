"""The outbox: reminders and notices queued in the database and delivered by SMTP, never lost.

A message is queued inside the caller's transaction, so it exists exactly when the change that
caused it was committed. ``deliver_due`` later sends what is due; a failed send leaves the message
queued with an exponential backoff, and after ``MAX_ATTEMPTS`` failures it is marked
``failed_permanently`` but kept. Without SMTP settings nothing is sent and the API shows the queue.

Delivery is at least once: each ``deliver_due`` call is one transaction, so if the process dies
after a send but before the commit the message is still queued and is sent again. Its
``Message-ID`` comes from the ``dedupe_key``, so the copies are recognisable as one message.

SMTP settings are read from ``ONERETURN_SMTP_HOST``, ``_PORT``, ``_SENDER``, ``_USERNAME``,
``_PASSWORD``, ``_STARTTLS`` and ``_TIMEOUT``; an empty host means "do not send".
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final, Literal, get_args

from pydantic import Field as SettingField
from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Column, DateTime, Dialect, Index, Text, TypeDecorator, UniqueConstraint, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, select

from onereturn.errors import ConfigurationError, InvalidInput

Kind = Literal["reminder", "notice", "overdue"]
Status = Literal["queued", "sent", "failed_permanently"]
KINDS: Final = frozenset(get_args(Kind))
STATUSES: Final = frozenset(get_args(Status))

#: Failures after which a message is given up on (kept, never deleted).
MAX_ATTEMPTS: Final = 10
FIRST_BACKOFF: Final = timedelta(minutes=1)
MAX_BACKOFF: Final = timedelta(hours=6)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time-zone aware.

    SQLite keeps no offset, so without this it would return naive values and compare stored
    strings from different offsets wrongly; PostgreSQL would return the session's zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 (SQLAlchemy's signature)
        """Convert an aware value to UTC; refuse a naive one, whose zone would be a guess."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone; outbox times must be aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 (SQLAlchemy's signature)
        """Return the stored value as an aware UTC time."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class OutboxMessage(SQLModel, table=True):
    """One message to an agency or officer, with its delivery state."""

    __tablename__ = "outbox_message"
    # The due query filters on status and orders by next_attempt_at; one index serves both.
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_message_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    #: An email address, or an agency code for a message shown only on the API.
    recipient: str = Field(max_length=320)
    subject: str = Field(max_length=998)
    body: str = Field(sa_column=Column(Text, nullable=False))
    # Not a foreign key: a message is a record of what was said and outlives agency changes.
    agency_code: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    status: str = Field(default="queued", max_length=24)
    #: Failed sends so far; a message that goes out first time keeps 0.
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_error: str = ""
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime(), nullable=True))
    dedupe_key: str = Field(max_length=255)


class OutboxSettings(BaseSettings):
    """SMTP settings; each maps to ``ONERETURN_SMTP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="ONERETURN_SMTP_", extra="ignore", frozen=True)

    host: str = SettingField(default="", description="SMTP server; empty means messages are only shown on the API.")
    port: int = SettingField(default=25, gt=0, lt=65536, description="SMTP port.")
    sender: str = SettingField(default="onereturn@localhost", description="From address of every message.")
    username: str | None = SettingField(default=None, description="SMTP login, if the server needs one.")
    password: SecretStr | None = SettingField(default=None, description="SMTP password for the login.")
    starttls: bool = SettingField(default=False, description="Upgrade the connection with STARTTLS before sending.")
    timeout: float = SettingField(default=10.0, gt=0, description="Seconds to wait for the SMTP server.")


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send mail."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0


@dataclass(frozen=True)
class DeliveryResult:
    """What one ``deliver_due`` call did, by message id."""

    sent: tuple[int, ...] = ()
    retrying: tuple[int, ...] = ()
    failed_permanently: tuple[int, ...] = ()
    #: True when no SMTP server is configured, so nothing was attempted.
    not_configured: bool = False


def smtp_config(settings: OutboxSettings | None = None) -> SmtpConfig | None:
    """Return the SMTP configuration from the environment, or None when no host is set."""
    if settings is None:
        try:
            settings = OutboxSettings()
        except ValidationError as exc:
            problems = "; ".join(
                f"ONERETURN_SMTP_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigurationError(f"Invalid SMTP settings: {problems}") from None
    if not settings.host:
        return None
    if (settings.username is None) != (settings.password is None):
        raise ConfigurationError("ONERETURN_SMTP_USERNAME and ONERETURN_SMTP_PASSWORD must be set together")
    return SmtpConfig(
        host=settings.host,
        port=settings.port,
        sender=settings.sender,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password is not None else None,
        starttls=settings.starttls,
        timeout=settings.timeout,
    )


def backoff(attempts: int) -> timedelta:
    """Return the wait after the ``attempts``-th failure: 1 min, 2, 4, … capped at 6 h."""
    if attempts < 1:
        raise ValueError("backoff is defined from the first failure on")
    # Cap the exponent too, so a huge count cannot overflow timedelta before the cap applies.
    return min(FIRST_BACKOFF * (1 << min(attempts - 1, 20)), MAX_BACKOFF)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be time-zone aware")


def _single_line(name: str, value: str, longest: int) -> None:
    # A line break in a header would let a message add headers (or recipients) of its own.
    if not value.strip() or "\n" in value or "\r" in value:
        raise InvalidInput(f"The {name} must be one non-empty line, not {value!r}")
    # SQLite would store a longer value and PostgreSQL refuse it; refuse it alike everywhere.
    if len(value) > longest:
        raise InvalidInput(f"The {name} is longer than {longest} characters")


def queue(
    session: Session,
    *,
    kind: Kind,
    recipient: str,
    subject: str,
    body: str,
    dedupe_key: str,
    agency_code: str | None = None,
    now: datetime,
) -> OutboxMessage:
    """Queue a message in the caller's transaction, or return the one already queued under ``dedupe_key``."""
    _require_aware(now)
    if kind not in KINDS:
        raise InvalidInput(f"Unknown message kind {kind!r}; expected one of {sorted(KINDS)}")
    _single_line("recipient", recipient, 320)
    _single_line("subject", subject, 998)
    _single_line("dedupe key", dedupe_key, 255)
    existing = _by_key(session, dedupe_key)
    if existing is not None:
        return existing
    message = OutboxMessage(
        kind=kind,
        recipient=recipient.strip(),
        subject=subject,
        body=body,
        agency_code=agency_code,
        created_at=now,
        next_attempt_at=now,
        dedupe_key=dedupe_key,
    )
    # A savepoint, so losing a race with another writer of the same key leaves the caller's
    # transaction usable and we can return the winner's row.
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        winner = _by_key(session, dedupe_key)
        if winner is None:
            raise
        return winner
    return message


def _by_key(session: Session, dedupe_key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).first()


def list_messages(
    session: Session, *, agency_code: str | None = None, status: Status | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """Return messages newest first, optionally for one agency and in one status."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"Unknown message status {status!r}; expected one of {sorted(STATUSES)}")
    query = select(OutboxMessage)
    if agency_code is not None:
        query = query.where(OutboxMessage.agency_code == agency_code)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    query = query.order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc()).limit(limit)
    return list(session.exec(query).all())


def page_messages(
    session: Session, *, agency_code: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[OutboxMessage], int]:
    """Return one page of messages, newest first (optionally for one agency), and how many there are in all."""
    query = select(OutboxMessage)
    if agency_code is not None:
        query = query.where(OutboxMessage.agency_code == agency_code)
    total = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    query = query.order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
    return list(session.exec(query.limit(limit).offset(offset)).all()), total


def listed(
    session: Session, *, agency_code: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """One page of messages as the outbox lists them (``page_messages``, each message's fields), and the total."""
    messages, total = page_messages(session, agency_code=agency_code, limit=limit, offset=offset)
    items = [
        {
            "id": m.id,
            "kind": m.kind,
            "recipient": m.recipient,
            "agency_code": m.agency_code,
            "subject": m.subject,
            "body": m.body,
            "status": m.status,
            "attempts": m.attempts,
            "created_at": m.created_at,
            "sent_at": m.sent_at,
            "last_error": m.last_error,
        }
        for m in messages
    ]
    return items, total


def message_id(dedupe_key: str, sender: str) -> str:
    """Return the Message-ID header for a message, the same on every retry."""
    # Hashed, because a dedupe key may hold characters a Message-ID may not (":" for one).
    digest = hashlib.sha256(dedupe_key.encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<outbox.{digest}@{domain}>"


def build_email(message: OutboxMessage, sender: str, now: datetime) -> EmailMessage:
    """Return the email for ``message`` as it is sent."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(message.dedupe_key, sender)
    # RFC 3834: tells mail servers not to send out-of-office replies to a reminder.
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body)
    return email


class _Unreachable(Exception):
    """Connecting, STARTTLS or login failed: the server, not the message, is the problem."""


class _Mailer:
    """One SMTP connection, opened on first use and reused while it works."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: smtplib.SMTP | None = None

    def send(self, email: EmailMessage) -> None:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError) as exc:
                raise _Unreachable(_describe(exc)) from exc
        try:
            self._smtp.send_message(email)
        except BaseException:
            # After a failed transaction the connection's state is unknown; start afresh.
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        try:
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username is not None and config.password is not None:
                smtp.login(config.username, config.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        if self._smtp is None:
            return
        smtp, self._smtp = self._smtp, None
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _record_failure(message: OutboxMessage, error: str, now: datetime) -> bool:
    """Count a failed attempt; return True if the message is now given up on."""
    message.attempts += 1
    message.last_error = error
    if message.attempts >= MAX_ATTEMPTS:
        message.status = "failed_permanently"
        return True
    message.next_attempt_at = now + backoff(message.attempts)
    return False


def due_messages(session: Session, *, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Return queued, emailable messages whose next attempt is due, oldest first."""
    _require_aware(now)
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "queued", col(OutboxMessage.next_attempt_at) <= now)
        # Agency-code recipients are for the API only; left in, they would clog every batch.
        .where(col(OutboxMessage.recipient).contains("@"))
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        # PostgreSQL: a second scheduler skips what this one is sending. SQLite ignores it
        # (its writers are serialised anyway).
        .with_for_update(skip_locked=True)
    )
    return list(session.exec(query).all())


def deliver_due(session: Session, config: SmtpConfig | None, *, now: datetime, limit: int = 100) -> DeliveryResult:
    """Send the due messages in the caller's transaction (flushed, not committed) and record each outcome."""
    _require_aware(now)
    if config is None:
        return DeliveryResult(not_configured=True)
    sent: list[int] = []
    retrying: list[int] = []
    given_up: list[int] = []

    def failed(message: OutboxMessage, error: str) -> None:
        assert message.id is not None
        (given_up if _record_failure(message, error, now) else retrying).append(message.id)

    mailer = _Mailer(config)
    try:
        due = due_messages(session, now=now, limit=limit)
        for index, message in enumerate(due):
            assert message.id is not None
            try:
                mailer.send(build_email(message, config.sender, now))
            except _Unreachable as exc:
                # One unreachable server would otherwise cost a full timeout per message; the
                # whole batch shares the failure and backs off together.
                for waiting in due[index:]:
                    failed(waiting, f"SMTP server {config.host}:{config.port} unusable: {exc}")
                session.flush()
                break
            except (smtplib.SMTPException, OSError) as exc:
                failed(message, _describe(exc))
            else:
                message.status = "sent"
                message.sent_at = now
                message.last_error = ""
                sent.append(message.id)
            # Each outcome reaches the transaction as it happens, not in one flush at the end.
            session.flush()
    finally:
        mailer.close()
    return DeliveryResult(sent=tuple(sent), retrying=tuple(retrying), failed_permanently=tuple(given_up))

"""The outbox queues each message once and delivers it to a real SMTP server, retrying with backoff."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from onereturn import db, outbox
from onereturn.errors import ConfigurationError, InvalidInput
from onereturn.outbox import OutboxMessage, SmtpConfig

NOW = datetime(2025, 4, 23, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message it accepts; it refuses the addresses in ``refuse``."""

    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept a recipient unless it is to be refused."""
        del server, session, rcpt_options
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        """Keep the message."""
        del server, session
        assert isinstance(envelope.content, bytes)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """Return a port nothing listens on now (some aiosmtpd versions cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(handler: Inbox, port: int, **smtp_options: Any) -> Controller:
    """Start a real SMTP server on 127.0.0.1:``port`` in a thread."""
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    return controller


def config_for(port: int, **changes: Any) -> SmtpConfig:
    """An SMTP configuration for the local test server."""
    return SmtpConfig(host="127.0.0.1", port=port, sender="onereturn@council.example", timeout=5, **changes)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite database holding the outbox table."""
    eng = db.make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite3'}")
    SQLModel.metadata.create_all(eng, tables=[SQLModel.metadata.tables["outbox_message"]])
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the outbox database."""
    with Session(engine) as sess:
        yield sess


@pytest.fixture
def inbox() -> Inbox:
    """What the test SMTP server received."""
    return Inbox()


@pytest.fixture
def smtp_port(inbox: Inbox) -> Iterator[int]:
    """The port of a running test SMTP server."""
    port = free_port()
    controller = start_server(inbox, port)
    yield port
    controller.stop()


def add(session: Session, key: str, *, recipient: str = "data@notts.example", now: datetime = NOW) -> OutboxMessage:
    """Queue a reminder under ``key``."""
    return outbox.queue(
        session,
        kind="reminder",
        recipient=recipient,
        subject=f"Figures still owed ({key})",
        body=f"Please send the figures for {key}.\nThank you.",
        dedupe_key=key,
        agency_code="notts_cyp",
        now=now,
    )


def ids(*messages: OutboxMessage) -> list[int]:
    """The ids of stored messages, sorted."""
    return sorted(m.id for m in messages if m.id is not None)


def reload(engine: Engine, message_id: int | None) -> OutboxMessage:
    """Read a message afresh from the database, as another process would."""
    with Session(engine) as fresh:
        message = fresh.get(OutboxMessage, message_id)
        assert message is not None
        return message


def test_queued_messages_arrive_with_their_headers_and_are_marked_sent(
    engine: Engine, session: Session, inbox: Inbox, smtp_port: int
) -> None:
    messages = [add(session, f"reminder:notts_cyp:2025-04-2{n}", recipient=f"officer{n}@notts.example") for n in "123"]
    session.commit()

    result = outbox.deliver_due(session, config_for(smtp_port), now=NOW)
    session.commit()

    assert sorted(result.sent) == ids(*messages)
    assert result.retrying == result.failed_permanently == ()
    assert len(inbox.received) == 3
    for message, (envelope, email) in zip(messages, inbox.received, strict=True):
        assert envelope.mail_from == "onereturn@council.example"
        assert envelope.rcpt_tos == [message.recipient]
        assert email["To"] == message.recipient
        assert email["From"] == "onereturn@council.example"
        assert email["Subject"] == message.subject
        assert email["Message-ID"] == outbox.message_id(message.dedupe_key, "onereturn@council.example")
        assert email["Auto-Submitted"] == "auto-generated"
        # The wire uses CRLF line ends; the body's text is what matters.
        assert email.get_content().replace("\r\n", "\n").rstrip("\n") == message.body
        stored = reload(engine, message.id)
        assert stored.status == "sent"
        assert stored.sent_at == NOW
        assert stored.attempts == 0
    assert outbox.deliver_due(session, config_for(smtp_port), now=NOW + MINUTE).sent == ()
    assert len(inbox.received) == 3


def test_the_same_dedupe_key_is_queued_once(engine: Engine, session: Session) -> None:
    first = add(session, "reminder:notts_cyp:2025-04-23")
    again = outbox.queue(
        session,
        kind="reminder",
        recipient="someone-else@notts.example",
        subject="Different words",
        body="Different body",
        dedupe_key="reminder:notts_cyp:2025-04-23",
        now=NOW + MINUTE,
    )
    session.commit()

    assert again.id == first.id
    assert again.subject == "Figures still owed (reminder:notts_cyp:2025-04-23)"
    assert len(outbox.list_messages(session)) == 1

    # A second writer that did not see the first row (another process) gets it back too.
    with Session(engine) as other:
        assert add(other, "reminder:notts_cyp:2025-04-23").id == first.id


def test_a_lost_race_on_the_dedupe_key_returns_the_winner_and_keeps_the_transaction(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = add(session, "notice:return-x")
    add(session, "notice:other")
    # Simulate the race: the look-up misses, so the insert hits the unique constraint.
    real = outbox._by_key
    calls = iter([None])
    monkeypatch.setattr(outbox, "_by_key", lambda s, k: next(calls, None) or real(s, k))

    assert add(session, "notice:return-x").id == winner.id
    session.commit()
    assert len(outbox.list_messages(session)) == 2


def test_an_unreachable_server_leaves_the_message_queued_with_a_one_minute_backoff(
    engine: Engine, session: Session, inbox: Inbox
) -> None:
    port = free_port()  # nothing listens here yet
    message = add(session, "reminder:notts_cyp:2025-04-23")
    session.commit()

    result = outbox.deliver_due(session, config_for(port), now=NOW)
    session.commit()

    assert result.retrying == (message.id,)
    stored = reload(engine, message.id)
    assert stored.status == "queued"
    assert stored.attempts == 1
    assert stored.next_attempt_at == NOW + MINUTE
    assert stored.last_error.startswith(f"SMTP server 127.0.0.1:{port} unusable: ConnectionRefusedError")
    assert stored.sent_at is None

    # Not due again before its backoff ends, even with the server up.
    controller = start_server(inbox, port)
    try:
        assert outbox.deliver_due(session, config_for(port), now=NOW + MINUTE / 2) == outbox.DeliveryResult()
        assert inbox.received == []

        result = outbox.deliver_due(session, config_for(port), now=NOW + MINUTE)
        session.commit()
    finally:
        controller.stop()

    assert result.sent == (message.id,)
    assert len(inbox.received) == 1
    stored = reload(engine, message.id)
    assert (stored.status, stored.attempts, stored.sent_at, stored.last_error) == ("sent", 1, NOW + MINUTE, "")


def test_an_unreachable_server_fails_the_whole_batch_at_once(session: Session) -> None:
    messages = [add(session, f"reminder:{n}") for n in range(3)]
    result = outbox.deliver_due(session, config_for(free_port()), now=NOW)
    assert sorted(result.retrying) == ids(*messages)
    assert all(m.attempts == 1 and m.next_attempt_at == NOW + MINUTE for m in messages)


def test_a_refused_recipient_retries_alone_while_the_others_are_sent(
    session: Session, inbox: Inbox, smtp_port: int
) -> None:
    inbox.refuse.add("gone@notts.example")
    before = add(session, "a", recipient="one@notts.example")
    refused = add(session, "b", recipient="gone@notts.example")
    after = add(session, "c", recipient="two@notts.example")

    result = outbox.deliver_due(session, config_for(smtp_port), now=NOW)

    assert sorted(result.sent) == ids(before, after)
    assert result.retrying == (refused.id,)
    assert refused.status == "queued"
    assert refused.attempts == 1
    assert "550" in refused.last_error
    assert [envelope.rcpt_tos for envelope, _ in inbox.received] == [["one@notts.example"], ["two@notts.example"]]


def test_backoff_doubles_from_one_minute_and_is_capped_at_six_hours() -> None:
    assert [outbox.backoff(n) / MINUTE for n in range(1, 11)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 360]
    assert outbox.backoff(1000) == timedelta(hours=6)
    with pytest.raises(ValueError, match="first failure"):
        outbox.backoff(0)


def test_after_ten_failures_a_message_fails_permanently_and_is_kept(engine: Engine, session: Session) -> None:
    config = config_for(free_port())
    message = add(session, "overdue:notts_cyp:2025Q1")
    session.commit()
    now = NOW
    for attempt in range(1, outbox.MAX_ATTEMPTS):
        result = outbox.deliver_due(session, config, now=now)
        session.commit()
        stored = reload(engine, message.id)
        assert result.retrying == (message.id,)
        assert (stored.status, stored.attempts) == ("queued", attempt)
        assert stored.next_attempt_at == now + outbox.backoff(attempt)
        now = stored.next_attempt_at

    result = outbox.deliver_due(session, config, now=now)
    session.commit()

    assert result.failed_permanently == (message.id,)
    stored = reload(engine, message.id)
    assert (stored.status, stored.attempts) == ("failed_permanently", 10)
    assert stored.last_error
    assert outbox.deliver_due(session, config, now=now + timedelta(days=30)) == outbox.DeliveryResult()
    assert [m.id for m in outbox.list_messages(session, status="failed_permanently")] == [message.id]


def test_without_smtp_configured_nothing_is_sent_and_nothing_changes(engine: Engine, session: Session) -> None:
    message = add(session, "reminder:notts_cyp:2025-04-23")
    session.commit()
    before = reload(engine, message.id).model_dump()

    result = outbox.deliver_due(session, None, now=NOW + timedelta(days=1))
    session.commit()

    assert result == outbox.DeliveryResult(not_configured=True)
    assert reload(engine, message.id).model_dump() == before


def test_oldest_due_messages_go_first_up_to_the_limit(session: Session, inbox: Inbox, smtp_port: int) -> None:
    newest = add(session, "late", now=NOW)
    oldest = add(session, "early", now=NOW - timedelta(hours=2))
    middle = add(session, "mid", now=NOW - timedelta(hours=1))
    add(session, "future", now=NOW + timedelta(hours=1))

    assert outbox.deliver_due(session, config_for(smtp_port), now=NOW, limit=2).sent == (oldest.id, middle.id)
    assert outbox.deliver_due(session, config_for(smtp_port), now=NOW).sent == (newest.id,)
    assert len(inbox.received) == 3


def test_a_message_to_an_agency_code_is_only_shown_on_the_api(session: Session, inbox: Inbox, smtp_port: int) -> None:
    message = add(session, "notice:agency-only", recipient="notts_cyp")

    assert outbox.deliver_due(session, config_for(smtp_port), now=NOW).sent == ()
    assert message.status == "queued"
    assert inbox.received == []
    assert outbox.list_messages(session, agency_code="notts_cyp", status="queued") == [message]


def test_times_in_other_zones_are_stored_and_compared_as_utc(engine: Engine, session: Session) -> None:
    london_summer = timezone(timedelta(hours=1))
    message = add(session, "bst", now=datetime(2025, 4, 23, 10, 0, tzinfo=london_summer))  # 09:00 UTC
    session.commit()

    stored = reload(engine, message.id)
    assert stored.created_at == NOW
    assert stored.created_at.tzinfo is UTC
    assert [m.id for m in outbox.due_messages(session, now=NOW)] == [message.id]
    assert outbox.due_messages(session, now=NOW - timedelta(seconds=1)) == []


def test_list_messages_filters_and_shows_newest_first(session: Session) -> None:
    old = add(session, "old", now=NOW - timedelta(days=1))
    new = add(session, "new", now=NOW)
    other = outbox.queue(
        session,
        kind="notice",
        recipient="officer@council.example",
        subject="Return X re-opened",
        body="A revised figure re-opens return X.",
        dedupe_key="notice:x",
        now=NOW,
    )
    other.status = "sent"

    assert outbox.list_messages(session) == [other, new, old]
    assert outbox.list_messages(session, agency_code="notts_cyp") == [new, old]
    assert outbox.list_messages(session, status="queued", limit=1) == [new]
    with pytest.raises(InvalidInput):
        outbox.list_messages(session, status="lost")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"kind": "gossip"}, "kind"),
        ({"subject": "Figures\r\nBcc: everyone@example.com"}, "subject"),
        ({"recipient": "a@example.com\nb@example.com"}, "recipient"),
        ({"recipient": " "}, "recipient"),
        ({"dedupe_key": ""}, "dedupe key"),
        ({"dedupe_key": "k" * 256}, "dedupe key is longer"),
    ],
)
def test_queue_refuses_what_could_not_be_sent_safely(session: Session, changes: dict[str, str], problem: str) -> None:
    arguments: dict[str, Any] = {
        "kind": "reminder",
        "recipient": "a@example.com",
        "subject": "Figures owed",
        "body": "Body",
        "dedupe_key": "k",
        "now": NOW,
    } | changes
    with pytest.raises(InvalidInput, match=problem):
        outbox.queue(session, **arguments)


def test_naive_times_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="aware"):
        add(session, "naive", now=datetime(2025, 4, 23, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        outbox.deliver_due(session, None, now=datetime(2025, 4, 23, 9, 0))


def test_login_is_used_when_configured(session: Session, inbox: Inbox) -> None:
    logins: list[tuple[str, str]] = []

    def authenticator(
        server: SMTP, session: SmtpSession, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        del server, session, envelope, mechanism
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        # handled=False: aiosmtpd itself answers 535 to a refused login.
        return AuthResult(success=auth_data.password == b"secret", handled=False)

    port = free_port()
    controller = start_server(inbox, port, authenticator=authenticator, auth_require_tls=False)
    try:
        good = add(session, "with-login")
        assert outbox.deliver_due(session, config_for(port, username="onereturn", password="secret"), now=NOW).sent
        bad = add(session, "wrong-password")
        result = outbox.deliver_due(session, config_for(port, username="onereturn", password="wrong"), now=NOW)
    finally:
        controller.stop()

    assert good.status == "sent"
    assert result.retrying == (bad.id,)
    assert "535" in bad.last_error
    # smtplib tries each mechanism the server offers before giving up, so "wrong" may come twice.
    assert set(logins) == {("onereturn", "secret"), ("onereturn", "wrong")}
    assert len(inbox.received) == 1


def test_smtp_config_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "SENDER", "USERNAME", "PASSWORD", "STARTTLS", "TIMEOUT"):
        monkeypatch.delenv(f"ONERETURN_SMTP_{name}", raising=False)
    assert outbox.smtp_config() is None

    monkeypatch.setenv("ONERETURN_SMTP_HOST", "mail.council.example")
    monkeypatch.setenv("ONERETURN_SMTP_PORT", "587")
    monkeypatch.setenv("ONERETURN_SMTP_USERNAME", "onereturn")
    monkeypatch.setenv("ONERETURN_SMTP_PASSWORD", "secret")
    monkeypatch.setenv("ONERETURN_SMTP_STARTTLS", "true")
    config = outbox.smtp_config()
    assert config == SmtpConfig(
        host="mail.council.example",
        port=587,
        sender="onereturn@localhost",
        username="onereturn",
        password="secret",
        starttls=True,
        timeout=10,
    )
    assert "secret" not in repr(config)

    monkeypatch.setenv("ONERETURN_SMTP_PORT", "not-a-port")
    with pytest.raises(ConfigurationError, match="ONERETURN_SMTP_PORT"):
        outbox.smtp_config()
    monkeypatch.setenv("ONERETURN_SMTP_PORT", "587")
    monkeypatch.delenv("ONERETURN_SMTP_PASSWORD")
    with pytest.raises(ConfigurationError, match="together"):
        outbox.smtp_config()

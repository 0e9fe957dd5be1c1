"""Logging: where lines go and in what shape, the request a log line belongs to, and keeping credentials out of every line.

Each HTTP request gets an id (its ``X-Request-Id``) held in a context variable; every log
record carries it as ``request_id`` ("-" outside a request, e.g. a scheduler job), so an error
body's id finds its log lines. The request's own credential is held beside it only so that a
log line quoting it can be blanked.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("onereturn_request_id", default="-")
_secrets: ContextVar[tuple[str, ...]] = ContextVar("onereturn_request_secrets", default=())

#: An incoming X-Request-Id is kept only if it is this plain (it is echoed into logs and bodies).
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
REDACTED = "[redacted]"


def new_request_id(incoming: str | None = None) -> str:
    """Return the caller's X-Request-Id when it is a plain token, else a fresh random one."""
    if incoming and _SAFE_ID.match(incoming):
        return incoming
    return secrets.token_hex(8)


def begin_request(request_id: str, secrets_: tuple[str, ...]) -> None:
    """Mark the current context as serving this request (its id and the credentials it carries)."""
    _request_id.set(request_id)
    _secrets.set(tuple(s for s in secrets_ if s))


def current_request_id() -> str:
    """Return the id of the request being served ("-" outside a request)."""
    return _request_id.get()


def redact(text: str) -> str:
    """Blank the current request's credentials wherever they appear in the text."""
    for secret in _secrets.get():
        text = text.replace(secret, REDACTED)
    return text


class RequestContextFilter(logging.Filter):
    """Give every record its request id, and blank the request's credentials in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate and clean the record; never drop it."""
        record.request_id = _request_id.get()
        if _secrets.get():
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            elif record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line)


def configure_logging(*, as_json: bool) -> None:
    """Log to stderr: JSON lines in production, plain text otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    )
    # Every line names its request (or "-") and never shows the request's key.
    handler.addFilter(RequestContextFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Alembic narrates every plugin it loads; only its warnings help an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # APScheduler narrates every job it adds; job failures are logged by the jobs themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

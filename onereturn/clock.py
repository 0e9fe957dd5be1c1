"""What time it is, asked in one place, so the pages and the calendar can be tried at a fixed moment."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """The current moment in UTC (tests replace this function to fix the clock)."""
    return datetime.now(UTC)

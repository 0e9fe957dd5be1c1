"""Bounded request parameters shared by the routes, so no number a client sends can overflow the store."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Path
from pydantic import BeforeValidator

from onereturn.errors import InvalidInput

#: The largest id the store can hold (a 32-bit signed integer column on PostgreSQL).
MAX_ID = 2**31 - 1
#: The longest date window a calendar request may span.
MAX_WINDOW = timedelta(days=5 * 366)
#: The calendar covers deadlines in these years only (rules are computed, so far years cost time and mean nothing).
FIRST_DATE = date(1990, 1, 1)
LAST_DATE = date(2100, 12, 31)


def _iso_date(value: object) -> object:
    # Pydantic would read a bare number as seconds since 1970; a date here is written YYYY-MM-DD.
    if isinstance(value, str) and not (len(value) == 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


#: A date written YYYY-MM-DD (nothing else is read as a date).
IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def _iso_instant(value: object) -> object:
    # As for dates: "0.5" is not an instant a client means, though pydantic would read it as one.
    if isinstance(value, str) and not (len(value) >= 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError("an instant is written in ISO 8601, e.g. 2025-04-01T09:00:00Z")
    return value


#: An instant written in ISO 8601 (a date, or a date and time).
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_instant)]
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="A stored object's id")]


def bounded_window(start: date, end: date, *, first: str = "from", last: str = "to") -> tuple[date, date]:
    """Check a date window is ordered, within the calendar's years and no longer than five years; else 422."""
    problems = []
    for name, day in ((first, start), (last, end)):
        if not FIRST_DATE <= day <= LAST_DATE:
            problems.append(
                {
                    "type": "date_range",
                    "loc": ["query", name],
                    "msg": f"must be between {FIRST_DATE} and {LAST_DATE}",
                    "input": day.isoformat(),
                }
            )
    if end < start:
        problems.append(
            {"type": "date_order", "loc": ["query", last], "msg": f"{last} is before {first}", "input": end.isoformat()}
        )
    elif end - start > MAX_WINDOW:
        problems.append(
            {
                "type": "date_window",
                "loc": ["query", last],
                "msg": "the window may span at most five years",
                "input": end.isoformat(),
            }
        )
    if problems:
        raise InvalidInput("; ".join(f"{p['loc'][-1]}: {p['msg']}" for p in problems), errors=problems)
    return start, end

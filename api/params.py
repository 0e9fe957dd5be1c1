"""Bounded request parameters shared by the routes, so no number a client sends can overflow the store."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator

from indicators.periods import FIRST_YEAR, LAST_YEAR, check_period_text
from onereturn.errors import InvalidInput

#: The longest search text a list takes: a name or a phrase of a definition is far shorter, and a longer pattern
#: costs the store more than any answer is worth (SQLite refuses LIKE patterns over 50,000 bytes outright).
SEARCH_CHARS = 200
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


def _within_years(value: date) -> date:
    # Every date a route takes is worked on with days around it (a window after it, the instant before it):
    # near Python's last date that arithmetic fails, so a date is refused at the door outside the service's years.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be within the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


#: A date written YYYY-MM-DD (nothing else is read as a date), within the service's years.
IsoDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_within_years)]


def _iso_instant(value: object) -> object:
    # As for dates: "0.5" is not an instant a client means, though pydantic would read it as one.
    if isinstance(value, str) and not (len(value) >= 10 and value[4] == "-" and value[7] == "-"):
        raise ValueError("an instant is written in ISO 8601, e.g. 2025-04-01T09:00:00Z")
    return value


#: An instant written in ISO 8601 (a date, or a date and time), within the service's years.
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_instant), AfterValidator(_within_years)]


def _period_text(value: str) -> str:
    if not value.strip():
        return value  # left blank: the route says what no period means (every period, or the latest)
    try:
        check_period_text(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None
    return value


def checked_period(text: str, where: str, name: str) -> str:
    """Refuse (422 naming the parameter) a period no type could read, as :data:`PeriodText` does; else return it."""
    try:
        check_period_text(text)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{name}: {exc.message}",
            errors=[{"type": "period", "loc": [where, name], "msg": exc.message, "input": text}],
        ) from None
    return text


#: A period as a route takes it (FY2024-25, 2024-06 ...): refused at the door, naming the parameter, when no
#: type of period could read it or its years are outside the service's; the route's own type check follows.
PeriodText = Annotated[str, AfterValidator(_period_text)]
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

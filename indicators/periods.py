"""Canonical periods: one syntax everywhere (uploads, API, exports) and what each period spans.

``2024-06`` a month, ``FY2024-25`` a financial year (April-March), ``FY2024-25-Q1`` its first
quarter (April-June 2024), ``AY2023-24`` an academic year (September-August), ``CY2024`` a
calendar year, ``2024-03-31`` a snapshot date. Common spellings such as ``2024/25`` are
accepted where the expected period type makes them unambiguous, and stored canonically.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal, get_args

from onereturn.errors import InvalidInput
from onereturn.listing import clip

PeriodType = Literal["month", "quarter", "financial_year", "academic_year", "calendar_year", "snapshot_date"]
PERIOD_TYPES: tuple[PeriodType, ...] = get_args(PeriodType)

_MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_name) if name} | {
    name.lower(): n for n, name in enumerate(calendar.month_abbr) if name
}
_FY = re.compile(r"^FY(\d{4})-(\d{2})$")
_FYQ = re.compile(r"^FY(\d{4})-(\d{2})-Q([1-4])$")
_AY = re.compile(r"^AY(\d{4})-(\d{2})$")
_CY = re.compile(r"^CY(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_SPLIT_YEAR = re.compile(r"^(?:(FY|AY)\s*)?(\d{4})\s*[/-]\s*(\d{2}|\d{4})$", re.IGNORECASE)
_QUARTER = re.compile(
    r"^(?:FY\s*)?(?:Q([1-4])\s+(\d{4})\s*[/-]\s*(\d{2}|\d{4})|(\d{4})\s*[/-]\s*(\d{2}|\d{4})\s*[- ]?\s*Q([1-4]))$",
    re.IGNORECASE,
)
_DMY = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")
_NAMED_MONTH = re.compile(r"^([A-Za-z]{3,9})\.?[\s-]+(\d{4})$")
_MY = re.compile(r"^(\d{1,2})[/-](\d{4})$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00(\.0+)?)?$")
#: Excel counts days from 1899-12-30 (its 1900 leap-year bug folded in).
_EXCEL_EPOCH = date(1899, 12, 30)
#: The years a period may cover. Every period is worked on with the years beside it (the previous period's change,
#: a deadline months after the end, a window of periods), and Python's dates end at 9999: a period near either end
#: of those (FY9999-00 ends in year 10000) could not be held. No return or publisher reaches outside these.
FIRST_YEAR = 1900
LAST_YEAR = 2999


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: its canonical code, type and the first and last day it covers."""

    start: date
    end: date
    type: PeriodType
    code: str

    def __str__(self) -> str:
        return self.code

    def contains(self, other: Period) -> bool:
        """Say whether ``other`` lies wholly within this period."""
        return self.start <= other.start and other.end <= self.end


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def month(year: int, month_no: int) -> Period:
    """Return the month period."""
    return Period(date(year, month_no, 1), _month_end(year, month_no), "month", f"{year:04d}-{month_no:02d}")


def financial_year(start_year: int) -> Period:
    """Return the April-March year starting in ``start_year``."""
    return Period(
        date(start_year, 4, 1),
        date(start_year + 1, 3, 31),
        "financial_year",
        f"FY{start_year}-{(start_year + 1) % 100:02d}",
    )


def quarter(start_year: int, q: int) -> Period:
    """Return quarter ``q`` (1 = April-June) of the financial year starting in ``start_year``."""
    first_month = 4 + 3 * (q - 1)
    year = start_year + (first_month - 1) // 12
    first_month = (first_month - 1) % 12 + 1
    end_month = first_month + 2
    return Period(
        date(year, first_month, 1),
        _month_end(year, end_month),
        "quarter",
        f"FY{start_year}-{(start_year + 1) % 100:02d}-Q{q}",
    )


def academic_year(start_year: int) -> Period:
    """Return the September-August year starting in ``start_year``."""
    return Period(
        date(start_year, 9, 1),
        date(start_year + 1, 8, 31),
        "academic_year",
        f"AY{start_year}-{(start_year + 1) % 100:02d}",
    )


def calendar_year(year: int) -> Period:
    """Return the January-December year."""
    return Period(date(year, 1, 1), date(year, 12, 31), "calendar_year", f"CY{year}")


def snapshot(day: date) -> Period:
    """Return the snapshot period of one day."""
    return Period(day, day, "snapshot_date", day.isoformat())


def _second_year(first: int, second: str, text: str) -> None:
    expected = first + 1
    if (len(second) == 2 and int(second) != expected % 100) or (len(second) == 4 and int(second) != expected):
        raise InvalidInput(f"Period {text!r}: the second year must follow {first}")


def _date(year: int, month_no: int, day: int, text: str) -> date:
    try:
        return date(year, month_no, day)
    except ValueError:
        raise InvalidInput(f"Period {text!r} is not a real date") from None


def _parse_canonical(text: str) -> Period | None:
    if m := _FYQ.match(text):
        _second_year(int(m[1]), m[2], text)
        return quarter(int(m[1]), int(m[3]))
    if m := _FY.match(text):
        _second_year(int(m[1]), m[2], text)
        return financial_year(int(m[1]))
    if m := _AY.match(text):
        _second_year(int(m[1]), m[2], text)
        return academic_year(int(m[1]))
    if m := _CY.match(text):
        return calendar_year(int(m[1]))
    if m := _MONTH.match(text):
        if not 1 <= int(m[2]) <= 12:
            raise InvalidInput(f"Period {text!r}: month {m[2]} does not exist")
        return month(int(m[1]), int(m[2]))
    if m := _DATE.match(text):
        return snapshot(_date(int(m[1]), int(m[2]), int(m[3]), text))
    return None


def _parse_spelling(text: str, expected: PeriodType | None) -> Period | None:
    if m := _DATETIME.match(text):
        return _parse_canonical(m[1])
    if m := _QUARTER.match(text):
        q, first, second = (m[1], m[2], m[3]) if m[1] else (m[6], m[4], m[5])
        _second_year(int(first), second, text)
        return quarter(int(first), int(q))
    if m := _SPLIT_YEAR.match(text):
        _second_year(int(m[2]), m[3], text)
        prefix = (m[1] or "").upper()
        kind = {"FY": "financial_year", "AY": "academic_year"}.get(prefix, expected)
        if kind == "financial_year":
            return financial_year(int(m[2]))
        if kind == "academic_year":
            return academic_year(int(m[2]))
        raise InvalidInput(
            f"Period {text!r} could be a financial or an academic year; write FY{m[2]}-{(int(m[2]) + 1) % 100:02d} or AY{m[2]}-{(int(m[2]) + 1) % 100:02d}"
        )
    if re.fullmatch(r"\d{4}", text) and expected == "calendar_year":
        return calendar_year(int(text))
    if m := _DMY.match(text):
        return snapshot(_date(int(m[3]), int(m[2]), int(m[1]), text))
    if (m := _NAMED_MONTH.match(text)) and m[1].lower() in _MONTHS:
        return month(int(m[2]), _MONTHS[m[1].lower()])
    if (m := _MY.match(text)) and 1 <= int(m[1]) <= 12:
        return month(int(m[2]), int(m[1]))
    if re.fullmatch(r"\d{5}(\.0+)?", text) and expected == "snapshot_date":
        return snapshot(_EXCEL_EPOCH + timedelta(days=int(float(text))))
    return None


class PeriodOutOfRange(InvalidInput):
    """A period written correctly whose years lie outside those the service holds."""


def _out_of_range(text: str) -> PeriodOutOfRange:
    return PeriodOutOfRange(f"Period {text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")


def _read(cleaned: str, expected: PeriodType | None) -> Period | None:
    try:
        period = _parse_canonical(cleaned.upper() if cleaned[:2].lower() in ("fy", "ay", "cy") else cleaned)
        return period if period is not None else _parse_spelling(cleaned, expected)
    except (ValueError, OverflowError):
        # The spelling was right but a date it needs does not exist (year 0, or the year after 9999).
        raise _out_of_range(cleaned) from None


def parse_period(text: str, expected: PeriodType | None = None) -> Period:
    """Parse a period in canonical form or a common spelling; check it is of the ``expected`` type."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise InvalidInput("Period is empty")
    if len(cleaned) > 40:
        raise InvalidInput(f"Period {clip(cleaned, 40)!r} is not recognised: it is longer than any period")
    period = _read(cleaned, expected)
    if period is not None and not (period.start.year >= FIRST_YEAR and period.end.year <= LAST_YEAR):
        raise _out_of_range(cleaned)
    if period is None:
        raise InvalidInput(
            f"Period {text!r} is not recognised; write e.g. 2024-06 (month), FY2024-25-Q1 (quarter), "
            "FY2024-25 (financial year), AY2023-24 (academic year), CY2024 or 2024-03-31 (snapshot date)"
        )
    if expected is not None and period.type != expected:
        raise InvalidInput(
            f"Period {period.code} is a {period.type.replace('_', ' ')}, but a {expected.replace('_', ' ')} is expected"
        )
    return period


def check_period_text(text: str) -> None:
    """Refuse (InvalidInput) a period no type could read: out of range, malformed or too long."""
    try:
        parse_period(text)
    except PeriodOutOfRange:
        raise
    except InvalidInput as first:
        # Some spellings (2024/25, 2024, an Excel day number) are read only when the route says which type it wants.
        for kind in ("financial_year", "calendar_year", "snapshot_date"):
            try:
                parse_period(text, kind)
                return
            except PeriodOutOfRange:
                raise
            except InvalidInput:
                continue
        raise first


def months_in(period: Period) -> list[Period]:
    """List the months a period covers (a snapshot covers its own month)."""
    out = []
    year, month_no = period.start.year, period.start.month
    while date(year, month_no, 1) <= period.end:
        out.append(month(year, month_no))
        year, month_no = (year + 1, 1) if month_no == 12 else (year, month_no + 1)
    return out


def utc(instant: datetime) -> datetime:
    """Return the instant in UTC; a time without a zone is read as UTC (what the store keeps)."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except OverflowError:
        # Within hours of year 1 or year 9999: the nearest instant that exists is as good as any.
        return (datetime.min if instant.year == 1 else datetime.max).replace(tzinfo=UTC)


#: A collection year as a council writes it: 2024-25, FY2024-25 or 2024/25, in ASCII digits (``\\d`` alone
#: would take fullwidth and other scripts' digits, and store them as typed).
_COLLECTION_YEAR = re.compile(r"(?:FY)?([0-9]{4})[-/]([0-9]{2})", flags=re.ASCII | re.IGNORECASE)
#: The longest text read as a year; anything longer is refused without being matched.
_COLLECTION_YEAR_CHARS = 16


def read_collection_year(text: str, where: str = "body") -> str:
    """The collection year ``text`` names, written ``2024-25``; InvalidInput (422) for anything else.

    The one rule for the record-level form and ``POST /api/submissions``: checked before anything is kept.
    ``where`` is the part of the request it came in (``body``, or ``path`` for an address that names the year).
    """
    stripped = text.strip()
    match = _COLLECTION_YEAR.fullmatch(stripped) if len(stripped) <= _COLLECTION_YEAR_CHARS else None
    if not match or (int(match[1]) + 1) % 100 != int(match[2]):
        raise InvalidInput(
            f"{clip(stripped, _COLLECTION_YEAR_CHARS)!r} is not a collection year: write it as a year and the next year's "
            "last two digits, for example 2024-25",
            errors=[
                {
                    "type": "invalid_input",
                    "loc": [where, "collection_year"],
                    "msg": "write the collection year like 2024-25",
                    "input": clip(stripped, _COLLECTION_YEAR_CHARS),
                }
            ],
        )
    return f"{match[1]}-{match[2]}"

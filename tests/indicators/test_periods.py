"""One canonical period syntax; common spellings accepted only where unambiguous."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.periods import (
    academic_year,
    calendar_year,
    financial_year,
    month,
    months_in,
    parse_period,
    quarter,
    snapshot,
)
from onereturn.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "start", "end", "kind"),
    [
        ("2024-06", date(2024, 6, 1), date(2024, 6, 30), "month"),
        ("FY2024-25", date(2024, 4, 1), date(2025, 3, 31), "financial_year"),
        ("FY2024-25-Q1", date(2024, 4, 1), date(2024, 6, 30), "quarter"),
        ("FY2024-25-Q4", date(2025, 1, 1), date(2025, 3, 31), "quarter"),
        ("AY2023-24", date(2023, 9, 1), date(2024, 8, 31), "academic_year"),
        ("CY2024", date(2024, 1, 1), date(2024, 12, 31), "calendar_year"),
        ("2024-03-31", date(2024, 3, 31), date(2024, 3, 31), "snapshot_date"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month"),
    ],
)
def test_canonical_periods_span_the_right_days(text: str, start: date, end: date, kind: str) -> None:
    period = parse_period(text)
    assert (period.code, period.start, period.end, period.type) == (text, start, end, kind)


@pytest.mark.parametrize(
    ("spelling", "expected", "canonical"),
    [
        ("2024/25", "financial_year", "FY2024-25"),
        ("2024-2025", "financial_year", "FY2024-25"),
        ("2024/25", "academic_year", "AY2024-25"),
        ("fy 2024/25", None, "FY2024-25"),
        ("Q2 2024/25", "quarter", "FY2024-25-Q2"),
        ("2024/25 Q3", None, "FY2024-25-Q3"),
        ("June 2024", "month", "2024-06"),
        ("Jun 2024", None, "2024-06"),
        ("6/2024", None, "2024-06"),
        ("31/03/2024", "snapshot_date", "2024-03-31"),
        ("2024-03-31 00:00:00", None, "2024-03-31"),
        ("45382", "snapshot_date", "2024-03-31"),
        ("2024", "calendar_year", "CY2024"),
        ("  FY2024-25  ", None, "FY2024-25"),
    ],
)
def test_common_spellings_are_stored_canonically(spelling: str, expected: str | None, canonical: str) -> None:
    assert parse_period(spelling, expected).code == canonical  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected", "message"),
    [
        ("2024/25", None, "financial or an academic year"),
        ("FY2024-26", None, "must follow 2024"),
        ("2024-13", None, "does not exist"),
        ("2023-02-29", None, "not a real date"),
        ("FY2024-25", "month", "is a financial year, but a month is expected"),
        ("next year", None, "not recognised"),
        ("", None, "empty"),
        ("2024", None, "not recognised"),
    ],
)
def test_ambiguous_or_wrong_periods_are_refused(text: str, expected: str | None, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_period(text, expected)  # type: ignore[arg-type]


def test_months_in_periods() -> None:
    assert [p.code for p in months_in(quarter(2024, 4))] == ["2025-01", "2025-02", "2025-03"]
    assert len(months_in(financial_year(2024))) == 12
    assert months_in(snapshot(date(2024, 3, 31))) == [month(2024, 3)]


def test_containment() -> None:
    assert financial_year(2024).contains(quarter(2024, 2))
    assert not financial_year(2024).contains(academic_year(2024))
    assert calendar_year(2025).contains(quarter(2024, 4))


@given(st.integers(min_value=1990, max_value=2090), st.integers(min_value=1, max_value=4))
def test_every_constructed_period_round_trips(year: int, q: int) -> None:
    for period in (
        financial_year(year),
        quarter(year, q),
        academic_year(year),
        calendar_year(year),
        month(year, q * 3),
    ):
        assert parse_period(period.code) == period

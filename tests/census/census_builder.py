"""Censuses made by hand for the lists' tests: :class:`CensusRecords` from a few rows per table, every column the
census declares present (blank where a test does not care), as a reader of the census answers them."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from collectors.census.records import TABLES, CensusRecords, conformed

#: The census days of 2024-25 (SOURCE.md of the school census reference: 3 October, 16 January, 15 May).
AUTUMN, SPRING, SUMMER = date(2024, 10, 3), date(2025, 1, 16), date(2025, 5, 15)
_TERMS = {AUTUMN: ("autumn", 2024), SPRING: ("spring", 2025), SUMMER: ("summer", 2025)}


def pupil(key: int, upn: str, **items: Any) -> dict[str, Any]:
    """One enrolment on roll at a single-registration school, with ``items`` over the defaults."""
    row: dict[str, Any] = dict.fromkeys(TABLES["pupils"])
    row |= {"pupil": key, "on_roll": True, "upn": upn, "born": date(2014, 3, 1), "sex": "F", "ethnicity": "WBRI"}
    row |= {"laestab": "8302001", "urn": "112233", "enrolstatus": "C", "ncyear": "5", "senprovision": "E"}
    return row | items


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    columns = TABLES[table]
    full = [dict.fromkeys(columns) | r for r in rows]
    return pl.DataFrame(full, schema=columns, orient="row") if full else pl.DataFrame(schema=columns)


def census(day: date, source: str = "la", **tables: list[dict[str, Any]]) -> CensusRecords:
    """A census of the day (one of 2024-25's) from rows per table; the tables not given empty."""
    term, year = _TERMS[day]
    frames = {name: _frame(name, tables.get(name, [])) for name in TABLES}
    return conformed(CensusRecords(year, term, day, source, **frames))

"""Derived indicators worked out together (one query for many) give each the figures it gets alone."""

from __future__ import annotations

from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from indicators.models import Indicator
from mappings.resolve import derive_frames
from mappings.transforms import FIGURE_SCHEMA, PART_SCHEMA, as_parts

PERIOD = "FY2024-25"
TITLES = {"t.n": "Children seen", "t.d": "Children", "t.a": "Boys", "t.b": "Girls", "t.c": "Others", "t.z": "Nobody"}


def indicator(ind_id: str, formula: str, **extra: Any) -> Indicator:
    base: dict[str, Any] = {
        "title": ind_id,
        "plain_title": ind_id,
        "definition": "",
        "statistic": "count",
        "unit": "count",
        "polarity": "neutral",
        "period_type": "financial_year",
        "time_basis": "cumulative",
        "aggregation": "sum",
        "purpose": "performance",
        "method": "m",
        "source_body": "local_authority",
    }
    return Indicator(id=ind_id, formula=formula, **{**base, **extra})


def terms(ind_id: str, *rows: tuple[str, str, float | None, str | None]) -> pl.DataFrame:
    """A term's figures as parts: (org, breakdown, value, symbol) each, ids numbered from the term's last letter."""
    start = ord(ind_id[-1]) * 100
    return as_parts(
        pl.DataFrame(
            [
                {
                    "obs_id": start + k,
                    "indicator_id": ind_id,
                    "org_code": org,
                    "period": PERIOD,
                    "breakdown": breakdown,
                    "value": value,
                    "numerator": None,
                    "denominator": None,
                    "symbol": symbol,
                }
                for k, (org, breakdown, value, symbol) in enumerate(rows)
            ],
            schema=FIGURE_SCHEMA,
        )
    )


N = terms("t.n", ("A", "", 3, None), ("B", "", 5, None), ("C", "", 0, None), ("E", "", None, "x"))
D = terms("t.d", ("A", "", 4, None), ("B", "", 4, None), ("C", "", 0, None), ("D", "", 9, None), ("E", "", 2, None))
A = terms("t.a", ("A", "", 1, None), ("A", "sex=F", 2, None))
B = terms("t.b", ("A", "", 10, None), ("A", "sex=F", 20, None), ("B", "", 7, None))
C = terms("t.c", ("A", "", 100, None))
EMPTY = pl.DataFrame(schema=PART_SCHEMA)

ITEMS = [
    (
        indicator(
            "share", "100 * t.n / t.d", statistic="percentage", numerator="t.n", denominator="t.d", range_max=100
        ),
        {"t.n": N, "t.d": D},
    ),
    (indicator("pair", "t.a + t.b"), {"t.a": A, "t.b": B}),
    (indicator("none", "t.z * 2"), {"t.z": EMPTY}),
    (indicator("three", "t.a - (t.b + t.c)"), {"t.a": A, "t.b": B, "t.c": C}),
]


def row(frame: pl.DataFrame, org: str, breakdown: str = "") -> dict[str, Any]:
    rows = frame.filter(org_code=org, breakdown=breakdown).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


def test_each_derived_indicator_together_is_what_it_is_alone() -> None:
    together = derive_frames(ITEMS, TITLES, PERIOD)
    assert len(together) == len(ITEMS)
    for item, frame in zip(ITEMS, together, strict=True):
        assert_frame_equal(frame, derive_frames([item], TITLES, PERIOD)[0])
        assert frame.schema == PART_SCHEMA


def test_derived_figures_say_why_they_are_not_given() -> None:
    share, pair, none, three = derive_frames(ITEMS, TITLES, PERIOD)
    assert row(share, "A")["value"] == 75.0
    assert (row(share, "A")["numerator"], row(share, "A")["denominator"]) == (3.0, 4.0)
    assert row(share, "A")["obs_ids"] == [11000, 10000]
    assert row(share, "A")["weights"] == [1.0, 1.0]
    beyond = row(share, "B")
    assert beyond["status"] == "not_derivable"
    assert beyond["value"] is None
    assert beyond["reason"].startswith("Children seen (5.0) is above Children (4.0)")
    assert row(share, "C")["reason"] == "100 * t.n / t.d has no value (a zero denominator?)"
    assert (row(share, "D")["status"], row(share, "D")["reason"]) == ("missing", "needs Children seen")
    assert row(share, "D")["missing_parts"] == 1
    assert row(share, "D")["parts"] == 1
    unavailable = row(share, "E")
    assert unavailable["status"] == "not_available"
    assert unavailable["reason"].startswith("Children seen (")
    assert [r["org_code"] for r in share.iter_rows(named=True)] == ["A", "B", "C", "D", "E"]
    assert (row(pair, "A", "sex=F")["value"], row(pair, "B")["status"]) == (22.0, "missing")
    assert row(pair, "B")["reason"] == "needs Boys"
    assert none.is_empty()
    assert none.schema == PART_SCHEMA
    assert row(three, "A")["value"] == 1 - (10 + 100)
    assert row(three, "A", "sex=F")["reason"] == "needs Others"
    assert row(three, "A")["obs_ids"] == [9700, 9800, 9900]

"""The pure return transforms on small hand-checked figures: conversion, roll-up, recode, scale, rounding, suppression."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from indicators.periods import academic_year, financial_year, month, quarter
from mappings.transforms import (
    FIGURE_SCHEMA,
    PART_SCHEMA,
    SECONDARY_REASON,
    as_parts,
    convert_period,
    own_periods,
    recode,
    roll_up,
    round_half_up,
    scaled_rounded,
    suppress,
)

FY24 = financial_year(2024)
Q1 = quarter(2024, 1)


def figures(*rows: dict[str, Any]) -> pl.DataFrame:
    """Stored figures; each row names what differs from a count of indicator ``ind``."""
    base = {
        "indicator_id": "ind",
        "org_code": "A",
        "period": "2024-04",
        "breakdown": "",
        "value": None,
        "numerator": None,
        "denominator": None,
        "symbol": None,
    }
    return pl.DataFrame([{"obs_id": i, **base, **row} for i, row in enumerate(rows, start=1)], schema=FIGURE_SCHEMA)


def parts(*rows: dict[str, Any]) -> pl.DataFrame:
    return as_parts(figures(*rows))


def links(*rows: tuple[str, str, float]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"from_code": pl.String, "to_code": pl.String, "weight": pl.Float64}, orient="row")


def one(frame: pl.DataFrame, **where: str) -> dict[str, Any]:
    """The one row matching ``where``."""
    rows = frame.filter(**where).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# --- as_parts -------------------------------------------------------------------------------


def test_as_parts_marks_symbols_not_available_with_their_meaning() -> None:
    out = parts({"value": 5.0}, {"org_code": "B", "symbol": "z"})
    assert out.schema == PART_SCHEMA
    assert out.select("org_code", "value", "status", "reason", "parts", "obs_ids", "weights").to_dicts() == [
        {
            "org_code": "A",
            "value": 5.0,
            "status": "present",
            "reason": None,
            "parts": 1,
            "obs_ids": [1],
            "weights": [1.0],
        },
        {
            "org_code": "B",
            "value": None,
            "status": "not_available",
            "reason": "not applicable: no such figure exists for this area and period",
            "parts": 1,
            "obs_ids": [2],
            "weights": [1.0],
        },
    ]


# --- roll-up -----------------------------------------------------------------------------------


def test_rates_roll_up_as_a_ratio_of_sums_never_an_average_of_rates() -> None:
    rates = parts(
        {"org_code": "A", "value": 10.0, "numerator": 1.0, "denominator": 10.0},
        {"org_code": "B", "value": 90.0, "numerator": 90.0, "denominator": 100.0},
    )
    out = roll_up(rates, links(("A", "R", 1.0), ("B", "R", 1.0)), aggregation="ratio_of_sums", multiplier=100)
    row = one(out, org_code="R")
    assert row["value"] == pytest.approx(91 / 110 * 100)
    assert row["value"] == pytest.approx(82.7272727)
    assert row["value"] != pytest.approx(50.5)  # the average of 10% and 90%, which would be wrong
    assert (row["numerator"], row["denominator"]) == (91.0, 110.0)
    assert (row["status"], row["how"], row["parts"], row["obs_ids"], row["weights"]) == (
        "present",
        "rolled_up",
        2,
        [1, 2],
        [1.0, 1.0],
    )


def test_counts_are_summed_into_each_parent() -> None:
    counts = parts(
        {"org_code": "A", "value": 3.0},
        {"org_code": "B", "value": 4.0},
        {"org_code": "C", "value": 5.0},
        {"org_code": "A", "period": "2024-05", "value": 1.0},
        {"org_code": "B", "period": "2024-05", "value": 2.0},
        {"org_code": "C", "period": "2024-05", "value": 7.0},
    )
    out = roll_up(counts, links(("A", "R", 1.0), ("B", "R", 1.0), ("C", "S", 1.0)), aggregation="sum", multiplier=1)
    expected = pl.DataFrame(
        {
            "indicator_id": ["ind"] * 4,
            "org_code": ["R", "R", "S", "S"],
            "period": ["2024-04", "2024-05", "2024-04", "2024-05"],
            "breakdown": [""] * 4,
            "value": [7.0, 3.0, 5.0, 7.0],
            "numerator": [None] * 4,
            "denominator": [None] * 4,
            "symbol": [None] * 4,
            "status": ["present"] * 4,
            "reason": [None] * 4,
            "how": ["rolled_up"] * 4,
            "parts": [2, 2, 1, 1],
            "missing_parts": [0] * 4,
            "obs_ids": [[1, 2], [4, 5], [3], [6]],
            "weights": [[1.0, 1.0], [1.0, 1.0], [1.0], [1.0]],
        },
        schema=PART_SCHEMA,
    )
    assert_frame_equal(out.sort("org_code", "period"), expected)


def test_a_rate_without_numerator_and_denominator_is_not_rolled_up() -> None:
    rates = parts(
        {"org_code": "A", "value": 10.0, "numerator": 1.0, "denominator": 10.0},
        {"org_code": "B", "value": 90.0},
    )
    row = one(roll_up(rates, links(("A", "R", 1.0), ("B", "R", 1.0)), aggregation="ratio_of_sums", multiplier=100))
    assert row["status"] == "not_derivable"
    assert row["value"] is None
    assert row["reason"] == (
        "no numerator and denominator for B: a rate cannot be rolled up without its numerator and denominator"
    )


def test_weighted_mean_weights_by_denominators_and_needs_them() -> None:
    means = parts(
        {"org_code": "A", "value": 10.0, "denominator": 2.0},
        {"org_code": "B", "value": 20.0, "denominator": 6.0},
    )
    row = one(roll_up(means, links(("A", "R", 1.0), ("B", "R", 1.0)), aggregation="weighted_mean", multiplier=1))
    assert (row["value"], row["denominator"]) == (17.5, 8.0)  # (10·2 + 20·6) / 8
    bare = parts({"org_code": "A", "value": 10.0}, {"org_code": "B", "value": 20.0})
    row = one(roll_up(bare, links(("A", "R", 1.0), ("B", "R", 1.0)), aggregation="weighted_mean", multiplier=1))
    assert row["status"] == "not_derivable"
    assert "no denominator for A, B" in row["reason"]


def test_a_non_additive_figure_is_not_rolled_up() -> None:
    row = one(roll_up(parts({"value": 2.0}), links(("A", "R", 1.0)), aggregation="none", multiplier=1))
    assert (row["status"], row["value"], row["reason"]) == (
        "not_derivable",
        None,
        "ind is not additive, so it cannot be rolled up",
    )


def test_an_absent_or_unavailable_child_makes_the_parent_missing() -> None:
    counts = parts({"org_code": "A", "value": 3.0}, {"org_code": "B", "symbol": "x"})
    out = roll_up(counts, links(("A", "R", 1.0), ("B", "R", 1.0), ("C", "R", 1.0)), aggregation="sum", multiplier=1)
    row = one(out, org_code="R")
    assert (row["status"], row["value"], row["missing_parts"], row["reason"]) == (
        "missing",
        None,
        2,
        "no figure for B, C",
    )
    # What was found is still listed, so the gap can be traced.
    assert (row["obs_ids"], row["parts"]) == ([1, 2], 2)


def test_a_crosswalk_apportions_counts_numerators_and_denominators_never_the_rate() -> None:
    council = parts(
        {"indicator_id": "count", "org_code": "C1", "value": 100.0},
        {"indicator_id": "rate", "org_code": "C1", "value": 15.0, "numerator": 30.0, "denominator": 200.0},
    )
    split = links(("C1", "H1", 0.6), ("C1", "H2", 0.4))
    counts = roll_up(council.filter(indicator_id="count"), split, aggregation="sum", multiplier=1)
    assert counts.select("org_code", "value", "how", "obs_ids", "weights").sort("org_code").to_dicts() == [
        {"org_code": "H1", "value": 60.0, "how": "apportioned", "obs_ids": [1], "weights": [0.6]},
        {"org_code": "H2", "value": 40.0, "how": "apportioned", "obs_ids": [1], "weights": [0.4]},
    ]
    rates = roll_up(council.filter(indicator_id="rate"), split, aggregation="ratio_of_sums", multiplier=100)
    h1, h2 = rates.sort("org_code").to_dicts()
    assert (h1["numerator"], h1["denominator"], h1["value"]) == pytest.approx((18.0, 120.0, 15.0))
    assert (h2["numerator"], h2["denominator"], h2["value"]) == pytest.approx((12.0, 80.0, 15.0))
    assert h1["value"] != pytest.approx(15.0 * 0.6)


def test_a_share_of_one_council_adds_to_another_whole_one() -> None:
    rates = parts(
        {"org_code": "C1", "value": 15.0, "numerator": 30.0, "denominator": 200.0},
        {"org_code": "C2", "value": 10.0, "numerator": 10.0, "denominator": 100.0},
    )
    row = one(roll_up(rates, links(("C1", "H1", 0.6), ("C2", "H1", 1.0)), aggregation="ratio_of_sums", multiplier=100))
    assert (row["numerator"], row["denominator"]) == pytest.approx((28.0, 220.0))
    assert row["value"] == pytest.approx(28 / 220 * 100)
    assert (row["how"], row["obs_ids"], row["weights"]) == ("apportioned", [1, 2], pytest.approx([0.6, 1.0]))


# --- period conversion -----------------------------------------------------------------------


def monthly(values: list[float], **extra: Any) -> pl.DataFrame:
    return parts(*({"period": f"2024-{m:02d}", "value": v, **extra} for m, v in zip((4, 5, 6), values, strict=False)))


def test_months_sum_to_a_quarter() -> None:
    out = convert_period(
        monthly([10.0, 20.0, 30.0]),
        Q1,
        period_type="month",
        time_basis="cumulative",
        aggregation="sum",
        multiplier=1,
    )
    expected = pl.DataFrame(
        {
            "indicator_id": ["ind"],
            "org_code": ["A"],
            "period": ["FY2024-25-Q1"],
            "breakdown": [""],
            "value": [60.0],
            "numerator": [None],
            "denominator": [None],
            "symbol": [None],
            "status": ["present"],
            "reason": [None],
            "how": ["converted"],
            "parts": [3],
            "missing_parts": [0],
            "obs_ids": [[1, 2, 3]],
            "weights": [[1.0, 1.0, 1.0]],
        },
        schema=PART_SCHEMA,
    )
    assert_frame_equal(out, expected)


def test_quarters_sum_to_a_financial_year() -> None:
    quarters = parts(*({"period": f"FY2024-25-Q{q}", "value": float(q)} for q in (1, 2, 3, 4)))
    row = one(
        convert_period(quarters, FY24, period_type="quarter", time_basis="cumulative", aggregation="sum", multiplier=1)
    )
    assert (row["period"], row["value"], row["parts"]) == ("FY2024-25", 10.0, 4)


def test_a_snapshot_takes_the_period_end_value() -> None:
    quarters = parts(*({"period": f"FY2024-25-Q{q}", "value": float(q * 10)} for q in (1, 2, 3, 4)))
    row = one(
        convert_period(quarters, FY24, period_type="quarter", time_basis="snapshot", aggregation="sum", multiplier=1)
    )
    assert (row["period"], row["value"], row["how"], row["obs_ids"]) == ("FY2024-25", 40.0, "converted", [4])


def test_rolling_twelve_months_takes_the_period_end_value() -> None:
    rolling = monthly([50.0, 51.0, 52.0], numerator=5.0, denominator=10.0)
    row = one(
        convert_period(
            rolling,
            Q1,
            period_type="month",
            time_basis="rolling_12_months",
            aggregation="ratio_of_sums",
            multiplier=100,
        )
    )
    assert (row["period"], row["value"], row["obs_ids"], row["status"]) == ("FY2024-25-Q1", 52.0, [3], "present")


def test_a_rate_over_months_is_recomputed_from_summed_numerators_and_denominators() -> None:
    rates = parts(
        {"period": "2024-04", "value": 10.0, "numerator": 1.0, "denominator": 10.0},
        {"period": "2024-05", "value": 50.0, "numerator": 5.0, "denominator": 10.0},
        {"period": "2024-06", "value": 90.0, "numerator": 90.0, "denominator": 100.0},
    )
    row = one(
        convert_period(
            rates, Q1, period_type="month", time_basis="cumulative", aggregation="ratio_of_sums", multiplier=100
        )
    )
    assert (row["numerator"], row["denominator"]) == (96.0, 120.0)
    assert row["value"] == pytest.approx(80.0)  # not (10 + 50 + 90) / 3 = 50


def test_a_rate_without_numerator_and_denominator_cannot_be_converted() -> None:
    rates = parts(
        {"period": "2024-04", "value": 10.0, "numerator": 1.0, "denominator": 10.0},
        {"period": "2024-05", "value": 50.0},
        {"period": "2024-06", "value": 90.0, "numerator": 90.0, "denominator": 100.0},
    )
    row = one(
        convert_period(
            rates, Q1, period_type="month", time_basis="cumulative", aggregation="ratio_of_sums", multiplier=100
        )
    )
    assert (row["status"], row["value"]) == ("not_derivable", None)
    assert row["reason"] == (
        "no numerator and denominator for 2024-05: a rate cannot be recomputed for FY2024-25-Q1 "
        "without its numerator and denominator"
    )


def test_a_missing_quarter_makes_the_year_missing_and_names_it() -> None:
    quarters = parts(*({"period": f"FY2024-25-Q{q}", "value": 1.0} for q in (1, 2, 4)))
    row = one(
        convert_period(quarters, FY24, period_type="quarter", time_basis="cumulative", aggregation="sum", multiplier=1)
    )
    assert (row["status"], row["value"], row["missing_parts"], row["reason"]) == (
        "missing",
        None,
        1,
        "no figure for FY2024-25-Q3",
    )
    assert row["obs_ids"] == [1, 2, 3]


def test_a_missing_period_end_makes_a_snapshot_missing() -> None:
    row = one(
        convert_period(
            monthly([1.0, 2.0]), Q1, period_type="month", time_basis="snapshot", aggregation="sum", multiplier=1
        )
    )
    assert (row["status"], row["value"], row["missing_parts"], row["reason"], row["obs_ids"]) == (
        "missing",
        None,
        1,
        "no figure for 2024-06",
        [],
    )


def test_a_snapshot_date_figure_keeps_its_date() -> None:
    snaps = parts({"period": "2024-03-31", "value": 1.0}, {"period": "2025-03-31", "value": 7.0})
    row = one(
        convert_period(snaps, FY24, period_type="snapshot_date", time_basis="snapshot", aggregation="sum", multiplier=1)
    )
    assert (row["period"], row["value"], row["how"], row["obs_ids"]) == ("2025-03-31", 7.0, "", [2])


def test_the_same_period_passes_unchanged() -> None:
    quarter_figures = parts({"period": "FY2024-25-Q1", "value": 5.0, "numerator": 5.0, "denominator": 9.0})
    out = convert_period(
        quarter_figures, Q1, period_type="quarter", time_basis="cumulative", aggregation="ratio_of_sums", multiplier=1
    )
    assert_frame_equal(out, quarter_figures)


@pytest.mark.parametrize(
    ("aggregation", "reason"),
    [
        ("weighted_mean", "a weighted mean cannot be added up over the 3 months of FY2024-25-Q1"),
        ("none", "ind is not additive, so its month figures cannot be added up into FY2024-25-Q1"),
    ],
)
def test_means_and_non_additive_figures_are_not_added_over_periods(aggregation: str, reason: str) -> None:
    row = one(
        convert_period(
            monthly([1.0, 2.0, 3.0], denominator=4.0),
            Q1,
            period_type="month",
            time_basis="cumulative",
            aggregation=aggregation,
            multiplier=1,
        )
    )
    assert (row["status"], row["value"], row["reason"]) == ("not_derivable", None, reason)


def test_periods_that_do_not_nest_are_not_converted() -> None:
    quarters = parts({"period": "FY2024-25-Q1", "value": 1.0})
    row = one(
        convert_period(
            quarters,
            academic_year(2024),
            period_type="quarter",
            time_basis="cumulative",
            aggregation="sum",
            multiplier=1,
        )
    )
    assert (row["status"], row["period"], row["reason"]) == (
        "not_derivable",
        "AY2024-25",
        "quarter figures cannot be converted to the academic year AY2024-25",
    )


def test_a_month_converts_to_itself_even_among_other_months() -> None:
    row = one(
        convert_period(
            monthly([1.0, 2.0, 3.0]),
            month(2024, 5),
            period_type="month",
            time_basis="cumulative",
            aggregation="sum",
            multiplier=1,
        )
    )
    assert (row["period"], row["value"], row["how"]) == ("2024-05", 2.0, "")


# --- recode ------------------------------------------------------------------------------------

AGE_BANDS = {"0-4": "0-14", "5-9": "0-14", "10-14": "0-14", "15-19": "15-24", "20-24": "15-24"}


def test_five_age_bands_fold_into_two() -> None:
    bands = [("0-4", 1.0), ("5-9", 2.0), ("10-14", 3.0), ("15-19", 4.0), ("20-24", 5.0)]
    counts = parts(
        *({"breakdown": f"age={band};sex=F", "value": v} for band, v in bands),
        {"breakdown": "", "value": 15.0},
        {"breakdown": "age=unknown;sex=F", "value": 9.0},
    )
    out = recode(counts, "age", AGE_BANDS, aggregation="sum", multiplier=1)
    assert out.select("breakdown", "value", "how", "parts", "obs_ids").to_dicts() == [
        {"breakdown": "", "value": 15.0, "how": "", "parts": 1, "obs_ids": [6]},
        {"breakdown": "age=0-14;sex=F", "value": 6.0, "how": "recoded", "parts": 3, "obs_ids": [1, 3, 2]},
        {"breakdown": "age=15-24;sex=F", "value": 9.0, "how": "recoded", "parts": 2, "obs_ids": [4, 5]},
        {"breakdown": "age=unknown;sex=F", "value": 9.0, "how": "", "parts": 1, "obs_ids": [7]},
    ]


def test_recoded_rates_are_recomputed_and_an_absent_band_is_missing() -> None:
    rates = parts(
        {"breakdown": "age=0-4", "value": 10.0, "numerator": 1.0, "denominator": 10.0},
        {"breakdown": "age=5-9", "value": 90.0, "numerator": 90.0, "denominator": 100.0},
        {"breakdown": "age=10-14", "value": 50.0, "numerator": 5.0, "denominator": 10.0},
        {"breakdown": "age=15-19", "value": 50.0, "numerator": 5.0, "denominator": 10.0},
    )
    out = recode(rates, "age", AGE_BANDS, aggregation="ratio_of_sums", multiplier=100)
    young = one(out, breakdown="age=0-14")
    assert (young["numerator"], young["denominator"]) == (96.0, 120.0)
    assert young["value"] == pytest.approx(80.0)
    older = one(out, breakdown="age=15-24")
    assert (older["status"], older["reason"], older["missing_parts"]) == ("missing", "no figure for age=20-24", 1)


def test_a_target_that_is_also_a_stored_code_is_refused() -> None:
    counts = parts({"breakdown": "age=0-4", "value": 1.0}, {"breakdown": "age=0-14", "value": 5.0})
    with pytest.raises(ValueError, match="both stored and made by recoding age"):
        recode(counts, "age", {"0-4": "0-14"}, aggregation="sum", multiplier=1)


# --- scale and rounding ----------------------------------------------------------------------


def test_scale_multiplies_the_value_only() -> None:
    rates = parts({"value": 1234.0, "numerator": 5.0, "denominator": 10.0})
    scaled = rates.with_columns(scaled_rounded(0.001, 3, "half_up"))
    assert scaled.select("value", "numerator", "denominator").row(0) == (pytest.approx(1.234), 5.0, 10.0)
    assert_frame_equal(rates.with_columns(scaled_rounded(1, 0, "half_up")), rates)


def test_polars_rounds_halves_to_even_and_on_the_binary_float() -> None:
    """What this polars does, checked, so a change in it shows up here: the reason for our own rounding."""
    assert pl.Series([0.5, 1.5, 2.5, -2.5]).round(0).to_list() == [0.0, 2.0, 2.0, -2.0]
    # 1.005 is held as 1.00499999…, so even "half away from zero" gives 1.0 on the float.
    assert pl.Series([1.005]).round(2, mode="half_away_from_zero").to_list() == [1.0]


@pytest.mark.parametrize(
    ("value", "decimals", "half_up", "half_even"),
    [
        (0.5, 0, 1.0, 0.0),
        (1.5, 0, 2.0, 2.0),
        (2.5, 0, 3.0, 2.0),
        (-2.5, 0, -3.0, -2.0),
        (0.125, 2, 0.13, 0.12),
        (1.005, 2, 1.01, 1.0),
        (2.675, 2, 2.68, 2.68),
        (-0.125, 2, -0.13, -0.12),
        (0.12499, 2, 0.12, 0.12),
        (82.72727272727273, 1, 82.7, 82.7),
        (1e16 + 2, 2, 1e16 + 2, 1e16 + 2),
        (None, 2, None, None),
    ],
)
def test_both_rounding_rules(
    value: float | None, decimals: int, half_up: float | None, half_even: float | None
) -> None:
    cells = parts({"value": value})
    assert cells.with_columns(scaled_rounded(1, decimals, "half_up")).item(0, "value") == half_up
    assert cells.with_columns(scaled_rounded(1, decimals, "half_even")).item(0, "value") == half_even
    assert pl.select(round_half_up(pl.lit(value, dtype=pl.Float64), decimals)).item() == half_up


# --- suppression --------------------------------------------------------------------------------


def cells(*rows: tuple[str, str, float | None, float | None]) -> pl.DataFrame:
    """Return cells from (cell_id, statistic, value, numerator)."""
    frame = parts(*({"org_code": cell_id, "value": value, "numerator": num} for cell_id, _, value, num in rows))
    return frame.with_columns(
        cell_id=pl.Series([r[0] for r in rows]), statistic=pl.Series([r[1] for r in rows], dtype=pl.String)
    )


def test_primary_suppression_hides_small_counts_and_rates_on_small_numerators() -> None:
    table = cells(
        ("small", "count", 3.0, None),
        ("edge", "count", 5.0, None),
        ("big", "count", 17.0, None),
        ("zero", "count", 0.0, None),
        ("rate_small", "percentage", 40.0, 4.0),
        ("rate_big", "rate", 50.0, 50.0),
        ("mean", "mean", 3.0, None),
    )
    out = suppress(table, low=1, high=5, symbol="*", secondary=False)
    assert out.select("cell_id", "value", "hidden_value", "symbol", "status", "reason").to_dicts() == [
        {
            "cell_id": "small",
            "value": None,
            "hidden_value": 3.0,
            "symbol": "*",
            "status": "suppressed",
            "reason": "values from 1 to 5 are suppressed",
        },
        {
            "cell_id": "edge",
            "value": None,
            "hidden_value": 5.0,
            "symbol": "*",
            "status": "suppressed",
            "reason": "values from 1 to 5 are suppressed",
        },
        {"cell_id": "big", "value": 17.0, "hidden_value": None, "symbol": None, "status": "present", "reason": None},
        {"cell_id": "zero", "value": 0.0, "hidden_value": None, "symbol": None, "status": "present", "reason": None},
        {
            "cell_id": "rate_small",
            "value": None,
            "hidden_value": 40.0,
            "symbol": "*",
            "status": "suppressed",
            "reason": "values from 1 to 5 are suppressed",
        },
        {
            "cell_id": "rate_big",
            "value": 50.0,
            "hidden_value": None,
            "symbol": None,
            "status": "present",
            "reason": None,
        },
        {"cell_id": "mean", "value": 3.0, "hidden_value": None, "symbol": None, "status": "present", "reason": None},
    ]


def sex_groups(*members: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(members, schema={"cell_id": pl.String, "group_id": pl.String, "role": pl.String}, orient="row")


def test_secondary_suppression_hides_the_part_that_would_give_a_small_one_away() -> None:
    table = cells(("total", "count", 20.0, None), ("F", "count", 3.0, None), ("M", "count", 17.0, None))
    groups = sex_groups(("total", "sex", "total"), ("F", "sex", "part"), ("M", "sex", "part"))
    out = suppress(table, low=1, high=5, symbol="*", secondary=True, groups=groups)
    assert out.select("cell_id", "value", "hidden_value", "status", "reason").to_dicts() == [
        {"cell_id": "total", "value": 20.0, "hidden_value": None, "status": "present", "reason": None},
        {
            "cell_id": "F",
            "value": None,
            "hidden_value": 3.0,
            "status": "suppressed",
            "reason": "values from 1 to 5 are suppressed",
        },
        {
            "cell_id": "M",
            "value": None,
            "hidden_value": 17.0,
            "status": "suppressed",
            "reason": SECONDARY_REASON,
        },
    ]
    # The reason on the secondary cell never names the primary one (it would point at the small number).
    assert "F" not in SECONDARY_REASON.split()


def test_secondary_suppression_spreads_across_groups_that_share_cells() -> None:
    # Two rows (sexes) by two columns (areas), with row and column totals:
    #        a    b   | total
    #   F    3   10   | 13
    #   M    8   12   | 20
    #  tot  11   22   | 33
    values = {"Fa": 3.0, "Fb": 10.0, "Ma": 8.0, "Mb": 12.0, "F": 13.0, "M": 20.0, "a": 11.0, "b": 22.0, "T": 33.0}
    table = cells(*((cell_id, "count", v, None) for cell_id, v in values.items()))
    groups = sex_groups(
        ("F", "rowF", "total"),
        ("Fa", "rowF", "part"),
        ("Fb", "rowF", "part"),
        ("M", "rowM", "total"),
        ("Ma", "rowM", "part"),
        ("Mb", "rowM", "part"),
        ("a", "cola", "total"),
        ("Fa", "cola", "part"),
        ("Ma", "cola", "part"),
        ("b", "colb", "total"),
        ("Fb", "colb", "part"),
        ("Mb", "colb", "part"),
        ("T", "rowT", "total"),
        ("a", "rowT", "part"),
        ("b", "rowT", "part"),
        ("T", "colT", "total"),
        ("F", "colT", "part"),
        ("M", "colT", "part"),
    )
    out = suppress(table, low=1, high=5, symbol="*", secondary=True, groups=groups)
    hidden = set(out.filter(status="suppressed").get_column("cell_id"))
    # Fa forces Fb (row F) and Ma (column a); Fb forces Mb (column b); then every group has two.
    assert hidden == {"Fa", "Fb", "Ma", "Mb"}
    assert one(out, cell_id="Mb")["reason"] == SECONDARY_REASON
    assert not any("Fa" in str(r) or "Fb" in str(r) for r in out.get_column("reason").to_list())


@st.composite
def random_tables(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_cells = draw(st.integers(3, 14))
    values = draw(st.lists(st.integers(0, 30), min_size=n_cells, max_size=n_cells))
    cell_ids = [f"c{i:02d}" for i in range(n_cells)]
    members: list[tuple[str, str, str]] = []
    for g in range(draw(st.integers(1, 5))):
        chosen = draw(st.lists(st.sampled_from(cell_ids), min_size=3, max_size=min(6, n_cells), unique=True))
        members.append((chosen[0], f"g{g}", "total"))
        members += [(c, f"g{g}", "part") for c in chosen[1:]]
    table = cells(*((c, "count", float(v), None) for c, v in zip(cell_ids, values, strict=True)))
    return table, sex_groups(*members)


@settings(max_examples=150, deadline=None)
@given(random_tables())
def test_after_suppression_no_group_has_exactly_one_suppressed_cell(table: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    cells_, groups = table
    out = suppress(cells_, low=1, high=5, symbol="*", secondary=True, groups=groups)
    counts = (
        groups.join(out.select("cell_id", "status"), on="cell_id")
        .group_by("group_id")
        .agg(hidden=(pl.col("status") == "suppressed").sum())
    )
    assert counts.filter(pl.col("hidden") == 1).is_empty()
    # Nothing is lost: a suppressed cell keeps its value aside, the others keep theirs.
    kept = out.select(pl.coalesce("value", "hidden_value")).to_series()
    assert kept.to_list() == cells_.get_column("value").to_list()


# --- lineage --------------------------------------------------------------------------------------


def test_lineage_lists_every_stored_figure_once_with_its_share() -> None:
    # Two councils, three months, two age bands; C1 is split 60/40 between health areas, C2 lies in H1.
    rows = []
    for org in ("C1", "C2"):
        for m in (4, 5, 6):
            for band in ("0-4", "5-9"):
                rows.append({"org_code": org, "period": f"2024-{m:02d}", "breakdown": f"age={band}", "value": 1.0})
    stored = figures(*rows)
    weight_of = {("C1", "H1"): 0.6, ("C1", "H2"): 0.4, ("C2", "H1"): 1.0}
    quarterly = convert_period(
        as_parts(stored), Q1, period_type="month", time_basis="cumulative", aggregation="sum", multiplier=1
    )
    areas = roll_up(quarterly, links(*((f, t, w) for (f, t), w in weight_of.items())), aggregation="sum", multiplier=1)
    out = recode(areas, "age", {"0-4": "0-9", "5-9": "0-9"}, aggregation="sum", multiplier=1)
    assert out.select("org_code", "breakdown", "value", "how").to_dicts() == [
        {"org_code": "H1", "breakdown": "age=0-9", "value": pytest.approx(9.6), "how": "converted+apportioned+recoded"},
        {"org_code": "H2", "breakdown": "age=0-9", "value": pytest.approx(2.4), "how": "converted+apportioned+recoded"},
    ]
    for row in out.iter_rows(named=True):
        expected = {
            obs_id: weight_of[(org, row["org_code"])]
            for obs_id, org in stored.select("obs_id", "org_code").iter_rows()
            if (org, row["org_code"]) in weight_of
        }
        assert len(row["obs_ids"]) == len(set(row["obs_ids"])) == row["parts"]
        assert dict(zip(row["obs_ids"], row["weights"], strict=True)) == pytest.approx(expected)


def test_own_periods_gives_each_period_what_converting_it_alone_gives() -> None:
    # A history of three financial years, as a comparison works a rate out for each: counts, a withheld
    # figure, a figure with no value, a breakdown, and a second indicator, in no particular order.
    years = [financial_year(y) for y in (2022, 2023, 2024)]
    rows: list[dict[str, Any]] = []
    for i, year in enumerate(reversed(years)):
        for org in ("B", "A", "C"):
            rows.append({"org_code": org, "period": year.code, "value": float(i * 10 + len(rows))})
        rows.append({"org_code": "D", "period": year.code, "symbol": "c"})
        rows.append({"org_code": "A", "period": year.code, "breakdown": "sex=F", "value": 2.0})
        rows.append({"indicator_id": "other", "org_code": "A", "period": year.code, "value": 1.0})
    rows.append({"org_code": "E", "period": years[1].code})
    stored = parts(*rows)
    out = own_periods(stored)
    assert sorted(out) == sorted(y.code for y in years)
    for year in years:
        alone = convert_period(
            stored.filter(pl.col("period") == year.code),
            year,
            period_type="financial_year",
            time_basis="snapshot",
            aggregation="sum",
            multiplier=1,
        )
        assert_frame_equal(out[year.code], alone)
    with pytest.raises(ValueError, match="given twice"):
        own_periods(pl.concat([stored, stored.head(1)]))

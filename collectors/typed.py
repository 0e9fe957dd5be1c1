"""Figures a way in hands to the checks typed, numbers as numbers, rather than as a file's text cells: a council's
figures derived from its record-level return, a publisher's release. Each is held to the checks its way in's policy
names (``validate.Policy``), as an upload's rows are, and no number is written out as text to be read back."""

from __future__ import annotations

import polars as pl

from collectors.validate import EVERY_CHECK, Context, Policy, Validation, validate

#: A figure's columns, and the names the checks (and so their problems) give them.
_CHECKED_AS = {
    "file_row": "row",
    "indicator_id": "indicator",
    "org_code": "org",
    "period": "period",
    "breakdown": "breakdown",
    "value": "value",
    "numerator": "numerator",
    "denominator": "denominator",
    "status": "status",
    "note": "note",
    "symbol": "symbol",
    "flag": "flag",
}
#: The columns of figures handed to :func:`validate_figures`, numbers as numbers (``symbol`` and ``flag`` may be
#: left out: a figure with no symbol is a number or blank).
FIGURE_SCHEMA = {
    "indicator_id": pl.String,
    "org_code": pl.String,
    "period": pl.String,
    "breakdown": pl.String,
    "value": pl.Float64,
    "numerator": pl.Float64,
    "denominator": pl.Float64,
    "status": pl.String,
    "note": pl.String,
    "file_row": pl.Int64,
}


def validate_figures(figures: pl.DataFrame, ctx: Context, policy: Policy = EVERY_CHECK) -> Validation:
    """Check typed figures (``FIGURE_SCHEMA``, ``file_row`` numbering them) against the catalogue, the agency's
    duties and the figures they are compared with, as far as ``policy`` holds them; the numbers are taken as they
    are, a withheld figure by its symbol."""
    given = [c for c in _CHECKED_AS if c in figures.columns]
    numbers = figures.select(*(pl.col(c).alias(_CHECKED_AS[c]) for c in given))
    return validate(
        numbers.with_columns(pl.col(c).cast(pl.Float64) for c in ("value", "numerator", "denominator")),
        ctx,
        policy=policy,
    )

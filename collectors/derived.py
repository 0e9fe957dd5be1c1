"""Validation of figures a way in works out itself rather than reads from a file's cells (a council's figures
derived from its record-level return): handed over as figures, in the store's own columns, and held to every
check an upload's rows are."""

from __future__ import annotations

import polars as pl

from collectors.validate import Context, Validation, validate
from indicators.figures import KEY_TYPES, NUMBER_TYPES

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
}
#: The columns of figures handed to :func:`validate_figures`, numbers as numbers.
FIGURE_SCHEMA = {
    **KEY_TYPES,
    **NUMBER_TYPES,
    "status": pl.String,
    "note": pl.String,
    "file_row": pl.Int64,
}


def validate_figures(figures: pl.DataFrame, ctx: Context) -> Validation:
    """Check figures (``FIGURE_SCHEMA``, ``file_row`` numbering them from 1) against the catalogue, the agency's
    duties and the stored figures, as an upload's rows are checked; the numbers are taken as they are."""
    return validate(figures.select(pl.col(column).alias(name) for column, name in _CHECKED_AS.items()), ctx)

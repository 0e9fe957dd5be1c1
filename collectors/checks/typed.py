"""Figures a way in hands to the checks typed, numbers as numbers, rather than as a file's text cells: a council's
figures derived from its record-level return, a publisher's release. Each is held to the checks its way in's policy
names (``policy.Policy``), as a template's figures are, under the figures' own names, and no number is written out
as text to be read back."""

from __future__ import annotations

import re

import polars as pl

from collectors.checks.checked import Validation
from collectors.checks.figures import check_figures, in_file_terms
from collectors.checks.policy import EVERY_CHECK, Context, Policy
from collectors.checks.values import NUMBERS, parse_values
from indicators.published_query import figure_label

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
#: The parts of a figure the checks read (the schema's, and a withheld value's symbol and flag).
_PARTS = (*FIGURE_SCHEMA, "symbol", "flag")
#: What a file of figures calls the parts a problem is on, where it is not the part's own name: a problem on a
#: derived or published figure is named as one in a file of figures would be.
FIGURE_COLUMNS = {"indicator_id": "indicator", "org_code": "org"}


def validate_figures(
    figures: pl.DataFrame, ctx: Context, policy: Policy = EVERY_CHECK, *, columns: dict[str, str] | None = None
) -> Validation:
    """Check typed figures (``FIGURE_SCHEMA``, ``file_row`` numbering them) against the catalogue, the agency's
    duties and the figures they are compared with, as far as ``policy`` holds them; the numbers are taken as they
    are, a withheld figure by its symbol. ``columns`` says what the way in's file calls each part a problem is on
    (``FIGURE_COLUMNS`` unless given)."""
    given = figures.select(c for c in _PARTS if c in figures.columns)
    typed = parse_values(given.with_columns(pl.col(c).cast(pl.Float64) for c in NUMBERS))
    checked = check_figures(typed, ctx, policy)
    return in_file_terms(checked, rows_read=figures.height, columns=FIGURE_COLUMNS if columns is None else columns)


#: How a check's message names another figure it is about, by the number the figures were checked under.
ROW_MENTION = re.compile(r"\(row (\d+)\)")


def named_by_figure(problems: pl.DataFrame, figures: pl.DataFrame) -> pl.DataFrame:
    """Problems on figures no row of a file holds (derived from a council's records), each named by its figure
    (indicator, area, period and breakdown) where the checks numbered it: the problem's row left empty, its message
    opening with the figure, and another figure a message names (``(row 3)``) named the same way."""
    if problems.is_empty():
        return problems
    labels = {
        row: figure_label(indicator, org, period, breakdown)
        for row, indicator, org, period, breakdown in figures.select(
            "file_row", "indicator_id", "org_code", "period", "breakdown"
        ).iter_rows()
    }

    def said(message: str, row: int | None) -> str:
        text = ROW_MENTION.sub(lambda found: f"({labels.get(int(found[1]), found[0])})", message)
        return f"{labels[row]}: {text}" if row in labels else text

    named = [
        {**p, "message": said(p["message"], p["row"]), "row": None if p["row"] in labels else p["row"]}
        for p in problems.iter_rows(named=True)
    ]
    return pl.DataFrame(named, schema=problems.schema)


def rowless(result: Validation) -> Validation:
    """The accepted figures of ``result`` stored with no file row: a figure derived from a council's records is in
    no row of its files, so its provenance names the upload alone (``submission 29``, not ``submission 29 row 3``).
    A held figure keeps its number: the query that holds it is asked after by it."""
    result.accepted = result.accepted.with_columns(pl.lit(None, pl.Int64).alias("file_row"))
    return result

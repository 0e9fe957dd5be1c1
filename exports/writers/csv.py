"""Plain CSV export: one row per cell, exactly what a recipient sees, safe to open in a spreadsheet.

Every text cell goes through :func:`neutralise`, because organisation names, labels and reasons
come from uploads and catalogue files and a spreadsheet would run a cell such as
``=HYPERLINK(...)`` as a formula (DESIGN.md, "formula injection"). The file is UTF-8 without a
byte-order mark, RFC 4180 quoting and CRLF line ends.
"""

from __future__ import annotations

import polars as pl

from exports._common import csv_text, fields_by_code
from exports.built import BuiltReturn
from onereturn.spreadsheet import neutralise, neutralise_expr

__all__ = ["CSV_COLUMNS", "neutralise", "write_csv"]

#: Columns of the CSV export, in order.
CSV_COLUMNS: tuple[str, ...] = (
    "return_id",
    "period",
    "reference_date",
    "field_code",
    "field_label",
    "indicator_id",
    "org_code",
    "org_name",
    "breakdown",
    "value",
    "flag",
    "unit",
    "status",
    "reason",
)


def write_csv(built: BuiltReturn) -> bytes:
    """Write the return as CSV: a header row, then one row per cell in cell order."""
    labels = {code: info.label for code, info in fields_by_code(built).items()}
    label = pl.col("field_code").replace_strict(labels, default="", return_dtype=pl.String)
    # Every column made for all cells at once, then neutralised as each text cell was one by one.
    sources = (
        pl.lit(built.return_id, pl.String),
        pl.col("period"),
        pl.col("ref_date"),
        pl.col("field_code"),
        label,
        pl.col("indicator_id"),
        pl.col("org_code"),
        pl.col("org_name"),
        pl.col("breakdown"),
        pl.col("display"),
        pl.col("flag"),
        pl.col("unit"),
        pl.col("status"),
        pl.col("reason"),
    )
    rows = built.cells.select(
        neutralise_expr(source.fill_null("")).alias(name) for name, source in zip(CSV_COLUMNS, sources, strict=True)
    )
    return csv_text(rows)

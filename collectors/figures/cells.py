"""A template's first stage: its text cells read into typed figures, by the figures' own names.

Each row of the file becomes a figure at its ``file_row``; the indicator, org unit, period and breakdown cells
name it, and the value, numerator and denominator cells are read as numbers, each kept beside its text as written
(a cell that is no number is a type error the checks report, so one bad cell never hides another). What the file
holds besides is noted; a file without the columns a figure needs is refused whole.
"""

from __future__ import annotations

import polars as pl

from collectors.checks.checked import Validation, column_notes, empty_problems, refused
from collectors.checks.values import parse_values

REQUIRED = ("indicator", "org", "period", "value")
OPTIONAL = ("breakdown", "numerator", "denominator", "status", "note")
#: Beside figures given as numbers: a withheld value's symbol, and the low-reliability flag.
TYPED_MARKS = ("symbol", "flag")
#: The columns that hold a figure's numbers (and a typed figure's marks) or the template's own range of them
#: ("allowed", up to ten digits), never free text.
NUMBERS = ("value", "numerator", "denominator", "last_value", "allowed", *TYPED_MARKS)
#: Template columns that help the person filling it in; ignored on upload.
INFORMATIVE = ("title", "org_name", "unit", "allowed", "last_value")
#: Where in a template each part of a figure lies: the column of that name, but for these.
COLUMNS = {"file_row": "row", "indicator_id": "indicator", "org_code": "org"}


def missing_columns(raw: pl.DataFrame) -> Validation | None:
    """The file refused whole when it lacks a column every figure needs (None when it has them all)."""
    missing = [c for c in REQUIRED if c not in raw.columns]
    if not missing:
        return None
    columns = [c for c in raw.columns if c != "row"]
    found = ", ".join(columns)
    said = f"it has: {found}"
    if not set(columns) & {*REQUIRED, *OPTIONAL, *INFORMATIVE}:
        # No column of a file of figures: its first row may be a record of its own (a child's, say), not a header,
        # and is not written back into the report.
        said = f"none of its {len(columns):,} columns is one a file of figures has"
    report = column_notes(missing, "missing-column", "error", lambda c: f"the file has no {c!r} column ({said})")
    return refused(raw.height, report, "the file is missing required columns")


def typed_figures(raw: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The file's rows as typed figures (its text cells read as numbers), and the columns of it ignored."""
    # Figures handed over typed say a withheld value by its symbol (and flag) beside an empty number.
    marks = [c for c in TYPED_MARKS if c in raw.columns] if raw.schema["value"].is_numeric() else []
    ignored = [c for c in raw.columns if c not in ("row", *REQUIRED, *OPTIONAL, *INFORMATIVE, *marks)]
    df = raw.with_columns(pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in raw.columns)
    df = df.select("row", *REQUIRED, *OPTIONAL, *marks).rename({cell: part for part, cell in COLUMNS.items()})
    return parse_values(df), ignored


def ignored_notes(ignored: list[str]) -> pl.DataFrame:
    """A note on the header of each column of the file the service does not read."""
    if not ignored:
        return empty_problems()
    ignoring = "column {!r} is not one the service reads; it was ignored".format
    return column_notes(ignored, "ignored-column", "information", ignoring)


def formula_problems(unresolved: pl.DataFrame | None) -> pl.DataFrame:
    """An error on each cell (row, column) holding a formula with no saved result: its value is never guessed."""
    if unresolved is None or unresolved.is_empty():
        return empty_problems()
    return unresolved.select(
        pl.col("row").cast(pl.Int64),
        pl.col("column").cast(pl.String),
        pl.col("formula").cast(pl.String).alias("value"),
        pl.lit("formula-without-result", pl.String).alias("rule"),
        pl.lit("error", pl.String).alias("severity"),
        pl.format(
            "this cell holds the formula {} but no calculated result was saved with it, so its value is unknown; "
            "open the file in Excel (or paste the values) and save it again",
            pl.col("formula"),
        ).alias("message"),
    )

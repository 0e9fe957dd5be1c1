"""What checking a way in's figures found: every problem (file row, column, value, rule, severity, message) and the
figures that may be stored, as data, never an exception."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from collectors.checks.crosscheck import PROBLEM_SCHEMA


@dataclass
class Validation:
    """What validation found: every problem, and the figures that may be stored."""

    rows_read: int
    rows_blank: int
    problems: pl.DataFrame
    accepted: pl.DataFrame
    fatal: bool = False
    #: Figures a query holds back until a note explains them (same columns as accepted).
    held: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Why a fatal problem refused the whole file.
    reason: str = ""

    def _count(self, severity: str) -> int:
        return int((self.problems["severity"] == severity).sum())

    @property
    def error_count(self) -> int:
        """Count the errors."""
        return self._count("error")

    @property
    def query_count(self) -> int:
        """Count the queries."""
        return self._count("query")

    @property
    def information_count(self) -> int:
        """Count the information notices."""
        return self._count("information")

    @property
    def warning_count(self) -> int:
        """Count the problems that block no row: queries and information."""
        return self.query_count + self.information_count


def empty_problems() -> pl.DataFrame:
    """Return a problem table with no rows."""
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


def problem_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Build a problem table from dicts."""
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA) if rows else empty_problems()


#: A figure's numbers, each shown in a problem as its file wrote it.
_WRITTEN = {"value": "value_text", "numerator": "numerator_text", "denominator": "denominator_text"}


def found_on(
    figures: pl.DataFrame,
    mask: pl.Expr,
    column: str,
    rule: str,
    message: pl.Expr,
    severity: str = "error",
    value: pl.Expr | None = None,
) -> pl.DataFrame:
    """A problem on each figure ``mask`` picks, at its file row, in the figure's ``column`` (its number shown as
    written, unless ``value`` says what to show)."""
    shown = value if value is not None else pl.col(_WRITTEN.get(column, column))
    return figures.filter(mask).select(
        pl.col("file_row").cast(pl.Int64).alias("row"),
        pl.lit(column, pl.String).alias("column"),
        shown.cast(pl.String).alias("value"),
        pl.lit(rule, pl.String).alias("rule"),
        pl.lit(severity, pl.String).alias("severity"),
        message.cast(pl.String).alias("message"),
    )


def column_notes(columns: list[str], rule: str, severity: str, message: Callable[[str], str]) -> pl.DataFrame:
    """One problem on the header (row 1) for each column named."""
    rows: list[dict[str, object]] = [
        {"row": 1, "column": c, "value": None, "rule": rule, "severity": severity, "message": message(c)}
        for c in columns
    ]
    return problem_frame(rows)


def refused(rows_read: int, problems: pl.DataFrame, reason: str, rows_blank: int = 0) -> Validation:
    """A file refused whole: nothing accepted, ``reason`` saying why."""
    return Validation(
        rows_read=rows_read,
        rows_blank=rows_blank,
        problems=problems,
        accepted=pl.DataFrame(),
        fatal=True,
        reason=reason,
    )

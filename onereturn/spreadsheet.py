"""Neutralise formula injection in every CSV and XLSX cell the service writes: one helper, used everywhere.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and a tab
or carriage return can shift it into a place where it does (OWASP, "CSV Injection"). Text from
uploads, notes, labels and reasons may start so, so every text cell is prefixed with ``'``
when it does; a negative number stays a number, and the lone ``-`` (the statistical symbol for
nil) stays itself, since nothing follows it to run. CSV writers call :func:`neutralise`; XLSX
files are written with :class:`SafeWorkbook`, whose sheets apply it to every string cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

#: Characters that make a spreadsheet treat a cell as a formula (or split it, for tab and CR).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain negative number ("-12", "-3.5", "-1,234.5", "-1.2e-05"): data, not a formula.
_NEGATIVE_NUMBER = re.compile(r"-(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?(?:[eE][-+]?\d+)?")


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula, leaving negative numbers and a lone "-" alone."""
    if text.startswith(FORMULA_STARTS) and text != "-" and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def neutralise_expr(text: pl.Expr) -> pl.Expr:
    """:func:`neutralise` over a column of text at once, for writers that make their cells with polars."""
    runs = text.str.contains(r"^[=+\-@\t\r]") & (text != "-") & ~text.str.contains(f"^(?:{_NEGATIVE_NUMBER.pattern})$")
    return pl.when(runs).then(pl.lit("'") + text).otherwise(text)


def neutralise_row(cells: Iterable[Any]) -> list[Any]:
    """Neutralise every text cell of a CSV row; numbers and empty cells pass unchanged."""
    return [neutralise(c) if isinstance(c, str) else c for c in cells]


class SafeWorksheet(Worksheet):  # type: ignore[misc]
    """A worksheet whose every string cell, however written (write, write_row, write_string), is neutralised."""

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        return int(super()._write_string(row, col, neutralise(string), cell_format))


class SafeWorkbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """An xlsxwriter workbook whose sheets are SafeWorksheets and never turn a string into a formula or a link."""

    def __init__(self, filename: Any, options: dict[str, Any] | None = None) -> None:
        safe = {"strings_to_formulas": False, "strings_to_urls": False}
        super().__init__(filename, {**(options or {}), **safe})
        self.worksheet_class = SafeWorksheet

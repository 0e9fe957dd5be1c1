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
from math import isfinite
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import CellBlankTuple, CellNumberTuple, CellStringTuple, Worksheet

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


#: The numbers :meth:`SafeWorksheet.write_cells` writes itself (a bool or a fraction goes through XlsxWriter's own).
_PLAIN = (int, float)
#: A cell's named tuple made without the Python call its class's constructor is.
_new = tuple.__new__
#: The cells ``SafeWorksheet._write_rows`` writes itself.
_FAST = (CellStringTuple, CellNumberTuple, CellBlankTuple)
#: Column letters by column number, each made once (a cell's reference is its column's letters and its row).
_LETTERS: dict[int, str] = {}


def _letters(col: int) -> str:
    # A dict's get and setdefault: sheets written in several threads at once find the same letters.
    return _LETTERS.get(col) or _LETTERS.setdefault(col, xl_col_to_name(col))


class SafeWorksheet(Worksheet):  # type: ignore[misc]
    """A worksheet whose every string cell, however written (write, write_row, write_string), is neutralised.

    Its cells are also written faster than XlsxWriter's own, the same bytes: a row's cells at once
    (:meth:`write_cells`), and a styled text, number or empty cell as XML with one format string (``_write_rows``).
    """

    def _write_string(self, row: int, col: int, string: str, cell_format: Any = None) -> int:
        return int(super()._write_string(row, col, neutralise(string), cell_format))

    def write_cells(self, row: int, cells: list[tuple[int, Any, Any]]) -> None:
        """Write one row's cells, each ``(column, value, format)`` in column order: a text (neutralised), a finite
        number, or None for an empty cell with the format (none without one), as ``_write_string``,
        ``_write_number`` and ``_write_blank`` write them one by one: the row and its columns checked once, each text
        given its shared string in the same order."""
        if not cells:
            return
        # Outside the sheet: one by one, as XlsxWriter checks each (the row and its first and last columns tell).
        if self._check_dimensions(row, cells[0][0]) or self._check_dimensions(row, cells[-1][0]):
            for col, value, cell_format in cells:
                if isinstance(value, str):
                    self._write_string(row, col, value, cell_format)
                elif value is None:
                    self._write_blank(row, col, None, cell_format)
                else:
                    self._write_number(row, col, value, cell_format)
            return
        if self.constant_memory and row > self.previous_row:
            self._write_single_row(row)
        placed = self.table[row]
        shared = None if self.constant_memory else self.str_table._get_shared_string_index
        limit = self.xls_strmax // 2
        for col, value, cell_format in cells:
            kind = value.__class__
            if kind is str and len(value) <= limit:
                # Most texts need no neutralising (a symbol, a code, a name): told by their first character alone.
                text = neutralise(value) if value.startswith(FORMULA_STARTS) else value
                placed[col] = _new(CellStringTuple, (text if shared is None else shared(text), cell_format))
            elif value is None:
                if cell_format is not None:
                    placed[col] = _new(CellBlankTuple, (cell_format,))
            elif kind in _PLAIN and isfinite(value):
                placed[col] = _new(CellNumberTuple, (value, cell_format))
            # A text long enough to be cut, or a number that is not finite (or not a plain one): as XlsxWriter cuts,
            # refuses or turns each.
            elif isinstance(value, str):
                self._write_string(row, col, value, cell_format)
            else:
                self._write_number(row, col, value, cell_format)

    def _write_rows(self) -> None:
        # XlsxWriter's rows (a row with cells, or with attributes only), each styled number, shared text or empty
        # cell written here with one format string and each format's style index asked once; anything else (a cell
        # styled by its row or column, a formula, text in line), and a sheet with comments, by XlsxWriter itself.
        if self.comments:
            super()._write_rows()
            return
        self._calculate_spans()
        table, row_info, spans, write = self.table, self.row_info, self.row_spans, self.fh.write
        styles: dict[int, int] = {}
        inline = self.constant_memory
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            cells = table.get(row_num)
            info = row_info.get(row_num)
            if not cells:
                if info is not None:
                    self._write_empty_row(row_num, spans.get(row_num // 16), info)
                continue
            self._write_row(row_num, spans.get(row_num // 16), info)
            number = row_num + 1
            for col in sorted(cells):
                cell = cells[col]
                kind, style = cell.__class__, cell.format
                if style is None or kind not in _FAST or (inline and kind is CellStringTuple):
                    self._write_cell(row_num, col, cell)
                    continue
                xf = styles.get(id(style))
                if xf is None:
                    xf = styles[id(style)] = style._get_xf_index()
                letters = _LETTERS.get(col) or _letters(col)
                if kind is CellStringTuple:
                    write(f'<c r="{letters}{number}" s="{xf}" t="s"><v>{cell.string}</v></c>')
                elif kind is CellNumberTuple:
                    write(f'<c r="{letters}{number}" s="{xf}"><v>{cell.number:.16G}</v></c>')
                else:
                    write(f'<c r="{letters}{number}" s="{xf}"/>')
            write("</row>")

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        # One cell as ``_write_rows`` writes it (for a row XlsxWriter writes itself, in constant-memory mode).
        kind = cell.__class__
        if cell.format is None or kind not in _FAST or (kind is CellStringTuple and self.constant_memory):
            super()._write_cell(row, col, cell)
            return
        head = f'<c r="{_LETTERS.get(col) or _letters(col)}{row + 1}" s="{cell.format._get_xf_index()}"'
        if kind is CellStringTuple:
            self.fh.write(f'{head} t="s"><v>{cell.string}</v></c>')
        elif kind is CellNumberTuple:
            self.fh.write(f"{head}><v>{cell.number:.16G}</v></c>")
        else:
            self.fh.write(f"{head}/>")

    def _calculate_spans(self) -> None:
        # XlsxWriter's spans (the first and last column with a cell in each block of 16 rows), from each row's first
        # and last cell rather than every column of every row; with comments, its own.
        if self.comments or self.dim_rowmin is None:
            super()._calculate_spans()
            return
        spans: dict[int, str] = {}
        low: int | None = None
        high = 0
        for row_num in range(self.dim_rowmin, self.dim_rowmax + 1):
            placed = self.table.get(row_num)
            if placed:
                first, last = min(placed), max(placed)
                low, high = (first, last) if low is None else (min(low, first), max(high, last))
            if ((row_num + 1) % 16 == 0 or row_num == self.dim_rowmax) and low is not None:
                spans[row_num // 16] = f"{low + 1}:{high + 1}"
                low = None
        self.row_spans = spans


class SafeWorkbook(xlsxwriter.Workbook):  # type: ignore[misc]
    """An xlsxwriter workbook whose sheets are SafeWorksheets and never turn a string into a formula or a link."""

    def __init__(self, filename: Any, options: dict[str, Any] | None = None) -> None:
        safe = {"strings_to_formulas": False, "strings_to_urls": False}
        super().__init__(filename, {**(options or {}), **safe})
        self.worksheet_class = SafeWorksheet

"""Lists 1 and 2 of the area SEND inspection as a workbook: each list in the validator's layout, then their notes and
Data to Insight's findings. Written through :class:`onereturn.spreadsheet.SafeWorkbook`, so no text becomes a formula."""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date
from typing import Any

import polars as pl

from collectors.sen2.list1 import COLUMNS, List1
from collectors.sen2.list2 import COLUMNS as LIST2_COLUMNS
from collectors.sen2.list2 import List2
from onereturn.sheetrows import BulkWorksheet, Column
from onereturn.spreadsheet import SafeWorkbook

#: Day 0 of Excel's date numbers (as XlsxWriter counts them, its 1900 leap-year bug included for later dates).
EXCEL_EPOCH = date(1899, 12, 30)


def list1_workbook(
    built: List1, findings: list[dict[str, Any]], list2: List2 | None = None, findings2: Iterable[dict[str, Any]] = ()
) -> bytes:
    """The workbook's bytes: sheet ``List_1``, then ``List_2`` where it was built, then ``Notes``."""
    buffer = io.BytesIO()
    # Rows go to each sheet's XML as they are written (constant memory): the notes' thousands of findings too.
    book = SafeWorkbook(buffer, {"in_memory": True, "constant_memory": True})
    bold, dated = book.add_format({"bold": True}), book.add_format({"num_format": "dd/mm/yyyy"})
    _sheet(book, "List_1", COLUMNS, built.rows, bold, dated)
    if list2 is not None:
        _sheet(book, "List_2", LIST2_COLUMNS, list2.rows, bold, dated)
    notes = book.add_worksheet("Notes")
    lines = [f"List 1 as at {built.inspection_date:%d/%m/%Y}", "Read from: " + "; ".join(built.sources), *built.notes]
    lines += _findings(findings)
    if list2 is not None:
        lines += [
            "",
            "List 2 (SEN support) read from: " + "; ".join(list2.sources),
            *list2.notes,
            *_findings(findings2),
        ]
    for r, line in enumerate(lines):
        notes.write_string(r, 0, line)
    book.close()
    return buffer.getvalue()


def _findings(findings: Iterable[dict[str, Any]]) -> list[str]:
    listed = [f"{f['rule']} row {f['row']} ({f['column']}): {f['message']}" for f in findings]
    return [f"Data to Insight's rules: {len(listed)} finding(s)", *listed]


def _sheet(book: SafeWorkbook, name: str, columns: tuple[str, ...], rows: pl.DataFrame, bold: Any, dated: Any) -> None:
    """One list as a sheet: its headings, then each column's cells made at once as the sheet's XML (text neutralised
    as every text cell is), not a Python call per cell: a date as Excel's day number shown DD/MM/YYYY, a count or a
    percentage as a number, anything else as text."""
    sheet = book.add_worksheet(name, worksheet_class=BulkWorksheet)
    sheet.write_row(0, 0, columns, bold)
    dates = {c for c, kind in rows.schema.items() if kind == pl.Date}
    numbers = {c for c, kind in rows.schema.items() if kind.is_numeric()}
    frame = rows.select(
        (pl.col(c) - pl.lit(EXCEL_EPOCH)).dt.total_days().alias(c)
        if c in dates
        else pl.col(c)
        if c in numbers
        else pl.col(c).cast(pl.String)
        for c in rows.columns
    )
    kinds = [
        Column(c, "number", dated) if c in dates else Column(c, "number") if c in numbers else Column(c, "text")
        for c in frame.columns
    ]
    sheet.write_frame(1, frame, kinds)

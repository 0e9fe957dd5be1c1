"""List 1 of the area SEND inspection as a workbook: the list in the validator's layout, then its notes and Data to
Insight's findings. Written through :class:`onereturn.spreadsheet.SafeWorkbook`, so no text becomes a formula."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import polars as pl

from collectors.sen2.list1 import COLUMNS, List1
from onereturn.sheetrows import BulkWorksheet, Column
from onereturn.spreadsheet import SafeWorkbook

#: Day 0 of Excel's date numbers (as XlsxWriter counts them, its 1900 leap-year bug included for later dates).
EXCEL_EPOCH = date(1899, 12, 30)


def list1_workbook(built: List1, findings: list[dict[str, Any]]) -> bytes:
    """The workbook's bytes: sheet ``List_1``, then ``Notes``."""
    buffer = io.BytesIO()
    # Rows go to each sheet's XML as they are written (constant memory): the notes' thousands of findings too.
    book = SafeWorkbook(buffer, {"in_memory": True, "constant_memory": True})
    bold, dated = book.add_format({"bold": True}), book.add_format({"num_format": "dd/mm/yyyy"})
    sheet = book.add_worksheet("List_1", worksheet_class=BulkWorksheet)
    sheet.write_row(0, 0, COLUMNS, bold)
    # Each column's cells made at once as the sheet's XML (text neutralised as every text cell is), not a Python call
    # per cell: a date as Excel's day number shown DD/MM/YYYY, anything else as text.
    rows = built.rows
    dates = {name for name, kind in rows.schema.items() if kind == pl.Date}
    frame = rows.select(
        (pl.col(name) - pl.lit(EXCEL_EPOCH)).dt.total_days().alias(name)
        if name in dates
        else pl.col(name).cast(pl.String)
        for name in rows.columns
    )
    sheet.write_frame(
        1, frame, [Column(name, "number", dated) if name in dates else Column(name, "text") for name in frame.columns]
    )
    notes = book.add_worksheet("Notes")
    lines = [f"List 1 as at {built.inspection_date:%d/%m/%Y}", "Read from: " + "; ".join(built.sources), *built.notes]
    lines.append(f"Data to Insight's rules: {len(findings)} finding(s)")
    lines += [f"{f['rule']} row {f['row']} ({f['column']}): {f['message']}" for f in findings]
    for r, line in enumerate(lines):
        notes.write_string(r, 0, line)
    book.close()
    return buffer.getvalue()

"""List 1 of the area SEND inspection as a workbook: the list in the validator's layout, then its notes and Data to
Insight's findings. Written through :class:`onereturn.spreadsheet.SafeWorkbook`, so no text becomes a formula."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from collectors.sen2.list1 import COLUMNS, List1
from onereturn.spreadsheet import SafeWorkbook


def list1_workbook(built: List1, findings: list[dict[str, Any]]) -> bytes:
    """The workbook's bytes: sheet ``List_1``, then ``Notes``."""
    buffer = io.BytesIO()
    # Rows are written in order: constant memory writes each as it goes (a third of the time of holding the sheet).
    book = SafeWorkbook(buffer, {"in_memory": True, "constant_memory": True})
    bold, dated = book.add_format({"bold": True}), book.add_format({"num_format": "dd/mm/yyyy"})
    sheet = book.add_worksheet("List_1")
    sheet.write_row(0, 0, COLUMNS, bold)
    for r, row in enumerate(built.rows.iter_rows(), start=1):
        for c, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(r, c, value, dated)
            elif value is not None:
                sheet.write_string(r, c, str(value))
    notes = book.add_worksheet("Notes")
    lines = [f"List 1 as at {built.inspection_date:%d/%m/%Y}", "Read from: " + "; ".join(built.sources), *built.notes]
    lines.append(f"Data to Insight's rules: {len(findings)} finding(s)")
    lines += [f"{f['rule']} row {f['row']} ({f['column']}): {f['message']}" for f in findings]
    for r, line in enumerate(lines):
        notes.write_string(r, 0, line)
    book.close()
    return buffer.getvalue()

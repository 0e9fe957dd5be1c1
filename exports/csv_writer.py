"""Plain CSV export: one row per cell, exactly what a recipient sees, safe to open in a spreadsheet.

Every text cell goes through :func:`neutralise`, because organisation names, labels and reasons
come from uploads and catalogue files and a spreadsheet would run a cell such as
``=HYPERLINK(...)`` as a formula (DESIGN.md, "formula injection"). The file is UTF-8 without a
byte-order mark, RFC 4180 quoting and CRLF line ends.
"""

from __future__ import annotations

import csv
import io

from exports._common import cell_rows, fields_by_code
from exports.built import BuiltReturn
from onereturn.spreadsheet import neutralise

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
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for cell in cell_rows(built):
        row = (
            built.return_id,
            cell["period"],
            cell["ref_date"],
            cell["field_code"],
            labels.get(cell["field_code"] or "", ""),
            cell["indicator_id"],
            cell["org_code"],
            cell["org_name"],
            cell["breakdown"],
            cell["display"],
            cell["flag"],
            cell["unit"],
            cell["status"],
            cell["reason"],
        )
        writer.writerow([neutralise(text or "") for text in row])
    return buffer.getvalue().encode("utf-8")

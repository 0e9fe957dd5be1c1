"""Plain CSV export: one row per cell, exactly what a recipient sees, safe to open in a spreadsheet.

Every text cell goes through :func:`neutralise`, because organisation names, labels and reasons
come from uploads and catalogue files and a spreadsheet would run a cell such as
``=HYPERLINK(...)`` as a formula (DESIGN.md, "formula injection"). The file is UTF-8 without a
byte-order mark, RFC 4180 quoting and CRLF line ends.
"""

from __future__ import annotations

import csv
import io
import re

from exports._common import cell_rows, fields_by_code
from exports.model import BuiltReturn

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

#: Characters that make a spreadsheet treat a cell as a formula (or split it, for tab and CR).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A plain negative number as the builder spells it ("-12", "-3.5", "-1,234.5"). A leading "+" is
#: never a number we write, so "+1" is treated as a formula.
_NEGATIVE_NUMBER = re.compile(r"-(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?")


def neutralise(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula, leaving genuine negative numbers alone."""
    if text.startswith(_FORMULA_STARTS) and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


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

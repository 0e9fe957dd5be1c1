"""Turn an uploaded file (CSV, XLSX or JSON) into a table of text cells with each row's number in the file.

This is stage (a) of the two-stage upload parse (STYLE §2.1): nothing is typed here, so that the
validation that follows can report every bad cell with its row, column and value. Every cell is
``pl.String``, with surrounding whitespace stripped and empty cells null; rows in which every cell is
empty are dropped, but the others keep the row number they have in the file:

- CSV: the line number (header on line 1, so the first data row is 2). A quoted value spanning
  several lines is accepted; its row is the line on which the record starts.
- XLSX: the spreadsheet row number as Excel shows it, even with blank rows or a title above the header.
- JSON: the 1-based position of the item in the list.

The format is sniffed from the content (magic bytes); the file name only breaks ties. Each format has its
reader (``readcsv.py``, ``readxlsx.py``, ``readjson.py``); the table and what they share are in ``rawtable.py``.
"""

from __future__ import annotations

import polars as pl

from collectors.figures.rawtable import RawTable, check_file_type, sniff_format
from collectors.figures.readcsv import read_csv
from collectors.figures.readjson import read_json
from collectors.figures.readxlsx import check_xlsx_safety, read_xlsx
from onereturn.errors import InvalidInput, PayloadTooLarge


def read_table(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    max_rows: int = 2_000_000,
    max_uncompressed_bytes: int = 500 * 1024 * 1024,
) -> RawTable:
    """Read an upload into text cells plus the "row" number of each data row."""
    source_format = sniff_format(data, filename)
    if source_format == "csv":
        # Binary files and JSON are told apart by their content (with precise messages); other text by its name.
        check_file_type(filename, data)
    if source_format == "xlsx":
        check_xlsx_safety(data, max_uncompressed_bytes=max_uncompressed_bytes, max_rows=max_rows)
        frame, sheet_read, unresolved = read_xlsx(data, filename, sheet)
        table = RawTable(frame, "xlsx", sheet_read, None, None, unresolved)
    elif source_format == "csv":
        frame, encoding, delimiter = read_csv(data, filename)
        table = RawTable(frame, "csv", None, encoding, delimiter)
    else:
        table = RawTable(read_json(data, filename), "json", None, None, None)
    table = _without_nul(table)
    if table.frame.height == 0:
        raise InvalidInput(f'"{filename}" has no rows of figures; expected a header row and at least one data row')
    if table.frame.height > max_rows:
        raise PayloadTooLarge(f'"{filename}" has {table.frame.height} rows; the limit is {max_rows}')
    return table


def _without_nul(table: RawTable) -> RawTable:
    """Show a NUL character as U+FFFD, in a cell or a column's name (a JSON key): PostgreSQL refuses NUL in text, and
    the cell or column stays visibly wrong in the report."""
    frame = table.frame
    if any("\x00" in c for c in frame.columns):
        taken = set(frame.columns)
        renamed: dict[str, str] = {}
        for c in frame.columns:
            if "\x00" in c:
                shown = c.replace("\x00", "\ufffd")
                # Two names apart only by their NUL stay apart.
                while shown in taken:
                    shown += "\ufffd"
                taken.add(shown)
                renamed[c] = shown
        frame = frame.rename(renamed)
    texts = [c for c, t in frame.schema.items() if t == pl.String]
    if texts and frame.select(pl.any_horizontal(pl.col(texts).str.contains("\x00", literal=True).any())).item():
        frame = frame.with_columns(pl.col(c).str.replace_all("\x00", "\ufffd", literal=True) for c in texts)
    if frame is table.frame:
        return table
    return RawTable(frame, table.source_format, table.sheet, table.encoding, table.delimiter)

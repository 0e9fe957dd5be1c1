"""Annex A as Ofsted's workbook: a front sheet, then one sheet per list with the layout's headings in order.

Written with xlsxwriter through :class:`onereturn.spreadsheet.SafeWorkbook` (no text becomes a formula), each list's
rows made as the sheet's XML column by column (:class:`onereturn.sheetrows.BulkWorksheet`), dates as
dates shown DD/MM/YYYY ([G] Guidance: "The date should be recorded in a DD/MM/YYYY format"), codes as Ofsted's
preferred codes. Built in memory and returned as bytes: nothing is written to disk.
"""

from __future__ import annotations

import io
from datetime import date

import polars as pl

from collectors.annex_a.build import AnnexA, summary
from onereturn.sheetrows import BulkWorksheet, Column
from onereturn.spreadsheet import SafeWorkbook

#: How each list's sheet starts: the headings on the first row, as in the layout.
HEADER_ROW = 0
#: Day 0 of Excel's date numbers (as xlsxwriter counts them, its 1900 leap-year bug included for later dates).
EXCEL_EPOCH = date(1899, 12, 30)


def _front(book: SafeWorkbook, annex: AnnexA, bold: object, dated: object) -> None:
    """The front sheet: what this is, the inspection date, the sources, counts per list and the blank columns."""
    sheet = book.add_worksheet(annex.layout.front_sheet)
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 60)
    sheet.set_column(2, 2, 90)
    facts = summary(annex)
    row = 0
    sheet.write(row, 0, annex.layout.title, bold)
    row += 2
    sheet.write(row, 0, "Inspection date", bold)
    sheet.write_datetime(row, 1, annex.inspection_date, dated)
    row += 1
    sheet.write(row, 0, "Layout", bold)
    sheet.write(row, 1, f"{annex.layout.id} ({annex.layout.year}): {annex.layout.edition}")
    row += 1
    sheet.write(row, 0, "Sources (the marks in brackets)", bold)
    for source in annex.layout.sources:
        sheet.write(row, 1, source)
        row += 1
    row -= 1
    row += 2
    sheet.write(row, 0, "Built from", bold)
    for described in facts["sources"] or ["no CIN census or SSDA903 records held for this date"]:
        sheet.write(row, 1, described)
        row += 1
    row += 1
    sheet.write_row(
        row, 0, ["List", "Rows", "Columns the records fill", "From the SSD extract", "Keyed by the council"], bold
    )
    sheet.set_column(3, 4, 22)
    for item in facts["lists"]:
        row += 1
        sheet.write(row, 0, f"{item['sheet']}: {item['title']}")
        sheet.write_number(row, 1, item["rows"])
        sheet.write(row, 2, f"{len(item['filled'])} of {len(item['filled']) + len(item['not_held'])}")
        sheet.write_number(row, 3, len(item["ssd_filled"]))
        sheet.write_number(row, 4, len(item["council_filled"]))
    row += 2
    sheet.write_row(row, 0, ["Column no return holds", "List", "Filled from, or why blank"], bold)
    for item in facts["lists"]:
        for blank in item["not_held"]:
            row += 1
            said = (
                "the SSD extract"
                if blank["column"] in item["ssd_filled"]
                else "the council's columns file"
                if blank["column"] in item["council_filled"]
                else f"blank: {blank['why']}; fill it from the case-management system"
            )
            sheet.write_row(row, 0, [blank["column"], item["sheet"], said])
    row += 2
    sheet.write(row, 0, "Notes", bold)
    for note in facts["notes"]:
        sheet.write(row, 1, note)
        row += 1
    sheet.write(row + 1, 0, "How each list was read", bold)
    sheet.write(row + 1, 1, "Ofsted's definitions, and the choices made where its text leaves one: docs/annex_a.md")


def _cells(frame: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """The list's cells ready to write: each date as Excel's day number (shown DD/MM/YYYY by its format), worked out
    for the whole column at once rather than cell by cell."""
    serial = [
        (pl.col(name) - pl.lit(EXCEL_EPOCH)).dt.total_days().alias(name) if kind == "date" else pl.col(name)
        for name, kind in zip(frame.columns, kinds, strict=True)
    ]
    return frame.select(serial)


def workbook(annex: AnnexA) -> bytes:
    """The whole workbook as bytes: the front sheet, then Lists 1 to 11 under the layout's sheet names."""
    buffer = io.BytesIO()
    book = SafeWorkbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    dated = book.add_format({"num_format": "dd/mm/yyyy"})
    _front(book, annex, bold, dated)
    for item in annex.layout.lists:
        sheet = book.add_worksheet(item.sheet, worksheet_class=BulkWorksheet)
        sheet.write_row(HEADER_ROW, 0, [c.heading for c in item.columns], bold)
        sheet.freeze_panes(1, 0)
        kinds = [c.kind for c in item.columns]
        frame = _cells(annex.lists[item.number], kinds)
        # Each column's cells made at once as the sheet's XML (text neutralised as every text cell is), not a
        # Python call per cell: a date as its day number in the DD/MM/YYYY format, a whole number, or text.
        columns = [
            Column(name, "number", dated) if kind == "date" else Column(name, "number" if kind == "int" else "text")
            for name, kind in zip(frame.columns, kinds, strict=True)
        ]
        sheet.write_frame(HEADER_ROW + 1, frame, columns)
    book.close()
    return buffer.getvalue()

"""A frame's rows written as the sheet's XML read back as the same cells as XlsxWriter's own cell-by-cell writers
give, text neutralised and escaped the same way, and the sheet's extent counting them."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import polars as pl
import pytest

from onereturn.sheetrows import MAX_TEXT, BulkWorksheet, Column, rows_xml
from onereturn.spreadsheet import SafeWorkbook, neutralise, neutralise_expr

TEXTS = [
    "plain",
    '=HYPERLINK("http://x")',
    "+1",
    "-",
    "-12",
    "-1,234.5",
    "-1.2e-05",
    "-x",
    "@sum",
    "\tlead tab",
    "\rcr",
    "a & <b> > c",
    " leading space",
    "trailing space ",
    "ctl\x01char\x1f",
    "_x0041_ literal escape",
    "",
    None,
    "ünïcødé ✓",
    "line\nbreak",
]


def _frame() -> pl.DataFrame:
    n = len(TEXTS)
    return pl.DataFrame(
        {
            "text": TEXTS,
            "whole": [None if i % 4 == 0 else i * 1000 - 7 for i in range(n)],
            "day": [None if i % 5 == 0 else (date(2025, 3, 1) - date(1899, 12, 30)).days + i for i in range(n)],
            "ratio": [None if i % 3 == 0 else i / 8 for i in range(n)],
        }
    )


def _book(bulk: bool) -> bytes:
    buffer = io.BytesIO()
    # The cells one by one in constant-memory mode: text in line, as the frame's rows carry it.
    book = SafeWorkbook(buffer, {"in_memory": True} if bulk else {"constant_memory": True})
    dated = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet = book.add_worksheet("List", worksheet_class=BulkWorksheet if bulk else None)
    sheet.write_row(0, 0, ["Text", "Whole", "Day", "Ratio"])
    frame = _frame()
    if bulk:
        columns = [Column("text", "text"), Column("whole", "number"), Column("day", "number", dated)]
        sheet.write_frame(1, frame, [*columns, Column("ratio", "number")])
    else:
        for r, (text, whole, day, ratio) in enumerate(frame.iter_rows(), start=1):
            for c, value, style in ((0, text, None), (1, whole, None), (2, day, dated), (3, ratio, None)):
                if value is None:
                    continue
                if c == 0:
                    sheet._write_string(r, c, value, style)
                else:
                    sheet._write_number(r, c, value, style)
    book.close()
    return buffer.getvalue()


def _cells(data: bytes) -> tuple[str, list[list[tuple[object, str]]]]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["List"]
    return sheet.dimensions, [[(c.value, c.number_format) for c in row] for row in sheet.iter_rows()]


def test_a_frame_written_at_once_reads_back_as_the_cells_written_one_by_one() -> None:
    assert _cells(_book(bulk=True)) == _cells(_book(bulk=False))
    dimensions, rows = _cells(_book(bulk=True))
    assert dimensions == f"A1:D{len(TEXTS) + 1}"
    texts = [row[0][0] for row in rows[1:]]
    # Text a spreadsheet would run is neutralised; XML's own characters and white space come back as sent; a control
    # character is Excel's _xHHHH_ escape (which openpyxl leaves as it is), and a literal escape is escaped in turn.
    assert texts[1] == '\'=HYPERLINK("http://x")'
    assert texts[3] == "-"
    assert texts[4] == "-12"
    assert texts[7] == "'-x"
    assert texts[11] == "a & <b> > c"
    assert texts[12] == " leading space"
    assert texts[14] == "ctl_x0001_char_x001F_"
    assert texts[15] == "_x005F_x0041_ literal escape"
    assert texts[17] is None
    assert rows[2][2] == (datetime(2025, 3, 2), "dd/mm/yyyy")
    assert rows[2][1] == (993, "General")


def test_each_text_alone_is_written_as_it_is_beside_every_other() -> None:
    # A column's cells skip the steps nothing in the column needs (neutralising, cutting, escaping, keeping white
    # space): each text alone, in a column needing none of them but its own, gives the XML it gets among all of them
    # (a literal escape too, escaped in turn whether or not its column holds a control character).
    texts = list(TEXTS)
    texts += ["x" * (MAX_TEXT + 5), " " + "y" * MAX_TEXT, "=" + "z" * MAX_TEXT + " "]
    frame = pl.DataFrame({"text": texts})
    columns = [Column("text", "text")]
    together = rows_xml(frame, columns, 0)
    assert together.count("<row ") == len(texts) - 1  # no cell for None
    assert "".join(rows_xml(frame.slice(at, 1), columns, at) for at in range(len(texts))) == together


def test_neutralise_over_a_column_is_neutralise_on_each_text() -> None:
    texts = [t for t in TEXTS if t is not None] + ["-1.", "-1,23", "--1", "-0.5E+3", "=", "@", "a=b"]
    made = pl.DataFrame({"t": texts}).select(neutralise_expr(pl.col("t")).alias("t"))["t"].to_list()
    assert made == [neutralise(t) for t in texts]


def test_rows_written_at_once_refuse_overlap_and_cells_written_among_them() -> None:
    book = SafeWorkbook(io.BytesIO(), {"in_memory": True})
    sheet = book.add_worksheet("List", worksheet_class=BulkWorksheet)
    sheet.write_frame(1, _frame(), [Column("text", "text")])
    with pytest.raises(ValueError, match="overlap"):
        sheet.write_frame(len(TEXTS), _frame(), [Column("text", "text")])
    sheet.write_string(3, 0, "one by one")
    with pytest.raises(ValueError, match="written one by one at row 3"):
        book.close()


def test_in_constant_memory_mode_the_rows_go_to_the_sheet_between_the_cells_written_one_by_one() -> None:
    buffer = io.BytesIO()
    book = SafeWorkbook(buffer, {"constant_memory": True})
    sheet = book.add_worksheet("List", worksheet_class=BulkWorksheet)
    sheet.write_row(0, 0, ["Text", "Whole"])
    sheet.write_frame(1, _frame(), [Column("text", "text"), Column("whole", "number")])
    with pytest.raises(ValueError, match="overlap"):
        sheet.write_frame(len(TEXTS), _frame(), [Column("text", "text")])
    sheet.write_string(len(TEXTS) + 1, 0, "after")
    book.close()
    rows = list(openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["List"].iter_rows(values_only=True))
    assert rows[0] == ("Text", "Whole")
    assert rows[2] == ('\'=HYPERLINK("http://x")', 993)
    assert len(rows) == len(TEXTS) + 2
    assert rows[-1] == ("after", None)


def test_a_literal_escape_is_escaped_in_a_column_with_no_control_character() -> None:
    # XlsxWriter escapes Excel's own _xHHHH_ in every text it writes in line; Excel would otherwise read "_x0041_" as
    # "A". A column holding no control character is no exception.
    xml = rows_xml(pl.DataFrame({"text": ["_x0041_ literal", "plain"]}), [Column("text", "text")], 0)
    assert "<t>_x005F_x0041_ literal</t>" in xml
    assert "<t>plain</t>" in xml

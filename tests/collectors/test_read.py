"""Reading uploads into text cells with their row numbers: CSV, XLSX and JSON, and the files refused."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from collectors.figures.rawtable import normalise_header, sniff_format
from collectors.figures.read import read_table
from collectors.figures.readxlsx import check_xlsx_safety
from onereturn.errors import InvalidInput, PayloadTooLarge, UnsupportedFile

SPECIMENS = Path(__file__).parent / "specimens" / "read"


def expected(columns: dict[str, list[str | None]], rows: list[int]) -> pl.DataFrame:
    """Build the frame read_table should give: text columns, then the row numbers."""
    return pl.DataFrame(
        {**{name: pl.Series(values, dtype=pl.String) for name, values in columns.items()}, "row": rows},
        schema_overrides={"row": pl.Int64},
    )


def workbook(build: Callable[[Any], None]) -> bytes:
    """Make an .xlsx in memory; build receives the xlsxwriter Workbook."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    build(book)
    book.close()
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# --- header names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        (" Breakdown ", "breakdown"),
        ("Org Code", "org_code"),
        ("Org  -  Code", "org_code"),
        ("period-start", "period_start"),
        ("VALUE", "value"),
        ("numerator_2", "numerator_2"),
    ],
)
def test_normalise_header(name: str, normalised: str) -> None:
    assert normalise_header(name) == normalised


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_utf8_reads_every_cell_as_text_with_line_numbers() -> None:
    data = "Indicator, Org Code ,Value,Note\nKPI01,E06000010,12,Ångström café\nKPI02,E06000011,0012.50,\n".encode()
    table = read_table(data, "figures.csv")
    assert (table.source_format, table.encoding, table.delimiter, table.sheet) == ("csv", "utf-8", ",", None)
    assert_frame_equal(
        table.frame,
        expected(
            {
                "indicator": ["KPI01", "KPI02"],
                "org_code": ["E06000010", "E06000011"],
                "value": ["12", "0012.50"],
                "note": ["Ångström café", None],
            },
            [2, 3],
        ),
    )


def test_csv_utf8_with_bom_semicolons_crlf_and_a_blank_line() -> None:
    table = read_table((SPECIMENS / "bom_semicolon.csv").read_bytes(), "bom_semicolon.csv")
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ";")
    assert_frame_equal(
        table.frame,
        expected(
            {
                "indicator": ["KPI01", "KPI02"],
                "org_code": ["E06000010", "E06000011"],
                "value": ["12,5", "7"],
                "note": ["Kingston upon Hull; City of", None],
            },
            [2, 4],
        ),
    )


def test_csv_windows_1252() -> None:
    table = read_table((SPECIMENS / "cp1252.csv").read_bytes(), "cp1252.csv")
    assert table.encoding == "cp1252"
    assert table.frame.get_column("note").to_list() == ["Cost £120 per café visit", None]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_delimiter_is_sniffed_from_the_header(delimiter: str) -> None:
    lines = [["Indicator", "Value", "Note"], ["KPI01", "3", "a, b; c"], ["KPI02", "4", ""]]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(lines)
    table = read_table(buffer.getvalue().encode(), "figures.csv")
    assert table.delimiter == delimiter
    assert_frame_equal(
        table.frame,
        expected({"indicator": ["KPI01", "KPI02"], "value": ["3", "4"], "note": ["a, b; c", None]}, [2, 3]),
    )


def test_csv_quoted_commas_and_doubled_quotes() -> None:
    data = b'org,name\nE06000010,"Kingston upon Hull, City of"\nE1,"The ""Best"" Council"\n'
    assert read_table(data, "f.csv").frame.get_column("name").to_list() == [
        "Kingston upon Hull, City of",
        'The "Best" Council',
    ]


def test_csv_blank_rows_keep_the_real_line_numbers() -> None:
    # Line 1 and 2 blank, header on 3; blank, whitespace-only and delimiter-only lines are dropped.
    data = b"\n\r\nindicator,value\r\nKPI01,1\r\n\r\n   \r\nKPI02,2\r\n,\r\n , \r\nKPI03,3\r\n\r\n"
    assert_frame_equal(
        read_table(data, "f.csv").frame,
        expected({"indicator": ["KPI01", "KPI02", "KPI03"], "value": ["1", "2", "3"]}, [4, 7, 10]),
    )


def test_csv_strips_spaces_and_empty_cells_become_null() -> None:
    data = b"indicator,value,note\n  KPI01  , 12 ,   \nKPI02,\t3\t,x  \n"
    assert_frame_equal(
        read_table(data, "f.csv").frame,
        expected({"indicator": ["KPI01", "KPI02"], "value": ["12", "3"], "note": [None, "x"]}, [2, 3]),
    )


def test_csv_value_spanning_lines_numbers_rows_by_their_first_line() -> None:
    data = b'indicator,note\nKPI01,"first line\nsecond line"\nKPI02,plain\n\nKPI03,"a\n\nb"\nKPI04,x\n'
    assert_frame_equal(
        read_table(data, "f.csv").frame,
        expected(
            {
                "indicator": ["KPI01", "KPI02", "KPI03", "KPI04"],
                "note": ["first line\nsecond line", "plain", "a\n\nb", "x"],
            },
            [2, 4, 6, 9],
        ),
    )


def test_csv_ragged_row_names_its_line() -> None:
    data = b"indicator,value\nKPI01,1\n\nKPI02,1,234\nKPI03,3,4,5\n"
    with pytest.raises(InvalidInput) as caught:
        read_table(data, "f.csv")
    assert caught.value.message == (
        '"f.csv" line 4 has values past the last of the 2 columns of the header on line 1; '
        "a value containing a comma must be wrapped in double quotes"
    )


def test_csv_short_rows_are_padded_and_trailing_empty_fields_are_harmless() -> None:
    data = b"indicator,value,note,\nKPI01\nKPI02,2,x,,,\n"
    assert_frame_equal(
        read_table(data, "f.csv").frame,
        expected({"indicator": ["KPI01", "KPI02"], "value": [None, "2"], "note": [None, "x"]}, [2, 3]),
    )


def test_csv_duplicate_header_names_them() -> None:
    data = b"Indicator,Value,Org Code,value,org-code\nKPI01,1,E1,2,E2\n"
    with pytest.raises(InvalidInput) as caught:
        read_table(data, "f.csv")
    assert caught.value.message == (
        '"f.csv" header on line 1: duplicate column names in the header: "value" (columns 2 and 4); '
        '"org_code" (columns 3 and 5); each column name must appear once'
    )


def test_csv_column_with_values_but_no_header() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(b"indicator,,value\nKPI01,x,1\n", "f.csv")
    assert caught.value.message == (
        '"f.csv" header on line 1: column 2 has values but no name in the header; give every column with figures a header'
    )


def test_csv_row_is_a_reserved_column_name() -> None:
    with pytest.raises(InvalidInput, match='the column name "row" is reserved'):
        read_table(b"indicator,Row\nKPI01,1\n", "f.csv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", '"f.csv" is empty; expected a header row and at least one data row'),
        (b"\n \r\n\n", '"f.csv" is empty; expected a header row and at least one data row'),
        (b",,\n", '"f.csv" is empty; expected a header row and at least one data row'),
        (b"indicator,value\n", '"f.csv" has no rows of figures; expected a header row and at least one data row'),
        (b"indicator,value\n,\n\n", '"f.csv" has no rows of figures; expected a header row and at least one data row'),
    ],
)
def test_csv_empty_or_header_only_has_no_rows(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(data, "f.csv")
    assert caught.value.message == message


def test_csv_neither_utf8_nor_cp1252() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(b"indicator,value\nKPI01,\x81\n", "f.csv")
    assert caught.value.message == (
        '"f.csv" is neither UTF-8 nor Windows-1252 text (byte 22 is 0x81); save it as CSV UTF-8'
    )


def test_csv_bad_quoting_names_the_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(b'indicator,value\nKPI01,1\nKPI02,"2"x\n', "f.csv")
    assert caught.value.message.startswith("\"f.csv\" line 3: ',' expected after '\"'; ")


def test_row_limit() -> None:
    data = b"indicator\n" + b"KPI01\n" * 4
    assert read_table(data, "f.csv", max_rows=4).frame.height == 4
    with pytest.raises(PayloadTooLarge) as caught:
        read_table(data + b"\nKPI02\n", "f.csv", max_rows=4)
    assert caught.value.message == '"f.csv" has 5 rows; the limit is 4'
    assert caught.value.status_code == 413


_CELL = st.text(alphabet=st.sampled_from(list(" abcXYZ019.,;\"'-£é\n")), max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_CELL, _CELL, _CELL), min_size=1, max_size=12), st.sampled_from([",", ";", "\t"]))
def test_csv_round_trip_property(rows: list[tuple[str, str, str]], delimiter: str) -> None:
    """Any table of printable strings written as CSV reads back stripped, each row numbered by its first line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["Col A", "col-b", "COL C"])
    writer.writerows(rows)
    kept: list[tuple[int, list[str | None]]] = []
    line = 2
    for row in rows:
        cells = [v.strip() or None for v in row]
        if any(cells):
            kept.append((line, cells))
        line += 1 + sum(v.count("\n") for v in row)
    if not kept:
        with pytest.raises(InvalidInput, match="has no rows"):
            read_table(buffer.getvalue().encode(), "f.csv")
        return
    table = read_table(buffer.getvalue().encode(), "f.csv")
    columns = {name: [cells[i] for _, cells in kept] for i, name in enumerate(["col_a", "col_b", "col_c"])}
    assert_frame_equal(table.frame, expected(columns, [n for n, _ in kept]))


# --- XLSX ---------------------------------------------------------------------------------------


def _typed_cells(book: Any) -> None:
    sheet = book.add_worksheet("Figures")
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    stamp = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    clock = book.add_format({"num_format": "hh:mm"})
    sheet.write_row(0, 0, ["Indicator", "Value", "Period end", "Flag", "Code"])
    sheet.write_row(1, 0, ["whole", 12])
    sheet.write_datetime(1, 2, dt.datetime(2024, 3, 31), date)
    sheet.write_boolean(1, 3, True)
    sheet.write_string(1, 4, "007")
    sheet.write_row(2, 0, ["half", 12.5])
    sheet.write_datetime(2, 2, dt.datetime(2024, 3, 31, 13, 45), stamp)
    sheet.write_boolean(2, 3, False)
    sheet.write_string(2, 4, "12.50")
    # Row 4 left blank.
    sheet.write_row(4, 0, ["third", 1 / 3])
    sheet.write_datetime(4, 2, dt.time(13, 45), clock)
    sheet.write_formula(4, 3, "=1/0", None, "#DIV/0!")
    sheet.write_string(4, 4, "  padded  ")
    sheet.write(5, 0, "sum")
    sheet.write_formula(5, 1, "=0.1+0.2", None, 0.1 + 0.2)
    sheet.write_formula(5, 4, '="A"&"B"', None, "AB")
    sheet.write_row(6, 0, ["tiny", 1e-10])
    sheet.write_row(7, 0, ["big", 1.5e300, None, None, 9007199254740993])
    sheet.write_row(8, 0, ["negative", -3.0])


def test_xlsx_cells_become_text_as_typed() -> None:
    table = read_table(workbook(_typed_cells), "figures.xlsx")
    assert (table.source_format, table.sheet, table.encoding, table.delimiter) == ("xlsx", "Figures", None, None)
    assert_frame_equal(
        table.frame,
        expected(
            {
                "indicator": ["whole", "half", "third", "sum", "tiny", "big", "negative"],
                "value": ["12", "12.5", "0.3333333333333333", "0.30000000000000004", "1e-10", "1.5e+300", "-3"],
                "period_end": ["2024-03-31", "2024-03-31 13:45:00", "13:45:00", None, None, None, None],
                # An error cell (#DIV/0!) reads as empty: calamine gives no text for it.
                "flag": ["true", "false", None, None, None, None, None],
                "code": ["007", "12.50", "padded", "AB", None, "9007199254740992", None],
            },
            [2, 3, 5, 6, 7, 8, 9],
        ),
    )


def test_xlsx_title_rows_above_the_header_and_blank_rows() -> None:
    def build(book: Any) -> None:
        sheet = book.add_worksheet("Return")
        sheet.write(0, 0, "Performance return 2024-25")
        sheet.write(1, 0, "Prepared by: Hull City Council")
        sheet.write_row(3, 1, ["Indicator", "Value"])
        sheet.write_row(4, 1, ["KPI01", 1])
        sheet.write_row(7, 1, ["KPI02", 2])

    assert_frame_equal(
        read_table(workbook(build), "f.xlsx").frame,
        expected({"indicator": ["KPI01", "KPI02"], "value": ["1", "2"]}, [5, 8]),
    )


def test_xlsx_leading_blank_rows_without_an_indicator_column() -> None:
    def build(book: Any) -> None:
        sheet = book.add_worksheet()
        sheet.write_row(2, 2, ["Org", "Value"])
        sheet.write_row(3, 2, ["E1", 1])

    assert_frame_equal(read_table(workbook(build), "f.xlsx").frame, expected({"org": ["E1"], "value": ["1"]}, [4]))


def _many_sheets(book: Any) -> None:
    notes = book.add_worksheet("Notes")
    notes.write(0, 0, "Read me first")
    notes.write(1, 0, "nothing here")
    lists = book.add_worksheet("Lists")
    lists.write_row(0, 0, ["Indicator"])
    lists.write_row(1, 0, ["KPI99"])
    lists.hide()
    data = book.add_worksheet("Data 2024")
    data.write_row(0, 0, ["Indicator", "Value"])
    data.write_row(1, 0, ["KPI01", 5])
    other = book.add_worksheet("Other")
    other.write_row(0, 0, ["Indicator", "Value"])
    other.write_row(1, 0, ["KPI02", 6])


def test_xlsx_picks_the_first_visible_sheet_with_an_indicator_column() -> None:
    table = read_table(workbook(_many_sheets), "f.xlsx")
    assert table.sheet == "Data 2024"
    assert_frame_equal(table.frame, expected({"indicator": ["KPI01"], "value": ["5"]}, [2]))


def test_xlsx_named_sheet() -> None:
    table = read_table(workbook(_many_sheets), "f.xlsx", sheet="other")
    assert table.sheet == "Other"
    assert table.frame.get_column("indicator").to_list() == ["KPI02"]


def test_xlsx_prefers_a_sheet_called_figures() -> None:
    def build(book: Any) -> None:
        _many_sheets(book)
        figures = book.add_worksheet(" FIGURES ")
        figures.write_row(0, 0, ["Indicator", "Value"])
        figures.write_row(1, 0, ["KPI03", 7])

    table = read_table(workbook(build), "f.xlsx")
    assert table.sheet == " FIGURES "
    assert table.frame.get_column("indicator").to_list() == ["KPI03"]


def test_xlsx_falls_back_to_the_first_sheet() -> None:
    def build(book: Any) -> None:
        first = book.add_worksheet("One")
        first.write_row(0, 0, ["Org", "Value"])
        first.write_row(1, 0, ["E1", 1])
        book.add_worksheet("Two").write_row(0, 0, ["Something", "else"])

    table = read_table(workbook(build), "f.xlsx")
    assert (table.sheet, table.frame.columns) == ("One", ["org", "value", "row"])


def test_xlsx_unknown_sheet_lists_the_sheets() -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(workbook(_many_sheets), "f.xlsx", sheet="Figures")
    assert caught.value.message == (
        '"f.xlsx" has no sheet named "Figures"; its sheets are "Notes", "Lists", "Data 2024", "Other"'
    )


def test_xlsx_duplicate_header() -> None:
    def build(book: Any) -> None:
        sheet = book.add_worksheet("Figures")
        sheet.write(0, 0, "Title")
        sheet.write_row(1, 0, ["Indicator", "Value", "VALUE"])
        sheet.write_row(2, 0, ["KPI01", 1, 2])

    with pytest.raises(InvalidInput) as caught:
        read_table(workbook(build), "f.xlsx")
    assert caught.value.message == (
        '"f.xlsx" sheet "Figures", header on row 2: duplicate column names in the header: "value" (columns 2 and 3); '
        "each column name must appear once"
    )


def test_xlsx_sheet_with_no_rows() -> None:
    def build(book: Any) -> None:
        book.add_worksheet("Figures").write_row(0, 0, ["Indicator", "Value"])

    with pytest.raises(InvalidInput, match="has no rows of figures"):
        read_table(workbook(build), "f.xlsx")


def test_xlsm_is_refused() -> None:
    data = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"x"})
    with pytest.raises(UnsupportedFile) as caught:
        read_table(data, "figures.xlsx")
    assert caught.value.message == '"figures.xlsx": macro-enabled workbooks (.xlsm) are refused; save as .xlsx'
    assert caught.value.status_code == 415


def test_macro_enabled_content_type_is_refused() -> None:
    types = b'<Types><Override ContentType="application/vnd.ms-excel.sheet.macroEnabled.main+xml"/></Types>'
    data = zipped({"[Content_Types].xml": types, "xl/workbook.xml": b"<workbook/>"})
    with pytest.raises(UnsupportedFile, match="macro-enabled"):
        sniff_format(data, "f.xlsx")


def test_zip_that_is_not_a_workbook() -> None:
    with pytest.raises(UnsupportedFile) as caught:
        sniff_format(zipped({"word/document.xml": b"<doc/>"}), "letter.xlsx")
    assert caught.value.message == (
        '"letter.xlsx" is a ZIP archive but not an Excel workbook; expected CSV (.csv), Excel workbook (.xlsx) '
        "or JSON (.json); an .xlsx saved from Excel contains xl/workbook.xml"
    )


def test_damaged_zip() -> None:
    with pytest.raises(UnsupportedFile, match=r'^"f.xlsx" is damaged: it is not a readable ZIP archive'):
        read_table(b"PK\x03\x04" + b"\x00garbage" * 10, "f.xlsx")


def test_old_xls_is_refused() -> None:
    with pytest.raises(UnsupportedFile) as caught:
        read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "figures.xls")
    assert caught.value.message == (
        '"figures.xls" is an Excel 97-2003 workbook (.xls) or a password-protected workbook; '
        "save it as an Excel workbook (.xlsx) without a password, or as CSV UTF-8"
    )


def test_zip_bomb_is_refused() -> None:
    bomb = zipped({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\x00" * (50 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(UnsupportedFile) as caught:
        read_table(bomb, "f.xlsx")
    # The ratio depends on the zlib build, so only its shape is checked.
    assert re.fullmatch(
        r'The workbook part "xl/worksheets/sheet1.xml" unzips \d{3,4} times larger than it is stored '
        r"\(\d+ bytes inflated when it was stopped\); the limit is 100 times, so it looks like a ZIP bomb",
        caught.value.message,
    )


def test_workbook_larger_than_the_limit_unzipped() -> None:
    data = workbook(_typed_cells)
    total = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    check_xlsx_safety(data, max_uncompressed_bytes=total)
    with pytest.raises(UnsupportedFile) as caught:
        read_table(data, "f.xlsx", max_uncompressed_bytes=total - 1)
    assert caught.value.message == (
        f"The workbook unzips to more than {total - 1} bytes, the limit (remove unused sheets or formatting, or upload CSV)"
    )


# --- JSON ---------------------------------------------------------------------------------------


def test_json_figures_object() -> None:
    table = read_table((SPECIMENS / "figures.json").read_bytes(), "figures.json")
    assert (table.source_format, table.sheet, table.encoding, table.delimiter) == ("json", None, None, None)
    assert_frame_equal(
        table.frame,
        expected(
            {
                "indicator": ["KPI01", "KPI02", "KPI03"],
                "org_code": ["E06000010", "E06000011", "E06000012"],
                "value": ["12", "0.25", "7"],
                "note": [None, "provisional", None],
            },
            [1, 2, 4],
        ),
    )


def test_json_list_of_objects() -> None:
    data = b' \n[{"indicator": "KPI01", "value": 1e-7, "final": true}, {"value": "n/a", "other": 12345678901234567890}]'
    assert_frame_equal(
        read_table(data, "upload.json").frame,
        expected(
            {
                "indicator": ["KPI01", None],
                "value": ["1e-07", "n/a"],
                "final": ["true", None],
                "other": [None, "12345678901234567890"],
            },
            [1, 2],
        ),
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'[{"indicator": "KPI01"}, {"indicator": "KPI02", "value": {"n": 1}}]',
            '"f.json" item 2, key "value": the value is an object; expected a number, a string or null',
        ),
        (
            b'{"figures": [{"value": [1, 2]}]}',
            '"f.json" item 1, key "value": the value is a list; expected a number, a string or null',
        ),
        (b'[{"a": 1}, 7]', '"f.json" item 2 is a number; expected an object of key: value pairs'),
        (
            b'{"data": []}',
            '"f.json" must hold a list of objects, or an object with the key "figures" holding that list; '
            'found an object with the keys "data"',
        ),
        (
            b'"figures"',
            '"f.json" must hold a list of objects, or an object with the key "figures" holding that list; '
            "found a string",
        ),
        (
            b'[{"a": 1,}\n]',
            '"f.json" is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 10',
        ),
        (b'[{"a": NaN}]', '"f.json" is not valid JSON: NaN is not a number JSON allows; expected UTF-8 JSON'),
        (
            b'{"figures": {"a": 1}}',
            '"f.json" must hold a list of objects, or an object with the key "figures" holding that list; '
            "found an object",
        ),
        (b"[]", '"f.json" has no rows of figures; expected a header row and at least one data row'),
        (
            b'[{"Value": 1, "value": 2}]',
            '"f.json" item 1: keys that differ only in case, spaces or hyphens both read as "value"; use each key once',
        ),
        (b'[{"row": 1}]', '"f.json": the key "row" is reserved; rename it in every item'),
    ],
)
def test_json_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_table(data, "f.json")
    assert caught.value.message == message


# --- sniffing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "source_format"),
    [
        (b"indicator,value\n", "f.csv", "csv"),
        (b"indicator,value\n", "f.xlsx", "csv"),
        (b"\xef\xbb\xbf  [", "f.csv", "json"),
        (b"\n{", "f.txt", "json"),
        (b"indicator,value\n", "f.JSON", "json"),
        (b"", "f.json", "json"),
        (b"", "f.csv", "csv"),
    ],
)
def test_sniff_by_content_with_the_name_breaking_ties(data: bytes, filename: str, source_format: str) -> None:
    assert sniff_format(data, filename) == source_format


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            '"f.csv" is a PDF document; expected CSV (.csv), Excel workbook (.xlsx) or JSON (.json)',
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00",
            '"f.csv" is a PNG image; expected CSV (.csv), Excel workbook (.xlsx) or JSON (.json)',
        ),
        (
            b"indicator\x00value",
            '"f.csv" is a binary file, not text; expected CSV (.csv), Excel workbook (.xlsx) or JSON (.json)',
        ),
        (b"\xff\xfei\x00n\x00", '"f.csv" is UTF-16 text; save it as CSV UTF-8 (or UTF-8 JSON)'),
    ],
)
def test_other_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedFile) as caught:
        read_table(data, "f.csv")
    assert caught.value.message == message


def test_workbook_that_calamine_cannot_read() -> None:
    data = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<not closed"})
    with pytest.raises(UnsupportedFile, match=r'^"f.xlsx" could not be read as an Excel workbook: ') as caught:
        read_table(data, "f.xlsx")
    # The reader's own words, which can quote what it read, are not passed on.
    assert str(caught.value.__cause__) not in caught.value.message


def test_xlsx_empty_sheet() -> None:
    def build(book: Any) -> None:
        book.add_worksheet("Figures")

    with pytest.raises(InvalidInput) as caught:
        read_table(workbook(build), "f.xlsx")
    assert caught.value.message == (
        'Sheet "Figures" of "f.xlsx" is empty; expected a header row and at least one data row'
    )


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'[{"value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
        b'{"figures": [{"note": "[[[["}], "x": ' + b"{" * 50_000,
    ],
)
def test_deeply_nested_json_is_refused_before_parsing(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="nests brackets deeper than the limit of 32"):
        read_table(data, "f.json")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    data = b'[{"indicator": "KPI01", "note": "' + b"[{" * 1000 + b'\\" ]]"}]'
    assert read_table(data, "f.json").frame["note"].to_list() == ["[{" * 1000 + '" ]]']


def test_json_is_read_in_batches_with_row_numbers_across_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import collectors.figures.readjson as read

    monkeypatch.setattr(read, "JSON_BATCH", 3)
    items = [{"indicator": f"KPI{i:02}", "value": i} for i in range(1, 8)]
    items[5] = {"indicator": "KPI06", "extra": "late column"}
    frame = read_table(json.dumps({"meta": {"a": [1]}, "figures": items}).encode(), "f.json").frame
    assert frame.columns == ["indicator", "value", "extra", "row"]
    assert frame["row"].to_list() == list(range(1, 8))
    assert frame["extra"].to_list() == [None] * 5 + ["late column", None]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"a": 1}] x', "Extra data at line 1, column 12"),
        (b'[{"a": 1} {"a": 2}]', "Expecting ',' delimiter at line 1, column 11"),
        (b'{"figures": [], "figures": []}', 'has the key "figures" twice'),
        (b'{"meta": 1 "figures": []}', "Expecting ',' delimiter at line 1, column 12"),
    ],
)
def test_json_structure_errors_say_where(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        read_table(data, "f.json")


def _lie_about_sizes(data: bytes, declared: int) -> bytes:
    """Rewrite every member's declared uncompressed size (local header and central directory) to ``declared``."""
    out = bytearray(data)
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        out[info.header_offset + 22 : info.header_offset + 26] = declared.to_bytes(4, "little")
    central = out.find(b"PK\x01\x02")
    while central != -1:
        out[central + 24 : central + 28] = declared.to_bytes(4, "little")
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def test_a_zip_bomb_that_declares_small_sizes_is_stopped_by_the_bytes_inflated() -> None:
    sheet = b"<worksheet><sheetData>" + b"<!-- -->" * (13 * 1024 * 1024) + b"</sheetData></worksheet>"
    bomb = _lie_about_sizes(zipped({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": sheet}), 1000)
    assert sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(bomb)).infolist()) == 2000
    with pytest.raises(UnsupportedFile, match="looks like a ZIP bomb"):
        check_xlsx_safety(bomb, max_uncompressed_bytes=500 * 1024 * 1024)
    with pytest.raises(UnsupportedFile, match="unzips to more than 1000000 bytes"):
        check_xlsx_safety(bomb, max_uncompressed_bytes=1_000_000)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda book: book.add_worksheet("Figures").write(0, 70, "x"), "has cells past column BL"),
        (lambda book: [book.add_worksheet(f"S{i}") for i in range(65)], "has 65 sheets; the limit is 64"),
        (
            lambda book: (lambda s: (s.write(0, 0, "indicator"), s.write(500_000, 0, "x")))(
                book.add_worksheet("Figures")
            ),
            "has 2 rows spread down to row 500001",
        ),
    ],
)
def test_workbooks_too_wide_too_many_sheets_or_mostly_empty_are_refused(build: Any, message: str) -> None:
    with pytest.raises(UnsupportedFile, match=message):
        read_table(workbook(build), "f.xlsx")


def test_a_workbook_with_more_rows_than_allowed_is_refused_before_it_is_read() -> None:
    def rows(book: Any) -> None:
        sheet = book.add_worksheet("Figures")
        sheet.write_row(0, 0, ["indicator", "org", "period", "value"])
        for i in range(1, 60):
            sheet.write_row(i, 0, ["KPI01", "E06000010", "CY2024", i])

    with pytest.raises(PayloadTooLarge, match="reaches row 60; the limit is 30 rows"):
        read_table(workbook(rows), "f.xlsx", max_rows=30)


def test_nesting_hidden_behind_brackets_in_strings_is_still_refused() -> None:
    data = b'[{"note": "' + b"]" * 5000 + b'"}, ' + b"[" * 5000 + b"]" * 5000 + b"]"
    with pytest.raises(InvalidInput, match="nests brackets deeper than the limit of 32"):
        read_table(data, "f.json")


def test_xlsx_with_a_damaged_part_is_refused_not_failed() -> None:
    # Found by fuzzing: the cells read, but workbook.xml's checksum is wrong. The upload must be
    # refused with a clear error (415), never end as an unexpected processing failure.
    built = zipfile.ZipFile(
        io.BytesIO(workbook(lambda b: b.add_worksheet("Data").write_row(0, 0, ["indicator", "value"])))
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in built.namelist():
            archive.writestr(name, built.read(name))
    data = bytearray(buffer.getvalue())
    at = data.index(b"defaultThemeVersion")
    data[at + 7] = ord("X")  # an attribute no reader needs: only the CRC-32 no longer matches
    with pytest.raises(UnsupportedFile, match=r"damaged: a part of the workbook cannot be read \(a checksum"):
        read_table(bytes(data), "a.xlsx")


def test_xlsx_listing_no_sheets_is_refused_not_failed() -> None:
    # Found by fuzzing: a workbook whose sheet list is empty ended the upload as an unexpected failure.
    built = zipfile.ZipFile(io.BytesIO(workbook(lambda b: b.add_worksheet("Data").write_row(0, 0, ["indicator"]))))
    members = {name: built.read(name) for name in built.namelist()}
    members["xl/workbook.xml"] = re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", members["xl/workbook.xml"])
    with pytest.raises(UnsupportedFile, match="the workbook lists no sheets"):
        read_table(zipped(members), "a.xlsx")

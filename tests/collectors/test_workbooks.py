"""The return template (xlsx and CSV) and the upload report workbook, read back as an agency's Excel would see them."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
import pytest

from collectors.figures import reportworkbook
from collectors.figures.reportworkbook import ProblemCell, ReportRow, report_workbook
from collectors.figures.workbooks import (
    TEMPLATE_COLUMNS,
    TemplateInfo,
    TemplateRow,
    _number_formula,
    allowed_text,
    template_csv,
    template_xlsx,
)
from indicators.symbols import STATUSES, SYMBOLS
from onereturn.spreadsheet import neutralise

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
OFSTED = [("1", "Outstanding"), ("2", "Good"), ("3", "Requires improvement"), ("4", "Inadequate")]
CODELISTS = {"ofsted": OFSTED, "yes-no": [("Y", "Yes"), ("N", "No")]}


def make_row(**overrides: object) -> TemplateRow:
    """A percentage row with numerator and denominator; override any field."""
    fields: dict[str, object] = {
        "indicator": "CSC-CLA-PCT",
        "title": "Children looked after with 3+ placements",
        "org": "E09000001",
        "org_name": "City of London",
        "period": "2024-06",
        "breakdown": "",
        "unit": "%",
        "statistic": "percentage",
        "decimals": 1,
        "min_value": 0.0,
        "max_value": 100.0,
        "whole": False,
        "judgement_codelist": None,
        "ratio": True,
        "last_value": "12.5",
    }
    return TemplateRow(**(fields | overrides))  # type: ignore[arg-type]


COUNT = make_row(
    indicator="ASC-CLIENTS",
    title="Clients receiving long-term support",
    unit="people",
    statistic="count",
    decimals=0,
    max_value=None,
    whole=True,
    ratio=False,
    last_value=None,
    breakdown="sex=F",
    period="FY2024-25-Q1",
)
JUDGEMENT = make_row(
    indicator="OFSTED-CSC",
    title="Ofsted judgement",
    unit="",
    statistic="judgement",
    decimals=0,
    min_value=None,
    max_value=None,
    judgement_codelist="ofsted",
    ratio=False,
    last_value="2",
)
# Rows 2..6 of the sheet: percentage, count, judgement, percentage again (not next to the first), a signed gap.
ROWS = [
    make_row(),
    COUNT,
    JUDGEMENT,
    make_row(org="01234", org_name='=HYPERLINK("http://x")', breakdown="age=0-17", last_value=None),
    make_row(indicator="PAY-GAP", statistic="gap", unit="%", min_value=None, max_value=None, ratio=False),
]
INFO = TemplateInfo(
    agency_code="E09000001",
    agency_name="City of London Corporation",
    period="2024-06",
    generated_at=datetime(2024, 7, 1, 9, 30, tzinfo=UTC),
    catalogue_version="2024.3",
    codelists=CODELISTS,
)


@pytest.fixture(scope="module")
def template() -> bytes:
    """The template for ROWS, built once."""
    return template_xlsx(INFO, ROWS)


def read_part(book: bytes, name: str) -> str:
    """Read one part of an xlsx package as text."""
    with zipfile.ZipFile(io.BytesIO(book)) as z:
        return z.read(name).decode("utf-8")


def validations(book: bytes, sheet: str = "xl/worksheets/sheet2.xml") -> list[dict[str, str]]:
    """Each dataValidation of a sheet as its attributes plus formula1."""
    out = []
    for dv in ET.fromstring(read_part(book, sheet)).iterfind("m:dataValidations/m:dataValidation", NS):
        formula = dv.find("m:formula1", NS)
        out.append(dict(dv.attrib) | {"formula1": formula.text or "" if formula is not None else ""})
    return out


def validation_of(book: bytes, cell: str) -> dict[str, str]:
    """The one validation whose ranges cover a single-column cell such as J5."""
    col, row = re.fullmatch(r"([A-Z]+)(\d+)", cell).groups()  # type: ignore[union-attr]
    found = []
    for dv in validations(book):
        for part in dv["sqref"].split():
            first, _, last = part.partition(":")
            (c1, r1), (c2, r2) = (re.fullmatch(r"([A-Z]+)(\d+)", ref).groups() for ref in (first, last or first))  # type: ignore[union-attr]
            if c1 <= col <= c2 and int(r1) <= int(row) <= int(r2):
                found.append(dv)
    assert len(found) == 1, f"{cell} has {len(found)} validations"
    return found[0]


def defined_names(book: bytes) -> dict[str, str]:
    """Defined names of the workbook, name -> reference."""
    root = ET.fromstring(read_part(book, "xl/workbook.xml"))
    return {d.attrib["name"]: d.text or "" for d in root.iterfind("m:definedNames/m:definedName", NS)}


def comments(book: bytes) -> dict[str, str]:
    """Cell comments of the first sheet, cell reference -> text."""
    root = ET.fromstring(read_part(book, "xl/comments1.xml"))
    return {
        c.attrib["ref"]: "".join(t.text or "" for t in c.iter(f"{{{NS['m']}}}t"))
        for c in root.iter(f"{{{NS['m']}}}comment")
    }


# --------------------------------------------------------------------------------------------- allowed text


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (COUNT, "whole number, 0 or more, or a symbol x z c .. : -"),
        (make_row(ratio=False), "0 to 100, 1 decimal, or a symbol x z c .. : -"),
        (make_row(), "0 to 100, 1 decimal, or a symbol x z c .. : -; give numerator and denominator too"),
        (
            make_row(decimals=2, min_value=None, max_value=None, ratio=False),
            "any number, 2 decimals, or a symbol x z c .. : -",
        ),
        (
            make_row(decimals=0, min_value=None, max_value=5.5, ratio=False),
            "5.5 or less, rounded to a whole number, or a symbol x z c .. : -",
        ),
        (JUDGEMENT, "one of: 1 Outstanding, 2 Good, 3 Requires improvement, 4 Inadequate, or a symbol x z c .. : -"),
    ],
)
def test_allowed_text_says_what_the_value_may_be(row: TemplateRow, expected: str) -> None:
    assert allowed_text(row, CODELISTS) == expected


def test_unknown_code_list_is_named_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r'code list "nope".*\(ofsted, yes-no\)'):
        allowed_text(dataclasses.replace(JUDGEMENT, judgement_codelist="nope"), CODELISTS)


def test_unknown_statistic_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r'unknown statistic "ratio"; expected one of count, percentage'):
        template_csv([make_row(statistic="ratio")], CODELISTS)


# --------------------------------------------------------------------------------------------- template xlsx


def test_template_figures_round_trip_as_text(template: bytes) -> None:
    df = pl.read_excel(io.BytesIO(template), sheet_name="Figures", infer_schema_length=0)
    assert df.columns == list(TEMPLATE_COLUMNS)
    assert df.schema == dict.fromkeys(TEMPLATE_COLUMNS, pl.String)
    reference = [
        [
            r.indicator,
            r.title,
            r.org,
            neutralise(r.org_name),  # '=HYPERLINK(...)' gets a leading ' so it never runs
            r.period,
            r.breakdown or None,
            r.unit or None,
            allowed_text(r, CODELISTS),
            r.last_value,
        ]
        for r in ROWS
    ]
    blank_inputs = [None] * 5
    expected = pl.DataFrame([[*cells, *blank_inputs] for cells in reference], schema=df.schema, orient="row")
    assert df.equals(expected)
    assert df["period"].to_list()[:2] == ["2024-06", "FY2024-25-Q1"]
    assert df["breakdown"][1] == "sex=F"
    assert df["org"][3] == "01234"


def test_template_writes_untrusted_looking_text_as_text_not_formulas(template: bytes) -> None:
    assert "<f>" not in read_part(template, "xl/worksheets/sheet2.xml")


def test_template_sheets_in_order_with_lists_hidden(template: bytes) -> None:
    root = ET.fromstring(read_part(template, "xl/workbook.xml"))
    sheets = [(s.attrib["name"], s.attrib.get("state")) for s in root.iterfind("m:sheets/m:sheet", NS)]
    assert sheets == [("Instructions", None), ("Figures", None), ("Lists", "hidden")]


def test_template_defined_names_cover_codes_symbols_and_statuses(template: bytes) -> None:
    names = defined_names(template)
    assert names["list_ofsted"] == "Lists!$A$2:$A$5"
    assert names["list_ofsted_or_symbol"] == f"Lists!$A$2:$A${5 + len(SYMBOLS) - 1}"
    # "-" is not allowed in an Excel name.
    assert names["list_yes_no"] == "Lists!$B$2:$B$3"
    assert names["statuses"] == "Lists!$C$2:$C$4"
    lists = pl.read_excel(io.BytesIO(template), sheet_name="Lists", infer_schema_length=0)
    assert lists["ofsted"].to_list() == ["1", "2", "3", "4", "x", "z", "c", "..", ":", "-"]
    assert lists["status"].drop_nulls().to_list() == list(STATUSES)


def test_percentage_value_accepts_numbers_within_bounds_or_a_symbol(template: bytes) -> None:
    dv = validation_of(template, "J2")
    assert dv["type"] == "custom"
    formula = dv["formula1"]
    assert formula.startswith("OR(AND(ISNUMBER(J2),J2>=0,J2<=100)")
    assert 'RIGHT(J2,2)=" u"' in formula  # "12.5 u" is a value flagged as unreliable
    for symbol in ("x", "z", "c", "..", ":", "-"):
        assert f'J2="{symbol}"' in formula
    assert len(formula) <= 255
    assert dv["promptTitle"] == "Value"
    assert dv["prompt"] == "0 to 100, 1 decimal, or a symbol x z c .. : -"


def test_rows_with_the_same_rule_share_one_validation_even_when_apart(template: bytes) -> None:
    assert validation_of(template, "J2")["sqref"] == "J2 J5"
    assert validation_of(template, "J5") == validation_of(template, "J2")


def test_count_value_must_be_whole(template: bytes) -> None:
    formula = validation_of(template, "J3")["formula1"]
    # IFERROR: Excel's AND evaluates INT(J3) even for a symbol, and INT("x") is an error that would refuse it.
    assert formula.startswith("OR(IFERROR(AND(ISNUMBER(J3),J3>=0,INT(J3)=J3),FALSE),")
    assert "<=" not in formula.split("RIGHT")[0]  # no upper bound


def test_gap_without_bounds_accepts_any_number(template: bytes) -> None:
    formula = validation_of(template, "J6")["formula1"]
    assert formula.startswith("OR(AND(ISNUMBER(J6)),")


def test_judgement_value_is_a_list_from_its_defined_name(template: bytes) -> None:
    dv = validation_of(template, "J4")
    assert dv["type"] == "list"
    assert dv["formula1"] == "list_ofsted_or_symbol"
    assert "2 Good" in dv["prompt"]


def test_status_is_a_list_from_the_statuses_name(template: bytes) -> None:
    dv = validation_of(template, "M2")
    assert (dv["type"], dv["formula1"], dv["sqref"]) == ("list", "statuses", "M2:M6")


def test_numerator_and_denominator_checked_only_where_asked(template: bytes) -> None:
    numerator = validation_of(template, "K2")
    assert numerator["type"] == "custom"
    assert numerator["formula1"].startswith("OR(AND(ISNUMBER(K2),K2>=0)")
    assert validation_of(template, "L5")["formula1"].startswith("OR(AND(ISNUMBER(L2),L2>0)")
    not_needed = validation_of(template, "K3")
    assert "type" not in not_needed  # "any": only the input message
    assert not_needed["promptTitle"] == "Not needed"
    assert not_needed["sqref"] == "K3:K4 K6"


def test_figures_sheet_is_frozen_filtered_and_protected(template: bytes) -> None:
    sheet = read_part(template, "xl/worksheets/sheet2.xml")
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in sheet
    assert '<autoFilter ref="A1:N6"/>' in sheet
    assert "<sheetProtection" in sheet
    assert 'autoFilter="0"' in sheet  # filtering stays allowed on the protected sheet


def test_workbook_properties_name_agency_and_period(template: bytes) -> None:
    core = read_part(template, "docProps/core.xml")
    assert "<dc:title>onereturn template: City of London Corporation, 2024-06</dc:title>" in core
    assert "<dc:subject>City of London Corporation (E09000001), 2024-06</dc:subject>" in core


def test_instructions_list_every_symbol_and_status(template: bytes) -> None:
    text = pl.read_excel(io.BytesIO(template), sheet_name="Instructions", has_header=False, infer_schema_length=0)
    cells = {str(v) for column in text.iter_columns() for v in column.drop_nulls()}
    assert set(SYMBOLS) | set(SYMBOLS.values()) | set(STATUSES) <= cells
    assert "2024.3" in cells


def test_extreme_bounds_keep_the_formula_within_excel_limits() -> None:
    row = make_row(min_value=-123456789.123456, max_value=987654321.987654, whole=True, ratio=False)
    book = template_xlsx(INFO, [row] * 3)
    formula = validation_of(book, "J2")["formula1"]
    assert len(formula) <= 255
    assert formula.startswith(
        "OR(IFERROR(AND(ISNUMBER(J2),J2>=-123456789.123456,J2<=987654321.987654,INT(J2)=J2),FALSE)"
    )


def test_empty_template_still_opens() -> None:
    book = template_xlsx(INFO, [])
    df = pl.read_excel(io.BytesIO(book), sheet_name="Figures", infer_schema_length=0)
    assert df.columns == list(TEMPLATE_COLUMNS)
    assert df.height == 0


#: Rows whose rules alternate (a judgement every third row, a ratio every second): about 4,000 runs of one rule.
MANY = 6_000


def test_thousands_of_rows_stay_few_validations() -> None:
    rows = [
        make_row(org=f"E{i // 3:08d}", ratio=i % 2 == 0)
        if i % 3
        else dataclasses.replace(JUDGEMENT, org=f"E{i // 3:08d}")
        for i in range(MANY)
    ]
    book = template_xlsx(INFO, rows)
    # Excel drops every validation past about 60,000 per sheet; one per rule keeps it at a handful, however many
    # rows and runs (one validation a run would be thousands here, as it would be tens of thousands at 50,000 rows).
    assert len(validations(book)) <= 8
    df = pl.read_excel(io.BytesIO(book), sheet_name="Figures", infer_schema_length=0)
    assert df.height == MANY
    assert df["org"][-1] == f"E{(MANY - 1) // 3:08d}"


# --------------------------------------------------------------------------------------------- template csv


def test_csv_has_a_bom_and_the_same_cells_as_the_xlsx(template: bytes) -> None:
    data = template_csv(ROWS, CODELISTS)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(TEMPLATE_COLUMNS)
    xlsx = pl.read_excel(io.BytesIO(template), sheet_name="Figures", infer_schema_length=0)
    assert rows[1:] == [[cell or "" for cell in row] for row in xlsx.iter_rows()]
    assert all(row[9:] == ["", "", "", "", ""] for row in rows[1:])


# --------------------------------------------------------------------------------------------- report


HEADER = ["indicator", "org", "period", "Value", "note"]
CELLS: list[tuple[int, list[str | None]]] = [
    (2, ["CSC-CLA-PCT", "E09000001", "2024-06", "12.5", None]),
    (3, ["CSC-CLA-PCT", "E09000002", "2024-06", "abc", None]),
    # rows 4 and 5 were blank in the agency's file
    (6, ["CSC-CLA-PCT", "E09000003", "2024-06", "150", ""]),
    (7, ["OFSTED-CSC", "E09000003", "2024-06", '=HYPERLINK("http://evil")', None]),
    (8, ["CSC-CLA-PCT", "E09000004", "2024-06", None, None]),
]
PROBLEMS = [
    ProblemCell(3, "value", "abc", "number", "error", "abc is not a number (nor one of the symbols x z c .. : -)"),
    ProblemCell(6, "value", "150", "max_value", "error", "150 is above the maximum 100"),
    ProblemCell(6, "value", "150", "change", "query", "150 is 12 times last period's 12.5; add a note"),
    ProblemCell(6, "note", "", "note_needed", "query", "A note is needed for this big change"),
    ProblemCell(7, None, None, "duplicate", "error", "Row 7 repeats row 2"),
    ProblemCell(7, "breakdown", None, "unknown_breakdown", "query", "breakdown column missing"),
    ProblemCell(
        None, "status", None, "missing_column", "information", "No status column; every figure is taken as final"
    ),
]


@pytest.fixture(scope="module")
def report() -> bytes:
    """The report for CELLS and PROBLEMS, built once, with the template's rule on the percentage rows."""
    rows = [ReportRow(r, cells, ROWS[0] if cells[0] == "CSC-CLA-PCT" else None) for r, cells in CELLS]
    return report_workbook(HEADER, rows, PROBLEMS, codelists=CODELISTS, blank_rows=[8])


def test_report_keeps_the_upload_row_numbers(report: bytes) -> None:
    sheet = read_part(report, "xl/worksheets/sheet1.xml")
    assert re.findall(r'<row r="(\d+)"', sheet) == ["1", "2", "3", "6", "7", "8"]
    df = pl.read_excel(io.BytesIO(report), sheet_name="Figures", infer_schema_length=0, drop_empty_rows=False)
    assert df.columns == HEADER
    # Spreadsheet row 7 is the sixth row under the header; rows 4 and 5 stay blank; the hostile text is neutralised.
    assert df.row(5) == ("OFSTED-CSC", "E09000003", "2024-06", '\'=HYPERLINK("http://evil")', None)
    assert df.row(2) == (None,) * 5
    assert "<f>" not in sheet  # the agency's text never becomes a formula


def test_report_keeps_numbers_as_numbers(report: bytes) -> None:
    sheet = read_part(report, "xl/worksheets/sheet1.xml")
    # 12.5 and 150 are number cells (no t="s" / t="inlineStr"); "abc" stays text.
    assert re.search(r'<c r="D2"[^>]*><v>12.5</v>', sheet)
    assert re.search(r'<c r="D6"[^>]*><v>150</v>', sheet)
    assert re.search(r'<c r="D3"[^>]* t="(s|inlineStr|str)"', sheet)


def test_report_comments_sit_on_the_problem_cells(report: bytes) -> None:
    notes = comments(report)
    # "value" matches the upload's "Value" header regardless of case.
    assert notes["D3"] == "Error: abc is not a number (nor one of the symbols x z c .. : -)"
    assert notes["D6"] == "Error: 150 is above the maximum 100\nQuery: 150 is 12 times last period's 12.5; add a note"
    assert notes["E6"] == "Query: A note is needed for this big change"
    assert notes["A7"] == 'Error: Row 7 repeats row 2\nQuery (column "breakdown"): breakdown column missing'
    # The blank row is named on its value cell.
    assert notes["D8"].startswith("Information: This row was left blank")
    assert set(notes) == {"D3", "D6", "E6", "A7", "D8"}  # the whole-file problem has no cell


def test_report_fills_errors_red_and_queries_amber(report: bytes) -> None:
    sheet = read_part(report, "xl/worksheets/sheet1.xml")
    styles = read_part(report, "xl/styles.xml")
    fills: list[str] = re.findall(r'<fill><patternFill patternType="solid"><fgColor rgb="FF([0-9A-F]{6})"', styles)
    xfs = re.findall(r"<xf [^>]*?(?:fillId=\"(\d+)\")[^>]*?/?>", styles.split("<cellXfs")[1])

    def fill_of(cell: str) -> str:
        style = int(re.search(rf'<c r="{cell}" s="(\d+)"', sheet).group(1))  # type: ignore[union-attr]
        return fills[int(xfs[style]) - 2]

    assert fill_of("D3") == fill_of("D6") == fill_of("A7") == "FFC7CE"
    assert fill_of("E6") == "FFEB9C"
    assert fill_of("D8") == "DDEBF7"


def test_report_keeps_the_template_validation_and_instructions(report: bytes) -> None:
    found = validations(report, "xl/worksheets/sheet1.xml")
    percentage = [v for v in found if "D2" in v["sqref"].split()[0]]
    assert percentage, found
    # The percentage rows (2, 3, 6, 8) carry the template's own rule; the judgement row 7 has none here.
    assert percentage[0]["formula1"] == _number_formula("D2", 0.0, 100.0, False).lstrip("=")
    assert set(percentage[0]["sqref"].split()) == {"D2:D3", "D6", "D8"}
    instructions = pl.read_excel(io.BytesIO(report), sheet_name="Instructions", has_header=False)
    text = " ".join(str(v) for v in instructions.to_series(1).drop_nulls())
    assert "upload this workbook again" in text
    assert "3 query(ies)" in text


def test_report_problems_sheet_lists_every_problem(report: bytes) -> None:
    df = pl.read_excel(io.BytesIO(report), sheet_name="Problems", infer_schema_length=0)
    assert df.columns == ["row", "column", "value", "rule", "severity", "message"]
    assert df.height == len(PROBLEMS)
    assert df["rule"].to_list() == [p.rule for p in PROBLEMS]
    assert df["message"].to_list() == [p.message for p in PROBLEMS]
    assert df["row"].to_list()[-1] is None
    sheet = read_part(report, "xl/worksheets/sheet2.xml")
    assert 'state="frozen"' in sheet
    assert '<autoFilter ref="A1:F8"' in sheet


def test_report_comments_stop_at_the_cap_and_the_cells_stay_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    # A million-problem upload would hold a million comments in memory: past the cap, cells are coloured only.
    monkeypatch.setattr(reportworkbook, "MAX_COMMENTS", 2)
    rows = [ReportRow(r, cells, ROWS[0] if cells[0] == "CSC-CLA-PCT" else None) for r, cells in CELLS]
    book = report_workbook(HEADER, rows, PROBLEMS, codelists=CODELISTS, blank_rows=[8])
    assert set(comments(book)) == {"D3", "D6"}  # the first two marked cells, in sheet order
    sheet = read_part(book, "xl/worksheets/sheet1.xml")
    assert re.search(r'<c r="E6" s="\d+"', sheet)
    assert re.search(r'<c r="D8" s="\d+"', sheet)
    problems = pl.read_excel(io.BytesIO(book), sheet_name="Problems", infer_schema_length=0)
    assert problems.height == len(PROBLEMS)
    instructions = pl.read_excel(io.BytesIO(book), sheet_name="Instructions", has_header=False)
    text = " ".join(str(v) for v in instructions.to_series(1).drop_nulls())
    assert "The first 2 marked cells have a comment saying what is wrong; the other 3 are coloured only." in text


class _Once(reportworkbook.ProblemList):
    """A problem source that can be read once each way, as the database stream is."""

    def __init__(self, problems: list[ProblemCell]) -> None:
        super().__init__(problems)
        self.reads: list[str] = []

    def by_row(self) -> Iterator[ProblemCell]:
        self.reads.append("by_row")
        return iter(list(super().by_row()))

    def listed(self) -> Iterator[ProblemCell]:
        self.reads.append("listed")
        return iter(list(super().listed()))


def test_report_from_a_stream_equals_the_report_from_a_list(report: bytes) -> None:
    source = _Once(PROBLEMS)
    rows = [ReportRow(r, cells, ROWS[0] if cells[0] == "CSC-CLA-PCT" else None) for r, cells in CELLS]
    book = report_workbook(HEADER, rows, source, codelists=CODELISTS, blank_rows=[8])
    assert source.reads == ["by_row", "listed"]
    parts = {n for n in zipfile.ZipFile(io.BytesIO(book)).namelist() if n != "docProps/core.xml"}
    for name in parts:
        assert read_part(book, name) == read_part(report, name), name


def test_report_without_problems_keeps_a_header() -> None:
    book = report_workbook(HEADER, CELLS[:1], [])
    df = pl.read_excel(io.BytesIO(book), sheet_name="Problems", infer_schema_length=0)
    assert df.columns == ["row", "column", "value", "rule", "severity", "message"]
    assert df.height == 0


def test_report_rejects_a_data_row_on_the_header_row() -> None:
    with pytest.raises(ValueError, match="row number 1 is outside the sheet's rows 2 to"):
        report_workbook(HEADER, [(1, ["x"])], [])

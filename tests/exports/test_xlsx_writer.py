"""XLSX export: sheets, values and their formats, frozen headers, and byte-identical output."""

from __future__ import annotations

import dataclasses
import io
import re
import tracemalloc
import xml.etree.ElementTree as ET
import zipfile
from datetime import datetime, timedelta, timezone
from typing import Any

import openpyxl
import openpyxl.utils
import polars as pl
import pytest

from exports.built import FieldInfo
from exports.disclosure import SUPPRESSED_LINEAGE
from exports.writers import xlsx as xlsx_writer
from exports.writers.xlsx import write_xlsx
from tests.exports.writer_samples import CELLS, FIELDS, LAYOUTS, LINEAGE, make_built

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
SHEETS = ["Cover", "Data", "Definitions", "Lineage"]


def _read(data: bytes, sheet: str, *, has_header: bool = True) -> pl.DataFrame:
    frame = pl.read_excel(io.BytesIO(data), sheet_name=sheet, infer_schema_length=0, has_header=has_header)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _sheet_xml(data: bytes, sheet: str) -> ET.Element:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return ET.fromstring(z.read(f"xl/worksheets/sheet{SHEETS.index(sheet) + 1}.xml"))


class _Styles:
    """The number format and fill of each cell style index, read from xl/styles.xml."""

    def __init__(self, data: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            root = ET.fromstring(z.read("xl/styles.xml"))
        custom = {int(n.get("numFmtId", "0")): n.get("formatCode", "") for n in root.iterfind("m:numFmts/m:numFmt", NS)}
        fills = [f.find("m:patternFill/m:fgColor", NS) for f in root.iterfind("m:fills/m:fill", NS)]
        self.formats: list[tuple[str, str]] = []
        for xf in root.iterfind("m:cellXfs/m:xf", NS):
            num = int(xf.get("numFmtId", "0"))
            fill = fills[int(xf.get("fillId", "0"))]
            self.formats.append(
                (
                    custom.get(num, {0: "General", 1: "0"}.get(num, str(num))),
                    "" if fill is None else fill.get("rgb", ""),
                )
            )

    def of(self, sheet: ET.Element, ref: str) -> tuple[str, str]:
        """Return (number format, fill colour) of the cell at ``ref``."""
        cell = sheet.find(f".//m:c[@r='{ref}']", NS)
        assert cell is not None, ref
        return self.formats[int(cell.get("s", "0"))]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_sheets_in_order(layout: str) -> None:
    data = write_xlsx(make_built(layout=layout))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook = ET.fromstring(z.read("xl/workbook.xml"))
    assert [s.get("name") for s in workbook.iterfind("m:sheets/m:sheet", NS)] == SHEETS


@pytest.mark.parametrize("layout", LAYOUTS)
def test_cover_describes_the_return(layout: str) -> None:
    built = make_built(layout=layout)
    cover = _read(write_xlsx(built), "Cover", has_header=False)
    pairs = {row[0]: row[1] for row in cover.iter_rows()}
    assert cover.row(0)[0] == built.title
    assert pairs["Return id"] == "county_cyp_core"
    assert pairs["Recipient"] == built.recipient
    assert pairs["Period"] == "FY2024-25-Q1"
    assert pairs["Geography level"] == "upper_tier_la"
    assert pairs["Generated at"] == "2024-07-31T09:30:00+00:00"
    assert pairs["Catalogue version"] == "sha256:abc123"
    assert pairs["Suppression rule"] == built.suppression
    assert pairs["Completeness"] == "9 cells"
    assert {k.strip(): v for k, v in pairs.items() if k.startswith("  ")} == {
        "present": "6",
        "suppressed": "1",
        "missing": "1",
        "not_available": "1",
    }
    assert float(pairs["% complete"]) == pytest.approx(7 / 9)
    assert "Lineage sheet" in pairs["How to trace a cell"]
    # The key: each symbol on its own row, described separately.
    assert pairs[".."].startswith("not yet available")
    assert pairs["x"].startswith("not available")
    assert pairs["z"].startswith("not applicable")
    assert pairs["c"].startswith("confidential")
    assert pairs["u"].startswith("low reliability")
    assert len({pairs[s] for s in ("..", "x", "z", "c", "u", "p", "low")}) == 7


def test_list_layout_one_row_per_cell() -> None:
    data = write_xlsx(make_built(layout="list"))
    frame = _read(data, "Data")
    assert frame.columns == [
        "Field code",
        "Field label",
        "Org code",
        "Org name",
        "Period",
        "Reference date",
        "Breakdown",
        "Value",
        "Unit",
        "Status",
        "Reason",
        "Cell id",
    ]
    assert frame["Cell id"].to_list() == [c["cell_id"] for c in CELLS]
    assert frame["Value"].to_list() == ["61.5", "58", "*", "70.2", "-3.5", "..", "1204", "x", "87"]
    assert frame["Status"].to_list() == [c["status"] for c in CELLS]
    assert frame["Field label"].to_list()[-1] == "Children in need referrals"

    sheet = _sheet_xml(data, "Data")
    styles = _Styles(data)
    assert styles.of(sheet, "H2") == ("0.0", "")  # 1 decimal
    assert styles.of(sheet, "H8") == ("0", "")  # 0 decimals
    suppressed, missing, not_available = styles.of(sheet, "H4"), styles.of(sheet, "H7"), styles.of(sheet, "H9")
    assert missing[1] == "FFD9D9D9"  # grey fill
    assert suppressed[1] not in ("", missing[1])
    assert not_available[1] not in ("", missing[1], suppressed[1])
    # Numbers are numbers (no t), the suppressed symbol is text, missing shows its ".." as text (in line: t="inlineStr").
    assert sheet.find(".//m:c[@r='H2']", NS).get("t") is None  # type: ignore[union-attr]
    assert sheet.find(".//m:c[@r='H4']", NS).get("t") == "inlineStr"  # type: ignore[union-attr]
    assert sheet.find(".//m:c[@r='H7']", NS).get("t") == "inlineStr"  # type: ignore[union-attr]

    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", NS)
    assert pane is not None
    assert (pane.get("ySplit"), pane.get("topLeftCell"), pane.get("state")) == ("1", "A2", "frozen")
    autofilter = sheet.find("m:autoFilter", NS)
    assert autofilter is not None
    assert autofilter.get("ref") == "A1:L10"


def test_grid_layout_orgs_down_fields_across() -> None:
    data = write_xlsx(make_built(layout="grid"))
    frame = _read(data, "Data")
    label = "Care leavers aged 19-21 in education, employment or training"
    assert frame.columns == [
        "Org code",
        "Org name",
        f"1.01: {label}",
        f"1.01: {label} [sex=F]",
        "NI 148: Children in need referrals",
    ]
    assert frame.rows() == [
        ("E10000024", "Nottinghamshire", "61.5", "58", "1204"),
        ("E06000018", "Nottingham", "*", "70.2", "x"),
        ("E10000007", "Derbyshire", "-3.5", "..", "87"),
    ]
    sheet = _sheet_xml(data, "Data")
    styles = _Styles(data)
    assert styles.of(sheet, "C2") == ("0.0", "")
    assert styles.of(sheet, "E2") == ("0", "")
    assert styles.of(sheet, "D4")[1] == "FFD9D9D9"  # the missing cell
    pane = sheet.find("m:sheetViews/m:sheetView/m:pane", NS)
    assert pane is not None
    assert (pane.get("xSplit"), pane.get("ySplit"), pane.get("topLeftCell"), pane.get("state")) == (
        "2",
        "1",
        "C2",
        "frozen",
    )


def test_grid_shows_an_absent_org_field_pair_as_missing_not_zero() -> None:
    data = write_xlsx(make_built(layout="grid", cells=[CELLS[0], CELLS[8]]))
    frame = _read(data, "Data")
    assert frame.rows() == [("E10000024", "Nottinghamshire", "61.5", None), ("E10000007", "Derbyshire", None, "87")]


def _openpyxl_cells(data: bytes) -> dict[str, Any]:
    """The Data sheet's cells by coordinate, as openpyxl reads them (value, number format, fill, font)."""
    sheet = openpyxl.load_workbook(io.BytesIO(data))["Data"]
    return {
        c.coordinate: (
            c.value,
            c.number_format,
            c.fill.fgColor.rgb,
            c.font.color.rgb if c.font.color else None,
            c.font.i,
        )
        for row in sheet.iter_rows()
        for c in row
    }


def test_every_grid_cell_shows_what_the_list_shows_for_the_same_cell() -> None:
    """Each place of the grid holds the Value cell the list layout writes for the same cell, in value and style
    (flags in the number format, NaN and infinities shown as nothing, -0.0 as 0); a place given twice shows the
    last cell given for it; a place no cell fills is a grey blank."""
    cells = [
        *CELLS,
        _cell_like(CELLS[0], value=float("nan"), display="", breakdown="sex=M"),
        _cell_like(CELLS[6], org_code="E10000007", value=-0.0, display="0", flag="p", status="present"),
        _cell_like(CELLS[4], value=float("inf"), display="", org_code="E06000018", breakdown="sex=M"),
        _cell_like(CELLS[1], value=12.25, display="12.3", flag="u"),
    ]
    listed = _openpyxl_cells(write_xlsx(make_built(layout="list", cells=cells)))
    grid = _openpyxl_cells(write_xlsx(make_built(layout="grid", cells=cells)))
    orgs = list(dict.fromkeys(c["org_code"] for c in cells))
    places = list(dict.fromkeys((c["field_code"], c["breakdown"]) for c in cells))
    last = {(c["org_code"], c["field_code"], c["breakdown"]): i for i, c in enumerate(cells)}
    for r, org in enumerate(orgs, start=2):
        for col, (field, breakdown) in enumerate(places, start=3):
            at = f"{openpyxl.utils.get_column_letter(col)}{r}"
            found = last.get((org, field, breakdown))
            if found is None:
                assert grid[at][0] is None
                assert grid[at][2] == "FFD9D9D9"
            else:
                assert grid[at] == listed[f"H{found + 2}"], (at, cells[found])


def _cell_like(cell: dict[str, Any], **changes: Any) -> dict[str, Any]:
    made = {**cell, **changes}
    made["cell_id"] = f"{made['field_code']}|{made['org_code']}|{made['breakdown']}"
    return made


@pytest.mark.parametrize("layout", LAYOUTS)
def test_definitions_one_row_per_field(layout: str) -> None:
    frame = _read(write_xlsx(make_built(layout=layout)), "Definitions")
    assert frame.height == len(FIELDS)
    assert frame["Field code"].to_list() == ["1.01", "NI 148"]
    assert frame["Definition"].to_list() == [f.definition for f in FIELDS]
    assert frame["Decimals"].to_list() == ["1", "0"]
    assert frame["Multiplier"].to_list() == ["100", "1"]
    # The structured citations go to the JSON export; the sheet shows them as text in Sources.
    assert len(frame.columns) == len(FieldInfo.__dataclass_fields__) - 1


@pytest.mark.parametrize("layout", LAYOUTS)
def test_lineage_one_row_per_cell_with_every_figure(layout: str) -> None:
    frame = _read(write_xlsx(make_built(layout=layout)), "Lineage")
    # A suppressed cell's figures are never listed (1.01|E06000018| is suppressed in the samples).
    cells = [c for c in dict.fromkeys(r["cell_id"] for r in LINEAGE) if c != "1.01|E06000018|"]
    assert frame.columns == [
        "Cell id",
        "Field code",
        "Org code",
        "Figures",
        "Provenance",
        "Agencies and files",
        "Stored figures",
    ]
    # It is listed after the released cells only to say it is suppressed, with no figure behind it.
    assert frame["Cell id"].to_list() == [*cells, "1.01|E06000018|"]
    last = frame.row(-1, named=True)
    assert (last["Figures"], last["Provenance"], last["Stored figures"]) == ("0", SUPPRESSED_LINEAGE, None)
    for cell, row in zip(cells, frame.iter_rows(named=True), strict=False):
        behind = [r for r in LINEAGE if r["cell_id"] == cell]
        assert row["Figures"] == str(len(behind))
        for r in behind:
            if r["submission_id"] is not None:
                assert f"submission {r['submission_id']} row {r['file_row']}" in row["Provenance"]
            assert f"{r['indicator_id']} {r['figure_org']} {r['figure_period']}" in row["Stored figures"]
    assert "E07000170" in " ".join(frame["Stored figures"].drop_nulls().to_list())


def test_hostile_text_stays_text_and_is_neutralised() -> None:
    hostile = '=HYPERLINK("http://evil.example","click")'
    field = FieldInfo(**{**FIELDS[0].__dict__, "label": "@SUM(1)"})
    built = make_built(cells=[{**CELLS[0], "org_name": hostile, "reason": "+1"}], fields=[field])
    data = write_xlsx(built)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name), name
    frame = _read(data, "Data")
    # Neutralised as in the CSV (OWASP): a leading ' keeps Excel from running the text when the cell is edited.
    assert frame["Org name"].to_list() == ["'" + hostile]
    assert frame["Field label"].to_list() == ["'@SUM(1)"]


def test_hostile_text_is_neutralised_in_the_grid_and_on_the_lineage_sheet() -> None:
    hostile = '=HYPERLINK("http://evil.example","click")'
    built = make_built(layout="grid", cells=[{**CELLS[0], "org_name": hostile}, *CELLS[1:]])
    # A file name is the agency's own text; the Lineage sheet lists it beside the cell's figures.
    lineage = built.lineage.with_columns(pl.lit("-2+3.csv").alias("filename"), pl.lit("@evil").alias("agency_code"))
    data = write_xlsx(dataclasses.replace(built, lineage=lineage))
    grid = _read(data, "Data")
    assert grid["Org name"].to_list()[0] == "'" + hostile
    sources = _read(data, "Lineage")["Agencies and files"].drop_nulls().to_list()
    assert sources
    assert all(text.startswith("'@evil -2+3.csv") for text in sources)


@pytest.mark.parametrize(
    ("layout", "streamed", "stamp"),
    # XlsxWriter's fixed time is 1 January 1980 for parts made in memory, 31 January for parts made as files.
    [
        ("list", False, (1980, 1, 1, 0, 0, 0)),
        ("grid", False, (1980, 1, 1, 0, 0, 0)),
        ("list", True, (1980, 1, 31, 0, 0, 0)),
    ],
)
def test_same_return_gives_the_same_bytes(
    layout: str, streamed: bool, stamp: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    if streamed:
        monkeypatch.setattr(xlsx_writer, "STREAMED_CELLS", 1)
    first = write_xlsx(make_built(layout=layout))
    assert first == write_xlsx(make_built(layout=layout))
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert {info.date_time for info in z.infolist()} == {stamp}
        assert ("xl/sharedStrings.xml" in z.namelist()) is not streamed
        core = z.read("docProps/core.xml").decode()
    assert re.findall(r"<dcterms:(?:created|modified)[^>]*>([^<]+)<", core) == ["2024-07-31T09:30:00Z"] * 2


def test_generated_at_in_another_timezone_is_stored_as_utc() -> None:
    local = datetime(2024, 7, 31, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    moved = dataclasses.replace(make_built(), generated_at=local)
    with zipfile.ZipFile(io.BytesIO(write_xlsx(moved))) as z:
        assert "2024-07-31T09:30:00Z" in z.read("docProps/core.xml").decode()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_return_still_writes_every_sheet(layout: str) -> None:
    data = write_xlsx(make_built(layout=layout, cells=[]))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert sum(n.startswith("xl/worksheets/sheet") for n in z.namelist()) == 4


#: Cells of the large return below (it had 20,000: the margins either side of its limits are the same at 5,000).
LARGE = 5_000


@pytest.mark.parametrize(("layout", "limit_mb"), [("list", 5.0), ("grid", 3.5)])
def test_a_large_return_is_written_without_holding_its_sheets_in_memory(
    layout: str, limit_mb: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5,000 cells: a workbook holding its cell table peaked at 18 MB (list) and 6.7 MB (grid) here; written row
    # by row to temporary files, at 0.7 and 1.5 MB (the grid places each org's cells first). At 20,000 cells the
    # same was 59 and 23 MB against 1.4 and 5.6 MB: the same margins either side of each limit, at a quarter of
    # the writing. The product streams a return from STREAMED_CELLS cells (20,000 at most), brought down to these.
    assert xlsx_writer.STREAMED_CELLS <= 20_000
    monkeypatch.setattr(xlsx_writer, "STREAMED_CELLS", LARGE)
    cells = [
        {**CELLS[0], "cell_id": f"cell-{i}", "org_code": f"E{i:08d}", "org_name": f"Council {i}"} for i in range(LARGE)
    ]
    built = make_built(layout=layout, cells=cells)
    # Made before the count starts.
    assert len(built.cell_records) == LARGE
    assert built.lineage_summary.height == 0
    tracemalloc.start()
    try:
        data = write_xlsx(built)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit_mb * 1_000_000, peak
    assert _read(data, "Data").height == LARGE
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert "xl/sharedStrings.xml" not in z.namelist()  # its text inline, row by row

"""The demo's synthetic county builds its Annex A from the records it uploads at set-up (DfE's rules pass them)."""

from __future__ import annotations

import fastexcel
from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_YEAR
from mappings.annex_a import load_layout
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_said, demo_store_fixture
from tests.helpers import annex_cells_in_workbook

#: The synthetic county's approver key (README, the demo's keys).
SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
#: The store with the synthetic county's records uploaded (``load_records_demo``), loaded once per process.
store = demo_store_fixture("store", "records")


def test_the_synthetic_county_builds_its_annex_a(store: Engine, store_settings: Settings, store_template: str) -> None:
    uploads = demo_said(store_template, "records")["records"]
    assert {u.status for u in uploads} <= {"accepted", "queried"}, [u.message for u in uploads]
    on = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
    with client_on(store_settings, store) as client:
        answer = client.get(
            f"/api/agencies/{RECORDS_AGENCY}/annex-a", headers=SYNTHETIC, params={"inspection_date": on}
        )
        assert answer.status_code == 200, answer.text
        facts = answer.json()
        counts = {item["list"]: item["rows"] for item in facts["lists"]}
        # Its SSD extract, sent after its own CIN census and SSDA903: one set of children, the newest, the extract
        # and the files made from it, so Lists 1 and 2 and the columns no return holds are filled from it.
        assert any(s.startswith("SSD extract ") for s in facts["sources"]), facts["sources"]
        assert not any("is older than them and is not read with them" in n for n in facts["notes"])
        for number in (1, 2, 3, 4, 6, 8):
            assert counts[number] > 0, counts
        extract_filled = {item["list"]: item["ssd_filled"] for item in facts["lists"]}
        assert extract_filled[8], extract_filled
        book = client.get(
            f"/api/agencies/{RECORDS_AGENCY}/annex-a.xlsx", headers=SYNTHETIC, params={"inspection_date": on}
        )
        assert book.status_code == 200
        sheets = fastexcel.read_excel(book.content)
        assert sheets.load_sheet_by_name("List 8").to_polars().height == counts[8]


def test_the_demo_annex_a_has_no_coded_cell_outside_ofsteds_codes(store: Engine, store_settings: Settings) -> None:
    layout = load_layout()
    on = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
    with client_on(store_settings, store) as client:
        book = client.get(
            f"/api/agencies/{RECORDS_AGENCY}/annex-a.xlsx", headers=SYNTHETIC, params={"inspection_date": on}
        )
    assert book.status_code == 200, book.text
    reader = fastexcel.read_excel(book.content)
    coded = 0
    for item in layout.lists:
        sheet = reader.load_sheet_by_name(item.sheet, dtypes="string").to_polars()
        for column in item.columns:
            if column.codes is None or column.field is None:
                continue
            ofsted = set(layout.codes[column.codes].values())
            cells = sheet[column.heading].drop_nulls().to_list()
            coded += len(cells)
            outside = sorted({c for c in cells if c not in ofsted})
            assert not outside, f"{item.sheet} {column.heading}: {outside} are not Ofsted's codes"
    assert coded > 400, coded  # the children of the demo's SSD extract fill the coded columns


def test_the_burden_counts_the_demo_annex_a_cell_by_cell(store: Engine, store_settings: Settings) -> None:
    on = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
    with client_on(store_settings, store) as client:
        params = {"inspection_date": on}
        facts = client.get(f"/api/agencies/{RECORDS_AGENCY}/annex-a", headers=SYNTHETIC, params=params).json()
        book = client.get(f"/api/agencies/{RECORDS_AGENCY}/annex-a.xlsx", headers=SYNTHETIC, params=params)
        shown = client.get("/api/burden", headers=OFFICER, params={"period": f"FY{RECORDS_YEAR}"}).json()
    assert book.status_code == 200, book.text
    county = next(a for a in shown["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    # Counted again from the workbook the council downloads: a cell is filled from a source only where it holds a
    # value, from the extract in the columns the extract fills, from the records in the others the records fill.
    cells, from_records, from_extract = annex_cells_in_workbook(book.content, facts)
    # A column the records fill is blank for some child (a closure date of a case still open): not counted as filled.
    columns = {item["list"]: [h for h in item["filled"] if h not in item["ssd_filled"]] for item in facts["lists"]}
    assert from_records < sum(item["rows"] * len(columns[item["list"]]) for item in facts["lists"])
    assert (county["annex_a_cells"], county["annex_a_from_records"], county["annex_a_from_extract"]) == (
        cells,
        from_records,
        from_extract,
    )
    assert county["annex_a_keyed"] == cells - from_records - from_extract

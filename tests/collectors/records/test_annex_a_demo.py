"""The demo's synthetic county builds its Annex A from the records it uploads at set-up (DfE's rules pass them)."""

from __future__ import annotations

import fastexcel
from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_YEAR
from mappings.annex_a import load_layout
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_said, demo_store_fixture

#: The synthetic county's approver key (README, the demo's keys).
SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
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
        # Its own CIN census and SSDA903, sent after its smaller SSD extract of other children: one set of children,
        # its own files alone, the extract named as older and not read with them (so Lists 1 and 2 are empty).
        assert len(facts["sources"]) == 2
        assert not any("SSD extract" in s for s in facts["sources"])
        assert any("is older than them and is not read with them" in n for n in facts["notes"])
        for number in (3, 4, 6, 7, 8, 9):
            assert counts[number] > 0, counts
        assert counts[1] == counts[2] == 0
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
    assert coded > 1000, coded  # the demo's children fill the coded columns

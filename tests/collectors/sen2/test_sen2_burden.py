"""SEN2 in the burden: the area SEND inspection's List 1 counted in child-level cells (from SEN2, from the CIN census
and SSDA903, keyed), the SEN2 file's items, each record-level file named by its Single Data List line, and the
headline and per-agency chart counting the inspection lists' child-level cells beside the returns' figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_YEAR, demo_sen2, load_sen2_demo
from collectors.sen2 import list1_cells as counting
from collectors.sen2.list1 import COLUMNS
from collectors.sen2.list1_cells import KEYED
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_store_fixture
from tests.web.pages import sign_in

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
PERIOD = f"FY{RECORDS_YEAR}"
ON = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
store = demo_store_fixture("store", "records")


def _items_by_hand(path: Path) -> int:
    """Every item under Persons with no item inside it, counted with the standard library's parser."""
    persons = ET.parse(path).getroot().find("Persons")
    assert persons is not None
    return sum(1 for e in persons.iter() if e is not persons and len(e) == 0)


def test_list_1_and_the_sen2_file_are_counted_and_named_by_their_single_data_list_line(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "_CELLS", type(counting._CELLS)())
    with client_on(store_settings, store) as client:
        before = client.get("/api/burden", headers=OFFICER, params={"period": PERIOD}).json()
        (loaded,) = load_sen2_demo(store, store_settings)
        assert loaded.status == "accepted", loaded.message
        listed = client.get(
            f"/api/agencies/{RECORDS_AGENCY}/annex-a-send", headers=SYNTHETIC, params={"inspection_date": ON}
        )
        assert listed.status_code == 200, listed.text
        answer = client.get("/api/burden", headers=OFFICER, params={"period": PERIOD, "cell_minutes": 0.25})
        assert answer.status_code == 200, answer.text
    rows = len(listed.json()["rows"])
    assert rows > 0
    old = next(a for a in before["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    county = next(a for a in answer.json()["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    assert old["list1_cells"] == 0
    # 21 columns a row: 11 from SEN2, 3 from the CIN census and SSDA903 (known, team, disability), 7 keyed (the two
    # phases counted among them: they are the register of establishments', not the file's).
    assert (len(COLUMNS), len(KEYED)) == (21, 7)
    assert county["list1_cells"] == rows * 21
    assert county["list1_from_sen2"] == rows * 11
    assert county["list1_from_care_records"] == rows * 3
    assert county["list1_keyed"] == rows * 7
    assert county["sen2_items"] == _items_by_hand(demo_sen2(tmp_path))
    filled = county["annex_a_from_records"] + county["annex_a_from_extract"] + rows * 14
    assert county["child_cells_filled"] == filled
    assert county["child_hours_saved"] == pytest.approx(filled * 0.25 / 60, abs=0.05)
    lines = {c["ref"]: c for c in county["collections"]}
    assert lines["DfE 189-00"]["name"] == "Children with Statements of Special Educational Needs (SEN2)"
    assert lines["DfE 189-00"]["list_cells"] == rows * 11
    assert lines["DfE 189-00"]["items_read"] == county["sen2_items"]
    # The council owes the SEN2 return (its agency file), a calendar year's, counted in the financial year its survey
    # is due in: of its five cells the file fills the year's requests and new plans; the two 20-week shares are
    # worked out from figures (derived cells), and plans in force are the January census's, an academic year's.
    assert lines["DfE 189-00"]["return_cells"] == 2, lines["DfE 189-00"]
    assert "DfE 189-00" not in {c["ref"] for c in old["collections"]}
    assert lines["DfE 087-00"]["name"] == "Children in Need Census"
    assert lines["DfE 088-00"]["name"] == "Children Looked After (CLA) (SSDA903)"
    assert "DfE 189-00" not in {c["ref"] for c in old["collections"]}
    totals = answer.json()["totals"]
    assert totals["cells_not_keyed"] == totals["saved"] + totals["child_cells_filled"]
    assert totals["child_cells_filled"] >= filled
    assert totals["hours_not_keyed"] == pytest.approx(totals["hours_saved"] + totals["child_hours_saved"], abs=0.1)


def test_a_council_with_no_sen2_file_has_no_list_1_cells(store: Engine, store_settings: Settings) -> None:
    with client_on(store_settings, store):
        assert counting.list1_cells(store, store_settings, RECORDS_AGENCY, date.fromisoformat(ON)) is None


def test_the_burden_page_headline_and_chart_count_the_child_level_cells(
    store: Engine, store_settings: Settings
) -> None:
    load_sen2_demo(store, store_settings)
    with client_on(store_settings, store, follow_redirects=False) as client:
        answer = client.get("/api/burden", headers=OFFICER, params={"period": PERIOD}).json()
        sign_in(client, "demo-officer-5e0b9c2a4f")
        page = client.get("/burden", params={"period": PERIOD}).text
        refused = client.get("/burden", params={"period": PERIOD, "cell_minutes": "-1"})
    assert refused.status_code == 400
    totals = answer["totals"]
    headline = " ".join(re.sub(r"<[^>]+>", " ", page.split('id="burden-headline">', 1)[1].split("</p>", 1)[0]).split())
    assert f"{int(totals['cells_not_keyed']):,} cells are not keyed" in headline
    assert f"{int(totals['child_cells_filled']):,} child-level cells of the inspection lists" in headline
    assert totals["cells_not_keyed"] > totals["saved"]
    table = page.split('id="sdl-burden">', 1)[1].split("</table>", 1)[0]
    assert "DfE 189-00 Children with Statements of Special Educational Needs (SEN2)" in table
    assert "DfE 087-00 Children in Need Census" in table
    assert 'id="list1-burden"' in page
    # The county's bar is as long as its returns' cells and its inspection lists' cells together.
    county = next(a for a in answer["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    returns = county["keyed_cells_without_service"] + county["derived_by_service"] + county["from_publishers"]
    assert f"{returns + county['annex_a_cells'] + county['list1_cells']:,} cells" in page

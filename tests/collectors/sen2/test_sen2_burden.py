"""SEN2 in the burden: the area SEND inspection's List 1 counted in child-level cells (from SEN2, from the CIN census
and SSDA903, keyed), the SEN2 file's items, each record-level file named by its Single Data List line, and the
headline and per-agency chart counting the inspection lists' child-level cells beside the returns' figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_YEAR, demo_sen2, load_sen2_demo
from collectors.census.lists import SCHOOL_COLUMNS
from collectors.sen2 import list1_cells as counting
from collectors.sen2.list1 import COLUMNS, NOT_HELD
from collectors.sen2.list1_cells import FROM_CARE_RECORDS as CARE
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml
from tests.demo_store import demo_store_fixture
from tests.web.pages import sign_in

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
PERIOD = f"FY{RECORDS_YEAR}"
ON = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
store = demo_store_fixture("store", "records")


def _shown(value: object) -> bool:
    """Whether a cell of List 1 as the API answers it holds a value."""
    return value is not None and str(value).strip() != ""


def _is_upn(value: object) -> bool:
    """Whether List 1's UPN column holds a UPN (a letter and twelve characters), not SEN2's reason for none."""
    return value is not None and re.fullmatch(r"[A-Z][0-9]{11}[0-9A-Z]", str(value)) is not None


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
    listed_rows = listed.json()["rows"]
    rows = len(listed_rows)
    assert rows > 0
    old = next(a for a in before["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    county = next(a for a in answer.json()["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    assert old["list1_cells"] == 0
    # 21 columns a row: 13 the SEN2 file fills (its URNs' two phases through the register of establishments), 3 the
    # CIN census and SSDA903 (known, team, disability), 4 the school census (none kept here), 1 no record holds.
    assert (len(COLUMNS), len(NOT_HELD), len(SCHOOL_COLUMNS)) == (21, 1, 4)
    # A blank that cannot apply to its child is no cell anyone keys (``CANNOT_APPLY``): the county keeps care records,
    # so the team of every child they show not known is left out, as is a ULN beside a UPN and the second school's
    # phase of a child with none.
    not_known = sum(1 for r in listed_rows if r[CARE[0]] == "No")
    uln_beside_upn = sum(1 for r in listed_rows if _is_upn(r["UPN"]) and not _shown(r["ULN"]))
    assert not_known > 0
    assert uln_beside_upn > 0
    no_second_school = county["list1_not_applying"] - not_known - uln_beside_upn
    assert 0 < no_second_school <= rows
    assert county["list1_cells"] == rows * 21 - county["list1_not_applying"]
    # Cell by cell: a cell is filled from a source only where the list shows a value from it. The county keeps care
    # records, so each child's "known to children's social care?" is their answer; a team or a disability only
    # where they hold one.
    sen2_columns = [c for c in COLUMNS if c not in (*NOT_HELD, *CARE, *SCHOOL_COLUMNS)]
    from_sen2 = sum(1 for r in listed_rows for c in sen2_columns if _shown(r[c]))
    from_care = rows + sum(1 for r in listed_rows for c in CARE[1:] if _shown(r[c]))
    assert sum(1 for r in listed_rows for c in sen2_columns if not _shown(r[c])) > 0  # a child without a ULN
    assert sum(1 for r in listed_rows for c in CARE[1:] if not _shown(r[c])) > 0  # a child no team knows
    assert county["list1_from_sen2"] == from_sen2
    assert county["list1_from_care_records"] == from_care
    assert county["list1_keyed"] == county["list1_cells"] - from_sen2 - from_care
    assert county["sen2_items"] == _items_by_hand(demo_sen2(tmp_path))
    filled = county["annex_a_from_records"] + county["annex_a_from_extract"] + from_sen2 + from_care
    assert county["child_cells_filled"] == filled
    assert county["child_hours_saved"] == pytest.approx(filled * 0.25 / 60, abs=0.05)
    lines = {c["ref"]: c for c in county["collections"]}
    assert lines["DfE 189-00"]["name"] == "Children with Statements of Special Educational Needs (SEN2)"
    assert lines["DfE 189-00"]["list_cells"] == from_sen2
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
    assert totals["cells_not_keyed"] == totals["saved"] + totals["from_publishers"] + totals["child_cells_filled"]
    assert totals["child_cells_filled"] >= filled
    assert totals["hours_not_keyed"] == pytest.approx(
        totals["hours_saved"] + totals["publisher_hours"] + totals["child_hours_saved"], abs=0.1
    )


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
    assert f"{int(totals['from_publishers']):,} cells of the returns filled from the publishers' own files" in headline
    assert totals["cells_not_keyed"] > totals["saved"]
    table = page.split('id="sdl-burden">', 1)[1].split("</table>", 1)[0]
    assert "DfE 189-00 Children with Statements of Special Educational Needs (SEN2)" in table
    assert "DfE 087-00 Children in Need Census" in table
    assert 'id="list1-burden"' in page
    # The county's bar is as long as its returns' cells and its inspection lists' cells together.
    county = next(a for a in answer["agencies"] if a["agency_code"] == RECORDS_AGENCY)
    returns = county["keyed_cells_without_service"] + county["derived_by_service"] + county["from_publishers"]
    assert f"{returns + county['annex_a_cells'] + county['list1_cells']:,} cells" in page


def test_a_council_with_no_care_records_kept_gets_no_list_1_cell_from_them(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(counting, "_CELLS", type(counting._CELLS)())
    plan = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2024, 9, 1), "LastReview": date(2024, 9, 20)}))  # fmt: skip
    people = [person(f"A{n:012d}", date(2014, 2, 2), "F", plan) for n in range(1, 4)]
    # A fourth child is dual registered and has a ULN: neither of its cells is left out.
    dual = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)},
                           {"URN": 100002, "PlacementRank": 2, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2024, 9, 1), "LastReview": date(2024, 9, 20)}))  # fmt: skip
    people.append(person("A000000000004", date(2008, 2, 2), "M", dual, UniqueLearnerNumber="1234567890"))
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": RECORDS_YEAR},
                             files=[("files", ("sen2.xml", sen2_xml(people), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    listed = store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params={"inspection_date": ON})
    assert listed.status_code == 200, listed.text
    rows = listed.json()["rows"]
    # No CIN census or SSDA903 kept: List 1 says "No" for every child, and no record said so.
    assert [r["Known to children's social care?"] for r in rows] == ["No"] * 4
    answer = store_client.get("/api/burden", headers=OFFICER, params={"period": PERIOD})
    assert answer.status_code == 200, answer.text
    notts = next(a for a in answer.json()["agencies"] if a["agency_code"] == "notts_cyp")
    # The three children with a UPN and one school each: their ULN and second school's phase cannot apply. Without
    # care records no child is read as not known, so every team is still the council's to key.
    assert notts["list1_not_applying"] == 3 + 3
    assert notts["list1_cells"] == 4 * len(COLUMNS) - 6
    assert notts["list1_from_care_records"] == 0
    from_sen2 = sum(1 for r in rows for c in COLUMNS if c not in (*NOT_HELD, *CARE, *SCHOOL_COLUMNS) and _shown(r[c]))
    assert notts["list1_from_sen2"] == from_sen2
    assert notts["list1_keyed"] == 4 * len(COLUMNS) - 6 - from_sen2

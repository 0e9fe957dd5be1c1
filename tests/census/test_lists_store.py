"""A council's kept school census filling List 1's school columns and List 2 through the API, on SQLite and
PostgreSQL: the lists, their workbook, the checks across returns, the looked-after children's school figures and the
burden before and after the census is kept."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.census import receiving
from collectors.sen2 import list1_cells
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.census.census_builder import SPRING, census, pupil
from tests.census.made import answered, sent
from tests.collectors.records.annex_a_cases import plant_kept, write_903
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
ON = "2025-03-31"
A, B, K1 = "A801200001001", "B801200001001", "K801200001001"


def _plan(urn: int | None) -> Request:
    placement: dict[str, object] = {"PlacementRank": 1, "EntryDate": date(2023, 9, 1)}
    placement |= {"URN": urn} if urn else {"SENSetting": "OTH"}
    return Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2022, 1, 1)}),
                   Active([placement], [("ASD", 1)]))  # fmt: skip


def _keep_census(engine: Engine, settings: Settings, folder: Path) -> None:
    made = census(
        SPRING,
        pupils=[pupil(1, A, urn="100001"), pupil(2, B, urn="100002", senprovision="K"), pupil(3, K1, senprovision="K")],
        possible=[{"pupil": 1, "period": "autumn", "sessions": 100}, {"pupil": 3, "period": "autumn", "sessions": 50}],
        sessions=[
            {"pupil": 1, "period": "autumn", "code": "I", "sessions": 5},
            {"pupil": 3, "period": "autumn", "code": "O", "sessions": 10},
        ],
        exclusions=[{"pupil": 3, "category": "SUSP", "started": date(2024, 10, 1), "sessions": 2, "reason": "PA"}],
        fsm=[{"pupil": 1, "started": date(2021, 1, 1), "ended": None}],
    )
    name = "2025_spring_la_pupilonroll.csv"
    path = sent(folder, name, b"pupilonrolltableid\n1\n")
    receiving.receive(engine, settings, agency_code="notts_cyp", collection_year="2024-25", files=[(name, path)],
                      read=lambda: answered(made), known=lambda: frozenset())  # fmt: skip


def _notts(client: TestClient) -> dict:  # type: ignore[type-arg]
    answer = client.get("/api/burden", headers=OFFICER, params={"period": "FY2024-25"})
    assert answer.status_code == 200, answer.text
    return next(a for a in answer.json()["agencies"] if a["agency_code"] == "notts_cyp")


def test_a_kept_census_fills_list_1s_school_columns_and_list_2(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    people = [person(A, date(2014, 3, 1), "F", _plan(100001)), person(B, date(2013, 5, 5), "M", _plan(None))]
    sen2 = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", sen2_xml(people), "application/xml"))])  # fmt: skip
    assert sen2.status_code == 201, sen2.text
    before = _notts(store_client)
    assert store_client.get("/api/agencies/notts_cyp/annex-a-send/list-2", headers=NOTTS,
                            params={"inspection_date": ON}).status_code == 404  # fmt: skip
    _keep_census(store, store_settings, tmp_path)
    listed = store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params={"inspection_date": ON})
    assert listed.status_code == 200, listed.text
    rows = {r["UPN"]: r for r in listed.json()["rows"]}
    assert (rows[A]["Absence"], rows[A]["Suspensions"], rows[A]["Pupil Premium"]) == (5.0, 0, "Yes")
    assert rows[B]["Main education establishment – URN"] == "100002"  # SEN2 has none: the census's
    traces = listed.json()["traces"]
    assert {"row": 1, "column": "Absence", "source": traces[0]["source"]} in traces
    assert "school census of 2025-01-16 (council schools), pupil 1" in traces[0]["source"]
    assert any(s.startswith("school census of 2025-01-16") for s in listed.json()["sources"])

    list2 = store_client.get("/api/agencies/notts_cyp/annex-a-send/list-2", headers=NOTTS,
                             params={"inspection_date": ON})  # fmt: skip
    assert list2.status_code == 200, list2.text
    assert [r["UPN"] for r in list2.json()["rows"]] == [B, K1]
    k1 = list2.json()["rows"][1]
    assert (k1["Absence"], k1["Suspensions"]) == (20.0, 1)
    assert list2.json()["findings_total"] > 0  # no disability status: no CIN census is kept
    officer = store_client.get("/api/agencies/notts_cyp/annex-a-send/list-2", headers=OFFICER,
                               params={"inspection_date": ON})  # fmt: skip
    assert officer.status_code in (401, 403)

    book = store_client.get("/api/agencies/notts_cyp/annex-a-send.xlsx", headers=NOTTS, params={"inspection_date": ON})
    assert book.status_code == 200
    assert openpyxl.load_workbook(io.BytesIO(book.content)).sheetnames == ["List_1", "List_2", "Notes"]

    checks = store_client.get("/api/agencies/notts_cyp/sen2/2024-25/cross-checks", headers=NOTTS).json()
    counted = {c["check"]: c["queries"] for c in checks["checks"]}
    assert counted["plan_not_in_census"] == 1  # B: SEN support in the census
    assert counted["placement_not_census_school"] == 0

    list1_cells._CELLS.clear()
    after = _notts(store_client)
    # The census fills List 1's four school columns for both children (B's absence blank: no sessions reported)
    # and B's school with its phase blank (no register), and List 2's cells: the keyed share falls.
    assert before["list1_from_census"] == 0
    assert after["list1_from_census"] == 4 + 3 + 1
    assert after["list1_keyed"] == before["list1_keyed"] - after["list1_from_census"]
    assert after["list2_cells"] > 0
    assert after["list2_from_census"] > 0
    assert after["list2_keyed"] == after["list2_cells"] - after["list2_from_census"] - after["list2_from_care_records"]
    line = next(c for c in after["collections"] if c["ref"] == "DfE 159-00")
    assert line["list_cells"] == after["list1_from_census"] + after["list2_from_census"]


def test_the_looked_after_childrens_school_estimates_stand_beside_dfes_figures(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    # The hand-worked SSDA903: INCARE (UPN A) and LEFT7 (UPN K1) looked after since 1 January 2024, ADOPT3 too with
    # no UPN, CEASED5 only from 2025: three looked after 12 months at 31 March 2025, two in the council's census.
    folder = tmp_path / "903"
    write_903(folder)
    lines = (folder / "header.csv").read_text().splitlines()
    upns = {"INCARE": A, "LEFT7": K1}
    fixed = [lines[0], *(re.sub(r",WBRI,,", f",WBRI,{upns.get(line.split(',')[0], '')},", line) for line in lines[1:])]
    (folder / "header.csv").write_text("\n".join(fixed) + "\n")
    planted = plant_kept(store, store_settings, "903", sorted(folder.iterdir()))
    with Session(store) as session:
        row = session.get(Submission, planted)
        assert row is not None
        row.collection_year = "2024-25"
        session.add(row)
        session.commit()
    path = "/api/agencies/notts_cyp/census/looked-after-school"
    assert store_client.get(path, headers=NOTTS, params={"inspection_date": ON}).status_code == 404  # no census yet
    _keep_census(store, store_settings, tmp_path / "census")
    answer = store_client.get(path, headers=OFFICER, params={"inspection_date": ON})
    assert answer.status_code == 200, answer.text
    items = {i["item"]: i for i in answer.json()["items"]}
    assert (items["3.02"]["estimate"], items["3.03"]["estimate"], items["3.04"]["estimate"]) == (0.0, 50.0, 50.0)
    assert items["3.03"]["coverage"].startswith("2 of 3 children looked after for 12 months")
    assert {i["period"] for i in items.values()} == {"AY2024-25"}
    assert "never stored as a figure" in answer.json()["notes"][0]


def test_a_council_with_a_census_and_no_sen2_file_has_its_list_2_counted(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    list1_cells._CELLS.clear()
    assert _notts(store_client)["list2_cells"] == 0
    _keep_census(store, store_settings, tmp_path)
    notts = _notts(store_client)
    # Two pupils on SEN support (B and K1), 17 columns each, less the cells that cannot apply (no ULN beside a UPN,
    # no second school): 34 - 4 = 30.
    assert (notts["list1_cells"], notts["list2_cells"], notts["list2_not_applying"]) == (0, 30, 4)
    assert notts["list2_from_census"] + notts["list2_keyed"] == 30
    line = next(c for c in notts["collections"] if c["ref"] == "DfE 159-00")
    assert line["list_cells"] == notts["list2_from_census"]

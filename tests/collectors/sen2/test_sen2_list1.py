"""The area SEND inspection's List 1 from a council's SEN2 file, with "Known to children's social care?" and "Which
team?" from its CIN census and SSDA903 records open at the date, checked by Data to Insight's rules."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cli.synthetic.cin import synthetic_cin
from collectors.sen2.list1 import COLUMNS, IN_NEED, LOOKED_AFTER, PROTECTION, social_care
from collectors.sen2.list1_rules import check_list1
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml
from tests.web.pages import sign_in

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
ON = date(2025, 3, 31)


def _d(text: str) -> date:
    return date.fromisoformat(text)


def test_the_most_intensive_open_involvement_names_the_team_and_closed_ones_none() -> None:
    cin = {
        "Children": pl.DataFrame({"CHILD": ["c1", "c2", "c3", "c4"], "UPN": ["U1", "U2", "U3", "U4"]}),
        "CINdetails": pl.DataFrame(
            {
                "CHILD": ["c1", "c2", "c3", "c4"],
                "CINreferralDate": [_d("2024-05-01"), _d("2024-06-01"), _d("2024-01-01"), _d("2024-01-01")],
                "CINclosureDate": [None, None, None, _d("2025-01-01")],
            }
        ),
        "ChildProtectionPlans": pl.DataFrame(
            {"CHILD": ["c2"], "CPPstartDate": [_d("2024-07-01")], "CPPendDate": pl.Series([None], dtype=pl.Date)}
        ),
        "Disabilities": pl.DataFrame({"CHILD": ["c1", "c2"], "Disability": ["NONE", "AUT"]}),
    }
    ssda903 = {
        "Header": pl.DataFrame({"CHILD": ["L3", "L5"], "UPN": ["u3", "U5"]}),
        "Episodes": pl.DataFrame(
            {"CHILD": ["L3", "L5"], "DECOM": [_d("2024-02-01"), _d("2023-01-01")], "DEC": [None, _d("2024-01-01")]}
        ),
    }
    care = {r["upn"]: (r["team"], r["disability"]) for r in social_care(cin, ssda903, ON).iter_rows(named=True)}
    # c1 in need, no disability; c2 protected (over in need), disabled; c3 looked after (over in need), by its UPN
    # in either case; c4's episode closed; L5's care ended.
    assert care["U1"] == (IN_NEED, "No")
    assert care["U2"] == (PROTECTION, "Yes")
    assert care["U3"] == (LOOKED_AFTER, None)
    assert care.get("U4", (None, None))[0] is None
    assert "U5" not in care


def _row(**cells: object) -> dict[str, object]:
    clean: dict[str, object] = dict.fromkeys(COLUMNS)
    clean |= {"Unique ID": "A1", "UPN": "A123456789012", "Date of birth": date(2015, 1, 1), "Gender": "M",
              "Ethnicity": "WBRI", "SEN primary need": "ASD", "Date initial EHC plan issued": date(2020, 1, 1),
              "Date EHC plan last reviewed": date(2024, 6, 1), "Main education establishment – URN": "100001",
              "Does the child or young person have a disability?": "No"}  # fmt: skip
    return clean | cells


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    dates = {c for c in COLUMNS if c.startswith("Date")}
    return pl.DataFrame(rows, schema={c: pl.Date if c in dates else pl.String for c in COLUMNS}, orient="row")


def test_data_to_insights_rules_find_each_fault_and_pass_a_clean_list() -> None:
    assert check_list1(_frame([_row()]), ON) == []
    faults = {
        "101a": _row(**{"Date of birth": None}), "101b": _row(Gender=None), "101c": _row(Ethnicity=None),
        "101d": _row(**{"SEN primary need": None}), "102a": _row(**{"Date of birth": date(1999, 6, 1)}),
        "102b": _row(**{"Date of birth": date(1998, 6, 1)}),
        "103": _row(**{"Does the child or young person have a disability?": None}),
        "105b": _row(**{"Date initial EHC plan issued": date(2025, 5, 1), "Date EHC plan last reviewed": None}),
        "105d": _row(**{"Date EHC plan last reviewed": date(2025, 6, 1)}),
        "106b": _row(**{"Date initial EHC plan issued": date(2024, 7, 1)}),
        "107": _row(UPN=None), "108a": _row(**{"Main education establishment – URN": None}),
    }  # fmt: skip
    for rule, row in faults.items():
        found = {f["rule"] for f in check_list1(_frame([row]), ON)}
        assert f"d2i:{rule}" in found, (rule, found)
    twice = check_list1(_frame([_row(), _row(**{"Unique ID": "A2"})]), ON)
    assert [(f["rule"], f["row"]) for f in twice] == [("d2i:109", 1), ("d2i:109", 2)]


def _open_on(details: ET.Element, start: str, end: str) -> bool:
    began, ended = details.findtext(start), details.findtext(end)
    return bool(began) and _d(began or "") <= ON and (not ended or _d(ended) >= ON)


def _children(path: Path) -> tuple[str, str]:
    """A UPN of the made-up census with a protection plan open at the date, and one in need with none."""
    protected = in_need = None
    for child in ET.parse(path).getroot().iter("Child"):
        upn = child.findtext("ChildIdentifiers/UPN")
        episodes = child.findall("CINdetails")
        if not upn or not episodes:
            continue
        plans = [p for e in episodes for p in e.findall("ChildProtectionPlans")]
        if protected is None and any(_open_on(p, "CPPstartDate", "CPPendDate") for p in plans):
            protected = upn
        elif in_need is None and not plans and any(_open_on(e, "CINreferralDate", "CINclosureDate") for e in episodes):
            in_need = upn
    assert protected
    assert in_need
    return protected, in_need


def test_list_1_joins_the_councils_cin_census_by_upn(store_client: TestClient, tmp_path: Path) -> None:
    census = synthetic_cin(3, 80, "2024-25", tmp_path / "cin", la="E10000024")
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", (census.name, census.read_bytes(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 202, sent.text
    assert store_client.get(f"/api/submissions/{sent.json()['id']}", headers=NOTTS).json()["status"] != "failed"
    protected, in_need = _children(census)
    plan = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2024, 9, 1), "LastReview": date(2024, 9, 20)}))  # fmt: skip
    people = [person(upn, date(2014, 2, 2), "F", plan) for upn in (protected, in_need, "Z999999999999")]
    sen2 = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", sen2_xml(people), "application/xml"))])  # fmt: skip
    assert sen2.status_code == 201, sen2.text
    answer = store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS,
                              params={"inspection_date": ON.isoformat()})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    rows = {r["UPN"]: r for r in body["rows"]}
    assert rows[protected]["Known to children's social care?"] == "Yes"
    assert rows[protected]["Which children's social care team?"] == PROTECTION
    assert rows[in_need]["Which children's social care team?"] == IN_NEED
    assert rows["Z999999999999"]["Known to children's social care?"] == "No"
    assert rows[protected]["Date initial EHC plan issued"] == "2021-09-01"
    assert rows[protected]["Date EHC plan last reviewed"] == "2024-09-20"
    assert rows[protected]["SEN primary need"] == "SLCN"
    # Only the child the census does not hold has no disability status (Data to Insight's rule 103).
    assert {(f["rule"], f["row"]) for f in body["findings"]} == {("d2i:103", 3)}
    book = store_client.get("/api/agencies/notts_cyp/annex-a-send.xlsx", headers=NOTTS,
                            params={"inspection_date": ON.isoformat()})  # fmt: skip
    assert book.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(book.content))["List_1"]
    assert tuple(c.value for c in sheet[1]) == COLUMNS
    assert sheet.max_row == 4
    params = {"inspection_date": ON.isoformat()}
    assert store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=OFFICER, params=params).status_code == 403
    assert store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=LEWISHAM, params=params).status_code == 404
    early = {"inspection_date": "2024-06-01"}
    assert store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params=early).status_code == 404


def _one_plan_file() -> bytes:
    plan = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2024, 9, 1), "LastReview": date(2024, 9, 20)}))  # fmt: skip
    return sen2_xml([person("A123456789012", date(2014, 2, 2), "F", plan)])


def test_an_inspection_date_outside_the_services_years_is_refused_on_every_route(
    store: Engine, store_settings: Settings
) -> None:
    with client_on(store_settings, store, follow_redirects=False) as client:
        sent = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                           files=[("files", ("sen2.xml", _one_plan_file(), "application/xml"))])  # fmt: skip
        assert sent.status_code == 201, sent.text
        routes = ("annex-a-send", "annex-a-send.xlsx", "annex-a", "annex-a.xlsx")
        for day in ("9999-12-31", "3000-01-01", "1899-12-31", "0001-01-01"):
            for route in routes:
                answer = client.get(f"/api/agencies/notts_cyp/{route}", headers=NOTTS, params={"inspection_date": day})
                assert answer.status_code == 422, (route, day, answer.text)
                assert answer.json()["errors"][0]["loc"] == ["query", "inspection_date"], (route, day)
                assert "1900 to 2999" in answer.json()["error"]
        sign_in(client, NOTTS["X-API-Key"])
        for page in ("/annex-a", "/annex-a.xlsx"):
            shown = client.get(page, params={"inspection_date": "9999-12-31"})
            assert shown.status_code == 400, (page, shown.text[:200])
            assert "1900 to 2999" in shown.text
        # Within the years: the list is built (its census before the date).
        built = client.get(
            "/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params={"inspection_date": "2999-12-31"}
        )
        assert built.status_code == 200, built.text


def test_list_1_reads_the_file_whose_census_date_is_on_or_before_the_inspection(store_client: TestClient) -> None:
    plan = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2023, 9, 1), "LastReview": date(2023, 9, 20)}))  # fmt: skip
    for survey, year, upn in ((2024, "2023-24", "A000000002024"), (2025, "2024-25", "A000000002025")):
        # Each survey's census is its header's ReferenceDate: 16 January of the survey's year.
        data = sen2_xml([person(upn, date(2014, 2, 2), "F", plan)], survey)
        sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": year},
                                 files=[("files", ("sen2.xml", data, "application/xml"))])  # fmt: skip
        assert sent.status_code == 201, sent.text
    read = {}
    for day in ("2025-01-15", "2025-01-16", "2024-12-31"):
        answer = store_client.get(
            "/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params={"inspection_date": day}
        )
        assert answer.status_code == 200, (day, answer.text)
        read[day] = (answer.json()["sources"][0].split(" (")[0], [r["UPN"] for r in answer.json()["rows"]])
    # The day before the January 2025 census reads January 2024's file, not the census still to come.
    assert read["2025-01-15"] == ("SEN2 2023-24", ["A000000002024"])
    assert read["2024-12-31"] == ("SEN2 2023-24", ["A000000002024"])
    assert read["2025-01-16"] == ("SEN2 2024-25", ["A000000002025"])
    before = store_client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS,
                              params={"inspection_date": "2024-01-15"})  # fmt: skip
    assert before.status_code == 404


def test_list_1_is_answered_a_page_at_a_time(store_client: TestClient) -> None:
    plan = Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2021, 9, 1)}),
                   Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": date(2021, 9, 1)}], [("SLCN", 1)],
                          {"ReviewMeeting": date(2024, 9, 1), "LastReview": date(2024, 9, 20)}))  # fmt: skip
    people = [person(f"B{n:012d}", date(2014, 2, 2), "F", plan) for n in range(1, 6)]
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", sen2_xml(people), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    path = "/api/agencies/notts_cyp/annex-a-send"
    whole = store_client.get(path, headers=NOTTS, params={"inspection_date": ON.isoformat()}).json()
    assert (whole["total"], len(whole["rows"]), whole["next"]) == (5, 5, None)
    # No CIN census kept: each child lacks a disability status (Data to Insight's rule 103), one finding a row.
    assert whole["findings_total"] == len(whole["findings"]) == 5
    pages, address = [], f"{path}?inspection_date={ON.isoformat()}&limit=2"
    while address:
        answer = store_client.get(address, headers=NOTTS)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        address = answer.json()["next"]
    assert [len(p["rows"]) for p in pages] == [2, 2, 1]
    assert [r for p in pages for r in p["rows"]] == whole["rows"]
    assert [f for p in pages for f in p["findings"]] == whole["findings"]
    assert {p["findings_total"] for p in pages} == {5}
    assert [p["offset"] for p in pages] == [0, 2, 4]
    for refused in ({"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}):
        answer = store_client.get(path, headers=NOTTS, params={"inspection_date": ON.isoformat(), **refused})
        assert answer.status_code == 422, refused

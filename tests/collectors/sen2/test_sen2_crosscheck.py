"""Checks no single return can make: SEN2 against the CIN census and SSDA903 by UPN, each disagreement a query."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.sen2.crosscheck import CHECKS, cross_checks
from collectors.sen2.records import read_records
from collectors.sen2.schema import parse
from indicators.store.models import Submission
from mappings import keys
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.annex_a_cases import plant_kept, write_903
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
D = date


def _plan(res: str | None = None) -> Request:
    placement: dict[str, object] = {"URN": 100001, "PlacementRank": 1, "EntryDate": D(2023, 9, 1)}
    if res:
        placement["Res"] = res
    return Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": D(2020, 1, 1)}),
                   Active([placement], [("ASD", 1)]))  # fmt: skip


def _file() -> bytes:
    """Four children: 1 agrees everywhere; 2 has another birth date in the census and NONE as its disability; 3 is
    another sex in the SSDA903 and looked after in a residential school with no residential placement in SEN2; 4 is
    placed residentially in SEN2 and fostered in the SSDA903."""
    return sen2_xml([
        person("A100000000001", D(2012, 1, 1), "M", _plan()),
        person("A100000000002", D(2012, 2, 2), "F", _plan()),
        person("A100000000003", D(2013, 3, 3), "M", _plan()),
        person("A100000000004", D(2014, 4, 4), "F", _plan("B")),
    ])  # fmt: skip


def test_each_check_finds_its_child_and_no_other() -> None:
    records = read_records(parse(_file(), max_bytes=10**7), 2025)
    cin = {
        "Children": pl.DataFrame({"CHILD": ["c1", "c2"], "UPN": ["a100000000001", "A100000000002"],
                                  "PersonBirthDate": [D(2012, 1, 1), D(2012, 2, 3)], "Sex": ["1", "F"]}),
        "Disabilities": pl.DataFrame({"CHILD": ["c1", "c1", "c2"], "Disability": ["NONE", "AUT", "NONE"]}),
    }  # fmt: skip
    ssda903 = {
        "Header": pl.DataFrame({"CHILD": ["L3", "L4"], "UPN": ["A100000000003", "A100000000004"],
                                "DOB": [D(2013, 3, 3), D(2014, 4, 4)], "SEX": ["2", "2"]}),
        "Episodes": pl.DataFrame({"CHILD": ["L3", "L4"], "DECOM": [D(2024, 6, 1), D(2024, 6, 1)],
                                  "DEC": pl.Series([None, None], dtype=pl.Date), "PLACE": ["S1", "U4"]}),
    }  # fmt: skip
    found = [(q.check, q.other, q.upn, q.child) for q in cross_checks(records, cin, ssda903)]
    # In the checks' order, then by child: the same list however the joins happened to order their rows.
    assert found == [
        ("birth_date", "CIN census", "A100000000002", "c2"),
        ("sex", "SSDA903", "A100000000003", "L3"),
        ("plan_but_no_disability", "CIN census", "A100000000002", "c2"),
        ("residential_placement", "SSDA903", "A100000000003", "L3"),
        ("residential_placement", "SSDA903", "A100000000004", "L4"),
    ]
    assert cross_checks(records, None, None) == []


def test_the_council_sees_its_queries_and_the_officer_counts(store_client: TestClient) -> None:
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", _file(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    path = "/api/agencies/notts_cyp/sen2/2024-25/cross-checks"
    mine = store_client.get(path, headers=NOTTS).json()
    assert [c["check"] for c in mine["checks"]] == list(CHECKS)
    # No CIN census or SSDA903 kept for the council: nothing to compare, nothing queried.
    assert {c["queries"] for c in mine["checks"]} == {0}
    assert mine["queries"] == []
    officer = store_client.get(path, headers=OFFICER).json()
    assert "queries" not in officer
    assert "A100000000001" not in str(officer)


def test_the_children_behind_the_queries_are_the_councils_approvers_alone(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    # The council's SSDA903 holds child 3 with another sex and birth date than its SEN2 file: queries naming it.
    folder = tmp_path / "903"
    write_903(folder)
    header = (folder / "header.csv").read_text().splitlines()
    rows = [
        header[0],
        *(
            line.replace("INCARE,1,", "INCARE,2,").replace(",WBRI,,", ",WBRI,A100000000003,")
            if line.startswith("INCARE,")
            else line
            for line in header[1:]
        ),
    ]
    (folder / "header.csv").write_text("\n".join(rows) + "\n")
    planted = plant_kept(store, store_settings, "903", sorted(folder.iterdir()))
    with Session(store) as session:
        row = session.get(Submission, planted)
        assert row is not None
        row.collection_year = "2024-25"
        session.add(row)
        _, uploader = keys.create_key(session, role="agency", agency_code="notts_cyp", label="uploads only")
        session.commit()
    path = "/api/agencies/notts_cyp/sen2/2024-25/cross-checks"
    with client_on(store_settings, store) as client:
        sent = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                           files=[("files", ("sen2.xml", _file(), "application/xml"))])  # fmt: skip
        assert sent.status_code == 201, sent.text
        approver = client.get(path, headers=NOTTS)
        plain = client.get(path, headers={"X-API-Key": uploader})
    assert approver.status_code == plain.status_code == 200, (approver.text, plain.text)
    assert [(q["check"], q["upn"]) for q in approver.json()["queries"]] == [
        ("birth_date", "A100000000003"),
        ("sex", "A100000000003"),
    ]
    # A key of the council without the approver's scope reads the counts, as the officer does, and no child.
    assert plain.json()["checks"] == approver.json()["checks"]
    assert "queries" not in plain.json()
    assert "A100000000003" not in plain.text
    assert "approver" in plain.json()["children"]

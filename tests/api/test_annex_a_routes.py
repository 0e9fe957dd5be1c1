"""Annex A through the API and the council's page, from records kept encrypted in the store (SQLite and PostgreSQL):
the council's approver only, every view and download audited with the lists read, no child in any count, refusal,
audit line, log line or officer's page, and nothing of it written in clear."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from mappings import keys
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.annex_a_cases import CIN_XML, plant_kept, write_903
from tests.collectors.records.samples import every_text
from tests.web.pages import sign_in

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
#: Bodies that return neither the CIN census nor the SSDA903 (README, the demo's keys; both approvers).
PCT = {"X-API-Key": "demo-lewisham-pct-6b1e04c9"}
DRUGS = {"X-API-Key": "demo-lewisham-drugs-51b7c0e3"}
DATE = {"inspection_date": "2025-11-15"}
#: Every child of the hand-worked files, and a date of birth only they hold: none may show outside the workbook.
CHILDREN = ("REF1", "REF2", "UNBORN", "CLOSED8", "LEFT7", "INCARE", "ADOPT13", "ADOPT3", "CEASED5")
SENTINELS = (*CHILDREN, "2015-06-20", "20/06/2015", "NG2 2BB")


@dataclass
class Planted:
    """A store holding the council's kept CIN census and SSDA903 records, and a client on it."""

    client: TestClient
    engine: Engine
    settings: Settings


@pytest.fixture
def planted(store: Engine, store_settings: Settings, tmp_path: Path) -> Iterator[Planted]:
    census = tmp_path / "in" / "cin_census.xml"
    census.parent.mkdir()
    census.write_text(CIN_XML, encoding="utf-8")
    plant_kept(store, store_settings, "cin", [census])
    plant_kept(store, store_settings, "903", write_903(tmp_path / "in" / "903"))
    # The files planted are the council's; remove the clear copies so only the kept (encrypted) ones remain.
    for path in sorted((tmp_path / "in").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    with client_on(store_settings, store, follow_redirects=False) as client:
        yield Planted(client, store, store_settings)


def test_the_councils_approver_gets_counts_per_list_and_the_blank_columns(planted: Planted) -> None:
    answer = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params=DATE)
    assert answer.status_code == 200, answer.text
    facts = answer.json()
    counts = {item["list"]: item["rows"] for item in facts["lists"]}
    assert counts == {1: 0, 2: 0, 3: 4, 4: 1, 5: 1, 6: 3, 7: 1, 8: 3, 9: 0, 10: 1, 11: 0}
    assert len(facts["sources"]) == 2
    assert facts["layout_year"] == 2024
    list_8 = next(item for item in facts["lists"] if item["list"] == 8)
    assert "Placement Type" in list_8["filled"]
    assert {"column": "LA of Placement", "why": list_8["blank"][-5]["why"]} in list_8["blank"]
    assert not any(s in answer.text for s in SENTINELS)


def test_the_workbook_lists_the_children_and_the_download_is_audited(planted: Planted) -> None:
    answer = planted.client.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=NOTTS, params=DATE)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    book = fastexcel.read_excel(answer.content)
    in_care = book.load_sheet_by_name("List 8").to_polars()
    assert sorted(in_care["Child Unique ID"].to_list()) == ["ADOPT3", "CEASED5", "INCARE"]
    trail = planted.client.get("/api/audit", headers=OFFICER, params={"action": "annex_a.download"}).json()
    (event,) = trail["items"]
    assert event["object"] == "Annex A workbook of notts_cyp as at 2025-11-15"
    assert "8:3" in event["detail"]
    assert event["principal"].startswith("agency")
    # Nothing of a child in the audit trail, and nothing written in clear in the store or the data folder.
    assert not any(s in text for text in every_text(planted.engine) for s in SENTINELS)
    for path in planted.settings.data_dir.rglob("*"):
        if path.is_file() and "sqlite3" not in path.name:
            assert not any(s.encode() in path.read_bytes() for s in CHILDREN), path


def test_only_the_councils_own_approver_reads_it(planted: Planted) -> None:
    for path in ("/api/agencies/notts_cyp/annex-a", "/api/agencies/notts_cyp/annex-a.xlsx"):
        for who, status in ((OFFICER, 403), (DFE, 403), (LEWISHAM, 404), ({}, 401)):
            refused = planted.client.get(path, headers=who, params=DATE)
            assert refused.status_code == status, (path, who, refused.text)
            assert not any(s in refused.text for s in SENTINELS)
    with Session(planted.engine) as session:
        _, secret = keys.create_key(session, role="agency", agency_code="notts_cyp", label="uploads only")
        session.commit()
    plain = planted.client.get("/api/agencies/notts_cyp/annex-a", headers={"X-API-Key": secret}, params=DATE)
    assert plain.status_code == 403
    assert "approver" in plain.text
    bad = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params={"inspection_date": "15/11/2025"})
    assert bad.status_code == 422


def test_no_child_value_in_the_log(planted: Planted, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    planted.client.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=NOTTS, params=DATE)
    planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params=DATE)
    assert not any(s in record.getMessage() for record in caplog.records for s in SENTINELS)


def test_the_councils_page_shows_counts_and_offers_the_workbook(planted: Planted) -> None:
    sign_in(planted.client, NOTTS["X-API-Key"])
    shown = planted.client.get("/annex-a", params=DATE)
    assert shown.status_code == 200, shown.text
    assert 'id="counts"' in shown.text
    assert "List 8: Children in care" in shown.text
    assert not any(s in shown.text for s in SENTINELS)
    download = planted.client.get("/annex-a.xlsx", params=DATE)
    assert download.status_code == 200
    assert fastexcel.read_excel(download.content).sheet_names[0] == "Front_Sheet"
    wrong = planted.client.get("/annex-a", params={"inspection_date": "not a date"})
    assert wrong.status_code == 400
    assert "Give the inspection date as YYYY-MM-DD" in wrong.text


def test_an_officers_page_is_refused(planted: Planted) -> None:
    sign_in(planted.client, OFFICER["X-API-Key"])
    refused = planted.client.get("/annex-a", params=DATE)
    assert refused.status_code == 403
    assert not any(s in refused.text for s in SENTINELS)


def test_the_council_fills_the_columns_no_return_holds_by_child_id(planted: Planted) -> None:
    template = planted.client.get("/api/agencies/notts_cyp/annex-a/template.xlsx", headers=NOTTS)
    assert template.status_code == 200
    headings = [
        c.name
        for c in fastexcel.read_excel(template.content).load_sheet_by_name("Columns", n_rows=0).available_columns()
    ]
    assert headings[0] == "Child Unique ID"
    assert "List 8: Date of Last Social Work Visit" in headings
    assert "List 8: Placement Type" not in headings  # the records fill it
    good = (
        "Child Unique ID,List 8: Date of Last Social Work Visit,List 8: What is the permanence plan for this child?,"
        "List 3: Allocated Team\nINCARE,01/11/2025,f) Long-term fostering,\nREF1,,,Team North\n"
    )
    sent = planted.client.post(
        "/api/agencies/notts_cyp/annex-a/columns",
        headers=NOTTS,
        files={"file": ("cols.csv", good.encode(), "text/csv")},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["children"] == 2
    book = fastexcel.read_excel(
        planted.client.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=NOTTS, params=DATE).content
    )
    in_care = book.load_sheet_by_name("List 8").to_polars()
    (row,) = in_care.filter(in_care["Child Unique ID"] == "INCARE").to_dicts()
    assert row["What is the permanence plan for this child?"] == "f) Long-term fostering"
    assert str(row["Date of Last Social Work Visit"])[:10] == "2025-11-01"
    referrals = book.load_sheet_by_name("List 3").to_polars()
    assert referrals.filter(referrals["Child Unique ID"] == "REF1")["Allocated Team"].to_list() == ["Team North"]
    facts = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params=DATE).json()
    list_8 = next(item for item in facts["lists"] if item["list"] == 8)
    assert "What is the permanence plan for this child?" in list_8["council_filled"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("Child Unique ID,List 8: Placement Type\nINCARE,K2\n", "filled from your CIN census and SSDA903 records"),
        (
            "Child Unique ID,List 8: Date of Last Social Work Visit\nINCARE,31/02/2025\n",
            "row 2, column 'List 8: Date of Last Social Work Visit': not a date",
        ),
        (
            "Child Unique ID,List 8: What is the permanence plan for this child?\nINCARE,Fostering\n",
            "row 2, column 'List 8: What is the permanence plan for this child?': not one of Ofsted's codes",
        ),
        ("Child Unique ID,List 3: Allocated Team\nREF1,A\nREF1,B\n", "row 3: the child id repeats row 2"),
        ("Child Unique ID,Something else\nREF1,A\n", "column(s) 2"),
    ],
)
def test_a_columns_file_is_refused_by_row_and_column_and_nothing_is_kept(
    planted: Planted, body: str, said: str
) -> None:
    refused = planted.client.post(
        "/api/agencies/notts_cyp/annex-a/columns",
        headers=NOTTS,
        files={"file": ("cols.csv", body.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert said in refused.text, refused.text
    # The refused values are not quoted back.
    assert "Fostering" not in refused.text or "Long-term fostering" in refused.text
    assert "31/02/2025" not in refused.text
    facts = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params=DATE).json()
    assert all(item["council_filled"] == [] for item in facts["lists"])


def test_the_council_sends_its_columns_from_the_page(planted: Planted) -> None:
    token = sign_in(planted.client, NOTTS["X-API-Key"])
    template = planted.client.get("/annex-a/template.xlsx")
    assert template.status_code == 200
    assert fastexcel.read_excel(template.content).sheet_names == ["Columns", "Codes"]
    body = b"Child Unique ID,List 8: Date of Last Social Work Visit\nINCARE,not a date\n"
    refused = planted.client.post(
        "/annex-a/columns", data={"csrf_token": token}, files={"file": ("cols.csv", body, "text/csv")}
    )
    assert refused.status_code == 400
    assert "row 2, column" in refused.text
    assert "not a date" in refused.text
    body = b"Child Unique ID,List 8: Date of Last Social Work Visit\nINCARE,01/11/2025\n"
    sent = planted.client.post(
        "/annex-a/columns", data={"csrf_token": token}, files={"file": ("cols.csv", body, "text/csv")}
    )
    assert sent.status_code == 200
    assert "Your columns for 1 child are kept" in sent.text


def test_a_date_out_of_range_or_a_repeated_heading_is_refused_not_a_failure(planted: Planted) -> None:
    for day in ("0001-01-01", "9999-12-31"):
        refused = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params={"inspection_date": day})
        assert refused.status_code == 422, refused.text
    body = b"Child Unique ID,List 3: Allocated Team, List 3: Allocated Team\nREF1,A,B\n"
    twice = planted.client.post(
        "/api/agencies/notts_cyp/annex-a/columns", headers=NOTTS, files={"file": ("c.csv", body, "text/csv")}
    )
    assert twice.status_code == 422
    assert "a heading repeats" in twice.text


@pytest.mark.parametrize(
    ("who", "code", "returns"), [(PCT, "lewisham_pct", "vital_signs"), (DRUGS, "lewisham_drugs", "")]
)
def test_a_body_returning_neither_the_cin_census_nor_the_ssda903_is_told_why_not_given_an_empty_workbook(
    planted: Planted, who: dict[str, str], code: str, returns: str
) -> None:
    for path in (f"/api/agencies/{code}/annex-a", f"/api/agencies/{code}/annex-a.xlsx"):
        refused = planted.client.get(path, headers=who, params=DATE)
        assert refused.status_code == 404, (path, refused.status_code)
        said = refused.json()["error"]
        assert "CIN census and SSDA903" in said
        assert "returns neither" in said
        assert returns in said
    sign_in(planted.client, who["X-API-Key"])
    page = planted.client.get("/annex-a", params=DATE)
    assert page.status_code == 404
    assert "returns neither" in page.text
    assert 'href="/annex-a"' not in planted.client.get("/agency").text  # no link to a page it cannot use


def test_the_councils_approver_finds_annex_a_from_its_pages(planted: Planted) -> None:
    sign_in(planted.client, NOTTS["X-API-Key"])
    for start in ("/agency", "/submissions", "/annex-a"):
        shown = planted.client.get(start)
        assert shown.status_code == 200, start
        assert 'href="/annex-a"' in shown.text, start


def test_refusals_and_dates_are_said_as_an_officer_reads_them(planted: Planted) -> None:
    day = planted.client.get("/api/agencies/notts_cyp/annex-a", headers=NOTTS, params={"inspection_date": "20250331"})
    assert day.status_code == 422
    assert day.json()["error"] == "Give the inspection date as YYYY-MM-DD, for example 2025-03-31"
    with Session(planted.engine) as session:
        _, secret = keys.create_key(session, role="agency", agency_code="notts_cyp", label="uploads only")
        session.commit()
    plain = planted.client.get("/api/agencies/notts_cyp/annex-a", headers={"X-API-Key": secret}, params=DATE)
    assert plain.status_code == 403
    assert plain.json()["error"].startswith("Only your council's approvers may build Annex A")
    with client_on(planted.settings, planted.engine, follow_redirects=False) as uploader:
        sign_in(uploader, secret)
        refused = uploader.get("/annex-a", params=DATE)
    assert refused.status_code == 403
    assert "Only your council&#39;s approvers may build Annex A" in refused.text
    assert "lacks the scope" not in refused.text
    sign_in(planted.client, NOTTS["X-API-Key"])
    basic = planted.client.get("/annex-a", params={"inspection_date": "20250331"})
    assert basic.status_code == 400
    assert "Give the inspection date as YYYY-MM-DD" in basic.text


def test_the_front_sheet_and_page_say_what_cv_is(planted: Planted) -> None:
    book = planted.client.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=NOTTS, params=DATE)
    front = fastexcel.read_excel(book.content).load_sheet_by_name("Front_Sheet", header_row=None).to_polars()
    cells = [str(v) for column in front.columns for v in front[column].to_list() if v is not None]
    assert any(c.startswith("[CV] Coverage table") for c in cells)
    assert any("[CV]" in c and not c.startswith("[CV]") for c in cells)  # the mark used, and said what it is
    sign_in(planted.client, NOTTS["X-API-Key"])
    assert "[CV] Coverage table" in planted.client.get("/annex-a", params=DATE).text

"""No value from a child's record reaches a message, the log, an audit line or the store: a sentinel planted in
every field a reader can refuse (CIN census XML, SSDA903 CSV and XML) is found in none of the API's answers, the
pages, the log or any table of the store."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import fastexcel
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.records.cin_tables import COLUMNS, DATE_COLUMNS, YES_NO_COLUMNS
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.annex_a_cases import CIN_XML, plant_kept, write_903
from tests.collectors.records.samples import FIXTURES, PASSING, every_text, upload
from tests.helpers import NOTTS, OFFICER
from tests.web.pages import AGENCY, sign_in
from tests.web.pages import OFFICER as OFFICER_KEY

#: Unreadable as a date, a yes/no, a number or a distance, and found nowhere else.
SENTINEL = "ZQX7731"

#: A CIN census child with every element a reader types, each a readable value or a {placeholder}.
_CIN = """<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2025</Year>
<ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails></Header><Children><Child>
<ChildIdentifiers><LAchildID>K100</LAchildID><UPN>A123456789012</UPN>
<PersonBirthDate>{Children.PersonBirthDate}</PersonBirthDate>
<ExpectedPersonBirthDate>{Children.ExpectedPersonBirthDate}</ExpectedPersonBirthDate>
<GenderCurrent>1</GenderCurrent><PersonDeathDate>{Children.PersonDeathDate}</PersonDeathDate></ChildIdentifiers>
<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
<CINdetails><CINreferralDate>{CINdetails.CINreferralDate}</CINreferralDate><ReferralSource>1A</ReferralSource>
<PrimaryNeedCode>N1</PrimaryNeedCode><CINclosureDate>{CINdetails.CINclosureDate}</CINclosureDate>
<ReasonForClosure>RC7</ReasonForClosure><DateOfInitialCPC>{CINdetails.DateOfInitialCPC}</DateOfInitialCPC>
<Assessments><AssessmentActualStartDate>{Assessments.AssessmentActualStartDate}</AssessmentActualStartDate>
<AssessmentInternalReviewDate>{Assessments.AssessmentInternalReviewDate}</AssessmentInternalReviewDate>
<AssessmentAuthorisationDate>{Assessments.AssessmentAuthorisationDate}</AssessmentAuthorisationDate></Assessments>
<CINPlanDates><CINPlanStartDate>{CINPlanDates.CINPlanStartDate}</CINPlanStartDate>
<CINPlanEndDate>{CINPlanDates.CINPlanEndDate}</CINPlanEndDate></CINPlanDates>
<Section47><S47ActualStartDate>{Section47.S47ActualStartDate}</S47ActualStartDate>
<InitialCPCtarget>{Section47.InitialCPCtarget}</InitialCPCtarget>
<DateOfInitialCPC>{Section47.DateOfInitialCPC}</DateOfInitialCPC>
<ICPCnotRequired>{Section47.ICPCnotRequired}</ICPCnotRequired></Section47>
<ReferralNFA>{CINdetails.ReferralNFA}</ReferralNFA>
<ChildProtectionPlans><CPPstartDate>{ChildProtectionPlans.CPPstartDate}</CPPstartDate>
<CPPendDate>{ChildProtectionPlans.CPPendDate}</CPPendDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>
<NumberOfPreviousCPP>{ChildProtectionPlans.NumberOfPreviousCPP}</NumberOfPreviousCPP>
<Reviews><CPPreviewDate>{Reviews.CPPreviewDate}</CPPreviewDate></Reviews></ChildProtectionPlans>
</CINdetails></Child></Children></Message>"""

#: Every field the CIN reader types, so can refuse.
CIN_TYPED = [
    (table, column)
    for table, columns in COLUMNS.items()
    for column in columns
    if column in DATE_COLUMNS or column in YES_NO_COLUMNS or column == "NumberOfPreviousCPP"
]


def _readable(column: str) -> str:
    if column in YES_NO_COLUMNS:
        return "false"
    return "0" if column == "NumberOfPreviousCPP" else "2024-06-01"


def cin_with_sentinel_in(field: tuple[str, str]) -> bytes:
    """The census with the sentinel in one field and readable values in every other."""
    values = {f"{t}.{c}": (SENTINEL if (t, c) == field else _readable(c)) for t, c in CIN_TYPED}
    return re.sub(r"\{([A-Za-z0-9]+\.[A-Za-z0-9]+)\}", lambda m: values[m.group(1)], _CIN).encode()


def _903_csvs_with_sentinel(folder: Path) -> list[Path]:
    """The passing 903 tables with the sentinel in every date of the first child."""
    out = []
    for path in PASSING:
        lines = path.read_text().splitlines()
        header = lines[0].split(",")
        rows = [line.split(",") for line in lines[1:]]
        for column in ("DOB", "MC_DOB", "DECOM", "DEC"):
            if column in header:
                rows[0][header.index(column)] = SENTINEL
        target = folder / path.name
        target.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
        out.append(target)
    return out


def _903_xml_with_sentinel() -> bytes:
    text = (FIXTURES / "ssda903.xml").read_text()
    for element in ("DOB", "DECOM", "DEC", "REVIEW"):
        text = re.sub(rf"<{element}>[^<]+</{element}>", f"<{element}>{SENTINEL}</{element}>", text, count=1)
    return text.encode()


def test_a_sentinel_in_every_refusable_field_reaches_no_message_log_page_or_table(
    store: Engine, store_client: TestClient, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert len(CIN_TYPED) == 20
    sent: list[int] = []
    for field in CIN_TYPED:
        parts = [("files", ("census.xml", cin_with_sentinel_in(field), "application/xml"))]
        answer = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=parts)
        assert answer.status_code == 202, answer.text
        sent.append(answer.json()["id"])
        report = store_client.get(f"/api/submissions/{sent[-1]}", headers=NOTTS).json()
        # Each field is refused by name, its value not quoted.
        assert report["status"] == "rejected", field
        assert field[1] in report["message"], (field, report["message"])
    # DfE's runner takes no PL_DISTANCE column in a CSV, so the reader's refusal of a distance is
    # tested on the reader itself (test_ssda903_figures); here every date of the first child holds it.
    answer = upload(store_client, _903_csvs_with_sentinel(tmp_path))
    assert answer.status_code == 202, answer.text
    sent.append(answer.json()["id"])
    parts = [("files", ("return.xml", _903_xml_with_sentinel(), "application/xml"))]
    answer = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=parts)
    assert answer.status_code == 202, answer.text
    sent.append(answer.json()["id"])

    answers: list[str] = []
    for key in (NOTTS, OFFICER):
        answers.append(store_client.get("/api/submissions", headers=key, params={"limit": 100}).text)
        for sid in sent:
            answers.append(store_client.get(f"/api/submissions/{sid}", headers=key).text)
            answers.append(store_client.get(f"/api/submissions/{sid}/report.csv", headers=key).text)
    for sid in sent:
        answers.append(store_client.get(f"/api/submissions/{sid}/records", headers=NOTTS).text)
    answers.append(store_client.get("/api/audit", headers=OFFICER, params={"limit": 500}).text)
    for web_key in (OFFICER_KEY, AGENCY):
        with client_on(store_settings, store, follow_redirects=False) as web:
            sign_in(web, web_key)
            answers.append(web.get("/submissions").text)
            answers += [web.get(f"/submissions/{sid}").text for sid in sent]
    assert all(answers)
    leaks = [a[max(0, a.find(SENTINEL) - 200) : a.find(SENTINEL) + 50] for a in answers if SENTINEL in a]
    assert not leaks, leaks[:3]
    assert SENTINEL not in caplog.text
    assert not [t for t in every_text(store) if SENTINEL in t]
    for path in store_settings.data_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path


def test_annex_a_names_a_child_only_in_the_councils_own_workbook(
    store: Engine, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The sentinel as a child's id and placement postcode in records that passed DfE's rules: Annex A's workbook
    lists it for the council's approver; no count, refusal, audit line, log line, page or table holds it."""
    caplog.set_level(logging.DEBUG)
    census = tmp_path / "in" / "census.xml"
    census.parent.mkdir()
    census.write_text(CIN_XML.replace("REF2", SENTINEL), encoding="utf-8")
    plant_kept(store, store_settings, "cin", [census])
    tables = write_903(tmp_path / "in" / "903")
    episodes = tables[1]
    episodes.write_text(episodes.read_text().replace("INCARE", SENTINEL).replace("NG2 2BB", SENTINEL))
    plant_kept(store, store_settings, "903", tables)
    for path in sorted((tmp_path / "in").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    date = {"inspection_date": "2025-11-15"}
    answers: list[str] = []
    with client_on(store_settings, store, follow_redirects=False) as api:
        book = api.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=NOTTS, params=date)
        assert book.status_code == 200
        in_care = fastexcel.read_excel(book.content).load_sheet_by_name("List 8").to_polars()
        assert SENTINEL in in_care["Child Unique ID"].to_list()
        assert SENTINEL in in_care["Placement postcode"].to_list()
        # The counts, to the council and (refused) to the officer; the workbook refused to the officer.
        for key in (NOTTS, OFFICER):
            answers.append(api.get("/api/agencies/notts_cyp/annex-a", headers=key, params=date).text)
        answers.append(api.get("/api/agencies/notts_cyp/annex-a.xlsx", headers=OFFICER, params=date).text)
        answers.append(api.get("/api/audit", headers=OFFICER, params={"limit": 500}).text)
    for web_key in (OFFICER_KEY, AGENCY):
        with client_on(store_settings, store, follow_redirects=False) as web:
            sign_in(web, web_key)
            answers.append(web.get("/annex-a", params=date).text)
            answers.append(web.get("/submissions").text)
    assert all(answers)
    leaks = [a[max(0, a.find(SENTINEL) - 200) : a.find(SENTINEL) + 50] for a in answers if SENTINEL in a]
    assert not leaks, leaks[:3]
    assert SENTINEL not in caplog.text
    assert not [t for t in every_text(store) if SENTINEL in t]
    for path in store_settings.data_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path

"""The SEND team's page with the council's school census kept: the lists' workbook holds List 1 and List 2, the page
says what the census fills of each, column by column, to the approver, and the checks across returns name children
to the approver alone."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from mappings import keys
from onereturn.settings import Settings
from tests.census.test_lists_store import NOTTS, ON, B, _keep_census, _plan
from tests.collectors.sen2.builder import person, sen2_xml
from tests.web.pages import AGENCY, sign_in


def test_the_page_says_what_the_census_fills_and_the_workbook_holds_both_lists(
    web: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    # B has a plan in SEN2 and SEN support in the census: a query naming B, to the approver alone.
    people = [
        person("A801200001001", date(2014, 3, 1), "F", _plan(100001)),
        person(B, date(2013, 5, 5), "M", _plan(None)),
    ]
    sent = web.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                    files=[("files", ("sen2.xml", sen2_xml(people), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    sign_in(web, AGENCY)
    before = web.get("/send", params={"year": "2024-25", "inspection_date": ON})
    assert before.status_code == 200
    assert 'id="census-filled"' not in before.text
    _keep_census(store, store_settings, tmp_path)
    html = web.get("/send", params={"year": "2024-25", "inspection_date": ON}).text
    assert "What your school census fills" in html
    filled = html.split('id="census-filled"')[1].split("</table>")[0]
    cells = dict(re.findall(r'<th scope="row" class="govuk-table__header">([^<]*)</th><td[^>]*>([^<]*)</td>', filled))
    assert cells["Absence"] == "1"
    assert cells["Pupil Premium"] == "2"  # A by free school meals, B's "No"
    assert "from school census of 2025-01-16 (council schools)" in html
    assert "Download List 1 and List 2" in html
    workbook = web.get("/send-list1.xlsx", params={"inspection_date": ON})
    assert workbook.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(workbook.content))
    assert book.sheetnames == ["List_1", "List_2", "Notes"]
    assert book["List_2"].max_row == 3  # two pupils on SEN support under the headings
    queries = html.split('id="queries"')[1].split("</table>")[0]
    assert "plan_not_in_census" in queries
    assert B in queries
    with Session(store) as session:
        _, uploader = keys.create_key(session, role="agency", agency_code="notts_cyp", label="uploads only")
        session.commit()
    web.cookies.clear()
    sign_in(web, uploader)
    plain = web.get("/send", params={"year": "2024-25", "inspection_date": ON}).text
    assert "shown to your council's approvers only" in plain
    assert B not in plain
    assert 'id="census-filled"' not in plain

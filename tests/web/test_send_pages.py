"""The SEND team's pages, in process: the officer loads GIAS's register (a wrong one refused, the register held kept);
the council sends its SEN2 file (a refusal listed by module, child and item), reads where its children with plans
are taught and how that differs by ethnicity as charts with their figures beside, opens a table, downloads its CSV
and List 1, and sees the checks across its returns."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
from fastapi.testclient import TestClient

from cli.synthetic.gias import establishment, gias_csv
from tests.collectors.sen2.test_sen2_breakdowns import hand_worked
from tests.mappings.test_establishments import LINKS, NAME, links_file, register_file
from tests.web.pages import AGENCY, OFFICER, csrf_token, sign_in


def test_the_officer_loads_the_register_and_a_wrong_one_is_refused(web: TestClient) -> None:
    sign_in(web, OFFICER)
    page = web.get("/officer/establishments")
    assert page.status_code == 200
    assert 'id="held">No register is loaded' in page.text
    csrf = csrf_token(page.text)
    files = {"file": (NAME, register_file(), "text/csv"), "links": (LINKS, links_file(), "text/csv")}
    loaded = web.post("/officer/establishments", data={"csrf_token": csrf}, files=files)
    assert loaded.status_code == 303, loaded.text
    held = web.get(loaded.headers["location"]).text
    assert "22 April 2025" in held
    assert f"6 ({NAME})" in held
    wrong = gias_csv([establishment(1, 1), establishment(1, 2)])
    refused = web.post(
        "/officer/establishments", data={"csrf_token": csrf}, files={"file": ("x.csv", wrong, "text/csv")}
    )
    assert refused.status_code == 422
    assert "URN 1 given more than once" in refused.text
    assert "22 April 2025" in refused.text


def test_the_council_sends_its_file_and_reads_its_tables_and_charts(web: TestClient) -> None:
    sign_in(web, OFFICER)
    csrf = csrf_token(web.get("/officer/establishments").text)
    files = {"file": (NAME, register_file(), "text/csv"), "links": (LINKS, links_file(), "text/csv")}
    assert web.post("/officer/establishments", data={"csrf_token": csrf}, files=files).status_code == 303
    web.cookies.clear()
    sign_in(web, AGENCY)
    page = web.get("/send?year=2024-25")
    assert page.status_code == 200
    assert 'id="no-tables"' in page.text
    csrf = csrf_token(page.text)
    # A child's ethnicity code that is not one: refused, listed by module, child and item; nothing kept.
    broken = hand_worked().replace(b"<Ethnicity>CHNE</Ethnicity>", b"<Ethnicity>XXXX</Ethnicity>")
    refused = web.post(
        "/send",
        data={"csrf_token": csrf, "collection_year": "2024-25"},
        files=[("files", ("sen2.xml", broken, "application/xml"))],
    )
    assert refused.status_code == 422
    cells = re.findall(r'<td class="govuk-table__cell">([^<]*)</td>', refused.text.split('id="refusal-table"')[1])
    assert cells[:3] == ["Module 1: person", "child 2", "Ethnicity"]
    assert 'id="no-tables"' in refused.text
    sent = web.post(
        "/send",
        data={"csrf_token": csrf, "collection_year": "2024-25"},
        files=[("files", ("sen2.xml", hand_worked(), "application/xml"))],
    )
    assert sent.status_code == 303, sent.text
    html = web.get(sent.headers["location"]).text
    assert 'id="sent"' in html
    assert "Where children with EHC plans are taught (% of plans in force)" in html
    assert "Where children with EHC plans are taught, by ethnicity" in html
    taught = re.findall(r"<td[^>]*>([^<]*)</td>", html.split('id="where-taught"')[1].split("</table>")[0])
    assert taught[:3] == ["Mainstream", "2", "33.3"]
    assert html.count('href="/send/2024-25/') == 24
    table = web.get("/send/2024-25/sen_needs_all_plans")
    assert table.status_code == 200
    assert "Special - Academy/free schools" in table.text
    assert "URN 999999 not on the register" in table.text
    download = web.get("/send/2024-25/caseload.csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert rows[0]["la_name"] == "Nottinghamshire"
    workbook = web.get("/send-list1.xlsx?inspection_date=2025-03-31")
    assert workbook.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).worksheets[0]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    phases = [
        r[header.index("Main education establishment – phase")] for r in sheet.iter_rows(min_row=2, values_only=True)
    ]
    assert "Primary" in phases
    assert 'id="checks"' in html

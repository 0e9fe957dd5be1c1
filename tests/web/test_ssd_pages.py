"""The pages of a council's SSD extract: the upload page's records form takes an extract and says so, with each file
made and where it has got to; the approver's pages of the files made (state, counts, download) and of DfE's payloads
(children, changes since the extract before), linked from its pages; a body owing no children's return is told
why. Runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cli.synthetic.ssd import synthetic_ssd
from indicators.store.models import Submission
from tests.web.pages import sign_in

COUNTY = "demo-synthetic-county-8e3d5a17c4"
DAP = "demo-barnet-dap-f3449fec89"
LA = "E10000007"


def _send_extract(web: TestClient, csrf: str, path: Path) -> str:
    files = [("files", (path.name, path.read_bytes(), "application/zip"))]
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf}, files=files)
    assert sent.status_code == 200, sent.text
    return str(sent.text)


def test_the_records_form_takes_an_ssd_extract_and_follows_each_file_made(
    web: TestClient, store: Engine, tmp_path: Path
) -> None:
    csrf = sign_in(web, COUNTY)
    extract = synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la=LA)
    html = _send_extract(web, csrf, extract)
    assert f"Your SSD extract {extract.name}" in html
    assert "Your SSD extract was checked and 2 files made from it" in html
    made = re.findall(r'data-submission="(\d+)" data-stage="(\w+)"', html)
    assert len(made) == 2
    with Session(store) as session:
        names = {session.get(Submission, int(sid)).filename for sid, _ in made}  # type: ignore[union-attr]
    assert names == {"cin_census_from_ssd.xml", "ssda903_from_ssd.zip"}
    for sid, _ in made:
        assert f'href="/submissions/{sid}"' in html
        # Each file made is followed on its own page, as the council's own files are.
        followed = web.get(f"/submissions/{sid}")
        assert followed.status_code == 200
        assert 'id="stage"' in followed.text
    assert 'id="notes"' in html
    assert 'href="/record-files"' in html
    again = _send_extract(web, csrf, extract)
    assert "You sent this extract before: nothing new was made" in again


def test_the_approver_reads_the_files_made_and_dfes_payloads(web: TestClient, store: Engine, tmp_path: Path) -> None:
    csrf = sign_in(web, COUNTY)
    assert 'href="/record-files"' in web.get("/upload").text  # in the service navigation
    empty = web.get("/record-files")
    assert empty.status_code == 200, empty.text
    assert 'id="no-files"' in empty.text
    _send_extract(web, csrf, synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la=LA))
    html = web.get("/record-files").text
    rows = dict(re.findall(r'data-file="([\w.]+)" data-status="(\w+)"', html))
    assert rows == {"cin_census.xml": "accepted", "ssda903.zip": "accepted"}
    assert 'href="/record-files/2024-25/cin_census.xml"' in html
    census = web.get("/record-files/2024-25/cin_census.xml")
    assert census.status_code == 200
    assert census.content.startswith(b"<?xml")
    assert census.headers["cache-control"] == "no-store"
    assert 'href="/csc-api"' in html
    payloads = web.get("/csc-api")
    assert payloads.status_code == 200, payloads.text
    children = re.search(r'id="children">([\d,]+)<', payloads.text)
    new = re.search(r'id="new">([\d,]+)<', payloads.text)
    assert children
    assert new
    assert int(children.group(1).replace(",", "")) == int(new.group(1).replace(",", "")) > 0
    changed = re.findall(r'<tr class="govuk-table__row"><td class="govuk-table__cell">([^<]+)</td>', payloads.text)
    assert len(changed) == min(100, int(new.group(1).replace(",", "")))
    # A 903 DfE's rules refused is not offered to send: the page says so and where its findings are.
    with Session(store) as session:
        sub = next(
            s
            for s in (session.get(Submission, int(i)) for i in re.findall(r'href="/submissions/(\d+)"', html))
            if s is not None and s.filename == "ssda903_from_ssd.zip"
        )
        sub.status, sub.stage = "rejected", "rejected"
        session.add(sub)
        session.commit()
        refused_id = sub.id
    html = web.get("/record-files").text
    assert 'href="/record-files/2024-25/ssda903.zip"' not in html
    assert f'href="/submissions/{refused_id}/records"' in html
    assert "Not to send" in html
    refused = web.get("/record-files/2024-25/ssda903.zip")
    assert refused.status_code == 409
    assert "was rejected" in refused.text


def test_a_body_owing_no_childrens_return_is_told_why(web: TestClient) -> None:
    sign_in(web, DAP)
    for route in ("/record-files", "/csc-api"):
        answer = web.get(route)
        assert answer.status_code == 403, answer.text
        assert (
            "owes none of the children in need census, DfE&#39;s children looked after return (SSDA903) or DfE&#39;s SEN2 survey"
            in answer.text
        )

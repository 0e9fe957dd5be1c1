"""A school census through the way in: told by its blades' headings, sent by the record-level field, the upload
process and the census page, its pupils kept by what the council's SEN2 holds; and each bad input refused with its
reason at every field and page a file can be sent to, nothing of it kept and no pupil's value logged."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors import ways_in
from collectors.census.kept import newest_censuses
from collectors.census.synthetic import Child, made_upn, write_census
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.sen2.builder import person, sen2_xml
from tests.helpers import kept_names
from tests.web.pages import AGENCY, csrf_token, sign_in

NOTTS = {"X-API-Key": AGENCY}
#: A child with an EHC plan in the council's SEN2 file, and one its records do not hold: neither on SEN support.
IN_SEN2, NOWHERE = made_upn("891", 11), made_upn("891", 12)


def _blades(folder: Path, **more: Any) -> list[tuple[str, Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    children = [Child(u, date(2013, 3, 1), "F", "N", "8912000", "100000") for u in (IN_SEN2, NOWHERE)]
    return write_census(folder, children, year=2025, term="spring", others=120, seed=3, **more)


def _zipped(files: list[tuple[str, Path]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            archive.write(path, name)
    return out.getvalue()


def _post(client: TestClient, parts: list[tuple[str, bytes]], year: str = "2024-25") -> Any:
    return client.post("/api/submissions", headers=NOTTS, data={"collection_year": year},
                       files=[("files", (name, data, "text/csv")) for name, data in parts])  # fmt: skip


def _nothing_kept(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        assert session.exec(select(Submission).where(col(Submission.source_format) == "census")).first() is None
    assert kept_names(engine, settings, "records") == []


def test_a_census_is_told_by_its_blades_and_kept_with_the_pupils_the_councils_sen2_names(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sen2 = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", sen2_xml([person(IN_SEN2, date(2013, 3, 1), "F")]),
                                               "application/xml"))])  # fmt: skip
    assert sen2.status_code == 201, sen2.text
    files = _blades(tmp_path / "blades")
    assert ways_in.way_of(ways_in.RecordFiles("notts_cyp", "2024-25", files)).name == "census"
    sent = _post(store_client, [("census.zip", _zipped(files))])
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["rows_read"] == 122
    (kept,) = newest_censuses(store, store_settings, "notts_cyp", date(2025, 3, 31))
    upns = kept.pupils.get_column("upn").to_list()
    assert IN_SEN2 in upns
    assert NOWHERE not in upns
    assert body["rows_accepted"] == kept.pupils.height
    again = _post(store_client, [("census.zip", _zipped(files))])
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert all(upn not in caplog.text for upn in (IN_SEN2, NOWHERE))


def _truncated(files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    return [("2025_spring_la.zip", _zipped(files)[:-300])]


def _bomb(_files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    out = io.BytesIO()
    # 300 MB of zeros deflate to a few hundred KB: over the census's limit once unpacked.
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("2025_spring_la_pupilonroll.csv", "w") as member,
    ):
        member.write(b"pupilonrolltableid,NativeId\n")
        for _ in range(300):
            member.write(b"0" * 1_000_000)
    return [("2025_spring_la.zip", out.getvalue())]


def _formula(files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    parts = [(name, path.read_bytes()) for name, path in files]
    return [(n, d.replace(NOWHERE.encode(), b"=HYPERLINK(1)", 1) if "pupilonroll" in n else d) for n, d in parts]


def _other_term(files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    # Spring's blades named as the autumn census's: spring's SEN needs table is no autumn census's.
    return [(name.replace("spring", "autumn").replace("2025", "2024"), path.read_bytes()) for name, path in files]


BAD = {
    "a truncated ZIP": (_truncated, "ZIP"),
    "a ZIP bomb": (_bomb, "limit"),
    "a formula cell": (_formula, "formula"),
    "another term's schema": (_other_term, "schema"),
}


@pytest.mark.parametrize("bad", list(BAD))
def test_each_bad_census_is_refused_at_the_record_level_field_with_its_reason_and_nothing_kept(
    store_client: TestClient,
    store: Engine,
    store_settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    bad: str,
) -> None:
    made, said = BAD[bad]
    answer = _post(store_client, made(_blades(tmp_path / "blades")))
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["error"]
    assert "HYPERLINK" not in answer.text
    _nothing_kept(store, store_settings)
    assert all(upn not in caplog.text for upn in (IN_SEN2, NOWHERE))
    assert "HYPERLINK" not in caplog.text


def test_a_census_over_the_size_limit_is_refused_before_it_is_read(store: Engine, tmp_path: Path) -> None:
    from tests.apps import client_on

    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=20_000)
    files = _blades(tmp_path / "blades")
    with client_on(settings, store) as client:
        answer = _post(client, [(name, path.read_bytes()) for name, path in files])
    assert answer.status_code == 413, answer.text
    _nothing_kept(store, settings)


def test_a_census_sent_as_a_file_of_figures_is_refused_as_childrens_records(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    (name, path), *_ = [f for f in _blades(tmp_path / "blades") if "pupilonroll" in f[0]]
    answer = store_client.post("/api/submissions", headers=NOTTS, files={"file": (name, path.read_bytes())})
    assert answer.status_code == 422, answer.text
    assert "a school census's blade CSV, children's records, not a file of figures" in answer.json()["error"]
    _nothing_kept(store, store_settings)


@pytest.fixture
def web(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    """A browser-like client (cookies kept, redirects not followed) on a private database whose requests commit."""
    with client_on(store_settings, store, follow_redirects=False) as client:
        yield client


def test_the_census_page_sends_a_census_lists_its_refused_cells_and_refuses_a_bad_one(
    web: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    sign_in(web, AGENCY)
    page = web.get("/census")
    assert page.status_code == 200
    assert 'id="no-census"' in page.text
    csrf = csrf_token(page.text)
    files = _blades(tmp_path / "blades")
    broken = _truncated(files)
    refused = web.post("/census", data={"csrf_token": csrf, "collection_year": "2024-25"},
                       files=[("files", (n, d, "application/zip")) for n, d in broken])  # fmt: skip
    assert refused.status_code == 422
    assert "There is a problem" in refused.text
    _nothing_kept(store, store_settings)
    # A UPN without its check letter: the cell read blank and listed by file, table, row and item; the census kept.
    parts = [(n, p.read_bytes()) for n, p in files]
    wrong = "A" + NOWHERE[1:] if NOWHERE[0] != "A" else "B" + NOWHERE[1:]
    parts = [(n, d.replace(NOWHERE.encode(), wrong.encode()) if "pupilonroll" in n else d) for n, d in parts]
    sent = web.post("/census", data={"csrf_token": csrf, "collection_year": "2024-25"},
                    files=[("files", (n, d, "text/csv")) for n, d in parts])  # fmt: skip
    assert sent.status_code == 303, sent.text
    html = web.get(sent.headers["location"]).text
    assert 'id="sent"' in html
    assert "122 pupils read" in html
    cells = html.split('id="found-table"')[1].split("</table>")[0]
    assert "2025_spring_la_pupilonroll.csv" in cells
    assert "pupilonroll" in cells
    assert ">upn<" in cells
    assert wrong not in html
    assert 'id="kept"' in html
    assert "was partly accepted" in html


def test_a_census_kept_with_refused_cells_is_partly_accepted_and_its_report_names_no_pupils_value(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = _blades(tmp_path / "blades")
    wrong = "A" + NOWHERE[1:] if NOWHERE[0] != "A" else "B" + NOWHERE[1:]
    parts = [(n, p.read_bytes()) for n, p in files]
    parts = [(n, d.replace(NOWHERE.encode(), wrong.encode()) if "pupilonroll" in n else d) for n, d in parts]
    sent = _post(store_client, parts)
    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["error_count"]) == ("partially_accepted", 1)
    report = store_client.get(f"/api/submissions/{sent.json()['id']}", headers=NOTTS)
    assert report.status_code == 200, report.text
    (problem,) = report.json()["problems"]
    assert (problem["column"], problem["value"], problem["rule"]) == ("pupilonroll: upn", None, "census_schema")
    assert problem["message"].startswith("2025_spring_la_pupilonroll.csv: ")
    assert isinstance(problem["row"], int)
    listed = store_client.get(f"/api/submissions/{sent.json()['id']}/report.csv", headers=NOTTS).text
    assert "pupilonroll: upn" in listed
    for shown in (report.text, listed, caplog.text):
        assert all(upn not in shown for upn in (wrong, NOWHERE, IN_SEN2))
    # Still a census kept: the lists read it.
    assert [c.census_day for c in newest_censuses(store, store_settings, "notts_cyp", date(2025, 3, 31))] == [
        date(2025, 1, 16)
    ]


def test_a_census_in_the_slim_template_is_taken_by_the_same_way_and_kept(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    from collectors.census.template import template_columns

    heading = template_columns(2025, "spring")
    row = {"laestab": "8912000", "urn": "100000", "upn": IN_SEN2, "sex": "F", "enrolstatus": "C",
           "senprovision": "E", "ncyearactual": "6", "dob": "2013-03-01", "termlysessionspossible": "120"}  # fmt: skip
    text = ",".join(heading) + "\r\n" + ",".join(row.get(c, "") for c in heading) + "\r\n"
    sent = _post(store_client, [("2025_spring_la_census_template.csv", text.encode())])
    assert sent.status_code == 201, sent.text
    assert (sent.json()["rows_read"], sent.json()["rows_accepted"]) == (1, 1)
    (kept,) = newest_censuses(store, store_settings, "notts_cyp", date(2025, 3, 31))
    assert kept.pupils.select("upn", "senprovision").rows() == [(IN_SEN2, "E")]

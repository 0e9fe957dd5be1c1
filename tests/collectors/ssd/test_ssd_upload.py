"""An SSD extract through POST /api/submissions: the two files made from it are checked by DfE's rules and stored as
the council's own would be (the same figures to the last digit), the files are its approver's alone, and a bad
extract is refused whole with nothing kept. Runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cli.synthetic import synthetic_903, synthetic_cin
from cli.synthetic.ssd import synthetic_ssd
from collectors.schemas import ExtractReceipt
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import every_text, upload
from tests.collectors.records.test_records_upload import assert_no_child_in_clear
from tests.collectors.ssd.ssd_samples import EPISODES, PERSON, extract_zip
from tests.helpers import annex_cells_in_workbook

COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
LA = "E10000007"  # the synthetic county's files are made and checked as Derbyshire's
SEED, CHILDREN, LOOKED_AFTER = 23, 120, 80
FILES = "/api/agencies/synthetic_county/record-files/2024-25"


def _report(client: TestClient, sid: int) -> dict[str, Any]:
    answer = client.get(f"/api/submissions/{sid}", headers=COUNTY)
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


def _figures(store: Engine, sid: int) -> dict[tuple[str, str], float | None]:
    with Session(store) as session:
        rows = session.exec(select(Observation).where(col(Observation.submission_id) == sid)).all()
    return {(o.indicator_id, o.period): o.value for o in rows}


def test_an_ssd_extract_stores_the_figures_the_councils_own_files_would(
    store_client: TestClient, store: Engine, tmp_path: Path
) -> None:
    extract = synthetic_ssd(SEED, CHILDREN, "2024-25", tmp_path / "ssd", looked_after=LOOKED_AFTER, la=LA)
    answer = upload(store_client, [extract], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    # The answer is the receipt the API declares for an extract.
    receipt = ExtractReceipt.model_validate(answer.json())
    assert receipt.extract.rows > 0
    assert receipt.csc_api_payloads.children > 0
    made = {s["filename"]: s["id"] for s in answer.json()["submissions"]}
    assert set(made) == {"cin_census_from_ssd.xml", "ssda903_from_ssd.zip"}
    assert any("dropped at intake" in n for n in answer.json()["extract"]["notes"])
    for sid in made.values():
        report = _report(store_client, sid)
        assert (report["status"], report["stage"]) == ("accepted", "stored"), report["message"]
    ssd_cin, ssd_903 = _figures(store, made["cin_census_from_ssd.xml"]), _figures(store, made["ssda903_from_ssd.zip"])
    assert ssd_cin
    assert ssd_903
    via_ssd = _annex_counts(store_client)
    _annex_a_from_the_extract(store_client, store, answer.json()["extract"]["annex_a"]["id"], via_ssd)
    # The council's own files of the same children: every figure the extract stored is stored again unchanged.
    census = synthetic_cin(SEED, CHILDREN, "2024-25", tmp_path / "cin", la=LA)
    direct = upload(store_client, [census], headers=COUNTY)
    report = _report(store_client, direct.json()["id"])
    assert report["status"] == "accepted", report["message"]
    assert (report["rows_new"], report["rows_revised"], report["rows_unchanged"]) == (0, 0, len(ssd_cin))
    tables = synthetic_903(SEED, LOOKED_AFTER, "2024-25", tmp_path / "903", la=LA)
    direct = upload(store_client, tables, headers=COUNTY)
    report = _report(store_client, direct.json()["id"])
    assert report["status"] == "accepted", report["message"]
    # Every 903 table is made from the SSD (OC2 too): the council's own files add no figure and change none.
    assert (report["rows_new"], report["rows_revised"]) == (0, 0)
    assert report["rows_unchanged"] == len(ssd_903)
    # Ofsted's Annex A reads the files made as the council's own: Lists 3 to 9 count the same children; List 10
    # (adoption) needs AD1 and PlacedAdoption, which the SSD does not make.
    direct_counts = _annex_counts(store_client)
    assert {n: via_ssd[n] for n in range(3, 10)} == {n: direct_counts[n] for n in range(3, 10)}
    assert any(via_ssd[n] for n in range(3, 10))


def _annex_a_from_the_extract(
    client: TestClient, store: Engine, kept: int, via_ssd: dict[int, tuple[int, int]]
) -> None:
    """Lists 1 and 2 and the columns no return holds come from the extract's rows; Lists 3 to 10 count as without."""
    answer = client.get(
        "/api/agencies/synthetic_county/annex-a", headers=COUNTY, params={"inspection_date": "2025-03-31"}
    ).json()
    assert any(s.startswith("SSD extract ") for s in answer["sources"]), answer["sources"]
    lists = {item["list"]: item for item in answer["lists"]}
    assert lists[1]["rows"]
    assert lists[2]["rows"]
    assert len(lists[1]["ssd_filled"]) == 7
    assert {"Allocated Team", "Allocated Worker"} <= set(lists[3]["ssd_filled"])
    assert {"Date of Last Social Work Visit", "Date of Last IRO Visit / Contact to the Child"} <= set(
        lists[8]["ssd_filled"]
    )
    assert "Date of the Last Statutory Visit" in lists[7]["ssd_filled"]
    assert not lists[11]["ssd_filled"]
    # The burden counts the council's Annex A as at the year's last day in cells (rows times columns, Lists 1-10),
    # a cell filled from a source only where it holds a value in the workbook the council downloads.
    shown = client.get("/api/burden", headers=OFFICER, params={"period": "FY2024-25"}).json()
    county = next(a for a in shown["agencies"] if a["agency_code"] == "synthetic_county")
    book = client.get(
        "/api/agencies/synthetic_county/annex-a.xlsx", headers=COUNTY, params={"inspection_date": "2025-03-31"}
    )
    cells, from_records, from_extract = annex_cells_in_workbook(book.content, answer)
    assert county["annex_a_cells"] == cells > 0
    assert county["annex_a_from_extract"] == from_extract > 0
    assert county["annex_a_from_records"] == from_records > 0
    assert county["annex_a_keyed"] == cells - from_records - from_extract > 0
    assert shown["totals"]["annex_a_from_extract"] == county["annex_a_from_extract"]
    # The council's own columns file fills what the extract leaves; a column the extract fills stays the extract's.
    # A column is named as filled only where a child of the list has a value: a file of no such child fills nothing.
    heading = "Child Unique ID,List 8: Date of Last Health Assessment,List 8: LA of Placement\n"
    for children, filled in ((["X1"], []), (_looked_after(client), ["LA of Placement"])):
        keyed = heading + "".join(f"{child},01/02/2025,Derby\n" for child in children)
        sent = client.post(
            "/api/agencies/synthetic_county/annex-a/columns", headers=COUNTY, files={"file": ("c.csv", keyed.encode())}
        )
        assert sent.status_code == 200, sent.text
        both = client.get(
            "/api/agencies/synthetic_county/annex-a", headers=COUNTY, params={"inspection_date": "2025-03-31"}
        ).json()["lists"][7]
        assert both["council_filled"] == filled
        assert "Date of Last Health Assessment" in both["ssd_filled"]
        assert {b["column"] for b in both["blank"]}.isdisjoint([*filled, *both["ssd_filled"]])
    with Session(store) as session:
        row = session.get(Submission, kept)
        assert row is not None
        assert row.mode == "annex_a_ssd"
        row.purged_at = row.received_at
        session.add(row)
        session.commit()
    without = _annex_counts(client)
    assert {n: without[n] for n in range(3, 11)} == {n: via_ssd[n] for n in range(3, 11)}
    assert without[1] == without[2] == (0, 0)
    with Session(store) as session:
        row = session.get(Submission, kept)
        assert row is not None
        row.purged_at = None
        session.add(row)
        session.commit()


def _looked_after(client: TestClient) -> list[str]:
    """The children of the SSDA903 made from the extract, by the council's ids (its approver reads the file)."""
    made = client.get(f"{FILES}/ssda903.zip", headers=COUNTY)
    assert made.status_code == 200, made.text
    with zipfile.ZipFile(io.BytesIO(made.content)) as archive:
        return [r["CHILD"] for r in csv.DictReader(io.StringIO(archive.read("header.csv").decode()))]


def _annex_counts(client: TestClient) -> dict[int, tuple[int, int]]:
    answer = client.get(
        "/api/agencies/synthetic_county/annex-a", headers=COUNTY, params={"inspection_date": "2025-03-31"}
    )
    assert answer.status_code == 200, answer.text
    return {item["list"]: (item["rows"], item["children"]) for item in answer.json()["lists"]}


def test_the_files_made_are_the_approvers_alone_and_audited(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    extract = synthetic_ssd(SEED, 40, "2024-25", tmp_path / "ssd", looked_after=20, la=LA)
    assert upload(store_client, [extract], headers=COUNTY).status_code == 202
    census = store_client.get(f"{FILES}/cin_census.xml", headers=COUNTY)
    assert census.status_code == 200, census.text
    assert census.content.startswith(b"<?xml")
    assert b"<LAchildID>" in census.content
    assert census.headers["cache-control"] == "no-store"
    returned = store_client.get(f"{FILES}/ssda903.zip", headers=COUNTY)
    assert returned.status_code == 200
    assert "episodes.csv" in zipfile.ZipFile(io.BytesIO(returned.content)).namelist()
    assert store_client.get(f"{FILES}/cin_census.xml", headers=OFFICER).status_code == 403
    assert store_client.get(f"{FILES}/cin_census.xml", headers=DFE).status_code == 403
    assert store_client.get(f"{FILES}/cin_census.xml", headers=NOTTS).status_code == 404
    assert store_client.get(f"{FILES}/other.csv", headers=COUNTY).status_code == 404
    assert store_client.get(FILES.replace("2024-25", "2023-24") + "/cin_census.xml", headers=COUNTY).status_code == 404
    trail = store_client.get("/api/audit", headers=OFFICER, params={"limit": 200}).json()
    assert any(e["object"] == "cin_census.xml of synthetic_county for 2024-25" for e in trail["items"]), trail
    # The children are in the store by pseudonym only, and every file kept is encrypted.
    ids = set(re.findall(r"<LAchildID>([^<]+)<", census.text))
    with zipfile.ZipFile(io.BytesIO(returned.content)) as archive:
        ids |= {r["CHILD"] for r in csv.DictReader(io.StringIO(archive.read("header.csv").decode()))}
    assert_no_child_in_clear(store, store_settings.data_dir, ids)


def test_a_name_in_the_extract_is_never_kept_nor_in_the_files_made(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": EPISODES})
    answer = upload(store_client, [path], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    assert [s["filename"] for s in answer.json()["submissions"]] == ["cin_census_from_ssd.xml"]
    assert any("pers_forename" in n for n in answer.json()["extract"]["notes"])
    census = store_client.get(f"{FILES}/cin_census.xml", headers=COUNTY)
    assert census.status_code == 200
    assert b"Alice" not in census.content
    assert not any("Alice" in text for text in every_text(store))
    for kept in store_settings.data_dir.rglob("*"):
        assert not kept.is_file() or b"Alice" not in kept.read_bytes()


def test_a_bad_extract_is_refused_by_table_row_and_column_and_nothing_is_kept(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    with Session(store) as session:
        before = len(session.exec(select(Submission)).all())
    episodes = EPISODES.replace("R2,C2,", "R2,C9,").replace("2024-05-10", "10/05/2024")
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes})
    answer = upload(store_client, [path], headers=COUNTY)
    assert answer.status_code == 422, answer.text
    locs = [e["loc"] for e in answer.json()["errors"]]
    assert ["ssd_cin_episodes", 1, "cine_referral_date"] in locs
    assert ["ssd_cin_episodes", 2, "cine_person_id"] in locs
    for value in ("C9", "10/05/2024", "Alice"):
        assert value not in answer.text
    with Session(store) as session:
        assert len(session.exec(select(Submission)).all()) == before
    assert not list((store_settings.data_dir / "records").glob("**/*.fernet"))
    assert not any("Alice" in text for text in every_text(store))


def test_a_file_made_over_the_upload_limit_keeps_nothing(store: Engine, tmp_path: Path) -> None:
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": EPISODES})
    unpacked = len(PERSON) + len(EPISODES)
    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=max(path.stat().st_size, unpacked) + 10)
    with Session(store) as session:
        before = len(session.exec(select(Submission)).all())
    with client_on(settings, store) as client:
        answer = upload(client, [path], headers=COUNTY)
    assert answer.status_code == 413, answer.text
    assert "cin_census_from_ssd.xml made from ssd.zip" in answer.text
    with Session(store) as session:
        assert len(session.exec(select(Submission)).all()) == before


def test_an_extract_sent_for_annex_a_feeds_annex_a_and_stores_no_figure(
    store_client: TestClient, store: Engine, tmp_path: Path
) -> None:
    contacts = "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_source_code\nK1,C1,2025-10-01,1A\n"
    path = extract_zip(
        tmp_path / "ssd.zip",
        {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": EPISODES, "ssd_contacts.csv": contacts},
    )
    files = [("files", (path.name, path.read_bytes(), "application/zip"))]
    answer = store_client.post(
        "/api/submissions", headers=COUNTY, data={"collection_year": "2024-25", "purpose": "annex_a"}, files=files
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["extract"]["annex_a"]["tables"] == ["contacts", "people"]
    sid = answer.json()["submissions"][0]["id"]
    assert _report(store_client, sid)["status"] == "accepted"
    with Session(store) as session:
        assert session.get(Submission, sid).mode == "annex_a"  # type: ignore[union-attr]
    assert not _figures(store, sid)
    summary = store_client.get(
        "/api/agencies/synthetic_county/annex-a", headers=COUNTY, params={"inspection_date": "2025-11-30"}
    ).json()
    assert summary["lists"][0]["rows"] == 1
    bad = store_client.post(
        "/api/submissions", headers=COUNTY, data={"collection_year": "2024-25", "purpose": "other"}, files=files
    )
    assert bad.status_code == 422

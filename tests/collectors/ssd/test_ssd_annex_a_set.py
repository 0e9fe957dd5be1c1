"""Annex A is built from one set of children: the council's newest SSD extract with the files made from it, or the
files the council sent itself, never the two mixed; it says which, says plainly when a file made from the newest
extract was refused, and names a column filled only where it is. Runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cli.synthetic import synthetic_903, synthetic_cin
from cli.synthetic.ssd import synthetic_ssd
from indicators.store.models import Submission
from tests.collectors.records.samples import upload

COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
LA = "E10000007"
ANNEX = "/api/agencies/synthetic_county/annex-a"


def _annex(client: TestClient) -> dict[str, Any]:
    answer = client.get(ANNEX, headers=COUNTY, params={"inspection_date": "2025-03-31"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _accepted(client: TestClient, answer: Any) -> int:
    assert answer.status_code == 202, answer.text
    sid: int = answer.json()["id"]
    report = client.get(f"/api/submissions/{sid}", headers=COUNTY).json()
    assert report["status"] == "accepted", report["message"]
    return sid


def test_a_refused_903_from_the_newest_extract_leaves_its_lists_empty_and_mixes_nothing(
    store_client: TestClient, store: Engine, tmp_path: Path
) -> None:
    # The council's own 903 of other children, sent before the extract.
    own_903 = _accepted(store_client, upload(store_client, synthetic_903(7, 20, "2024-25", tmp_path / "903", la=LA),
                                             headers=COUNTY))  # fmt: skip
    extract = synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la=LA)
    answer = upload(store_client, [extract], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    made = {s["filename"]: s["id"] for s in answer.json()["submissions"]}
    whole = _annex(store_client)
    assert not any(f"upload {own_903}," in s for s in whole["sources"]), whole["sources"]
    lists = {item["list"]: item for item in whole["lists"]}
    assert lists[8]["rows"] > 0
    assert "Date of Last Social Work Visit" in lists[8]["ssd_filled"]
    assert "Date of Last Social Work Visit" not in [b["column"] for b in lists[8]["blank"]]
    # DfE's rules refuse the 903 made from the extract.
    with Session(store) as session:
        sub = session.get(Submission, made["ssda903_from_ssd.zip"])
        assert sub is not None
        sub.status, sub.stage = "rejected", "rejected"
        session.add(sub)
        session.commit()
    refused = _annex(store_client)
    assert not any(f"upload {own_903}," in s for s in refused["sources"]), refused["sources"]
    assert any(f"upload {made['cin_census_from_ssd.xml']}," in s for s in refused["sources"])
    lists = {item["list"]: item for item in refused["lists"]}
    assert [lists[n]["rows"] for n in (8, 9, 10)] == [0, 0, 0]
    assert lists[3]["rows"] > 0
    said = [n for n in refused["notes"] if "Part of the newest SSD extract was refused" in n]
    assert len(said) == 1
    assert f"the SSDA903 made from it (upload {made['ssda903_from_ssd.zip']}) was refused by DfE's rules" in said[0]
    assert "Lists 8 to 10 are empty" in said[0]
    # No column of an empty list is named as filled, and none is both filled and blank.
    assert lists[8]["ssd_filled"] == []
    for item in refused["lists"]:
        blank = {b["column"] for b in item["blank"]}
        assert not blank & set(item["ssd_filled"]), item["list"]
        assert not blank & set(item["council_filled"]), item["list"]


def test_files_the_council_sends_after_an_extract_are_read_alone(store_client: TestClient, tmp_path: Path) -> None:
    extract = synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la=LA)
    assert upload(store_client, [extract], headers=COUNTY).status_code == 202
    assert any("SSD extract" in s for s in _annex(store_client)["sources"])
    own_cin = _accepted(store_client, upload(store_client, [synthetic_cin(7, 30, "2024-25", tmp_path / "cin", la=LA)],
                                             headers=COUNTY))  # fmt: skip
    after = _annex(store_client)
    assert not any("SSD extract" in s for s in after["sources"]), after["sources"]
    assert any(f"upload {own_cin}," in s for s in after["sources"])
    # The 903 made from the extract is not the council's own: Lists 8 to 10 have no SSDA903 it sent itself.
    assert not any("ssda903_from_ssd" in s for s in after["sources"])
    assert any("files the council sent itself" in n and "is older than them" in n for n in after["notes"])
    lists = {item["list"]: item for item in after["lists"]}
    assert [lists[n]["rows"] for n in (1, 2, 8)] == [0, 0, 0]
    assert all(not item["ssd_filled"] for item in after["lists"])

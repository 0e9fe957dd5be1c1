"""The burden report counts figures worked out from a council's record-level files as keyed by nobody."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cli.synthetic import synthetic_903
from exports.burden.report import burden, records_figures

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


def test_figures_from_record_level_files_are_keyed_by_nobody(
    store: Engine, store_client: TestClient, tmp_path: Path
) -> None:
    with Session(store) as session:
        before = {a.agency_code: a for a in burden(session, "FY2024-25").agencies}
    assert before["notts_cyp"].from_records == 0
    assert before["notts_cyp"].from_records_by_return == {}
    files = synthetic_903(4, 80, "2024-25", tmp_path / "903")
    body = [("files", (p.name, p.read_bytes(), "text/csv")) for p in files]
    answer = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=body)
    assert answer.status_code == 202, answer.text
    seen = store_client.get(f"/api/submissions/{answer.json()['id']}", headers=NOTTS).json()
    assert seen["stage"] == "stored", seen["message"]
    stored = seen["rows_accepted"]
    assert stored > 0
    with Session(store) as session:
        held = records_figures(session)
        report = burden(session, "FY2024-25")
    assert set(held) == {"notts_cyp"}
    assert len(held["notts_cyp"]) == stored
    after = {a.agency_code: a for a in report.agencies}
    notts = after["notts_cyp"]
    # Every stored figure is one the council owes this year, and fills a cell of the SSDA903 return.
    assert 0 < notts.from_records <= stored
    assert notts.from_records_by_return.get("dfe_ssda903", 0) > 0
    assert report.totals["from_records"] == notts.from_records
    assert after["lewisham_council"].from_records == 0
    # Nothing else about the burden moves: what was owed is still owed, only who keys it changed.
    assert notts.figures_entered == before["notts_cyp"].figures_entered
    shown = store_client.get("/api/burden", headers=OFFICER, params={"period": "FY2024-25"}).json()
    agency = next(a for a in shown["agencies"] if a["agency_code"] == "notts_cyp")
    assert agency["from_records"] == notts.from_records
    assert agency["from_records_by_return"] == notts.from_records_by_return

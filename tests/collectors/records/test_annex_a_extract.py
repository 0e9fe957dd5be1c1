"""A fresh extract for Ofsted's Annex A: a council's CIN census or SSDA903 files checked by DfE's rules and kept
(encrypted) as any record-level upload, feeding Annex A and no DfE return (no figure derived or stored)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from cli.synthetic import synthetic_cin
from indicators.store.models import Observation, Submission
from tests.helpers import NOTTS

NOTTS_LA = "E10000024"


def test_an_extract_is_checked_and_kept_and_feeds_annex_a_not_a_return(
    store: Engine, store_client: TestClient, tmp_path: Path
) -> None:
    census = synthetic_cin(11, 40, "2024-25", tmp_path, la=NOTTS_LA)
    parts = [("files", (census.name, census.read_bytes(), "application/xml"))]
    form = {"collection_year": "2024-25", "purpose": "annex_a"}
    sent = store_client.post("/api/submissions", headers=NOTTS, data=form, files=parts)
    assert sent.status_code == 202, sent.text
    sid = sent.json()["id"]
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert report["status"] == "accepted", report["message"]
    assert "Annex A extract" in report["message"]
    assert "no figure was derived or stored" in report["message"]
    with Session(store) as session:
        stored = session.execute(
            select(func.count()).select_from(Observation).where(col(Observation.submission_id) == sid)
        ).scalar_one()
        assert stored == 0
        assert session.get(Submission, sid).mode == "annex_a"  # type: ignore[union-attr]
    facts = store_client.get(
        "/api/agencies/notts_cyp/annex-a", headers=NOTTS, params={"inspection_date": "2025-03-31"}
    ).json()
    assert any("CIN census 2024-25 Annex A extract" in s for s in facts["sources"]), facts["sources"]
    assert next(item["rows"] for item in facts["lists"] if item["list"] == 3) > 0
    # The same files sent again as the return are a return of their own, not a repeat of the extract.
    again = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=parts)
    assert again.status_code == 202, again.text
    assert again.json()["id"] != sid


def test_an_extract_needs_its_collection_year(store_client: TestClient) -> None:
    refused = store_client.post(
        "/api/submissions", headers=NOTTS, data={"purpose": "annex_a"}, files=[("file", ("x.csv", b"a\n", "text/csv"))]
    )
    assert refused.status_code == 422
    assert "collection year" in refused.text

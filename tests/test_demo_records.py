"""The demo's synthetic council (illustrative): its record-level files are made with a fixed seed, pass DfE's
rules, and fill its children's returns with figures nobody keyed, which the burden report counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cli.demo import RECORDS_AGENCY, RECORDS_ORG, demo_records, load_records_demo
from exports.burden.report import burden
from indicators.store.models import RECORDS_KIND as KIND
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.demo_store import demo_said, demo_store_fixture

OFFICER = "demo-officer-5e0b9c2a4f"
DFE = "demo-regulator-dfe-7a3c18e2"
#: The store with the synthetic council's records uploaded (``load_records_demo``), loaded once per process.
store = demo_store_fixture("store", "records")


def test_the_synthetic_councils_files_are_the_same_every_time(tmp_path: Path) -> None:
    first = demo_records(tmp_path / "a")
    again = demo_records(tmp_path / "b")
    assert [label for label, _ in first] == ["SSDA903 tables", "CIN census"]
    assert [p.read_bytes() for _, files in first for p in files] == [
        p.read_bytes() for _, files in again for p in files
    ]


def test_the_synthetic_council_keys_nothing_and_its_returns_are_filled(
    store: Engine, store_settings: Settings, store_template: str
) -> None:
    uploads = demo_said(store_template, "records")["records"]
    # Its own two files, then the two made from its SSD extract of the first of the same children.
    assert [u.agency for u in uploads] == [RECORDS_AGENCY] * 4
    assert ["from its SSD extract" in u.file for u in uploads] == [False, False, True, True]
    for upload in uploads:
        assert "illustrative" in upload.file
        # Stored; a figure is held back only where the council is not its source or its period is refused.
        assert upload.status in ("accepted", "partially_accepted"), upload.message
        assert "derived from the records and stored" in upload.message
    with Session(store) as session:
        kinds = set(
            session.execute(select(Submission.kind).where(col(Submission.agency_code) == RECORDS_AGENCY)).scalars()
        )
        report = burden(session, "FY2024-25")
    assert kinds == {KIND}  # not one template or file of figures
    council = next(a for a in report.agencies if a.agency_code == RECORDS_AGENCY)
    assert council.from_records > 0
    assert council.from_records_by_return.get("dfe_ssda903", 0) > 0
    assert council.from_records_by_return.get("dfe_cin_census", 0) > 0
    # Set up again, the same files are recognised as the uploads already made.
    again = load_records_demo(store, store_settings)
    assert [u.status for u in again] == [u.status for u in uploads]


def test_the_synthetic_council_reads_its_report_and_signs_its_figures_off(store_client: TestClient) -> None:
    council = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
    mine = store_client.get("/api/submissions", headers=council).json()["items"]
    # Its own two files, the two made from its SSD extract, and the Annex A rows kept from that extract.
    assert len(mine) == 5
    assert {s["kind"] for s in mine} == {KIND}
    # Its own record-level report opens for it, and not for the officer (who sees counts, never a child).
    for sub in mine:
        assert store_client.get(f"/api/submissions/{sub['id']}/records", headers=council).status_code == 200
        officer = store_client.get(f"/api/submissions/{sub['id']}/records", headers={"X-API-Key": OFFICER})
        assert officer.status_code == 403
    # fresh: built now, rather than the last snapshot while the rebuild the sign-off asked for is pending.
    path = "/api/returns/dfe_ssda903/FY2024-25.json?fresh=true"

    def its_cells() -> list[dict[str, Any]]:
        answer = store_client.get(path, headers={"X-API-Key": DFE})
        assert answer.status_code == 200
        return [c for c in answer.json()["cells"] if c["org_code"] == RECORDS_ORG]

    # Until its approver signs off, DfE's pull holds back every figure the records gave.
    assert {c["status"] for c in its_cells()} <= {"unsigned", "missing", "not_available", "suppressed"}
    review = store_client.get("/api/signoffs/synthetic_county/dfe_ssda903/FY2024-25", headers=council)
    assert review.status_code == 200, review.text
    signed = store_client.post(
        "/api/signoffs/synthetic_county/dfe_ssda903/FY2024-25/sign-off",
        headers=council,
        json={"declaration": review.json()["declaration"], "digest": review.json()["digest"]},
    )
    assert signed.status_code == 200, signed.text
    cells = its_cells()
    assert any(c["status"] == "present" for c in cells)
    assert not [c for c in cells if c["status"] == "unsigned"]

"""What stands in the way of a sign-off belongs to the return and period it was for: a file refused whole (the
unfilled template) blocks nothing, errors block only the return and period of their rows, and a rejected file of
one record-level return never blocks another. Followed as the README's first journey, then its sign-off example."""

from __future__ import annotations

import io
from collections.abc import Iterable

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cli.demo import DEMO_APPROVER, demo_files
from collectors.figures.service import submit
from exports.signoff import sign_off_all
from mappings.signoff.rules import blockers
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import CIN_2024, cin_2024_of_notts
from tests.demo_store import demo_store_fixture
from tests.helpers import NOTTS, upload

S = "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25"
CIN = "/api/signoffs/notts_cyp/dfe_cin_census/FY2024-25"
#: A store with the publishers' files read through the intake (``load_published``), read once per process.
published_store = demo_store_fixture("published_store", "published")


def _notts_demo(engine: Engine, settings: Settings) -> None:
    """Nottinghamshire's own demo figures, on a store with the demo's published ones, signed off as the demo does."""
    for agency, path in demo_files():
        if agency == "notts_cyp":
            submit(
                engine, settings, agency_code=agency, filename=path.name, data=path.read_bytes(), submitted_by="demo"
            )
    with Session(engine) as session:
        sign_off_all(session, DEMO_APPROVER, return_ids=["dfe_ssda903", "dfe_cin_census"])
        session.commit()


def _in_the_way(client: TestClient, path: str) -> list[str]:
    review = client.get(path, headers=NOTTS)
    assert review.status_code == 200, review.text
    return [b["type"] for b in review.json()["blockers"]]


def test_the_readmes_first_journey_then_its_sign_off_example(published_store: Engine, store_settings: Settings) -> None:
    _notts_demo(published_store, store_settings)
    with client_on(store_settings, published_store) as store_client:
        # The agency's journey: the template of what it owes, uploaded as it came (nothing filled in).
        owed = store_client.get("/api/agencies/notts_cyp/template", params={"period": "FY2025-26-Q1"}, headers=NOTTS)
        assert owed.status_code == 200, owed.text
        assert openpyxl.load_workbook(io.BytesIO(owed.content)).sheetnames
        sent = store_client.post(
            "/api/submissions",
            headers=NOTTS,
            files={
                "file": ("owed.xlsx", owed.content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            },
        )
        assert sent.status_code == 422, sent.text
        assert "the file is blank" in sent.text
        report = store_client.get(f"/api/submissions/{sent.json()['id']}", headers=NOTTS).json()
        assert (report["status"], report["error_count"]) == ("rejected", 1)
        # The sign-off example, word for word: withdraw the demo's sign-off, read, sign off.
        assert store_client.get(S, headers=NOTTS).status_code == 200
        assert store_client.post(f"{S}/unapprove", headers=NOTTS).status_code == 200
        read = store_client.get(S, headers=NOTTS).json()
        assert read["blockers"] == []
        signed = store_client.post(f"{S}/sign-off", headers=NOTTS, json={k: read[k] for k in ("declaration", "digest")})
        assert signed.status_code == 200, signed.text
        assert signed.json()["state"] == "signed_off"
        # Nor does the blank file stand in the way of any other return or period it touched.
        for path in (CIN, "/api/signoffs/notts_cyp/county_cyp_core/FY2025-26-Q1"):
            assert _in_the_way(store_client, path) == [], path


def test_errors_stand_in_the_way_only_of_the_return_and_period_of_their_rows(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    # One upload: a good CIN count for 2024-25, and a looked-after count (not a CIN census figure) in error.
    upload(
        store,
        store_settings,
        "notts_cyp",
        "cyp.cin_count,E10000024,2025-03-31,,4000,,,,",
        "cyp.lac_count,E10000024,2025-03-31,,-5,,,,",
    )
    assert _in_the_way(store_client, S) == ["errors"]
    assert _in_the_way(store_client, CIN) == []
    assert _in_the_way(store_client, S.replace("FY2024-25", "FY2023-24")) == []
    # A later upload of a good looked-after count for that year clears it.
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,880,,,,")
    assert _in_the_way(store_client, S) == []


def test_a_rejected_cin_census_never_blocks_the_ssda903(store: Engine, store_client: TestClient) -> None:
    def records(name: str, data: bytes) -> dict[str, object]:
        sent = store_client.post(
            "/api/submissions",
            headers=NOTTS,
            data={"collection_year": "2024-25"},
            files=[("files", (name, data, "application/xml"))],
        )
        assert sent.status_code == 202, sent.text
        report: dict[str, object] = store_client.get(f"/api/submissions/{sent.json()['id']}", headers=NOTTS).json()
        assert report["status"] == "rejected", report
        return report

    # Refused before its return was known (an XML the service will not read): it is for no return.
    records("census.xml", b'<!DOCTYPE m [<!ENTITY x "y">]><Message><Children/></Message>')
    assert _in_the_way(store_client, S) == []
    assert _in_the_way(store_client, CIN) == []
    # DfE's CIN rules find errors: the CIN census of that year waits for a corrected file; the SSDA903 does not.
    assert records(CIN_2024.name, cin_2024_of_notts())["source_format"] == "cin"
    assert _in_the_way(store_client, CIN) == ["errors"]
    assert _in_the_way(store_client, S) == []
    with Session(store) as session:
        assert blockers(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == []


class _Officer:
    """The officer's read scope: every agency and return."""

    agency = None

    def reads_return(self, recipient: str, readers: Iterable[str] = ()) -> bool:  # noqa: ARG002 (the scope's signature)
        return True

    def owns_agency(self, code: str | None) -> bool:  # noqa: ARG002 (the scope's signature)
        return True


def test_the_approvals_queue_lists_figures_waiting_in_any_period(store: Engine, store_settings: Settings) -> None:
    from exports.signoff.queries import Filters, approvals_queue

    # Figures for a year no period being collected now is: nobody has signed them off.
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2024-03-31,,870,,,,")
    with Session(store) as session:
        rows = approvals_queue(session, _Officer(), Filters(), full=True, now={})
        waiting = {(w.agency_code, w.return_id, w.period): w for w in rows}
        assert ("notts_cyp", "dfe_ssda903", "FY2023-24") in waiting, sorted(waiting)
        row = waiting[("notts_cyp", "dfe_ssda903", "FY2023-24")]
        assert (row.state, row.in_the_way) == ("open", ["Waiting for its approver to sign off"])
        # Filtered by that return, or by the state open, it is there too; by another period, it is not.
        by_return = approvals_queue(session, _Officer(), Filters("dfe_ssda903", state="open"), full=True, now={})
        assert ("notts_cyp", "FY2023-24") in {(w.agency_code, w.period) for w in by_return}
        other = approvals_queue(session, _Officer(), Filters("dfe_ssda903", "FY2024-25"), full=True, now={})
        assert "FY2023-24" not in {w.period for w in other}
    # Signed off, it leaves the agencies waiting.
    with Session(store) as session:
        sign_off_all(session, DEMO_APPROVER, return_ids=["dfe_ssda903"])
        session.commit()
        rows = approvals_queue(session, _Officer(), Filters(state="open"), full=True, now={})
        assert ("notts_cyp", "dfe_ssda903", "FY2023-24") not in {(w.agency_code, w.return_id, w.period) for w in rows}

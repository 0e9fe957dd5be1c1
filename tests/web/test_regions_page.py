"""A council's consent page (SQLite and PostgreSQL): its approver sees its region and what each use case holds, gives
and withdraws consent through the same acts as the API (audited), and a key that is not an approver reads it only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from mappings import keys
from mappings.regions import consent
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.regions.world import AGENCIES_CSV, REGION
from tests.web.pages import sign_in

NOTTS = "demo-notts-cyp-2c9f41d07b"
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


@pytest.fixture
def page_client(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    from mappings import registry

    with Session(store) as session:
        registry.import_agencies(session, AGENCIES_CSV.encode(), "agencies.csv")
        session.commit()
    with client_on(store_settings, store, follow_redirects=False) as client:
        yield client


def test_the_approver_gives_and_withdraws_consent_on_the_page(page_client: TestClient, store: Engine) -> None:
    token = sign_in(page_client, NOTTS)
    shown = page_client.get("/consent")
    assert shown.status_code == 200, shown.text
    assert f'id="region-{REGION}"' in shown.text
    assert "You consent to: nothing" in shown.text
    assert "Kept 12" not in shown.text
    assert "kept 12 years" in shown.text
    given = page_client.post(f"/consent/{REGION}", data={"csrf_token": token, "use_cases": ["pan", "sufficiency"]})
    assert given.status_code == 303, given.text
    with Session(store) as session:
        assert consent.consent_of(session, "notts_cyp", REGION).use_cases == ("pan", "sufficiency")
    assert 'data-consent="pan,sufficiency"' in page_client.get("/consent").text
    bad = page_client.post(f"/consent/{REGION}", data={"csrf_token": token, "use_cases": ["marketing"]})
    assert bad.status_code == 400
    assert "not a use case" in bad.text
    forged = page_client.post(f"/consent/{REGION}/withdraw", data={"csrf_token": "not-the-token"})
    assert forged.status_code == 400
    withdrawn = page_client.post(f"/consent/{REGION}/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    with Session(store) as session:
        assert consent.consent_of(session, "notts_cyp", REGION).use_cases == ()
    trail = page_client.get("/api/audit", headers=OFFICER, params={"action": "consent.give"}).json()["items"]
    assert [(e["outcome"], e["detail"]) for e in trail] == [
        ("rejected", "'marketing' is not a use case of a region; the use cases are pan, sufficiency"),
        ("ok", "use cases none -> pan, sufficiency"),
    ]


def test_a_key_that_is_not_an_approver_reads_it_only(page_client: TestClient, store: Engine) -> None:
    with Session(store) as session:
        _, plain = keys.create_key(session, role="agency", agency_code="notts_cyp", label="uploads only")
        session.commit()
    token = sign_in(page_client, plain)
    shown = page_client.get("/consent")
    assert 'id="not-approver"' in shown.text
    refused = page_client.post(f"/consent/{REGION}", data={"csrf_token": token, "use_cases": ["pan"]})
    assert refused.status_code == 403
    with Session(store) as session:
        assert consent.consent_of(session, "notts_cyp", REGION).use_cases == ()

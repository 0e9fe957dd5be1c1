"""The demo's region (SQLite and PostgreSQL): the made-up county is a member of it, its approver's consent is given
once when the demo loads (and a withdrawal is not undone by loading again), and the region's key signs in to a page
whose tables hold the county's made-up children."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from cli.demo import DEMO_REGION, RECORDS_AGENCY, RECORDS_ORG, consent_demo_region
from collectors.regions.pooled import build
from collectors.regions.sufficiency import placements
from mappings.regions import consent
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_store_fixture
from tests.web.pages import csrf_token

store = demo_store_fixture("store", "records")
#: The demo region's key, as the README gives it.
HUB = "demo-synthetic-hub-3b7e91c04d"


def test_the_demo_region_pools_the_made_up_countys_children(store: Engine, store_settings: Settings) -> None:
    with Session(store) as session:
        assert consent.members(session, DEMO_REGION) == {RECORDS_AGENCY: RECORDS_ORG}
        assert consent_demo_region(session)
        session.commit()
    for table in ("ssda903_header", "ssda903_episodes", "cin_census", "sen2_persons"):
        built = build(store, store_settings, DEMO_REGION, "pan", table)
        if table != "sen2_persons":  # the "records" load sends no SEN2 file
            assert built.frame.height > 0, table
            assert set(built.frame["council"]) == {RECORDS_ORG}
    assert placements(store, store_settings, DEMO_REGION).frame.height > 0
    with client_on(store_settings, store, follow_redirects=False) as web:
        form = web.get("/sign-in")
        signed = web.post("/sign-in", data={"key": HUB, "csrf_token": csrf_token(form.text)})
        assert signed.headers["location"] == "/region"
        page = web.get("/region")
        assert page.status_code == 200, page.text
        assert f'data-council="{RECORDS_AGENCY}"' in page.text
        assert 'id="risk-ssda903_header"' in page.text
        rows = web.get("/region/pan/ssda903_header.csv")
        assert rows.status_code == 200
        assert len(rows.text.splitlines()) > 1


def test_a_withdrawal_is_not_undone_by_loading_the_demo_again(store: Engine) -> None:
    with Session(store) as session:
        assert consent_demo_region(session)
        consent.withdraw(session, RECORDS_AGENCY, DEMO_REGION, by="the county's approver")
        session.commit()
        assert not consent_demo_region(session)
        assert consent.consent_of(session, RECORDS_AGENCY, DEMO_REGION).use_cases == ()

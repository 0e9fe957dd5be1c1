"""The officer's page of published figures: upload a publisher's file unchanged, see the release and the cells
where a body's own figure and the publisher's differ; a file in another layout is refused on the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.figures.service import submit
from collectors.published.sources import load_sources
from indicators.store.models import Observation
from onereturn.settings import Settings
from tests.published.unreadable import CASES
from tests.web.pages import OFFICER, sign_in

AGENCY = "demo-notts-cyp-2c9f41d07b"


def test_an_officer_uploads_dfes_file_and_sees_where_the_county_differs(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    # Nottinghamshire's own count, one more than DfE publishes for it (901).
    own = b"indicator,org,period,breakdown,value\ncyp.lac_count,E10000024,2025-03-31,,902\n"
    submit(store, store_settings, agency_code="notts_cyp", filename="lac.csv", data=own, submitted_by="test")
    token = sign_in(web, OFFICER)
    empty = web.get("/officer/published")
    assert empty.status_code == 200
    assert "No release read yet." in empty.text
    assert "No cell differs." in empty.text
    spec = load_sources().sources["dfe_cla_number"]
    sent = web.post(
        "/officer/published",
        data={"source": spec.id, "csrf_token": token},
        files={"file": (spec.file, spec.bundled.read_bytes())},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    shown = web.get(sent.headers["location"]).text
    assert "read: see it below" in shown
    assert "dfe_cla_number" in shown
    differences = shown.split('id="differences"', 1)[1].split("</table>", 1)[0]
    assert "E10000024" in differences
    assert "notts_cyp" in differences
    # The demo's made-up council no longer answers for Derbyshire's code, so DfE's figures for it differ from none.
    assert "E10000007" not in differences
    assert "cyp.lac_count" in differences
    again = web.post(
        "/officer/published",
        data={"source": spec.id, "csrf_token": token},
        files={"file": (spec.file, spec.bundled.read_bytes())},
        follow_redirects=False,
    )
    assert web.get(again.headers["location"]).text.count("That file was read before") == 1


def test_a_file_in_another_layout_is_refused_on_the_page(web: TestClient) -> None:
    token = sign_in(web, OFFICER)
    refused = web.post(
        "/officer/published",
        data={"source": "ons_population_0_17", "csrf_token": token},
        files={"file": ("pop.csv", b"time_period,la_name\n2024,x\n")},
    )
    assert refused.status_code == 422
    assert "missing time_identifier" in refused.text
    assert "No release read yet." in refused.text


def test_the_page_refuses_an_unreadable_file_on_a_govuk_error_page(web: TestClient) -> None:
    token = sign_in(web, OFFICER)
    for name in ("long.csv", "ragged.csv"):
        make, said = CASES[name]
        refused = web.post(
            "/officer/published",
            data={"source": "ons_population_0_17", "csrf_token": token},
            files={"file": (name, make())},
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("text/html")
        assert "govuk-error-summary" in refused.text
        assert said in refused.text
        assert "No release read yet." in refused.text


def test_an_officer_confirms_a_held_figure_on_the_page(web: TestClient, store: Engine) -> None:
    """A jump from the publisher's previous release is listed as held, with why; confirmed with a note, it is the
    publisher's figure in the store."""
    token = sign_in(web, OFFICER)
    spec = load_sources().sources["ons_population_0_17"]
    original = spec.bundled.read_bytes()
    jumped = original.replace(b"Children aged 0 to 17 years,171572", b"Children aged 0 to 17 years,514716")
    for name, data in ((spec.file, original), ("jumped.csv", jumped)):
        sent = web.post(
            "/officer/published", data={"source": spec.id, "csrf_token": token}, files={"file": (name, data)}
        )
        assert sent.status_code == 303
    shown = web.get("/officer/published").text
    assert "Figures held for you to confirm" in shown
    held = shown.split('id="held"', 1)[1].split("</table>", 1)[0]
    assert "pop.resident_0_17, E10000024, CY2024" in held
    assert "jumped.csv row" in held
    assert "171,572" in held
    action = re.search(r'action="(/officer/published/queries/[0-9]+)"', held)
    assert action is not None
    empty = web.post(action.group(1), data={"csrf_token": token, "note": " "})
    assert empty.status_code == 422
    assert "govuk-error-summary" in empty.text
    done = web.post(action.group(1), data={"csrf_token": token, "note": "ONS rebased the estimate"})
    assert done.status_code == 303
    assert "now the publisher's current figure" in web.get(done.headers["location"]).text
    with Session(store) as session:
        value = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == "E10000024",
                Observation.period == "CY2024",
                col(Observation.is_current),
            )
        ).scalar_one()
    assert value == 514716
    assert "Figures held for you to confirm" not in web.get("/officer/published").text


def test_an_agency_cannot_open_the_page(web: TestClient) -> None:
    sign_in(web, AGENCY)
    assert web.get("/officer/published").status_code == 403


def test_an_officer_confirms_a_releases_held_figures_together_on_the_page(web: TestClient) -> None:
    """NDTMS's export edited in two figures of one row: two held, each with its own last accepted value, and
    confirmed together with one note from the page."""
    token = sign_in(web, OFFICER)
    spec = load_sources().sources["ndtms_viewit_adults_la"]
    original = spec.bundled.read_bytes()
    # Barnet's 2021/22 total row: 1,465 in treatment, 650 new presentations, 290 successful completions.
    before = b"2021/22,Barnet,TOTAL,TOTAL,Total,1465,650,"
    assert original.count(before) == 1
    jumped = original.replace(before, b"2021/22,Barnet,TOTAL,TOTAL,Total,2930,1300,")
    for name, data in ((spec.file, original), ("jumped.csv", jumped)):
        sent = web.post(
            "/officer/published", data={"source": spec.id, "csrf_token": token}, files={"file": (name, data)}
        )
        assert sent.status_code == 303, sent.text
    shown = web.get("/officer/published").text
    held = shown.split('id="held"', 1)[1].split("</table>", 1)[0]
    assert held.count('action="/officer/published/queries/') == 2
    assert "ndtms.adults_in_treatment, E09000003, FY2021-22" in held
    assert "ndtms.new_presentations, E09000003, FY2021-22" in held
    assert "1,465" in held
    assert "650" in held
    form = re.search(r'action="(/officer/published/releases/([0-9]+)/queries)"', shown)
    assert form is not None
    assert f"Confirm all 2 figure(s) held from release {form.group(2)}" in shown
    empty = web.post(form.group(1), data={"csrf_token": token, "note": ""})
    assert empty.status_code == 422
    done = web.post(form.group(1), data={"csrf_token": token, "note": "NDTMS revised 2021/22"})
    assert done.status_code == 303
    assert "The release's held figures are confirmed" in web.get(done.headers["location"]).text
    assert "Figures held for you to confirm" not in web.get("/officer/published").text

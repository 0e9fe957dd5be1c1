"""Who sees the drug and alcohol partnership's return of NDTMS's figures: NDTMS's team (its regulator key, released
cells only) and the partnership itself (its own demo key); DfE's regulator key does not."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.published.intake import import_release
from collectors.published.sources import load_sources
from onereturn.settings import Settings
from tests.helpers import demo_keys
from tests.web.pages import sign_in

NDTMS = "demo-regulator-ohid-c4d91f60"
DFE = "demo-regulator-dfe-7a3c18e2"
RETURN = "/api/returns/ndtms_viewit_la/FY2021-22.json"


def _barnet_key() -> str:
    """The partnership's demo key, as the README's table publishes it."""
    (key,) = [k for k in demo_keys() if k.startswith("demo-barnet-dap-")]
    return key


def _imported(store: Engine, settings: Settings) -> None:
    spec = load_sources().sources["ndtms_viewit_adults_la"]
    import_release(store, settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload")


def test_ndtms_reads_the_partnerships_return_and_dfe_does_not(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    _imported(store, store_settings)
    listed = web.get("/api/returns/ndtms_viewit_la/FY2021-22.json", headers={"X-API-Key": NDTMS})
    assert listed.status_code == 200, listed.text
    cells = listed.json()["cells"]
    assert any(c["org_code"] == "E09000003" and c["value"] == 1465 for c in cells)
    assert web.get(RETURN, headers={"X-API-Key": DFE}).status_code == 404
    # Its sign-offs' states are NDTMS's to read too, as a return addressed to it would be.
    signoffs = web.get("/api/signoffs?return=ndtms_viewit_la", headers={"X-API-Key": NDTMS})
    assert signoffs.status_code == 200, signoffs.text
    assert web.get("/api/signoffs?return=ndtms_viewit_la", headers={"X-API-Key": DFE}).status_code == 404
    sign_in(web, NDTMS)
    page = web.get("/regulator").text
    section = page.split('id="return-ndtms_viewit_la"', 1)[1].split("</table>", 1)[0]
    # No deadline: the periods NDTMS's figures reach are listed, newest first, each to download.
    assert 'data-period="FY2021-22"' in section
    assert "No periods due" not in section
    assert "/regulator/download/ndtms_viewit_la/FY2021-22.csv" in section
    assert web.get("/regulator/download/ndtms_viewit_la/FY2021-22.csv").status_code == 200


def test_the_partnership_signs_in_with_its_own_key(web: TestClient, store: Engine, store_settings: Settings) -> None:
    _imported(store, store_settings)
    key = _barnet_key()
    sign_in(web, key)
    home = web.get("/agency")
    assert home.status_code == 200
    assert "Barnet drug and alcohol partnership (demo)" in home.text
    # It keys nothing and signs nothing off: NDTMS's figures need no approver.
    assert web.get("/api/agencies/barnet_dap", headers={"X-API-Key": key}).status_code == 200
    assert web.get("/api/agencies/notts_cyp", headers={"X-API-Key": key}).status_code == 404

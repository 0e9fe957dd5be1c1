"""A treatment provider keys nothing NDTMS publishes: its own page and the burden figures say so in plain words."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.helpers import OFFICER as OFFICER_HEADERS
from tests.web.pages import AGENCY, OFFICER, sign_in

PROVIDER = "demo-lewisham-drugs-51b7c0e3"


def _said(page: str) -> str:
    """The plain words of the page's 'keys nothing' box, or '' when it has none."""
    box = re.search(r'<div class="govuk-inset-text" id="keys-nothing-published">(.*?)</div>', page, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", box.group(1))).split()) if box else ""


def test_the_providers_page_says_it_keys_nothing_ndtms_publishes(web: TestClient) -> None:
    sign_in(web, PROVIDER)
    said = _said(web.get("/agency").text)
    assert said.startswith("Lewisham drug and alcohol treatment service (demo provider) keys nothing NDTMS publishes.")
    assert "sends the National Drug Treatment Monitoring System (NDTMS) its client-level records" in said
    assert "none of those counts is in its template" in said


def test_another_agencys_page_says_nothing_of_it(web: TestClient) -> None:
    sign_in(web, AGENCY)
    page = web.get("/agency").text
    assert "What you owe" in page
    assert _said(page) == ""


def test_the_burden_figures_say_the_provider_keys_nothing_ndtms_publishes(web: TestClient) -> None:
    # In a year its old monthly return is no longer collected (so the provider has no row of cells at all), and in
    # one it still was: either way the burden says in words that NDTMS's counts are not the provider's to key.
    for period in ("FY2024-25", "FY2023-24"):
        report = web.get("/api/burden", params={"period": period}, headers=OFFICER_HEADERS).json()
        said = {k["agency_code"]: k for k in report["keys_nothing_published"]}
        assert list(said) == ["lewisham_drugs"]
        assert said["lewisham_drugs"]["publisher"] == "ohid_ndtms"
        assert said["lewisham_drugs"]["says"].startswith("keys nothing NDTMS publishes.")
    sign_in(web, OFFICER)
    said_on_page = _said(web.get("/burden", params={"period": "FY2024-25"}).text)
    assert said_on_page.startswith("Lewisham drug and alcohol treatment service (demo provider) keys nothing NDTMS")

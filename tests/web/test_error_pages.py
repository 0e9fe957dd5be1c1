"""Error pages are drawn for whoever is signed in, even when the request was refused before the page found out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.web.pages import AGENCY, OFFICER, sign_in


def test_an_unknown_query_parameter_is_a_400_page_with_the_signed_in_navigation(web: TestClient) -> None:
    sign_in(web, OFFICER)
    response = web.get("/burden", params={"nope": "1"})
    assert response.status_code == 400
    assert "nope" in response.text
    assert "Sign out" in response.text, "drawn with the signed-in navigation"
    assert "/sign-in" not in response.text


def test_a_period_no_page_can_take_is_a_400_page_naming_it_for_the_signed_in_agency(web: TestClient) -> None:
    sign_in(web, AGENCY)
    response = web.get("/agency/template", params={"period": "FY9999-00"})
    assert response.status_code == 400
    assert "period" in response.text
    assert "Sign out" in response.text


def test_signed_out_an_error_page_offers_to_sign_in(web: TestClient) -> None:
    response = web.get("/glossary", params={"nope": "1"})
    assert response.status_code == 400
    assert "Sign out" not in response.text

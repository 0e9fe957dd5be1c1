"""What the page tests share: the demo keys that sign in, and signing in through the form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

AGENCY = "demo-notts-cyp-2c9f41d07b"
OTHER_AGENCY = "demo-lewisham-council-8d2e6a51"
OFFICER = "demo-officer-5e0b9c2a4f"
DFE = "demo-regulator-dfe-7a3c18e2"


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; return the session's CSRF token, read from the glossary's sign-out form.

    Not from the page the sign-in lands on: the dashboards build every return's deadlines and figures, a
    second or more each sign-in, and the tests of those pages open them themselves.
    """
    form = client.get("/sign-in")
    response = client.post("/sign-in", data={"key": key, "csrf_token": csrf_token(form.text)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] in ("/agency", "/officer", "/regulator"), response.headers["location"]
    light = client.get("/glossary")
    assert light.status_code == 200
    return csrf_token(light.text)

"""With its database refusing connections the service says so: readiness answers 503 for a load balancer while
liveness stays 200, a browser gets a GOV.UK error page with Retry-After, and the API keeps its JSON error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.web.public import SIGNIN_COOKIE
from onereturn import db
from onereturn.settings import Settings

#: Nothing listens on port 1 of the loopback: every connection is refused, as by a PostgreSQL that is down.
GONE = "postgresql+psycopg://postgres@127.0.0.1:1/onereturn"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


@pytest.fixture
def gone(tmp_path: Path) -> Iterator[TestClient]:
    """A service whose database refuses every connection."""
    settings = Settings(data_dir=tmp_path, database_url=GONE, scheduler_embedded=False, retry_after_seconds=7)
    engine = db.make_engine(GONE)
    try:
        with TestClient(create_app(settings, engine=engine)) as client:
            yield client
    finally:
        engine.dispose()


def test_readiness_says_the_database_is_gone_and_liveness_stays_up(gone: TestClient) -> None:
    assert gone.get("/health").status_code == 200
    ready = gone.get("/health/ready")
    assert ready.status_code == 503, ready.text
    assert ready.headers["retry-after"] == "7"
    body = ready.json()
    assert body["errors"][0]["type"] == "not_ready"
    assert "database cannot be reached" in body["error"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/sign-in"), ("GET", "/officer"), ("GET", "/submissions"), ("POST", "/sign-in")]
)
def test_a_browser_gets_an_error_page_with_retry_after(gone: TestClient, method: str, path: str) -> None:
    gone.cookies.set("onereturn_session", "a-session-from-before")
    # The sign-in form's own token, so the form is checked against the store (and not refused before).
    gone.cookies.set(SIGNIN_COOKIE, "t", path="/sign-in")
    answer = gone.request(
        method, path, headers=BROWSER, data={"key": "k", "csrf_token": "t"} if method == "POST" else None
    )
    assert answer.status_code == 503, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["retry-after"] == "7"
    assert "Sorry, the service is unavailable" in answer.text
    assert 'class="govuk-template"' in answer.text, "the page is in the service's GOV.UK layout"


def test_the_api_keeps_its_json_error(gone: TestClient) -> None:
    answer = gone.get("/api/submissions", headers={**OFFICER, **BROWSER})
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["ok"] is False

"""Search text: bounded (422 past the bound, never a false outage), its % and _ matched as themselves, and no SQL
parameter ever written into an error's text, which is what the log keeps."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from api.params import SEARCH_CHARS
from indicators.models import Indicator
from mappings.models import OrgUnit
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import OFFICER, sign_in

LONG = "a" * 60_000


@pytest.mark.parametrize("path", ["/api/indicators", "/api/orgs"])
def test_a_long_search_is_refused_naming_q_not_answered_as_an_outage(client: TestClient, path: str) -> None:
    response = client.get(path, params={"q": LONG})
    assert response.status_code == 422, response.text
    assert "Retry-After" not in response.headers
    assert any(e["loc"] == ["query", "q"] for e in response.json()["errors"])
    assert client.get(path, params={"q": "a" * SEARCH_CHARS}).status_code == 200


def _containing(session: Session, model: type, columns: list[str], needle: str) -> int:
    """How many rows hold ``needle`` as written, counted in Python (no LIKE involved)."""
    rows = session.execute(select(*[getattr(model, c) for c in columns])).all()
    return sum(any(needle in (value or "").lower() for value in row) for row in rows)


@pytest.mark.parametrize("wild", ["%", "_", "\\", "%_%"])
def test_like_wildcards_in_a_search_match_only_themselves(client: TestClient, session: Session, wild: str) -> None:
    indicators = client.get("/api/indicators", params={"q": wild}).json()
    assert indicators["total"] == _containing(session, Indicator, ["id", "title", "plain_title", "definition"], wild), (
        "q=% listed every indicator before"
    )
    if wild == "%":  # every indicator id holds an underscore, but few texts a percent sign
        assert indicators["total"] < session.execute(select(func.count()).select_from(Indicator)).scalar_one()
    orgs = client.get("/api/orgs", params={"q": wild}).json()
    assert orgs["total"] == _containing(session, OrgUnit, ["name", "code"], wild)
    # A word of the catalogue is still found wherever it is, in any case.
    sought = session.execute(
        select(func.count()).where(or_(func.lower(col(Indicator.title)).contains("looked after")))
    ).scalar_one()
    assert client.get("/api/indicators", params={"q": "Looked After", "limit": 1}).json()["total"] >= sought > 0


@pytest.fixture
def officer_pages(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    """The officer, signed in, on a private store."""
    with client_on(store_settings, store, follow_redirects=False) as browser:
        sign_in(browser, OFFICER)
        yield browser


def test_the_catalogue_page_refuses_a_long_search_with_a_400_page(officer_pages: TestClient) -> None:
    response = officer_pages.get("/catalogue", params={"q": LONG})
    assert response.status_code == 400
    assert "q:" in response.text
    assert "Sign out" in response.text, "drawn for the officer signed in"
    assert officer_pages.get("/catalogue", params={"q": "%"}).status_code == 200


def test_no_sql_parameter_is_written_into_an_error(engine: Engine) -> None:
    marker = "child-value-4f1c9a"
    with engine.connect() as conn, pytest.raises(SQLAlchemyError) as failed:
        conn.execute(text("INSERT INTO no_such_table (a) VALUES (:a)"), {"a": marker})
    logged = "".join(traceback.format_exception(failed.value))
    assert "no_such_table" in logged, "the statement is still named"
    assert marker not in logged

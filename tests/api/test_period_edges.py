"""Every period and date a route takes, at the edges of what can be written: never a 500; outside the service's
years (or unreadable) a 422 naming the parameter on the API and SDMX, a 400 naming it on the pages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from indicators.periods import FIRST_YEAR, LAST_YEAR
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import AGENCY, OFFICER, sign_in

DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER_KEY = {"X-API-Key": OFFICER}

#: Years at and past every edge: year 0 and 1, either side of the service's years, Python's last year and the one
#: after, negative years, and one far longer than any year.
EDGE_YEARS: tuple[int, ...] = (0, 1, FIRST_YEAR - 1, FIRST_YEAR, 2024, LAST_YEAR - 1, LAST_YEAR, LAST_YEAR + 1)
EDGE_YEARS += (9998, 9999, 10000, -1, -2024, 10**40)


def _year(y: int) -> str:
    return f"{y:04d}" if y >= 0 else f"-{-y:04d}"


def _next(y: int) -> str:
    return f"{(y + 1) % 100:02d}"


#: Each way of writing a period, from a year, and the years it covers (its first and last, after the year written).
Form = tuple[Callable[[int], str], int, int]
PERIODS: dict[str, Form] = {
    "financial year": (lambda y: f"FY{_year(y)}-{_next(y)}", 0, 1),
    "quarter": (lambda y: f"FY{_year(y)}-{_next(y)}-Q4", 1, 1),
    "academic year": (lambda y: f"AY{_year(y)}-{_next(y)}", 0, 1),
    "calendar year": (lambda y: f"CY{_year(y)}", 0, 0),
    "month": (lambda y: f"{_year(y)}-01", 0, 0),
    "day": (lambda y: f"{_year(y)}-12-31", 0, 0),
}
#: Each way of writing a date or an instant, from a year.
DATES: dict[str, Form] = {
    "first day": (lambda y: f"{_year(y)}-01-01", 0, 0),
    "last day": (lambda y: f"{_year(y)}-12-31", 0, 0),
}
INSTANTS: dict[str, Form] = {
    "first instant": (lambda y: f"{_year(y)}-01-01T00:00:00-14:00", 0, 0),
    "last instant": (lambda y: f"{_year(y)}-12-31T23:59:59+14:00", 0, 0),
}
FORMS = {"period": PERIODS, "date": DATES, "instant": INSTANTS}
#: Longer than any period or date: never served.
TOO_LONG = ("FY" + "9" * 5000 + "-00", False)


def written(kind: str, form: str, y: int) -> tuple[str, bool]:
    """The value of a year written in a form, and whether the service holds it (every year it covers within its
    own, the year written with four digits): the rule the routes are held to, worked out apart from the service."""
    write, first, last = FORMS[kind][form]
    return write(y), 1000 <= y <= 9999 and y + first >= FIRST_YEAR and y + last <= LAST_YEAR


@dataclass(frozen=True)
class Door:
    """One parameter of one route: where the value goes (``{}`` in the path, else the query) and whose key asks."""

    path: str
    name: str
    headers: dict[str, str]
    query: tuple[tuple[str, str], ...] = ()
    kind: str = "period"

    def request(self, client: TestClient, value: str) -> tuple[int, str]:
        """Send ``value`` as the parameter; return the status and the body."""
        if "{}" in self.path:
            url, params = self.path.format(quote(value, safe="")), dict(self.query)
        else:
            url, params = self.path, {**dict(self.query), self.name: value}
        response = client.get(url, params=params, headers=self.headers)
        return response.status_code, response.text


API = (
    Door("/api/returns/dfe_ssda903/{}.json", "period_file", DFE),
    Door("/api/returns/dfe_ssda903/{}.structure.xml", "period_file", DFE),
    Door("/api/returns/dfe_ssda903/{}/completeness", "period", OFFICER_KEY),
    Door("/api/returns/dfe_ssda903/{}/changes", "period", OFFICER_KEY, (("since", "2025-01-01"),)),
    Door("/api/agencies/notts_cyp/template", "period", NOTTS),
    Door("/api/figures", "period", OFFICER_KEY),
    Door("/api/signoffs", "period", OFFICER_KEY),
    Door("/api/signoffs/notts_cyp/dfe_ssda903/{}", "period", OFFICER_KEY),
    Door("/api/burden", "period", OFFICER_KEY),
    Door("/api/exports", "period", OFFICER_KEY),
    Door("/api/compare", "period", OFFICER_KEY, (("indicator", "cla.ceased_in_year"), ("org", "E10000024"))),
    Door("/api/published/differences", "period", OFFICER_KEY),
    Door("/sdmx/data/DF_DFE_SSDA903", "startPeriod", DFE),
    Door("/sdmx/data/DF_DFE_SSDA903", "endPeriod", DFE),
    Door("/api/calendar", "from", OFFICER_KEY, kind="date"),
    Door("/api/calendar", "to", OFFICER_KEY, kind="date"),
    Door("/api/orgs", "on", OFFICER_KEY, kind="date"),
    Door(
        "/api/agencies/synthetic_county/csc-api/children",
        "as_of",
        {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"},
        kind="date",
    ),
    Door("/api/figures", "as_of", OFFICER_KEY, kind="instant"),
    Door("/api/figures", "updated_after", OFFICER_KEY, kind="instant"),
    Door("/api/audit", "since", OFFICER_KEY, kind="instant"),
    Door("/api/returns/dfe_ssda903/FY2024-25.csv", "as_of", DFE, kind="instant"),
    Door("/api/returns/dfe_ssda903/FY2024-25/changes", "since", OFFICER_KEY, kind="instant"),
    Door("/sdmx/data/DF_DFE_SSDA903", "updatedAfter", DFE, kind="instant"),
)
PAGES = (
    Door("/agency/template", "period", {}),
    Door("/signoffs/dfe_ssda903/{}", "period", {}),
    Door("/burden", "period", {}),
    Door("/compare", "period", {}, (("indicator", "cla.ceased_in_year"), ("org", "E10000024"))),
    Door("/officer/approvals", "period", {}),
    Door("/officer/approvals/notts_cyp/dfe_ssda903/{}", "period", {}),
)
#: Which key each page is asked with (the officer's pages by the officer, the agency's by the agency).
PAGE_KEYS = {"/agency/template": AGENCY, "/signoffs/dfe_ssda903/{}": AGENCY}


def _check(door: Door, asked: tuple[str, bool], status: int, body: str, refused: int) -> None:
    value, served = asked
    assert status < 500, f"{door.path} {door.name}={value[:60]!r}: {status} {body[:300]}"
    if not served:
        assert status == refused, f"{door.path} {door.name}={value[:60]!r}: {status} {body[:300]}"
        assert door.name in body, f"{door.path}: the refusal of {value[:60]!r} names {door.name}: {body[-3000:]}"
    assert "Traceback" not in body


def _values(kind: str) -> st.SearchStrategy[tuple[str, bool]]:
    years = st.one_of(st.sampled_from(EDGE_YEARS), st.integers(-(10**6), 10**6))
    made = st.builds(lambda form, y: written(kind, form, y), st.sampled_from(sorted(FORMS[kind])), years)
    return st.one_of(made, st.just(TOO_LONG))


@st.composite
def _asked(draw: st.DrawFn, doors: tuple[Door, ...]) -> tuple[Door, tuple[str, bool]]:
    door = draw(st.sampled_from(doors))
    return door, draw(_values(door.kind))


def test_every_edge_of_every_period_and_date_is_named_and_refused_on_the_api(client: TestClient) -> None:
    # Each door at each edge once, then what hypothesis makes of them.
    for door in API:
        for y in EDGE_YEARS:
            asked = written(door.kind, next(iter(FORMS[door.kind])), y)
            _check(door, asked, *door.request(client, asked[0]), refused=422)

    @settings(
        max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_asked(API))
    def edges(door_asked: tuple[Door, tuple[str, bool]]) -> None:
        door, asked = door_asked
        _check(door, asked, *door.request(client, asked[0]), refused=422)

    edges()


@pytest.fixture
def pages(store: Engine, store_settings: Settings) -> Iterator[dict[str, TestClient]]:
    """A signed-in browser for the officer and one for the agency, on a private store."""
    with (
        client_on(store_settings, store, follow_redirects=False) as officer,
        client_on(store_settings, store, follow_redirects=False) as agency,
    ):
        sign_in(officer, OFFICER)
        sign_in(agency, AGENCY)
        yield {OFFICER: officer, AGENCY: agency}


def test_every_edge_of_every_period_is_named_and_refused_on_the_pages(pages: dict[str, TestClient]) -> None:
    def ask(door: Door, asked: tuple[str, bool]) -> None:
        _check(door, asked, *door.request(pages[PAGE_KEYS.get(door.path, OFFICER)], asked[0]), refused=400)

    for door in PAGES:
        for y in EDGE_YEARS:
            ask(door, written("period", "financial year", y))

    @settings(
        max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(_asked(PAGES))
    def edges(door_asked: tuple[Door, tuple[str, bool]]) -> None:
        ask(*door_asked)

    edges()

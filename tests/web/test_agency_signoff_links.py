"""The agency's "Sign off" links: a row of what it owes links to its sign-off page exactly where the agency has figures
behind the return for the period; the rows are asked for together (their builds share their reads of the store), with
the same answer as each asked alone, and a row whose period the return cannot be built for has no link."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from api.web import agency
from exports.signoff.behind import agencies_behind, standings
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.apps import client_on
from tests.helpers import upload_clean
from tests.web.pages import AGENCY, sign_in

#: Nottinghamshire's children looked after at 31 March 2025: a figure the county core data set, DfE's SSDA903 return
#: and the National Indicator Set all read.
FIGURE = "cyp.lac_count,E10000024,2025-03-31,,1100,,,,"
ASKED = [
    ("county_cyp_core", "FY2025-26-Q1"),
    ("county_cyp_core", "FY2024-25-Q4"),
    ("dfe_ssda903", "FY2024-25"),
    ("ofsted_fostering_la", "FY2024-25"),
    ("no_such_return", "FY2024-25"),
]
#: A quarter asked of a return made once a year: the period cannot be built for it.
UNBUILDABLE = ("dfe_ssda903", "FY2024-25-Q1")


def _alone(session: Session, key: tuple[str, str]) -> bool:
    """The row asked alone, as the page asked each row before."""
    return agency._behind_alone(session, "notts_cyp", key)


def test_rows_asked_together_are_answered_as_each_asked_alone(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload_clean(store, store_settings, "notts_cyp", FIGURE)
    calls: list[dict[str, list[str]]] = []

    def counted(session: Session, wanted: dict[str, list[str]]) -> Any:
        calls.append(wanted)
        return standings(session, wanted)

    monkeypatch.setattr(agency, "standings", counted)
    with Session(store) as session:
        together = agency._has_figures_behind(session, "notts_cyp", ASKED)
        assert calls == [{r: [p for q, p in ASKED if q == r] for r, _ in ASKED}]
        alone = {key: _alone(session, key) for key in ASKED}
    assert together == alone
    # The figure is behind the returns that read it; a return it does not feed, or one not defined, has no link.
    assert together[("dfe_ssda903", "FY2024-25")] is True
    assert together[("no_such_return", "FY2024-25")] is False
    assert True in {together[("county_cyp_core", p)] for p in ("FY2025-26-Q1", "FY2024-25-Q4")}


def test_a_row_that_cannot_be_built_has_no_link_and_the_others_keep_theirs(
    store: Engine, store_settings: Settings
) -> None:
    upload_clean(store, store_settings, "notts_cyp", FIGURE)
    with Session(store) as session:
        with pytest.raises(InvalidInput):
            agencies_behind(session, *UNBUILDABLE)
        found = agency._has_figures_behind(session, "notts_cyp", [*ASKED, UNBUILDABLE])
        alone = {key: _alone(session, key) for key in ASKED}
    assert found == {**alone, UNBUILDABLE: False}
    assert found[("dfe_ssda903", "FY2024-25")] is True


def test_the_agency_page_links_the_rows_it_has_figures_behind(store: Engine, store_settings: Settings) -> None:
    upload_clean(store, store_settings, "notts_cyp", FIGURE)
    with client_on(store_settings, store, follow_redirects=False) as web:
        sign_in(web, AGENCY)
        page = web.get("/agency")
    assert page.status_code == 200
    links = set(re.findall(r'href="/signoffs/([^/"]+)/([^"]+)"', page.text))
    assert links, "no row links to its sign-off page"
    with Session(store) as session:
        assert {key for key in links if not _alone(session, key)} == set()

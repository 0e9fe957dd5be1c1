"""The agency's "Due next, for each return": the next deadline still to come for each return, at a fixed moment."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from api.web.shared import due_next
from onereturn import clock
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import AGENCY, sign_in

#: A fixed moment: the county core data set's January-March 2025 quarter has passed its agency deadline (20 working
#: days after the quarter, less the agencies' five), the annual returns for 2024-25 are due in June and July.
NOW = datetime(2025, 5, 20, 11, 0, tzinfo=UTC)


def _table(html: str, ident: str) -> list[dict[str, str]]:
    found = re.search(rf'<table class="govuk-table app-table--small" id="{ident}">(.*?)</table>', html, re.S)
    assert found, ident
    rows = []
    for ret, period, cells in re.findall(
        r'<tr class="govuk-table__row" data-return="([^"]+)" data-period="([^"]+)">(.*?)</tr>', found.group(1), re.S
    ):
        tds = [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        rows.append({"return": ret, "period": period, "deadline": " ".join(tds[1]), "owed": tds[2][0]})
    return rows


@pytest.fixture
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fix the service's clock at NOW."""
    monkeypatch.setattr(clock, "now", lambda: NOW)


@pytest.mark.usefixtures("fixed")
def test_due_next_shows_each_returns_next_deadline_still_to_come(store: Engine, store_settings: Settings) -> None:
    with client_on(store_settings, store, follow_redirects=False) as web:
        sign_in(web, AGENCY)
        html = web.get("/agency").text
        due, overdue = _table(html, "due-now"), _table(html, "overdue")
        # The quarter running now (April to June 2025) is next for the core data set: its January to March
        # quarter's deadline passed on 23 April 2025 and is overdue, not next.
        assert [(r["return"], r["period"], r["deadline"]) for r in due] == [
            ("dfe_ssda903", "FY2024-25", "22 May 2025"),
            ("ofsted_fostering_la", "FY2024-25", "23 June 2025"),
            ("county_cyp_core", "FY2025-26-Q1", "21 July 2025"),
            ("dfe_cin_census", "FY2024-25", "24 July 2025"),
        ]
        assert ("county_cyp_core", "FY2024-25-Q4", "23 April 2025") in [
            (r["return"], r["period"], r["deadline"]) for r in overdue
        ]
        assert not {(r["return"], r["period"]) for r in due} & {(r["return"], r["period"]) for r in overdue}

        # Each row is the calendar's earliest agency deadline after now for its return, with the figures it owes.
        calendar = web.get(
            "/api/calendar", headers={"X-API-Key": AGENCY}, params={"from": "2024-01-01", "to": "2026-12-31"}
        ).json()["items"]
        for row in due:
            later = sorted(
                (
                    e
                    for e in calendar
                    if e["kind"] == "agency_deadline"
                    and e["return_id"] == row["return"]
                    and datetime.fromisoformat(e["at"]) > NOW
                ),
                key=lambda e: e["at"],
            )
            assert later[0]["period"] == row["period"]
            assert int(row["owed"]) == later[0]["owed"]["notts_cyp"] > 0

        # A figure sent for the quarter is one fewer owed.
        before = next(r for r in due if r["return"] == "county_cyp_core")
        sent = web.post(
            "/api/submissions",
            headers={"X-API-Key": AGENCY},
            files={"file": ("q1.csv", b"indicator,org,period,value\ncyp.cpp_count,E10000024,2025-06-30,400\n")},
        )
        assert sent.status_code == 201, sent.text
        after = next(r for r in _table(web.get("/agency").text, "due-now") if r["return"] == "county_cyp_core")
        assert (after["period"], int(after["owed"])) == (before["period"], int(before["owed"]) - 1)


def _entry(return_id: str, period: str, at: str, kind: str = "agency_deadline") -> dict[str, Any]:
    return {"return_id": return_id, "period": period, "at": at, "kind": kind}


def test_due_next_takes_the_earliest_deadline_after_now_for_each_return() -> None:
    entries = [
        _entry("a", "2025-03", "2025-04-14T17:00:00+01:00"),  # passed: overdue or done, never next
        _entry("a", "2025-05", "2025-06-13T17:00:00+01:00"),
        _entry("a", "2025-04", "2025-05-20T13:00:00+01:00"),  # one hour after now, in London time
        _entry("b", "FY2024-25", "2025-05-20T12:00:00+01:00"),  # exactly now: passed
        _entry("b", "FY2024-25", "2025-06-30T17:00:00+01:00", kind="recipient_deadline"),
        _entry("c", "FY2025-26", "2026-07-24T17:00:00+01:00"),
    ]
    nxt = due_next(entries, NOW)
    assert {r: (e["period"], e["at"][:10]) for r, e in nxt.items()} == {
        "a": ("2025-04", "2025-05-20"),
        "c": ("FY2025-26", "2026-07-24"),
    }

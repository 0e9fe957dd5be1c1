"""Sign-off dates on the calendar, and the officer's overdue list counting returns not signed off, at fixed moments.

Nottinghamshire sends every figure Ofsted's fostering return needs for 2024-25; the synthetic county sends none. Once
the sign-off date passes (Ofsted publishes none, so it is the agencies' deadline, 23 June 2025), Nottinghamshire is
overdue "not signed off" and the synthetic county "figures missing", until Nottinghamshire's approver signs off.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.figures.service import submit
from onereturn import clock
from onereturn.settings import Settings
from tests.signoffs import sign_off_everything
from tests.web.pages import AGENCY, OFFICER, sign_in

OFFICER_KEY = {"X-API-Key": OFFICER}
AGENCY_KEY = {"X-API-Key": AGENCY}
#: Every figure Nottinghamshire owes Ofsted's fostering return for 2024-25 (a snapshot on 31 March 2025).
FOSTERING = (
    "indicator,org,period,value\n"
    "cyp.fostering_households_approved,E10000024,2025-03-31,380\n"
    "cyp.fostering_places_approved,E10000024,2025-03-31,640\n"
    "cyp.fostering_places_filled,E10000024,2025-03-31,520\n"
    "cyp.fostering_children_placed,E10000024,2025-03-31,510\n"
    "cyp.lac_in_foster_placement,E10000024,2025-03-31,690\n"
)
#: Before any 2024-25 sign-off date.
BEFORE = datetime(2025, 5, 20, 11, 0, tzinfo=UTC)
#: The day after Ofsted's fostering return's sign-off date (the agencies' deadline, 23 June 2025 at 17:00).
AFTER = datetime(2025, 6, 24, 11, 0, tzinfo=UTC)


def _sign_in_as(web: TestClient, key: str) -> None:
    web.cookies.clear()
    sign_in(web, key)


def _at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


def _calendar(web: TestClient, headers: dict[str, str], start: str, end: str) -> list[dict[str, object]]:
    body = web.get("/api/calendar", headers=headers, params={"from": start, "to": end}).json()
    items: list[dict[str, object]] = body["items"]
    return items


def _entry(items: list[dict[str, object]], return_id: str, kind: str) -> dict[str, object]:
    (found,) = [e for e in items if e["return_id"] == return_id and e["kind"] == kind]
    return found


def _send_fostering(store: Engine, settings: Settings) -> None:
    outcome = submit(store, settings, agency_code="notts_cyp", filename="fostering.csv", data=FOSTERING.encode())
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome


def test_each_returns_signoff_date_is_on_the_calendar_feed_and_pages(
    web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, BEFORE)
    items = _calendar(web, OFFICER_KEY, "2025-06-01", "2025-07-31")
    # DfE's own dates: SSDA903's data submitted by 30 June, the CIN census's by 31 July (both after the data loaded).
    ssda903 = _entry(items, "dfe_ssda903", "signoff_deadline")
    assert ssda903["at"] == "2025-06-30T17:00:00+01:00"
    assert ssda903["title"] == (
        "Children looked after by local authorities in England (SSDA903), 2024 to 2025 financial year: sign-off due"
    )
    assert _entry(items, "dfe_cin_census", "signoff_deadline")["at"] == "2025-07-31T17:00:00+01:00"
    # Ofsted publishes no date of its own: approvers sign off by the agencies' deadline.
    fostering = _entry(items, "ofsted_fostering_la", "signoff_deadline")
    assert (
        fostering["at"] == _entry(items, "ofsted_fostering_la", "agency_deadline")["at"] == "2025-06-23T17:00:00+01:00"
    )
    # Not due yet, and nobody has signed off: each agency's state and the figures it still has to send.
    assert ssda903["status"] == "owed"
    assert ssda903["unsigned"] == {"lewisham_council": "open", "notts_cyp": "open", "synthetic_county": "open"}
    assert ssda903["overdue"] == {}
    assert all(n > 0 for n in ssda903["owed"].values())  # type: ignore[attr-defined]

    # The return's definition says where its sign-off date comes from.
    detail = web.get("/api/returns/dfe_ssda903").json()
    assert detail["signoff_rule"] == "fixed_after_period_end:06-30"
    assert "data submitted by 30 June 2022" in detail["signoff_sources"][0]["section"]
    assert web.get("/api/returns/ofsted_fostering_la").json()["signoff_rule"] == "agency_deadline"

    feed = icalendar.Calendar.from_ical(
        web.get("/api/calendar.ics", params={"from": "2025-06-01", "to": "2025-07-31"}).content
    )
    events = {str(e["UID"]): e for e in feed.walk("VEVENT")}
    event = events["dfe_ssda903.FY2024-25.signoff_deadline@onereturn"]
    assert event.decoded("dtstart") == datetime(2025, 6, 30, 16, 0, tzinfo=UTC)
    assert "sign-off due" in str(event["SUMMARY"])

    _sign_in_as(web, OFFICER)
    month = web.get("/calendar", params={"month": "2025-06"}).text
    assert re.search(r"30 June 2025: Children looked after[^<]*, FY2024-25, sign-off due", month), month
    assert "dfe_ssda903 FY2024-25: sign-off due" in month

    _sign_in_as(web, AGENCY)
    owed = web.get("/agency").text
    table = re.search(r'<table class="govuk-table app-table--small" id="to-sign">(.*?)</table>', owed, re.S)
    assert table is not None
    rows = re.findall(
        r'data-return="([^"]+)" data-period="([^"]+)" data-state="([^"]+)">(.*?)</tr>', table.group(1), re.S
    )
    by_return = {(r, p): (state, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells))) for r, p, state, cells in rows}
    state, text = by_return[("dfe_ssda903", "FY2024-25")]
    assert state == "open"
    assert "30 June 2025" in text
    assert "Not signed off" in text
    assert ("ofsted_fostering_la", "FY2024-25") in by_return


def test_the_overdue_list_counts_returns_not_signed_off_apart_from_figures_missing(
    web: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _send_fostering(store, store_settings)
    _at(monkeypatch, AFTER)
    items = _calendar(web, OFFICER_KEY, "2025-06-01", "2025-06-30")
    figures = _entry(items, "ofsted_fostering_la", "agency_deadline")
    # At the agencies' deadline, only the synthetic county is late: Nottinghamshire's figures are all in.
    assert figures["owed"] == {"notts_cyp": 0, "synthetic_county": 5}
    assert figures["overdue"] == {"synthetic_county": "figures_missing"}
    signoff = _entry(items, "ofsted_fostering_la", "signoff_deadline")
    assert signoff["status"] == "overdue"
    assert signoff["unsigned"] == {"notts_cyp": "open", "synthetic_county": "open"}
    assert signoff["overdue"] == {"notts_cyp": "not_signed_off", "synthetic_county": "figures_missing"}
    # The overdue filter finds it, and an agency key sees only its own standing.
    late = _calendar(web, OFFICER_KEY, "2025-06-01", "2025-06-30")
    assert signoff in [e for e in late if e["status"] == "overdue"]
    mine = _entry(_calendar(web, AGENCY_KEY, "2025-06-01", "2025-06-30"), "ofsted_fostering_la", "signoff_deadline")
    assert mine["overdue"] == {"notts_cyp": "not_signed_off"}

    _sign_in_as(web, OFFICER)
    rows = _overdue_rows(web.get("/officer").text)
    assert "Not signed off: Ofsted" in rows["notts_cyp"]["hint"]
    assert "Ofsted" not in rows["notts_cyp"]["hint"].partition("Not signed off")[0], "its figures are all in"
    assert rows["notts_cyp"]["unsigned"] == "1"
    assert rows["synthetic_county"]["unsigned"] == "0"
    assert "Figures missing:" in rows["synthetic_county"]["hint"]
    assert "Ofsted" in rows["synthetic_county"]["hint"]
    month = web.get("/calendar", params={"month": "2025-06"}).text
    assert "overdue: figures missing, not signed off" in month

    _sign_in_as(web, AGENCY)
    agency_page = web.get("/agency").text
    assert "1 sign-off date passed with your figures not signed off" in agency_page

    # Nottinghamshire's approver signs off: it is no longer overdue for the return; the synthetic county still is.
    assert sign_off_everything(store, returns=["ofsted_fostering_la"]) == 1
    signoff = _entry(_calendar(web, OFFICER_KEY, "2025-06-01", "2025-06-30"), "ofsted_fostering_la", "signoff_deadline")
    assert signoff["unsigned"] == {"synthetic_county": "open"}
    assert signoff["overdue"] == {"synthetic_county": "figures_missing"}
    _sign_in_as(web, OFFICER)
    rows = _overdue_rows(web.get("/officer").text)
    assert "Not signed off" not in rows.get("notts_cyp", {"hint": ""})["hint"]
    assert rows.get("notts_cyp", {"unsigned": "0"})["unsigned"] == "0"


def _overdue_rows(html: str) -> dict[str, dict[str, str]]:
    table = re.search(r'<table class="govuk-table app-table--small" id="overdue">(.*?)</table>', html, re.S)
    assert table is not None, "no overdue table"
    rows = {}
    for agency, cells in re.findall(
        r'<tr class="govuk-table__row" data-agency="([^"]+)">(.*?)</tr>', table.group(1), re.S
    ):
        hint = re.search(r'<span class="govuk-hint[^"]*">(.*?)</span>', cells, re.S)
        numbers = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        rows[agency] = {
            "hint": " ".join((hint.group(1) if hint else "").split()),
            "deadlines": numbers[0],
            "owed": numbers[1],
            "unsigned": numbers[2],
        }
    return rows

"""The officer's approvals: the queue of sign-offs by return and period, one sign-off's review, accept and send back."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mappings.models import Return
from mappings.signoff.models import SignOffEvent
from mappings.signoff.states import ACCEPTED, RETURNED, SIGNABLE, SIGNED_OFF, find, state_of
from tests.web.pages import AGENCY, DFE, OFFICER, OTHER_AGENCY, sign_in

QUEUE = "/officer/approvals"
PAGE = "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25"
REVIEW = "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25"
RETURN = "/api/returns/dfe_ssda903/FY2024-25"
NOTTS = "indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,{}\n"
LEWISHAM = "indicator,org,period,value\ncyp.lac_count,E09000023,2025-03-31,480\n"
CELL = "EPI.CLA_31MAR|E10000024|"


def _upload(web: TestClient, body: str, key: str = AGENCY) -> None:
    answer = web.post("/api/submissions", headers={"X-API-Key": key}, files={"file": ("f.csv", body.encode())})
    assert answer.status_code == 201, answer.text


def _sign_off(web: TestClient, path: str = REVIEW, key: str = AGENCY) -> None:
    """Sign off as the agency's approver does over the API."""
    headers = {"X-API-Key": key}
    review = web.get(path, headers=headers).json()
    signed = web.post(
        f"{path}/sign-off", headers=headers, json={"declaration": review["declaration"], "digest": review["digest"]}
    )
    assert signed.status_code == 200, signed.text


def _rows(html: str) -> dict[tuple[str, str], str]:
    """The queue's rows by (agency, period), each with its state."""
    return {
        (m.group(1), m.group(2)): m.group(3)
        for m in re.finditer(
            r'<tr class="govuk-table__row" data-agency="([^"]+)" data-period="([^"]+)" data-state="([^"]+)"', html
        )
    }


def _state(store: Engine, agency: str = "notts_cyp") -> str:
    with Session(store) as session:
        return state_of(session, agency, "dfe_ssda903", "FY2024-25")


def _events(store: Engine) -> int:
    with Session(store) as session:
        return len(session.execute(select(SignOffEvent).where(col(SignOffEvent.agency_code) == "notts_cyp")).all())


def _cell(web: TestClient) -> dict[str, Any]:
    rows = web.get(f"{RETURN}.json", params={"fresh": "true"}, headers={"X-API-Key": DFE}).json()["cells"]
    return next(c for c in rows if c["cell_id"] == CELL)


def _count(html: str, name: str) -> int:
    found = re.search(rf'id="count-{name}">([\d,]+)<', html)
    assert found, name
    return int(found.group(1).replace(",", ""))


def test_the_queue_lists_each_agency_with_its_state_and_filters(web: TestClient) -> None:
    _upload(web, NOTTS.format(4321))
    _upload(web, LEWISHAM, key=OTHER_AGENCY)
    _sign_off(web)
    sign_in(web, OFFICER)
    everything = web.get(QUEUE)
    assert everything.status_code == 200, everything.text
    assert 'href="/officer/approvals"' in web.get("/officer").text  # from the dashboard
    assert _rows(everything.text)[("notts_cyp", "FY2024-25")] == "signed_off"

    one = web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25"}).text
    rows = _rows(one)
    # Nottinghamshire signed off; Lewisham has figures in the return and has done nothing yet, so is open.
    assert rows[("notts_cyp", "FY2024-25")] == "signed_off"
    assert rows[("lewisham_council", "FY2024-25")] == "open"
    assert {period for _, period in rows} == {"FY2024-25"}
    assert 'data-return="dfe_cin_census"' not in one
    assert "Waiting for its approver to sign off" in one
    assert "Nothing: released to" in one
    assert _count(one, "not-signed") == sum(1 for s in rows.values() if s in SIGNABLE)
    assert _count(one, "released") == sum(1 for s in rows.values() if s == "signed_off")
    assert _count(one, "awaiting") == 0
    assert f'href="{PAGE}"' in one

    signed = _rows(web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25", "state": "signed_off"}).text)
    assert set(signed) == {("notts_cyp", "FY2024-25")}
    still_open = _rows(web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25", "state": "open"}).text)
    assert ("lewisham_council", "FY2024-25") in still_open
    assert ("notts_cyp", "FY2024-25") not in still_open
    assert set(still_open.values()) == {"open"}

    # A period asked for without a return lists it in every return of that kind, and nothing of other periods.
    by_period = web.get(QUEUE, params={"period": "FY2024-25"}).text
    assert {p for _, p in _rows(by_period)} == {"FY2024-25"}
    assert 'data-return="dfe_ssda903"' in by_period


def test_a_return_signed_off_before_figures_were_added_waits_to_be_signed_off_again(web: TestClient) -> None:
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    # Added after the sign-off (a revision reopens it instead): held back from the regulator, the sign-off stands.
    _upload(web, "indicator,org,period,value\ncyp.lac_during_year,E10000024,FY2024-25,900\n")
    sign_in(web, OFFICER)
    queue = web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25"}).text
    row = re.search(r'data-agency="notts_cyp".*?</tr>', queue, re.S)
    assert row is not None
    assert "Nothing: released to" not in row.group(0)
    assert "1 figure added since its sign-off: waiting for its approver to sign off again" in row.group(0)
    assert _count(queue, "released") == 0
    assert _count(queue, "not-signed") == len(_rows(queue))
    assert _count(queue, "awaiting") == 0
    # Signed off again, the revised figure is released and the queue says so.
    _sign_off(web)
    again = web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25"}).text
    row = re.search(r'data-agency="notts_cyp".*?</tr>', again, re.S)
    assert row is not None
    assert "Nothing: released to" in row.group(0)
    assert _count(again, "released") == 1


def test_a_filter_the_api_refuses_is_an_error_summary(web: TestClient) -> None:
    sign_in(web, OFFICER)
    unknown_state = web.get(QUEUE, params={"state": "approved"})
    assert unknown_state.status_code == 400
    assert "govuk-error-summary" in unknown_state.text
    assert 'href="#state"' in unknown_state.text
    wrong_period = web.get(QUEUE, params={"return": "dfe_ssda903", "period": "2024-06"})
    assert wrong_period.status_code == 400
    assert 'href="#period"' in wrong_period.text
    not_in_force = web.get(QUEUE, params={"return": "nis", "period": "FY2024-25"})
    assert not_in_force.status_code == 404
    assert 'href="#period"' in not_in_force.text
    unknown_return = web.get(QUEUE, params={"return": "no_such_return"})
    assert unknown_return.status_code == 404
    assert 'href="#return"' in unknown_return.text


def test_the_officer_accepts_where_the_return_needs_acceptance(web: TestClient, store: Engine) -> None:
    with Session(store) as session:
        ret = session.get(Return, "dfe_ssda903")
        assert ret is not None
        ret.needs_acceptance = True
        session.add(ret)
        session.commit()
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    assert _cell(web)["status"] == "unsigned"  # signed off, not yet accepted: held back
    csrf = sign_in(web, OFFICER)
    queue = web.get(QUEUE, params={"return": "dfe_ssda903", "period": "FY2024-25"}).text
    assert _count(queue, "awaiting") == 1
    assert "Waiting for your acceptance" in queue
    shown = web.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert 'id="accept"' in shown.text
    assert "4321" in shown.text
    assert 'id="digest"' in shown.text
    done = web.post(f"{PAGE}/accept", data={"csrf_token": csrf})
    assert done.status_code == 303, done.text
    landed = web.get(done.headers["location"])
    assert 'class="govuk-notification-banner govuk-notification-banner--success"' in landed.text
    assert "You accepted" in landed.text
    assert re.search(r'id="state-tag">Accepted<', landed.text)
    assert 'id="accept"' not in landed.text
    assert _state(store) == ACCEPTED
    assert _cell(web)["value"] == 4321
    # Accepting again is a conflict, shown on the page; nothing changes.
    events = _events(store)
    again = web.post(f"{PAGE}/accept", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "govuk-error-summary" in again.text
    assert "Only a signed-off return can be accepted" in again.text
    assert _events(store) == events
    # Audited as the API's accept is: the acceptance, then the refused second one.
    trail = web.get("/api/audit", headers={"X-API-Key": OFFICER}, params={"action": "signoff.accept"}).json()["items"]
    assert [(e["outcome"], e["status"], e["object"]) for e in trail] == [
        ("rejected", 409, "signoff notts_cyp dfe_ssda903 FY2024-25"),
        ("ok", 200, "signoff notts_cyp dfe_ssda903 FY2024-25"),
    ]


def test_accept_is_offered_only_where_acceptance_applies(web: TestClient) -> None:
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    sign_in(web, OFFICER)
    shown = web.get(PAGE).text
    assert 'id="accept"' not in shown
    assert 'id="no-accept"' in shown
    assert 'id="send-back"' in shown
    assert _count(web.get(QUEUE).text, "awaiting") == 0


def test_the_officer_sends_a_return_back_with_a_reason(web: TestClient, store: Engine) -> None:
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    assert _cell(web)["value"] == 4321
    csrf = sign_in(web, OFFICER)
    sent = web.post(f"{PAGE}/return", data={"csrf_token": csrf, "reason": "The count is a year old"})
    assert sent.status_code == 303, sent.text
    landed = web.get(sent.headers["location"])
    assert "You sent the return back" in landed.text
    assert re.search(r'id="state-tag">Returned<', landed.text)
    assert "The count is a year old" in landed.text
    history = re.search(
        r'<table class="govuk-table app-table--small" id="history-table">(.*?)</table>', landed.text, re.S
    )
    assert history
    assert "The count is a year old" in history.group(1)
    assert "Signed off to returned" in history.group(1)
    assert 'id="send-back"' not in landed.text
    assert 'id="nothing-to-do"' in landed.text
    assert _state(store) == RETURNED
    assert _cell(web)["status"] == "unsigned"
    queue = web.get(QUEUE, params={"state": "returned"}).text
    assert _rows(queue) == {("notts_cyp", "FY2024-25"): "returned"}
    assert "Sent back: The count is a year old" in queue
    # The approver sees the reason on their own page.
    web.cookies.clear()
    sign_in(web, AGENCY)
    assert "The count is a year old" in web.get("/signoffs/dfe_ssda903/FY2024-25").text
    trail = web.get("/api/audit", headers={"X-API-Key": OFFICER}, params={"action": "signoff.return"}).json()["items"]
    assert [(e["outcome"], e["detail"]) for e in trail] == [("ok", "The count is a year old")]


@pytest.mark.parametrize("reason", ["", "   \n ", "x" * 2001])
def test_sending_back_without_a_fit_reason_stores_nothing(web: TestClient, store: Engine, reason: str) -> None:
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    events = _events(store)
    csrf = sign_in(web, OFFICER)
    refused = web.post(f"{PAGE}/return", data={"csrf_token": csrf, "reason": reason})
    assert refused.status_code == 400
    assert "govuk-error-summary" in refused.text
    assert '<a href="#reason">' in refused.text
    assert 'id="reason-error"' in refused.text
    assert "govuk-form-group--error" in refused.text
    assert _state(store) == SIGNED_OFF
    assert _events(store) == events
    assert _cell(web)["value"] == 4321


def test_nothing_signed_off_cannot_be_accepted_or_sent_back(web: TestClient, store: Engine) -> None:
    _upload(web, NOTTS.format(4321))
    csrf = sign_in(web, OFFICER)
    shown = web.get(PAGE)
    assert shown.status_code == 200
    assert 'id="nothing-to-do"' in shown.text
    assert 'id="not-signed"' in shown.text
    for action, data in (("accept", {}), ("return", {"reason": "Too early"})):
        refused = web.post(f"{PAGE}/{action}", data={"csrf_token": csrf, **data})
        assert refused.status_code == 409, action
        assert "govuk-error-summary" in refused.text
        assert "nothing has been signed off" in refused.text
    with Session(store) as session:
        assert find(session, "notts_cyp", "dfe_ssda903", "FY2024-25") is None
    assert web.post(f"{PAGE}/accept", data={"csrf_token": "forged"}).status_code == 400


@pytest.mark.parametrize(
    ("key", "path", "status"),
    [
        (AGENCY, QUEUE, 403),
        (DFE, QUEUE, 403),
        (DFE, PAGE, 403),
        (OTHER_AGENCY, PAGE, 404),
        (OTHER_AGENCY, "/officer/approvals/no_such_agency/dfe_ssda903/FY2024-25", 404),
        (OFFICER, "/officer/approvals/no_such_agency/dfe_ssda903/FY2024-25", 404),
        (OFFICER, "/officer/approvals/notts_cyp/no_such_return/FY2024-25", 404),
    ],
)
def test_others_get_the_apis_refusals(web: TestClient, key: str, path: str, status: int) -> None:
    sign_in(web, key)
    assert web.get(path).status_code == status
    api = web.get(path.replace("/officer/approvals", "/api/signoffs"), headers={"X-API-Key": key})
    if path != QUEUE:
        assert api.status_code == status


def test_the_agency_is_sent_to_its_own_sign_off_page(web: TestClient) -> None:
    sign_in(web, AGENCY)
    answer = web.get(PAGE)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signoffs/dfe_ssda903/FY2024-25"


@pytest.mark.parametrize("key", [AGENCY, OTHER_AGENCY, DFE])
def test_only_the_officer_accepts_or_sends_back(web: TestClient, store: Engine, key: str) -> None:
    _upload(web, NOTTS.format(4321))
    _sign_off(web)
    csrf = sign_in(web, key)
    for action, data in (("accept", {}), ("return", {"reason": "Mine now"})):
        tried = web.post(f"{PAGE}/{action}", data={"csrf_token": csrf, **data})
        assert tried.status_code == 403, (action, tried.text)
        api = web.post(f"{REVIEW}/{action}", headers={"X-API-Key": key}, json=data or None)
        assert api.status_code == 403
    assert _state(store) == SIGNED_OFF

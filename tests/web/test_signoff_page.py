"""The approver's sign-off page: what signing off releases, the declaration, and what stands in the way."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from mappings.signoff.states import OPEN, SIGNED_OFF, find, state_of
from onereturn import clock
from tests.web.pages import AGENCY, DFE, OFFICER, sign_in

PAGE = "/signoffs/dfe_ssda903/FY2024-25"
RETURN = "/api/returns/dfe_ssda903/FY2024-25"
LAC = "indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,{}\n"
CELL = "EPI.CLA_31MAR|E10000024|"


def _upload(web: TestClient, body: str, key: str = AGENCY) -> None:
    answer = web.post("/api/submissions", headers={"X-API-Key": key}, files={"file": ("f.csv", body.encode())})
    assert answer.status_code == 201, answer.text


def _declaration(html: str) -> str:
    found = re.search(r'name="declaration" value="([^"]*)"', html)
    assert found, "the page offers no declaration to confirm"
    return found.group(1).replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')


def _digest(html: str) -> str:
    found = re.search(r'name="digest" value="([0-9a-f]{64})"', html)
    assert found, "the page's form carries no digest of the figures shown"
    return found.group(1)


def _cell(web: TestClient) -> dict[str, Any]:
    rows = web.get(f"{RETURN}.json", params={"fresh": "true"}, headers={"X-API-Key": DFE}).json()["cells"]
    return next(c for c in rows if c["cell_id"] == CELL)


def test_the_approver_sees_the_cells_and_signs_them_off(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    assert _cell(web)["status"] == "unsigned"
    csrf = sign_in(web, AGENCY)
    shown = web.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert CELL in shown.text
    assert "4321" in shown.text
    assert 'id="sign-off"' in shown.text
    assert "Not yet signed off." in shown.text
    assert "Open" in shown.text
    form = {
        "csrf_token": csrf,
        "declaration": _declaration(shown.text),
        "digest": _digest(shown.text),
        "confirm": "yes",
    }
    signed = web.post(PAGE, data=form)
    assert signed.status_code == 303, signed.text
    landed = web.get(signed.headers["location"])
    assert 'class="govuk-panel govuk-panel--confirmation"' in landed.text
    assert 'id="sign-off"' not in landed.text
    assert "Signed off by" in landed.text
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == SIGNED_OFF
    cell = _cell(web)
    assert cell["status"] != "unsigned"
    assert cell["value"] == 4321


def test_the_declaration_must_be_ticked(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    form = {"csrf_token": csrf, "declaration": _declaration(web.get(PAGE).text), "digest": _digest(web.get(PAGE).text)}
    refused = web.post(PAGE, data=form)
    assert refused.status_code == 400
    assert "govuk-error-summary" in refused.text
    assert "Tick the box" in refused.text
    with Session(store) as session:
        assert find(session, "notts_cyp", "dfe_ssda903", "FY2024-25") is None
    assert web.post(PAGE, data={**form, "confirm": "yes", "csrf_token": "forged"}).status_code == 400


def test_a_blocked_sign_off_lists_what_stands_in_the_way(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    # A later upload whose row for this return and period is in error (a negative count) stands in its way.
    bad = web.post(
        "/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("f.csv", LAC.format(-5).encode())}
    )
    assert bad.status_code == 422, bad.text
    csrf = sign_in(web, AGENCY)
    shown = web.get(PAGE)
    assert 'id="blocker-list"' in shown.text
    assert "Fix the upload" in shown.text
    refused = web.post(
        PAGE,
        data={
            "csrf_token": csrf,
            "declaration": _declaration(shown.text),
            "digest": _digest(shown.text),
            "confirm": "yes",
        },
    )
    assert refused.status_code == 409, refused.text
    assert "govuk-error-summary" in refused.text
    assert "error(s)" in refused.text
    assert re.search(r'<a href="/submissions/\d+">Upload \d+', refused.text)
    with Session(store) as session:
        # A refused sign-off leaves nothing behind, not even an open row.
        assert find(session, "notts_cyp", "dfe_ssda903", "FY2024-25") is None
    assert _cell(web)["status"] == "unsigned"


def test_an_agency_key_without_the_approver_scope_sees_why_and_no_button(web: TestClient) -> None:
    _upload(web, LAC.format(4321))
    issued = web.post(
        "/api/keys",
        headers={"X-API-Key": OFFICER},
        json={"role": "agency", "agency": "notts_cyp", "label": "Notts data team"},
    )
    assert issued.status_code == 201, issued.text
    csrf = sign_in(web, issued.json()["key"])
    shown = web.get(PAGE)
    assert shown.status_code == 200
    assert 'id="not-approver"' in shown.text
    assert 'id="sign-off"' not in shown.text
    assert "approver" in shown.text
    tried = web.post(PAGE, data={"csrf_token": csrf, "declaration": "x", "confirm": "yes"})
    assert tried.status_code == 403
    assert "approver" in tried.text


def test_the_agency_page_links_to_the_sign_off_and_others_cannot_open_it(web: TestClient) -> None:
    sign_in(web, AGENCY)
    assert "/signoffs/" not in web.get("/agency").text  # no figures yet, nothing to sign off
    _upload(web, "indicator,org,period,value\ncyp.lac_count,E10000024,2026-03-31,1200\n")
    links = re.findall(r'href="(/signoffs/[^"]+)"', web.get("/agency").text)
    assert "/signoffs/dfe_ssda903/FY2025-26" in links
    for link in links:
        assert web.get(link).status_code == 200, link
    web.cookies.clear()
    sign_in(web, DFE)
    assert web.get(PAGE).status_code == 403
    web.cookies.clear()
    sign_in(web, OFFICER)
    assert web.get(PAGE).status_code == 403


def test_an_unanswered_query_links_to_where_it_is_answered(web: TestClient) -> None:
    rows = "indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,{}\n"
    _upload(web, rows.format(4000))
    # A jump from the figure before holds the new one under query until it is explained.
    held = web.post("/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("b.csv", rows.format(9000))})
    assert held.status_code == 201, held.text
    sign_in(web, AGENCY)
    shown = web.get("/signoffs/dfe_cin_census/FY2024-25")
    assert shown.status_code == 200, shown.text
    assert f'href="/submissions/{held.json()["id"]}#queries">Answer the query' in shown.text


def test_the_approver_withdraws_a_sign_off_and_reads_what_changed(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    form = {
        "csrf_token": csrf,
        "declaration": _declaration(web.get(PAGE).text),
        "digest": _digest(web.get(PAGE).text),
        "confirm": "yes",
    }
    assert web.post(PAGE, data=form).status_code == 303
    shown = web.get(PAGE)
    assert 'id="withdraw"' in shown.text
    assert web.post(f"{PAGE}/withdraw", data={"csrf_token": "forged"}).status_code == 400
    withdrawn = web.post(f"{PAGE}/withdraw", data={"csrf_token": csrf})
    assert withdrawn.status_code == 303, withdrawn.text
    landed = web.get(withdrawn.headers["location"])
    assert 'id="withdrawn"' in landed.text
    assert "sign-off withdrawn by the approver" in landed.text
    trail = web.get("/api/audit", params={"action": "signoff"}, headers={"X-API-Key": OFFICER}).json()["items"]
    done = {(e["action"], e["outcome"]) for e in trail}
    assert {("signoff.sign_off", "ok"), ("signoff.unapprove", "ok"), ("signoff.read", "ok")} <= done
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == OPEN
    assert _cell(web)["status"] == "unsigned"
    # Nothing is signed off now, so there is nothing to withdraw: a clear 409 and the state unchanged.
    again = web.post(f"{PAGE}/withdraw", data={"csrf_token": csrf})
    assert again.status_code == 409
    assert "cannot be withdrawn" in again.text
    # Signed off again, then revised: the change reads as the indicator, organisation and value, not a digest line.
    assert (
        web.post(
            PAGE, data={**form, "declaration": _declaration(landed.text), "digest": _digest(landed.text)}
        ).status_code
        == 303
    )
    _upload(web, LAC.format(4400))
    changed = web.get(PAGE).text
    table = changed[changed.index('id="change-list"') : changed.index("</table>", changed.index('id="change-list"'))]
    assert "New or revised" in table
    assert "No longer given" in table
    assert "4,400" in table
    assert "4,321" in table
    assert "Children looked after at the snapshot date" in table
    assert "\t" not in table
    assert "final" not in table
    assert 'id="withdraw"' not in changed  # reopened: nothing signed off stands to withdraw
    # The officer reads the same change the same way on the approvals page.
    web.cookies.clear()
    sign_in(web, OFFICER)
    officer = web.get("/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25").text
    listed = officer[officer.index('id="change-list"') : officer.index("</table>", officer.index('id="change-list"'))]
    assert "Children looked after at the snapshot date" in listed
    assert "4,400" in listed
    assert "\t" not in listed


def test_an_ordinary_key_cannot_withdraw_a_sign_off(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    assert web.post(
        PAGE,
        data={
            "csrf_token": csrf,
            "declaration": _declaration(web.get(PAGE).text),
            "digest": _digest(web.get(PAGE).text),
            "confirm": "yes",
        },
    )
    issued = web.post(
        "/api/keys",
        headers={"X-API-Key": OFFICER},
        json={"role": "agency", "agency": "notts_cyp", "label": "Notts data team"},
    )
    web.cookies.clear()
    csrf = sign_in(web, issued.json()["key"])
    assert 'id="withdraw"' not in web.get(PAGE).text
    assert web.post(f"{PAGE}/withdraw", data={"csrf_token": csrf}).status_code == 403
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == SIGNED_OFF


def test_the_officer_dashboard_counts_cells_awaiting_sign_off(web: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # On 25 November 2026 the SSDA903 return being collected is the one for the year to 31 March 2026.
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 11, 25, 12, tzinfo=UTC))
    sign_in(web, OFFICER)

    def awaiting() -> int:
        html = web.get("/officer").text
        row = re.search(
            r'<tr class="govuk-table__row" data-return="dfe_ssda903" data-period="FY2025-26">(.*?)</tr>', html, re.S
        )
        assert row, "the dashboard has no row for the SSDA903 return being collected"
        count = re.search(r'app-unsigned">([\d,]+)<', row.group(1))
        assert count, row.group(1)
        return int(count.group(1).replace(",", ""))

    before = awaiting()
    _upload(web, "indicator,org,period,value\ncyp.lac_count,E10000024,2026-03-31,1200\n")
    assert awaiting() > before


def test_the_form_signs_only_the_figures_on_the_page_read(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    shown = web.get(PAGE)
    # The cell names its field by label beside the code.
    assert "Children looked after on 31 March" in shown.text
    assert "EPI.CLA_31MAR" in shown.text
    form = {
        "csrf_token": csrf,
        "declaration": _declaration(shown.text),
        "digest": _digest(shown.text),
        "confirm": "yes",
    }
    _upload(web, LAC.format(4330))  # revised between the reading and the click
    refused = web.post(PAGE, data=form)
    assert refused.status_code == 409, refused.text
    assert "changed from 4321.0 final to 4330.0 final since you read it" in refused.text
    with Session(store) as session:
        assert find(session, "notts_cyp", "dfe_ssda903", "FY2024-25") is None
    # The refusal shows the figures as they are now: signing that page signs them.
    signed = web.post(PAGE, data={**form, "digest": _digest(refused.text)})
    assert signed.status_code == 303, signed.text
    landed = web.get(signed.headers["location"]).text
    assert "In the way of signing off" not in landed
    assert _cell(web)["value"] == 4330


def test_a_reopened_return_s_history_says_its_cause_once(web: TestClient) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    shown = web.get(PAGE)
    form = {
        "csrf_token": csrf,
        "declaration": _declaration(shown.text),
        "digest": _digest(shown.text),
        "confirm": "yes",
    }
    assert web.post(PAGE, data=form).status_code == 303
    _upload(web, LAC.format(4330))
    history = re.search(r'<ol[^>]*id="history-list">(.*?)</ol>', web.get(PAGE).text, re.S)
    assert history is not None
    [reopened] = [line for line in history.group(1).split("<li>") if "to reopened" in line]
    assert reopened.count("changed its figures") == 1


def test_figures_added_after_a_sign_off_can_be_signed_off_from_the_page(web: TestClient, store: Engine) -> None:
    _upload(web, LAC.format(4321))
    csrf = sign_in(web, AGENCY)
    shown = web.get(PAGE).text
    form = {"csrf_token": csrf, "declaration": _declaration(shown), "digest": _digest(shown), "confirm": "yes"}
    assert web.post(PAGE, data=form).status_code == 303
    assert 'id="sign-off"' not in web.get(PAGE).text
    _upload(web, "indicator,org,period,value\ncyp.lac_during_year,E10000024,FY2024-25,900\n")
    shown = web.get(PAGE).text
    assert 'id="added-since"' in shown
    assert 'id="sign-off"' in shown
    assert web.post(PAGE, data={**form, "digest": _digest(shown)}).status_code == 303
    with Session(store) as session:
        row = find(session, "notts_cyp", "dfe_ssda903", "FY2024-25")
        assert row is not None
        assert len(row.figure_ids) == 2

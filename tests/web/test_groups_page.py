"""The officer's comparator groups page: add, rename, change and delete a group with the session's CSRF token,
names shown escaped, unknown council codes named in the error summary, and only an officer let in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from onereturn.audittrail import AuditEvent
from tests.web.pages import AGENCY, OFFICER, sign_in

HOSTILE = '<script>alert("x")</script> counties'


def test_an_officer_keeps_groups_on_the_page(web: TestClient, store: Engine) -> None:
    csrf = sign_in(web, OFFICER)
    listing = web.get("/officer/groups")
    assert listing.status_code == 200
    assert "English Core Cities" in listing.text
    assert 'href="/officer/groups"' in listing.text  # in the navigation
    form = {"id": "east_mids", "title": HOSTILE, "source": "the team", "members": "E10000024\nE10000007, E06000018"}
    added = web.post("/officer/groups", data=form | {"csrf_token": csrf})
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/officer/groups/east_mids?done=added"
    shown = web.get("/officer/groups/east_mids?done=added")
    assert shown.status_code == 200
    assert "<script>alert" not in shown.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; counties" in shown.text
    assert "Nottinghamshire" in shown.text
    assert "The group was added" in shown.text

    refused = web.post(
        "/officer/groups/east_mids",
        data={"title": "Two counties", "source": "", "members": "E10000024 E99999999", "csrf_token": csrf},
    )
    assert refused.status_code == 400
    assert 'href="#members-text"' in refused.text
    assert "E99999999" in refused.text
    changed = web.post(
        "/officer/groups/east_mids",
        data={"title": "Two counties", "source": "", "members": "E10000024 E10000007", "csrf_token": csrf},
    )
    assert changed.status_code == 303
    shown = web.get("/officer/groups/east_mids").text
    assert "Two counties" in shown
    assert "E06000018" not in shown

    forged = web.post("/officer/groups/east_mids/delete", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert web.get("/officer/groups/east_mids").status_code == 200
    deleted = web.post("/officer/groups/east_mids/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert web.get("/officer/groups/east_mids").status_code == 404
    assert "east_mids" not in web.get("/officer/groups").text
    with Session(store) as session:
        actions = session.execute(
            select(AuditEvent.action, AuditEvent.outcome).where(col(AuditEvent.object) == "group east_mids")
        ).all()
    assert {tuple(a) for a in actions} >= {("group.create", "ok"), ("group.update", "ok"), ("group.delete", "ok")}


def test_the_page_is_the_officers_alone(web: TestClient) -> None:
    csrf = sign_in(web, AGENCY)
    assert web.get("/officer/groups").status_code == 403
    posted = web.post(
        "/officer/groups", data={"id": "mine", "title": "Mine", "members": "E10000024", "csrf_token": csrf}
    )
    assert posted.status_code == 403

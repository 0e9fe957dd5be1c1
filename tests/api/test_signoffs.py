"""Sign-off and release: an accepted upload reaches no regulator, by any route, until its agency's approver
signs it off; signing off releases exactly the figures vouched for; a revision reopens only the affected agency
and return; an ordinary agency key cannot sign off; every transition follows the rules or is refused (409)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from exports.models import ReturnBuild
from indicators.store.models import Submission
from mappings import keys
from mappings.catalogue import DEFAULT_DECLARATION
from mappings.models import Return
from mappings.signoff.figures import digest_of
from mappings.signoff.models import SignOff, SignOffBehind, SignOffEvent
from mappings.signoff.rules import blockers
from mappings.signoff.states import find, published_sources, state_of
from onereturn.settings import Settings
from tests.helpers import DFE, NOTTS, OFFICER, upload

LAC = "cyp.lac_count,E10000024,2025-03-31,,{},,,,"
RETURN = "/api/returns/dfe_ssda903/FY2024-25"
SIGNOFF = "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25"
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
CELL = "EPI.CLA_31MAR|E10000024|"


def _sign(client: TestClient, headers: dict[str, str] = NOTTS, path: str = SIGNOFF) -> httpx.Response:
    """Sign off as the approver does: read the review, send its declaration and digest back."""
    read = client.get(path, headers=headers)
    digest = read.json().get("digest", "0" * 64) if read.status_code == 200 else "0" * 64
    answer: httpx.Response = client.post(
        f"{path}/sign-off", headers=headers, json={"declaration": DEFAULT_DECLARATION, "digest": digest}
    )
    return answer


def _cell(content: bytes | str, org: str = "E10000024") -> dict[str, str]:
    """The looked-after count of an org in a return's CSV."""
    text = content.decode() if isinstance(content, bytes) else content
    rows = csv.DictReader(io.StringIO(text))
    return next(r for r in rows if r["field_code"] == "EPI.CLA_31MAR" and r["org_code"] == org and not r["breakdown"])


def _every_route(client: TestClient, fresh: bool = True) -> dict[str, str]:
    """What the regulator gets for the Nottinghamshire looked-after count by every route, as text."""
    query = {"fresh": "true"} if fresh else {}
    got: dict[str, str] = {}
    for fmt in ("json", "csv", "sdmx.csv"):
        response = client.get(f"{RETURN}.{fmt}", params=query, headers=DFE)
        assert response.status_code == 200, response.text
        got[fmt] = response.text
    xlsx = client.get(f"{RETURN}.xlsx", params=query, headers=DFE)
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as archive:
        got["xlsx"] = "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    snapshot = xlsx.headers["x-snapshot-id"]
    got["lineage"] = client.get(f"/api/exports/{snapshot}/lineage", params={"org": "E10000024"}, headers=DFE).text
    since = client.get(f"{RETURN}.csv", params={"updated_after": "2000-01-01T00:00:00Z"}, headers=DFE)
    got["updated_after"] = since.text
    sdmx = client.get(
        "/sdmx/data/DF_DFE_SSDA903/all/all",
        params={"startPeriod": "2024-04", "endPeriod": "2025-03"},
        headers={**DFE, "Accept": "application/vnd.sdmx.data+csv;version=2.0.0"},
    )
    got["sdmx_rest"] = sdmx.text if sdmx.status_code == 200 else ""
    return got


def test_an_unsigned_upload_reaches_no_regulator_until_its_approver_signs_it_off(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    held = _every_route(store_client)
    for route, text in held.items():
        assert "4321" not in text, f"an unsigned figure reached the regulator by {route}"
    cell = _cell(store_client.get(f"{RETURN}.csv", headers=DFE).content)
    assert (cell["value"], cell["status"]) == ("...", "unsigned")
    assert (
        cell["reason"] == "not yet signed off by Nottinghamshire County Council, Children and Young People's Services"
    )
    sdmx = next(
        r
        for r in csv.DictReader(io.StringIO(held["sdmx.csv"]))
        if r["FIELD"] == "EPI_CLA_31MAR" and r["REF_AREA"] == "E10000024"
    )
    assert (sdmx["OBS_VALUE"], sdmx["OBS_STATUS"], sdmx["CONF_STATUS"]) == ("NaN", "O", "N")
    assert "Nottinghamshire" in sdmx["COMMENT_OBS"]
    # The officer's preview shows every figure, and is never stored or sent.
    preview = store_client.get(f"{RETURN}.csv", params={"preview": "true"}, headers=OFFICER)
    assert preview.headers["x-preview"] == "true"
    assert _cell(preview.content)["value"] == "4321"
    assert store_client.get(f"{RETURN}.csv", params={"preview": "true"}, headers=DFE).status_code == 403
    assert "4321" not in store_client.get(f"{RETURN}.csv", headers=DFE).text

    # The approver sees what it vouches for, then signs off with the return's declaration.
    review = store_client.get(SIGNOFF, headers=NOTTS).json()
    assert review["signoff"]["state"] == "open"
    assert review["declaration"] == DEFAULT_DECLARATION
    assert any(c["cell_id"] == CELL for c in review["cells"])
    signed = _sign(store_client)
    assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "signed_off"
    assert signed.json()["digest"] == review["digest"]

    released = _every_route(store_client)
    for route in ("json", "csv", "sdmx.csv", "xlsx", "updated_after", "sdmx_rest"):
        assert "4321" in released[route], f"the signed-off figure did not reach the regulator by {route}"
    lineage = json.loads(released["lineage"])["items"]
    assert any(r["cell_id"] == CELL and r.get("observation_id") for r in lineage)

    # Exactly the vouched figures: the digest is that of the figures behind the released cells.
    with Session(store) as session:
        row = session.execute(select(SignOff)).scalars().one()
        build = session.execute(select(ReturnBuild).order_by(col(ReturnBuild.id).desc())).scalars().first()
        assert build is not None
        assert build.signoffs == [{"id": row.id, "agency": "notts_cyp", "state": "signed_off", "digest": row.digest}]
        from exports.signoff import vouched

        figures = vouched(session, "notts_cyp", "dfe_ssda903", "FY2024-25")
        assert digest_of(figures) == row.digest
        assert sorted(f.id for f in figures) == row.figure_ids
        assert [f.value for f in figures if f.indicator_id == "cyp.lac_count"] == ["4321.0 final"]
        assert row.declaration == DEFAULT_DECLARATION
        assert row.signed_by.startswith("agency notts_cyp")
        assert row.client == "testclient"
    # The sign-off is in the audit trail.
    trail = store_client.get("/api/audit", params={"action": "signoff"}, headers=OFFICER).json()["items"]
    assert ("signoff.sign_off", "ok") in {(e["action"], e["outcome"]) for e in trail}


def test_as_of_reproduces_what_a_regulator_could_pull_before_the_sign_off(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    before = store_client.get(f"{RETURN}.csv", headers=DFE)
    between = datetime.now(UTC)
    assert _sign(store_client).status_code == 200
    after = store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE)
    assert "4321" in after.text
    assert after.headers["x-snapshot-id"] != before.headers["x-snapshot-id"], "signing off makes a new build"
    then = store_client.get(f"{RETURN}.csv", params={"as_of": between.isoformat()}, headers=DFE)
    assert then.content == before.content
    assert "4321" not in then.text


def test_a_revision_reopens_only_the_affected_agency_and_return(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    upload(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    upload(store, store_settings, "notts_cyp", "cyp.childrens_centre_seen_n,E10000024,FY2024-25,,17,,,,")
    from tests.signoffs import sign_off_everything

    assert sign_off_everything(store) >= 3
    # A figure no sign-off vouched for (the next year's: a quarter of this year shows no figure of a year ended after
    # it): both stand.
    upload(store, store_settings, "notts_cyp", "cyp.childrens_centre_seen_n,E10000024,FY2025-26,,18,,,,")
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == "signed_off"
        assert state_of(session, "notts_cyp", "county_cyp_core", "FY2024-25-Q4") == "signed_off"
    assert _cell(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).content)["value"] == "4321"
    # The looked-after count revised: Nottinghamshire's DfE return reopens; Lewisham's stays signed off.
    upload(store, store_settings, "notts_cyp", LAC.format(4400))
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == "reopened"
        assert state_of(session, "lewisham_council", "dfe_ssda903", "FY2024-25") == "signed_off"
        reopened = (
            session.execute(
                select(SignOffEvent).where(SignOffEvent.to_state == "reopened", SignOffEvent.return_id == "dfe_ssda903")
            )
            .scalars()
            .one()
        )
        assert reopened.agency_code == "notts_cyp"
        assert "changed its figures" in reopened.detail
    pulled = store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).content
    notts, lewisham = _cell(pulled), _cell(pulled, "E09000023")
    assert (notts["value"], notts["status"]) == ("...", "unsigned")
    assert notts["reason"].endswith("Services: cyp.lac_count revised after its last sign-off")
    assert lewisham["value"] == "480"
    # What changed since the last sign-off is what the approver is shown.
    review = store_client.get(SIGNOFF, headers=NOTTS).json()
    assert review["signoff"]["state"] == "reopened"
    changed = {(c["change"], c["value"]) for c in review["changed_since_signoff"]}
    assert {("added", "4400.0 final"), ("removed", "4321.0 final")} <= changed
    assert _sign(store_client).status_code == 200
    assert "4400" in store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text


def test_an_agency_key_without_the_approver_scope_cannot_sign_off(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    issued = store_client.post(
        "/api/keys", headers=OFFICER, json={"role": "agency", "agency": "notts_cyp", "label": "data team"}
    ).json()
    assert issued["approver"] is False
    plain = {"X-API-Key": issued["key"]}
    refused = _sign(store_client, plain)
    assert refused.status_code == 403
    assert "not sign them off" in refused.json()["error"]
    assert store_client.post(f"{SIGNOFF}/unapprove", headers=plain).status_code == 403
    # It still uploads and reads its own sign-off state.
    assert store_client.get(SIGNOFF, headers=plain).status_code == 200
    approver = store_client.post(
        "/api/keys",
        headers=OFFICER,
        json={"role": "agency", "agency": "notts_cyp", "label": "performance lead", "approver": True},
    ).json()
    assert approver["approver"] is True
    assert keys.APPROVER_SCOPE in approver["scopes"]
    assert _sign(store_client, {"X-API-Key": approver["key"]}).status_code == 200
    # An approver of another agency cannot sign Nottinghamshire's (it cannot even see it), nor can the officer.
    assert _sign(store_client, LEWISHAM).status_code == 404
    assert _sign(store_client, OFFICER).status_code == 403
    listed = store_client.get("/api/keys", headers=OFFICER).json()["items"]
    assert {k["prefix"]: k["approver"] for k in listed}[approver["prefix"]] is True
    regulator_key = store_client.post(
        "/api/keys",
        headers=OFFICER,
        json={"role": "regulator", "recipient": "Department for Education", "label": "x", "approver": True},
    )
    assert regulator_key.status_code == 422


def test_transitions_and_the_ones_refused(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    # Nothing signed yet: nothing to accept, send back or withdraw.
    assert store_client.post(f"{SIGNOFF}/accept", headers=OFFICER).status_code == 409
    assert store_client.post(f"{SIGNOFF}/return", headers=OFFICER, json={"reason": "x"}).status_code == 409
    assert store_client.post(f"{SIGNOFF}/unapprove", headers=NOTTS).status_code == 409
    wrong = store_client.post(
        f"{SIGNOFF}/sign-off", headers=NOTTS, json={"declaration": "Looks fine to me", "digest": "0" * 64}
    )
    assert wrong.status_code == 422
    assert "word for word" in wrong.json()["error"]
    assert _sign(store_client).status_code == 200
    assert _sign(store_client).status_code == 409  # already signed off
    assert store_client.post(f"{SIGNOFF}/unapprove", headers=NOTTS).json()["state"] == "open"
    assert _sign(store_client).status_code == 200
    sent = store_client.post(f"{SIGNOFF}/return", headers=OFFICER, json={"reason": "The count is last year's"})
    assert (sent.json()["state"], sent.json()["reason"]) == ("returned", "The count is last year's")
    assert "4321" not in store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text
    assert _sign(store_client).status_code == 200
    accepted = store_client.post(f"{SIGNOFF}/accept", headers=OFFICER)
    assert accepted.json()["state"] == "accepted"
    assert store_client.post(f"{SIGNOFF}/unapprove", headers=NOTTS).status_code == 409  # accepted: too late
    assert store_client.post(f"{SIGNOFF}/accept", headers=OFFICER).status_code == 409
    history = store_client.get(SIGNOFF, headers=OFFICER).json()["history"]
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        ("open", "signed_off"),
        ("signed_off", "open"),
        ("open", "signed_off"),
        ("signed_off", "returned"),
        ("returned", "signed_off"),
        ("signed_off", "accepted"),
    ]
    assert history[3]["detail"] == "The count is last year's"
    # The lists: the officer all, the agency its own, a regulator only its returns' states without digests.
    officer = store_client.get("/api/signoffs", params={"state": "accepted"}, headers=OFFICER).json()["items"]
    assert [(s["agency_code"], s["return_id"]) for s in officer] == [("notts_cyp", "dfe_ssda903")]
    assert officer[0]["digest"]
    regulator = store_client.get("/api/signoffs", headers=DFE).json()["items"]
    assert [s["state"] for s in regulator] == ["accepted"]
    assert regulator[0]["digest"] is None
    ndtms = store_client.get("/api/signoffs", headers={"X-API-Key": "demo-regulator-ohid-c4d91f60"}).json()
    assert (ndtms["items"], ndtms["total"]) == ([], 0)
    assert store_client.get("/api/signoffs", params={"state": "approved"}, headers=OFFICER).status_code == 422


def test_with_acceptance_on_only_an_accepted_sign_off_releases(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    with Session(store) as session:
        ret = session.get(Return, "dfe_ssda903")
        assert ret is not None
        ret.needs_acceptance = True
        session.add(ret)
        session.commit()
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    signed = _sign(store_client)
    assert (signed.json()["state"], signed.json()["releases"]) == ("signed_off", False)
    assert "4321" not in store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text
    assert store_client.post(f"{SIGNOFF}/accept", headers=OFFICER).json()["releases"] is True
    assert "4321" in store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text


def test_an_open_query_or_an_upload_with_errors_stops_the_sign_off(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.cin_count,E10000024,2025-03-31,,4000,,,,")
    upload(store, store_settings, "notts_cyp", "cyp.cin_count,E10000024,2025-03-31,,9000,,,,")  # held: a query
    path = "/api/signoffs/notts_cyp/dfe_cin_census/FY2024-25"
    refused = _sign(store_client, path=path)
    assert refused.status_code == 409, refused.text
    assert {e["type"] for e in refused.json()["errors"]} == {"query"}
    assert store_client.get(path, headers=NOTTS).json()["blockers"][0]["type"] == "query"
    upload(store, store_settings, "notts_cyp", "cyp.cin_count,E10000024,2025-03-31,,-5,,,,")  # an error
    refused = _sign(store_client, path=path)
    assert "errors" in {e["type"] for e in refused.json()["errors"]}
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_cin_census", "FY2024-25") == "open"


def test_the_queue_of_a_return_and_period_lists_the_agencies_still_open(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    upload(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    query = {"return": "dfe_ssda903", "period": "FY2024-25"}

    def queue(headers: dict[str, str], **extra: str) -> list[tuple[str, str]]:
        answer = store_client.get("/api/signoffs", params={**query, **extra}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [(s["agency_code"], s["state"]) for s in answer.json()["items"]]

    assert queue(OFFICER) == [("lewisham_council", "open"), ("notts_cyp", "open")]
    assert _sign(store_client).status_code == 200
    assert queue(OFFICER) == [("lewisham_council", "open"), ("notts_cyp", "signed_off")]
    assert queue(OFFICER, state="open") == [("lewisham_council", "open")]
    assert queue(OFFICER, state="signed_off") == [("notts_cyp", "signed_off")]
    assert queue(NOTTS) == [("notts_cyp", "signed_off")]
    assert queue(LEWISHAM) == [("lewisham_council", "open")]
    assert queue(DFE) == [("lewisham_council", "open"), ("notts_cyp", "signed_off")]


CIN = "/api/signoffs/notts_cyp/dfe_cin_census/FY2024-25"
CIN_COUNT = "cyp.cin_count,E10000024,{},,{},,,,"


def _blocking(client: TestClient) -> set[str]:
    review = client.get(CIN, headers=NOTTS)
    assert review.status_code == 200, review.text
    return {b["type"] for b in review.json()["blockers"]}


def test_an_upload_with_errors_for_another_period_does_not_stop_the_sign_off(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", CIN_COUNT.format("2025-03-31", 4000))
    # The council's latest upload is for the year before, and one of its rows is wrong.
    upload(
        store,
        store_settings,
        "notts_cyp",
        CIN_COUNT.format("2024-03-31", 3900),
        "cyp.lac_count,E10000024,2024-03-31,,-5,,,,",
    )
    # Its wrong row is a looked-after count: it stands in the way of that year's SSDA903, not of the CIN census.
    year_before = store_client.get(SIGNOFF.replace("FY2024-25", "FY2023-24"), headers=NOTTS).json()
    assert "errors" in {b["type"] for b in year_before["blockers"]}
    assert store_client.get(CIN.replace("FY2024-25", "FY2023-24"), headers=NOTTS).json()["blockers"] == []
    assert _blocking(store_client) == set()
    signed = _sign(store_client, path=CIN)
    assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "signed_off"


def test_errors_or_an_open_query_for_this_period_stop_the_sign_off_whatever_came_later(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", CIN_COUNT.format("2025-03-31", 4000))
    upload(store, store_settings, "notts_cyp", CIN_COUNT.format("2025-03-31", 9000))  # held: a query
    # A later, clean upload for the year before neither answers the query nor clears anything.
    upload(store, store_settings, "notts_cyp", CIN_COUNT.format("2024-03-31", 3900))
    assert _blocking(store_client) == {"query"}
    refused = _sign(store_client, path=CIN)
    assert refused.status_code == 409, refused.text
    assert {e["type"] for e in refused.json()["errors"]} == {"query"}

    # An upload for this year with a wrong row (its other row stored), then a clean one for the year before.
    upload(
        store,
        store_settings,
        "notts_cyp",
        "cyp.lac_count,E10000024,2025-03-31,,880,,,,",
        CIN_COUNT.format("2025-03-31", -5),
    )
    upload(store, store_settings, "notts_cyp", CIN_COUNT.format("2024-03-31", 3910))
    assert _blocking(store_client) == {"query", "errors"}
    refused = _sign(store_client, path=CIN)
    assert refused.status_code == 409
    assert "error(s)" in refused.json()["error"]
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_cin_census", "FY2024-25") == "open"


def test_official_statistics_a_body_publishes_itself_hold_no_cell_back(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    # The rate is the council's count over ONS's population: only the council signs off; ONS's estimate is published.
    upload(store, store_settings, "ons", "pop.resident_0_17,E10000024,CY2024,,170000,,,,")
    upload(store, store_settings, "notts_cyp", LAC.format(1700))

    def rate() -> dict[str, str]:
        rows = csv.DictReader(
            io.StringIO(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text)
        )
        return next(r for r in rows if r["field_code"] == "EPI.CLA_RATE_10K" and r["org_code"] == "E10000024")

    held = rate()
    assert (held["value"], held["status"]) == ("...", "unsigned")
    assert "Nottinghamshire" in held["reason"]
    assert "Office for National Statistics" not in held["reason"]
    with Session(store) as session:
        from exports.signoff import agencies_behind

        # Bodies that publish their own figures as official statistics: ONS, and NDTMS (OHID) for treatment counts.
        assert published_sources(session) == frozenset({"ons", "ohid_ndtms"})
        assert agencies_behind(session, "dfe_ssda903", "FY2024-25") == ["notts_cyp"]
    queue = store_client.get(
        "/api/signoffs", params={"return": "dfe_ssda903", "period": "FY2024-25"}, headers=OFFICER
    ).json()["items"]
    assert [s["agency_code"] for s in queue] == ["notts_cyp"]
    assert _sign(store_client).status_code == 200
    released = rate()
    assert released["status"] == "present"
    assert float(released["value"]) == 100.0
    # An agency that does not publish its own figures is held back as any other: the rule is the agency's, not ONS's.
    assert store_client.get("/api/agencies/ons", headers=OFFICER).json()["published"].startswith("ONS publishes")
    assert store_client.get("/api/agencies/notts_cyp", headers=OFFICER).json()["published"] == ""


LEWISHAM_SIGNOFF = "/api/signoffs/lewisham_council/dfe_ssda903/FY2024-25"
LEWISHAM_LAC = "cyp.lac_count,E09000023,2025-03-31,,{},,,,"


def test_a_sign_off_names_the_digest_read_and_signs_nothing_if_the_figures_changed_since(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "lewisham_council", LEWISHAM_LAC.format(440))
    read = store_client.get(LEWISHAM_SIGNOFF, headers=LEWISHAM).json()
    assert read["cells"][0]["display"] == "440"
    # Someone uploads between the approver's reading and their click.
    upload(store, store_settings, "lewisham_council", LEWISHAM_LAC.format(451))
    body = {"declaration": DEFAULT_DECLARATION, "digest": read["digest"]}
    refused = store_client.post(f"{LEWISHAM_SIGNOFF}/sign-off", headers=LEWISHAM, json=body)
    assert refused.status_code == 409, refused.text
    [change] = [e["input"] for e in refused.json()["errors"] if e["type"] == "changed"]
    assert change == {
        "indicator_id": "cyp.lac_count",
        "org_code": "E09000023",
        "period": "2025-03-31",
        "breakdown": "",
        "old": "440.0 final",
        "new": "451.0 final",
    }
    assert "changed from 440.0 final to 451.0 final" in refused.json()["error"]
    with Session(store) as session:
        assert find(session, "lewisham_council", "dfe_ssda903", "FY2024-25") is None
    assert "451" not in store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text
    # A digest no recent state gives is refused too, and a sign-off without one is not valid.
    body["digest"] = "0" * 64
    unknown = store_client.post(f"{LEWISHAM_SIGNOFF}/sign-off", headers=LEWISHAM, json=body)
    assert unknown.status_code == 409
    assert "read the return again" in unknown.text
    bare = store_client.post(
        f"{LEWISHAM_SIGNOFF}/sign-off", headers=LEWISHAM, json={"declaration": DEFAULT_DECLARATION}
    )
    assert bare.status_code == 422
    # Read again, signed: what was read is what is released.
    assert _sign(store_client, LEWISHAM, LEWISHAM_SIGNOFF).status_code == 200
    assert (
        _cell(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).content, "E09000023")["value"]
        == "451"
    )


def test_figures_added_after_a_sign_off_are_held_back_saying_which_and_do_not_reopen_it(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    assert _sign(store_client).status_code == 200
    upload(store, store_settings, "notts_cyp", "cyp.lac_during_year,E10000024,FY2024-25,,900,,,,")
    with Session(store) as session:
        assert state_of(session, "notts_cyp", "dfe_ssda903", "FY2024-25") == "signed_off"
    rows = list(
        csv.DictReader(io.StringIO(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text))
    )
    [added] = [r for r in rows if r["field_code"] == "EPI.CLA_DURING_YEAR" and r["org_code"] == "E10000024"]
    assert added["value"] == "..."
    assert added["reason"].endswith(": cyp.lac_during_year added after its last sign-off")
    assert "not yet signed off" in added["reason"]
    assert _cell(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).content)["value"] == "4321"
    review = store_client.get(SIGNOFF, headers=NOTTS).json()
    assert [(c["change"], c["indicator_id"]) for c in review["changed_since_signoff"]] == [
        ("added", "cyp.lac_during_year")
    ]
    # The approver signs off the new figure over the standing sign-off; then it is released.
    assert _sign(store_client).status_code == 200
    rows = list(
        csv.DictReader(io.StringIO(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text))
    )
    assert [r["value"] for r in rows if r["field_code"] == "EPI.CLA_DURING_YEAR" and r["org_code"] == "E10000024"] == [
        "900"
    ]
    # Signed off twice over the same figures is refused: nothing new to vouch for.
    assert _sign(store_client).status_code == 409


def _records_upload(session: Session, *, library: str, year: str, errors: int) -> int:
    """A council's record-level upload as its reading leaves it: its return's library, its year, its errors."""
    sub = Submission(
        agency_code="notts_cyp",
        filename=f"{library}-{year}.zip",
        source_format=library,
        size_bytes=1,
        content_hash=f"{library}{year}{errors}{datetime.now(UTC).timestamp()}",
        raw_path="",
        mode="default",
        received_at=datetime.now(UTC),
        status="rejected" if errors else "stored",
        kind="records",
        stage="rejected" if errors else "stored",
        collection_year=year,
        error_count=errors,
    )
    session.add(sub)
    session.commit()
    assert sub.id is not None
    return sub.id


def test_blockers_belong_to_the_return_and_period_the_upload_was_for(store: Engine, store_settings: Settings) -> None:
    def blocked(return_id: str, period: str) -> bool:
        with Session(store) as session:
            return any(b["type"] == "errors" for b in blockers(session, "notts_cyp", return_id, period))

    with Session(store) as session:
        _records_upload(session, library="903", year="2024-25", errors=2)
    assert blocked("dfe_ssda903", "FY2024-25")
    for other in (("dfe_ssda903", "FY2025-26"), ("dfe_cin_census", "FY2024-25"), ("dfe_cin_census", "FY2025-26")):
        assert not blocked(*other), other
    assert not blocked("county_cyp_core", "FY2025-26-Q1")
    # A figures upload for that period that reaches another return, and a CIN census for that year, clear nothing.
    upload(store, store_settings, "notts_cyp", "cyp.childrens_centre_seen_n,E10000024,FY2024-25,,17,,,,")
    with Session(store) as session:
        _records_upload(session, library="cin", year="2024-25", errors=0)
    assert blocked("dfe_ssda903", "FY2024-25")
    # A file refused before its return was known is for no return: it stands in the way of none.
    with Session(store) as session:
        _records_upload(session, library="", year="2025-26", errors=1)
    assert not blocked("dfe_ssda903", "FY2025-26")
    assert not blocked("dfe_cin_census", "FY2025-26")
    assert not blocked("county_cyp_core", "FY2025-26-Q1")
    # A later upload for that return and period clears it.
    with Session(store) as session:
        _records_upload(session, library="903", year="2024-25", errors=0)
    assert not blocked("dfe_ssda903", "FY2024-25")


def test_a_queue_reads_an_agencys_uploads_once_and_sees_the_next_one(store: Engine) -> None:
    from sqlalchemy import event

    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM submission" in statement:
            reads.append(statement)

    with Session(store) as session:
        _records_upload(session, library="903", year="2024-25", errors=2)
    event.listen(store, "before_cursor_execute", count)
    try:
        with Session(store) as session:
            # A queue asks for each of its rows: the agency's uploads are read for the first one only.
            assert blockers(session, "notts_cyp", "dfe_ssda903", "FY2024-25")
            first = len(reads)
            assert not blockers(session, "notts_cyp", "dfe_cin_census", "FY2024-25")
            assert not blockers(session, "notts_cyp", "dfe_ssda903", "FY2025-26")
            assert len(reads) == first
        with Session(store) as session:
            _records_upload(session, library="903", year="2024-25", errors=0)
        with Session(store) as session:
            # The next transaction reads them again: the later upload clears the errors.
            assert not blockers(session, "notts_cyp", "dfe_ssda903", "FY2024-25")
    finally:
        event.remove(store, "before_cursor_execute", count)


def test_the_sign_off_list_is_paged_in_the_envelope_and_a_future_period_is_refused(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    upload(store, store_settings, "lewisham_council", LEWISHAM_LAC.format(480))
    query = {"return": "dfe_ssda903", "period": "FY2024-25", "limit": "1"}
    first = store_client.get("/api/signoffs", params=query, headers=OFFICER)
    assert first.status_code == 200, first.text
    page = first.json()
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (2, 1, 0, 1)
    second = store_client.get(page["next"], headers=OFFICER).json()
    assert [s["agency_code"] for s in page["items"] + second["items"]] == ["lewisham_council", "notts_cyp"]
    assert second["next"] is None
    future = store_client.get("/api/signoffs/notts_cyp/dfe_ssda903/FY2030-31", headers=NOTTS)
    assert future.status_code == 422, future.text


def test_only_an_approver_s_agency_key_is_told_it_may_sign_off(store_client: TestClient) -> None:
    body = {"declaration": DEFAULT_DECLARATION, "digest": "0" * 64}
    for headers, who in ((DFE, "A regulator key"), (OFFICER, "An officer key")):
        refused = store_client.post(f"{SIGNOFF}/sign-off", headers=headers, json=body)
        assert refused.status_code == 403
        assert refused.json()["error"] == f"{who} cannot do this; it needs an approver's agency key"


def test_whose_figures_are_behind_a_return_is_kept_across_a_restart_until_a_figure_changes(
    store: Engine, store_settings: Settings, store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports.signoff import behind

    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    assert _sign(store_client).status_code == 200
    wanted, pair = {"dfe_ssda903": ["FY2024-25"]}, ("dfe_ssda903", "FY2024-25")
    with Session(store) as session:
        first = behind.standings(session, wanted)[pair]
    assert first.behind == ["notts_cyp"]
    assert first.since_signoff == {}
    built: list[str] = []
    real = behind._figures_behind

    def counted(session: Session, ret: Return, period: str, shared: dict[str, object]) -> dict[str, frozenset[int]]:
        built.append(period)
        return real(session, ret, period, shared)

    monkeypatch.setattr(behind, "_figures_behind", counted)
    # A service started again holds nothing in memory: what the last build found is read back, nothing is built.
    behind._BEHIND.clear()
    with Session(store) as session:
        assert behind.standings(session, wanted)[pair] == first
    assert built == []
    before = _kept_behind(store, pair)
    # A figure added since the sign-off changes the store's key: the next view builds the return again and counts it.
    upload(store, store_settings, "notts_cyp", "cyp.lac_during_year,E10000024,FY2024-25,,900,,,,")
    behind._BEHIND.clear()
    with Session(store) as session:
        after = behind.standings(session, wanted)[pair]
    assert built == ["FY2024-25"]
    assert after.since_signoff == {"notts_cyp": 1}
    assert len(_kept_behind(store, pair)) == len(before) + 1
    # The next pull holds the new figure back too.
    rows = csv.DictReader(io.StringIO(store_client.get(f"{RETURN}.csv", params={"fresh": "true"}, headers=DFE).text))
    [added] = [r for r in rows if r["field_code"] == "EPI.CLA_DURING_YEAR" and r["org_code"] == "E10000024"]
    assert added["value"] == "..."


def test_an_upload_builds_again_only_the_returns_its_figures_reach_and_every_answer_stays_the_same(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from exports.signoff import behind

    upload(store, store_settings, "notts_cyp", LAC.format(4321))
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2024-03-31,,4100,,,,")
    wanted = {"dfe_ssda903": ["FY2023-24", "FY2024-25"], "dfe_cin_census": ["FY2024-25"]}
    with Session(store) as session:
        behind.standings(session, wanted)
    built: list[tuple[str, str]] = []
    real = behind._figures_behind

    def counted(session: Session, ret: Return, period: str, shared: dict[str, object]) -> dict[str, frozenset[int]]:
        built.append((ret.id, period))
        return real(session, ret, period, shared)

    monkeypatch.setattr(behind, "_figures_behind", counted)
    # A looked-after count of 2025 changes the store's key, but reaches the SSDA903 of 2024-25 alone.
    upload(store, store_settings, "notts_cyp", LAC.format(4322))
    with Session(store) as session:
        after = behind.standings(session, wanted)
    assert built == [("dfe_ssda903", "FY2024-25")]
    assert after[("dfe_ssda903", "FY2023-24")].behind == ["notts_cyp"]
    # Each answer carried past the upload is what a build now finds.
    behind._BEHIND.clear()
    with Session(store) as session:
        session.execute(delete(SignOffBehind))
        assert behind.standings(session, wanted) == after
    assert len(built) == 4


def _kept_behind(store: Engine, pair: tuple[str, str]) -> list[int]:
    """The ids of Nottinghamshire's figures kept in the store as behind a (return, period)."""
    with Session(store) as session:
        kept = session.get(SignOffBehind, pair)
        assert kept is not None
        return kept.behind["notts_cyp"]

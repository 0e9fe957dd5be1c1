"""Agencies over HTTP for officers: add, change and import, with the agency files' checks."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import assert_canonical_error

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
KENT = {"code": "kent_cyp", "name": "Kent CYP", "body_type": "local_authority", "orgs": ["E10000016"]}


def test_add_show_and_change_an_agency(store_client: TestClient) -> None:
    created = store_client.post("/api/agencies", headers=OFFICER, json=KENT | {"returns": ["dfe_ssda903"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["origin"] == "api"
    assert body["orgs"] == ["E10000016"]
    assert len(body["indicators"]) > 10
    shown = store_client.get("/api/agencies/kent_cyp", headers=OFFICER).json()
    assert shown["indicators"] == body["indicators"]
    assert "kent_cyp" in [a["code"] for a in store_client.get("/api/agencies", headers=OFFICER).json()["items"]]

    changed = store_client.patch(
        "/api/agencies/kent_cyp",
        headers=OFFICER,
        json={"orgs": ["type:county"], "returns": [], "indicators": ["cyp.cin_*"], "email": "k@kent.example"},
    )
    # Nottinghamshire is a county whose children's figures the demo agency already supplies.
    assert changed.status_code == 422
    assert "would be asked of both notts_cyp and kent_cyp" in changed.text
    assert store_client.get("/api/agencies/kent_cyp", headers=OFFICER).json()["orgs"] == ["E10000016"]
    changed = store_client.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"returns": ["dfe_cin_census"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["returns"] == ["dfe_cin_census"]
    assert changed.json()["name"] == "Kent CYP"
    assert changed.json()["indicators"] != body["indicators"]


def test_refusals(store_client: TestClient) -> None:
    assert store_client.post("/api/agencies", headers=NOTTS, json=KENT).status_code == 403
    assert store_client.post("/api/agencies", json=KENT).status_code == 401
    assert store_client.post("/api/agencies", headers=OFFICER, json=KENT).status_code == 201
    duplicate = store_client.post("/api/agencies", headers=OFFICER, json=KENT)
    assert duplicate.status_code == 409
    assert_canonical_error(duplicate.json(), 409)
    bad = store_client.post("/api/agencies", headers=OFFICER, json=KENT | {"code": "surrey", "body_type": "shire"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "body_type"]
    extra = store_client.post("/api/agencies", headers=OFFICER, json=KENT | {"code": "surrey", "colour": "red"})
    assert extra.status_code == 422
    assert store_client.patch("/api/agencies/nobody", headers=OFFICER, json={"name": "Nobody"}).status_code == 404
    demo = store_client.patch("/api/agencies/notts_cyp", headers=OFFICER, json={"name": "Notts"})
    assert demo.status_code == 422
    assert "bundled" in demo.json()["error"]


def test_import_over_http(store_client: TestClient) -> None:
    good = "code,name,body_type,orgs,returns\nkent_cyp,Kent CYP,local_authority,E10000016,dfe_ssda903\n"
    dry = store_client.post(
        "/api/agencies/import",
        headers=OFFICER,
        params={"dry_run": "true"},
        files={"file": ("a.csv", good.encode(), "text/csv")},
    )
    assert dry.json() == {"created": ["kent_cyp"], "updated": [], "unchanged": [], "dry_run": True, "consent_ended": []}
    assert store_client.get("/api/agencies/kent_cyp", headers=OFFICER).status_code == 404
    done = store_client.post(
        "/api/agencies/import", headers=OFFICER, files={"file": ("a.csv", good.encode(), "text/csv")}
    )
    assert done.status_code == 200
    assert done.json()["created"] == ["kent_cyp"]
    bad = good + "x,Xx,local_authority,E10000016,dfe_ssda903\n"
    refused = store_client.post(
        "/api/agencies/import", headers=OFFICER, files={"file": ("a.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["row", 3, "name"]
    assert store_client.get("/api/agencies/x", headers=OFFICER).status_code == 404

"""The audit trail over HTTP: every keyed call and every refusal, with filters and paging, for officers only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from onereturn.settings import Settings

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


def trail(client: TestClient, **params: str | int) -> list[dict[str, object]]:
    response = client.get("/api/audit", headers=OFFICER, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, object]] = response.json()["items"]
    return data


@pytest.fixture(params=["in the request", "batched"])
def audited_client(
    request: pytest.FixtureRequest, store: Engine, store_settings: Settings, store_client: TestClient
) -> Iterator[TestClient]:
    """The API recording reads in the request's transaction (as tests build it) or in batches (as `serve` runs it)."""
    if request.param == "in the request":
        yield store_client
        return
    with TestClient(create_app(store_settings, engine=store, batch_read_audit=True)) as client:
        yield client


def test_uploads_pulls_and_refusals_are_recorded(audited_client: TestClient) -> None:
    store_client = audited_client
    files = {"file": ("f.csv", (HEADER + "cyp.cin_count,E10000024,2025-03-31,,5,,,,\n").encode(), "text/csv")}
    sub = store_client.post("/api/submissions", headers=NOTTS, files=files).json()["id"]
    bad = {"file": ("g.csv", (HEADER + "cyp.cin_count,E10000024,2025-03-31,,lots,,,,\n").encode(), "text/csv")}
    assert store_client.post("/api/submissions", headers=NOTTS, files=bad, data={"mode": "atomic"}).status_code == 422
    assert store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE).status_code == 200
    snapshot = store_client.get("/api/exports", headers=DFE).json()["items"][0]["id"]
    assert store_client.get(f"/api/exports/{snapshot}/lineage", headers=DFE).status_code == 200
    assert store_client.get(f"/api/exports/{snapshot}", headers=DFE).status_code == 200
    assert store_client.get("/api/figures", headers=NOTTS).status_code == 200
    assert store_client.get("/api/submissions", headers=DFE).status_code == 403
    assert store_client.get("/api/returns/vital_signs/FY2024-25.csv", headers=DFE).status_code == 404
    assert store_client.get("/api/figures", headers={"X-API-Key": "not-a-key-at-all-000"}).status_code == 401
    assert store_client.get("/api/figures").status_code == 401

    events = trail(store_client)
    actions = [(e["action"], e["outcome"], e["principal"]) for e in reversed(events)]
    notts = "agency notts_cyp: demo: Nottinghamshire children's services performance team"
    dfe = "regulator Department for Education: demo: DfE statistics team"
    assert actions[:10] == [
        ("submission.upload", "ok", notts),
        ("submission.upload", "rejected", notts),
        ("return.pull", "ok", dfe),
        ("export.list", "ok", dfe),
        ("lineage.read", "ok", dfe),
        ("export.download", "ok", dfe),
        ("figures.read", "ok", notts),
        ("submission.list", "refused", dfe),
        ("return.pull", "not_found", dfe),
        ("figures.read", "refused", "unknown key"),
    ]
    assert actions[10] == ("figures.read", "refused", "no key")
    first = events[-1]
    assert first["object"] == f"submission {sub} (agency notts_cyp, file f.csv)"
    assert first["key_prefix"] == NOTTS["X-API-Key"][:16]
    assert first["client"] == "testclient"
    assert first["role"] == "agency"
    assert first["status"] == 201
    assert datetime.fromisoformat(str(first["at"])).utcoffset() == timedelta(0)
    assert events[-8]["status"] == 403
    assert "agency or officer" in str(events[-8]["detail"])
    assert events[-9]["object"] == "/api/returns/vital_signs/FY2024-25.csv"
    for event in events:
        assert "demo-" not in str(event["object"]) + str(event["detail"]) + str(event["principal"])


def test_filters_and_paging(store_client: TestClient) -> None:
    for _ in range(4):
        store_client.get("/api/figures", headers=NOTTS)
    store_client.get("/api/submissions", headers=DFE)
    store_client.get("/api/exports", headers=DFE)
    assert {e["principal"] for e in trail(store_client, principal="notts_cyp")} == {
        "agency notts_cyp: demo: Nottinghamshire children's services performance team"
    }
    assert len(trail(store_client, key=DFE["X-API-Key"][:16])) == 2
    assert len(trail(store_client, key=DFE["X-API-Key"][:10])) == 2
    assert [e["action"] for e in trail(store_client, outcome="refused")] == ["submission.list"]
    assert len(trail(store_client, action="figures.read")) == 4
    assert len(trail(store_client, action="figures")) == 4
    assert trail(store_client, action="figure") == []
    now = datetime.now(UTC)
    assert len(trail(store_client, since=(now - timedelta(minutes=5)).isoformat(), action="figures")) == 4
    assert trail(store_client, since=(now + timedelta(minutes=5)).isoformat()) == []
    assert trail(store_client, until=(now - timedelta(minutes=5)).isoformat()) == []
    page = store_client.get("/api/audit", headers=OFFICER, params={"action": "figures", "limit": 3, "offset": 2}).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    assert page["limit"] == 3
    assert page["offset"] == 2
    assert page["next"] is None
    assert page["prev"].endswith("limit=3&offset=0")
    assert store_client.get("/api/audit", headers=OFFICER, params={"outcome": "maybe"}).status_code == 422


def test_only_officers_read_the_trail(store_client: TestClient) -> None:
    assert store_client.get("/api/audit", headers=NOTTS).status_code == 403
    assert store_client.get("/api/audit", headers=DFE).status_code == 403
    assert store_client.get("/api/audit").status_code == 401
    refusals = trail(store_client, action="audit.read", outcome="refused")
    assert len(refusals) == 3


def test_key_and_agency_changes_are_recorded(store_client: TestClient) -> None:
    issued = store_client.post("/api/keys", headers=OFFICER, json={"role": "officer", "label": "deputy"}).json()
    store_client.post(f"/api/keys/{issued['prefix']}/rotate", headers=OFFICER)
    store_client.post(f"/api/keys/{issued['prefix']}/revoke", headers=OFFICER)
    body = {"code": "kent_cyp", "name": "Kent CYP", "body_type": "local_authority", "orgs": ["E10000016"]}
    store_client.post("/api/agencies", headers=OFFICER, json=body)
    store_client.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"name": "Kent County Council CYP"})
    events = trail(store_client)
    seen = [(e["action"], e["outcome"], e["object"]) for e in reversed(events)]
    assert seen[0] == ("key.create", "ok", f"key {issued['prefix']} (officer)")
    assert seen[1][:2] == ("key.rotate", "ok")
    assert str(seen[1][2]).startswith(f"key {issued['prefix']} -> or_")
    # Rotating revoked the old key, so revoking it again is refused (409) and recorded as such.
    assert seen[2] == ("key.revoke", "rejected", f"/api/keys/{issued['prefix']}/revoke")
    assert seen[3:] == [("agency.create", "ok", "agency kent_cyp"), ("agency.update", "ok", "agency kent_cyp")]
    for event in events:
        assert issued["key"] not in str(event)

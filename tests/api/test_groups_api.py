"""Officers' comparator groups over HTTP: officers only, every change audited, codes checked against the
geography, and the comparison reads the group as it stands."""

from __future__ import annotations

from fastapi.testclient import TestClient

from collectors.published.sources import load_sources
from tests.helpers import assert_canonical_error

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
GROUP = {
    "id": "east_mids",
    "title": "East Midlands <b>counties</b>",
    "source": "chosen by the performance team",
    "members": ["E10000024", "E10000007", "E06000018"],
}
COMPARE = {"indicator": "pop.resident_0_17", "org": "E10000024", "period": "CY2024", "group": "east_mids"}


def _audit(client: TestClient, action: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = client.get(
        "/api/audit", headers=OFFICER, params={"action": action, "limit": 100}
    ).json()["items"]
    return items


def test_an_officer_keeps_a_group_and_the_comparison_follows_it(store_client: TestClient) -> None:
    # The comparison compares only periods with figures: ONS's population, as published.
    ons = load_sources().sources["ons_population_0_17"]
    imported = store_client.post(
        f"/api/published/sources/{ons.id}/releases",
        headers=OFFICER,
        files={"file": (ons.file, ons.bundled.read_bytes())},
    )
    assert imported.status_code == 201, imported.text
    assert "core_cities_england" in {g["id"] for g in store_client.get("/api/groups", headers=OFFICER).json()}
    made = store_client.post("/api/groups", headers=OFFICER, json=GROUP)
    assert made.status_code == 201, made.text
    assert made.json()["member_names"]["E10000024"] == "Nottinghamshire"
    assert made.json()["title"] == GROUP["title"]
    compared = store_client.get("/api/compare", headers=OFFICER, params=COMPARE)
    assert compared.status_code == 200, compared.text
    assert compared.json()["group"]["title"] == GROUP["title"]
    assert {r["code"] for r in compared.json()["rows"]} >= {"E10000007", "E06000018"}

    renamed = store_client.patch(
        "/api/groups/east_mids", headers=OFFICER, json={"title": "Two counties", "members": ["E10000024", "E10000007"]}
    )
    assert renamed.status_code == 200, renamed.text
    compared = store_client.get("/api/compare", headers=OFFICER, params=COMPARE).json()
    assert compared["group"]["title"] == "Two counties"
    assert "E06000018" not in {r["code"] for r in compared["rows"]}

    assert store_client.delete("/api/groups/east_mids", headers=OFFICER).status_code == 204
    assert store_client.get("/api/groups/east_mids", headers=OFFICER).status_code == 404
    assert store_client.get("/api/compare", headers=OFFICER, params=COMPARE).status_code == 404
    for action in ("group.create", "group.update", "group.delete"):
        events = _audit(store_client, action)
        assert [(e["object"], e["outcome"]) for e in events] == [("group east_mids", "ok")], action


def test_unknown_codes_are_named_and_nothing_is_stored(store_client: TestClient) -> None:
    refused = store_client.post(
        "/api/groups", headers=OFFICER, json=GROUP | {"members": ["E10000024", "E99999999", "W06000999"]}
    )
    assert refused.status_code == 422
    assert_canonical_error(refused.json(), 422)
    assert "E99999999, W06000999" in refused.json()["error"]
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "members", 1], ["body", "members", 2]]
    assert store_client.get("/api/groups/east_mids", headers=OFFICER).status_code == 404
    changed = store_client.patch("/api/groups/core_cities_england", headers=OFFICER, json={"members": ["E99999999"]})
    assert changed.status_code == 422
    assert len(store_client.get("/api/groups/core_cities_england", headers=OFFICER).json()["members"]) == 8
    assert store_client.post("/api/groups", headers=OFFICER, json=GROUP | {"id": "Not An Id"}).status_code == 422
    assert store_client.post("/api/groups", headers=OFFICER, json=GROUP | {"members": []}).status_code == 422
    assert store_client.post("/api/groups", headers=OFFICER, json=GROUP).status_code == 201
    assert store_client.post("/api/groups", headers=OFFICER, json=GROUP).status_code == 409
    assert _audit(store_client, "group.create")[0]["outcome"] in ("rejected", "ok")


def test_only_an_officer_may(store_client: TestClient) -> None:
    for headers in (NOTTS, DFE):
        assert store_client.get("/api/groups", headers=headers).status_code == 403
        assert store_client.post("/api/groups", headers=headers, json=GROUP).status_code == 403
        assert (
            store_client.patch("/api/groups/core_cities_england", headers=headers, json={"title": "x" * 5}).status_code
            == 403
        )
        assert store_client.delete("/api/groups/core_cities_england", headers=headers).status_code == 403
    assert store_client.get("/api/groups").status_code == 401
    assert store_client.get("/api/groups/core_cities_england", headers=OFFICER).status_code == 200

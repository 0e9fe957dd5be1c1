"""The regulator's pull: what changed since, what was sent on a date, ETags, and one list envelope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from onereturn.settings import Settings
from tests.helpers import DFE, OFFICER, assert_canonical_error, upload
from tests.signoffs import sign_off_everything

RETURN = "/api/returns/dfe_ssda903/FY2024-25"


def _now() -> datetime:
    return datetime.now(UTC)


def _cells(body: bytes) -> dict[str, dict[str, object]]:
    return {c["cell_id"]: c for c in json.loads(body)["cells"]}


def test_updated_after_sends_only_the_cells_changed_since(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    before_any = _now()
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    sign_off_everything(store)
    first = store_client.get(f"{RETURN}.json", headers=DFE)
    assert first.status_code == 200
    pulled = _now()
    nothing = store_client.get(f"{RETURN}.json", params={"updated_after": pulled.isoformat()}, headers=DFE)
    assert nothing.status_code == 200
    assert json.loads(nothing.content)["cells"] == []
    assert nothing.headers["x-changed-cells"] == "0"

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    sign_off_everything(store)
    changed = store_client.get(f"{RETURN}.json", params={"updated_after": pulled.isoformat()}, headers=DFE)
    cells = _cells(changed.content)
    full = _cells(store_client.get(f"{RETURN}.json", params={"fresh": "true"}, headers=DFE).content)
    old = _cells(first.content)
    # Exactly the cells whose content moved: the count itself and what is made from it, in Nottinghamshire only.
    assert set(cells) == {cid for cid in full if full[cid] != old[cid]}
    assert cells
    assert all(c["org_code"] == "E10000024" for c in cells.values())
    assert cells["EPI.CLA_31MAR|E10000024|"]["value"] == 1120.0
    assert all(cells[cid] == full[cid] for cid in cells)
    # A time before the first build: everything is new to the regulator.
    everything = store_client.get(f"{RETURN}.csv", params={"updated_after": before_any.isoformat()}, headers=DFE)
    assert everything.headers["x-changed-cells"] == str(len(full))


def test_as_of_gives_exactly_what_was_sent_then(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    before_any = _now()
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    sign_off_everything(store)
    sent = store_client.get(f"{RETURN}.xlsx", headers=DFE)
    between = _now()
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    sign_off_everything(store)
    revised = store_client.get(f"{RETURN}.xlsx", params={"fresh": "true"}, headers=DFE)
    assert revised.content != sent.content

    then = store_client.get(f"{RETURN}.xlsx", params={"as_of": between.isoformat()}, headers=DFE)
    assert then.status_code == 200
    assert then.content == sent.content
    assert then.headers["x-snapshot-id"] == sent.headers["x-snapshot-id"]
    now = store_client.get(f"{RETURN}.xlsx", params={"as_of": _now().isoformat()}, headers=DFE)
    assert now.content == revised.content

    never = store_client.get(f"{RETURN}.xlsx", params={"as_of": before_any.isoformat()}, headers=DFE)
    assert never.status_code == 404
    assert_canonical_error(never.json(), 404)
    other_format = store_client.get(f"{RETURN}.csv", params={"as_of": between.isoformat()}, headers=DFE)
    assert other_format.status_code == 404
    assert "xlsx" in other_format.json()["error"]
    both = store_client.get(
        f"{RETURN}.xlsx", params={"as_of": between.isoformat(), "updated_after": between.isoformat()}, headers=DFE
    )
    assert both.status_code == 422


def test_etag_and_if_none_match(store_client: TestClient) -> None:
    first = store_client.get(f"{RETURN}.csv", headers=DFE)
    etag = first.headers["etag"]
    assert etag == f'"{first.headers["x-content-sha256"]}"'
    again = store_client.get(f"{RETURN}.csv", headers={**DFE, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = store_client.get(f"{RETURN}.csv", headers={**DFE, "If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304
    stale = store_client.get(f"{RETURN}.csv", headers={**DFE, "If-None-Match": '"an-older-one"'})
    assert stale.status_code == 200
    assert stale.content == first.content
    by_id = store_client.get(f"/api/exports/{first.headers['x-snapshot-id']}", headers={**DFE, "If-None-Match": etag})
    assert by_id.status_code == 304


def test_figures_updated_after_and_as_of(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    sign_off_everything(store)
    between = _now()
    upload(
        store,
        store_settings,
        "notts_cyp",
        "cyp.lac_count,E10000024,2025-03-31,,1120,,,,",
        "cyp.cin_count,E10000024,2025-03-31,,3000,,,,",
    )
    sign_off_everything(store)
    query = {"org": "E10000024", "period": "2025-03-31"}
    recent = store_client.get("/api/figures", params={**query, "updated_after": between.isoformat()}, headers=OFFICER)
    assert {(f["indicator"], f["value"]) for f in recent.json()["items"]} == {
        ("cyp.lac_count", 1120.0),
        ("cyp.cin_count", 3000.0),
    }
    then = store_client.get("/api/figures", params={**query, "as_of": between.isoformat()}, headers=OFFICER).json()
    assert [(f["indicator"], f["value"], f["version"]) for f in then["items"]] == [("cyp.lac_count", 1100.0, 1)]
    history = store_client.get(
        "/api/figures", params={**query, "as_of": _now().isoformat(), "history": "true"}, headers=OFFICER
    ).json()
    assert sorted((f["indicator"], f["version"]) for f in history["items"]) == [
        ("cyp.cin_count", 1),
        ("cyp.lac_count", 1),
        ("cyp.lac_count", 2),
    ]
    later = (_now() + timedelta(days=1)).isoformat()
    assert store_client.get("/api/figures", params={"updated_after": later}, headers=OFFICER).json()["total"] == 0
    # Instants at the ends of the calendar are outside the years the service holds: refused, naming the parameter.
    for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"):
        for name in ("as_of", "updated_after"):
            refused = store_client.get("/api/figures", params={name: edge}, headers=OFFICER)
            assert refused.status_code == 422
            assert [e["loc"] for e in refused.json()["errors"]] == [["query", name]]
    bad = store_client.get("/api/figures", params={"updated_after": "last tuesday"}, headers=OFFICER)
    assert bad.status_code == 422
    assert_canonical_error(bad.json(), 422)


def test_list_envelope_links_walk_every_page(store_client: TestClient) -> None:
    for period in ("FY2023-24", "FY2024-25"):
        for suffix in ("csv", "json"):
            assert store_client.get(f"/api/returns/dfe_ssda903/{period}.{suffix}", headers=DFE).status_code == 200
    seen: list[int] = []
    url: str | None = "/api/exports?limit=3"
    pages = 0
    while url is not None:
        body = store_client.get(url, headers=DFE).json()
        assert set(body) == {"items", "total", "limit", "offset", "next", "prev"}
        assert body["total"] == 4
        seen.extend(e["id"] for e in body["items"])
        pages += 1
        if body["offset"]:
            assert body["prev"] is not None
        url = body["next"]
    assert pages == 2
    assert len(seen) == len(set(seen)) == 4
    assert seen == sorted(seen, reverse=True)
    last = store_client.get("/api/exports?limit=3&offset=3", headers=DFE).json()
    assert last["prev"] == "/api/exports?limit=3&offset=0"
    assert last["next"] is None


def test_every_list_route_has_the_envelope(client: TestClient) -> None:
    for path in ("/api/indicators", "/api/codelists", "/api/returns", "/api/orgs?type=region"):
        body = client.get(path, params={"limit": 2}).json()
        assert set(body) == {"items", "total", "limit", "offset", "next", "prev"}, path
        assert len(body["items"]) == 2
        assert body["total"] > 2
        assert body["next"] is not None
        assert body["prev"] is None
    for path in ("/api/agencies", "/api/submissions", "/api/figures", "/api/outbox", "/api/calendar/clashes"):
        body = client.get(path, headers=OFFICER).json()
        assert {"items", "total", "limit", "offset", "next", "prev"} <= set(body), path

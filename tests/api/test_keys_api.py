"""Keys over HTTP: issued once, stored hashed, listed, revoked and rotated; failed keys slowed down."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, String, Text, inspect, select, text
from sqlmodel import Session

from api.throttle import KeyPace, KeyThrottle
from mappings.keys import hash_key
from mappings.keys.models import ApiKey
from onereturn import db
from tests.helpers import assert_canonical_error, demo_keys

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}


def test_readme_demo_keys_are_the_stored_hashes(store: Engine) -> None:
    published = demo_keys()
    assert len(published) == 10
    with Session(store) as session:
        stored = {k.key_hash: k for k in session.execute(select(ApiKey)).scalars()}
    for key in published:
        assert hash_key(key) in stored, key
        assert stored[hash_key(key)].prefix == key[:16]
        assert stored[hash_key(key)].demo
    # The demo region's key reads its region's outputs and nothing else.
    assert stored[hash_key("demo-synthetic-hub-3b7e91c04d")].scopes == ["regions:read"]


def test_no_demo_key_is_stored_in_clear_anywhere(store: Engine, store_client: TestClient) -> None:
    # Use every key once, so nothing the service writes on use (last used, audit) escapes the scan.
    for key in demo_keys():
        store_client.get("/api/figures", headers={"X-API-Key": key})
    store_client.get("/api/figures", headers={"X-API-Key": "demo-officer-5e0b9c2a4f-wrong"})
    found = []
    with store.connect() as conn:
        inspector = inspect(conn)
        for table in inspector.get_table_names():
            columns = [c["name"] for c in inspector.get_columns(table) if isinstance(c["type"], String | Text)]
            for column in columns:
                for key in demo_keys():
                    hit = conn.execute(
                        text(f'SELECT 1 FROM "{table}" WHERE "{column}" LIKE :k LIMIT 1'), {"k": f"%{key[16:]}%"}
                    ).first()
                    if hit:
                        found.append((table, column, key))
    assert found == []
    for path in (Path(__file__).resolve().parents[2] / "mappings" / "agencies").glob("*.toml"):
        assert not any(key in path.read_text(encoding="utf-8") for key in demo_keys()), path


def test_issue_use_list_revoke_rotate(store_client: TestClient) -> None:
    issued = store_client.post(
        "/api/keys", headers=OFFICER, json={"role": "agency", "agency": "notts_cyp", "label": "CYP team"}
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    key, prefix = body["key"], body["prefix"]
    assert key.startswith(prefix)
    assert len(key) >= 46
    assert body["role"] == "agency"
    assert body["agency_code"] == "notts_cyp"
    mine = {"X-API-Key": key}
    assert store_client.get("/api/submissions", headers=mine).status_code == 200

    listed = {k["prefix"]: k for k in store_client.get("/api/keys", headers=OFFICER).json()["items"]}
    assert "key" not in listed[prefix]
    assert listed[prefix]["last_used_at"] is not None
    assert listed[prefix]["revoked_at"] is None
    assert listed[prefix]["created_at"].endswith("Z")
    assert listed[prefix]["created_by"].startswith("officer")

    rotated = store_client.post(f"/api/keys/{prefix}/rotate", headers=OFFICER)
    assert rotated.status_code == 201
    new_key = rotated.json()["key"]
    assert new_key != key
    assert rotated.json()["label"] == "CYP team"
    assert rotated.json()["agency_code"] == "notts_cyp"
    assert store_client.get("/api/submissions", headers=mine).status_code == 401
    assert store_client.get("/api/submissions", headers={"X-API-Key": new_key}).status_code == 200

    new_prefix = rotated.json()["prefix"]
    revoked = store_client.post(f"/api/keys/{new_prefix}/revoke", headers=OFFICER)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = store_client.get("/api/submissions", headers={"X-API-Key": new_key})
    assert refused.status_code == 401
    assert_canonical_error(refused.json(), 401)
    again = store_client.post(f"/api/keys/{new_prefix}/revoke", headers=OFFICER)
    assert again.status_code == 409
    assert store_client.post(f"/api/keys/{new_prefix}/rotate", headers=OFFICER).status_code == 409
    assert store_client.post("/api/keys/or_nosuchkey/revoke", headers=OFFICER).status_code == 404


def test_only_the_hash_is_stored(store: Engine, store_client: TestClient) -> None:
    key = store_client.post("/api/keys", headers=OFFICER, json={"role": "officer", "label": "deputy"}).json()["key"]
    with Session(store) as session:
        row = session.execute(select(ApiKey).where(ApiKey.prefix == key[:16])).scalar_one()
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in row.model_dump_json()


def test_a_revoked_demo_key_stays_revoked_when_the_demo_reloads(store: Engine, store_client: TestClient) -> None:
    from mappings.service import load_bundled

    prefix = NOTTS["X-API-Key"][:16]
    assert store_client.post(f"/api/keys/{prefix}/revoke", headers=OFFICER).status_code == 200
    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
    assert store_client.get("/api/submissions", headers=NOTTS).status_code == 401
    assert store_client.get("/api/submissions", headers=OFFICER).status_code == 200


def test_wrong_roles_and_bad_requests(store_client: TestClient) -> None:
    for headers in (NOTTS, DFE):
        response = store_client.get("/api/keys", headers=headers)
        assert response.status_code == 403
        assert (
            store_client.post("/api/keys", headers=headers, json={"role": "officer", "label": "me"}).status_code == 403
        )
    assert store_client.get("/api/keys").status_code == 401
    cases = [
        ({"role": "agency", "label": "x"}, "needs the agency"),
        ({"role": "agency", "agency": "nobody", "label": "x"}, "not known"),
        ({"role": "regulator", "label": "x"}, "needs the recipient"),
        ({"role": "regulator", "recipient": "DfE", "label": "x"}, "Department for Education"),
        ({"role": "officer", "agency": "notts_cyp", "label": "x"}, "takes no agency"),
        ({"role": "officer", "label": "   "}, "label"),
    ]
    for body, words in cases:
        response = store_client.post("/api/keys", headers=OFFICER, json=body)
        assert response.status_code == 422, body
        assert words in response.text, (body, response.text)
    assert store_client.post("/api/keys", headers=OFFICER, json={"role": "admin", "label": "x"}).status_code == 422


def test_repeated_failed_keys_are_slowed_down(store_client: TestClient) -> None:
    now = [1000.0]
    throttle = KeyThrottle(failures=5, window=60.0, clock=lambda: now[0])
    store_client.app.state.key_throttle = throttle  # type: ignore[attr-defined]
    for _ in range(5):
        assert store_client.get("/api/figures", headers={"X-API-Key": "guess-000000000000000"}).status_code == 401
    blocked = store_client.get("/api/figures", headers={"X-API-Key": "guess-000000000000001"})
    assert blocked.status_code == 429
    assert_canonical_error(blocked.json(), 429)
    assert blocked.headers["Retry-After"] == "60"
    # A valid key from the same address (a council's shared address, a proxy) is never held back by others' failures.
    assert store_client.get("/api/figures", headers=OFFICER).status_code == 200
    assert store_client.get("/api/figures", headers=NOTTS).status_code == 200
    now[0] += 30
    assert store_client.get("/api/figures", headers={"X-API-Key": "guess-2"}).headers["Retry-After"] == "30"
    assert store_client.get("/api/figures").status_code == 429, "no key is a failing try too, while held back"
    now[0] += 31
    assert store_client.get("/api/figures", headers={"X-API-Key": "guess-3"}).status_code == 401
    # One audit row for the hold, however often the address knocked while held back.
    held = store_client.get("/api/audit", headers=OFFICER, params={"outcome": "refused"}).json()["items"]
    assert [e["status"] for e in held] == [401, 429, 401, 401, 401, 401, 401]
    assert held[1]["principal"] == "throttled address"


def test_a_valid_key_is_held_only_by_its_own_pace(store_client: TestClient) -> None:
    now = [1000.0]
    store_client.app.state.key_pace = KeyPace(limit=3, window=10.0, clock=lambda: now[0])  # type: ignore[attr-defined]
    for _ in range(3):
        assert store_client.get("/api/figures", headers=NOTTS).status_code == 200
    paced = store_client.get("/api/figures", headers=NOTTS)
    assert paced.status_code == 429
    assert_canonical_error(paced.json(), 429)
    assert paced.headers["Retry-After"] == "10"
    assert "this key" in paced.json()["error"]
    # Another valid key from the same address is not held by the first one's pace.
    assert store_client.get("/api/figures", headers=OFFICER).status_code == 200
    now[0] += 10
    assert store_client.get("/api/figures", headers=NOTTS).status_code == 200


def test_requests_without_a_key_are_not_counted_as_failures(store_client: TestClient) -> None:
    store_client.app.state.key_throttle = KeyThrottle(failures=2, window=60.0, clock=lambda: 0.0)  # type: ignore[attr-defined]
    for _ in range(5):
        assert store_client.get("/api/figures").status_code == 401
    assert store_client.get("/api/figures", headers=OFFICER).status_code == 200

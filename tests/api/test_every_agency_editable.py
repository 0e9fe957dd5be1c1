"""Every agency of the demo can be changed over the API, the publishers' agencies the published intake made
included: a change is stored, or refused with the reason named, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from mappings.models import Agency
from tests.demo_store import demo_store_fixture
from tests.helpers import assert_canonical_error

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
#: Each test's store has the publishers' files read through the intake (``load_published``), read once per process.
store = demo_store_fixture("store", "published")


def test_patch_every_agency_of_the_demo(store: Engine, store_client: TestClient) -> None:
    with Session(store) as session:
        origins = {a.code: a.origin for a in session.execute(select(Agency)).scalars()}
    publishers = {c for c, o in origins.items() if o == "published"}
    assert "dfe_statistics" in publishers
    for code, origin in sorted(origins.items()):
        answer = store_client.patch(f"/api/agencies/{code}", headers=OFFICER, json={"email": "figures@example.org"})
        if origin == "bundled":
            # The demo's own agencies are read from their files at every start; the answer says so.
            assert answer.status_code == 422, (code, answer.text)
            assert "change its file instead" in answer.json()["error"]
            continue
        assert answer.status_code == 200, (code, answer.text)
        assert answer.json()["email"] == "figures@example.org"
        assert store_client.get(f"/api/agencies/{code}", headers=OFFICER).status_code == 200


def test_a_publishers_agency_is_changed_like_any_other(store: Engine, store_client: TestClient) -> None:
    renamed = store_client.patch(
        "/api/agencies/dfe_statistics", headers=OFFICER, json={"name": "DfE statistics (Explore Education Statistics)"}
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()
    assert (body["name"], body["body_type"], body["orgs"], body["origin"]) == (
        "DfE statistics (Explore Education Statistics)",
        "publisher",
        [],
        "published",
    )
    assert body["published"], "its statement that it publishes its own figures stays"
    bad = store_client.patch("/api/agencies/dfe_statistics", headers=OFFICER, json={"email": "not an address"})
    assert bad.status_code == 422
    assert_canonical_error(bad.json(), 422)
    assert bad.json()["errors"][0]["loc"] == ["body", "email"]
    kind = store_client.patch("/api/agencies/dfe_statistics", headers=OFFICER, json={"body_type": "shire"})
    assert kind.status_code == 422
    assert "not a body_type code" in kind.text
    with Session(store) as session:
        row = session.get(Agency, "dfe_statistics")
        assert row is not None
        assert (row.name, row.body_type) == ("DfE statistics (Explore Education Statistics)", "publisher")

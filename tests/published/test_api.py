"""An officer uploads a publisher's file unchanged over the API; the release is listed with its lineage."""

from __future__ import annotations

from fastapi.testclient import TestClient

from collectors.published.sources import load_sources

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
AGENCY = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}


def test_an_officer_uploads_the_publishers_file_unchanged_and_sees_the_release(store_client: TestClient) -> None:
    spec = load_sources().sources["ons_population_0_17"]
    data = spec.bundled.read_bytes()
    url = "/api/published/sources/ons_population_0_17/releases"
    refused = store_client.post(url, headers=AGENCY, files={"file": (spec.file, data)})
    assert refused.status_code == 403
    answer = store_client.post(url, headers=OFFICER, files={"file": (spec.file, data)}, params={"version": "2024"})
    assert answer.status_code == 201, answer.text
    release = answer.json()["release"]
    assert answer.json()["duplicate"] is False
    assert (release["source_id"], release["publisher"], release["version"], release["fetched_from"]) == (
        "ons_population_0_17",
        "ons",
        "2024",
        "upload",
    )
    assert release["rows_read"] == 2132
    again = store_client.post(url, headers=OFFICER, files={"file": (spec.file, data)})
    assert again.json()["duplicate"] is True
    listed = store_client.get("/api/published/releases", headers=OFFICER).json()
    assert [r["id"] for r in listed["items"]] == [release["id"]]
    sources = store_client.get("/api/published/sources", headers=OFFICER).json()
    assert {s["id"] for s in sources} >= {"ons_population_0_17", "dfe_cla_number"}


def test_a_file_in_another_layout_is_refused_with_the_columns_named(store_client: TestClient) -> None:
    url = "/api/published/sources/dfe_cla_number/releases"
    answer = store_client.post(url, headers=OFFICER, files={"file": ("cla.csv", b"time_period,la_name\n2024,x\n")})
    assert answer.status_code == 422
    assert "missing time_identifier" in answer.text
    assert store_client.get("/api/published/releases", headers=OFFICER).json()["total"] == 0

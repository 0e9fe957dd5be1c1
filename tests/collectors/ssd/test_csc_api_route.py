"""GET /api/agencies/{code}/csc-api/children: the council's approver alone, audited, nothing cached; as_of picks the
newest extract on or before it; each child stated against the extract before (changed=true keeps the changes); paged
as every list; the payloads kept sealed and gone after the retention period; an SSD upload keeps them."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cli.synthetic.ssd import synthetic_ssd
from collectors.records.privacy import keys_for
from collectors.ssd import payload_store
from collectors.ssd.models import CscPayloadExtract
from onereturn import keptfiles
from onereturn.settings import Settings
from tests.collectors.records.samples import upload
from tests.collectors.ssd.ssd_samples import extract_zip, set_council_ssd
from tests.collectors.ssd.test_csc_payload import TINY, read, tables

COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
ROUTE = "/api/agencies/synthetic_county/csc-api/children"


def keep(
    store: Engine, settings: Settings, tmp_path: Path, run: date, name: str, **changed: list[str]
) -> CscPayloadExtract:
    """Keep the tiny extract's payloads (with ``changed`` tables) for the synthetic county as received on ``run``."""
    path = tmp_path / name
    if not path.exists():  # the same name again is the same file again, byte for byte
        extract_zip(path, tables({**TINY, **changed}))
    prepared = payload_store.prepare(read(path, identifiers=False), run, identifiers=False)
    received = datetime(run.year, run.month, run.day, 12, tzinfo=UTC)
    return payload_store.keep(
        store, settings, agency_code="synthetic_county", collection_year="2024-25", filename=name,
        content_hash=payload_store.file_hash(path), prepared=prepared, received_at=received,
    )  # fmt: skip


def get(client: TestClient, headers: dict[str, str] = COUNTY, **params: Any) -> Any:
    return client.get(ROUTE, headers=headers, params=params)


def test_the_payloads_are_the_approvers_alone_audited_and_never_cached(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    assert "no SSD extract" in get(store_client, as_of="2025-06-01").json()["error"]
    kept = keep(store, store_settings, tmp_path, date(2025, 6, 1), "first.zip")
    answer = get(store_client, as_of="2025-06-01")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert [i["la_child_id"] for i in body["items"]] == ["C1", "C2", "C5"]
    assert {i["row_state"] for i in body["items"]} == {"new"}
    assert body["items"][0]["payload"]["child_details"]["date_of_birth"] == "2015-06-01"
    assert (body["extract"]["run_date"], body["extract"]["new"], body["la_code"]) == ("2025-06-01", 3, 830)
    assert get(store_client, OFFICER, as_of="2025-06-01").status_code == 403
    assert get(store_client, DFE, as_of="2025-06-01").status_code == 403
    assert get(store_client, NOTTS, as_of="2025-06-01").status_code == 404
    assert store_client.get(ROUTE, params={"as_of": "2025-06-01"}).status_code in (401, 403)
    for bad in ("2025-13-01", "yesterday", ""):
        refused = get(store_client, as_of=bad)
        assert refused.status_code == 422, refused.text
    assert get(store_client).status_code == 422
    early = get(store_client, as_of="2025-05-31")
    assert early.status_code == 404
    assert "on or before 2025-05-31" in early.json()["error"]
    trail = store_client.get("/api/audit", headers=OFFICER, params={"limit": 200}).json()
    assert any(e["object"] == "DfE payloads of synthetic_county as of 2025-06-01" for e in trail["items"]), trail
    # The payloads are kept sealed under the records key, where any host reads them; the row names no child.
    token = keptfiles.read(store, store_settings, kept.kept_name)
    assert b"la_child_id" not in token
    assert b"2015-06-01" not in token
    assert zipfile.is_zipfile(io.BytesIO(keys_for(store_settings).open(token)))
    assert not {"C1", "C2", "C5"} & {str(v) for v in vars(kept).values()}


def test_as_of_picks_the_newest_extract_and_changed_keeps_only_the_changes(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    first = keep(store, store_settings, tmp_path, date(2025, 6, 1), "first.zip")
    person = [line for line in TINY["ssd_person"] if not line.startswith("C5,")]
    person[2] = person[2].replace("BAFR", "WBRI")
    episodes = [line for line in TINY["ssd_cla_episodes"] if not line.startswith("E5,")]
    placements = [line for line in TINY["ssd_cla_placement"] if not line.startswith("PL5,")]
    second = keep(
        store, store_settings, tmp_path, date(2025, 7, 1), "second.zip",
        ssd_person=person, ssd_cla_episodes=episodes, ssd_cla_placement=placements,
        ssd_cin_episodes=[line for line in TINY["ssd_cin_episodes"] if not line.startswith("R5,")],
    )  # fmt: skip
    assert second.previous_id == first.id
    assert (second.new, second.updated, second.unchanged, second.deleted) == (0, 1, 1, 1)
    states = {i["la_child_id"]: i["row_state"] for i in get(store_client, as_of="2025-07-15").json()["items"]}
    assert states == {"C1": "unchanged", "C2": "updated", "C5": "deleted"}
    changed = get(store_client, as_of="2025-07-15", changed="true").json()["items"]
    assert [(i["la_child_id"], i["row_state"]) for i in changed] == [("C2", "updated"), ("C5", "deleted")]
    assert changed[1]["payload"] is None
    # A day between the two reads the first, as it was then.
    earlier = get(store_client, as_of="2025-06-30").json()
    assert earlier["extract"]["id"] == first.id
    assert {i["row_state"] for i in earlier["items"]} == {"new"}
    # The same extract again keeps nothing new.
    again = keep(store, store_settings, tmp_path, date(2025, 7, 2), "second.zip")
    assert again.id == second.id


def test_the_payloads_page_as_every_list(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    keep(store, store_settings, tmp_path, date(2025, 6, 1), "first.zip")
    first = get(store_client, as_of="2025-06-01", limit=2).json()
    assert ([i["la_child_id"] for i in first["items"]], first["total"]) == (["C1", "C2"], 3)
    rest = store_client.get(first["next"], headers=COUNTY).json()
    assert ([i["la_child_id"] for i in rest["items"]], rest["next"]) == (["C5"], None)
    assert get(store_client, as_of="2025-06-01", limit=0).status_code == 422


def test_the_payloads_go_after_the_retention_period(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    from collectors import retention

    keep(store, store_settings, tmp_path, date(2025, 6, 1), "first.zip")
    later = datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 400)
    assert retention.purge(store, store_settings, now=later).files >= 1
    assert get(store_client, as_of="2025-06-01").status_code == 404


@pytest.mark.parametrize("names", [False, True])
def test_an_ssd_upload_keeps_its_payloads_with_names_only_where_its_council_switched_them_on(
    store_client: TestClient, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: bool
) -> None:
    from api import uploading

    # Another council's setting switches nothing on for this one.
    set_council_ssd(store, "lewisham_council", payload_identifiers=True)
    set_council_ssd(store, "synthetic_county", payload_identifiers=names)

    # DfE's rules on the two files made are the SSD upload's own tests' (tests/collectors/ssd/test_ssd_upload.py);
    # here the files are received and not run, so the test costs a second, not DfE's rules.
    monkeypatch.setattr(uploading, "_start_records", lambda _request, _background, _received: None)
    extract = synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la="E10000007")
    answer = upload(store_client, [extract], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    made = answer.json()["csc_api_payloads"]
    assert made["children"] == made["new"] > 0
    today = payload_store.today(Settings())
    body = get(store_client, as_of=today.isoformat(), limit=1000).json()
    assert len(body["items"]) == made["children"]
    # Switched off by default: no name, postcode or UPN reaches a payload; on, they are there.
    named = [
        i
        for i in body["items"]
        if {"first_name", "postcode", "unique_pupil_number"} & set(i["payload"]["child_details"])
    ]
    assert bool(named) == names


def test_the_payloads_are_sealed_again_by_a_rotation_of_the_keys(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    from collectors.records import rotation

    kept = keep(store, store_settings, tmp_path, date(2025, 6, 1), "first.zip")
    before = keptfiles.read(store, store_settings, kept.kept_name)
    assert rotation.rotate(store, store_settings).files >= 1
    assert keptfiles.read(store, store_settings, kept.kept_name) != before
    answer = get(store_client, as_of="2025-06-01")
    assert answer.status_code == 200, answer.text
    assert [i["la_child_id"] for i in answer.json()["items"]] == ["C1", "C2", "C5"]

"""The regulator's journey over HTTP: a return in its format, identical bytes on repeat, lineage."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from exports import blobs
from exports.burden.report import last_financial_year
from onereturn import clock
from onereturn.settings import Settings
from tests.helpers import DFE, NOTTS, OFFICER, OHID, assert_canonical_error, upload
from tests.signoffs import sign_off_everything


@pytest.mark.parametrize(
    "path",
    [
        "/api/returns/dfe_ssda903/FY2024-25.csv",
        "/api/exports",
        "/api/exports/1",
        "/api/exports/1/lineage",
        "/api/burden?period=FY2024-25",
    ],
)
def test_anonymous_is_401_and_agencies_are_403(store_client: TestClient, path: str) -> None:
    anonymous = store_client.get(path)
    assert anonymous.status_code == 401
    assert_canonical_error(anonymous.json(), 401)
    agency = store_client.get(path, headers=NOTTS)
    assert agency.status_code == 403
    assert_canonical_error(agency.json(), 403)


def test_regulators_see_only_their_own_returns(store_client: TestClient) -> None:
    assert store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE).status_code == 200
    other = store_client.get("/api/returns/ndtms_adult_monthly/2024-03.csv", headers=DFE)
    assert other.status_code == 404
    assert_canonical_error(other.json(), 404)
    assert store_client.get("/api/returns/ndtms_adult_monthly/2024-03.csv", headers=OHID).status_code == 200
    assert store_client.get("/api/returns/nope/FY2024-25.csv", headers=OFFICER).status_code == 404


def test_unknown_format_and_wrong_period_type(store_client: TestClient) -> None:
    bad = store_client.get("/api/returns/dfe_ssda903/FY2024-25.pdf", headers=DFE)
    assert bad.status_code == 422
    assert ".sdmx.csv" in bad.json()["error"]
    wrong = store_client.get("/api/returns/dfe_ssda903/2024-06.csv", headers=DFE)
    assert wrong.status_code == 422
    assert "month" in wrong.json()["error"]


def test_repeat_gives_identical_bytes_and_a_revision_a_new_snapshot(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    first_sub = upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    sign_off_everything(store)
    first = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=DFE)
    again = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=DFE)
    assert first.status_code == 200
    assert first.content == again.content
    assert first.headers["x-snapshot-id"] == again.headers["x-snapshot-id"]
    assert zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    assert first.headers["x-build-pending"] == "false"
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1120,,,,")
    sign_off_everything(store)  # the revision reopened the sign-off
    # At once: the newest complete snapshot, saying a newer build is pending; fresh=true waits for it.
    stale = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=DFE)
    assert stale.headers["x-snapshot-id"] == first.headers["x-snapshot-id"]
    assert stale.headers["x-build-pending"] == "true"
    assert stale.headers["x-snapshot-as-of"] == first.headers["x-snapshot-as-of"]
    revised = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", params={"fresh": "true"}, headers=DFE)
    assert revised.headers["x-build-pending"] == "false"
    assert revised.headers["x-snapshot-as-of"] > first.headers["x-snapshot-as-of"]
    assert revised.headers["x-snapshot-id"] != first.headers["x-snapshot-id"]
    assert revised.content != first.content
    kept = store_client.get(f"/api/exports/{first.headers['x-snapshot-id']}", headers=DFE)
    assert kept.content == first.content
    listing = store_client.get("/api/exports", params={"return": "dfe_ssda903"}, headers=DFE).json()
    assert {str(e["id"]) for e in listing["items"]} >= {
        first.headers["x-snapshot-id"],
        revised.headers["x-snapshot-id"],
    }
    lineage = store_client.get(
        f"/api/exports/{first.headers['x-snapshot-id']}/lineage", params={"org": "E10000024"}, headers=DFE
    ).json()
    rows = [r for r in lineage["items"] if r["indicator_id"] == "cyp.lac_count"]
    assert len({r["cell_id"] for r in rows}) >= 2, "the count and the rates made from it"
    assert {(r["submission_id"], r["file_row"], r["agency_code"]) for r in rows} == {(first_sub, 2, "notts_cyp")}
    # A stored figure's value is not released to a regulator; the officer reads it.
    assert all("value" not in r for r in lineage["items"])
    officer = store_client.get(
        f"/api/exports/{first.headers['x-snapshot-id']}/lineage", params={"org": "E10000024"}, headers=OFFICER
    ).json()
    assert {r["value"] for r in officer["items"] if r["indicator_id"] == "cyp.lac_count"} == {1100.0}


def test_listing_and_lineage_never_read_a_snapshots_bytes_and_a_download_by_id_reads_them_once(
    store: Engine, store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled = store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE)
    snapshot_id = pulled.headers["x-snapshot-id"]
    # A process that holds no snapshot's bytes, counting every read of a blob from the store.
    monkeypatch.setattr(blobs, "BYTES", blobs.Held(limit=1 << 20))
    reads: list[int] = []
    real = blobs._from_store

    def counted(connection: Any, snapshot: int) -> bytes:
        reads.append(snapshot)
        return real(connection, snapshot)

    monkeypatch.setattr(blobs, "_from_store", counted)
    statements: list[str] = []

    def seen(*event_args: Any) -> None:
        statements.append(event_args[2])  # (connection, cursor, statement, ...)

    event.listen(store, "before_cursor_execute", seen)
    try:
        assert store_client.get("/api/exports", params={"return": "dfe_ssda903"}, headers=DFE).status_code == 200
        assert store_client.get(f"/api/exports/{snapshot_id}/lineage", headers=DFE).status_code == 200
    finally:
        event.remove(store, "before_cursor_execute", seen)
    assert reads == []
    assert statements, "the requests were answered from this engine"
    assert not [s for s in statements if "export_snapshot.data" in s]
    for _ in range(2):
        again = store_client.get(f"/api/exports/{snapshot_id}", headers=DFE)
        assert again.content == pulled.content
    assert reads == [int(snapshot_id)]


def test_every_format_downloads(store_client: TestClient) -> None:
    for suffix, media in (("xlsx", "spreadsheetml"), ("csv", "text/csv"), ("json", "json"), ("sdmx.csv", "sdmx")):
        response = store_client.get(f"/api/returns/dfe_cin_census/FY2024-25.{suffix}", headers=DFE)
        assert response.status_code == 200, suffix
        assert media in response.headers["content-type"]
        assert f'filename="dfe_cin_census-FY2024-25.{suffix}"' in response.headers["content-disposition"]
    structure = store_client.get("/api/returns/dfe_cin_census/FY2024-25.structure.xml", headers=DFE)
    assert structure.status_code == 200
    assert b"DataStructure" in structure.content


def test_completeness_names_who_owes_what(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_3plus_placements_n,E10000024,2025-03-31,,43,,,,")
    sign_off_everything(store)
    body = store_client.get("/api/returns/county_cyp_core/FY2024-25-Q4/completeness", headers=OFFICER).json()
    assert body["cells"] == 67
    assert body["by_status"]["present"] == 1
    owed = {c["reason"] for c in body["not_present"]}
    assert "not yet submitted by Nottinghamshire County Council, Children and Young People's Services" in owed


def test_burden_over_http(store_client: TestClient) -> None:
    body = store_client.get("/api/burden", params={"period": "FY2024-25", "minutes": 5}, headers=OFFICER).json()
    assert body["minutes_per_figure"] == 5
    notts = next(a for a in body["agencies"] if a["agency_code"] == "notts_cyp")
    assert notts["cells_without_service"] > notts["figures_entered"] > 0
    assert notts["hours_saved"] == pytest.approx(notts["saved"] * 5 / 60, abs=0.1)
    assert body["overlap"]["county_cyp_core"]["dfe_ssda903"] > 0


def test_burden_as_the_readme_calls_it_reports_the_latest_financial_year_ended(store_client: TestClient) -> None:
    answer = store_client.get("/api/burden", headers=OFFICER)  # README: `GET /api/burden`, no period
    assert answer.status_code == 200, answer.text
    today = clock.now().date()
    start = today.year - 1 if today.month >= 4 else today.year - 2
    assert answer.json()["period"] == f"FY{start}-{(start + 1) % 100:02d}"
    assert last_financial_year(date(2025, 3, 31)) == "FY2023-24"
    assert last_financial_year(date(2025, 4, 1)) == "FY2024-25"


def test_figures_rolled_up_over_http(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    upload(
        store,
        store_settings,
        "ons",
        *(f"pop.resident_0_17,{org},CY2023,,{n},,,," for org, n in (("E10000024", 170000), ("E09000023", 60000))),
    )
    body = store_client.get(
        "/api/figures",
        params={"indicator": "pop.resident_0_17", "period": "CY2023", "level": "upper_tier_la", "org": "E10000024"},
        headers=OFFICER,
    ).json()
    assert body["items"][0]["value"] == 170000.0
    region = store_client.get(
        "/api/figures",
        params={"indicator": "pop.resident_0_17", "period": "CY2023", "level": "region", "org": "E12000007"},
        headers=OFFICER,
    ).json()
    (london,) = region["items"]
    assert london["status"] == "missing"
    assert london["missing_parts"] == 32
    refused = store_client.get(
        "/api/figures", params={"indicator": "pop.resident_0_17", "period": "CY2023", "level": "region"}, headers=NOTTS
    )
    assert refused.status_code == 403


def test_csv_export_neutralises_formulas(store: Engine, store_client: TestClient) -> None:
    from sqlmodel import Session

    from mappings.models import OrgUnit

    with Session(store) as session:
        unit = session.get(OrgUnit, "E10000024")
        assert unit is not None
        unit.name = '=HYPERLINK("http://example.invalid")'
        session.commit()
    csv = store_client.get("/api/returns/county_cyp_core/FY2024-25-Q4.csv", headers=OFFICER)
    frame = pl.read_csv(io.BytesIO(csv.content), infer_schema=False)
    assert set(frame["org_name"].to_list()) == {'\'=HYPERLINK("http://example.invalid")'}


def test_a_pull_hands_work_to_worker_threads_three_times_and_gives_its_connection_back(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As served (reads' audit events batched): the key's check, the route and the session's end each take a
    worker thread, and nothing else leaves the event loop."""
    import anyio.to_thread

    from api.main import create_app

    path = "/api/returns/dfe_ssda903/FY2024-25.csv"
    with TestClient(create_app(store_settings, engine=store, batch_read_audit=True)) as client:
        assert client.get(path, headers=DFE).status_code == 200
        hops: list[str] = []
        real = anyio.to_thread.run_sync

        async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
            hops.append(getattr(getattr(func, "func", func), "__name__", "?"))
            return await real(func, *args, **kwargs)

        monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
        assert client.get(path, headers=DFE).status_code == 200
        # The key's check, the route (however FastAPI names its call) and the session's end.
        assert len(hops) == 3, hops
        assert (hops[0], hops[-1]) == ("admitted", "_end"), hops
        # The batcher's thread writes the pulls' audit events with a connection of its own, every quarter
        # second: once a flush has written what is queued, its thread holds none, and what is left is the pulls'.
        batcher = client.app.state.audit_batcher  # type: ignore[attr-defined]
        batcher.flush()
        assert store.pool.checkedout() == 0  # type: ignore[attr-defined]
        # A refused request rolls back and gives its connection back too.
        assert client.get("/api/returns/dfe_ssda903/FY2024-25.pdf", headers=DFE).status_code in (400, 404, 422)
        batcher.flush()
        assert store.pool.checkedout() == 0  # type: ignore[attr-defined]

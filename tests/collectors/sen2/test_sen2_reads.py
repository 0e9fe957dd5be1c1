"""A kept SEN2 file read once for the answers asked of it one after another (the twelve tables, List 1 and its
workbook, the checks across returns), held in memory only, for a bounded time and number of files, and read again
once a newer file is sent; a purged file is never served from what was held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import retention
from collectors.door.requests import RecordFiles
from collectors.sen2 import list1, records, service
from collectors.sen2.records import Sen2Records
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.sen2.test_sen2_door import made_up
from tests.collectors.sen2.test_sen2_tables import hand_worked

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
ON = {"inspection_date": "2025-03-31"}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Each kept file read from its sealed copy, counted; the files held start empty."""
    counted: list[Path] = []
    real = records.read_kept_file

    def counting(path: Path, survey: int) -> tuple[Sen2Records, int]:
        counted.append(path)
        return real(path, survey)

    monkeypatch.setattr(service, "read_kept_file", counting)
    for held in ("_READ", "_TABLES", "_CENSUS"):
        monkeypatch.setattr(service, held, type(getattr(service, held))())
    monkeypatch.setattr(list1, "_BUILT", type(list1._BUILT)())
    return counted


def test_the_answers_of_one_sitting_read_the_kept_file_once(
    store: Engine, store_settings: Settings, reads: list[Path]
) -> None:
    base = "/api/agencies/notts_cyp/sen2/2024-25"
    with client_on(store_settings, store) as client:
        sent = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                           files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
        assert sent.status_code == 201, sent.text
        listed = client.get(f"{base}/tables", headers=NOTTS)
        assert listed.status_code == 200, listed.text
        asked = [client.get(item["href"], headers=NOTTS) for item in listed.json()["items"]]
        asked += [
            client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params=ON),
            client.get("/api/agencies/notts_cyp/annex-a-send.xlsx", headers=NOTTS, params=ON),
            client.get(f"{base}/cross-checks", headers=NOTTS),
        ]
        assert [a.status_code for a in asked] == [200] * 15
        assert len(reads) == 1
        # A newer file for the year is read (once) in its place.
        again = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                            files=[("files", ("sen2.xml", hand_worked() + b"\n", "application/xml"))])  # fmt: skip
        assert again.status_code == 201, again.text
        for _ in range(2):
            assert client.get(f"{base}/tables/caseload.csv", headers=NOTTS).status_code == 200
            assert client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params=ON).status_code == 200
        assert len(reads) == 2
        # Purged past the retention period: nothing held is served, the file is no longer found.
        later = datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 1)
        retention.purge(store, store_settings, now=later)
        assert client.get(f"{base}/tables/caseload.csv", headers=NOTTS).status_code == 404
        assert client.get("/api/agencies/notts_cyp/annex-a-send", headers=NOTTS, params=ON).status_code == 404
    assert len(reads) == 2


def test_what_is_held_is_bounded_in_files_and_time(
    store: Engine, store_settings: Settings, reads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectors.sen2.receiving import kept_sen2, receive

    folder = store_settings.data_dir.parent / "sent"
    folder.mkdir()
    found = []
    for n, year in enumerate(("2022-23", "2023-24", "2024-25")):
        path = folder / f"sen2-{n}.xml"
        path.write_bytes(made_up(int(year[:4]) + 1))
        receive(
            store, store_settings, RecordFiles(agency_code="notts_cyp", collection_year=year, files=[(path.name, path)])
        )
        with Session(store) as session:
            kept = kept_sen2(session, "notts_cyp", year)
        assert kept is not None
        found.append(kept)
    for kept in found:
        service.read_submission(store, store_settings, kept)
    assert len(reads) == 3
    assert len(service._READ) == service._READ_HELD == 2
    # The first file was let go of (the oldest held); the last two are served as held.
    service.read_submission(store, store_settings, found[2])
    assert len(reads) == 3
    service.read_submission(store, store_settings, found[0])
    assert len(reads) == 4
    # Past its time a file held is let go of and read again: held for no time, the first ask still finds it (its
    # time renewed, to now), each ask after reads it again.
    monkeypatch.setattr(service, "READ_SECONDS", 0.0)
    for _ in range(3):
        service.read_submission(store, store_settings, found[0])
    assert len(reads) == 6

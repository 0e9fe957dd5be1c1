"""A SEN2 file is read after the door in the encoding the door read it in (UTF-16 with neither a byte order mark nor a
declaration among them), and a kept file that still cannot be read fails its own council's answers with a clear
error, never the officer's burden report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_YEAR, demo_sen2
from collectors.sen2 import list1, list1_cells, records, service
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_store_fixture

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
PERIOD = f"FY{RECORDS_YEAR}"
ON = {"inspection_date": f"{int(RECORDS_YEAR[:4]) + 1}-03-31"}
BASE = f"/api/agencies/{RECORDS_AGENCY}"
store = demo_store_fixture("store", "records")


@pytest.fixture(autouse=True)
def nothing_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read in a test is of the kept file, not of what an earlier test held."""
    for module, name in ((service, "_READ"), (service, "_TABLES"), (service, "_CENSUS"), (list1, "_BUILT")):
        monkeypatch.setattr(module, name, type(getattr(module, name))())
    monkeypatch.setattr(list1_cells, "_CELLS", type(list1_cells._CELLS)())


def _bare(data: bytes, codec: str) -> bytes:
    """The file in ``codec`` with no byte order mark and no XML declaration."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", data.decode("utf-8"))
    return text.encode(codec)


def _send(client: TestClient, data: bytes) -> None:
    sent = client.post("/api/submissions", headers=SYNTHETIC, data={"collection_year": RECORDS_YEAR},
                       files=[("files", ("sen2.xml", data, "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text


def _answers(client: TestClient) -> list[Any]:
    year = f"{BASE}/sen2/{RECORDS_YEAR}"
    asked = [
        client.get(f"{year}/tables/caseload.csv", headers=SYNTHETIC),
        client.get(f"{BASE}/annex-a-send", headers=SYNTHETIC, params=ON),
        client.get(f"{year}/cross-checks", headers=SYNTHETIC),
    ]
    assert [a.status_code for a in asked] == [200, 200, 200], [a.text[:200] for a in asked]
    # The checks across returns name the upload read; what they found is compared.
    return [asked[0].text, asked[1].json()["rows"], asked[2].json()["checks"]]


def _county_list1(client: TestClient) -> int:
    burden = client.get("/api/burden", headers=OFFICER, params={"period": PERIOD})
    assert burden.status_code == 200, burden.text
    return int(next(a for a in burden.json()["agencies"] if a["agency_code"] == RECORDS_AGENCY)["list1_cells"])


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_bare_utf16_file_is_read_after_the_door_as_its_utf8_copy_is(
    store: Engine, store_settings: Settings, tmp_path: Path, codec: str
) -> None:
    utf8 = demo_sen2(tmp_path).read_bytes()
    with client_on(store_settings, store) as client:
        _send(client, _bare(utf8, codec))
        from_utf16, cells_utf16 = _answers(client), _county_list1(client)
        _send(client, utf8)
        from_utf8, cells_utf8 = _answers(client), _county_list1(client)
    assert from_utf16 == from_utf8
    assert cells_utf16 == cells_utf8 > 0


def test_a_kept_file_that_cannot_be_read_fails_its_councils_answers_not_the_burden(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _bare(demo_sen2(tmp_path).read_bytes(), "utf-16-le")
    with client_on(store_settings, store) as client:
        _send(client, data)
        # Read as libxml2 tells the encoding by itself, as every read after the door did before it was decided once.
        monkeypatch.setattr(records, "read_encoding", lambda _head: None)
        year = f"{BASE}/sen2/{RECORDS_YEAR}"
        asked = [
            client.get(f"{year}/tables/caseload.csv", headers=SYNTHETIC),
            client.get(f"{BASE}/annex-a-send", headers=SYNTHETIC, params=ON),
            client.get(f"{year}/cross-checks", headers=SYNTHETIC),
        ]
        cells = _county_list1(client)
    assert [a.status_code for a in asked] == [409, 409, 409]
    for answer in asked:
        assert "kept SEN2 file cannot be read" in answer.json()["error"]
        assert "0x0" not in answer.text
    assert cells == 0

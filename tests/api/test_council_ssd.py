"""A council's SSD settings kept with its agency: given in its agency file's ``[agency.ssd]`` table or in ``ssd``
over the API, read by the extract's intake, DfE's payloads and the scheduled read, and left as set by a change of
anything else and by an import of the council's row again."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.ssd import database
from mappings.agencies import AGENCIES_DIR, load_agencies, org_types, store_agencies
from mappings.catalogue import load_catalogue
from mappings.council_ssd import CouncilSsd, council_ssd

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
KENT = {"code": "kent_cyp", "name": "Kent CYP", "body_type": "local_authority", "orgs": ["E10000016"]}
READ = {"url_variable": "KENT_SSD_URL", "schema": "ssd"}


def _ssd(store: Engine, code: str) -> CouncilSsd:
    with Session(store) as session:
        return council_ssd(session, code)


def test_a_councils_ssd_settings_are_given_changed_and_kept_over_the_api(
    store_client: TestClient, store: Engine
) -> None:
    created = store_client.post(
        "/api/agencies", headers=OFFICER, json=KENT | {"ssd": {"worker_roles": ["SW", " SW"], "read": READ}}
    )
    assert created.status_code == 201, created.text
    assert created.json()["ssd"] == {
        "worker_roles": ["SW"],
        "payload_identifiers": False,
        "read": {"url_variable": "KENT_SSD_URL", "schema": "ssd", "year": None, "at": "0 2 * * *"},
    }
    assert _ssd(store, "kent_cyp").worker_roles == ["SW"]
    assert database.sources(store) == {"kent_cyp": database.Source("kent_cyp", "KENT_SSD_URL", "ssd")}
    assert not _ssd(store, "kent_cyp").payload_identifiers

    # A change of anything else leaves them as set.
    changed = store_client.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"email": "k@kent.example"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["ssd"] == created.json()["ssd"]
    # The names switched on and the read taken off: its job goes at the scheduler's next reconcile.
    changed = store_client.patch(
        "/api/agencies/kent_cyp", headers=OFFICER, json={"ssd": {"worker_roles": ["SW"], "payload_identifiers": True}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["ssd"]["read"] is None
    assert _ssd(store, "kent_cyp").payload_identifiers
    assert database.sources(store) == {}

    # A spreadsheet has no column for them: the council's row imported again leaves them as set.
    row = "code,name,body_type,orgs\nkent_cyp,Kent County CYP,local_authority,E10000016\n"
    imported = store_client.post(
        "/api/agencies/import", headers=OFFICER, files={"file": ("a.csv", row.encode(), "text/csv")}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["updated"] == ["kent_cyp"]
    assert _ssd(store, "kent_cyp") == CouncilSsd(worker_roles=["SW"], payload_identifiers=True)
    # Back to none set: nothing kept in its definition.
    assert store_client.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"ssd": {}}).json()["ssd"] == {
        "worker_roles": [],
        "payload_identifiers": False,
        "read": None,
    }
    assert _ssd(store, "kent_cyp") == CouncilSsd()


def test_a_bad_setting_is_refused_naming_it_and_nothing_changes(store_client: TestClient, store: Engine) -> None:
    assert store_client.post("/api/agencies", headers=OFFICER, json=KENT).status_code == 201
    for ssd, where, said in (
        ({"read": READ | {"year": "2023-24"}}, ["body", "ssd", "read", "year"], "mapping the service ships"),
        ({"read": READ | {"year": "2024-26"}}, ["body", "ssd", "read", "year"], "is not a collection year"),
        ({"read": READ | {"at": "0 25 * * *"}}, ["body", "ssd", "read", "at"], "is not a crontab"),
        ({"read": {"url_variable": "postgresql://u:p@h/db"}}, ["body", "ssd", "read", "url_variable"], "pattern"),
        ({"worker_roles": ["SW", ""]}, ["body", "ssd", "worker_roles"], "none blank"),
        ({"names": True}, ["body", "ssd", "names"], "Extra inputs"),
    ):
        refused = store_client.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"ssd": ssd})
        assert refused.status_code == 422, (ssd, refused.text)
        (error,) = refused.json()["errors"]
        assert error["loc"] == where, refused.text
        assert said in error["msg"], refused.text
        assert _ssd(store, "kent_cyp") == CouncilSsd()


def test_an_agency_files_ssd_table_is_the_councils_settings(store: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "agencies"
    shutil.copytree(AGENCIES_DIR, folder)
    with (folder / "synthetic_county.toml").open("a") as file:
        file.write(
            '\n[agency.ssd]\nworker_roles = ["SW"]\npayload_identifiers = true\n'
            '[agency.ssd.read]\nurl_variable = "SYNTHETIC_SSD_URL"\nyear = "2024-25"\nat = "30 3 * * 1-5"\n'
        )
    with Session(store) as session:
        agencies = load_agencies(load_catalogue(), org_types(session), folder)
        assert not agencies.problems, agencies.problems
        store_agencies(session, agencies, with_keys=True)
        session.commit()
        assert council_ssd(session, "synthetic_county").worker_roles == ["SW"]
    assert _ssd(store, "synthetic_county").payload_identifiers
    assert database.sources(store) == {
        "synthetic_county": database.Source(
            "synthetic_county", "SYNTHETIC_SSD_URL", "public", "2024-25", "30 3 * * 1-5"
        )
    }
    # A mistake in the table is the file's problem, by line, as every other.
    with (folder / "synthetic_county.toml").open("a") as file:
        file.write('tables = "ssd"\n')
    with Session(store) as session:
        problems = load_agencies(load_catalogue(), org_types(session), folder).problems
    assert [(p.file.endswith("synthetic_county.toml"), p.message) for p in problems] == [
        (True, "unknown key 'ssd.read.tables'")
    ]

"""England's rows tried as a new user would, on the demo (SQLite and PostgreSQL): DfE's key pulls England's SSDA903,
CIN census and EHC plan rows the day the made-up county's records are in, the county counted in the place of the
council it stands in for (Derbyshire) and said so, every other council of DfE's named as missing."""

from __future__ import annotations

import csv
import io

from sqlalchemy import Engine

from cli.demo import RECORDS_ORG, RECORDS_YEAR, load_sen2_demo
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_store_fixture

store = demo_store_fixture("store", "records")
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
DERBYSHIRE = "E10000007"


def test_dfes_key_pulls_englands_rows_of_the_demos_records(store: Engine, store_settings: Settings) -> None:
    # The demo's first start sends the county's SEN2 file with its other records.
    (loaded,) = load_sen2_demo(store, store_settings)
    assert loaded.status == "accepted", loaded.message
    with client_on(store_settings, store) as client:
        about = client.get(f"/api/england/dfe_ssda903/{RECORDS_YEAR}", headers=DFE)
        assert about.status_code == 200, about.text
        assert about.json()["coverage"] == "1 of 153 councils"
        assert about.json()["councils_counted"] == [DERBYSHIRE]
        assert len(about.json()["councils_missing"]) == 152
        for return_id in ("dfe_ssda903", "dfe_cin_census"):
            answer = client.get(f"/api/england/{return_id}/{RECORDS_YEAR}.csv", headers=DFE)
            assert answer.status_code == 200, answer.text
            rows = list(csv.DictReader(io.StringIO(answer.text)))
            levels = {r["geographic_level"] for r in rows}
            assert levels == {"National", "Regional", "Local authority"}
            assert {r["region_code"] for r in rows if r["geographic_level"] == "Regional"} == {"E12000004"}
            councils = {r["new_la_code"] for r in rows if r["geographic_level"] == "Local authority"}
            assert councils == {RECORDS_ORG}
        tables = client.get(f"/api/sen2/{RECORDS_YEAR}/england/caseload.csv", headers=DFE)
        assert tables.status_code == 200, tables.text
        assert tables.headers["X-Coverage"] == "1 of 153 councils"
        rows = list(csv.DictReader(io.StringIO(tables.text)))
        (england,) = [r for r in rows if r["geographic_level"] == "National" and r["breakdown"] == "All EHC plans"]
        (county,) = [
            r for r in rows if r["geographic_level"] == "Local authority" and r["breakdown"] == "All EHC plans"
        ]
        assert england["ehcplans"] == county["ehcplans"]
        assert int(england["ehcplans"]) > 0

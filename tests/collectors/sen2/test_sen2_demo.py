"""The demo's synthetic county sends a SEN2 file of made-up children, some of them its CIN census's and SSDA903's by
UPN: its List 1 shows them known to children's social care, and its tables download in DfE's layout."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, RECORDS_SEN2_SHARED, RECORDS_YEAR, demo_records, demo_sen2, load_sen2_demo
from collectors.sen2.tables import layout
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_store_fixture

SYNTHETIC = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
store = demo_store_fixture("store", "records")


def test_the_demos_sen2_file_shares_children_with_its_census_and_903(tmp_path: Path) -> None:
    sen2 = demo_sen2(tmp_path / "a").read_text()
    assert demo_sen2(tmp_path / "b").read_text() == sen2
    upns = re.findall(r"<UPN>([^<]+)</UPN>", sen2)
    files = dict(demo_records(tmp_path / "c"))
    census = set(re.findall(r"<UPN>([^<]+)</UPN>", files["CIN census"][0].read_text()))
    header = next(p for p in files["SSDA903 tables"] if p.name == "header.csv")
    looked_after = {r["UPN"] for r in csv.DictReader(header.open(encoding="utf-8"))}
    assert len(set(upns) & census) >= RECORDS_SEN2_SHARED["cin"]
    assert set(upns) & looked_after - census


def test_the_synthetic_county_lists_its_plans_with_social_care(store: Engine, store_settings: Settings) -> None:
    (loaded,) = load_sen2_demo(store, store_settings)
    assert loaded.status == "accepted", loaded.message
    on = f"{int(RECORDS_YEAR[:4]) + 1}-03-31"
    with client_on(store_settings, store) as client:
        listed = client.get(f"/api/agencies/{RECORDS_AGENCY}/annex-a-send", headers=SYNTHETIC,
                            params={"inspection_date": on})  # fmt: skip
        assert listed.status_code == 200, listed.text
        rows = listed.json()["rows"]
        known = [r for r in rows if r["Known to children's social care?"] == "Yes"]
        assert known
        assert {r["Which children's social care team?"] for r in known} <= {
            "Looked after children", "Child protection", "Children in need"}  # fmt: skip
        table = client.get(f"/api/agencies/{RECORDS_AGENCY}/sen2/{RECORDS_YEAR}/tables/timeliness_20_week.csv",
                           headers=SYNTHETIC)  # fmt: skip
        assert table.status_code == 200, table.text
        first = next(csv.DictReader(io.StringIO(table.text)))
        assert tuple(first) == layout()["timeliness_20_week"]
        assert first["new_la_code"] == "SYNTHETIC-COUNTY"
        assert int(first["plans_issued_den"]) > 0


def test_the_synthetic_county_sees_queries_across_its_returns(store: Engine, store_settings: Settings) -> None:
    load_sen2_demo(store, store_settings)
    with client_on(store_settings, store) as client:
        answer = client.get(f"/api/agencies/{RECORDS_AGENCY}/sen2/{RECORDS_YEAR}/cross-checks", headers=SYNTHETIC)
        assert answer.status_code == 200, answer.text
    body = answer.json()
    counts = {c["check"]: c["queries"] for c in body["checks"]}
    # The demo's SEN2 children carry their census's and SSDA903's birth dates and sexes; most children in need have
    # no disability recorded (NONE), so a plan beside one is queried.
    assert counts["birth_date"] == counts["sex"] == 0
    assert counts["plan_but_no_disability"] > 0
    assert len(body["queries"]) == sum(counts.values())
    assert len(body["sources"]) == 3

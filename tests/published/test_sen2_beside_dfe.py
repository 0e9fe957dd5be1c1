"""DfE's published EHC plan release (reporting year 2025, shipped whole) read as a publisher's file through the
published intake: a council's own figures from its SEN2 file sit beside what DfE published for it, and each
difference names DfE's table, the filter its figure was read on and both values."""

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.published.sources import EHCP_RELEASE, load_sources
from indicators.published_query import published_figures
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.sen2.test_sen2_figures import BY_HAND
from tests.collectors.sen2.test_sen2_tables import hand_worked
from tests.demo_store import demo_store_fixture

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
published_store = demo_store_fixture("published_store", "published")
#: Each figure's DfE table and column, as the declared sources read them (mappings/published/dfe_ehcp_*.toml).
COLUMNS = {
    "send.ehcp_requests": ("requests.csv", "requests_received_in_year", "2024"),
    "send.ehcp_new_plans": ("newplans.csv", "new_ehc_plans", "2024"),
    "send.ehcp_in_force": ("caseload.csv", "ehcplans", "202425"),
    "send.ehcp_issued": ("timeliness_20_week.csv", "plans_issued_den", "2024"),
    "send.ehcp_issued_20_weeks": ("timeliness_20_week.csv", "plans_issued_within_20_weeks", "2024"),
    "send.ehcp_issued_ex": ("timeliness_20_week.csv", "plans_issued_den_ex", "2024"),
    "send.ehcp_issued_20_weeks_ex": ("timeliness_20_week.csv", "plans_issued_20_weeks_ex", "2024"),
}


def _dfe_nottinghamshire(table: str, column: str, period: str) -> float:
    """Nottinghamshire's total row of a DfE table, read straight from the release's ZIP."""
    with zipfile.ZipFile(EHCP_RELEASE) as archive:
        text = archive.read(f"data/{table}").decode("utf-8-sig")
    (row,) = [
        r
        for r in csv.DictReader(io.StringIO(text))
        if r["new_la_code"] == "E10000024" and r["time_period"] == period and r["breakdown_topic"] == r["breakdown"]
    ]
    return float(row[column])


def test_the_release_is_declared_table_by_table_and_read_from_the_shipped_zip() -> None:
    sources = {s.id: s for s in load_sources().sources.values() if s.id.startswith("dfe_ehcp_")}
    assert set(sources) == {"dfe_ehcp_caseload", "dfe_ehcp_newplans", "dfe_ehcp_requests", "dfe_ehcp_timeliness"}
    for spec in sources.values():
        data = spec.bundled_bytes()
        assert data is not None
        assert data.decode("utf-8-sig").splitlines()[0].split(",") == spec.columns


def test_the_councils_figures_sit_beside_dfes_and_each_difference_names_table_filter_and_values(
    published_store: Engine, store_settings: Settings
) -> None:
    with Session(published_store) as session:
        beside = {
            (r["indicator_id"], r["period"]): r["value"]
            for r in published_figures(
                session, indicator_ids=sorted(COLUMNS), org_codes=["E10000024"], period=None
            ).iter_rows(named=True)
        }
    for indicator, (table, column, period) in COLUMNS.items():
        ours = BY_HAND[indicator][1]
        assert beside[(indicator, ours)] == _dfe_nottinghamshire(table, column, period), indicator
    with client_on(store_settings, published_store) as client:
        sent = client.post(
            "/api/submissions",
            headers=NOTTS,
            data={"collection_year": "2024-25"},
            files=[("files", ("sen2.xml", hand_worked(), "application/xml"))],
        )
        assert sent.status_code == 201, sent.text
        answer = client.get("/api/published/differences", headers=OFFICER, params={"org": "E10000024", "limit": 50})
    assert answer.status_code == 200, answer.text
    found = {d["indicator_id"]: d for d in answer.json()["items"] if d["indicator_id"].startswith("send.")}
    # The eight made-up children are not Nottinghamshire's thousands: every figure differs from DfE's.
    assert set(found) == set(COLUMNS)
    requests = found["send.ehcp_requests"]
    assert requests["period"] == "CY2024"
    assert requests["own_value"] == 6
    assert requests["published_value"] == _dfe_nottinghamshire("requests.csv", "requests_received_in_year", "2024")
    assert requests["published_file"] == "requests.csv"
    assert requests["published_filter"] == (
        "breakdown_topic = All requests for EHC needs assessments; breakdown = All requests for EHC needs assessments"
    )
    assert requests["source_id"] == "dfe_ehcp_requests"
    assert requests["own_agency"] == "notts_cyp"
    assert found["send.ehcp_in_force"]["published_file"] == "caseload.csv"
    assert found["send.ehcp_in_force"]["period"] == "AY2024-25"


#: Where plans are taught: DfE's caseload groups, read from the same total row as plans in force.
PLACED = {
    "send.ehcp_in_force_mainstream": ("mainstream_total", 2),
    "send.ehcp_in_force_special": ("special_total", 1),
    "send.ehcp_in_force_ap_pru": ("ap_pru_total", 0),
    "send.ehcp_in_force_fe": ("fe_total", 2),
    "send.ehcp_in_force_elsewhere": ("ed_elsewhere", 0),
    "send.ehcp_in_force_early_years": ("nm_early_years", 0),
    "send.ehcp_in_force_not_recorded": ("placement_unknown", 1),
}


def test_where_the_councils_plans_are_taught_sits_beside_dfes(
    published_store: Engine, store_settings: Settings
) -> None:
    from mappings.establishments.service import load_register
    from tests.collectors.sen2.test_sen2_breakdowns import hand_worked as placed_children
    from tests.mappings.test_establishments import LINKS, NAME, links_file, register_file

    load_register(published_store, Settings(), register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    with client_on(store_settings, published_store) as client:
        sent = client.post(
            "/api/submissions",
            headers=NOTTS,
            data={"collection_year": "2024-25"},
            files=[("files", ("sen2.xml", placed_children(), "application/xml"))],
        )
        assert sent.status_code == 201, sent.text
        answer = client.get("/api/published/differences", headers=OFFICER, params={"org": "E10000024", "limit": 100})
    found = {d["indicator_id"]: d for d in answer.json()["items"]}
    for indicator, (column, ours) in PLACED.items():
        dfe = _dfe_nottinghamshire("caseload.csv", column, "202425")
        if ours != dfe:
            assert (found[indicator]["own_value"], found[indicator]["published_value"]) == (ours, dfe), indicator
            assert found[indicator]["published_file"] == "caseload.csv"
    assert found["send.ehcp_in_force_mainstream"]["published_value"] > 1000

"""England's and each region's rows of DfE's EHC plan tables from the councils' SEN2 files (SQLite and PostgreSQL):
England's counts equal the sum of the councils', each region's the sum of its councils', percentages the ratio of
those sums, every council of DfE's that has sent nothing named; DfE's key reads every council's rows, a council's key
England's, the regions' and its own, another regulator nothing. And the adding up itself against DfE's 2025 release:
its National and Regional rows made from its own Local authority rows, every count and percentage as DfE gives it;
and the service's geography puts each of DfE's 153 councils in the region DfE does."""

from __future__ import annotations

import csv
import io
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from cli.synthetic.sen2 import synthetic_sen2
from collectors.sen2.measures import tables
from collectors.sen2.records import read_records
from collectors.sen2.schema import parse
from collectors.sen2.tables import NATIONAL, Row, added, council_rows, regional, write
from mappings.comparison.figures import geography
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.regions.world import COUNCILS, Files, make_files, onboard, plant, store_figures
from tests.collectors.sen2.test_sen2_tables import REFERENCE, hand_worked

DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
OHID = {"X-API-Key": "demo-regulator-ohid-c4d91f60"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
YEAR = "2024-25"
#: DfE's percentages its own National and Regional counts do not give: the share of requests decided within six
#: weeks, where England's "Any other ethnic group" row gives 1,897 within and 284 over (87.0%) and DfE writes 86.9
#: (its denominator is not published). England's rows give the ratio of the sums, as the councils' do.
NOT_OF_ITS_COUNTS = frozenset({"request_outcome_six_weeks_pc", "request_outcome_over_6_weeks_pc"})


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def counts_of(table: str) -> list[str]:
    """The table's counted columns, as the service makes them (from any file: the hand-worked one)."""
    definition, _ = tables(read_records(parse(hand_worked(), max_bytes=10**7), 2025), 2025)[table]
    return list(definition.counts)


def summed(rows: list[dict[str, str]], columns: list[str]) -> dict[tuple[str, str], dict[str, int]]:
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(columns, 0))
    for row in rows:
        for column in columns:
            out[(row["breakdown_topic"], row["breakdown"])][column] += int(row[column])
    return dict(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("england-files"))


@pytest.fixture
def client(store: Engine, store_settings: Settings, files: Files, tmp_path: Path) -> TestClient:
    region = onboard(store, store_settings, files)
    # Three more councils' SEN2 files beside Leicestershire's: East Midlands has three, London one.
    for seed, code in enumerate(("notts_cyp", "derbyshire_cs", "lewisham_council"), 40):
        made = synthetic_sen2(seed, 25, 2025, tmp_path / code, la=COUNCILS[code][1])
        plant(store, store_settings, code, "sen2", [made])
    with client_on(store_settings, store) as test_client:
        test_client.headers.update({"X-Test-Approver": region.approvers["notts_cyp"]})
        return test_client


def test_englands_and_each_regions_rows_are_the_sums_of_the_councils(
    client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    listing = client.get(f"/api/sen2/{YEAR}/england", headers=DFE)
    assert listing.status_code == 200, listing.text
    body = listing.json()
    assert body["coverage"] == "4 of 153 councils", body["left_out"]
    assert body["left_out"] == []
    assert body["councils_counted"] == ["E09000023", "E10000007", "E10000018", "E10000024"]
    assert len(body["councils_missing"]) == 149
    assert f"E06000001 Hartlepool: no SEN2 file kept for {YEAR}" in body["councils_missing"]
    for table in ("caseload", "requests", "newplans"):
        answer = client.get(f"/api/sen2/{YEAR}/england/{table}.csv", headers=DFE)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Coverage"] == "4 of 153 councils"
        rows = rows_of(answer.text)
        levels = [r["geographic_level"] for r in rows]
        assert levels == sorted(levels, key=["National", "Regional", "Local authority"].index)
        columns = counts_of(table)
        councils = [r for r in rows if r["geographic_level"] == "Local authority"]
        # Each council's rows are those its own route serves.
        for code, gss in (("notts_cyp", "E10000024"), ("lewisham_council", "E09000023")):
            own = rows_of(client.get(f"/api/agencies/{code}/sen2/{YEAR}/tables/{table}.csv", headers=OFFICER).text)
            assert [r for r in councils if r["new_la_code"] == gss] == own
        england = {(r["breakdown_topic"], r["breakdown"]): r for r in rows if r["geographic_level"] == "National"}
        assert {k: {c: int(v[c]) for c in columns} for k, v in england.items()} == summed(councils, columns)
        for region, members in (("E12000004", {"E10000024", "E10000007", "E10000018"}), ("E12000007", {"E09000023"})):
            theirs = [r for r in councils if r["new_la_code"] in members]
            ours = [r for r in rows if r["region_code"] == region and r["geographic_level"] == "Regional"]
            got = {(r["breakdown_topic"], r["breakdown"]): {c: int(r[c]) for c in columns} for r in ours}
            assert got == summed(theirs, columns), (table, region)
        assert {r["region_name"] for r in rows if r["geographic_level"] == "Regional"} == {"East Midlands", "London"}

    # A council's newer file is counted at the next ask: England's tables are held by the uploads they count.
    def london() -> int:
        answer = client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=DFE).text
        regional = [r for r in rows_of(answer) if r["geographic_level"] == "Regional"]
        (row,) = [r for r in regional if r["region_code"] == "E12000007" and r["breakdown"] == "All EHC plans"]
        return int(row["ehcplans"])

    newer = synthetic_sen2(99, 60, 2025, tmp_path / "newer", la=COUNCILS["lewisham_council"][1])
    plant(store, store_settings, "lewisham_council", "sen2", [newer])
    own = client.get(f"/api/agencies/lewisham_council/sen2/{YEAR}/tables/caseload.csv", headers=OFFICER).text
    assert london() == int(next(r for r in rows_of(own) if r["breakdown"] == "All EHC plans")["ehcplans"])


def test_a_council_reads_englands_rows_and_its_own_and_another_regulator_nothing(client: TestClient) -> None:
    approver = {"X-API-Key": client.headers["X-Test-Approver"]}
    answer = client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=approver)
    assert answer.status_code == 200, answer.text
    councils = {r["new_la_code"] for r in rows_of(answer.text) if r["geographic_level"] == "Local authority"}
    assert councils == {"E10000024"}
    every = rows_of(client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=DFE).text)
    national = [r for r in every if r["geographic_level"] != "Local authority"]
    assert [r for r in rows_of(answer.text) if r["geographic_level"] != "Local authority"] == national
    assert client.get(f"/api/sen2/{YEAR}/england", headers=OHID).status_code == 404
    refused = client.get(f"/api/sen2/{YEAR}/england/nosuch.csv", headers=DFE)
    assert refused.status_code == 404
    assert "caseload" in refused.text


def release(table: str) -> list[dict[str, str]]:
    """DfE's 2025 release's rows of the table for 2024-25."""
    with zipfile.ZipFile(REFERENCE) as z:
        text = z.read(f"data/{table}.csv").decode("utf-8-sig")
    return [r for r in csv.DictReader(io.StringIO(text)) if r["time_period"] in ("202425", "2024")]


@pytest.mark.parametrize("table", ["caseload", "requests", "newplans", "sen_needs_all_plans", "assessments"])
def test_dfes_own_national_and_regional_rows_are_its_councils_rows_added_up(table: str) -> None:
    definition, _ = tables(read_records(parse(hand_worked(), max_bytes=10**7), 2025), 2025)[table]
    published = release(table)
    councils = [r for r in published if r["geographic_level"] == "Local authority"]
    # The columns every council gives a number for (DfE writes "x" where a column was unavailable).
    columns = [c for c in definition.counts if all(r[c].lstrip("-").isdigit() for r in councils)]
    assert columns, table

    def counted(r: dict[str, str]) -> dict[str, int]:
        # Every counted column, one DfE gives no number for as 0: only ``columns`` are compared.
        return {c: int(r[c]) if r[c].lstrip("-").isdigit() else 0 for c in definition.counts}

    def compared(rows: list[Row]) -> list[tuple[str, str, list[int]]]:
        return sorted((t, b, [counts[c] for c in columns]) for t, b, counts in rows)

    by_council: dict[str, list[Row]] = defaultdict(list)
    region_of = {}
    for r in councils:
        by_council[r["new_la_code"]].append((r["breakdown_topic"], r["breakdown"], counted(r)))
        region_of[r["new_la_code"]] = (r["region_code"], r["region_name"])
    ours = {(NATIONAL["geographic_level"], ""): added(by_council.values())}
    for code, name in set(region_of.values()):
        ours[("Regional", code)] = added(rows for la, rows in by_council.items() if region_of[la] == (code, name))
        assert regional(code, name)["region_code"] == code
    theirs: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in published:
        if r["geographic_level"] != "Local authority":
            theirs[(r["geographic_level"], r["region_code"])].append((r["breakdown_topic"], r["breakdown"], counted(r)))
    assert set(ours) == set(theirs)
    for level, rows in ours.items():
        assert compared(rows) == compared(theirs[level]), (table, level)
    # The percentages of England's row, worked out from its summed counts, are DfE's own wherever their parts are.
    made = rows_of(write(definition, 2025, [(NATIONAL, ours[("National", "")])]))
    given = {(r["breakdown_topic"], r["breakdown"]): r for r in published if r["geographic_level"] == "National"}
    checked = 0
    for row in made:
        dfe = given[(row["breakdown_topic"], row["breakdown"])]
        for column, (numerator, denominators) in definition.percents.items():
            # DfE writes a percentage of nothing as "x" in most rows and "0" in a few: any such row is passed over.
            if column in NOT_OF_ITS_COUNTS or numerator not in columns or not set(denominators) <= set(columns):
                continue
            if sum(int(dfe[d]) for d in denominators):
                assert row[column] == dfe[column], (table, column, row["breakdown_topic"], row["breakdown"])
                checked += 1
    if table in ("requests", "assessments", "newplans"):
        assert checked > 0, table


@pytest.mark.parametrize("return_id", ["dfe_ssda903", "dfe_cin_census"])
def test_englands_figures_of_the_903_and_cin_census_are_the_councils_added_up(
    store: Engine, store_settings: Settings, files: Files, return_id: str
) -> None:
    region = onboard(store, store_settings, files)
    store_figures(store, store_settings, region)
    with client_on(store_settings, store) as client:
        about = client.get(f"/api/england/{return_id}/{YEAR}", headers=DFE)
        assert about.status_code == 200, about.text
        assert about.json()["coverage"] == "4 of 153 councils"
        assert len(about.json()["councils_missing"]) == 149
        answer = client.get(f"/api/england/{return_id}/{YEAR}.csv", headers=DFE)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Coverage"] == "4 of 153 councils"
        mine = client.get(f"/api/england/{return_id}/{YEAR}.csv", headers={"X-API-Key": region.approvers["leics_cs"]})
        assert client.get(f"/api/england/{return_id}/{YEAR}", headers=OHID).status_code == 404
    rows = rows_of(answer.text)
    figures = {(r["indicator"], r["period"]) for r in rows}
    assert figures
    withheld = 0
    for indicator, period in figures:
        of = [r for r in rows if (r["indicator"], r["period"]) == (indicator, period)]
        (england,) = [r for r in of if r["geographic_level"] == "National"]
        councils = [r for r in of if r["geographic_level"] == "Local authority"]
        assert len(councils) == 4
        # A count is the councils' added up and rounded to 10; a rate the ratio of the sums (its parts rounded).
        if england["numerator"] == "":
            given = [int(r["value"]) for r in councils if r["value"] != "c"]
            withheld += sum(r["value"] == "c" for r in councils)
            if len(given) == 4:
                assert int(england["value"]) == (sum(given) + 5) // 10 * 10, (indicator, period)
            assert int(england["value"]) % 10 == 0
        else:
            assert int(england["numerator"]) % 10 == 0
            assert int(england["denominator"]) % 10 == 0
        east = [r for r in of if r["geographic_level"] == "Regional" and r["region_code"] == "E12000004"]
        assert len(east) == 1
        assert {r["region_code"] for r in councils if r["new_la_code"] != "E09000023"} == {"E12000004"}
        for council in councils:
            if council["value"] == "c":
                assert council["numerator"] == council["denominator"] == "c"
    assert withheld > 0
    # A council's key reads England's and the regions' rows and its own alone.
    ours = rows_of(mine.text)
    assert {r["new_la_code"] for r in ours if r["geographic_level"] == "Local authority"} == {"E10000018"}
    assert [r for r in ours if r["geographic_level"] != "Local authority"] == [
        r for r in rows if r["geographic_level"] != "Local authority"
    ]


def test_the_service_geography_puts_each_of_dfes_councils_in_dfes_region(store: Engine) -> None:
    with Session(store) as session:
        names, _, region_of = geography(session)
    dfe = council_rows()
    assert {code: region_of.get(code) for code in dfe} == {code: row["region_code"] for code, row in dfe.items()}
    assert {names[row["region_code"]] for row in dfe.values()} == {row["region_name"] for row in dfe.values()}


def test_a_council_given_a_new_code_is_counted_under_the_code_dfes_release_lists_it_by(
    client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    """North Yorkshire's agency holds its current code (E06000065, since April 2023); DfE's 2025 release lists it as
    E10000023: the same council by DfE's number (815), counted once, not left out as a council DfE does not count,
    in the EHC plan tables and the SSDA903's figures alike, and its own key reads its own rows."""
    from cli.synthetic import synthetic_903
    from collectors.regions.sources import Held
    from mappings import keys, registry
    from tests.collectors.regions.world import store_derived

    with Session(store) as session:
        sheet = (
            "code,name,body_type,orgs,returns\n"
            "north_yorks,North Yorkshire,local_authority,E06000065,dfe_sen2;dfe_ssda903\n"
        )
        registry.import_agencies(session, sheet.encode(), "north-yorkshire.csv")
        own_key = {"X-API-Key": keys.create_key(session, role="agency", agency_code="north_yorks", label="team")[1]}
        session.commit()
    made = synthetic_sen2(61, 20, 2025, tmp_path / "north_yorks", la="E10000023")
    plant(store, store_settings, "north_yorks", "sen2", [made])
    looked_after = synthetic_903(61, 30, YEAR, tmp_path / "north_yorks_903", la="E10000023")
    number = plant(store, store_settings, "north_yorks", "903", looked_after)
    store_derived(store, store_settings, Held("north_yorks", "E06000065", "903", YEAR, number))
    figures = client.get(f"/api/england/dfe_ssda903/{YEAR}", headers=DFE)
    assert figures.status_code == 200, figures.text
    assert "E10000023" in figures.json()["councils_counted"], figures.json()["left_out"]
    theirs = rows_of(client.get(f"/api/england/dfe_ssda903/{YEAR}.csv", headers=own_key).text)
    assert {(r["new_la_code"], r["la_name"]) for r in theirs if r["geographic_level"] == "Local authority"} == {
        ("E10000023", "North Yorkshire")
    }
    shown = rows_of(client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=own_key).text)
    assert {r["old_la_code"] for r in shown if r["geographic_level"] == "Local authority"} == {"815"}
    body = client.get(f"/api/sen2/{YEAR}/england", headers=DFE).json()
    assert body["left_out"] == []
    assert body["coverage"] == "5 of 153 councils"
    assert "E10000023" in body["councils_counted"]
    assert not any(m.startswith("E10000023 ") for m in body["councils_missing"])
    rows = rows_of(client.get(f"/api/sen2/{YEAR}/england/caseload.csv", headers=DFE).text)
    # The council's own rows, as its own route serves them: as DfE's release writes the council.
    own = {(r["new_la_code"], r["la_name"], r["region_code"]) for r in rows if r["old_la_code"] == "815"}
    assert own == {("E10000023", "North Yorkshire", "E12000003")}

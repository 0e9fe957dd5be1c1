"""GET /api/compare and its workbook on a store loaded through the upload path: values, scopes, cache."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.figures.service import submit
from mappings.comparison.groups import statistical_neighbours
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import sign_in

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
ONS = Path(__file__).parents[1] / "fixtures" / "compare"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
TRAFFORD = "E08000009"


def _import(store: Engine, settings: Settings, source: str) -> bytes:
    """Import a bundled publisher's file as the published intake does, and return its bytes."""
    from collectors.published.intake import import_release
    from collectors.published.sources import load_sources

    spec = load_sources().sources[source]
    data = (Path(__file__).parents[2] / "collectors" / "published" / "files" / spec.file).read_bytes()
    import_release(store, settings, spec, data, filename=spec.file, fetched_from="upload")
    return data


def _ons(store: Engine, settings: Settings) -> dict[str, dict[str, float]]:
    """Upload ONS's published estimates as the ONS agency (which publishes its figures) and return them."""
    out: dict[str, dict[str, float]] = {}
    for name in ("ons_CY2023.csv", "ons_CY2024.csv"):
        data = (ONS / name).read_bytes()
        outcome = submit(store, settings, agency_code="ons", filename=name, data=data)
        assert outcome.submission is not None
        assert outcome.submission.rows_accepted > 100
        for row in csv.DictReader(io.StringIO(data.decode())):
            out.setdefault(row["period"], {})[row["org"]] = float(row["value"])
    return out


def test_the_comparison_gives_the_published_values_neighbours_mean_region_and_trend(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    published = _ons(store, store_settings)
    r = store_client.get(
        "/api/compare", params={"indicator": "pop.resident_0_17", "org": TRAFFORD, "period": "CY2024"}, headers=OFFICER
    )
    assert r.status_code == 200, r.text
    body = r.json()
    values = published["CY2024"]
    assert body["council"]["value"] == values[TRAFFORD]
    assert body["group"]["id"] == "statistical_neighbours"
    assert "Department for Education" in body["group"]["source"]
    group = statistical_neighbours(TRAFFORD)
    assert group is not None
    neighbours = [row for row in body["rows"] if row["role"] == "neighbour"]
    assert [n["code"] for n in neighbours] == [m.codes[0] for m in group.members]
    shown = [values[n["code"]] for n in neighbours if n["code"] in values]
    assert [n["value"] for n in neighbours if n["code"] in values] == shown
    assert body["neighbours_mean"] == sum(shown) / len(shown)
    assert body["region"]["code"] == "E12000002"
    assert body["region"]["value"] == values["E12000002"]
    assert body["england"]["value"] == values["E92000001"]
    assert [t["period"] for t in body["trend"]] == ["CY2023", "CY2024"]
    assert body["trend"][0]["value"] == published["CY2023"][TRAFFORD]
    # A count has no interval and no polarity: nothing is called better or worse.
    assert body["method"] is None
    assert body["council"]["against_england"] is None
    assert body["bottom_quartile"] is False


def test_an_agency_sees_its_own_figure_marked_unpublished_and_never_another_agencys(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    for agency, row in {
        "notts_cyp": "cyp.lac_count,E10000024,2025-03-31,,1100,,,,",
        "lewisham_council": "cyp.lac_count,E09000023,2025-03-31,,480,,,,",
    }.items():
        outcome = submit(
            store, store_settings, agency_code=agency, filename="f.csv", data=(HEADER + row + "\n").encode()
        )
        assert outcome.submission is not None
        assert outcome.submission.rows_accepted == 1
    params = {"indicator": "cyp.lac_count", "org": "E10000024", "period": "2025-03-31"}
    officer = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert officer["council"]["value"] == 1100
    assert officer["council"]["published"] is False
    notts = store_client.get("/api/compare", params=params, headers=NOTTS).json()
    assert notts["council"]["value"] == 1100
    lewisham = store_client.get("/api/compare", params=params, headers=LEWISHAM)
    assert lewisham.status_code == 200
    assert lewisham.json()["council"]["value"] is None
    assert "1100" not in lewisham.text
    own = store_client.get("/api/compare", params={**params, "org": "E09000023"}, headers=LEWISHAM).json()
    assert own["council"]["value"] == 480
    assert own["council"]["published"] is False
    assert store_client.get("/api/compare", params=params, headers=DFE).status_code == 403


def test_the_answer_changes_when_the_store_does(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    params = {"indicator": "cyp.lac_count", "org": "E10000024", "period": "2025-03-31"}
    # No figure of the indicator for the period yet: the period is refused, saying which periods have figures.
    before = store_client.get("/api/compare", params=params, headers=OFFICER)
    assert before.status_code == 422
    assert "periods with figures: none yet" in before.json()["error"]
    row = "cyp.lac_count,E10000024,2025-03-31,,1100,,,,"
    assert submit(
        store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + row).encode()
    ).submission
    after = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert after["council"]["value"] == 1100


def test_unknown_indicator_or_group_is_a_clear_404(store_client: TestClient) -> None:
    r = store_client.get(
        "/api/compare", params={"indicator": "cyp.nope", "org": TRAFFORD, "period": "CY2024"}, headers=OFFICER
    )
    assert r.status_code == 404
    assert "No indicator 'cyp.nope'" in r.text
    r = store_client.get(
        "/api/compare",
        params={"indicator": "pop.resident_0_17", "org": TRAFFORD, "period": "CY2024", "group": "nope"},
        headers=OFFICER,
    )
    assert r.status_code == 404
    assert "No comparator group 'nope'" in r.text


def test_an_agencys_404_for_an_unknown_group_names_only_the_groups_it_may_use(store_client: TestClient) -> None:
    base = {"indicator": "pop.resident_0_17", "org": "E10000024", "period": "CY2024"}
    officer = store_client.get("/api/compare", params={**base, "group": "nope"}, headers=OFFICER)
    assert officer.status_code == 404
    assert "core_cities_england" in officer.text  # an officers' group, seeded
    for group in ("nope", "core_cities_england"):
        agency = store_client.get("/api/compare", params={**base, "group": group}, headers=NOTTS)
        assert agency.status_code == 404, agency.text
        assert agency.json()["error"] == f"No comparator group {group!r}; known: statistical_neighbours"


def test_the_workbook_has_a_sheet_per_indicator_with_the_group_and_its_source(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    published = _ons(store, store_settings)
    r = store_client.get(
        "/api/compare.xlsx",
        params=[
            ("org", TRAFFORD),
            ("period", "CY2024"),
            ("indicator", "pop.resident_0_17"),
            ("indicator", "pop.resident_all_ages"),
        ],
        headers=OFFICER,
    )
    assert r.status_code == 200, r.text
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert len(wb.sheetnames) == 2
    ws = wb.worksheets[0]
    cells = {row[0]: row[1] for row in ws.iter_rows(values_only=True) if row and row[0]}
    assert "Department for Education" in str(cells["Group source"])
    # A population count has no cited polarity: quartile 1 is said to hold the highest values, not the best.
    assert str(cells["Which end quartile 1 is"]).startswith("quartile 1 holds the highest values")
    council_rows = [row for row in ws.iter_rows(values_only=True) if row[2] == "council"]
    assert council_rows[0][4] == published["CY2024"][TRAFFORD]


def test_the_publishers_imported_figures_are_compared_and_a_councils_own_stays_its_own(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    from collectors.published.intake import import_release
    from collectors.published.sources import load_sources

    spec = load_sources().sources["dfe_cla_number"]
    data = (Path(__file__).parents[2] / "collectors" / "published" / "files" / spec.file).read_bytes()
    import_release(store, store_settings, spec, data, filename=spec.file, fetched_from="upload")
    rows = [
        r
        for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if r["time_period"] == "2025" and r["population_type"] == "Children looked after on 31 March each year"
    ]
    # A withheld count (DfE's z, x, c) is no number: the comparison shows it as withheld, with no value.
    published = {
        r["new_la_code"] or r["region_code"] or r["country_code"]: (
            float(r["children_count"]) if r["children_count"].replace(".", "").isdigit() else None
        )
        for r in rows
    }
    params = {"indicator": "cyp.lac_count", "org": TRAFFORD, "period": "2025-03-31"}
    body = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert body["council"]["value"] == published[TRAFFORD]
    assert body["council"]["published"] is True
    neighbours = [r for r in body["rows"] if r["role"] == "neighbour"]
    assert len(neighbours) == 10
    assert all(n["value"] == published[n["code"]] for n in neighbours)
    shown = [v for n in neighbours if (v := published[n["code"]]) is not None]
    assert body["neighbours_mean"] == sum(shown) / len(shown)
    assert body["neighbours_counted"] == len(shown)
    assert body["england"]["value"] == published["E92000001"]
    assert body["region"]["value"] == published["E12000002"]

    row = "cyp.lac_count,E10000024,2025-03-31,,1100,,,,"
    assert submit(
        store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + row).encode()
    ).submission
    notts = {**params, "org": "E10000024"}
    own = store_client.get("/api/compare", params=notts, headers=NOTTS).json()
    assert own["council"]["value"] == 1100
    assert own["council"]["published"] is False
    other = store_client.get("/api/compare", params=notts, headers=LEWISHAM).json()
    assert other["council"]["value"] == published["E10000024"]
    assert other["council"]["published"] is True


def test_which_way_is_better_comes_with_its_source_or_not_at_all(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    _import(store, store_settings, "dfe_cin_c1")
    params = {"org": TRAFFORD, "period": "FY2024-25"}
    cited = store_client.get("/api/compare", params={**params, "indicator": "cyp.cin_rereferrals"}, headers=OFFICER)
    assert cited.status_code == 200, cited.text
    assert cited.json()["indicator"]["polarity"] == "lower_is_better"
    assert "Department for Education" in cited.json()["indicator"]["polarity_source"]
    # No publisher's statement of a direction is cited for the count of re-referrals, so none is served.
    bare = store_client.get("/api/compare", params={**params, "indicator": "cyp.cin_rereferrals_n"}, headers=OFFICER)
    assert bare.status_code == 200, bare.text
    assert bare.json()["indicator"]["polarity"] == "no_judgement"
    assert bare.json()["indicator"]["polarity_source"] is None
    book = store_client.get(
        "/api/compare.xlsx",
        params=[*params.items(), ("indicator", "cyp.cin_rereferrals"), ("indicator", "cyp.cin_rereferrals_n")],
        headers=OFFICER,
    )
    assert book.status_code == 200, book.text
    wb = openpyxl.load_workbook(io.BytesIO(book.content))
    facts = [{row[0]: row[1] for row in ws.iter_rows(values_only=True) if row and row[0]} for ws in wb.worksheets]
    assert facts[0]["Which way is better"] == "Lower is better"
    assert "Polarity 'Low'" in str(facts[0]["Source of which way is better"])
    assert str(facts[1]["Which way is better"]).startswith("Not shown")
    assert facts[1]["Source of which way is better"] == "none found"


#: DfE's table C1 as published and bundled (collectors/published/files/, see its README for the source):
#: c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv
#: row 2 (England 2025: 632830 referrals, 142900 re-referrals, 22.6%), row 6 (East Midlands: 53190, 13120, 24.7%),
#: row 72 (Nottinghamshire E10000024: 6390, 1475, 23.1%) and row 32 (Cumberland E06000063: 3367, 764, 22.7%).
NOTTINGHAMSHIRE, EAST_MIDLANDS, CUMBERLAND = "E10000024", "E12000004", "E06000063"


def test_a_rate_is_worked_out_from_its_terms_with_its_interval_quartile_and_peers(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    data = _import(store, store_settings, "dfe_cin_c1")
    params = {"indicator": "cyp.cin_rereferrals", "org": NOTTINGHAMSHIRE, "period": "FY2024-25"}
    r = store_client.get("/api/compare", params=params, headers=OFFICER)
    assert r.status_code == 200, r.text
    body = r.json()
    council = body["council"]
    # DfE stores only the counts; the percentage is the catalogue's formula over them, as DfE rounds it.
    assert council["value"] == 100 * 1475 / 6390
    assert round(council["value"], 1) == 23.1
    assert council["lower_ci_95"] < council["value"] < council["upper_ci_95"]
    assert body["method"].startswith("Wilson")
    assert round(body["england"]["value"], 1) == 22.6
    assert body["england"]["value"] == 100 * 142900 / 632830
    assert body["region"]["code"] == EAST_MIDLANDS
    assert round(body["region"]["value"], 1) == 24.7
    # Every upper-tier council in the file has a figure, so the quartile is among all of them.
    councils = [
        r
        for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if r["time_period"] == "2025" and r["geographic_level"] == "Local authority" and r["rereferral_count"].isdigit()
    ]
    assert body["quartile"] in {1, 2, 3, 4}
    assert body["peers_counted"] >= len(councils) - 2
    neighbours = [n for n in body["rows"] if n["role"] == "neighbour"]
    assert len(neighbours) == 10
    # Cumbria, one of DfE's 2021 neighbours, was abolished in 2023: no figure for 2024-25.
    with_values = [n for n in neighbours if n["value"] is not None]
    assert [n["code"] for n in neighbours if n["value"] is None] == ["E10000006"]
    assert all(n["lower_ci_95"] < n["value"] < n["upper_ci_95"] for n in with_values)
    assert body["neighbours_counted"] == 9
    assert len(body["trend"]) >= 10
    assert body["council"]["label"] == "published"


def test_where_to_look_covers_rates(store_client: TestClient, store: Engine, store_settings: Settings) -> None:
    _import(store, store_settings, "dfe_cin_c1")
    r = store_client.get("/api/compare/flags", params={"org": NOTTINGHAMSHIRE}, headers=OFFICER)
    assert r.status_code == 200, r.text
    listed = {f["indicator"]: f for f in r.json()["flags"]}
    # Nottinghamshire's 23.1% is not beyond chance from England's 22.6% (Wilson interval 22.1 to 24.1), but is
    # in the bottom quarter of the 153 councils with a figure (lower is better); Derbyshire's 28.9% is above
    # England's beyond chance.
    assert listed["cyp.cin_rereferrals"]["against_england"] == "similar"
    assert listed["cyp.cin_rereferrals"]["bottom_quartile"] is True
    words = listed["cyp.cin_rereferrals"]["quartile_words"]
    assert words.startswith("quartile 4 of 4, the bottom quarter, ranked ")
    assert words.endswith("(quartile 1 is the best quarter: the lowest values)")
    assert listed["cyp.cin_rereferrals"]["quartile_rule"] == "quartile 1 is the best quarter: the lowest values"
    with client_on(store_settings, store, follow_redirects=False) as web:
        sign_in(web, OFFICER["X-API-Key"])
        page = web.get("/compare/flags", params={"org": NOTTINGHAMSHIRE}).text
    cells = re.findall(r'<tr class="govuk-table__row" data-indicator.*?</tr>', page, flags=re.S)
    assert cells
    for row in cells:  # every quartile says which end 1 is: none bare beside a sourced one
        quartile_cell = re.findall(r'<td class="govuk-table__cell">(.*?)</td>', row, flags=re.S)[1]
        assert "1 = " in quartile_cell or quartile_cell.startswith("not placed"), quartile_cell
    assert "bottom quarter</strong>: quartile 4 of 4" in page
    derbyshire = store_client.get("/api/compare/flags", params={"org": "E10000007"}, headers=OFFICER).json()
    flags = {f["indicator"]: f for f in derbyshire["flags"]}
    assert flags["cyp.cin_rereferrals"]["against_england"] == "worse"


def test_a_council_no_grouping_names_is_compared_with_its_region_and_england(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    _import(store, store_settings, "dfe_cin_c1")
    params = {"indicator": "cyp.cin_rereferrals", "org": CUMBERLAND, "period": "FY2024-25"}
    r = store_client.get("/api/compare", params=params, headers=OFFICER)
    assert r.status_code == 200, r.text
    body = r.json()
    assert round(body["council"]["value"], 1) == 22.7
    assert [row["role"] for row in body["rows"]] == ["council"]
    assert body["region"]["code"] == "E12000002"
    assert round(body["england"]["value"], 1) == 22.6
    assert "do not name E06000063" in body["group"]["note"]


def test_a_councils_own_figure_the_publisher_gives_too_is_not_called_unpublished(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    _import(store, store_settings, "dfe_cla_number")
    # DfE's file gives Lewisham 439 children looked after on 31 March 2025; Lewisham sends the same.
    sent = submit(
        store,
        store_settings,
        agency_code="lewisham_council",
        filename="f.csv",
        data=(HEADER + "cyp.lac_count,E09000023,2025-03-31,,439,,,,\n").encode(),
    )
    assert sent.submission is not None
    params = {"indicator": "cyp.lac_count", "org": "E09000023", "period": "2025-03-31"}
    body = store_client.get("/api/compare", params=params, headers=LEWISHAM).json()
    assert body["council"]["value"] == 439
    assert body["council"]["provenance"] == "as_published"
    assert body["council"]["label"] == "as published"
    assert body["council"]["published"] is True
    # A figure published by the publisher itself says so.
    notts = store_client.get("/api/compare", params={**params, "org": NOTTINGHAMSHIRE}, headers=OFFICER).json()
    assert notts["council"]["label"] == "published"
    # Nottinghamshire's own figure that differs from DfE's says so rather than "not yet published".
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="f.csv",
        data=(HEADER + "cyp.lac_count,E10000024,2025-03-31,,1100,,,,\n").encode(),
    )
    own = store_client.get("/api/compare", params={**params, "org": NOTTINGHAMSHIRE}, headers=NOTTS).json()
    assert own["council"]["value"] == 1100
    assert own["council"]["provenance"] == "differs"
    assert own["council"]["label"].startswith("differs from the published figure")


def test_no_route_serves_a_direction_without_its_source(client: TestClient) -> None:
    seen = 0
    offset = 0
    while True:
        page = client.get("/api/indicators", params={"limit": 200, "offset": offset}, headers=OFFICER)
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        for item in items:
            seen += 1
            if item["polarity"] != "no_judgement":
                assert item["polarity_source"] is not None, item["id"]
        if len(items) < 200:
            break
        offset += 200
    assert seen > 300
    # DfE's LAIT data dictionary gives these counts no direction ('-').
    for ind in ("cyp.lac_3plus_placements_n", "cyp.cpp_subsequent_n"):
        one = client.get(f"/api/indicators/{ind}", headers=OFFICER).json()
        assert one["polarity"] == "no_judgement"
        assert one["polarity_source"] is None


def test_comparison_inputs_are_checked(store_client: TestClient, store: Engine, store_settings: Settings) -> None:
    _import(store, store_settings, "dfe_cla_number")
    base = {"indicator": "cyp.lac_count", "org": NOTTINGHAMSHIRE, "period": "2025-03-31"}
    assert store_client.get("/api/compare", params=base, headers=OFFICER).status_code == 200
    for period, said in {
        "2025": "is not recognised",
        "31/03/2025": "write 2025-03-31",
        "2099-03-31": "has not begun",
        "<script>": "is not recognised",
        "2024-06-30": "periods with figures",
    }.items():
        r = store_client.get("/api/compare", params={**base, "period": period}, headers=OFFICER)
        assert r.status_code == 422, (period, r.text)
        assert said in r.json()["error"], (period, r.json()["error"])
    for name, value, status in (
        ("org", "<script>", 422),
        ("org", "E99999999", 404),
        ("indicator", "<script>", 422),
        ("group", "<script>", 422),
        ("group", "nope", 404),
    ):
        for group in ("statistical_neighbours", "core_cities_england"):
            params = {**base, "group": group, name: value}
            r = store_client.get("/api/compare", params=params, headers=OFFICER)
            assert r.status_code == status, (name, value, group, r.text)
            assert "<script>" not in r.text or "&lt;" in r.text or "'<script>'" in r.json()["error"]


def test_the_trend_lists_only_the_councils_periods_and_quartiles_need_enough_councils(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    # Nottinghamshire's own figure for 2023 only, where no publisher's figure is stored: one value among the
    # upper-tier councils is too few for quarters.
    sent = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="f.csv",
        data=(
            HEADER + "cyp.lac_count,E10000024,2023-03-31,,900,,,,\ncyp.lac_count,E09000023,2021-03-31,,400,,,,\n"
        ).encode(),
    )
    assert sent.submission is not None
    params = {"indicator": "cyp.lac_count", "org": NOTTINGHAMSHIRE, "period": "2023-03-31"}
    body = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert [t["period"] for t in body["trend"]] == ["2023-03-31"]
    assert body["quartile"] is None
    assert body["quartile_note"].startswith("not placed: 1 of ")
    assert "at least" in body["quartile_note"]


def test_an_agencys_indicator_list_names_only_figures_it_may_read(store: Engine, store_settings: Settings) -> None:
    from sqlmodel import Session

    from mappings.comparison.assembly import indicators_with_figures
    from mappings.signoff.lineage import store_key

    # Nottinghamshire's own unpublished count; Lewisham may not read it, so its list does not name it.
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="f.csv",
        data=(HEADER + "cyp.lac_count,E10000024,2025-03-31,,1100,,,,\n").encode(),
    )
    with Session(store) as session:
        state = store_key(session)
        listed = {i for i, _, _ in indicators_with_figures(session, NOTTINGHAMSHIRE, "notts_cyp", state=state)}
        assert "cyp.lac_count" in listed
        assert "cyp.lac_count" in {
            i for i, _, _ in indicators_with_figures(session, NOTTINGHAMSHIRE, None, state=state)
        }
        assert indicators_with_figures(session, NOTTINGHAMSHIRE, "lewisham_council", state=state) == []


def test_a_rate_worked_out_for_every_period_at_once_is_the_rate_of_each_period_alone(
    store: Engine, store_settings: Settings
) -> None:
    # Children looked after per 10,000: the counts are of the rate's own dates (converted for all of them at once),
    # the population is ONS's latest estimate before each date (found a period at a time, as returns do).
    import polars as pl
    from sqlmodel import Session

    from indicators.periods import parse_period
    from mappings.areas import Geography
    from mappings.comparison import rates as compare_rates
    from mappings.comparison.assembly import _read
    from mappings.comparison.service import Figure
    from mappings.geography import ENGLAND
    from mappings.resolve import Resolver

    _ons(store, store_settings)
    rows = "".join(
        f"cyp.lac_count,E10000024,{date},,{value},,,,\n"
        for date, value in (("2024-03-31", "1050"), ("2025-03-31", "1100"))
    )
    assert submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + rows).encode())
    with Session(store) as session:
        catalogue = compare_rates.catalogue_of(session)
        rate = catalogue["cyp.lac_rate_per_10k"]
        terms = {t: _read(session, t, None) for t in ("cyp.lac_count", "pop.resident_0_17")}
        at_once = compare_rates.derived_history(session, rate, terms.__getitem__, indicators=catalogue)
        # Each period worked out by a resolver of its own from the terms' every figure, as before.
        given, frames = compare_rates._given(terms)
        alone: dict[str, dict[str, Figure]] = {}
        for code in compare_rates._periods(rate, catalogue, terms):
            resolver = Resolver(session, parse_period(code), Geography.load(session, parse_period(code)))
            for term, frame in frames.items():
                resolver.use(term, frame)
            orgs = {o for history in terms.values() for o in history.get(code, {})}
            geo = resolver.geo
            wanted = sorted(orgs | set(geo.of_types(("region",))) | {ENGLAND})
            for row in resolver.resolve(rate.id, wanted).filter(pl.col("breakdown") == "").iter_rows(named=True):
                if (figure := compare_rates._figure(row, given)) is not None:
                    alone.setdefault(code, {})[figure.org_code] = figure
    assert at_once == alone
    notts = at_once["2025-03-31"]["E10000024"]
    assert notts.numerator == 1100
    assert notts.denominator
    assert notts.value == 10000 * 1100 / notts.denominator
    assert "E10000024" in at_once["2024-03-31"]


def test_a_flag_reads_the_rate_of_its_period_alone_and_sees_a_term_revised(
    store: Engine, store_settings: Settings
) -> None:
    from sqlmodel import Session

    from mappings.comparison.assembly import _flagged, cached_comparison
    from mappings.signoff.lineage import store_key

    _ons(store, store_settings)
    rows = "".join(
        f"cyp.lac_count,E10000024,{date},,{value},,,,\n"
        for date, value in (("2024-03-31", "1050"), ("2025-03-31", "1100"))
    )
    assert submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + rows).encode())
    rate, period = "cyp.lac_rate_per_10k", "2025-03-31"
    with Session(store) as session:
        state = store_key(session)
        flag = _flagged(session, rate, NOTTINGHAMSHIRE, period, state=state, agency=None)
        count = _flagged(session, "cyp.lac_count", NOTTINGHAMSHIRE, period, state=state, agency=None)
        full = cached_comparison(
            session, rate, NOTTINGHAMSHIRE, period, state=state, agency=None, group="statistical_neighbours"
        )
    # The same figures, ranks, quartile and test against England as the comparison that works out every period.
    assert flag.own == full.own
    assert (flag.quartile, flag.bottom_quartile, flag.differs) == (full.quartile, full.bottom_quartile, full.differs)
    assert flag.rows == full.rows
    assert [t.period for t in flag.trend] == [period]
    revised = "cyp.lac_count,E10000024,2025-03-31,,1200,,,,\n"
    assert submit(store, store_settings, agency_code="notts_cyp", filename="g.csv", data=(HEADER + revised).encode())
    with Session(store) as session:
        again = _flagged(session, rate, NOTTINGHAMSHIRE, period, state=store_key(session), agency=None)
        count_again = _flagged(session, "cyp.lac_count", NOTTINGHAMSHIRE, period, state=store_key(session), agency=None)
    # The kept flag is not reused once the store has changed: the next view reads the revised count.
    assert flag.own.value is not None
    assert again.own.value == pytest.approx(flag.own.value * 1200 / 1100)
    assert (count.own.value, count_again.own.value) == (1100, 1200)
    assert [t.period for t in count_again.trend] == [period]


@pytest.mark.parametrize("agency", [None, "notts_cyp"])
def test_where_to_look_works_its_rates_out_together_as_each_alone(
    store: Engine, store_settings: Settings, agency: str | None
) -> None:
    # Three rates of one date share the population: read, made into parts and resolved once for all of them.
    from sqlmodel import Session

    from mappings.comparison.assembly import _flagged, clear_caches, flags_for, indicators_with_figures
    from mappings.signoff.lineage import store_key

    _ons(store, store_settings)
    rows = "".join(
        f"{count},{org},{date},,{value * n},,,,\n"
        for n, count in enumerate(("cyp.lac_count", "cyp.cpp_count", "cyp.cin_count"), start=1)
        for org, value in ((NOTTINGHAMSHIRE, 1100), ("E10000007", 900), (TRAFFORD, 400))
        for date in ("2024-03-31", "2025-03-31")
    )
    assert submit(store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + rows).encode())
    with Session(store) as session:
        clear_caches()
        state = store_key(session)
        flags_for(session, NOTTINGHAMSHIRE, agency, state=state)
        listed = indicators_with_figures(session, NOTTINGHAMSHIRE, agency, state=state)
        rates = {"cyp.lac_rate_per_10k", "cyp.cpp_rate_per_10k", "cyp.cin_rate_per_10k"}
        assert rates <= {i for i, _, _ in listed}
        # Kept by the flags' call: each comparison it made.
        together = {i: _flagged(session, i, NOTTINGHAMSHIRE, p, state=state, agency=agency) for i, _, p in listed}
        alone = {}
        for i, _, p in listed:
            clear_caches()
            alone[i] = _flagged(session, i, NOTTINGHAMSHIRE, p, state=state, agency=agency)
    assert all(together[r].own.value is not None for r in rates)
    assert together == alone

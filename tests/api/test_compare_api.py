"""GET /api/compare and its workbook on a store loaded through the upload path: values, scopes, cache."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.service import submit
from mappings.compare import statistical_neighbours
from onereturn.settings import Settings

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
ONS = Path(__file__).parents[1] / "fixtures" / "compare"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
TRAFFORD = "E08000009"


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
    before = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert before["council"]["value"] is None
    row = "cyp.lac_count,E10000024,2025-03-31,,1100,,,,"
    assert submit(
        store, store_settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + row).encode()
    ).submission
    after = store_client.get("/api/compare", params=params, headers=OFFICER).json()
    assert after["council"]["value"] == 1100


def test_unknown_indicator_or_group_is_a_clear_404(store_client: TestClient) -> None:
    r = store_client.get(
        "/api/compare", params={"indicator": "nope", "org": TRAFFORD, "period": "CY2024"}, headers=OFFICER
    )
    assert r.status_code == 404
    assert "No indicator 'nope'" in r.text
    r = store_client.get(
        "/api/compare",
        params={"indicator": "pop.resident_0_17", "org": TRAFFORD, "period": "CY2024", "group": "nope"},
        headers=OFFICER,
    )
    assert r.status_code == 404
    assert "No comparator group 'nope'" in r.text


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


def test_which_way_is_better_comes_with_its_source_or_not_at_all(store_client: TestClient) -> None:
    params = {"org": TRAFFORD, "period": "FY2024-25"}
    cited = store_client.get("/api/compare", params={**params, "indicator": "cyp.cin_rereferrals"}, headers=OFFICER)
    assert cited.status_code == 200, cited.text
    assert cited.json()["indicator"]["polarity"] == "lower_is_better"
    assert "Department for Education" in cited.json()["indicator"]["polarity_source"]
    # The catalogue says lower is better for children going missing, but no publisher's statement is cited.
    bare = store_client.get("/api/compare", params={**params, "indicator": "cyp.lac_missing"}, headers=OFFICER)
    assert bare.status_code == 200, bare.text
    assert bare.json()["indicator"]["polarity"] == "no_judgement"
    assert bare.json()["indicator"]["polarity_source"] is None
    book = store_client.get(
        "/api/compare.xlsx",
        params=[*params.items(), ("indicator", "cyp.cin_rereferrals"), ("indicator", "cyp.lac_missing")],
        headers=OFFICER,
    )
    assert book.status_code == 200, book.text
    wb = openpyxl.load_workbook(io.BytesIO(book.content))
    facts = [{row[0]: row[1] for row in ws.iter_rows(values_only=True) if row and row[0]} for ws in wb.worksheets]
    assert facts[0]["Which way is better"] == "Lower is better"
    assert "Polarity 'Low'" in str(facts[0]["Source of which way is better"])
    assert str(facts[1]["Which way is better"]).startswith("Not shown")
    assert facts[1]["Source of which way is better"] == "none found"
